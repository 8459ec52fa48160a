/* db/migrate.c: being written (session 1) */
