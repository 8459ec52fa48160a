/* The POP3 session: reads command lines one at a time (pipelined commands
 * wait in the input buffer while one runs), dispatches them through the
 * command table, writes replies, enforces the [pop3] limits (line length,
 * bad commands in a row, autologout) and frees itself from the event loop
 * once the connection ends. */
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
#include "log.h"
#include "pop3-private.h"
#include "store.h"
#include "tls.h"
#include "xmalloc.h"

static void session_process(struct pop3_session *s);
static void session_close_when_sent(struct pop3_session *s);
static void session_schedule_free(struct pop3_session *s);

/* ---------------------------------------------------------------------
 * Output
 */

struct evbuffer *
pop3_session_output(struct pop3_session *s)
{
	return bufferevent_get_output(s->bev);
}

size_t
pop3_session_output_pending(const struct pop3_session *s)
{
	struct bufferevent *under = bufferevent_get_underlying(s->bev);
	size_t n = evbuffer_get_length(bufferevent_get_output(s->bev));

	/* After STLS the socket bufferevent under the TLS filter holds some. */
	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

static void
session_reply(struct pop3_session *s, const char *status, const char *fmt, va_list ap)
{
	struct evbuffer *out = pop3_session_output(s);

	if (s->closing)
		return;
	evbuffer_add_printf(out, "%s ", status);
	evbuffer_add_vprintf(out, fmt, ap);
	evbuffer_add(out, "\r\n", 2);
}

void
pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	s->bad_in_row = 0;
	va_start(ap, fmt);
	session_reply(s, "+OK", fmt, ap);
	va_end(ap);
}

void
pop3_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_reply(s, "-ERR", fmt, ap);
	va_end(ap);
}

void
pop3_bad(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_reply(s, "-ERR", fmt, ap);
	va_end(ap);
	if (++s->bad_in_row >= POP3_MAX_BAD) {
		log_info("pop3 %s: %u bad commands in a row; closing", s->peer, s->bad_in_row);
		pop3_session_disconnect(s, "-ERR Too many bad commands; closing the connection");
	}
}

/* ---------------------------------------------------------------------
 * Accessors and state
 */

void
pop3_session_set_slot(struct pop3_session *s, size_t slot)
{
	s->slot = slot;
}

bool
pop3_session_plaintext_ok(const struct pop3_session *s)
{
	return s->tls || s->cfg->pop3.allow_plaintext_auth;
}

const char *
pop3_session_remote_ip(const struct pop3_session *s)
{
	return strcmp(s->peer, "local") == 0 ? NULL : s->peer;
}

static void
session_set_timeouts(struct pop3_session *s)
{
	unsigned rd_ms = s->cfg->pop3.autologout_ms, wr_ms;
	struct timeval rd, wr;

	/* autologout 0 disables it, except before login. */
	if (s->state == POP3_STATE_AUTHORIZATION && (rd_ms == 0 || rd_ms > POP3_PREAUTH_TIMEOUT_MS))
		rd_ms = POP3_PREAUTH_TIMEOUT_MS;
	rd.tv_sec = rd_ms / 1000;
	rd.tv_usec = (rd_ms % 1000) * 1000;
	/* A client that stops reading a message is cut after the autologout
	 * time too (at least a minute). */
	wr_ms = s->cfg->pop3.autologout_ms > 60000 ? s->cfg->pop3.autologout_ms : 60000;
	wr.tv_sec = wr_ms / 1000;
	wr.tv_usec = (wr_ms % 1000) * 1000;
	bufferevent_set_timeouts(s->bev, rd_ms == 0 ? NULL : &rd, &wr);
}

void
pop3_session_enter_transaction(struct pop3_session *s)
{
	s->state = POP3_STATE_TRANSACTION;
	session_set_timeouts(s);
}

void
pop3_session_drop_account(struct pop3_session *s)
{
	if (s->account_counted)
		pop3_server_account_unref(s->server, s->account_id);
	s->account_counted = false;
	s->account_id = 0;
	free(s->address);
	s->address = NULL;
	free(s->msgs);
	s->msgs = NULL;
	s->nmsgs = 0;
	s->folder_id = 0;
}

void
pop3_session_command_done(struct pop3_session *s)
{
	s->busy = false;
	if (s->free_when_idle) {
		s->free_when_idle = false;
		session_schedule_free(s);
		return;
	}
	if (!s->closing)
		event_active(s->resume_ev, EV_TIMEOUT, 0);
}

/* ---------------------------------------------------------------------
 * Connection life cycle
 */

static void
session_schedule_free(struct pop3_session *s)
{
	if (s->freeing)
		return;
	s->closing = true;
	bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	/* A client that closes right after QUIT still gets its deletions:
	 * the UPDATE state finishes first (RFC 1939 section 6). */
	if (s->state == POP3_STATE_UPDATE && s->busy) {
		s->free_when_idle = true;
		return;
	}
	s->freeing = true;
	event_active(s->free_ev, EV_TIMEOUT, 0);
}

void
pop3_session_disconnect(struct pop3_session *s, const char *reply)
{
	struct timeval tv = {10, 0};

	if (s->closing)
		return;
	if (reply != NULL)
		evbuffer_add_printf(pop3_session_output(s), "%s\r\n", reply);
	s->closing = true;
	bufferevent_disable(s->bev, EV_READ);
	if (pop3_session_output_pending(s) == 0) {
		session_schedule_free(s);
		return;
	}
	/* Close once the reply is out, or after 10 s if the client stops
	 * reading. */
	s->close_after_flush = true;
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(s->bev, NULL, &tv);
	bufferevent_enable(s->bev, EV_WRITE);
}

void
pop3_session_shutdown(struct pop3_session *s)
{
	if (s->closing)
		return;
	/* Waiting for the client (also in the middle of AUTH): end it now.
	 * Otherwise once the running command has answered. */
	if (!s->busy) {
		pop3_session_disconnect(s, "-ERR [SYS/TEMP] Server shutting down");
		return;
	}
	s->shutdown_pending = true;
}

static void
session_linger_cb(evutil_socket_t fd, short what, void *ctx)
{
	session_close_when_sent(ctx);
}

/* Under a TLS filter the socket bufferevent may still hold bytes once the
 * filter is empty; its callbacks belong to the filter, so poll briefly
 * (the write timeout bounds a client that does not read). */
static void
session_close_when_sent(struct pop3_session *s)
{
	struct timeval tv = {0, 20000};

	if (pop3_session_output_pending(s) == 0) {
		session_schedule_free(s);
		return;
	}
	if (bufferevent_get_underlying(s->bev) != NULL)
		event_add(s->linger_ev, &tv);
}

static void
session_read_cb(struct bufferevent *bev, void *ctx)
{
	session_process(ctx);
}

static void
session_write_cb(struct bufferevent *bev, void *ctx)
{
	struct pop3_session *s = ctx;

	if (s->close_after_flush) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			session_close_when_sent(s);
		return;
	}
	if (pop3_session_output_pending(s) > POP3_OUTPUT_LOW)
		return;
	if (s->xfer != NULL)
		pop3_transfer_resume(s);
	if (s->blocked_on_output) {
		s->blocked_on_output = false;
		event_active(s->resume_ev, EV_TIMEOUT, 0);
	}
}

static void
session_event_cb(struct bufferevent *bev, short what, void *ctx)
{
	struct pop3_session *s = ctx;

	if ((what & BEV_EVENT_TIMEOUT) != 0 && (what & BEV_EVENT_READING) != 0 && !s->closing) {
		/* A long RETR to a slow client is not inactivity. */
		if (s->busy) {
			bufferevent_enable(bev, EV_READ);
			return;
		}
		/* RFC 1939 section 3: close without a response and without
		 * entering the UPDATE state. */
		log_info("pop3 %s: autologout%s%s", s->peer, s->address != NULL ? " of " : "",
		         s->address != NULL ? s->address : "");
		session_schedule_free(s);
		return;
	}
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) != 0) {
		log_debug("pop3 %s: connection closed%s", s->peer,
		          (what & BEV_EVENT_ERROR) != 0 ? " with an error" : "");
		session_schedule_free(s);
	}
}

static void
session_setup_bev(struct pop3_session *s)
{
	bufferevent_setcb(s->bev, session_read_cb, session_write_cb, session_event_cb, s);
	/* Enough to see that a line is too long; the rest waits in the kernel. */
	bufferevent_setwatermark(s->bev, EV_READ, 0, (size_t)s->cfg->pop3.max_line_length + 4096);
	bufferevent_setwatermark(s->bev, EV_WRITE, POP3_OUTPUT_LOW, 0);
	session_set_timeouts(s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

int
pop3_session_starttls(struct pop3_session *s, const char **error_r)
{
	SSL_CTX *ssl = pop3_server_ssl(s->server);
	struct bufferevent *bev;

	if (ssl == NULL) {
		*error_r = "TLS is not configured";
		return -1;
	}
	/* Drops whatever the client pipelined in clear after STLS. */
	bev = tls_bufferevent_starttls(s->bev, ssl);
	if (bev == NULL) {
		*error_r = "cannot start TLS";
		return -1;
	}
	/* The TLS filter moves everything it encrypts into the socket
	 * bufferevent at once unless that has a high-water mark; then the
	 * filter's output stays empty, its write callback never comes again
	 * and a long RETR would wait for ever. */
	bufferevent_setwatermark(bufferevent_get_underlying(bev), EV_WRITE, 0, POP3_OUTPUT_LOW);
	s->bev = bev;
	s->tls = true;
	s->skipping = false;
	free(s->user);
	s->user = NULL;
	session_setup_bev(s);
	return 0;
}

static void
session_destroy(struct pop3_session *s)
{
	pop3_transfer_free(s);
	auth_request_abandon(&s->auth_req);
	store_op_abandon(&s->op);
	if (s->registered)
		pop3_server_session_remove(s->server, s->slot, s->peer);
	pop3_session_drop_account(s);
	free(s->user);
	free(s->sasl_login);
	event_free(s->resume_ev);
	event_free(s->free_ev);
	event_free(s->linger_ev);
	bufferevent_free(s->bev);
	free(s);
}

void
pop3_session_destroy_now(struct pop3_session *s)
{
	session_destroy(s);
}

static void
session_free_cb(evutil_socket_t fd, short what, void *ctx)
{
	session_destroy(ctx);
}

static void
session_resume_cb(evutil_socket_t fd, short what, void *ctx)
{
	session_process(ctx);
}

struct pop3_session *
pop3_session_create(struct pop3_server *server, struct bufferevent *bev,
                    const struct sockaddr *peer, socklen_t peer_len, bool tls)
{
	struct pop3_session *s = xcalloc(1, sizeof(*s));

	s->server = server;
	s->cfg = pop3_server_config(server);
	s->base = pop3_server_base(server);
	s->bev = bev;
	s->tls = tls;
	s->state = POP3_STATE_AUTHORIZATION;
	if (peer != NULL && peer->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, s->peer,
		          sizeof(s->peer));
	else if (peer != NULL && peer->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, s->peer,
		          sizeof(s->peer));
	else
		strcpy(s->peer, "local");
	(void)peer_len;
	s->resume_ev = evtimer_new(s->base, session_resume_cb, s);
	s->free_ev = evtimer_new(s->base, session_free_cb, s);
	s->linger_ev = evtimer_new(s->base, session_linger_cb, s);
	session_setup_bev(s);

	if (pop3_server_session_add(server, s, s->peer, &s->slot) < 0) {
		log_warning("pop3 %s: too many connections from this address", s->peer);
		/* Not registered: destroy must not unregister it; it is freed
		 * from the event loop once the reply is out. */
		pop3_session_disconnect(s,
		                        "-ERR [SYS/TEMP] Too many connections from your address");
		return s;
	}
	s->registered = true;
	pop3_ok(s, "Floe POP3 server ready");
	return s;
}

/* ---------------------------------------------------------------------
 * Command lines
 */

static void
session_line(struct pop3_session *s, const char *line, size_t len)
{
	const struct pop3_command *cmd;
	const char *args;
	char name[8];

	if (memchr(line, '\0', len) != NULL) {
		s->sasl = POP3_SASL_NONE;
		pop3_bad(s, "Command line contains a NUL byte");
		return;
	}
	if (s->sasl != POP3_SASL_NONE) {
		pop3_sasl_continue(s, line);
		return;
	}
	if (pop3_parse_command(line, name, sizeof(name), &args) < 0 ||
	    (cmd = pop3_command_find(name)) == NULL) {
		pop3_bad(s, "Unknown command");
		return;
	}
	if ((cmd->states & s->state) == 0) {
		pop3_bad(s, "%s is not allowed %s", cmd->name,
		         s->state == POP3_STATE_AUTHORIZATION ? "before login" : "after login");
		return;
	}
	cmd->exec(s, args);
}

static void
session_process(struct pop3_session *s)
{
	size_t max_line = s->cfg->pop3.max_line_length;

	while (!s->closing && !s->busy) {
		struct evbuffer *in = bufferevent_get_input(s->bev);
		struct evbuffer_ptr eol;
		size_t eol_len = 0, len;
		char *line;

		if (s->shutdown_pending) {
			pop3_session_disconnect(s, "-ERR [SYS/TEMP] Server shutting down");
			return;
		}
		/* A client that pipelines without reading the answers waits. */
		if (pop3_session_output_pending(s) > POP3_OUTPUT_HIGH) {
			s->blocked_on_output = true;
			return;
		}
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > max_line) {
				evbuffer_drain(in, evbuffer_get_length(in));
				s->skipping = true;
			}
			return;
		}
		if (s->skipping || (size_t)eol.pos > max_line) {
			evbuffer_drain(in, (size_t)eol.pos + eol_len);
			s->skipping = false;
			s->sasl = POP3_SASL_NONE;
			pop3_bad(s, "Line too long (at most %zu bytes)", max_line);
			continue;
		}
		len = (size_t)eol.pos;
		line = xmalloc(len + 1);
		evbuffer_remove(in, line, len);
		line[len] = '\0';
		evbuffer_drain(in, eol_len);
		session_line(s, line, len);
		/* The line may hold a password. */
		explicit_bzero(line, len);
		free(line);
	}
}
