/* tools/floectl.c: being written (session 1) */
