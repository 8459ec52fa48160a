/* HTTP routes that use the database pool and the change-notice bus.
 *
 *   /floe/health  always: runs SELECT 1 and answers 200
 *                 {"status":"ok","db":"up","notify":"up"|"down","pid":N},
 *                 or 503 {"status":"error","db":"<error>","notify":...,"pid":N}.
 *
 * With test_endpoints (integration tests only):
 *   /_test/watch?account=A&folder=F&ms=T
 *                 parks the request on a notify watch of (A, F) (F defaults
 *                 to 0, the whole account; T to 30000 ms). A notice answers
 *                 200 {"account":A,"folder":F,"modseq":M,"possibly":B,"pid":N};
 *                 after T ms it answers 408 "timeout". The watch goes away
 *                 when the client does.
 *   /_test/notify?account=A&folder=F&modseq=M
 *                 sends pg_notify('floe_change', 'A F M') through the pool:
 *                 200 {"pid":N}, or 503 with the database error as text.
 *   /_test/sleep?s=S[&timeout=MS]
 *                 runs SELECT pg_sleep(S) (with an explicit query timeout
 *                 when given): 200 {"pid":N}, or 503 with the error as text.
 *   /_test/txn?fail=0|1[&note=X]
 *                 one transaction: CREATE TABLE IF NOT EXISTS test_scratch,
 *                 INSERT a row with note X (default "txn"), with fail=1 a
 *                 statement that fails, then COMMIT: 200
 *                 {"outcome":"committed","pid":N}, or 500
 *                 {"outcome":"rolled back","error":"...","pid":N}. */
#ifndef FLOE_DB_ROUTES_H
#define FLOE_DB_ROUTES_H

#include <stdbool.h>

struct http_server;
struct db;
struct notify_bus;

/* Registers the routes on the worker's server; db and bus must outlive it. */
void db_routes_register(struct http_server *server, struct db *db, struct notify_bus *bus,
                        bool test_endpoints);

#endif
