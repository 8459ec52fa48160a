/* server/master.c: being written (session 1) */
