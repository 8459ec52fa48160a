/* db/store-auth.h: being written (session 1) */
