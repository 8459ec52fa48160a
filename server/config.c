/* server/config.c: being written (session 1) */
