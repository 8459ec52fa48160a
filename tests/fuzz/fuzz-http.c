/* libFuzzer target for the HTTP request path: the input is written in
 * pieces into an http_server through a bufferevent pair, the event loop
 * runs briefly, then the client leaves and everything is torn down, so that
 * AddressSanitizer sees leaks and use-after-free on every path. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http.h"
#include "log.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;

static void
h_echo(struct http_request *req, void *ctx)
{
	const char *name, *value, *user, *password;

	for (size_t i = 0; http_request_header_index(req, i, &name, &value) == 0; i++)
		;
	(void)http_request_query(req);
	(void)http_request_header(req, "Content-Type");
	if (http_request_basic_auth(req, &user, &password) == 0)
		http_response_header(req, "X-User", user);
	http_response_send_buffer(req, 200, "application/octet-stream", http_request_body(req));
}

struct later {
	struct http_request *req;
	struct event *timer;
};

static void
later_fire(evutil_socket_t fd, short what, void *arg)
{
	struct later *later = arg;
	struct http_request *req = later->req;

	event_free(later->timer);
	free(later);
	http_request_set_abort_cb(req, NULL, NULL);
	http_response_error(req, 202, "later");
}

static void
later_abort(struct http_request *req, void *ctx)
{
	struct later *later = ctx;

	event_free(later->timer);
	free(later);
}

/* Answers from the next loop iteration, exercising the resume path. */
static void
h_later(struct http_request *req, void *ctx)
{
	struct later *later = xcalloc(1, sizeof(*later));
	struct timeval zero = {0, 0};

	later->req = req;
	later->timer = evtimer_new(base, later_fire, later);
	evtimer_add(later->timer, &zero);
	http_request_set_abort_cb(req, later_abort, later);
}

static void
park_abort(struct http_request *req, void *ctx)
{
}

static void
h_park(struct http_request *req, void *ctx)
{
	http_request_set_abort_cb(req, park_abort, NULL);
}

static void
stream_drain(struct http_request *req, void *ctx)
{
	int *left = ctx;

	while (*left > 0 && http_response_pending(req) < 64 * 1024) {
		http_response_stream_write(req, "0123456789abcdef", 16);
		(*left)--;
	}
	if (*left == 0) {
		free(left);
		http_response_stream_end(req);
	}
}

static void
stream_abort(struct http_request *req, void *ctx)
{
	free(ctx);
}

static void
h_stream(struct http_request *req, void *ctx)
{
	int *left = xmalloc(sizeof(*left));

	*left = 50;
	http_request_set_abort_cb(req, stream_abort, left);
	http_response_stream_start(req, 200, "text/plain");
	http_response_set_drain_cb(req, stream_drain, left);
}

static const struct http_route routes[] = {
    {.prefix = "/", .handler = h_echo},
    {.prefix = "/later", .handler = h_later},
    {.prefix = "/park", .icase = true, .handler = h_park},
    {.prefix = "/stream", .handler = h_stream},
};

static void
run_briefly(int rounds)
{
	for (int i = 0; i < rounds; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct http_limits limits = {
	    .max_body_size = 4096,
	    .max_header_size = 2048,
	    .header_timeout_ms = 1000,
	    .body_timeout_ms = 1000,
	    .keepalive_timeout_ms = 1000,
	    .write_timeout_ms = 1000,
	};
	struct http_server *server;
	struct bufferevent *pair[2];
	size_t piece, off;

	if (base == NULL) {
		log_set_level(LOG_LEVEL_ERROR);
		base = event_base_new();
	}
	server = http_server_create(base, &limits);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		http_server_add_route(server, &routes[i]);
	if (bufferevent_pair_new(base, 0, pair) < 0)
		abort();
	bufferevent_enable(pair[0], EV_READ | EV_WRITE);
	http_server_accept(server, pair[1], NULL, 0, false);

	/* The first byte chooses how the rest is cut into writes, so that
	 * the parser sees requests split at every possible place. */
	piece = size > 0 ? (size_t)data[0] + 1 : 1;
	for (off = size > 0 ? 1 : 0; off < size; off += piece) {
		size_t len = size - off < piece ? size - off : piece;

		bufferevent_write(pair[0], data + off, len);
		run_briefly(2);
		/* Play a reader that keeps up. */
		evbuffer_drain(bufferevent_get_input(pair[0]),
		               evbuffer_get_length(bufferevent_get_input(pair[0])));
	}
	run_briefly(4);
	if (size > 0 && (data[0] & 1))
		http_server_shutdown(server, NULL, NULL);
	bufferevent_flush(pair[0], EV_WRITE, BEV_FINISHED);
	run_briefly(4);

	http_server_destroy(&server);
	bufferevent_free(pair[0]);
	/* Bufferevents are finalized from the loop. */
	run_briefly(2);
	return 0;
}
