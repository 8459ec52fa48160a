/* server/tls.c: being written (session 1) */
