/* modules/password.c: being written (session 1) */
