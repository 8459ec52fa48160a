/* The outgoing SMTP session (see smtp-client.h): a state machine driven by
 * complete replies read from a bufferevent. Commands are sent one at a
 * time (no pipelining: a queue runner's sessions are few and short), each
 * with its read timeout; the message goes out as one dot-stuffed buffer
 * under the data-block write timeout. */
#include "smtp-client.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "xmalloc.h"

/* Longest reply accepted (all lines). */
#define REPLY_MAX (64 * 1024)
#define TEXT_MAX  4096
/* How long to wait for the answer to QUIT once the results are known. */
#define QUIT_TIMEOUT_MS 10000

enum cstate {
	S_CONNECT,
	S_GREETING,
	S_EHLO,
	S_HELO,
	S_STARTTLS,
	S_HANDSHAKE,
	S_AUTH,
	S_AUTH_USER,
	S_AUTH_PASS,
	S_MAIL,
	S_RCPT,
	S_DATA,
	S_DATA_END,
	S_QUIT,
	S_DONE,
};

struct smtp_client {
	struct event_base *base;
	SSL_CTX *ssl;
	struct smtp_client_settings set;
	char *helo, *user, *password, *server_name;
	struct bufferevent *bev;
	enum cstate state;
	bool tls;
	bool ext_starttls, ext_8bit, ext_utf8, auth_plain, auth_login;
	size_t ext_size_max; /* 0: no SIZE limit announced */
	bool ext_size;

	char *mail_from;
	char **rcpts;
	size_t nrcpts, rcpt_i, accepted;
	int *codes;
	char **texts;
	unsigned char *data;
	size_t size;

	bool session_failed, try_next;
	struct event *finish_ev;
	smtp_client_cb *cb;
	void *ctx;
};

/* ---------------------------------------------------------------------
 * Pure helpers
 */

void
smtp_client_stuff(struct evbuffer *out, const void *data, size_t size)
{
	const unsigned char *p = data;
	size_t start = 0;
	bool bol = true;

	for (size_t i = 0; i < size; i++) {
		if (bol && p[i] == '.') {
			/* Flush up to here, then double the dot. */
			evbuffer_add(out, p + start, i - start);
			evbuffer_add(out, ".", 1);
			start = i;
		}
		bol = false;
		if (p[i] == '\n') {
			size_t end = i;

			if (end > start && p[end - 1] == '\r')
				end--;
			evbuffer_add(out, p + start, end - start);
			evbuffer_add(out, "\r\n", 2);
			start = i + 1;
			bol = true;
		}
	}
	evbuffer_add(out, p + start, size - start);
	if (!bol)
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
}

long
smtp_client_parse_reply(const char *buf, size_t len, size_t max_len, int *code_r, char *text,
                        size_t size)
{
	size_t pos = 0, tlen = 0;
	int code = -1;

	if (size > 0)
		text[0] = '\0';
	for (;;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end, llen;
		int lcode;

		if (nl == NULL)
			return len - pos > max_len || len > max_len ? -1 : 0;
		end = (size_t)(nl - buf);
		llen = end - pos;
		if (llen > 0 && buf[end - 1] == '\r')
			llen--;
		if (llen < 3 || !isdigit((unsigned char)buf[pos]) ||
		    !isdigit((unsigned char)buf[pos + 1]) || !isdigit((unsigned char)buf[pos + 2]))
			return -1;
		lcode = (buf[pos] - '0') * 100 + (buf[pos + 1] - '0') * 10 + (buf[pos + 2] - '0');
		if (lcode < 200 || lcode > 599 || (code >= 0 && lcode != code))
			return -1;
		code = lcode;
		if (llen > 3 && buf[pos + 3] != '-' && buf[pos + 3] != ' ')
			return -1;
		if (llen > 4) {
			size_t n = llen - 4;

			if (tlen > 0 && tlen + 1 < size)
				text[tlen++] = '\n';
			if (tlen + n >= size)
				n = size > tlen + 1 ? size - tlen - 1 : 0;
			memcpy(text + tlen, buf + pos + 4, n);
			tlen += n;
			if (size > 0)
				text[tlen] = '\0';
		}
		if (end + 1 > max_len)
			return -1;
		if (llen == 3 || buf[pos + 3] == ' ') {
			*code_r = code;
			return (long)(end + 1);
		}
		pos = end + 1;
	}
}

SSL_CTX *
smtp_client_ssl_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_default_verify_paths(ctx);
	return ctx;
}

/* ---------------------------------------------------------------------
 * Finishing
 */

static void
client_free(struct smtp_client *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->finish_ev != NULL)
		event_free(c->finish_ev);
	for (size_t i = 0; i < c->nrcpts; i++) {
		free(c->rcpts[i]);
		free(c->texts[i]);
	}
	free(c->rcpts);
	free(c->texts);
	free(c->codes);
	free(c->mail_from);
	free(c->helo);
	free(c->user);
	if (c->password != NULL) {
		OPENSSL_cleanse(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->server_name);
	free(c->data);
	free(c);
}

static void
client_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;
	struct smtp_client_result res = {
	    .session_failed = c->session_failed,
	    .try_next = c->try_next,
	    .tls = c->tls,
	    .server_name = c->server_name,
	    .codes = c->codes,
	    .texts = (const char *const *)c->texts,
	    .nrcpts = c->nrcpts,
	};

	c->cb(&res, c->ctx);
	client_free(c);
}

/* The results are complete: hand them over from a fresh loop iteration. */
static void
client_finish(struct smtp_client *c)
{
	if (c->state == S_DONE)
		return;
	c->state = S_DONE;
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	c->finish_ev = evtimer_new(c->base, client_finish_cb, c);
	event_active(c->finish_ev, EV_TIMEOUT, 0);
}

static void
set_result(struct smtp_client *c, size_t i, int code, const char *text)
{
	free(c->texts[i]);
	c->codes[i] = code;
	c->texts[i] = xstrdup(text);
}

/* The whole session failed with code/text: every recipient not already
 * refused by its own RCPT reply gets it. */
static void
client_fail(struct smtp_client *c, int code, const char *text)
{
	bool before_rcpt = c->state < S_RCPT;

	for (size_t i = 0; i < c->nrcpts; i++) {
		if (c->codes[i] == 0 || (c->codes[i] >= 200 && c->codes[i] < 300))
			set_result(c, i, code, text);
	}
	c->session_failed = before_rcpt;
	/* Another server may help unless this one refused the sender. */
	c->try_next = c->state < S_MAIL || code == 421;
	if (c->state == S_MAIL && code != 421)
		c->try_next = false;
	log_info("queue: %s: %d %s", c->server_name, code, text);
	client_finish(c);
}

/* ---------------------------------------------------------------------
 * Sending
 */

static void
client_timeouts(struct smtp_client *c, unsigned read_ms, unsigned write_ms)
{
	struct timeval r = {read_ms / 1000, (read_ms % 1000) * 1000};
	struct timeval w = {write_ms / 1000, (write_ms % 1000) * 1000};

	bufferevent_set_timeouts(c->bev, read_ms > 0 ? &r : NULL, write_ms > 0 ? &w : NULL);
}

static void __attribute__((format(printf, 3, 4)))
client_send(struct smtp_client *c, enum cstate next, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(c->bev), "\r\n", 2);
	c->state = next;
	client_timeouts(c, next == S_QUIT ? QUIT_TIMEOUT_MS : c->set.command_timeout_ms,
	                c->set.command_timeout_ms);
}

static char *
b64(const void *data, size_t len)
{
	size_t outlen = 4 * ((len + 2) / 3) + 1;
	char *out = xmalloc(outlen);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

static bool
needs_8bit(const unsigned char *data, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (data[i] >= 0x80)
			return true;
	}
	return false;
}

static bool
has_utf8(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return true;
	}
	return false;
}

static void
send_mail(struct smtp_client *c)
{
	char params[128] = "";
	bool utf8 = has_utf8(c->mail_from);

	if (c->ext_size_max > 0 && c->size > c->ext_size_max) {
		char text[128];

		snprintf(text, sizeof(text), "5.3.4 message too big for %s (limit %zu bytes)",
		         c->server_name, c->ext_size_max);
		c->state = S_MAIL;
		client_fail(c, 552, text);
		return;
	}
	for (size_t i = 0; i < c->nrcpts; i++)
		utf8 = utf8 || has_utf8(c->rcpts[i]);
	if (c->ext_size)
		snprintf(params + strlen(params), sizeof(params) - strlen(params), " SIZE=%zu",
		         c->size);
	if (c->ext_8bit && needs_8bit(c->data, c->size))
		snprintf(params + strlen(params), sizeof(params) - strlen(params),
		         " BODY=8BITMIME");
	if (utf8 && c->ext_utf8)
		snprintf(params + strlen(params), sizeof(params) - strlen(params), " SMTPUTF8");
	client_send(c, S_MAIL, "MAIL FROM:<%s>%s", c->mail_from, params);
}

static void
send_auth_or_mail(struct smtp_client *c)
{
	if (c->user == NULL) {
		send_mail(c);
		return;
	}
	if (!c->tls) {
		client_fail(c, 451, "4.7.0 not sending credentials over an unencrypted connection");
		return;
	}
	if (c->auth_plain) {
		size_t ul = strlen(c->user), pl = strlen(c->password);
		char *msg = xmalloc(ul + pl + 2), *enc;

		msg[0] = '\0';
		memcpy(msg + 1, c->user, ul);
		msg[1 + ul] = '\0';
		memcpy(msg + 2 + ul, c->password, pl);
		enc = b64(msg, ul + pl + 2);
		OPENSSL_cleanse(msg, ul + pl + 2);
		free(msg);
		client_send(c, S_AUTH, "AUTH PLAIN %s", enc);
		OPENSSL_cleanse(enc, strlen(enc));
		free(enc);
	} else if (c->auth_login) {
		client_send(c, S_AUTH_USER, "AUTH LOGIN");
	} else {
		client_fail(c, 451, "4.7.0 the server offers no usable AUTH mechanism");
	}
}

/* Reads the EHLO reply's extension lines (after the first). */
static void
parse_ehlo(struct smtp_client *c, const char *text)
{
	const char *line = strchr(text, '\n');

	c->ext_starttls = c->ext_8bit = c->ext_utf8 = c->ext_size = false;
	c->auth_plain = c->auth_login = false;
	c->ext_size_max = 0;
	while (line != NULL) {
		const char *next = strchr(++line, '\n');
		size_t len = next != NULL ? (size_t)(next - line) : strlen(line);
		char word[512];

		if (len >= sizeof(word))
			len = sizeof(word) - 1;
		memcpy(word, line, len);
		word[len] = '\0';
		if (strcasecmp(word, "STARTTLS") == 0) {
			c->ext_starttls = true;
		} else if (strcasecmp(word, "8BITMIME") == 0) {
			c->ext_8bit = true;
		} else if (strcasecmp(word, "SMTPUTF8") == 0) {
			c->ext_utf8 = true;
		} else if (strncasecmp(word, "SIZE", 4) == 0 &&
		           (word[4] == '\0' || word[4] == ' ')) {
			c->ext_size = true;
			c->ext_size_max = word[4] == ' ' ? strtoul(word + 5, NULL, 10) : 0;
		} else if (strncasecmp(word, "AUTH", 4) == 0 &&
		           (word[4] == ' ' || word[4] == '=')) {
			char *save = NULL, *tok;

			for (tok = strtok_r(word + 5, " ", &save); tok != NULL;
			     tok = strtok_r(NULL, " ", &save)) {
				if (strcasecmp(tok, "PLAIN") == 0)
					c->auth_plain = true;
				else if (strcasecmp(tok, "LOGIN") == 0)
					c->auth_login = true;
			}
		}
		line = next;
	}
}

/* ---------------------------------------------------------------------
 * Replies
 */

static void client_event_cb(struct bufferevent *bev, short what, void *arg);
static void client_read_cb(struct bufferevent *bev, void *arg);

static void
start_tls(struct smtp_client *c)
{
	SSL *ssl = SSL_new(c->ssl);
	struct bufferevent *bev;

	if (ssl == NULL) {
		client_fail(c, 451, "4.7.0 cannot set up TLS");
		return;
	}
	SSL_set_tlsext_host_name(ssl, c->server_name);
	if (c->set.tls_verify && c->set.tls != SMTP_CLIENT_TLS_OPPORTUNISTIC) {
		struct in6_addr a6;
		struct in_addr a4;

		if (inet_pton(AF_INET, c->server_name, &a4) == 1 ||
		    inet_pton(AF_INET6, c->server_name, &a6) == 1)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c->server_name);
		else
			SSL_set1_host(ssl, c->server_name);
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	}
	bev = bufferevent_openssl_filter_new(c->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
	                                     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		client_fail(c, 451, "4.7.0 cannot set up TLS");
		return;
	}
	c->bev = bev;
	c->state = S_HANDSHAKE;
	bufferevent_setcb(bev, client_read_cb, NULL, client_event_cb, c);
	client_timeouts(c, c->set.connect_timeout_ms, c->set.connect_timeout_ms);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
after_ehlo(struct smtp_client *c)
{
	if (!c->tls && c->set.tls != SMTP_CLIENT_TLS_OFF && c->ext_starttls && c->ssl != NULL) {
		client_send(c, S_STARTTLS, "STARTTLS");
		return;
	}
	if (!c->tls &&
	    (c->set.tls == SMTP_CLIENT_TLS_REQUIRED || c->set.tls == SMTP_CLIENT_TLS_IMPLICIT)) {
		client_fail(c, 451, "4.7.0 TLS is required but the server does not offer STARTTLS");
		return;
	}
	send_auth_or_mail(c);
}

static void
client_reply(struct smtp_client *c, int code, const char *text)
{
	char line[TEXT_MAX + 16];

	switch (c->state) {
	case S_GREETING:
		if (code != 220)
			break;
		client_send(c, S_EHLO, "EHLO %s", c->helo);
		return;
	case S_EHLO:
		if (code == 250) {
			parse_ehlo(c, text);
			after_ehlo(c);
		} else if (code >= 500 && code != 554) {
			client_send(c, S_HELO, "HELO %s", c->helo);
		} else {
			break;
		}
		return;
	case S_HELO:
		if (code != 250)
			break;
		c->ext_starttls = c->ext_8bit = c->ext_utf8 = c->ext_size = false;
		c->auth_plain = c->auth_login = false;
		after_ehlo(c);
		return;
	case S_STARTTLS:
		if (code == 220) {
			start_tls(c);
		} else if (c->set.tls == SMTP_CLIENT_TLS_REQUIRED) {
			break;
		} else {
			send_auth_or_mail(c);
		}
		return;
	case S_AUTH:
		if (code != 235)
			break;
		send_mail(c);
		return;
	case S_AUTH_USER:
	case S_AUTH_PASS: {
		char *enc;

		if (code != 334)
			break;
		enc = c->state == S_AUTH_USER ? b64(c->user, strlen(c->user))
		                              : b64(c->password, strlen(c->password));
		client_send(c, c->state == S_AUTH_USER ? S_AUTH_PASS : S_AUTH, "%s", enc);
		OPENSSL_cleanse(enc, strlen(enc));
		free(enc);
		return;
	}
	case S_MAIL:
		if (code != 250)
			break;
		c->rcpt_i = 0;
		client_send(c, S_RCPT, "RCPT TO:<%s>", c->rcpts[0]);
		return;
	case S_RCPT:
		if (code == 421)
			break;
		set_result(c, c->rcpt_i, code, text);
		if (code >= 200 && code < 300)
			c->accepted++;
		if (++c->rcpt_i < c->nrcpts) {
			client_send(c, S_RCPT, "RCPT TO:<%s>", c->rcpts[c->rcpt_i]);
		} else if (c->accepted > 0) {
			client_send(c, S_DATA, "DATA");
		} else {
			client_send(c, S_QUIT, "QUIT");
		}
		return;
	case S_DATA:
		if (code != 354) {
			if (code == 421)
				break;
			for (size_t i = 0; i < c->nrcpts; i++) {
				if (c->codes[i] >= 200 && c->codes[i] < 300)
					set_result(c, i, code, text);
			}
			client_send(c, S_QUIT, "QUIT");
			return;
		}
		smtp_client_stuff(bufferevent_get_output(c->bev), c->data, c->size);
		c->state = S_DATA_END;
		client_timeouts(c, c->set.data_end_timeout_ms, c->set.data_block_timeout_ms);
		return;
	case S_DATA_END:
		for (size_t i = 0; i < c->nrcpts; i++) {
			if (c->codes[i] >= 200 && c->codes[i] < 300)
				set_result(c, i, code, text);
		}
		log_info("queue: %s: message %s: %d %s", c->server_name,
		         code >= 200 && code < 300 ? "accepted" : "refused", code, text);
		client_send(c, S_QUIT, "QUIT");
		return;
	case S_QUIT:
		client_finish(c);
		return;
	case S_CONNECT:
	case S_HANDSHAKE:
	case S_DONE:
		/* Nothing was asked: a server talking out of turn. */
		client_fail(c, 451, "4.5.0 unexpected reply from the server");
		return;
	}
	/* The reply ends the session: keep it, with the code in front of
	 * a text that lacks one. */
	snprintf(line, sizeof(line), "%s", text);
	for (char *p = line; *p != '\0'; p++) {
		if (*p == '\n')
			*p = ' ';
	}
	client_fail(c, code, line);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *text = xmalloc(TEXT_MAX);

	while (c->state != S_DONE && evbuffer_get_length(in) > 0) {
		size_t len = evbuffer_get_length(in);
		const char *buf;
		long n;
		int code;

		if (len > REPLY_MAX + 1)
			len = REPLY_MAX + 1;
		buf = (const char *)evbuffer_pullup(in, (ssize_t)len);
		n = smtp_client_parse_reply(buf, len, REPLY_MAX, &code, text, TEXT_MAX);
		if (n == 0)
			break;
		if (n < 0) {
			client_fail(c, 451, "4.5.0 malformed reply from the server");
			break;
		}
		evbuffer_drain(in, (size_t)n);
		client_reply(c, code, text);
	}
	free(text);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;
	char text[512];

	if ((what & BEV_EVENT_CONNECTED) != 0) {
		if (c->state == S_HANDSHAKE) {
			c->tls = true;
			client_send(c, S_EHLO, "EHLO %s", c->helo);
		} else if (c->state == S_CONNECT) {
			c->tls = c->set.tls == SMTP_CLIENT_TLS_IMPLICIT;
			c->state = S_GREETING;
			client_timeouts(c, c->set.command_timeout_ms, c->set.command_timeout_ms);
		}
		return;
	}
	if (c->state == S_QUIT) {
		client_finish(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) != 0) {
		snprintf(text, sizeof(text), "4.4.2 timeout waiting for %s",
		         c->state == S_DATA_END ? "the reply to the message" : "the server");
	} else if (c->state == S_CONNECT || c->state == S_HANDSHAKE) {
		unsigned long err = bufferevent_get_openssl_error(bev);

		if (err != 0)
			snprintf(text, sizeof(text), "4.7.0 TLS with %s failed: %s", c->server_name,
			         ERR_reason_error_string(err) != NULL ? ERR_reason_error_string(err)
			                                              : "handshake error");
		else
			snprintf(text, sizeof(text), "4.4.1 cannot connect to %s: %s",
			         c->server_name,
			         (what & BEV_EVENT_ERROR) != 0
			             ? evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR())
			             : "connection closed");
	} else {
		snprintf(text, sizeof(text), "4.4.2 connection to %s lost", c->server_name);
	}
	client_fail(c, 451, text);
}

/* ---------------------------------------------------------------------
 * API
 */

struct smtp_client *
smtp_client_start(struct event_base *base, SSL_CTX *ssl, const struct smtp_client_settings *set,
                  const char *server_name, const struct sockaddr *addr, socklen_t addr_len,
                  const char *mail_from, const char *const *rcpts, size_t nrcpts, const void *data,
                  size_t size, smtp_client_cb *cb, void *ctx)
{
	struct smtp_client *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->ssl = ssl;
	c->set = *set;
	c->helo = xstrdup(set->helo);
	c->user = set->user != NULL && set->user[0] != '\0' ? xstrdup(set->user) : NULL;
	c->password = c->user != NULL ? xstrdup(set->password != NULL ? set->password : "") : NULL;
	c->server_name = xstrdup(server_name);
	c->mail_from = xstrdup(mail_from);
	c->nrcpts = nrcpts;
	c->rcpts = xcalloc(nrcpts + 1, sizeof(*c->rcpts));
	c->texts = xcalloc(nrcpts + 1, sizeof(*c->texts));
	c->codes = xcalloc(nrcpts + 1, sizeof(*c->codes));
	for (size_t i = 0; i < nrcpts; i++)
		c->rcpts[i] = xstrdup(rcpts[i]);
	c->data = xmalloc(size + 1);
	memcpy(c->data, data, size);
	c->size = size;
	c->cb = cb;
	c->ctx = ctx;
	c->state = S_CONNECT;

	if (nrcpts == 0) {
		c->state = S_DONE;
		c->finish_ev = evtimer_new(base, client_finish_cb, c);
		event_active(c->finish_ev, EV_TIMEOUT, 0);
		return c;
	}
	if (set->tls == SMTP_CLIENT_TLS_IMPLICIT) {
		SSL *s = ssl != NULL ? SSL_new(ssl) : NULL;

		if (s != NULL) {
			SSL_set_tlsext_host_name(s, server_name);
			if (set->tls_verify) {
				struct in6_addr a6;
				struct in_addr a4;

				if (inet_pton(AF_INET, server_name, &a4) == 1 ||
				    inet_pton(AF_INET6, server_name, &a6) == 1)
					X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s),
					                              server_name);
				else
					SSL_set1_host(s, server_name);
				SSL_set_verify(s, SSL_VERIFY_PEER, NULL);
			}
			c->bev = bufferevent_openssl_socket_new(
			    base, -1, s, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
			if (c->bev == NULL)
				SSL_free(s);
		}
	} else {
		c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (c->bev == NULL) {
		client_fail(c, 451, "4.3.0 cannot create a connection");
		return c;
	}
	bufferevent_setcb(c->bev, client_read_cb, NULL, client_event_cb, c);
	client_timeouts(c, c->set.connect_timeout_ms, c->set.connect_timeout_ms);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, addr, (int)addr_len) < 0) {
		char text[300];

		snprintf(text, sizeof(text), "4.4.1 cannot connect to %s: %s", server_name,
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		client_fail(c, 451, text);
	}
	return c;
}

void
smtp_client_abandon(struct smtp_client **cp)
{
	if (*cp == NULL)
		return;
	client_free(*cp);
	*cp = NULL;
}
