/* tests/unit/test-http.c: being written (session 1) */
