/* modules/message.c: being written (session 1) */
