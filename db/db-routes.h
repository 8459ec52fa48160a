/* db/db-routes.h: being written (session 1) */
