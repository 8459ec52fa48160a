/* server/listen.c: being written (session 1) */
