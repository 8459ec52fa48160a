/* Unit tests for the HTTP/1.1 connection layer: an http_server driven
 * through bufferevent pairs, with raw requests written into one end and the
 * responses parsed from it. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http.h"
#include "log.h"
#include "tap.h"
#include "xmalloc.h"

static struct event_base *base;
static struct http_server *server;
static int abort_count;

/* --- the client side --- */

struct client {
	struct bufferevent *bev;
	bool eof;
};

struct response {
	int status;
	char *head; /* status line and headers */
	char *body;
	size_t body_len;
};

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *client = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client->eof = true;
}

static struct client *
client_new(void)
{
	struct client *client = xcalloc(1, sizeof(*client));
	struct bufferevent *pair[2];

	if (bufferevent_pair_new(base, 0, pair) < 0)
		abort();
	client->bev = pair[0];
	bufferevent_setcb(pair[0], NULL, NULL, client_event_cb, client);
	bufferevent_enable(pair[0], EV_READ | EV_WRITE);
	http_server_accept(server, pair[1], NULL, 0, false);
	return client;
}

static void
client_free(struct client **_client)
{
	struct client *client = *_client;

	/* A pair's partner notices nothing when its end is freed: say EOF. */
	bufferevent_flush(client->bev, EV_WRITE, BEV_FINISHED);
	bufferevent_free(client->bev);
	free(client);
	*_client = NULL;
}

static void
client_send(struct client *client, const char *data)
{
	bufferevent_write(client->bev, data, strlen(data));
}

/* Ends the client's sending side, as a peer closing its socket would. */
static void
client_close(struct client *client)
{
	bufferevent_flush(client->bev, EV_WRITE, BEV_FINISHED);
}

static struct evbuffer *
client_input(struct client *client)
{
	return bufferevent_get_input(client->bev);
}

static void
response_clear(struct response *resp)
{
	free(resp->head);
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

static const char *
response_header(const struct response *resp, const char *name, char *buf, size_t size)
{
	const char *p = resp->head;
	size_t len = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
			const char *v = p + len + 1, *end;

			while (*v == ' ')
				v++;
			end = strstr(v, "\r\n");
			if (end == NULL)
				end = v + strlen(v);
			snprintf(buf, size, "%.*s", (int)(end - v), v);
			return buf;
		}
	}
	return NULL;
}

/* Takes one complete response out of the client's input: 1 when done, 0
 * when more bytes are needed. */
static int
response_take(struct client *client, bool head_request, struct response *resp)
{
	struct evbuffer *in = client_input(client);
	size_t len = evbuffer_get_length(in);
	char *data, *end, value[64];
	size_t head_len, body_len = 0, consumed;
	struct evbuffer *body = NULL;

	if (len == 0)
		return 0;
	data = (char *)evbuffer_pullup(in, -1);
	end = memmem(data, len, "\r\n\r\n", 4);
	if (end == NULL)
		return 0;
	head_len = (size_t)(end - data) + 4;
	memset(resp, 0, sizeof(*resp));
	resp->head = xstrndup(data, head_len - 2);
	if (sscanf(resp->head, "HTTP/1.1 %d", &resp->status) != 1)
		resp->status = -1;
	consumed = head_len;
	if (head_request || resp->status < 200 || resp->status == 204 || resp->status == 304) {
		body_len = 0;
	} else if (response_header(resp, "Transfer-Encoding", value, sizeof(value)) != NULL) {
		body = evbuffer_new();
		for (;;) {
			char *line_end = memmem(data + consumed, len - consumed, "\r\n", 2);
			unsigned long chunk;

			if (line_end == NULL)
				goto incomplete;
			chunk = strtoul(data + consumed, NULL, 16);
			consumed = (size_t)(line_end - data) + 2;
			if (len - consumed < chunk + 2)
				goto incomplete;
			evbuffer_add(body, data + consumed, chunk);
			consumed += chunk + 2;
			if (chunk == 0)
				break;
		}
	} else if (response_header(resp, "Content-Length", value, sizeof(value)) != NULL) {
		body_len = strtoul(value, NULL, 10);
		if (len - consumed < body_len)
			goto incomplete;
	} else {
		if (!client->eof)
			goto incomplete;
		body_len = len - consumed;
	}
	if (body != NULL) {
		resp->body_len = evbuffer_get_length(body);
		resp->body = xmalloc(resp->body_len + 1);
		evbuffer_remove(body, resp->body, resp->body_len);
		evbuffer_free(body);
	} else {
		resp->body_len = body_len;
		resp->body = xmalloc(body_len + 1);
		memcpy(resp->body, data + consumed, body_len);
		consumed += body_len;
	}
	resp->body[resp->body_len] = '\0';
	evbuffer_drain(in, consumed);
	return 1;
incomplete:
	if (body != NULL)
		evbuffer_free(body);
	response_clear(resp);
	return 0;
}

/* Runs the loop until pred(arg) holds or ms pass; returns pred's value. */
static bool
run_until(bool (*pred)(void *arg), void *arg, int ms)
{
	struct timeval start, now, slice = {0, 2000};

	gettimeofday(&start, NULL);
	for (;;) {
		if (pred != NULL && pred(arg))
			return true;
		gettimeofday(&now, NULL);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_usec - start.tv_usec) / 1000 >= ms)
			return pred != NULL && pred(arg);
		event_base_loopexit(base, &slice);
		event_base_dispatch(base);
	}
}

struct wait_response {
	struct client *client;
	bool head_request;
	struct response *resp;
};

static bool
have_response(void *arg)
{
	struct wait_response *w = arg;

	return response_take(w->client, w->head_request, w->resp) == 1;
}

static bool
read_response(struct client *client, bool head_request, struct response *resp)
{
	struct wait_response w = {client, head_request, resp};

	return run_until(have_response, &w, 2000);
}

static bool
client_closed(void *arg)
{
	return ((struct client *)arg)->eof;
}

static bool
no_connections(void *arg)
{
	return http_server_connection_count(server) == 0;
}

/* --- handlers --- */

static void
h_hello(struct http_request *req, void *ctx)
{
	char *text = xasprintf("%s %s %s", http_request_method(req), http_request_path(req),
	                       http_request_query(req) != NULL ? http_request_query(req) : "-");

	http_response_header(req, "X-Test", "yes");
	http_response_send(req, 200, "text/plain", text, strlen(text));
	free(text);
}

/* Lists the headers as name=value;... */
static void
h_headers(struct http_request *req, void *ctx)
{
	struct evbuffer *out = evbuffer_new();
	const char *name, *value;

	for (size_t i = 0; http_request_header_index(req, i, &name, &value) == 0; i++)
		evbuffer_add_printf(out, "%s=%s;", name, value);
	value = http_request_header(req, "x-AFTER");
	evbuffer_add_printf(out, "after=%s", value != NULL ? value : "(none)");
	http_response_send_buffer(req, 200, "text/plain", out);
	evbuffer_free(out);
}

static void
h_echo(struct http_request *req, void *ctx)
{
	http_response_send_buffer(req, 200, "application/octet-stream", http_request_body(req));
}

static void
on_abort(struct http_request *req, void *ctx)
{
	struct event **timer = ctx;

	abort_count++;
	if (timer != NULL && *timer != NULL) {
		event_free(*timer);
		free(timer);
	}
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
	http_response_send(req, 200, "text/plain", "later", 5);
}

static void
later_abort(struct http_request *req, void *ctx)
{
	struct later *later = ctx;

	abort_count++;
	event_free(later->timer);
	free(later);
}

/* Answers 50 ms later from a timer. */
static void
h_later(struct http_request *req, void *ctx)
{
	struct later *later = xcalloc(1, sizeof(*later));
	struct timeval tv = {0, 50000};

	later->req = req;
	later->timer = evtimer_new(base, later_fire, later);
	evtimer_add(later->timer, &tv);
	http_request_set_abort_cb(req, later_abort, later);
}

static void
h_park(struct http_request *req, void *ctx)
{
	http_request_set_abort_cb(req, on_abort, NULL);
}

static void
h_auth(struct http_request *req, void *ctx)
{
	const char *user, *password;
	char *text;

	if (http_request_basic_auth(req, &user, &password) < 0) {
		http_response_unauthorized(req, "Floe \"test\"");
		return;
	}
	text = xasprintf("%s/%s", user, password);
	http_response_send(req, 200, "text/plain", text, strlen(text));
	free(text);
}

struct stream {
	int left;
	char chunk[1000];
};

static void
stream_drain(struct http_request *req, void *ctx)
{
	struct stream *stream = ctx;

	while (stream->left > 0 && http_response_pending(req) < 64 * 1024) {
		http_response_stream_write(req, stream->chunk, sizeof(stream->chunk));
		stream->left--;
	}
	if (stream->left == 0) {
		free(stream);
		http_response_stream_end(req);
	}
}

static void
stream_abort(struct http_request *req, void *ctx)
{
	abort_count++;
	free(ctx);
}

static void
h_stream(struct http_request *req, void *ctx)
{
	struct stream *stream = xcalloc(1, sizeof(*stream));

	stream->left = 300;
	memset(stream->chunk, 'x', sizeof(stream->chunk));
	http_request_set_abort_cb(req, stream_abort, stream);
	http_response_stream_start(req, 200, "application/octet-stream");
	http_response_set_drain_cb(req, stream_drain, stream);
}

static void
h_eas(struct http_request *req, void *ctx)
{
	http_response_send(req, 200, "text/plain", "eas", 3);
}

static void
h_a(struct http_request *req, void *ctx)
{
	http_response_send(req, 200, "text/plain", ctx, strlen(ctx));
}

static const struct http_route routes[] = {
    {.prefix = "/hello", .handler = h_hello},
    {.prefix = "/echo", .handler = h_echo},
    {.prefix = "/headers", .handler = h_headers},
    {.prefix = "/later", .handler = h_later},
    {.prefix = "/park", .handler = h_park},
    {.prefix = "/auth", .handler = h_auth},
    {.prefix = "/stream", .handler = h_stream},
    {.prefix = "/Microsoft-Server-ActiveSync", .icase = true, .handler = h_eas},
    {.prefix = "/a", .handler = h_a, .ctx = "short"},
    {.prefix = "/a/b", .handler = h_a, .ctx = "long"},
};

static void
server_start(unsigned header_timeout_ms, unsigned keepalive_timeout_ms)
{
	struct http_limits limits = {
	    .max_body_size = 1024,
	    .max_header_size = 4096,
	    .header_timeout_ms = header_timeout_ms,
	    .body_timeout_ms = 5000,
	    .keepalive_timeout_ms = keepalive_timeout_ms,
	    .write_timeout_ms = 5000,
	};

	server = http_server_create(base, &limits);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		http_server_add_route(server, &routes[i]);
}

/* --- tests --- */

static void
test_simple_get(void)
{
	struct client *client = client_new();
	struct response resp;
	char buf[128];

	client_send(client, "GET /hello?x=1 HTTP/1.1\r\nHost: example\r\n\r\n");
	ok(read_response(client, false, &resp), "simple GET answered");
	is_int(resp.status, 200, "status 200");
	is_str(resp.body, "GET /hello x=1", "handler saw method, path, query");
	is_str(response_header(&resp, "Server", buf, sizeof(buf)), "Floe", "Server header");
	ok(response_header(&resp, "Date", buf, sizeof(buf)) != NULL && strstr(buf, "GMT"),
	   "Date header");
	is_str(response_header(&resp, "X-Test", buf, sizeof(buf)), "yes", "handler header");
	ok(response_header(&resp, "Connection", buf, sizeof(buf)) == NULL,
	   "no Connection header on a 1.1 keep-alive answer");
	response_clear(&resp);
	client_free(&client);
	run_until(no_connections, NULL, 1000);
}

static void
test_headers(void)
{
	struct client *client = client_new();
	struct response resp;

	client_send(client, "GET /headers HTTP/1.1\r\nX-Empty:\r\nX-After: 1  \r\n"
	                    "X-Folded: a\r\n b\r\nX-Last:\r\n\r\n");
	ok(read_response(client, false, &resp), "headers answered");
	is_str(resp.body, "X-Empty=;X-After=1;X-Folded=a b;X-Last=;after=1",
	       "empty values, trailing blanks, folding, case-insensitive lookup");
	response_clear(&resp);
	client_send(client, "GET http://example.org/headers?q=1 HTTP/1.1\r\n\r\n");
	ok(read_response(client, false, &resp) && resp.status == 200,
	   "absolute-form request target routed by its path");
	response_clear(&resp);
	client_free(&client);
}

static void
test_keepalive(void)
{
	struct client *client = client_new();
	struct response resp;

	client_send(client, "GET /hello/1 HTTP/1.1\r\nHost: x\r\n\r\n");
	ok(read_response(client, false, &resp) && strcmp(resp.body, "GET /hello/1 -") == 0,
	   "keep-alive: first answer");
	response_clear(&resp);
	client_send(client, "GET /hello/2 HTTP/1.1\r\nHost: x\r\n\r\n");
	ok(read_response(client, false, &resp) && strcmp(resp.body, "GET /hello/2 -") == 0,
	   "keep-alive: second answer on the same connection");
	response_clear(&resp);
	ok(!client->eof, "connection still open");
	is_int(http_server_connection_count(server), 1, "one connection");
	client_free(&client);
}

static void
test_pipelining(void)
{
	struct client *client = client_new();
	struct response resp[4];

	abort_count = 0;
	client_send(client, "GET /hello/1 HTTP/1.1\r\nHost: x\r\n\r\n"
	                    "POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	                    "GET /hello/3 HTTP/1.1\r\nHost: x\r\n\r\n"
	                    "PROPFIND /hello/4 HTTP/1.1\r\nHost: x\r\nDepth: 1\r\n\r\n");
	ok(read_response(client, false, &resp[0]), "pipelined answer 1");
	ok(read_response(client, false, &resp[1]), "pipelined answer 2 (from a timer)");
	ok(read_response(client, false, &resp[2]), "pipelined answer 3");
	ok(read_response(client, false, &resp[3]), "pipelined answer 4");
	is_str(resp[0].body, "GET /hello/1 -", "answers in order: 1");
	is_str(resp[1].body, "later", "answers in order: 2");
	is_str(resp[2].body, "GET /hello/3 -", "answers in order: 3");
	is_str(resp[3].body, "PROPFIND /hello/4 -", "WebDAV method routed");
	for (int i = 0; i < 4; i++)
		response_clear(&resp[i]);
	is_int(abort_count, 0, "nothing aborted");
	client_free(&client);
}

static void
test_not_found(void)
{
	struct client *client = client_new();
	struct response resp;

	client_send(client, "GET /nothing-here HTTP/1.1\r\n\r\n");
	ok(read_response(client, false, &resp), "404 answered");
	is_int(resp.status, 404, "no route: 404");
	response_clear(&resp);
	client_send(client, "GET /HELLO HTTP/1.1\r\n\r\n");
	ok(read_response(client, false, &resp) && resp.status == 404,
	   "case-sensitive route does not match other case");
	response_clear(&resp);
	client_send(client, "GET /microsoft-server-activesync?Cmd=Ping HTTP/1.1\r\n\r\n");
	ok(read_response(client, false, &resp) && resp.status == 200 &&
	       strcmp(resp.body, "eas") == 0,
	   "case-insensitive route matches");
	response_clear(&resp);
	client_send(client, "GET /a/b/c HTTP/1.1\r\n\r\n");
	ok(read_response(client, false, &resp) && strcmp(resp.body, "long") == 0,
	   "longest prefix wins");
	response_clear(&resp);
	client_send(client, "GET /a/x HTTP/1.1\r\n\r\n");
	ok(read_response(client, false, &resp) && strcmp(resp.body, "short") == 0,
	   "shorter prefix otherwise");
	response_clear(&resp);
	client_free(&client);
}

static void
expect_error(const char *request, int status, const char *what)
{
	struct client *client = client_new();
	struct response resp;
	char buf[64];

	client_send(client, request);
	ok(read_response(client, false, &resp), "%s: answered", what);
	is_int(resp.status, status, "%s: status %d", what, status);
	is_str(response_header(&resp, "Connection", buf, sizeof(buf)), "close",
	       "%s: Connection: close", what);
	ok(run_until(client_closed, client, 2000), "%s: connection closed", what);
	response_clear(&resp);
	client_free(&client);
}

static void
test_errors(void)
{
	size_t prefix;
	char *big;

	expect_error("hello world\r\n\r\n", 400, "garbage");
	expect_error("GET /hello HTTP/1.1\r\nBad Header\r\n\r\n", 400, "bad header line");
	expect_error("FOO /hello HTTP/1.1\r\n\r\n", 501, "unknown method");
	expect_error("POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413,
	             "413 from Content-Length");
	expect_error("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	             "200\r\n" /* 512 */
	             "................................................................"
	             "................................................................"
	             "................................................................"
	             "................................................................"
	             "................................................................"
	             "................................................................"
	             "................................................................"
	             "................................................................"
	             "\r\n400\r\n",
	             413, "413 in a chunked body");
	big = xmalloc(6000);
	strcpy(big, "GET /hello HTTP/1.1\r\nX-Big: ");
	prefix = strlen(big);
	memset(big + prefix, 'a', 5000);
	strcpy(big + prefix + 5000, "\r\n\r\n");
	expect_error(big, 431, "431 for a large header");
	free(big);
	expect_error("GET /hello HTTP/1.1\r\nExpect: something\r\n\r\n", 417,
	             "unknown expectation");
	expect_error("GET /hello HTTP/2.0\r\n\r\n", 505, "HTTP/2 on the 1.1 parser");
}

static void
test_expect(void)
{
	struct client *client = client_new();
	struct response resp;

	client_send(client, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n"
	                    "Expect: 100-continue\r\n\r\n");
	ok(read_response(client, false, &resp) && resp.status == 100, "100 Continue first");
	response_clear(&resp);
	client_send(client, "hello");
	ok(read_response(client, false, &resp) && resp.status == 200 &&
	       strcmp(resp.body, "hello") == 0,
	   "then 200 with the body");
	response_clear(&resp);
	client_free(&client);

	client = client_new();
	client_send(client, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n"
	                    "Expect: 100-continue\r\n\r\n");
	ok(read_response(client, false, &resp), "oversized Expect answered");
	is_int(resp.status, 413, "413 without 100 Continue");
	response_clear(&resp);
	client_free(&client);
}

static void
test_chunked_body(void)
{
	struct client *client = client_new();
	struct response resp;

	client_send(client, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	                    "4\r\nWiki\r\n");
	run_until(NULL, NULL, 20);
	client_send(client, "5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n");
	ok(read_response(client, false, &resp), "chunked upload answered");
	is_str(resp.body, "Wikipedia", "chunks reassembled");
	response_clear(&resp);
	client_free(&client);
}

static void
test_head(void)
{
	struct client *client = client_new();
	struct response resp;
	char buf[32];

	client_send(client, "HEAD /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
	ok(read_response(client, true, &resp), "HEAD answered");
	is_str(response_header(&resp, "Content-Length", buf, sizeof(buf)), "13",
	       "HEAD has the GET's Content-Length");
	response_clear(&resp);
	ok(read_response(client, false, &resp) && strcmp(resp.body, "GET /hello -") == 0,
	   "no body after HEAD: next answer follows directly");
	response_clear(&resp);
	client_free(&client);
}

static void
test_http10(void)
{
	struct client *client = client_new();
	struct response resp;
	char buf[32];

	client_send(client, "GET /hello HTTP/1.0\r\n\r\n");
	ok(read_response(client, false, &resp), "HTTP/1.0 answered");
	is_str(response_header(&resp, "Connection", buf, sizeof(buf)), "close",
	       "HTTP/1.0: Connection: close");
	ok(run_until(client_closed, client, 2000), "HTTP/1.0: connection closed");
	response_clear(&resp);
	client_free(&client);

	client = client_new();
	client_send(client, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ok(read_response(client, false, &resp), "HTTP/1.0 keep-alive answered");
	is_str(response_header(&resp, "Connection", buf, sizeof(buf)), "keep-alive",
	       "HTTP/1.0 keep-alive kept");
	response_clear(&resp);
	client_send(client, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ok(run_until(client_closed, client, 2000), "HTTP/1.0 stream ends with close");
	ok(response_take(client, false, &resp) == 1 && resp.body_len == 300000,
	   "HTTP/1.0 stream delimited by close");
	response_clear(&resp);
	client_free(&client);

	client = client_new();
	client_send(client, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
	ok(read_response(client, false, &resp) && resp.status == 200, "Connection: close answered");
	ok(run_until(client_closed, client, 2000), "Connection: close honoured");
	response_clear(&resp);
	client_free(&client);
}

static const char *
auth_result(const char *header)
{
	static char result[64];
	struct client *client = client_new();
	struct response resp;
	char *request = xasprintf("GET /auth HTTP/1.1\r\n%s\r\n", header);

	client_send(client, request);
	free(request);
	if (!read_response(client, false, &resp))
		snprintf(result, sizeof(result), "no answer");
	else if (resp.status == 401)
		snprintf(result, sizeof(result), "401 %s",
		         response_header(&resp, "WWW-Authenticate", result + 4,
		                         sizeof(result) - 4) != NULL
		             ? result + 4
		             : "");
	else
		snprintf(result, sizeof(result), "%s", resp.body);
	response_clear(&resp);
	client_free(&client);
	return result;
}

static void
test_basic_auth(void)
{
	/* user:pa:ss */
	is_str(auth_result("Authorization: Basic dXNlcjpwYTpzcw==\r\n"), "user/pa:ss",
	       "Basic auth: good");
	is_str(auth_result("Authorization: basic dXNlcjpwYTpzcw\r\n"), "user/pa:ss",
	       "Basic auth: scheme case and missing padding");
	is_str(auth_result("Authorization: Basic dXNlcg==\r\n"), "401 Basic realm=\"Floe test\"",
	       "Basic auth: no colon refused");
	is_str(auth_result("Authorization: Basic !!!!\r\n"), "401 Basic realm=\"Floe test\"",
	       "Basic auth: bad base64 refused");
	is_str(auth_result("Authorization: Basic dXNlcjpwYXNz=\r\n"),
	       "401 Basic realm=\"Floe test\"", "Basic auth: bad padding refused");
	is_str(auth_result("Authorization: Bearer abc\r\n"), "401 Basic realm=\"Floe test\"",
	       "Basic auth: other scheme");
	is_str(auth_result(""), "401 Basic realm=\"Floe test\"", "Basic auth: missing");
}

static void
test_park_abort(void)
{
	struct client *client = client_new();

	abort_count = 0;
	client_send(client, "GET /park HTTP/1.1\r\n\r\n");
	run_until(NULL, NULL, 50);
	is_int(abort_count, 0, "parked request waits");
	is_int(http_server_connection_count(server), 1, "parked connection open");
	client_close(client);
	run_until(NULL, NULL, 20);
	is_int(abort_count, 1, "abort callback on peer close");
	ok(run_until(no_connections, NULL, 1000), "connection gone");
	client_free(&client);

	/* Too much pipelined input while parked drops the connection. */
	client = client_new();
	abort_count = 0;
	client_send(client, "GET /park HTTP/1.1\r\n\r\n");
	run_until(NULL, NULL, 20);
	for (int i = 0; i < 10; i++) {
		char junk[1024];

		memset(junk, 'j', sizeof(junk));
		bufferevent_write(client->bev, junk, sizeof(junk));
	}
	ok(run_until(no_connections, NULL, 1000), "flooding a parked connection closes it");
	is_int(abort_count, 1, "and aborts the parked request");
	client_free(&client);
}

static void
test_stream(void)
{
	struct client *client = client_new();
	struct response resp;
	char buf[32];
	bool all_x = true;

	abort_count = 0;
	client_send(client, "GET /stream HTTP/1.1\r\n\r\n");
	ok(read_response(client, false, &resp), "stream answered");
	is_str(response_header(&resp, "Transfer-Encoding", buf, sizeof(buf)), "chunked",
	       "stream is chunked");
	is_int(resp.body_len, 300000, "stream length");
	for (size_t i = 0; i < resp.body_len; i++)
		all_x = all_x && resp.body[i] == 'x';
	ok(all_x, "stream content");
	response_clear(&resp);
	client_send(client, "GET /hello HTTP/1.1\r\n\r\n");
	ok(read_response(client, false, &resp) && resp.status == 200, "request after a stream");
	response_clear(&resp);

	/* A client that stops reading holds the stream at the window. */
	bufferevent_disable(client->bev, EV_READ);
	client_send(client, "GET /stream HTTP/1.1\r\n\r\n");
	run_until(NULL, NULL, 50);
	is_int(abort_count, 0, "stream waits for a slow reader");
	client_close(client);
	run_until(NULL, NULL, 50);
	is_int(abort_count, 1, "client leaving mid-stream aborts it");
	client_free(&client);
}

static void
test_timeouts(void)
{
	struct client *client;
	struct response resp;

	http_server_destroy(&server);
	server_start(100, 100);

	client = client_new();
	client_send(client, "GET /hel");
	ok(run_until(client_closed, client, 1000), "slow request head: closed");
	ok(response_take(client, false, &resp) == 1 && resp.status == 408, "with 408");
	response_clear(&resp);
	client_free(&client);

	client = client_new();
	ok(run_until(client_closed, client, 1000), "silent new connection closed");
	client_free(&client);

	client = client_new();
	client_send(client, "GET /hello HTTP/1.1\r\n\r\n");
	ok(read_response(client, false, &resp), "answer before idle");
	response_clear(&resp);
	ok(run_until(client_closed, client, 1000), "idle keep-alive connection closed");
	client_free(&client);

	http_server_destroy(&server);
	server_start(5000, 5000);
}

static int shutdown_done;

static void
on_shutdown_done(void *ctx)
{
	shutdown_done++;
}

static bool
shutdown_finished(void *arg)
{
	return shutdown_done > 0;
}

static void
test_shutdown(void)
{
	struct client *idle = client_new(), *busy = client_new(), *parked = client_new();
	struct response resp;
	char buf[32];

	abort_count = 0;
	client_send(busy, "GET /later HTTP/1.1\r\n\r\n");
	client_send(parked, "GET /park HTTP/1.1\r\n\r\n");
	run_until(NULL, NULL, 10);
	http_server_shutdown(server, on_shutdown_done, NULL);
	ok(run_until(client_closed, idle, 500), "shutdown closes idle connections");
	ok(read_response(busy, false, &resp) && strcmp(resp.body, "later") == 0,
	   "busy connection gets its answer");
	is_str(response_header(&resp, "Connection", buf, sizeof(buf)), "close",
	       "with Connection: close");
	response_clear(&resp);
	ok(run_until(client_closed, busy, 500), "then it is closed");
	is_int(http_server_connection_count(server), 1, "parked connection stays");
	is_int(abort_count, 0, "parked request not aborted by shutdown");
	is_int(shutdown_done, 0, "not done while a connection is left");
	http_server_destroy(&server);
	is_int(abort_count, 1, "destroy aborts the parked request");
	ok(run_until(client_closed, parked, 500), "parked client sees the close");
	client_free(&idle);
	client_free(&busy);
	client_free(&parked);

	server_start(5000, 5000);
	http_server_shutdown(server, on_shutdown_done, NULL);
	ok(run_until(shutdown_finished, NULL, 500), "shutdown of an empty server reports done");
	http_server_destroy(&server);
	server_start(5000, 5000);
}

int
main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	base = event_base_new();
	server_start(5000, 5000);

	test_simple_get();
	test_headers();
	test_keepalive();
	test_pipelining();
	test_not_found();
	test_errors();
	test_expect();
	test_chunked_body();
	test_head();
	test_http10();
	test_basic_auth();
	test_park_abort();
	test_stream();
	test_timeouts();
	test_shutdown();

	ok(run_until(no_connections, NULL, 3000), "no connection left");
	http_server_destroy(&server);
	event_base_free(base);
	return done_testing();
}
