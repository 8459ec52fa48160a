/* The LMTP server (mailflow/lmtp.h): sessions over bufferevents, line
 * framing with length limits, the DATA reader (dot-unstuffing, CRLF line
 * ends, size limit), timeouts and graceful shutdown. The commands
 * themselves are in lmtp-commands.c. */
#include "lmtp-private.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "delivery.h"
#include "log.h"
#include "xmalloc.h"

struct lmtp_server *
lmtp_server_create(struct event_base *base, const struct floe_config *cfg,
                   struct delivery *delivery)
{
	struct lmtp_server *server = xcalloc(1, sizeof(*server));

	server->base = base;
	server->cfg = cfg;
	server->delivery = delivery;
	server->max_size = cfg->lmtp.max_message_size != 0 ? cfg->lmtp.max_message_size
	                                                   : cfg->imap.max_literal_size;
	server->max_line = cfg->lmtp.max_line_length < 1024 ? 1024 : cfg->lmtp.max_line_length;
	if (gethostname(server->hostname, sizeof(server->hostname) - 1) < 0 ||
	    server->hostname[0] == '\0')
		snprintf(server->hostname, sizeof(server->hostname), "localhost");
	LIST_INIT(&server->sessions);
	return server;
}

static void lmtp_session_free(struct lmtp_session *s);

void
lmtp_server_destroy(struct lmtp_server **serverp)
{
	struct lmtp_server *server = *serverp;
	struct lmtp_session *s;

	if (server == NULL)
		return;
	*serverp = NULL;
	while ((s = LIST_FIRST(&server->sessions)) != NULL)
		lmtp_session_free(s);
	if (server->drained_ev != NULL)
		event_free(server->drained_ev);
	free(server);
}

size_t
lmtp_server_connection_count(const struct lmtp_server *server)
{
	return server != NULL ? server->nsessions : 0;
}

static void
lmtp_server_drained_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct lmtp_server *server = ctx;
	void (*done)(void *) = server->drained;

	server->drained = NULL;
	if (done != NULL)
		done(server->drained_ctx);
}

static void
lmtp_server_check_drained(struct lmtp_server *server)
{
	if (!server->stopping || server->nsessions > 0 || server->drained == NULL)
		return;
	if (server->drained_ev == NULL)
		server->drained_ev = event_new(server->base, -1, 0, lmtp_server_drained_cb, server);
	event_active(server->drained_ev, EV_TIMEOUT, 1);
}

/* ---------------------------------------------------------------------
 * Sessions
 */

void
lmtp_reply(struct lmtp_session *s, const char *fmt, ...)
{
	va_list ap;
	struct evbuffer *out = bufferevent_get_output(s->bev);

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void
lmtp_transaction_reset(struct lmtp_session *s)
{
	free(s->mail_from);
	s->mail_from = NULL;
	for (size_t i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = 0;
	s->have_mail = false;
	if (s->data != NULL)
		evbuffer_drain(s->data, evbuffer_get_length(s->data));
	s->data_too_big = false;
	s->data_line_too_long = false;
	s->data_skip = false;
}

static void
lmtp_session_free(struct lmtp_session *s)
{
	struct lmtp_server *server = s->server;

	LIST_REMOVE(s, entry);
	server->nsessions--;
	delivery_op_abandon(&s->op);
	lmtp_transaction_reset(s);
	free(s->pending_rcpt);
	if (s->data != NULL)
		evbuffer_free(s->data);
	if (s->free_ev != NULL)
		event_free(s->free_ev);
	bufferevent_free(s->bev);
	free(s->lhlo);
	free(s);
	lmtp_server_check_drained(server);
}

static void
lmtp_session_free_cb(evutil_socket_t fd, short what, void *ctx)
{
	lmtp_session_free(ctx);
}

/* Frees the session from the event loop, never from inside one of its
 * own callbacks. */
static void
lmtp_session_kill(struct lmtp_session *s)
{
	if (s->state == LMTP_DEAD)
		return;
	s->state = LMTP_DEAD;
	delivery_op_abandon(&s->op);
	bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	s->free_ev = event_new(s->server->base, -1, 0, lmtp_session_free_cb, s);
	event_active(s->free_ev, EV_TIMEOUT, 1);
}

static void
lmtp_session_written(struct bufferevent *bev, void *ctx)
{
	struct lmtp_session *s = ctx;

	if (s->state == LMTP_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		lmtp_session_kill(s);
}

void
lmtp_session_close(struct lmtp_session *s)
{
	if (s->state == LMTP_DEAD || s->state == LMTP_CLOSING)
		return;
	s->state = LMTP_CLOSING;
	delivery_op_abandon(&s->op);
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_enable(s->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		lmtp_session_kill(s);
}

static void
lmtp_session_event(struct bufferevent *bev, short what, void *ctx)
{
	struct lmtp_session *s = ctx;

	if ((what & BEV_EVENT_TIMEOUT) != 0 && s->state != LMTP_CLOSING && s->state != LMTP_DEAD) {
		log_info("lmtp: %s: idle too long, disconnecting", s->peer);
		lmtp_reply(s, "421 4.4.2 %s Timeout, closing connection", s->server->hostname);
		lmtp_session_close(s);
		return;
	}
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) != 0)
		lmtp_session_kill(s);
}

/* Whether the session, now between commands, should end for shutdown. */
bool
lmtp_session_stop_if_asked(struct lmtp_session *s)
{
	if (!s->server->stopping || s->state != LMTP_CMD)
		return false;
	lmtp_reply(s, "421 4.3.2 %s Server shutting down", s->server->hostname);
	lmtp_session_close(s);
	return true;
}

/* Appends one message line (without its line end) to the message. */
static void
lmtp_data_line(struct lmtp_session *s, const char *line, size_t len)
{
	if (len > 0 && line[0] == '.') {
		line++;
		len--;
	}
	if (s->data_too_big)
		return;
	if (evbuffer_get_length(s->data) + len + 2 > s->server->max_size) {
		s->data_too_big = true;
		return;
	}
	evbuffer_add(s->data, line, len);
	evbuffer_add(s->data, "\r\n", 2);
}

/* Reads DATA lines; returns true once the final "." was read. */
static bool
lmtp_read_data(struct lmtp_session *s, struct evbuffer *in)
{
	for (;;) {
		size_t eol_len = 0, len;
		struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		char *line;

		if (p.pos < 0) {
			len = evbuffer_get_length(in);
			/* An endless line: drop it up to its end, refuse the message. */
			if (len > s->server->max_line) {
				evbuffer_drain(in, len);
				s->data_line_too_long = true;
				s->data_skip = true;
			}
			return false;
		}
		len = (size_t)p.pos;
		if (s->data_skip) {
			evbuffer_drain(in, len + eol_len);
			s->data_skip = false;
			continue;
		}
		if (len > s->server->max_line) {
			evbuffer_drain(in, len + eol_len);
			s->data_line_too_long = true;
			continue;
		}
		line = (char *)evbuffer_pullup(in, (ssize_t)(len + eol_len));
		if (len == 1 && line[0] == '.') {
			evbuffer_drain(in, len + eol_len);
			return true;
		}
		lmtp_data_line(s, line, len);
		evbuffer_drain(in, len + eol_len);
	}
}

/* Handles whatever complete input there is, until the session has to
 * wait (a resolution or delivery in progress) or the input runs out. */
void
lmtp_session_process(struct lmtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	while (s->state == LMTP_CMD || s->state == LMTP_DATA) {
		if (s->state == LMTP_DATA) {
			if (!lmtp_read_data(s, in))
				return;
			lmtp_data_done(s);
			continue;
		}
		if (lmtp_session_stop_if_asked(s))
			return;
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);

		if (line == NULL) {
			if (evbuffer_get_length(in) > s->server->max_line) {
				evbuffer_drain(in, evbuffer_get_length(in));
				s->cmd_skip = true;
				lmtp_reply(s, "500 5.5.2 Line too long (at most %zu bytes)",
				           s->server->max_line);
				lmtp_error(s);
			}
			return;
		}
		if (s->cmd_skip) {
			/* The rest of an over-long line. */
			s->cmd_skip = false;
			free(line);
			continue;
		}
		if (len > s->server->max_line) {
			lmtp_reply(s, "500 5.5.2 Line too long (at most %zu bytes)",
			           s->server->max_line);
			lmtp_error(s);
		} else {
			lmtp_command(s, line, len);
		}
		free(line);
	}
}

static void
lmtp_session_read(struct bufferevent *bev, void *ctx)
{
	lmtp_session_process(ctx);
}

void
lmtp_session_resume(struct lmtp_session *s)
{
	if (s->state != LMTP_BUSY)
		return;
	s->state = s->resume_state;
	bufferevent_enable(s->bev, EV_READ);
	lmtp_session_process(s);
}

void
lmtp_session_wait(struct lmtp_session *s, enum lmtp_state after)
{
	s->state = LMTP_BUSY;
	s->resume_state = after;
	/* Pipelined input waits in the kernel meanwhile. */
	bufferevent_disable(s->bev, EV_READ);
}

void
lmtp_error(struct lmtp_session *s)
{
	if (++s->errors >= LMTP_MAX_ERRORS) {
		log_info("lmtp: %s: too many errors, disconnecting", s->peer);
		lmtp_reply(s, "421 4.7.0 %s Too many errors, closing connection",
		           s->server->hostname);
		lmtp_session_close(s);
	}
}

static void
peer_text(const struct sockaddr *peer, socklen_t len, char *buf, size_t size)
{
	snprintf(buf, size, "unknown");
	if (peer == NULL)
		return;
	if (peer->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, buf,
		          (socklen_t)size);
	else if (peer->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, buf,
		          (socklen_t)size);
	else if (peer->sa_family == AF_UNIX)
		snprintf(buf, size, "local");
}

static void
lmtp_refuse_written(struct bufferevent *bev, void *ctx)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
lmtp_refuse_event(struct bufferevent *bev, short what, void *ctx)
{
	bufferevent_free(bev);
}

void
lmtp_server_accept(struct lmtp_server *server, struct bufferevent *bev, const struct sockaddr *peer,
                   socklen_t peer_len)
{
	struct lmtp_session *s;
	struct timeval tv;

	if (server->stopping) {
		static const char bye[] = "421 4.3.2 Server shutting down\r\n";
		struct timeval wt = {5, 0};

		bufferevent_setcb(bev, NULL, lmtp_refuse_written, lmtp_refuse_event, NULL);
		bufferevent_set_timeouts(bev, &wt, &wt);
		bufferevent_enable(bev, EV_WRITE);
		bufferevent_write(bev, bye, sizeof(bye) - 1);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->server = server;
	s->bev = bev;
	s->state = LMTP_CMD;
	s->data = evbuffer_new();
	peer_text(peer, peer_len, s->peer, sizeof(s->peer));
	LIST_INSERT_HEAD(&server->sessions, s, entry);
	server->nsessions++;
	tv.tv_sec = server->cfg->lmtp.timeout_ms / 1000;
	tv.tv_usec = (server->cfg->lmtp.timeout_ms % 1000) * 1000;
	bufferevent_setcb(bev, lmtp_session_read, lmtp_session_written, lmtp_session_event, s);
	if (server->cfg->lmtp.timeout_ms > 0)
		bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	lmtp_reply(s, "220 %s LMTP Floe ready", server->hostname);
	log_debug("lmtp: connection from %s", s->peer);
}

void
lmtp_server_shutdown(struct lmtp_server *server, void (*done)(void *ctx), void *ctx)
{
	struct lmtp_session *s, *next;

	server->stopping = true;
	server->drained = done;
	server->drained_ctx = ctx;
	for (s = LIST_FIRST(&server->sessions); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		/* Sessions in DATA or delivering stop once the message is done. */
		lmtp_session_stop_if_asked(s);
	}
	lmtp_server_check_drained(server);
}
