/* db/notify.c: being written (session 1) */
