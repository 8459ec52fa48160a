/* modules/auth.h: being written (session 1) */
