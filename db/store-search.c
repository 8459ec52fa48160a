/* db/store-search.c: being written (session 1) */
