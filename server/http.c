/* server/http.c: being written (session 1) */
