/* db/db-routes.c: being written (session 1) */
