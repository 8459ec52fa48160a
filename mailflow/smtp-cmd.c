/* The submission commands, one function each, in one table: EHLO/HELO,
 * STARTTLS, AUTH (PLAIN, LOGIN; only over TLS), MAIL (sender checked
 * against the account, rate limit), RCPT (local addresses resolved),
 * DATA, RSET, NOOP, QUIT, HELP, VRFY, and clear refusals for the rest. */
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "delivery.h"
#include "log.h"
#include "password.h"
#include "smtp-parse.h"
#include "smtp-private.h"
#include "store-queue.h"
#include "xmalloc.h"

struct smtp_command_def {
	const char *name;
	void (*exec)(struct smtp_session *s, const char *args);
};

/* ---------------------------------------------------------------------
 * Helpers
 */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Checks the ESMTP parameters of MAIL FROM; returns 0, or -1 after
 * replying. */
static int
mail_params(struct smtp_session *s, const char *p)
{
	const struct floe_config *cfg = smtp_server_config(s->server);
	struct smtp_mail_params params;
	char error[128];

	if (smtp_parse_mail_params(p, true, &params, error, sizeof(error)) < 0) {
		smtp_reply_error(s, "%s", error);
		return -1;
	}
	if (params.have_size && params.size > cfg->smtp.max_message_size) {
		smtp_reply(s, "552 5.3.4 Message size exceeds the limit of %zu bytes",
		           cfg->smtp.max_message_size);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * EHLO, HELO, STARTTLS
 */

static void
cmd_ehlo(struct smtp_session *s, const char *args)
{
	const struct floe_config *cfg = smtp_server_config(s->server);
	bool starttls = !s->tls && smtp_server_ssl(s->server) != NULL;

	if (*args == '\0') {
		smtp_reply_error(s, "501 5.5.4 Syntax: EHLO hostname");
		return;
	}
	free(s->helo);
	s->helo = xstrndup(args, 255);
	s->esmtp = true;
	smtp_session_reset(s);
	smtp_reply(s, "250-%s Hello %s [%s]", smtp_server_hostname(s->server), s->helo, s->peer);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %zu", cfg->smtp.max_message_size);
	smtp_reply(s, "250-8BITMIME");
	if (starttls)
		smtp_reply(s, "250-STARTTLS");
	if (s->tls && !s->authenticated)
		smtp_reply(s, "250-AUTH PLAIN LOGIN");
	smtp_reply(s, "250 ENHANCEDSTATUSCODES");
}

static void
cmd_helo(struct smtp_session *s, const char *args)
{
	if (*args == '\0') {
		smtp_reply_error(s, "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	free(s->helo);
	s->helo = xstrndup(args, 255);
	s->esmtp = false;
	smtp_session_reset(s);
	smtp_reply(s, "250 %s", smtp_server_hostname(s->server));
}

static void
cmd_starttls(struct smtp_session *s, const char *args)
{
	const char *error;

	if (*args != '\0') {
		smtp_reply_error(s, "501 5.5.4 Syntax: STARTTLS");
	} else if (s->tls) {
		smtp_reply_error(s, "503 5.5.1 TLS already active");
	} else if (smtp_server_ssl(s->server) == NULL) {
		smtp_reply(s, "454 4.7.0 TLS not available: no certificate is configured");
	} else {
		smtp_reply(s, "220 2.0.0 Ready to start TLS");
		if (smtp_session_starttls(s, &error) < 0) {
			log_warning("smtp %s: STARTTLS failed: %s", s->peer, error);
			smtp_session_close(s, NULL);
		}
	}
}

/* ---------------------------------------------------------------------
 * AUTH
 */

static void
auth_done(enum auth_result result, const struct auth_user *user, const char *error, void *ctx)
{
	struct smtp_session *s = ctx;

	s->auth_req = NULL;
	switch (result) {
	case AUTH_OK:
		s->authenticated = true;
		s->account_id = user->account_id;
		free(s->address);
		s->address = xstrdup(user->address);
		log_info("smtp %s: %s logged in", s->peer, user->address);
		smtp_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTH_FAILED:
		smtp_reply_error(s, "535 5.7.8 Authentication credentials invalid");
		break;
	case AUTH_DISABLED:
		smtp_reply_error(s, "535 5.7.8 Account disabled");
		break;
	case AUTH_LOCKED:
		smtp_reply_error(s, "454 4.7.0 Too many failed logins; try again later");
		break;
	case AUTH_TEMPFAIL:
		log_warning("smtp %s: authentication unavailable: %s", s->peer, error);
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
		break;
	}
	smtp_session_resume(s);
}

static void
auth_start(struct smtp_session *s, const char *login, const char *password)
{
	s->state = SMTP_BUSY;
	s->auth_req = auth_password(smtp_server_auth(s->server), login, password, s->peer, "smtp",
	                            auth_done, s);
}

/* The PLAIN response (base64 of authzid NUL authcid NUL passwd). */
static void
auth_plain(struct smtp_session *s, const char *text)
{
	struct auth_credentials creds;
	const char *error;
	bool bad_base64;

	s->state = SMTP_CMD;
	if (auth_sasl_plain_response(text, strlen(text), &creds, &bad_base64, &error) < 0) {
		if (bad_base64)
			smtp_reply_error(s, "501 5.5.2 Cannot decode the response: %s", error);
		else
			smtp_reply_error(s, "501 5.5.2 %s", error);
		return;
	}
	auth_start(s, creds.login, creds.password);
	auth_credentials_clear(&creds);
}

static void
cmd_auth(struct smtp_session *s, const char *args)
{
	char mech[32];
	const char *initial;
	size_t n = 0;

	if (!s->tls) {
		smtp_reply_error(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (s->authenticated) {
		smtp_reply_error(s, "503 5.5.1 Already authenticated");
		return;
	}
	if (s->mail) {
		smtp_reply_error(s, "503 5.5.1 AUTH not allowed during a mail transaction");
		return;
	}
	while (args[n] != '\0' && !is_blank(args[n]) && n + 1 < sizeof(mech))
		n++;
	memcpy(mech, args, n);
	mech[n] = '\0';
	initial = args + n;
	while (is_blank(*initial))
		initial++;
	if (strcasecmp(mech, "PLAIN") == 0) {
		if (*initial == '\0') {
			s->state = SMTP_AUTH_PLAIN;
			smtp_reply(s, "334 ");
		} else {
			/* "=" is an empty initial response (RFC 4954 4). */
			auth_plain(s, strcmp(initial, "=") == 0 ? "" : initial);
		}
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		if (*initial == '\0') {
			s->state = SMTP_AUTH_USER;
			smtp_reply(s, "334 " AUTH_SASL_LOGIN_USERNAME);
		} else {
			s->state = SMTP_AUTH_USER;
			smtp_auth_response(s, (char *)initial);
		}
	} else if (mech[0] == '\0') {
		smtp_reply_error(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
	} else {
		smtp_reply_error(
		    s, "504 5.5.4 Unrecognized authentication mechanism; use PLAIN or LOGIN");
	}
}

void
smtp_auth_response(struct smtp_session *s, char *line)
{
	const char *error;
	char *value;

	if (strcmp(line, "*") == 0) {
		s->state = SMTP_CMD;
		xfree_ptr(&s->auth_login);
		smtp_reply_error(s, "501 5.0.0 Authentication cancelled");
		return;
	}
	switch (s->state) {
	case SMTP_AUTH_PLAIN:
		auth_plain(s, line);
		return;
	case SMTP_AUTH_USER:
		if (auth_sasl_login_decode(line, strlen(line), AUTH_LOGIN_MAX, &value, &error) <
		    0) {
			s->state = SMTP_CMD;
			smtp_reply_error(s, "501 5.5.2 %s", error);
			return;
		}
		free(s->auth_login);
		s->auth_login = value;
		s->state = SMTP_AUTH_PASS;
		smtp_reply(s, "334 " AUTH_SASL_LOGIN_PASSWORD);
		return;
	case SMTP_AUTH_PASS:
		if (auth_sasl_login_decode(line, strlen(line), PASSWORD_MAX_LENGTH, &value,
		                           &error) < 0) {
			s->state = SMTP_CMD;
			xfree_ptr(&s->auth_login);
			smtp_reply_error(s, "501 5.5.2 %s", error);
			return;
		}
		auth_start(s, s->auth_login, value);
		explicit_bzero(value, strlen(value));
		free(value);
		explicit_bzero(s->auth_login, strlen(s->auth_login));
		xfree_ptr(&s->auth_login);
		return;
	default:
		s->state = SMTP_CMD;
		return;
	}
}

/* ---------------------------------------------------------------------
 * MAIL, RCPT
 */

static void
mail_rate_done(bool allowed, const char *error, void *ctx)
{
	struct smtp_session *s = ctx;

	s->sop = NULL;
	if (error != NULL) {
		log_warning("smtp %s: rate limit check failed: %s", s->peer, error);
		xfree_ptr(&s->mail_from);
		smtp_reply(s, "451 4.3.0 Temporary server failure; try again later");
	} else if (!allowed) {
		log_info("smtp %s: %s is over its limit of %u messages per hour", s->peer,
		         s->address, smtp_server_config(s->server)->smtp.messages_per_hour);
		xfree_ptr(&s->mail_from);
		smtp_reply(s, "450 4.7.1 Too many messages sent in the last hour; try again later");
	} else {
		s->mail = true;
		smtp_reply(s, "250 2.1.0 Sender OK");
	}
	smtp_session_resume(s);
}

static void
mail_allowed(bool allowed, const char *error, void *ctx)
{
	struct smtp_session *s = ctx;
	unsigned limit = smtp_server_config(s->server)->smtp.messages_per_hour;

	s->dop = NULL;
	if (error != NULL) {
		log_warning("smtp %s: cannot check sender <%s>: %s", s->peer, s->mail_from, error);
		xfree_ptr(&s->mail_from);
		smtp_reply(s, "451 4.3.0 Temporary server failure; try again later");
	} else if (!allowed) {
		log_info("smtp %s: %s may not send as <%s>", s->peer, s->address, s->mail_from);
		smtp_reply(s, "553 5.7.1 Sender address <%s> not allowed for %s", s->mail_from,
		           s->address);
		xfree_ptr(&s->mail_from);
	} else if (limit > 0) {
		s->sop = store_smtp_rate_take(smtp_server_db(s->server), s->account_id, limit,
		                              mail_rate_done, s);
		return;
	} else {
		s->mail = true;
		smtp_reply(s, "250 2.1.0 Sender OK");
	}
	smtp_session_resume(s);
}

static void
cmd_mail(struct smtp_session *s, const char *args)
{
	const char *p = args, *error;
	char *from;

	if (strncasecmp(p, "FROM:", 5) != 0) {
		smtp_reply_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	p += 5;
	if (!s->authenticated) {
		smtp_reply_error(s, "530 5.7.0 Authentication required");
		return;
	}
	if (s->helo == NULL) {
		smtp_reply_error(s, "503 5.5.1 Send EHLO first");
		return;
	}
	if (s->mail) {
		smtp_reply_error(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	if ((from = smtp_parse_path(&p, true, &error)) == NULL) {
		smtp_reply_error(s, "501 5.1.7 Bad sender address syntax: %s", error);
		return;
	}
	if (mail_params(s, p) < 0) {
		free(from);
		return;
	}
	if (from[0] == '\0') {
		/* A person submitting never sends as the null sender. */
		free(from);
		smtp_reply(s, "553 5.7.1 The null sender is not allowed for submission");
		return;
	}
	s->mail_from = from;
	s->state = SMTP_BUSY;
	s->dop = delivery_sender_allowed(smtp_server_delivery(s->server), s->account_id, from,
	                                 mail_allowed, s);
}

static void
rcpt_resolved(const struct delivery_addr *addr, const char *error, void *ctx)
{
	struct smtp_session *s = ctx;
	char *rcpt = s->rcpts[s->nrcpts];

	s->dop = NULL;
	if (addr == NULL) {
		log_warning("smtp %s: cannot resolve <%s>: %s", s->peer, rcpt, error);
		smtp_reply(s, "451 4.3.0 Temporary server failure; try again later");
		free(rcpt);
	} else if (addr->kind == DELIVERY_ADDR_NO_SUCH_USER) {
		smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: no such user", rcpt);
		free(rcpt);
	} else if (addr->kind == DELIVERY_ADDR_DISABLED) {
		smtp_reply(s, "550 5.2.1 <%s>: Mailbox disabled", rcpt);
		free(rcpt);
	} else {
		s->nrcpts++;
		smtp_reply(s, "250 2.1.5 Recipient OK");
	}
	smtp_session_resume(s);
}

static void
cmd_rcpt(struct smtp_session *s, const char *args)
{
	const struct floe_config *cfg = smtp_server_config(s->server);
	const char *p = args, *error;
	char *to;

	if (strncasecmp(p, "TO:", 3) != 0) {
		smtp_reply_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	p += 3;
	if (!s->mail) {
		smtp_reply_error(s, "503 5.5.1 Need MAIL command first");
		return;
	}
	if ((to = smtp_parse_path(&p, false, &error)) == NULL) {
		smtp_reply_error(s, "501 5.1.3 Bad recipient address syntax: %s", error);
		return;
	}
	while (is_blank(*p))
		p++;
	if (*p != '\0') {
		free(to);
		smtp_reply_error(s, "555 5.5.4 RCPT TO parameters are not supported");
		return;
	}
	for (size_t i = 0; i < s->nrcpts; i++) {
		if (strcasecmp(s->rcpts[i], to) == 0) {
			free(to);
			smtp_reply(s, "250 2.1.5 Recipient OK (duplicate)");
			return;
		}
	}
	if (s->nrcpts >= cfg->smtp.max_recipients) {
		free(to);
		smtp_reply(s, "452 4.5.3 Too many recipients (at most %u per message)",
		           cfg->smtp.max_recipients);
		return;
	}
	s->rcpts = xreallocarray(s->rcpts, s->nrcpts + 1, sizeof(*s->rcpts));
	s->rcpts[s->nrcpts] = to;
	s->state = SMTP_BUSY;
	s->dop = delivery_resolve(smtp_server_delivery(s->server), to, rcpt_resolved, s);
}

/* ---------------------------------------------------------------------
 * DATA and the small ones
 */

static void
cmd_data(struct smtp_session *s, const char *args)
{
	if (*args != '\0') {
		smtp_reply_error(s, "501 5.5.4 Syntax: DATA");
	} else if (!s->mail) {
		smtp_reply_error(s, "503 5.5.1 Need MAIL command first");
	} else if (s->nrcpts == 0) {
		smtp_reply_error(s, "554 5.5.1 No valid recipients");
	} else {
		evbuffer_drain(s->data, evbuffer_get_length(s->data));
		s->data_size = 0;
		s->data_bol = true;
		s->state = SMTP_DATA;
		smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	}
}

static void
cmd_bdat(struct smtp_session *s, const char *args)
{
	smtp_reply_error(s, "502 5.5.1 BDAT is not implemented (CHUNKING is not offered)");
}

static void
cmd_rset(struct smtp_session *s, const char *args)
{
	smtp_session_reset(s);
	smtp_reply(s, "250 2.0.0 OK");
}

static void
cmd_noop(struct smtp_session *s, const char *args)
{
	smtp_reply(s, "250 2.0.0 OK");
}

static void
cmd_quit(struct smtp_session *s, const char *args)
{
	smtp_session_close(s, "221 2.0.0 Bye");
}

static void
cmd_help(struct smtp_session *s, const char *args)
{
	smtp_reply(s, "214 2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP QUIT");
}

static void
cmd_vrfy(struct smtp_session *s, const char *args)
{
	smtp_reply(s,
	           "252 2.5.0 Cannot VRFY user; send the message and delivery will be attempted");
}

static void
cmd_expn(struct smtp_session *s, const char *args)
{
	smtp_reply_error(s, "502 5.5.1 EXPN is not available");
}

static const struct smtp_command_def smtp_commands[] = {
    {.name = "EHLO", .exec = cmd_ehlo},
    {.name = "HELO", .exec = cmd_helo},
    {.name = "STARTTLS", .exec = cmd_starttls},
    {.name = "AUTH", .exec = cmd_auth},
    {.name = "MAIL", .exec = cmd_mail},
    {.name = "RCPT", .exec = cmd_rcpt},
    {.name = "DATA", .exec = cmd_data},
    {.name = "BDAT", .exec = cmd_bdat},
    {.name = "RSET", .exec = cmd_rset},
    {.name = "NOOP", .exec = cmd_noop},
    {.name = "QUIT", .exec = cmd_quit},
    {.name = "HELP", .exec = cmd_help},
    {.name = "VRFY", .exec = cmd_vrfy},
    {.name = "EXPN", .exec = cmd_expn},
    {0},
};

void
smtp_command(struct smtp_session *s, char *line)
{
	size_t n, args_len;
	char *args = (char *)smtp_split_command(line, strlen(line), &n, &args_len);

	/* Trailing blanks are not part of any argument. */
	args[args_len] = '\0';
	for (const struct smtp_command_def *c = smtp_commands; c->name != NULL; c++) {
		if (strlen(c->name) == n && strncasecmp(line, c->name, n) == 0) {
			c->exec(s, args);
			return;
		}
	}
	smtp_reply_error(s, "500 5.5.2 Command not recognized");
}
