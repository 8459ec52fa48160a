/* server/listen.h: being written (session 1) */
