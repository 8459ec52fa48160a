/* db/embedded.h: being written (session 1) */
