/* db/store-folder.c: being written (session 1) */
