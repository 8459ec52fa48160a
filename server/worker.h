/* server/worker.h: being written (session 1) */
