/* server/http-test-routes.c: being written (session 1) */
