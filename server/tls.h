/* server/tls.h: being written (session 1) */
