/* server/worker.c: being written (session 1) */
