/* The end of DATA: the account's "save to Sent" setting is read, the
 * message goes to delivery_submit (local recipients stored, remote ones
 * queued), and the one SMTP reply is made from the per-recipient results.
 * Recipients that failed while others succeeded cannot be refused any
 * more: their sender gets a DSN in its INBOX instead (RFC 5321 6.1). */
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "delivery.h"
#include "dsn.h"
#include "log.h"
#include "smtp-private.h"
#include "store-queue.h"
#include "xmalloc.h"

static void
bounce_done(const struct delivery_rcpt_result *results, size_t count, void *ctx)
{
	struct smtp_detached *d = ctx;

	if (count != 1 || results[0].code < 200 || results[0].code >= 300)
		log_error("smtp: a bounce for failed recipients was not delivered: %d %s",
		          count > 0 ? results[0].code : 0,
		          count > 0 && results[0].text != NULL ? results[0].text : "");
	smtp_server_detached_done(d);
}

/* Tells the sender about the recipients that failed. */
static void
submit_bounce(struct smtp_session *s, const struct delivery_rcpt_result *results, size_t count)
{
	struct dsn_recipient *dr = xcalloc(count + 1, sizeof(*dr));
	char(*diag)[600] = xcalloc(count + 1, sizeof(*diag));
	struct delivery_message msg;
	struct dsn_params p;
	struct smtp_detached *d;
	const char *to = s->mail_from;
	size_t n = 0, size;
	char *dsn;

	for (size_t i = 0; i < count; i++) {
		if (results[i].code >= 200 && results[i].code < 300)
			continue;
		snprintf(diag[n], sizeof(diag[n]), "%d %s %s", results[i].code,
		         results[i].enhanced != NULL ? results[i].enhanced : "",
		         results[i].text != NULL ? results[i].text : "");
		dr[n].address = results[i].address;
		dr[n].action = "failed";
		dr[n].status = results[i].enhanced != NULL
		                   ? results[i].enhanced
		                   : (results[i].code >= 500 ? "5.0.0" : "4.0.0");
		dr[n].diagnostic = diag[n];
		dr[n].remote_mta = smtp_server_hostname(s->server);
		n++;
	}
	memset(&p, 0, sizeof(p));
	p.reporting_mta = smtp_server_hostname(s->server);
	p.mail_from = s->mail_from;
	p.arrival_date = time(NULL);
	p.now = p.arrival_date;
	p.rcpts = dr;
	p.nrcpts = n;
	p.original = evbuffer_pullup(s->data, -1);
	p.original_size = evbuffer_get_length(s->data);
	dsn = dsn_build(&p, &size);
	free(dr);
	free(diag);

	memset(&msg, 0, sizeof(msg));
	msg.data = dsn;
	msg.size = size;
	msg.mail_from = "";
	msg.helo = smtp_server_hostname(s->server);
	msg.protocol = "LOCAL";
	/* The session may end before this finishes; the server keeps it. */
	d = smtp_server_detach(s->server);
	smtp_server_detached_set(d, delivery_local(smtp_server_delivery(s->server), &msg, &to, 1,
	                                           DELIVERY_NO_RULES, bounce_done, d));
	free(dsn);
}

static void
submit_done(const struct delivery_rcpt_result *results, size_t count, void *ctx)
{
	struct smtp_session *s = ctx;
	const struct delivery_rcpt_result *fail = NULL;
	size_t ok = 0;

	s->dop = NULL;
	for (size_t i = 0; i < count; i++) {
		if (results[i].code >= 200 && results[i].code < 300)
			ok++;
		else if (fail == NULL || (fail->code < 500 && results[i].code >= 500))
			fail = &results[i];
	}
	if (fail == NULL) {
		log_info("smtp %s: %s: message from <%s> accepted for %zu recipient(s), %zu bytes",
		         s->peer, s->address, s->mail_from, count, evbuffer_get_length(s->data));
		smtp_reply(s, "250 2.0.0 Message accepted for delivery");
	} else if (ok == 0) {
		log_info("smtp %s: %s: message from <%s> refused: %d %s %s", s->peer, s->address,
		         s->mail_from, fail->code, fail->enhanced != NULL ? fail->enhanced : "",
		         fail->text != NULL ? fail->text : "");
		smtp_reply(s, "%d %s %s", fail->code >= 400 && fail->code < 600 ? fail->code : 451,
		           fail->enhanced != NULL ? fail->enhanced : "4.0.0",
		           fail->text != NULL ? fail->text : "Delivery failed");
	} else {
		log_info("smtp %s: %s: message from <%s> accepted for %zu of %zu recipient(s)",
		         s->peer, s->address, s->mail_from, ok, count);
		submit_bounce(s, results, count);
		smtp_reply(s,
		           "250 2.0.0 Message accepted; some recipients failed (a report follows)");
	}
	smtp_session_reset(s);
	smtp_session_resume(s);
}

static void
submit_settings(bool save_to_sent, const char *error, void *ctx)
{
	struct smtp_session *s = ctx;
	struct delivery_message msg;

	s->sop = NULL;
	if (error != NULL) {
		log_warning("smtp %s: cannot read the submission settings: %s", s->peer, error);
		smtp_reply(s, "451 4.3.0 Temporary server failure; try again later");
		smtp_session_reset(s);
		smtp_session_resume(s);
		return;
	}
	s->save_to_sent = save_to_sent;
	memset(&msg, 0, sizeof(msg));
	msg.data = evbuffer_pullup(s->data, -1);
	msg.size = evbuffer_get_length(s->data);
	msg.mail_from = s->mail_from;
	msg.helo = s->helo;
	msg.client_addr = s->peer;
	msg.protocol = s->tls ? "ESMTPSA" : "ESMTPA";
	s->dop =
	    delivery_submit(smtp_server_delivery(s->server), s->account_id, &msg,
	                    (const char *const *)s->rcpts, s->nrcpts, save_to_sent, submit_done, s);
}

void
smtp_submit(struct smtp_session *s, bool too_big)
{
	if (too_big) {
		log_info("smtp %s: %s: message of %zu bytes over the limit", s->peer, s->address,
		         s->data_size);
		smtp_reply(s, "552 5.3.4 Message size exceeds the limit of %zu bytes",
		           smtp_server_config(s->server)->smtp.max_message_size);
		smtp_session_reset(s);
		/* Called from the input loop, which reads on. */
		s->state = SMTP_CMD;
		if (smtp_server_is_stopping(s->server))
			smtp_session_close(s,
			                   "421 4.3.2 Service shutting down, closing connection");
		return;
	}
	s->sop =
	    store_smtp_settings_get(smtp_server_db(s->server), s->account_id, submit_settings, s);
}
