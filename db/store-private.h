/* db/store-private.h: being written (session 1) */
