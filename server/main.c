/* server/main.c: being written (session 1) */
