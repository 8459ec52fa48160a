/* tests/unit/test-notify.c: being written (session 1) */
