/* server/http-test-routes.h: being written (session 1) */
