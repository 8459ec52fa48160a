/* db/admin.h: being written (session 1) */
