/* modules/password.h: being written (session 1) */
