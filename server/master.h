/* server/master.h: being written (session 1) */
