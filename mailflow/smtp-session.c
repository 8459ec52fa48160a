/* The submission session: reads command lines (over-long ones are
 * refused and skipped), reads the message after DATA (undoing the
 * dot-stuffing, counting what is over the size limit without keeping it),
 * writes replies, switches to TLS on STARTTLS, and frees itself from a
 * zero-timeout event so that no callback is left holding a freed session. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "delivery.h"
#include "log.h"
#include "smtp-private.h"
#include "store-queue.h"
#include "tls.h"
#include "xmalloc.h"

/* A message line longer than this is stored in pieces (the dot-stuffing
 * of its start already undone). */
#define SMTP_DATA_CHUNK (64 * 1024)
/* Input read ahead at most. */
#define SMTP_INPUT_MAX (1024 * 1024)

static void session_read_cb(struct bufferevent *bev, void *ctx);
static void session_write_cb(struct bufferevent *bev, void *ctx);
static void session_event_cb(struct bufferevent *bev, short what, void *ctx);
static void session_process(struct smtp_session *s);

static void
session_setup_bev(struct smtp_session *s)
{
	const struct floe_config *cfg = smtp_server_config(s->server);
	unsigned ms = cfg->smtp.timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	bufferevent_setcb(s->bev, session_read_cb, session_write_cb, session_event_cb, s);
	/* Stop reading while this much input waits (pipelined commands
	 * behind an asynchronous step). */
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_MAX);
	bufferevent_set_timeouts(s->bev, ms > 0 ? &tv : NULL, ms > 0 ? &tv : NULL);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

void
smtp_session_create(struct smtp_server *server, struct bufferevent *bev,
                    const struct sockaddr *peer, socklen_t peer_len, bool tls)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->server = server;
	s->bev = bev;
	s->tls = tls;
	s->state = SMTP_CMD;
	s->data = evbuffer_new();
	if (peer != NULL && peer->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, s->peer,
		          sizeof(s->peer));
	else if (peer != NULL && peer->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, s->peer,
		          sizeof(s->peer));
	smtp_server_add(server, s);
	session_setup_bev(s);
	if (smtp_server_ip_acquire(server, s->peer) < 0) {
		log_warning("smtp %s: too many connections from this address (at most %u)", s->peer,
		            smtp_server_config(server)->smtp.max_connections_per_ip);
		smtp_session_close(s, "421 4.7.0 Too many connections from your address, try "
		                      "again later");
		return;
	}
	s->ip_counted = true;
	smtp_reply(s, "220 %s ESMTP Floe ready", smtp_server_hostname(server));
}

static void
session_free(struct smtp_session *s)
{
	smtp_server_remove(s->server, s);
	if (s->ip_counted)
		smtp_server_ip_release(s->server, s->peer);
	auth_request_abandon(&s->auth_req);
	delivery_op_abandon(&s->dop);
	store_queue_op_abandon(&s->sop);
	smtp_session_reset(s);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->free_ev != NULL)
		event_free(s->free_ev);
	evbuffer_free(s->data);
	free(s->helo);
	free(s->address);
	if (s->auth_login != NULL) {
		explicit_bzero(s->auth_login, strlen(s->auth_login));
		free(s->auth_login);
	}
	free(s);
}

void
smtp_session_destroy_now(struct smtp_session *s)
{
	session_free(s);
}

static void
session_free_cb(evutil_socket_t fd, short what, void *ctx)
{
	session_free(ctx);
}

/* Frees the session from the loop, after every callback on the stack. */
static void
session_end(struct smtp_session *s)
{
	if (s->free_ev != NULL)
		return;
	if (s->bev != NULL)
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	s->state = SMTP_CLOSING;
	s->free_ev = evtimer_new(smtp_server_base(s->server), session_free_cb, s);
	event_active(s->free_ev, EV_TIMEOUT, 0);
}

void
smtp_session_close(struct smtp_session *s, const char *reply)
{
	if (s->state == SMTP_CLOSING)
		return;
	if (reply != NULL)
		smtp_reply(s, "%s", reply);
	s->state = SMTP_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		session_end(s);
	/* else session_write_cb ends it once everything is sent */
}

void
smtp_session_shutdown(struct smtp_session *s)
{
	if (s->state == SMTP_CMD || s->state == SMTP_AUTH_PLAIN || s->state == SMTP_AUTH_USER ||
	    s->state == SMTP_AUTH_PASS)
		smtp_session_close(s, "421 4.3.2 Service shutting down, closing connection");
	/* Others finish what they are doing; smtp_session_resume and the
	 * end of DATA check for the shutdown. */
}

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void
smtp_reply_error(struct smtp_session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	if (++s->errors >= SMTP_MAX_ERRORS) {
		log_info("smtp %s: too many errors; closing", s->peer);
		smtp_session_close(s, "421 4.7.0 Too many errors, closing connection");
	}
}

void
smtp_session_reset(struct smtp_session *s)
{
	s->mail = false;
	xfree_ptr(&s->mail_from);
	for (size_t i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	xfree_ptr(&s->rcpts);
	s->nrcpts = 0;
	evbuffer_drain(s->data, evbuffer_get_length(s->data));
	s->data_size = 0;
}

void
smtp_session_resume(struct smtp_session *s)
{
	if (s->state == SMTP_CLOSING)
		return;
	s->state = SMTP_CMD;
	if (smtp_server_is_stopping(s->server)) {
		smtp_session_close(s, "421 4.3.2 Service shutting down, closing connection");
		return;
	}
	bufferevent_enable(s->bev, EV_READ);
	session_process(s);
}

int
smtp_session_starttls(struct smtp_session *s, const char **error_r)
{
	struct bufferevent *bev;
	SSL_CTX *ssl = smtp_server_ssl(s->server);

	if (ssl == NULL) {
		*error_r = "TLS is not configured";
		return -1;
	}
	bev = tls_bufferevent_starttls(s->bev, ssl);
	if (bev == NULL) {
		*error_r = "cannot start TLS";
		return -1;
	}
	/* RFC 3207 4.2: forget everything learnt in clear; the cleartext the
	 * client pipelined after STARTTLS was dropped with the socket buffer. */
	s->bev = bev;
	s->tls = true;
	s->skip_line = false;
	xfree_ptr(&s->helo);
	s->esmtp = false;
	smtp_session_reset(s);
	session_setup_bev(s);
	return 0;
}

/* ---------------------------------------------------------------------
 * Input
 */

/* Moves n bytes of input into the message, or counts them when over the
 * size limit. */
static void
data_take(struct smtp_session *s, struct evbuffer *in, size_t n)
{
	size_t max = smtp_server_config(s->server)->smtp.max_message_size;

	s->data_size += n;
	if (s->data_size > max)
		evbuffer_drain(in, n);
	else
		evbuffer_remove_buffer(in, s->data, n);
}

static void
data_crlf(struct smtp_session *s)
{
	size_t max = smtp_server_config(s->server)->smtp.max_message_size;

	s->data_size += 2;
	if (s->data_size <= max)
		evbuffer_add(s->data, "\r\n", 2);
}

/* Reads message lines; returns true when the final dot was seen. */
static bool
session_read_data(struct smtp_session *s, struct evbuffer *in)
{
	for (;;) {
		size_t eol_len = 0, len = evbuffer_get_length(in);
		struct evbuffer_ptr eol =
		    evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		unsigned char first;

		if (eol.pos < 0) {
			/* A long line without its end yet: store what cannot be the
			 * end marker (a lone "." is never this long). */
			if (len < SMTP_DATA_CHUNK)
				return false;
			if (s->data_bol) {
				evbuffer_copyout(in, &first, 1);
				if (first == '.') {
					evbuffer_drain(in, 1);
					len--;
				}
			}
			data_take(s, in, len);
			s->data_bol = false;
			continue;
		}
		if (s->data_bol && eol.pos >= 1) {
			evbuffer_copyout(in, &first, 1);
			if (first == '.') {
				if (eol.pos == 1) {
					evbuffer_drain(in, 1 + eol_len);
					return true;
				}
				evbuffer_drain(in, 1);
				eol.pos--;
			}
		}
		data_take(s, in, (size_t)eol.pos);
		evbuffer_drain(in, eol_len);
		data_crlf(s);
		s->data_bol = true;
	}
}

static void
session_process(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	while (s->state != SMTP_BUSY && s->state != SMTP_CLOSING) {
		size_t eol_len = 0;
		struct evbuffer_ptr eol;
		char *line;

		if (s->state == SMTP_DATA) {
			if (!session_read_data(s, in))
				return;
			s->state = SMTP_BUSY;
			smtp_submit(s, s->data_size >
			                   smtp_server_config(s->server)->smtp.max_message_size);
			continue;
		}
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > SMTP_LINE_MAX) {
				evbuffer_drain(in, evbuffer_get_length(in));
				if (!s->skip_line)
					smtp_reply_error(s, "500 5.5.6 Line too long");
				s->skip_line = true;
			}
			return;
		}
		if (s->skip_line || (size_t)eol.pos > SMTP_LINE_MAX) {
			evbuffer_drain(in, (size_t)eol.pos + eol_len);
			if (!s->skip_line)
				smtp_reply_error(s, "500 5.5.6 Line too long");
			s->skip_line = false;
			continue;
		}
		line = xmalloc((size_t)eol.pos + 1);
		evbuffer_remove(in, line, (size_t)eol.pos);
		line[eol.pos] = '\0';
		evbuffer_drain(in, eol_len);
		if (memchr(line, '\0', (size_t)eol.pos) != NULL) {
			smtp_reply_error(s, "500 5.5.2 NUL in command line");
		} else if (s->state == SMTP_CMD) {
			smtp_command(s, line);
		} else {
			smtp_auth_response(s, line);
		}
		explicit_bzero(line, (size_t)eol.pos);
		free(line);
	}
}

static void
session_read_cb(struct bufferevent *bev, void *ctx)
{
	session_process(ctx);
}

static void
session_write_cb(struct bufferevent *bev, void *ctx)
{
	struct smtp_session *s = ctx;

	if (s->state == SMTP_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_end(s);
}

static void
session_event_cb(struct bufferevent *bev, short what, void *ctx)
{
	struct smtp_session *s = ctx;

	if ((what & BEV_EVENT_TIMEOUT) != 0 && s->state != SMTP_CLOSING) {
		if (s->state == SMTP_BUSY) {
			/* Our own work is slow, not the client: wait for it. */
			bufferevent_enable(bev, EV_READ | EV_WRITE);
			return;
		}
		log_info("smtp %s: timeout", s->peer);
		smtp_reply(s, "421 4.4.2 %s Timeout, closing connection",
		           smtp_server_hostname(s->server));
		s->state = SMTP_CLOSING;
		bufferevent_disable(bev, EV_READ);
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) != 0)
		session_end(s);
}
