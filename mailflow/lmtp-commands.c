/* LMTP commands (RFC 2033 over RFC 5321 syntax): one function per
 * command, registered in one table. RCPT resolves the address through
 * modules/delivery.h before answering; the end of DATA hands the message
 * to delivery_local and answers once per accepted recipient. */
#include "lmtp-private.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "delivery.h"
#include "log.h"
#include "smtp-parse.h"
#include "xmalloc.h"

/* ---------------------------------------------------------------------
 * Commands
 */

static void
cmd_lhlo(struct lmtp_session *s, const char *args)
{
	if (*args == '\0') {
		lmtp_reply(s, "501 5.5.4 Syntax: LHLO hostname");
		lmtp_error(s);
		return;
	}
	free(s->lhlo);
	s->lhlo = xstrndup(args, strcspn(args, " "));
	lmtp_transaction_reset(s);
	lmtp_reply(s, "250-%s", s->server->hostname);
	lmtp_reply(s, "250-PIPELINING");
	lmtp_reply(s, "250-ENHANCEDSTATUSCODES");
	lmtp_reply(s, "250-8BITMIME");
	lmtp_reply(s, "250 SIZE %zu", s->server->max_size);
}

static void
cmd_helo(struct lmtp_session *s, const char *args)
{
	lmtp_reply(s, "500 5.5.1 This is LMTP (RFC 2033): use LHLO");
	lmtp_error(s);
}

static bool
need_lhlo(struct lmtp_session *s)
{
	if (s->lhlo != NULL)
		return true;
	lmtp_reply(s, "503 5.5.1 Send LHLO first");
	lmtp_error(s);
	return false;
}

static void
cmd_mail(struct lmtp_session *s, const char *args)
{
	const char *params, *error;
	struct smtp_mail_params mp;
	char *addr, why[128];

	if (!need_lhlo(s))
		return;
	if (s->have_mail) {
		lmtp_reply(s, "503 5.5.1 Nested MAIL command");
		lmtp_error(s);
		return;
	}
	if (lmtp_parse_path(args, "FROM:", &addr, &params, &error) < 0) {
		lmtp_reply(s, "%s", error);
		lmtp_error(s);
		return;
	}
	if (smtp_parse_mail_params(params, false, &mp, why, sizeof(why)) < 0) {
		lmtp_reply(s, "%s", why);
		goto bad;
	}
	if (mp.have_size && mp.size > s->server->max_size) {
		lmtp_reply(s, "552 5.3.4 Message too big (at most %zu bytes)", s->server->max_size);
		goto bad;
	}
	s->mail_from = addr;
	s->have_mail = true;
	lmtp_reply(s, "250 2.1.0 Sender ok");
	return;
bad:
	free(addr);
	lmtp_error(s);
}

static void
rcpt_resolved(const struct delivery_addr *addr, const char *error, void *ctx)
{
	struct lmtp_session *s = ctx;
	char *rcpt = s->pending_rcpt;

	s->op = NULL;
	s->pending_rcpt = NULL;
	if (addr == NULL) {
		log_warning("lmtp: cannot resolve <%s>: %s", rcpt, error != NULL ? error : "?");
		lmtp_reply(s, "451 4.3.0 <%s> Temporary lookup failure, try again later", rcpt);
		free(rcpt);
	} else {
		switch (addr->kind) {
		case DELIVERY_ADDR_LOCAL:
		case DELIVERY_ADDR_GROUP:
			s->rcpts = xreallocarray(s->rcpts, s->nrcpts + 1, sizeof(char *));
			s->rcpts[s->nrcpts++] = rcpt;
			lmtp_reply(s, "250 2.1.5 <%s> Recipient ok", rcpt);
			rcpt = NULL;
			break;
		case DELIVERY_ADDR_NO_SUCH_USER:
			lmtp_reply(s, "550 5.1.1 <%s> No such user here", rcpt);
			break;
		case DELIVERY_ADDR_REMOTE:
			lmtp_reply(s, "550 5.1.1 <%s> Not a local address", rcpt);
			break;
		case DELIVERY_ADDR_DISABLED:
			lmtp_reply(s, "550 5.2.1 <%s> Mailbox disabled", rcpt);
			break;
		}
		free(rcpt);
	}
	lmtp_session_resume(s);
}

static void
cmd_rcpt(struct lmtp_session *s, const char *args)
{
	const char *params, *error;
	char *addr;

	if (!need_lhlo(s))
		return;
	if (!s->have_mail) {
		lmtp_reply(s, "503 5.5.1 Need MAIL before RCPT");
		lmtp_error(s);
		return;
	}
	if (lmtp_parse_path(args, "TO:", &addr, &params, &error) < 0) {
		lmtp_reply(s, "%s", error);
		lmtp_error(s);
		return;
	}
	if (*params != '\0') {
		lmtp_reply(s, "555 5.5.4 Unsupported RCPT parameter %.64s", params);
		free(addr);
		lmtp_error(s);
		return;
	}
	if (addr[0] == '\0') {
		lmtp_reply(s, "501 5.1.3 Empty recipient address");
		free(addr);
		lmtp_error(s);
		return;
	}
	if (s->nrcpts >= s->server->cfg->lmtp.max_recipients) {
		lmtp_reply(s, "452 4.5.3 Too many recipients");
		free(addr);
		return;
	}
	s->pending_rcpt = addr;
	lmtp_session_wait(s, LMTP_CMD);
	s->op = delivery_resolve(s->server->delivery, addr, rcpt_resolved, s);
}

static void
cmd_data(struct lmtp_session *s, const char *args)
{
	if (!need_lhlo(s))
		return;
	if (*args != '\0') {
		lmtp_reply(s, "501 5.5.4 Syntax: DATA takes no argument");
		lmtp_error(s);
		return;
	}
	if (!s->have_mail) {
		lmtp_reply(s, "503 5.5.1 Need MAIL command");
		lmtp_error(s);
		return;
	}
	if (s->nrcpts == 0) {
		lmtp_reply(s, "503 5.5.1 No valid recipients");
		lmtp_error(s);
		return;
	}
	lmtp_reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
	s->state = LMTP_DATA;
}

static void
delivered(const struct delivery_rcpt_result *results, size_t count, void *ctx)
{
	struct lmtp_session *s = ctx;

	s->op = NULL;
	for (size_t i = 0; i < s->nrcpts; i++) {
		if (i < count)
			lmtp_reply(s, "%d %s <%s> %s", results[i].code, results[i].enhanced,
			           s->rcpts[i], results[i].text);
		else
			lmtp_reply(s, "451 4.3.0 <%s> Temporary local problem", s->rcpts[i]);
	}
	lmtp_transaction_reset(s);
	lmtp_session_resume(s);
}

void
lmtp_data_done(struct lmtp_session *s)
{
	struct delivery_message msg;
	size_t size = evbuffer_get_length(s->data);

	s->state = LMTP_CMD;
	if (s->data_too_big || s->data_line_too_long) {
		for (size_t i = 0; i < s->nrcpts; i++) {
			if (s->data_too_big)
				lmtp_reply(s, "552 5.3.4 <%s> Message too big (at most %zu bytes)",
				           s->rcpts[i], s->server->max_size);
			else
				lmtp_reply(
				    s, "554 5.6.0 <%s> Message has a line longer than %zu bytes",
				    s->rcpts[i], s->server->max_line);
		}
		log_info("lmtp: %s: message from <%s> refused: %s", s->peer, s->mail_from,
		         s->data_too_big ? "too big" : "line too long");
		lmtp_transaction_reset(s);
		return;
	}
	memset(&msg, 0, sizeof(msg));
	msg.data = size > 0 ? evbuffer_pullup(s->data, -1) : (const void *)"";
	msg.size = size;
	msg.mail_from = s->mail_from;
	msg.helo = s->lhlo;
	msg.client_addr = s->peer;
	msg.protocol = "LMTP";
	lmtp_session_wait(s, LMTP_CMD);
	/* delivery_local copies what it needs. */
	s->op = delivery_local(s->server->delivery, &msg, (const char *const *)s->rcpts, s->nrcpts,
	                       0, delivered, s);
	evbuffer_drain(s->data, size);
}

static void
cmd_rset(struct lmtp_session *s, const char *args)
{
	lmtp_transaction_reset(s);
	lmtp_reply(s, "250 2.0.0 Ok");
}

static void
cmd_noop(struct lmtp_session *s, const char *args)
{
	lmtp_reply(s, "250 2.0.0 Ok");
}

static void
cmd_vrfy(struct lmtp_session *s, const char *args)
{
	lmtp_reply(s, "252 2.5.0 Cannot VRFY; send the message and each recipient is answered");
}

static void
cmd_help(struct lmtp_session *s, const char *args)
{
	lmtp_reply(s, "214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT");
}

static void
cmd_quit(struct lmtp_session *s, const char *args)
{
	lmtp_reply(s, "221 2.0.0 %s Bye", s->server->hostname);
	lmtp_session_close(s);
}

static void
cmd_not_here(struct lmtp_session *s, const char *args)
{
	lmtp_reply(s, "502 5.5.1 Command not implemented");
	lmtp_error(s);
}

static const struct lmtp_command_desc {
	const char *name;
	void (*exec)(struct lmtp_session *s, const char *args);
} lmtp_commands[] = {
    {.name = "LHLO", .exec = cmd_lhlo},         {.name = "MAIL", .exec = cmd_mail},
    {.name = "RCPT", .exec = cmd_rcpt},         {.name = "DATA", .exec = cmd_data},
    {.name = "RSET", .exec = cmd_rset},         {.name = "NOOP", .exec = cmd_noop},
    {.name = "VRFY", .exec = cmd_vrfy},         {.name = "HELP", .exec = cmd_help},
    {.name = "QUIT", .exec = cmd_quit},         {.name = "HELO", .exec = cmd_helo},
    {.name = "EHLO", .exec = cmd_helo},         {.name = "BDAT", .exec = cmd_not_here},
    {.name = "EXPN", .exec = cmd_not_here},     {.name = "ETRN", .exec = cmd_not_here},
    {.name = "STARTTLS", .exec = cmd_not_here},
};

void
lmtp_command(struct lmtp_session *s, const char *line, size_t len)
{
	size_t n = 0;
	const char *args;

	if (memchr(line, '\0', len) != NULL) {
		lmtp_reply(s, "500 5.5.2 NUL byte in command");
		lmtp_error(s);
		return;
	}
	while (n < len && line[n] != ' ')
		n++;
	args = line + n;
	while (*args == ' ')
		args++;
	for (size_t i = 0; i < sizeof(lmtp_commands) / sizeof(lmtp_commands[0]); i++) {
		if (strlen(lmtp_commands[i].name) == n &&
		    strncasecmp(line, lmtp_commands[i].name, n) == 0) {
			lmtp_commands[i].exec(s, args);
			return;
		}
	}
	lmtp_reply(s, "500 5.5.2 Unknown command");
	lmtp_error(s);
}
