/* The IMAP session: reads the connection through the streaming parser, runs
 * one command at a time from the command table, writes responses (with
 * COMPRESS=DEFLATE when active), enforces the [imap] limits (line and
 * literal size, commands per second, bad commands in a row, autologout) and
 * frees itself safely from the event loop when the connection ends. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <zlib.h>

#include "commands.h"
#include "config.h"
#include "client-internal.h"
#include "imap-server.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

static void client_close_when_sent(struct imap_client *c);

/* ---------------------------------------------------------------------
 * Accessors
 */

enum imap_client_state
imap_client_state(const struct imap_client *c)
{
	return c->state;
}

uint64_t
imap_client_account_id(const struct imap_client *c)
{
	return c->account_id;
}

const char *
imap_client_address(const struct imap_client *c)
{
	return c->address;
}

unsigned
imap_client_enabled(const struct imap_client *c)
{
	return c->enabled;
}

void
imap_client_enable(struct imap_client *c, unsigned bits)
{
	if ((bits & IMAP_ENABLED_QRESYNC) != 0)
		bits |= IMAP_ENABLED_CONDSTORE;
	if ((bits & IMAP_ENABLED_CONDSTORE) != 0 && (c->enabled & IMAP_ENABLED_CONDSTORE) == 0 &&
	    c->view != NULL)
		imap_client_untagged(c, "OK [HIGHESTMODSEQ %llu] Highest",
		                     (unsigned long long)imap_view_highestmodseq(c->view));
	c->enabled |= bits;
	if ((bits & (IMAP_ENABLED_UTF8 | IMAP_ENABLED_REV2)) != 0)
		imap_parser_set_utf8(c->parser, true);
}

struct store *
imap_client_store(const struct imap_client *c)
{
	return imap_server_store(c->server);
}

struct event_base *
imap_client_base(const struct imap_client *c)
{
	return c->base;
}

const struct floe_config *
imap_client_config(const struct imap_client *c)
{
	return c->cfg;
}

struct imap_server *
imap_client_server(const struct imap_client *c)
{
	return c->server;
}

struct imap_view *
imap_client_view(const struct imap_client *c)
{
	return c->view;
}

const char *
imap_client_peer(const struct imap_client *c)
{
	return c->peer;
}

void
imap_client_set_slot(struct imap_client *c, size_t slot)
{
	c->slot = slot;
}

bool
imap_client_is_tls(const struct imap_client *c)
{
	return c->tls;
}

bool
imap_client_is_compressed(const struct imap_client *c)
{
	return c->zout != NULL;
}

bool
imap_client_plaintext_ok(const struct imap_client *c)
{
	return c->tls || c->cfg->imap.allow_plaintext_auth;
}

struct evbuffer *
imap_client_output(struct imap_client *c)
{
	return c->out;
}

/* ---------------------------------------------------------------------
 * Output and compression
 */

/* Bytes written but not yet handed to the kernel: in the bufferevent and,
 * after STARTTLS, in the socket bufferevent under the TLS filter. */
static size_t
client_bev_pending(const struct imap_client *c)
{
	struct bufferevent *under = bufferevent_get_underlying(c->bev);
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

size_t
imap_client_output_pending(const struct imap_client *c)
{
	return evbuffer_get_length(c->out) + client_bev_pending(c);
}

bool
imap_client_output_busy(const struct imap_client *c)
{
	return imap_client_output_pending(c) > CLIENT_OUTPUT_HIGH;
}

/* Deflates src into dst and ends with a sync flush, so that the client can
 * decode everything sent so far. */
static void
client_deflate(z_stream *z, struct evbuffer *src, struct evbuffer *dst)
{
	while (evbuffer_get_length(src) > 0) {
		size_t total = evbuffer_get_length(src);
		struct evbuffer_iovec in, outv;
		int flush;

		evbuffer_peek(src, -1, NULL, &in, 1);
		flush = in.iov_len < total ? Z_NO_FLUSH : Z_SYNC_FLUSH;
		z->next_in = in.iov_base;
		z->avail_in = (uInt)in.iov_len;
		/* Until deflate leaves output space unused, it has taken all input
		 * (and, with Z_SYNC_FLUSH, emitted everything). */
		do {
			evbuffer_reserve_space(dst, 16384, &outv, 1);
			z->next_out = outv.iov_base;
			z->avail_out = (uInt)outv.iov_len;
			deflate(z, flush);
			outv.iov_len -= z->avail_out;
			evbuffer_commit_space(dst, &outv, 1);
		} while (z->avail_out == 0);
		evbuffer_drain(src, in.iov_len);
	}
}

static void
client_flush(struct imap_client *c)
{
	if (evbuffer_get_length(c->out) == 0 || c->freeing)
		return;
	if (c->zout != NULL)
		client_deflate(c->zout, c->out, bufferevent_get_output(c->bev));
	else
		evbuffer_add_buffer(bufferevent_get_output(c->bev), c->out);
}

void
imap_client_flush(struct imap_client *c)
{
	client_flush(c);
}

/* Inflates raw input into c->inflated, keeping at most about
 * CLIENT_INFLATE_MAX there. Returns 0, or -1 for corrupt input. */
int
imap_client_inflate(struct imap_client *c)
{
	struct evbuffer *src = bufferevent_get_input(c->bev);
	struct evbuffer_iovec in, outv;
	z_stream *z = c->zin;

	while (evbuffer_get_length(c->inflated) < CLIENT_INFLATE_MAX &&
	       evbuffer_get_length(src) > 0) {
		size_t used, made;
		int ret;

		evbuffer_peek(src, -1, NULL, &in, 1);
		z->next_in = in.iov_base;
		z->avail_in = (uInt)in.iov_len;
		evbuffer_reserve_space(c->inflated, 16384, &outv, 1);
		z->next_out = outv.iov_base;
		z->avail_out = (uInt)outv.iov_len;
		ret = inflate(z, Z_SYNC_FLUSH);
		used = in.iov_len - z->avail_in;
		made = outv.iov_len - z->avail_out;
		outv.iov_len = made;
		evbuffer_commit_space(c->inflated, &outv, 1);
		evbuffer_drain(src, used);
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return -1;
		if (used == 0 && made == 0)
			break;
	}
	return 0;
}

int
imap_client_start_compress(struct imap_client *c, const char **error_r)
{
	if (c->zout != NULL) {
		*error_r = "compression already active";
		return -1;
	}
	c->zout = xcalloc(1, sizeof(*c->zout));
	c->zin = xcalloc(1, sizeof(*c->zin));
	/* RFC 4978: raw deflate without zlib header. */
	if (deflateInit2(c->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
	        Z_OK ||
	    inflateInit2(c->zin, -15) != Z_OK) {
		*error_r = "cannot initialize zlib";
		return -1;
	}
	c->inflated = evbuffer_new();
	return 0;
}

struct evbuffer *
imap_client_input(struct imap_client *c)
{
	return c->zin != NULL ? c->inflated : bufferevent_get_input(c->bev);
}

/* ---------------------------------------------------------------------
 * Connection events
 */

static void
client_schedule_free(struct imap_client *c)
{
	if (c->freeing)
		return;
	c->closing = true;
	c->freeing = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->free_ev, EV_TIMEOUT, 0);
}

void
imap_client_disconnect(struct imap_client *c, const char *bye_text)
{
	struct timeval tv = {10, 0};

	if (c->closing)
		return;
	if (bye_text != NULL)
		evbuffer_add_printf(c->out, "* BYE %s\r\n", bye_text);
	client_flush(c);
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (client_bev_pending(c) == 0) {
		client_schedule_free(c);
		return;
	}
	/* Close once the BYE is out, or after 10 s if the client stops reading. */
	c->close_after_flush = true;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_enable(c->bev, EV_WRITE);
}

void
imap_client_shutdown(struct imap_client *c)
{
	if (c->closing)
		return;
	/* Idle, or waiting for the client itself (IDLE's DONE, an AUTHENTICATE
	 * response): end it now. Otherwise after the running command. */
	if (c->cmd == NULL || c->line_fn != NULL) {
		imap_client_disconnect(c, "Server shutting down");
		return;
	}
	c->shutdown_pending = true;
}

static void
client_linger_cb(evutil_socket_t fd, short what, void *ctx)
{
	client_close_when_sent(ctx);
}

/* Frees the session once everything written is with the kernel. Under a
 * TLS filter the socket bufferevent may still hold bytes after the filter
 * has emptied; its callbacks belong to the filter, so poll briefly (the
 * write timeout bounds a client that does not read). */
static void
client_close_when_sent(struct imap_client *c)
{
	struct timeval tv = {0, 20000};

	if (client_bev_pending(c) == 0) {
		client_schedule_free(c);
		return;
	}
	if (bufferevent_get_underlying(c->bev) != NULL)
		event_add(c->linger_ev, &tv);
}

static void
client_read_cb(struct bufferevent *bev, void *ctx)
{
	imap_client_process(ctx);
}

static void
client_output_ev_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct imap_client *c = ctx;
	imap_client_output_fn *cb = c->wait_cb;

	if (c->closing || cb == NULL)
		return;
	c->wait_cb = NULL;
	cb(c->wait_ctx);
	client_flush(c);
}

static void
client_write_cb(struct bufferevent *bev, void *ctx)
{
	struct imap_client *c = ctx;

	if (c->close_after_flush) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			client_close_when_sent(c);
		return;
	}
	if (c->wait_cb != NULL && imap_client_output_pending(c) <= CLIENT_OUTPUT_LOW)
		event_active(c->output_ev, EV_TIMEOUT, 0);
	if (c->blocked_on_output && imap_client_output_pending(c) <= CLIENT_OUTPUT_LOW) {
		c->blocked_on_output = false;
		event_active(c->resume_ev, EV_TIMEOUT, 0);
	}
}

static void
client_event_cb(struct bufferevent *bev, short what, void *ctx)
{
	struct imap_client *c = ctx;

	if ((what & BEV_EVENT_TIMEOUT) != 0 && (what & BEV_EVENT_READING) != 0 && !c->closing) {
		log_debug("imap %s: autologout", c->peer);
		imap_client_disconnect(c, "Autologout; idle for too long");
		return;
	}
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) != 0) {
		log_debug("imap %s: connection closed%s%s%s", c->peer,
		          (what & BEV_EVENT_ERROR) != 0 ? " with an error" : "",
		          c->agent != NULL ? "; IceWarp connector " : "",
		          c->agent != NULL ? c->agent : "");
		client_schedule_free(c);
	}
}

void
imap_client_wait_output(struct imap_client *c, imap_client_output_fn *cb, void *ctx)
{
	client_flush(c);
	c->wait_cb = cb;
	c->wait_ctx = ctx;
	if (imap_client_output_pending(c) <= CLIENT_OUTPUT_LOW)
		event_active(c->output_ev, EV_TIMEOUT, 0);
}

static void
client_set_timeouts(struct imap_client *c)
{
	unsigned rd_ms = c->cfg->imap.autologout_ms, wr_ms;
	struct timeval rd, wr;

	/* autologout 0 disables it, except before authentication. */
	if (c->state == IMAP_STATE_NOT_AUTH && (rd_ms == 0 || rd_ms > CLIENT_PREAUTH_TIMEOUT_MS))
		rd_ms = CLIENT_PREAUTH_TIMEOUT_MS;
	rd.tv_sec = rd_ms / 1000;
	rd.tv_usec = (rd_ms % 1000) * 1000;
	/* A client that stops reading our output is cut after the autologout
	 * time too (at least a minute). */
	wr_ms = c->cfg->imap.autologout_ms > 60000 ? c->cfg->imap.autologout_ms : 60000;
	wr.tv_sec = wr_ms / 1000;
	wr.tv_usec = (wr_ms % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, rd_ms == 0 ? NULL : &rd, &wr);
}

static void
client_setup_bev(struct imap_client *c)
{
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb, client_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CLIENT_INPUT_MAX);
	bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_OUTPUT_LOW, 0);
	client_set_timeouts(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

int
imap_client_starttls(struct imap_client *c, const char **error_r)
{
	struct bufferevent *bev;
	SSL_CTX *ssl = imap_server_ssl(c->server);

	if (ssl == NULL) {
		*error_r = "TLS is not configured";
		return -1;
	}
	client_flush(c);
	bev = tls_bufferevent_starttls(c->bev, ssl);
	if (bev == NULL) {
		*error_r = "cannot start TLS";
		return -1;
	}
	/* The cleartext the client pipelined after STARTTLS is gone from the
	 * socket buffer (tls_bufferevent_starttls); forget any partial command
	 * the parser holds too. */
	imap_parser_reset(c->parser);
	/* The TLS filter moves all it encrypts into the socket bufferevent
	 * unless that has a high-water mark: the filter's own output then
	 * empties at once, its write callback never comes again while the
	 * socket drains, and a streamed FETCH would wait for ever. With the
	 * mark at CLIENT_OUTPUT_LOW (libevent caps the socket buffer at it
	 * exactly), the filter refills it only once it is empty, and when the
	 * filter's output empties the total pending is at most
	 * CLIENT_OUTPUT_LOW, so client_write_cb resumes the writer. */
	bufferevent_setwatermark(bufferevent_get_underlying(bev), EV_WRITE, 0, CLIENT_OUTPUT_LOW);
	c->bev = bev;
	c->tls = true;
	client_setup_bev(c);
	return 0;
}

/* ---------------------------------------------------------------------
 * Session life cycle
 */

static void
client_resume_cb(evutil_socket_t fd, short what, void *ctx)
{
	imap_client_process(ctx);
}

static void
client_destroy(struct imap_client *c)
{
	if (c->cmd != NULL) {
		struct client_cmd *cc = c->cmd;

		c->cmd = NULL;
		imap_client_cmd_free(cc);
	}
	imap_view_destroy(&c->view);
	if (c->registered)
		imap_server_client_remove(c->server, c->slot, c->peer);
	if (c->account_counted)
		imap_server_account_unref(c->server, c->account_id);
	imap_parser_destroy(&c->parser);
	free(c->agent);
	if (c->zout != NULL) {
		deflateEnd(c->zout);
		inflateEnd(c->zin);
		free(c->zout);
		free(c->zin);
		evbuffer_free(c->inflated);
	}
	evbuffer_free(c->out);
	event_free(c->resume_ev);
	event_free(c->rate_ev);
	event_free(c->output_ev);
	event_free(c->free_ev);
	event_free(c->linger_ev);
	bufferevent_free(c->bev);
	free(c->address);
	free(c);
}

void
imap_client_destroy_now(struct imap_client *c)
{
	client_destroy(c);
}

static void
client_free_cb(evutil_socket_t fd, short what, void *ctx)
{
	client_destroy(ctx);
}

struct imap_client *
imap_client_create(struct imap_server *server, struct bufferevent *bev, const struct sockaddr *peer,
                   socklen_t peer_len, bool tls)
{
	struct imap_client *c = xcalloc(1, sizeof(*c));
	struct imap_parser_settings ps;

	c->server = server;
	c->cfg = imap_server_config(server);
	c->base = imap_server_base(server);
	c->bev = bev;
	c->tls = tls;
	c->state = IMAP_STATE_NOT_AUTH;
	if (peer != NULL && peer->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, c->peer,
		          sizeof(c->peer));
	else if (peer != NULL && peer->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, c->peer,
		          sizeof(c->peer));
	else
		strcpy(c->peer, "local");
	(void)peer_len;

	memset(&ps, 0, sizeof(ps));
	ps.max_line = c->cfg->imap.max_line_length;
	/* Literal sizes are judged per command in client_literal() (NO [TOOBIG]
	 * for APPEND, BAD elsewhere), which refuses every oversized literal
	 * before its data is read; the parser itself must not refuse any. */
	ps.max_literal = UINT64_MAX;
	c->parser = imap_parser_create(&ps);
	c->out = evbuffer_new();
	c->resume_ev = evtimer_new(c->base, client_resume_cb, c);
	c->rate_ev = evtimer_new(c->base, client_resume_cb, c);
	c->output_ev = evtimer_new(c->base, client_output_ev_cb, c);
	c->free_ev = evtimer_new(c->base, client_free_cb, c);
	c->linger_ev = evtimer_new(c->base, client_linger_cb, c);
	c->tokens = c->cfg->imap.commands_per_second;
	evutil_gettimeofday(&c->token_time, NULL);
	client_setup_bev(c);

	if (imap_server_client_add(server, c, c->peer, &c->slot) < 0) {
		log_warning("imap %s: too many connections from this address", c->peer);
		imap_client_disconnect(c, "[LIMIT] Too many connections from your address");
		return c;
	}
	c->registered = true;
	evbuffer_add_printf(c->out, "* OK [CAPABILITY ");
	imap_client_write_capabilities(c);
	evbuffer_add_printf(c->out, "] Floe ready\r\n");
	client_flush(c);
	return c;
}

int
imap_client_login(struct imap_client *c, uint64_t account_id, const char *address,
                  const char **error_r)
{
	if (imap_server_account_ref(c->server, account_id) < 0) {
		*error_r = "[LIMIT] Too many connections for this account";
		return -1;
	}
	c->account_counted = true;
	c->account_id = account_id;
	c->address = xstrdup(address);
	c->state = IMAP_STATE_AUTH;
	client_set_timeouts(c);
	return 0;
}

void
imap_client_set_view(struct imap_client *c, struct imap_view *view)
{
	imap_view_destroy(&c->view);
	c->view = view;
	c->selected_changed = false;
	if (c->state == IMAP_STATE_AUTH || c->state == IMAP_STATE_SELECTED)
		c->state = view != NULL ? IMAP_STATE_SELECTED : IMAP_STATE_AUTH;
}

void
imap_client_changed(struct imap_client *c, uint64_t folder_id)
{
	if (c->view != NULL && imap_view_folder_id(c->view) == folder_id)
		c->selected_changed = true;
}

const char *
imap_client_agent(const struct imap_client *c)
{
	return c->agent;
}

void
imap_client_set_agent(struct imap_client *c, const char *agent, size_t len)
{
	free(c->agent);
	c->agent = xstrndup(agent, len);
}

char *
imap_client_capabilities(const struct imap_client *c)
{
	struct evbuffer *out = evbuffer_new();
	size_t len;
	char *text;

	evbuffer_add_printf(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE "
	                         "UIDPLUS MOVE UNSELECT CONDSTORE QRESYNC ESEARCH SEARCHRES "
	                         "LIST-EXTENDED LIST-STATUS SPECIAL-USE CHILDREN");
	if (c->zout == NULL)
		evbuffer_add_printf(out, " COMPRESS=DEFLATE");
	evbuffer_add_printf(out,
	                    " STATUS=SIZE APPENDLIMIT=%zu MULTIAPPEND SORT OBJECTID BINARY "
	                    "UTF8=ACCEPT ACL RIGHTS=texk METADATA METADATA-SERVER",
	                    c->cfg->imap.max_literal_size);
	if (c->state == IMAP_STATE_NOT_AUTH) {
		if (!c->tls && imap_server_ssl(c->server) != NULL)
			evbuffer_add_printf(out, " STARTTLS");
		if (imap_client_plaintext_ok(c))
			evbuffer_add_printf(out, " AUTH=PLAIN AUTH=LOGIN");
		else
			evbuffer_add_printf(out, " LOGINDISABLED");
	} else {
		/* Groupware, once logged in (IceWarp's client sends
		 * X-ICEWARP-SERVER after LOGIN): IceWarp's marker, multi-mailbox
		 * search under both names its client looks for, and LIST's
		 * METADATA option (RFC 9590). */
		evbuffer_add_printf(out, " X-ICEWARP-SERVER MULTISEARCH MSEARCH LIST-METADATA");
	}
	len = evbuffer_get_length(out);
	text = xmalloc(len + 1);
	evbuffer_remove(out, text, len);
	text[len] = '\0';
	evbuffer_free(out);
	return text;
}

void
imap_client_write_capabilities(struct imap_client *c)
{
	char *text = imap_client_capabilities(c);

	evbuffer_add(c->out, text, strlen(text));
	free(text);
}
