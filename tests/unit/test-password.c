/* tests/unit/test-password.c: being written (session 1) */
