/* db/embedded.c: being written (session 1) */
