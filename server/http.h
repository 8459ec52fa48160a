/* HTTP/1.1 connection layer on libevent bufferevents.
 *
 * Each worker owns one http_server. Listeners hand it accepted (and, for
 * implicit TLS, already wrapped) bufferevents. Requests are parsed with
 * http-parser, routed by path prefix to handlers that protocol modules
 * register, and answered strictly in order (pipelining). A handler may answer
 * at once or keep the request for minutes (EAS Ping); the layer keeps reading
 * the socket so that a client that goes away is noticed at once and the
 * handler's abort callback runs. */
#ifndef FLOE_HTTP_H
#define FLOE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct bufferevent;
struct evbuffer;
struct http_server;
struct http_request;

struct http_limits {
	size_t max_body_size;          /* bytes; larger bodies get 413 */
	size_t max_header_size;        /* bytes of request line + headers; larger get 431 */
	unsigned header_timeout_ms;    /* whole request head must arrive within this */
	unsigned body_timeout_ms;      /* longest silence while a body is being read */
	unsigned keepalive_timeout_ms; /* idle time between requests before closing */
	unsigned write_timeout_ms;     /* longest time a client may stall our output */
};

typedef void http_handler_fn(struct http_request *req, void *ctx);
typedef void http_request_fn(struct http_request *req, void *ctx);

/* A route: requests whose path starts with prefix go to handler. The longest
 * matching prefix wins. With icase the comparison ignores ASCII case (EAS
 * clients vary the case of /Microsoft-Server-ActiveSync). */
struct http_route {
	const char *prefix;
	bool icase;
	http_handler_fn *handler;
	void *ctx;
};

/* Creates the per-worker server. limits is copied. */
struct http_server *http_server_create(struct event_base *base, const struct http_limits *limits);
/* Closes every connection at once (abort callbacks run) and frees the server. */
void http_server_destroy(struct http_server **server);
/* Registers a route; the struct must outlive the server (use static tables). */
void http_server_add_route(struct http_server *server, const struct http_route *route);
/* Takes ownership of bev, a connection from peer. tls says whether bev is an
 * OpenSSL bufferevent (for http_request_is_tls). */
void http_server_accept(struct http_server *server, struct bufferevent *bev,
			const struct sockaddr *peer, socklen_t peer_len, bool tls);
/* Graceful stop: idle keep-alive connections are closed now, connections
 * with a request in progress close after its response. done(ctx) is called
 * (from the event loop) once no connection is left. */
void http_server_shutdown(struct http_server *server, void (*done)(void *ctx), void *ctx);
/* Number of open connections. */
size_t http_server_connection_count(const struct http_server *server);
/* The event loop the server runs on (for handlers' timers). */
struct event_base *http_server_event_base(const struct http_server *server);

/* --- Request accessors. Returned strings are owned by the request. --- */
const char *http_request_method(const struct http_request *req);
/* The path without the query string, %-decoding not applied. */
const char *http_request_path(const struct http_request *req);
/* The query string without '?', or NULL. */
const char *http_request_query(const struct http_request *req);
/* First header with this name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);
/* The i-th header in arrival order (0-based): returns 0 and sets *name_r
 * and *value_r, or -1 when there are no more. */
int http_request_header_index(const struct http_request *req, size_t i, const char **name_r,
			      const char **value_r);
/* The complete request body (empty when there is none). */
struct evbuffer *http_request_body(const struct http_request *req);
/* The peer address as text ("127.0.0.1"). */
const char *http_request_peer(const struct http_request *req);
bool http_request_is_tls(const struct http_request *req);
/* Parses "Authorization: Basic ...". Returns 0 and sets *user_r and *password_r
 * (owned by the request), or -1 when absent or malformed. */
int http_request_basic_auth(struct http_request *req, const char **user_r, const char **password_r);
/* Copies s into request-lifetime memory. */
char *http_request_strdup(struct http_request *req, const char *s);

/* --- Responses. Exactly one of send/error/stream_start per request. --- */
/* Adds a response header; call before the response is started. */
void http_response_header(struct http_request *req, const char *name, const char *value);
/* Sends a complete response with Content-Length and ends the request. */
void http_response_send(struct http_request *req, int status, const char *content_type,
			const void *body, size_t len);
/* Same, moving the contents of body (which stays owned by the caller). */
void http_response_send_buffer(struct http_request *req, int status, const char *content_type,
			       struct evbuffer *body);
/* A short text/plain error response. */
void http_response_error(struct http_request *req, int status, const char *message);
/* 401 with WWW-Authenticate: Basic realm="realm". */
void http_response_unauthorized(struct http_request *req, const char *realm);
/* Starts a chunked response; then stream_write any number of times and
 * stream_end once. */
void http_response_stream_start(struct http_request *req, int status, const char *content_type);
void http_response_stream_write(struct http_request *req, const void *data, size_t len);
void http_response_stream_end(struct http_request *req);
/* Bytes queued for the client and not yet written (for flow control). */
size_t http_response_pending(const struct http_request *req);
/* Called whenever the queued output drops below 64 KiB while streaming. */
void http_response_set_drain_cb(struct http_request *req, http_request_fn *cb, void *ctx);

/* A handler that keeps a request (parks it) sets an abort callback: it runs
 * when the client goes away or the server shuts down before the response was
 * sent. After it returns the request is freed and must not be touched. */
void http_request_set_abort_cb(struct http_request *req, http_request_fn *cb, void *ctx);

/* Standard reason phrase for a status code ("Not Found"). */
const char *http_status_reason(int status);

#endif
