/* db/store.c: being written (session 1) */
