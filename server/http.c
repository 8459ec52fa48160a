/* HTTP/1.1 connection layer: reads requests from libevent bufferevents with
 * http-parser, routes them by path prefix and writes the responses strictly
 * in order. A connection handles one request at a time; pipelined bytes wait
 * in the input buffer until the previous response has been queued. */

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base64.h"
#include "http.h"
#include "log.h"
#include "xmalloc.h"

/* The write callback runs whenever queued output drops below this; it
 * drives streamed responses and resumes parsing after back-pressure. */
#define HTTP_OUTPUT_LOW_WATER (64 * 1024)
/* How long a closing connection keeps reading (and discarding) after our
 * last byte, so that unread client data does not turn our FIN into a RST
 * that destroys the response in flight. */
#define HTTP_LINGER_MS 2000
/* Used when a limit is configured as 0. */
#define HTTP_DEFAULT_MAX_HEADER (64 * 1024)
#define HTTP_DEFAULT_MAX_BODY   (10 * 1024 * 1024)

enum conn_state {
	CONN_IDLE,     /* between requests */
	CONN_HEAD,     /* reading a request line and headers */
	CONN_BODY,     /* reading a request body */
	CONN_HANDLING, /* a handler has the request; parsing is paused */
	CONN_CLOSING,  /* last response queued; close once it is written */
};

enum parse_piece {
	PIECE_NONE,
	PIECE_URL,
	PIECE_FIELD,
	PIECE_VALUE,
};

/* Request strings are carved out of chunks of HTTP_POOL_CHUNK bytes (a
 * larger string gets a chunk of its own): a parked request keeps a few
 * dozen of them, and one malloc each cost more than the strings. */
#define HTTP_POOL_CHUNK 512

struct http_pool_chunk {
	struct http_pool_chunk *next;
	size_t used, size;
	char data[];
};

/* Offsets of a header's name and value inside http_request.head. */
struct http_header_ref {
	uint32_t name;
	uint32_t value;
};

struct http_request {
	struct http_conn *conn;

	/* url\0name\0value\0name\0value\0... */
	char *head;
	size_t head_len, head_size;
	/* Bytes counted against max_header_size, trailers included. */
	size_t head_bytes;
	struct http_header_ref *headers;
	uint32_t header_count, header_alloc;

	const char *path, *query;
	struct evbuffer *body;
	struct http_pool_chunk *pool;

	char *resp_headers;
	size_t resp_headers_len;
	const char *auth_user, *auth_password;

	http_request_fn *abort_cb, *drain_cb;
	void *abort_ctx, *drain_ctx;

	unsigned short http_major, http_minor;
	uint8_t method;
	uint8_t last_piece;
	bool head_done : 1;
	bool dispatched : 1;
	bool keep_alive : 1;
	bool is_head : 1;
	bool started : 1;
	bool streaming : 1;
	bool chunked_out : 1;
	bool no_body_out : 1;
	bool finished : 1;
	bool aborted : 1;
};

struct http_conn {
	TAILQ_ENTRY(http_conn) entry;
	struct http_server *server;
	struct bufferevent *bev;
	/* The request being parsed or handled, NULL between requests. */
	struct http_request *req;
	/* One timer for everything: timeouts, deferred resume, deferred
	 * drain callback and deferred free. */
	struct event timer;
	http_parser parser;
	const char *fail_msg;
	unsigned short fail_status;
	uint8_t state;
	bool tls : 1;
	bool eof : 1;
	bool closed : 1;
	bool served : 1;
	bool processing : 1;
	bool resume : 1;
	bool drain_kick : 1;
	bool in_drain : 1;
	bool lingering : 1;
	char peer[INET6_ADDRSTRLEN];
};

TAILQ_HEAD(http_conn_list, http_conn);

struct http_server {
	struct event_base *base;
	struct http_limits limits;
	const struct http_route **routes;
	size_t route_count;
	struct http_conn_list conns; /* open connections */
	struct http_conn_list dead;  /* closed, waiting to be freed */
	size_t conn_count;
	bool shutting_down;
	void (*done_cb)(void *ctx);
	void *done_ctx;
	struct event *done_ev;
	time_t date_time;
	char date[40];
};

static void conn_process(struct http_conn *conn);
static void conn_close(struct http_conn *conn);
static void request_finish(struct http_request *req);

/* --- small helpers --- */

static void
conn_set_timer(struct http_conn *conn, unsigned ms)
{
	struct timeval tv;

	if (ms == 0) {
		evtimer_del(&conn->timer);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&conn->timer, &tv);
}

/* Runs the timer callback from the event loop as soon as possible. */
static void
conn_kick(struct http_conn *conn)
{
	event_active(&conn->timer, EV_TIMEOUT, 1);
}

static struct evbuffer *
conn_output(struct http_conn *conn)
{
	if (conn->closed || conn->bev == NULL)
		return NULL;
	return bufferevent_get_output(conn->bev);
}

static size_t
conn_output_len(struct http_conn *conn)
{
	struct evbuffer *out = conn_output(conn);

	return out == NULL ? 0 : evbuffer_get_length(out);
}

static struct evbuffer *
req_output(struct http_request *req)
{
	if (req->aborted)
		return NULL;
	return conn_output(req->conn);
}

static const char *
server_date(struct http_server *server)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;

	if (now != server->date_time && gmtime_r(&now, &tm) != NULL) {
		server->date_time = now;
		snprintf(server->date, sizeof(server->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
		         days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
		         tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
	return server->date;
}

const char *
http_status_reason(int status)
{
	const char *reason;

	switch (status) {
	case 449:
		return "Retry With"; /* Exchange ActiveSync */
	case 507:
		return "Insufficient Storage";
	default:
		break;
	}
	reason = http_status_str((enum http_status)status);
	if (reason == NULL || reason[0] == '<')
		return "Unknown";
	return reason;
}

static bool
status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

/* --- requests --- */

static struct http_request *
request_new(struct http_conn *conn)
{
	struct http_request *req = xcalloc(1, sizeof(*req));

	req->conn = conn;
	return req;
}

static void
request_free(struct http_request **_req)
{
	struct http_request *req = *_req;
	struct http_pool_chunk *chunk;

	if (req == NULL)
		return;
	while ((chunk = req->pool) != NULL) {
		req->pool = chunk->next;
		free(chunk);
	}
	if (req->body != NULL)
		evbuffer_free(req->body);
	free(req->head);
	free(req->headers);
	free(req->resp_headers);
	free(req);
	*_req = NULL;
}

/* Unaligned memory: only strings come from the pool. */
static void *
request_alloc(struct http_request *req, size_t size)
{
	struct http_pool_chunk *chunk = req->pool;
	size_t chunk_size = size > HTTP_POOL_CHUNK / 2 ? size : HTTP_POOL_CHUNK;

	if (chunk != NULL && chunk->size - chunk->used >= size) {
		chunk->used += size;
		return chunk->data + chunk->used - size;
	}
	chunk = xmalloc(sizeof(*chunk) + chunk_size);
	chunk->size = chunk_size;
	chunk->used = size;
	if (req->pool != NULL && chunk_size > HTTP_POOL_CHUNK) {
		/* Keep the current chunk first: its room stays usable. */
		chunk->next = req->pool->next;
		req->pool->next = chunk;
	} else {
		chunk->next = req->pool;
		req->pool = chunk;
	}
	return chunk->data;
}

char *
http_request_strdup(struct http_request *req, const char *s)
{
	size_t len = strlen(s);
	char *copy = request_alloc(req, len + 1);

	memcpy(copy, s, len + 1);
	return copy;
}

static char *
request_strndup(struct http_request *req, const char *s, size_t len)
{
	char *copy = request_alloc(req, len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

/* --- parsing --- */

static int
parse_fail(struct http_conn *conn, int status, const char *msg)
{
	conn->fail_status = (unsigned short)status;
	conn->fail_msg = msg;
	return -1;
}

/* Counts len more bytes of request head and fails with 431 past the limit.
 * Every header line also costs its ": " and CRLF. */
static int
head_count(struct http_conn *conn, size_t len)
{
	struct http_request *req = conn->req;

	req->head_bytes += len;
	if (req->head_bytes > conn->server->limits.max_header_size)
		return parse_fail(conn, 431, "request header too large");
	return 0;
}

static int
head_append(struct http_conn *conn, const char *at, size_t len)
{
	struct http_request *req = conn->req;

	if (head_count(conn, len) < 0)
		return -1;
	if (req->head_len + len + 1 > req->head_size) {
		size_t size = req->head_size == 0 ? 256 : req->head_size;

		while (size < req->head_len + len + 1)
			size *= 2;
		req->head = xrealloc(req->head, size);
		req->head_size = size;
	}
	memcpy(req->head + req->head_len, at, len);
	req->head_len += len;
	return 0;
}

static int
head_terminate(struct http_conn *conn)
{
	return head_append(conn, "", 1);
}

static int
on_message_begin(http_parser *parser)
{
	struct http_conn *conn = parser->data;

	if (conn->req != NULL)
		return parse_fail(conn, 500, "internal error: request already in progress");
	conn->req = request_new(conn);
	/* Request line overhead: method, spaces, version, CRLF. */
	conn->req->head_bytes = 16;
	conn->state = CONN_HEAD;
	/* On a new connection the clock started at accept time. */
	if (conn->served || !evtimer_pending(&conn->timer, NULL))
		conn_set_timer(conn, conn->server->limits.header_timeout_ms);
	return 0;
}

static int
on_url(http_parser *parser, const char *at, size_t len)
{
	struct http_conn *conn = parser->data;

	conn->req->last_piece = PIECE_URL;
	return head_append(conn, at, len);
}

static int
on_header_field(http_parser *parser, const char *at, size_t len)
{
	struct http_conn *conn = parser->data;
	struct http_request *req = conn->req;

	if (req->head_done) {
		/* A trailer after a chunked body: counted, then ignored. */
		return head_count(conn, len + 4);
	}
	if (req->last_piece != PIECE_FIELD) {
		if (head_terminate(conn) < 0 || head_count(conn, 4) < 0)
			return -1;
		if (req->header_count == req->header_alloc) {
			req->header_alloc = req->header_alloc == 0 ? 8 : req->header_alloc * 2;
			req->headers =
			    xreallocarray(req->headers, req->header_alloc, sizeof(*req->headers));
		}
		req->headers[req->header_count].name = (uint32_t)req->head_len;
		req->headers[req->header_count].value = 0;
		req->header_count++;
		req->last_piece = PIECE_FIELD;
	}
	return head_append(conn, at, len);
}

static int
on_header_value(http_parser *parser, const char *at, size_t len)
{
	struct http_conn *conn = parser->data;
	struct http_request *req = conn->req;

	if (req->head_done)
		return head_count(conn, len);
	if (req->header_count == 0)
		return parse_fail(conn, 400, "header value without a name");
	if (req->last_piece != PIECE_VALUE) {
		if (head_terminate(conn) < 0)
			return -1;
		req->headers[req->header_count - 1].value = (uint32_t)req->head_len;
		req->last_piece = PIECE_VALUE;
	}
	return head_append(conn, at, len);
}

static void
request_split_url(struct http_request *req)
{
	char *url = req->head, *path, *p;

	path = url;
	if (url[0] != '/' && url[0] != '*' && (p = strstr(url, "://")) != NULL) {
		/* absolute-form: http://host/path */
		path = strchr(p + 3, '/');
		if (path == NULL) {
			req->path = "/";
			p = strchr(p + 3, '?');
			if (p != NULL) {
				*p = '\0';
				req->query = p + 1;
			}
			return;
		}
	}
	if ((p = strchr(path, '#')) != NULL)
		*p = '\0';
	if ((p = strchr(path, '?')) != NULL) {
		*p = '\0';
		req->query = p + 1;
	}
	req->path = path;
}

static int
on_headers_complete(http_parser *parser)
{
	struct http_conn *conn = parser->data;
	struct http_request *req = conn->req;
	const struct http_limits *limits = &conn->server->limits;
	const char *expect;
	bool chunked, has_length;

	if (req->last_piece == PIECE_FIELD) {
		/* The last header had an empty value. */
		if (head_terminate(conn) < 0)
			return -1;
		req->headers[req->header_count - 1].value = (uint32_t)req->head_len;
	}
	if (head_terminate(conn) < 0)
		return -1;
	req->head_done = true;
	req->head = xrealloc(req->head, req->head_len);
	req->head_size = req->head_len;
	for (uint32_t i = 0; i < req->header_count; i++) {
		char *value = req->head + req->headers[i].value;
		size_t len = strlen(value);

		while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
			value[--len] = '\0';
	}
	request_split_url(req);

	req->method = (uint8_t)parser->method;
	req->http_major = parser->http_major;
	req->http_minor = parser->http_minor;
	req->keep_alive = http_should_keep_alive(parser) != 0;
	req->is_head = parser->method == HTTP_HEAD;

	if (parser->http_major != 1)
		return parse_fail(conn, 505, "only HTTP/1.x is supported");
	if (parser->method == HTTP_CONNECT)
		return parse_fail(conn, 501, "CONNECT is not supported");

	chunked = (parser->flags & F_CHUNKED) != 0;
	has_length = !chunked && parser->content_length != ULLONG_MAX && parser->content_length > 0;
	if (has_length && parser->content_length > limits->max_body_size)
		return parse_fail(conn, 413, "request body too large");

	expect = http_request_header(req, "Expect");
	if (expect != NULL && parser->http_minor >= 1) {
		if (strcasecmp(expect, "100-continue") != 0)
			return parse_fail(conn, 417, "unsupported expectation");
		if ((chunked || has_length) && conn->bev != NULL)
			evbuffer_add(bufferevent_get_output(conn->bev),
			             "HTTP/1.1 100 Continue\r\n\r\n", 25);
	}
	if (chunked || has_length) {
		conn->state = CONN_BODY;
		conn_set_timer(conn, limits->body_timeout_ms);
	}
	return 0;
}

static int
on_chunk_header(http_parser *parser)
{
	struct http_conn *conn = parser->data;
	struct http_request *req = conn->req;
	size_t have = req->body == NULL ? 0 : evbuffer_get_length(req->body);

	if (parser->content_length > conn->server->limits.max_body_size - have)
		return parse_fail(conn, 413, "request body too large");
	return 0;
}

static int
on_body(http_parser *parser, const char *at, size_t len)
{
	struct http_conn *conn = parser->data;
	struct http_request *req = conn->req;

	if (req->body == NULL)
		req->body = evbuffer_new();
	if (len > conn->server->limits.max_body_size - evbuffer_get_length(req->body))
		return parse_fail(conn, 413, "request body too large");
	evbuffer_add(req->body, at, len);
	return 0;
}

static int
on_message_complete(http_parser *parser)
{
	/* Stop here: the next pipelined request is parsed only after this
	 * one's response has been queued. */
	http_parser_pause(parser, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

/* An unknown method looks like "FOO /": upper-case letters, '-' or '_'
 * up to a space. Anything else is garbage. */
static bool
looks_like_method(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < 32; i++) {
		if (p[i] == ' ')
			return i > 0;
		if (!((p[i] >= 'A' && p[i] <= 'Z') || p[i] == '-' || p[i] == '_'))
			return false;
	}
	return false;
}

/* --- connection life cycle --- */

static void
server_check_done(struct http_server *server)
{
	static const struct timeval zero = {0, 0};

	if (server->shutting_down && server->done_cb != NULL && server->conn_count == 0)
		evtimer_add(server->done_ev, &zero);
}

static void
conn_free(struct http_conn *conn)
{
	TAILQ_REMOVE(&conn->server->dead, conn, entry);
	evtimer_del(&conn->timer);
	request_free(&conn->req);
	free(conn);
}

static void
conn_schedule_free(struct http_conn *conn)
{
	static const struct timeval zero = {0, 0};

	evtimer_add(&conn->timer, &zero);
}

/* Closes the socket now. A request a handler still holds is aborted
 * (abort callback, then freed); one without abort callback stays alive
 * until the handler answers into the void. The struct itself is freed
 * from the event loop, never while a caller may be on the stack. */
static void
conn_close(struct http_conn *conn)
{
	struct http_server *server = conn->server;
	struct http_request *req = conn->req;

	if (conn->closed)
		return;
	conn->closed = true;
	evtimer_del(&conn->timer);
	TAILQ_REMOVE(&server->conns, conn, entry);
	server->conn_count--;
	TAILQ_INSERT_TAIL(&server->dead, conn, entry);

	if (conn->bev != NULL) {
		bufferevent_setcb(conn->bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
		/* Lets a bufferevent pair's partner see EOF; a no-op on sockets. */
		bufferevent_flush(conn->bev, EV_WRITE, BEV_FINISHED);
		bufferevent_free(conn->bev);
		conn->bev = NULL;
	}

	if (req != NULL) {
		if (!req->dispatched) {
			request_free(&conn->req);
		} else if (req->abort_cb != NULL) {
			http_request_fn *cb = req->abort_cb;

			req->abort_cb = NULL;
			req->aborted = true;
			cb(req, req->abort_ctx);
			request_free(&conn->req);
		}
	}
	if (conn->req == NULL)
		conn_schedule_free(conn);
	server_check_done(server);
}

/* An orderly end of a TLS connection starts with our close_notify, so that
 * the client can tell it from a truncation. Best effort, never blocks. */
static void
conn_tls_close_notify(struct http_conn *conn)
{
	SSL *ssl;

	if (!conn->tls || conn->bev == NULL)
		return;
	ssl = bufferevent_openssl_get_ssl(conn->bev);
	if (ssl != NULL && SSL_is_init_finished(ssl) &&
	    !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

/* Called once the last response is queued: waits for it to be written,
 * then half-closes and lingers briefly before closing. */
static void
conn_finish_close(struct http_conn *conn)
{
	evutil_socket_t fd;

	if (conn->closed || conn->state != CONN_CLOSING || conn_output_len(conn) > 0)
		return;
	if (conn->eof || conn->lingering) {
		conn_close(conn);
		return;
	}
	conn_tls_close_notify(conn);
	fd = bufferevent_getfd(conn->bev);
	if (fd < 0 || shutdown(fd, SHUT_WR) < 0) {
		conn_close(conn);
		return;
	}
	conn->lingering = true;
	conn_set_timer(conn, HTTP_LINGER_MS);
}

static void
conn_start_closing(struct http_conn *conn)
{
	conn->state = CONN_CLOSING;
	evtimer_del(&conn->timer);
	conn_finish_close(conn);
}

/* Answers a request that failed to parse (no handler has seen it) and
 * closes the connection. */
static void
conn_send_error(struct http_conn *conn, int status, const char *msg)
{
	struct evbuffer *out = conn_output(conn);

	request_free(&conn->req);
	if (out != NULL) {
		struct http_server *server = conn->server;

		evbuffer_add_printf(out,
		                    "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: Floe\r\n"
		                    "Content-Type: text/plain; charset=utf-8\r\n"
		                    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
		                    status, http_status_reason(status), server_date(server),
		                    strlen(msg) + 1, msg);
	}
	conn_start_closing(conn);
}

static void
conn_parse_error(struct http_conn *conn, enum http_errno err, const char *rest, size_t rest_len)
{
	int status = conn->fail_status != 0 ? conn->fail_status : 400;
	const char *msg = conn->fail_msg != NULL ? conn->fail_msg : http_errno_description(err);

	if (err == HPE_HEADER_OVERFLOW) {
		status = 431;
		msg = "request header too large";
	} else if (err == HPE_INVALID_METHOD && looks_like_method(rest, rest_len)) {
		status = 501;
		msg = "unknown request method";
	}
	log_debug("http: %s: bad request (%d): %s", conn->peer, status, msg);
	conn_send_error(conn, status, msg);
}

static const struct http_route *
server_find_route(struct http_server *server, const char *path)
{
	const struct http_route *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < server->route_count; i++) {
		const struct http_route *route = server->routes[i];
		size_t len = strlen(route->prefix);
		int cmp;

		if (best != NULL && len <= best_len)
			continue;
		cmp = route->icase ? strncasecmp(path, route->prefix, len)
		                   : strncmp(path, route->prefix, len);
		if (cmp == 0) {
			best = route;
			best_len = len;
		}
	}
	return best;
}

static void
conn_dispatch(struct http_conn *conn)
{
	struct http_request *req = conn->req;
	const struct http_route *route;

	conn->state = CONN_HANDLING;
	evtimer_del(&conn->timer);
	http_parser_init(&conn->parser, HTTP_REQUEST);
	req->dispatched = true;
	if (conn->server->shutting_down)
		req->keep_alive = false;

	route = server_find_route(conn->server, req->path);
	if (route == NULL)
		http_response_error(req, 404, "no such resource");
	else
		route->handler(req, route->ctx);

	/* The client already finished sending and the handler keeps the
	 * request: nobody is left to read the answer. */
	if (conn->req != NULL && conn->eof && !conn->closed)
		conn_close(conn);
}

static void
conn_process(struct http_conn *conn)
{
	const struct http_limits *limits = &conn->server->limits;
	struct evbuffer *input;

	if (conn->processing || conn->closed)
		return;
	conn->processing = true;
	input = bufferevent_get_input(conn->bev);
	while (!conn->closed && conn->state != CONN_HANDLING && conn->state != CONN_CLOSING) {
		struct evbuffer_iovec v;
		enum http_errno err;
		size_t n;

		if (evbuffer_get_length(input) == 0)
			break;
		/* Back-pressure: a client that pipelines without reading
		 * waits until its answers have been written. */
		if (conn->state == CONN_IDLE && conn_output_len(conn) >= HTTP_OUTPUT_LOW_WATER)
			break;
		if (evbuffer_peek(input, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		conn->fail_status = 0;
		conn->fail_msg = NULL;
		n = http_parser_execute(&conn->parser, &parser_settings, v.iov_base, v.iov_len);
		err = HTTP_PARSER_ERRNO(&conn->parser);
		if (err == HPE_OK || err == HPE_PAUSED)
			evbuffer_drain(input, n);
		if (err == HPE_PAUSED) {
			conn_dispatch(conn);
		} else if (err != HPE_OK) {
			n = n > v.iov_len ? v.iov_len : n;
			conn_parse_error(conn, err, (const char *)v.iov_base + n, v.iov_len - n);
		}
	}
	conn->processing = false;
	if (conn->closed)
		return;

	if (conn->state == CONN_IDLE && evbuffer_get_length(input) == 0) {
		if (conn->eof || conn->server->shutting_down) {
			conn_start_closing(conn);
			return;
		}
		if (!evtimer_pending(&conn->timer, NULL))
			conn_set_timer(conn, conn->served ? limits->keepalive_timeout_ms
			                                  : limits->header_timeout_ms);
	} else if ((conn->state == CONN_HEAD || conn->state == CONN_BODY) && conn->eof) {
		/* The client stopped sending in the middle of a request. */
		request_free(&conn->req);
		conn_start_closing(conn);
	}
}

/* --- bufferevent callbacks --- */

static size_t
conn_input_bound(const struct http_conn *conn)
{
	const struct http_limits *limits = &conn->server->limits;

	return limits->max_header_size + limits->max_body_size + 4096;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *conn = arg;
	struct evbuffer *input = bufferevent_get_input(bev);

	if (conn->state == CONN_CLOSING) {
		evbuffer_drain(input, evbuffer_get_length(input));
		return;
	}
	if (conn->state == CONN_BODY)
		conn_set_timer(conn, conn->server->limits.body_timeout_ms);
	conn_process(conn);
	if (conn->closed)
		return;
	if (conn->state == CONN_CLOSING) {
		evbuffer_drain(input, evbuffer_get_length(input));
		return;
	}
	/* What could not be parsed waits, while a request is held or the
	 * client does not read its answers, but only up to a bound. */
	if (evbuffer_get_length(input) > conn_input_bound(conn)) {
		log_info("http: %s: too much pipelined input while a request is in progress, "
		         "closing",
		         conn->peer);
		conn_close(conn);
	}
}

static void
conn_call_drain(struct http_conn *conn)
{
	struct http_request *req = conn->req;

	if (conn->state != CONN_HANDLING || req == NULL || !req->streaming || req->finished ||
	    req->drain_cb == NULL || conn->in_drain || conn->closed)
		return;
	if (conn_output_len(conn) >= HTTP_OUTPUT_LOW_WATER)
		return;
	conn->in_drain = true;
	req->drain_cb(req, req->drain_ctx);
	/* req may be gone now; conn is freed only from the event loop. */
	conn->in_drain = false;
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *conn = arg;

	switch (conn->state) {
	case CONN_CLOSING:
		conn_finish_close(conn);
		break;
	case CONN_HANDLING:
		conn_call_drain(conn);
		break;
	case CONN_IDLE:
		if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
			conn_process(conn);
		break;
	default:
		break;
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *conn = arg;

	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		log_debug("http: %s: connection %s", conn->peer,
		          (what & BEV_EVENT_TIMEOUT) ? "write timed out" : "failed");
		conn_close(conn);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		conn->eof = true;
		switch (conn->state) {
		case CONN_HANDLING:
			/* The client went away while its request is held. */
			conn_close(conn);
			break;
		case CONN_CLOSING:
			conn_finish_close(conn);
			break;
		default:
			conn_process(conn);
			break;
		}
	}
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *conn = arg;

	if (conn->closed) {
		if (conn->req == NULL)
			conn_free(conn);
		return;
	}
	if (conn->resume) {
		conn->resume = false;
		conn_process(conn);
		return;
	}
	if (conn->drain_kick) {
		conn->drain_kick = false;
		conn_call_drain(conn);
		return;
	}
	switch (conn->state) {
	case CONN_IDLE:
		log_debug("http: %s: idle timeout", conn->peer);
		conn_tls_close_notify(conn);
		conn_close(conn);
		break;
	case CONN_HEAD:
		log_debug("http: %s: request head not received in time, closing", conn->peer);
		conn_send_error(conn, 408, "request head not received in time");
		break;
	case CONN_BODY:
		log_debug("http: %s: request body stalled, closing", conn->peer);
		conn_send_error(conn, 408, "request body stalled");
		break;
	case CONN_CLOSING:
		conn_close(conn);
		break;
	default:
		break;
	}
}

/* --- server --- */

static void
server_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *server = arg;
	void (*done)(void *ctx) = server->done_cb;

	server->done_cb = NULL;
	if (done != NULL)
		done(server->done_ctx);
}

struct http_server *
http_server_create(struct event_base *base, const struct http_limits *limits)
{
	struct http_server *server = xcalloc(1, sizeof(*server));

	server->base = base;
	server->limits = *limits;
	if (server->limits.max_header_size == 0)
		server->limits.max_header_size = HTTP_DEFAULT_MAX_HEADER;
	if (server->limits.max_body_size == 0)
		server->limits.max_body_size = HTTP_DEFAULT_MAX_BODY;
	/* Header offsets are 32-bit. */
	if (server->limits.max_header_size > UINT32_MAX / 2)
		server->limits.max_header_size = UINT32_MAX / 2;
	if (server->limits.max_body_size > SIZE_MAX / 4)
		server->limits.max_body_size = SIZE_MAX / 4;
	TAILQ_INIT(&server->conns);
	TAILQ_INIT(&server->dead);
	server->done_ev = evtimer_new(base, server_done_cb, server);
	if (server->done_ev == NULL)
		fatal("http: cannot create an event");
	return server;
}

void
http_server_destroy(struct http_server **_server)
{
	struct http_server *server = *_server;
	struct http_conn *conn;

	if (server == NULL)
		return;
	server->done_cb = NULL;
	while ((conn = TAILQ_FIRST(&server->conns)) != NULL)
		conn_close(conn);
	/* Requests that handlers hold without abort callback die here too. */
	while ((conn = TAILQ_FIRST(&server->dead)) != NULL)
		conn_free(conn);
	event_free(server->done_ev);
	free(server->routes);
	free(server);
	*_server = NULL;
}

void
http_server_add_route(struct http_server *server, const struct http_route *route)
{
	server->routes =
	    xreallocarray(server->routes, server->route_count + 1, sizeof(*server->routes));
	server->routes[server->route_count++] = route;
}

static void
peer_to_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	const void *addr = NULL;

	if (sa != NULL && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa != NULL && sa->sa_family == AF_INET6 &&
	         len >= (socklen_t)sizeof(struct sockaddr_in6))
		addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (addr == NULL || inet_ntop(sa->sa_family, addr, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "%s", sa != NULL && sa->sa_family == AF_UNIX ? "unix" : "-");
}

void
http_server_accept(struct http_server *server, struct bufferevent *bev, const struct sockaddr *peer,
                   socklen_t peer_len, bool tls)
{
	struct http_conn *conn = xcalloc(1, sizeof(*conn));

	conn->server = server;
	conn->bev = bev;
	conn->tls = tls;
	conn->state = CONN_IDLE;
	peer_to_text(peer, peer_len, conn->peer, sizeof(conn->peer));
	http_parser_init(&conn->parser, HTTP_REQUEST);
	conn->parser.data = conn;
	evtimer_assign(&conn->timer, server->base, conn_timer_cb, conn);
	TAILQ_INSERT_TAIL(&server->conns, conn, entry);
	server->conn_count++;

	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, conn);
	bufferevent_setwatermark(bev, EV_WRITE, HTTP_OUTPUT_LOW_WATER - 1, 0);
	if (server->limits.write_timeout_ms > 0) {
		struct timeval tv = {
		    .tv_sec = server->limits.write_timeout_ms / 1000,
		    .tv_usec = (server->limits.write_timeout_ms % 1000) * 1000,
		};
		bufferevent_set_timeouts(bev, NULL, &tv);
	}
	conn_set_timer(conn, server->limits.header_timeout_ms);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
		/* Bytes read before the hand-over (after STARTTLS, say). */
		conn->resume = true;
		conn_kick(conn);
	}
}

void
http_server_shutdown(struct http_server *server, void (*done)(void *ctx), void *ctx)
{
	struct http_conn *conn, *next;

	server->shutting_down = true;
	server->done_cb = done;
	server->done_ctx = ctx;
	for (conn = TAILQ_FIRST(&server->conns); conn != NULL; conn = next) {
		next = TAILQ_NEXT(conn, entry);
		if (conn->state == CONN_IDLE &&
		    evbuffer_get_length(bufferevent_get_input(conn->bev)) == 0) {
			conn_tls_close_notify(conn);
			conn_close(conn);
		}
	}
	server_check_done(server);
}

size_t
http_server_connection_count(const struct http_server *server)
{
	return server->conn_count;
}

struct event_base *
http_server_event_base(const struct http_server *server)
{
	return server->base;
}

/* --- request accessors --- */

const char *
http_request_method(const struct http_request *req)
{
	return http_method_str((enum http_method)req->method);
}

const char *
http_request_path(const struct http_request *req)
{
	return req->path;
}

const char *
http_request_query(const struct http_request *req)
{
	return req->query;
}

const char *
http_request_header(const struct http_request *req, const char *name)
{
	for (uint32_t i = 0; i < req->header_count; i++) {
		if (strcasecmp(req->head + req->headers[i].name, name) == 0)
			return req->head + req->headers[i].value;
	}
	return NULL;
}

int
http_request_header_index(const struct http_request *req, size_t i, const char **name_r,
                          const char **value_r)
{
	if (i >= req->header_count)
		return -1;
	*name_r = req->head + req->headers[i].name;
	*value_r = req->head + req->headers[i].value;
	return 0;
}

struct evbuffer *
http_request_body(const struct http_request *req)
{
	/* Created on first use so that body-less requests cost nothing. */
	struct http_request *mreq = (struct http_request *)req;

	if (mreq->body == NULL)
		mreq->body = evbuffer_new();
	return mreq->body;
}

const char *
http_request_peer(const struct http_request *req)
{
	return req->conn->peer;
}

bool
http_request_is_tls(const struct http_request *req)
{
	return req->conn->tls;
}

int
http_request_basic_auth(struct http_request *req, const char **user_r, const char **password_r)
{
	const char *value = http_request_header(req, "Authorization");
	const char *token, *colon;
	unsigned char *decoded;
	size_t token_len;
	long len;

	if (req->auth_user != NULL) {
		*user_r = req->auth_user;
		*password_r = req->auth_password;
		return 0;
	}
	if (value == NULL || strncasecmp(value, "Basic", 5) != 0 ||
	    (value[5] != ' ' && value[5] != '\t'))
		return -1;
	token = value + 5;
	while (*token == ' ' || *token == '\t')
		token++;
	token_len = strlen(token);
	if (token_len == 0 || token_len > 8192 || strpbrk(token, " \t") != NULL)
		return -1;
	decoded = xmalloc(token_len / 4 * 3 + 3);
	len = base64_decode_into(token, token_len, BASE64_LENIENT, decoded);
	if (len <= 0 || memchr(decoded, '\0', (size_t)len) != NULL ||
	    (colon = memchr(decoded, ':', (size_t)len)) == NULL || colon == (char *)decoded) {
		free(decoded);
		return -1;
	}
	req->auth_user = request_strndup(req, (char *)decoded, (size_t)(colon - (char *)decoded));
	req->auth_password =
	    request_strndup(req, colon + 1, (size_t)len - (size_t)(colon - (char *)decoded) - 1);
	free(decoded);
	*user_r = req->auth_user;
	*password_r = req->auth_password;
	return 0;
}

void
http_request_set_abort_cb(struct http_request *req, http_request_fn *cb, void *ctx)
{
	req->abort_cb = cb;
	req->abort_ctx = ctx;
}

/* --- responses --- */

static bool
header_token_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 127 || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
			return false;
	}
	return true;
}

void
http_response_header(struct http_request *req, const char *name, const char *value)
{
	size_t nlen, vlen;

	if (req->started) {
		log_error("http: header %s added after the response to %s started", name,
		          req->path);
		return;
	}
	if (!header_token_ok(name) || strpbrk(value, "\r\n") != NULL) {
		log_error("http: refusing malformed response header %s", name);
		return;
	}
	nlen = strlen(name);
	vlen = strlen(value);
	req->resp_headers = xrealloc(req->resp_headers, req->resp_headers_len + nlen + vlen + 5);
	memcpy(req->resp_headers + req->resp_headers_len, name, nlen);
	memcpy(req->resp_headers + req->resp_headers_len + nlen, ": ", 2);
	memcpy(req->resp_headers + req->resp_headers_len + nlen + 2, value, vlen);
	memcpy(req->resp_headers + req->resp_headers_len + nlen + 2 + vlen, "\r\n", 2);
	req->resp_headers_len += nlen + vlen + 4;
}

/* Marks the response started; false (and an error logged) when it already was. */
static bool
response_begin(struct http_request *req, int status)
{
	if (req->started) {
		log_error("http: second response (%d) to %s %s ignored", status,
		          http_request_method(req), req->path);
		return false;
	}
	req->started = true;
	if (req->conn->server->shutting_down)
		req->keep_alive = false;
	req->no_body_out = req->is_head || !status_has_body(status);
	return true;
}

/* Writes the status line and headers. length < 0 means a streamed body. */
static void
response_write_head(struct http_request *req, struct evbuffer *out, int status,
                    const char *content_type, long long length)
{
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: Floe\r\n", status,
	                    http_status_reason(status), server_date(req->conn->server));
	if (status_has_body(status)) {
		if (content_type != NULL)
			evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
		if (length >= 0)
			evbuffer_add_printf(out, "Content-Length: %lld\r\n", length);
		else if (req->chunked_out)
			evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
	}
	if (!req->keep_alive)
		evbuffer_add(out, "Connection: close\r\n", 19);
	else if (req->http_minor == 0)
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	if (req->resp_headers_len > 0)
		evbuffer_add(out, req->resp_headers, req->resp_headers_len);
	evbuffer_add(out, "\r\n", 2);
}

void
http_response_send(struct http_request *req, int status, const char *content_type, const void *body,
                   size_t len)
{
	struct evbuffer *out;

	if (!response_begin(req, status))
		return;
	out = req_output(req);
	if (out != NULL) {
		response_write_head(req, out, status, content_type, (long long)len);
		if (!req->no_body_out && len > 0)
			evbuffer_add(out, body, len);
	}
	request_finish(req);
}

void
http_response_send_buffer(struct http_request *req, int status, const char *content_type,
                          struct evbuffer *body)
{
	struct evbuffer *out;
	size_t len = evbuffer_get_length(body);

	if (!response_begin(req, status))
		return;
	out = req_output(req);
	if (out != NULL) {
		response_write_head(req, out, status, content_type, (long long)len);
		if (!req->no_body_out)
			evbuffer_add_buffer(out, body);
	}
	evbuffer_drain(body, evbuffer_get_length(body));
	request_finish(req);
}

void
http_response_error(struct http_request *req, int status, const char *message)
{
	char *text = xasprintf("%s\n", message != NULL ? message : http_status_reason(status));

	http_response_send(req, status, "text/plain; charset=utf-8", text, strlen(text));
	free(text);
}

void
http_response_unauthorized(struct http_request *req, const char *realm)
{
	char *value = xmalloc(strlen(realm) + 16);
	char *p = value;

	/* Quotes, backslashes and control characters cannot appear inside
	 * the quoted realm; drop them. */
	p += sprintf(p, "Basic realm=\"");
	for (const char *s = realm; *s != '\0'; s++) {
		if (*s != '"' && *s != '\\' && (unsigned char)*s >= ' ')
			*p++ = *s;
	}
	strcpy(p, "\"");
	http_response_header(req, "WWW-Authenticate", value);
	free(value);
	http_response_error(req, 401, "authentication required");
}

void
http_response_stream_start(struct http_request *req, int status, const char *content_type)
{
	struct evbuffer *out;

	if (!response_begin(req, status))
		return;
	req->streaming = true;
	if (req->http_minor == 0) {
		/* HTTP/1.0 knows no chunked encoding: the body ends at close. */
		req->keep_alive = false;
	} else {
		req->chunked_out = true;
	}
	out = req_output(req);
	if (out != NULL)
		response_write_head(req, out, status, content_type, -1);
	if (req->drain_cb != NULL) {
		req->conn->drain_kick = true;
		conn_kick(req->conn);
	}
}

void
http_response_stream_write(struct http_request *req, const void *data, size_t len)
{
	struct evbuffer *out;

	if (!req->streaming || req->finished) {
		log_error("http: stream write to %s without a streamed response", req->path);
		return;
	}
	out = req_output(req);
	if (out == NULL || req->no_body_out || len == 0)
		return;
	if (req->chunked_out) {
		evbuffer_add_printf(out, "%zx\r\n", len);
		evbuffer_add(out, data, len);
		evbuffer_add(out, "\r\n", 2);
	} else {
		evbuffer_add(out, data, len);
	}
}

void
http_response_stream_end(struct http_request *req)
{
	struct evbuffer *out;

	if (!req->streaming || req->finished) {
		log_error("http: stream end for %s without a streamed response", req->path);
		return;
	}
	out = req_output(req);
	if (out != NULL && req->chunked_out && !req->no_body_out)
		evbuffer_add(out, "0\r\n\r\n", 5);
	request_finish(req);
}

size_t
http_response_pending(const struct http_request *req)
{
	if (req->aborted)
		return 0;
	return conn_output_len(req->conn);
}

void
http_response_set_drain_cb(struct http_request *req, http_request_fn *cb, void *ctx)
{
	req->drain_cb = cb;
	req->drain_ctx = ctx;
	if (cb != NULL && req->streaming && !req->finished && !req->aborted) {
		req->conn->drain_kick = true;
		conn_kick(req->conn);
	}
}

/* The response is queued: free the request and go on with the next one
 * (or close). Parsing resumes from the event loop unless the parse loop is
 * already on the stack. */
static void
request_finish(struct http_request *req)
{
	struct http_conn *conn = req->conn;
	bool keep_alive = req->keep_alive;

	req->finished = true;
	if (req->aborted) {
		/* Called from the abort callback; conn_close frees it. */
		return;
	}
	if (conn->req == req)
		conn->req = NULL;
	request_free(&req);
	if (conn->closed) {
		/* The client left while the handler worked without an abort
		 * callback; the connection waited for this. */
		conn_schedule_free(conn);
		return;
	}
	conn->served = true;
	conn->drain_kick = false;
	if (!keep_alive) {
		conn_start_closing(conn);
		return;
	}
	conn->state = CONN_IDLE;
	if (!conn->processing) {
		conn->resume = true;
		conn_kick(conn);
	}
}
