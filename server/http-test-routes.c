/* Test-only HTTP routes (see http-test-routes.h): they exercise parking,
 * aborts, streaming and pipelining from the integration tests. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "http-test-routes.h"
#include "http.h"
#include "log.h"
#include "xmalloc.h"

/* Streams are capped so that a typo in a test cannot exhaust memory. */
#define TEST_STREAM_MAX_CHUNK  (1024 * 1024)
#define TEST_STREAM_MAX_CHUNKS 1000000
#define TEST_STREAM_WINDOW     (64 * 1024)

/* Looks up name=value in a query string; returns 0 and the number, or -1. */
static int
query_number(const char *query, const char *name, unsigned long *value_r)
{
	size_t name_len = strlen(name);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
			char *end;

			*value_r = strtoul(p + name_len + 1, &end, 10);
			if (end == p + name_len + 1 || (*end != '\0' && *end != '&'))
				return -1;
			return 0;
		}
		p = strchr(p, '&');
		if (p != NULL)
			p++;
	}
	return -1;
}

static void
test_echo(struct http_request *req, void *ctx)
{
	struct evbuffer *out = evbuffer_new();
	struct evbuffer *body = http_request_body(req);
	const char *name, *value;
	size_t count = 0;
	char pid[16];

	while (http_request_header_index(req, count, &name, &value) == 0)
		count++;
	evbuffer_add_printf(out, "method %s\npath %s\n", http_request_method(req),
	                    http_request_path(req));
	if (http_request_query(req) != NULL)
		evbuffer_add_printf(out, "query %s\n", http_request_query(req));
	evbuffer_add_printf(out, "headers %zu\nbody-length %zu\n", count,
	                    evbuffer_get_length(body));
	for (size_t i = 0; http_request_header_index(req, i, &name, &value) == 0; i++)
		evbuffer_add_printf(out, "header %s: %s\n", name, value);
	evbuffer_add(out, "\n", 1);
	evbuffer_add_buffer(out, body);

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	http_response_header(req, "X-Worker-Pid", pid);
	http_response_send_buffer(req, 200, "text/plain; charset=utf-8", out);
	evbuffer_free(out);
}

static void
test_pid(struct http_request *req, void *ctx)
{
	char pid[16];
	int len = snprintf(pid, sizeof(pid), "%ld", (long)getpid());

	http_response_send(req, 200, "text/plain", pid, (size_t)len);
}

struct test_park {
	struct http_request *req;
	struct event *timer;
};

static void
test_park_free(struct test_park *park)
{
	if (park->timer != NULL)
		event_free(park->timer);
	free(park);
}

static void
test_park_wake(evutil_socket_t fd, short what, void *arg)
{
	struct test_park *park = arg;
	struct http_request *req = park->req;

	http_request_set_abort_cb(req, NULL, NULL);
	test_park_free(park);
	http_response_send(req, 200, "text/plain", "woke\n", 5);
}

static void
test_park_abort(struct http_request *req, void *ctx)
{
	log_info("http: parked request aborted by client");
	test_park_free(ctx);
}

static void
test_park(struct http_request *req, void *ctx)
{
	struct http_server *server = ctx;
	struct test_park *park = xcalloc(1, sizeof(*park));
	unsigned long ms;

	park->req = req;
	if (http_request_query(req) != NULL &&
	    query_number(http_request_query(req), "ms", &ms) == 0) {
		struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
		                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};

		park->timer = evtimer_new(http_server_event_base(server), test_park_wake, park);
		evtimer_add(park->timer, &tv);
	}
	http_request_set_abort_cb(req, test_park_abort, park);
}

struct test_stream {
	unsigned long chunks_left;
	size_t size;
	char data[];
};

static void
test_stream_abort(struct http_request *req, void *ctx)
{
	log_info("http: streamed response aborted by client");
	free(ctx);
}

static void
test_stream_drain(struct http_request *req, void *ctx)
{
	struct test_stream *stream = ctx;

	while (stream->chunks_left > 0 && http_response_pending(req) < TEST_STREAM_WINDOW) {
		http_response_stream_write(req, stream->data, stream->size);
		stream->chunks_left--;
	}
	if (stream->chunks_left == 0) {
		free(stream);
		http_response_stream_end(req);
	}
}

static void
test_stream(struct http_request *req, void *ctx)
{
	const char *query = http_request_query(req);
	unsigned long chunks = 0, size = 0;
	struct test_stream *stream;

	if (query == NULL || query_number(query, "chunks", &chunks) < 0 ||
	    query_number(query, "size", &size) < 0 || chunks > TEST_STREAM_MAX_CHUNKS ||
	    size == 0 || size > TEST_STREAM_MAX_CHUNK) {
		http_response_error(req, 400, "want ?chunks=N&size=M");
		return;
	}
	stream = xmalloc(sizeof(*stream) + size);
	stream->chunks_left = chunks;
	stream->size = size;
	for (size_t i = 0; i < size; i++)
		stream->data[i] = (char)('a' + i % 26);
	http_request_set_abort_cb(req, test_stream_abort, stream);
	http_response_stream_start(req, 200, "application/octet-stream");
	http_response_set_drain_cb(req, test_stream_drain, stream);
}

void
http_test_routes_register(struct http_server *server)
{
	/* One worker has one server, so the table can be static; ctx is the
	 * server (for its event loop). */
	static struct http_route routes[] = {
	    {.prefix = "/_test/echo", .handler = test_echo},
	    {.prefix = "/_test/park", .handler = test_park},
	    {.prefix = "/_test/stream", .handler = test_stream},
	    {.prefix = "/_test/pid", .handler = test_pid},
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		routes[i].ctx = server;
		http_server_add_route(server, &routes[i]);
	}
}
