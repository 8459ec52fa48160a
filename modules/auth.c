/* modules/auth.c: being written (session 1) */
