/* db/store-auth.c: being written (session 1) */
