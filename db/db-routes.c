/* HTTP routes backed by the database: the load balancers' health check and
 * the test-only endpoints that let the integration tests drive the pool,
 * transactions and the change-notice bus of a real worker. */
#include "db-routes.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "db.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "xmalloc.h"

#define WATCH_DEFAULT_MS 30000
#define WATCH_MAX_MS     600000

struct db_routes {
	struct http_server *server;
	struct db *db;
	struct notify_bus *bus;
};

/* One request in progress. */
struct route_req {
	struct db_routes *routes;
	struct http_request *req; /* NULL once the client went away */
	struct db_query *query;
	struct notify_watch *watch;
	struct event *timer;
	bool fail;
	char note[65];
};

static struct route_req *
route_req_new(struct http_request *req, struct db_routes *routes)
{
	struct route_req *rr = xcalloc(1, sizeof(*rr));

	rr->req = req;
	rr->routes = routes;
	return rr;
}

static void
route_req_free(struct route_req *rr)
{
	db_query_abandon(&rr->query);
	notify_watch_remove(&rr->watch);
	if (rr->timer != NULL)
		event_free(rr->timer);
	free(rr);
}

/* The client left: nothing will be answered. */
static void
route_req_abort(struct http_request *req, void *ctx)
{
	route_req_free(ctx);
}

/* Detaches the request from rr (and its abort callback) before answering. */
static struct http_request *
route_req_take(struct route_req *rr)
{
	struct http_request *req = rr->req;

	rr->req = NULL;
	if (req != NULL)
		http_request_set_abort_cb(req, NULL, NULL);
	return req;
}

static void
send_json(struct http_request *req, int status, json_t *json)
{
	char *text = json_dumps(json, JSON_COMPACT);

	json_decref(json);
	http_response_header(req, "Cache-Control", "no-store");
	if (text == NULL) {
		http_response_error(req, 500, "cannot encode the response");
		return;
	}
	http_response_send(req, status, "application/json", text, strlen(text));
	free(text);
}

static json_int_t
pid(void)
{
	return (json_int_t)getpid();
}

/* Finds name=value in a query string and copies the (undecoded) value.
 * Returns 0, 1 when absent, -1 when the value does not fit. */
static int
query_param(const char *query, const char *name, char *buf, size_t size)
{
	size_t name_len = strlen(name);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
			const char *value = p + name_len + 1;
			size_t len = strcspn(value, "&");

			if (len >= size)
				return -1;
			memcpy(buf, value, len);
			buf[len] = '\0';
			return 0;
		}
		p = strchr(p, '&');
		if (p != NULL)
			p++;
	}
	return 1;
}

/* A decimal uint64 parameter: 0, 1 when absent (*value_r untouched), -1
 * when malformed. */
static int
query_u64(const char *query, const char *name, uint64_t *value_r)
{
	char buf[32], *end;
	unsigned long long v;

	int r = query != NULL ? query_param(query, name, buf, sizeof(buf)) : 1;

	if (r != 0)
		return r;
	if (buf[0] < '0' || buf[0] > '9')
		return -1;
	v = strtoull(buf, &end, 10);
	if (*end != '\0' || (v == ULLONG_MAX && strcmp(buf, "18446744073709551615") != 0))
		return -1;
	*value_r = v;
	return 0;
}

static bool
exact_path(struct http_request *req, const char *path)
{
	if (strcmp(http_request_path(req), path) == 0)
		return true;
	http_response_error(req, 404, "not found");
	return false;
}

/* --- /floe/health --- */

static void
health_done(const struct db_result *res, void *ctx)
{
	struct route_req *rr = ctx;
	struct http_request *req = route_req_take(rr);
	const char *notify = notify_bus_is_up(rr->routes->bus) ? "up" : "down";

	rr->query = NULL;
	if (db_result_ok(res))
		send_json(req, 200,
		          json_pack("{s:s,s:s,s:s,s:I}", "status", "ok", "db", "up", "notify",
		                    notify, "pid", pid()));
	else
		send_json(req, 503,
		          json_pack("{s:s,s:s,s:s,s:I}", "status", "error", "db",
		                    db_result_error(res), "notify", notify, "pid", pid()));
	route_req_free(rr);
}

static void
route_health(struct http_request *req, void *ctx)
{
	struct route_req *rr;

	if (!exact_path(req, "/floe/health"))
		return;
	rr = route_req_new(req, ctx);
	http_request_set_abort_cb(req, route_req_abort, rr);
	rr->query = db_query(rr->routes->db, "SELECT 1", 0, NULL, health_done, rr);
}

/* --- /_test/watch --- */

static void
watch_notice(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly, void *ctx)
{
	struct route_req *rr = ctx;
	struct http_request *req = route_req_take(rr);

	send_json(req, 200,
	          json_pack("{s:I,s:I,s:I,s:b,s:I}", "account", (json_int_t)account_id, "folder",
	                    (json_int_t)folder_id, "modseq", (json_int_t)modseq, "possibly",
	                    possibly, "pid", pid()));
	/* Removing its own watch from the callback is allowed. */
	route_req_free(rr);
}

static void
watch_timeout(evutil_socket_t fd, short what, void *ctx)
{
	struct route_req *rr = ctx;
	struct http_request *req = route_req_take(rr);

	http_response_error(req, 408, "timeout");
	route_req_free(rr);
}

static void
route_watch(struct http_request *req, void *ctx)
{
	struct db_routes *routes = ctx;
	const char *query = http_request_query(req);
	uint64_t account = 0, folder = 0, ms = WATCH_DEFAULT_MS;
	struct route_req *rr;
	struct timeval tv;

	if (!exact_path(req, "/_test/watch"))
		return;
	if (query_u64(query, "account", &account) != 0 || query_u64(query, "folder", &folder) < 0 ||
	    query_u64(query, "ms", &ms) < 0 || ms > WATCH_MAX_MS) {
		http_response_error(req, 400, "want ?account=A[&folder=F][&ms=T]");
		return;
	}
	rr = route_req_new(req, routes);
	rr->watch = notify_watch_add(routes->bus, account, folder, watch_notice, rr);
	rr->timer = evtimer_new(http_server_event_base(routes->server), watch_timeout, rr);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(rr->timer, &tv);
	http_request_set_abort_cb(req, route_req_abort, rr);
}

/* --- /_test/notify and /_test/sleep --- */

static void
query_done(const struct db_result *res, void *ctx)
{
	struct route_req *rr = ctx;
	struct http_request *req = route_req_take(rr);

	rr->query = NULL;
	if (db_result_ok(res))
		send_json(req, 200, json_pack("{s:I}", "pid", pid()));
	else
		http_response_error(req, 503, db_result_error(res));
	route_req_free(rr);
}

static void
route_notify(struct http_request *req, void *ctx)
{
	struct db_routes *routes = ctx;
	const char *query = http_request_query(req);
	uint64_t account = 0, folder = 0, modseq = 0;
	struct route_req *rr;
	char payload[80];
	const char *params[1] = {payload};

	if (!exact_path(req, "/_test/notify"))
		return;
	if (query_u64(query, "account", &account) != 0 || query_u64(query, "folder", &folder) < 0 ||
	    query_u64(query, "modseq", &modseq) < 0) {
		http_response_error(req, 400, "want ?account=A&folder=F&modseq=M");
		return;
	}
	snprintf(payload, sizeof(payload), "%" PRIu64 " %" PRIu64 " %" PRIu64, account, folder,
	         modseq);
	rr = route_req_new(req, routes);
	http_request_set_abort_cb(req, route_req_abort, rr);
	rr->query = db_query(routes->db, "SELECT pg_notify('" NOTIFY_CHANNEL "', $1)", 1, params,
	                     query_done, rr);
}

/* "3", "0.5": what pg_sleep takes, kept short and plain. */
static bool
valid_seconds(const char *s)
{
	int dots = 0, digits = 0;

	for (; *s != '\0'; s++) {
		if (*s == '.')
			dots++;
		else if (*s >= '0' && *s <= '9')
			digits++;
		else
			return false;
	}
	return digits > 0 && dots <= 1;
}

static void
route_sleep(struct http_request *req, void *ctx)
{
	struct db_routes *routes = ctx;
	const char *query = http_request_query(req);
	uint64_t timeout_ms = 0;
	struct route_req *rr;
	char seconds[16];
	const char *params[1] = {seconds};

	if (!exact_path(req, "/_test/sleep"))
		return;
	if (query == NULL || query_param(query, "s", seconds, sizeof(seconds)) != 0 ||
	    !valid_seconds(seconds) || query_u64(query, "timeout", &timeout_ms) < 0 ||
	    timeout_ms > 3600000) {
		http_response_error(req, 400, "want ?s=SECONDS[&timeout=MS]");
		return;
	}
	rr = route_req_new(req, routes);
	http_request_set_abort_cb(req, route_req_abort, rr);
	rr->query = db_query_timeout(routes->db, "SELECT pg_sleep($1)", 1, params,
	                             (unsigned)timeout_ms, query_done, rr);
}

/* --- /_test/txn --- */

/* The request may be gone by the time the transaction ends: rr stays until
 * the last database callback, with rr->req NULL. */
static void
txn_client_gone(struct http_request *req, void *ctx)
{
	struct route_req *rr = ctx;

	rr->req = NULL;
}

static void
txn_done(const struct db_result *res, void *ctx)
{
	struct route_req *rr = ctx;
	struct http_request *req = route_req_take(rr);

	if (req != NULL) {
		if (db_result_ok(res))
			send_json(req, 200,
			          json_pack("{s:s,s:I}", "outcome", "committed", "pid", pid()));
		else
			send_json(req, 500,
			          json_pack("{s:s,s:s,s:I}", "outcome", "rolled back", "error",
			                    db_result_error(res), "pid", pid()));
	}
	route_req_free(rr);
}

static void
txn_ready(struct db_txn *txn, const char *error, void *ctx)
{
	struct route_req *rr = ctx;
	const char *params[1] = {rr->note};

	if (txn == NULL) {
		struct http_request *req = route_req_take(rr);

		if (req != NULL)
			send_json(req, 503,
			          json_pack("{s:s,s:s,s:I}", "outcome", "not started", "error",
			                    error, "pid", pid()));
		route_req_free(rr);
		return;
	}
	if (rr->req == NULL) {
		db_txn_rollback(&txn);
		route_req_free(rr);
		return;
	}
	db_txn_query(txn,
	             "CREATE TABLE IF NOT EXISTS test_scratch ("
	             " id bigserial PRIMARY KEY,"
	             " note text NOT NULL,"
	             " created_at timestamptz NOT NULL DEFAULT now())",
	             0, NULL, NULL, NULL);
	db_txn_query(txn, "INSERT INTO test_scratch (note) VALUES ($1)", 1, params, NULL, NULL);
	if (rr->fail)
		db_txn_query(txn, "SELECT 1 / 0", 0, NULL, NULL, NULL);
	db_txn_commit(&txn, txn_done, rr);
}

static bool
valid_note(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	}
	return true;
}

static void
route_txn(struct http_request *req, void *ctx)
{
	struct db_routes *routes = ctx;
	const char *query = http_request_query(req);
	uint64_t fail = 0;
	struct route_req *rr;
	char note[65] = "txn";
	int has_note = query != NULL ? query_param(query, "note", note, sizeof(note)) : 1;

	if (!exact_path(req, "/_test/txn"))
		return;
	if (query_u64(query, "fail", &fail) < 0 || fail > 1 || has_note < 0 ||
	    (has_note == 0 && !valid_note(note))) {
		http_response_error(req, 400, "want ?fail=0|1[&note=WORD]");
		return;
	}
	rr = route_req_new(req, routes);
	rr->fail = fail == 1;
	snprintf(rr->note, sizeof(rr->note), "%s", note);
	http_request_set_abort_cb(req, txn_client_gone, rr);
	db_txn_begin(routes->db, txn_ready, rr);
}

void
db_routes_register(struct http_server *server, struct db *db, struct notify_bus *bus,
                   bool test_endpoints)
{
	/* One worker has one server, so the tables can be static. */
	static struct db_routes routes;
	static struct http_route health = {.prefix = "/floe/health", .handler = route_health};
	static struct http_route tests[] = {
	    {.prefix = "/_test/watch", .handler = route_watch},
	    {.prefix = "/_test/notify", .handler = route_notify},
	    {.prefix = "/_test/sleep", .handler = route_sleep},
	    {.prefix = "/_test/txn", .handler = route_txn},
	};

	routes.server = server;
	routes.db = db;
	routes.bus = bus;
	health.ctx = &routes;
	http_server_add_route(server, &health);
	if (!test_endpoints)
		return;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		tests[i].ctx = &routes;
		http_server_add_route(server, &tests[i]);
	}
}
