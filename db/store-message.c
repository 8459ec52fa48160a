/* db/store-message.c: being written (session 1) */
