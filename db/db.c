/* db/db.c: being written (session 1) */
