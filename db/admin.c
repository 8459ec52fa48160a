/* db/admin.c: being written (session 1) */
