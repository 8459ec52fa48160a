/* Routes under /_test/ that only the integration tests use. The worker
 * registers them when the configuration says [debug] test_endpoints = yes.
 *
 *   /_test/echo    200, text: "method M", "path P", "query Q" (only when
 *                  there is one), "headers N", "body-length N", one
 *                  "header Name: value" line per header, an empty line, then
 *                  the request body as received; header X-Worker-Pid.
 *   /_test/park    parks the request; ?ms=N answers 200 "woke" after N ms,
 *                  without it the request waits until the client leaves. On
 *                  abort logs "http: parked request aborted by client".
 *   /_test/stream  ?chunks=N&size=M: a chunked response of N chunks of M
 *                  bytes ('a'..'z' repeating), written under flow control.
 *   /_test/pid     200, the worker's pid as the body. */
#ifndef FLOE_HTTP_TEST_ROUTES_H
#define FLOE_HTTP_TEST_ROUTES_H

struct http_server;

void http_test_routes_register(struct http_server *server);

#endif
