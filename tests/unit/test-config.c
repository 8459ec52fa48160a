/* tests/unit/test-config.c: being written (session 1) */
