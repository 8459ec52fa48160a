/* The DSN (RFC 3464, modules/dsn.c) for the recipients of a message that
 * failed for good (state BOUNCING, leased by this runner): delivered into
 * the sender's INBOX when the sender is local, queued with the null
 * sender otherwise. A hand-over that fails for now (the sender over quota,
 * database trouble) leaves the recipients BOUNCE_PENDING, retried with
 * the queue's back-off for up to [queue] max_age after the failure, so a
 * DSN is not lost; one that can never succeed (the sender's account is
 * gone) ends as FAILED, logged. */
#include "queue-private.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "delivery.h"
#include "dsn.h"
#include "log.h"
#include "xmalloc.h"

static void
bounce_recorded(unsigned long changed, const char *error, void *ctx)
{
	struct qmsg *m = ctx;

	m->op = NULL;
	if (error != NULL)
		log_error("queue: message %" PRIu64 ": cannot record the bounce: %s", m->id, error);
	queue_msg_done(m);
}

/* The hand-over is over: handed says whether the DSN went out, else
 * temporary whether trying again may help. */
static void
bounce_outcome(struct qmsg *m, bool handed, bool temporary, const char *why)
{
	struct queue *q = m->q;
	struct store_queue_result *res = xcalloc(m->nrcpts + 1, sizeof(*res));
	size_t n = 0;

	for (size_t i = 0; i < m->nrcpts; i++) {
		struct qrcpt *r = &m->rcpts[i];
		unsigned delay = queue_retry_delay(q->cfg->queue.retry_min_ms,
		                                   q->cfg->queue.retry_max_ms, r->bounce_attempts);

		if (r->state != STORE_QUEUE_BOUNCING)
			continue;
		res[n].recipient = r->address;
		if (handed) {
			res[n].state = STORE_QUEUE_BOUNCED;
		} else if (temporary && r->failed_age_ms + delay <= q->cfg->queue.max_age_ms) {
			res[n].state = STORE_QUEUE_BOUNCE_PENDING;
			res[n].retry_ms = delay;
			log_warning("queue: message %" PRIu64 " to <%s>: the bounce to <%s> waits "
			            "(attempt %u, next in %u s): %s",
			            m->id, r->address, m->mail_from, r->bounce_attempts,
			            delay / 1000, why);
		} else {
			res[n].state = STORE_QUEUE_FAILED;
			log_error("queue: message %" PRIu64
			          " to <%s>: giving up the bounce to <%s> "
			          "after %u attempt(s): %s",
			          m->id, r->address, m->mail_from, r->bounce_attempts, why);
		}
		n++;
	}
	m->op = store_queue_record(q->db, m->id, q->runner, q->cfg->queue.lease_ms, res, n,
	                           bounce_recorded, m);
	free(res);
}

static void
bounce_local_done(const struct delivery_rcpt_result *results, size_t count, void *ctx)
{
	struct qmsg *m = ctx;
	char why[400];

	m->bounce_op = NULL;
	if (count == 1 && results[0].code >= 200 && results[0].code < 300) {
		log_info("queue: message %" PRIu64 ": bounce delivered to <%s>", m->id,
		         m->mail_from);
		bounce_outcome(m, true, false, NULL);
		return;
	}
	snprintf(why, sizeof(why), "not delivered: %d %s %s", count > 0 ? results[0].code : 451,
	         count > 0 && results[0].enhanced != NULL ? results[0].enhanced : "4.3.0",
	         count > 0 && results[0].text != NULL ? results[0].text : "no result");
	bounce_outcome(m, false, count == 0 || results[0].code < 500, why);
}

static void
bounce_queued(uint64_t id, const char *error, void *ctx)
{
	struct qmsg *m = ctx;
	char why[400];

	m->bounce_qop = NULL;
	if (error != NULL) {
		snprintf(why, sizeof(why), "cannot queue it: %s", error);
		bounce_outcome(m, false, true, why);
		return;
	}
	log_info("queue: message %" PRIu64 ": bounce to <%s> queued as %" PRIu64, m->id,
	         m->mail_from, id);
	bounce_outcome(m, true, false, NULL);
}

static void
bounce_resolved(const struct delivery_addr *addr, const char *error, void *ctx)
{
	struct qmsg *m = ctx;
	const char *rcpt = m->mail_from;
	struct delivery_message dm;
	char why[400];

	m->bounce_op = NULL;
	if (addr == NULL) {
		snprintf(why, sizeof(why), "cannot look up the sender: %s",
		         error != NULL ? error : "?");
		bounce_outcome(m, false, true, why);
		return;
	}
	switch (addr->kind) {
	case DELIVERY_ADDR_LOCAL:
	case DELIVERY_ADDR_GROUP:
		memset(&dm, 0, sizeof(dm));
		dm.data = m->dsn;
		dm.size = m->dsn_size;
		dm.mail_from = "";
		dm.helo = m->q->hostname;
		dm.protocol = "LOCAL";
		m->bounce_op = delivery_local(m->q->delivery, &dm, &rcpt, 1, DELIVERY_NO_RULES,
		                              bounce_local_done, m);
		return;
	case DELIVERY_ADDR_NO_SUCH_USER:
	case DELIVERY_ADDR_DISABLED:
		/* One of our domains, but nobody (any more) to tell. */
		bounce_outcome(m, false, false,
		               addr->kind == DELIVERY_ADDR_DISABLED
		                   ? "the sender's account may not receive mail"
		                   : "the sender's address does not exist (any more)");
		return;
	case DELIVERY_ADDR_REMOTE:
		break;
	}
	m->bounce_qop = store_queue_enqueue(m->q->db, 0, "", NULL, m->dsn, m->dsn_size, &rcpt, 1,
	                                    bounce_queued, m);
}

void
queue_bounce(struct qmsg *m)
{
	struct dsn_recipient *dr = xcalloc(m->nrcpts + 1, sizeof(*dr));
	char(*status)[16] = xcalloc(m->nrcpts + 1, sizeof(*status));
	char(*diag)[600] = xcalloc(m->nrcpts + 1, sizeof(*diag));
	struct dsn_params p;
	char unique[64];
	size_t n = 0;

	for (size_t i = 0; i < m->nrcpts; i++) {
		struct qrcpt *r = &m->rcpts[i];

		if (r->state != STORE_QUEUE_BOUNCING)
			continue;
		dsn_status_of_reply(r->code, r->text, status[n], sizeof(status[n]));
		snprintf(diag[n], sizeof(diag[n]), "%d %s", r->code,
		         r->text != NULL ? r->text : "");
		dr[n].address = r->address;
		dr[n].action = "failed";
		dr[n].status = status[n];
		dr[n].diagnostic = diag[n];
		dr[n].remote_mta = r->remote;
		n++;
	}
	memset(&p, 0, sizeof(p));
	snprintf(unique, sizeof(unique), "%" PRIu64 ".%ld.%ld", m->id, (long)time(NULL),
	         (long)getpid());
	p.reporting_mta = m->q->hostname;
	p.mail_from = m->mail_from;
	p.envelope_id = m->envelope_id;
	p.arrival_date = m->created_at;
	p.now = time(NULL);
	p.unique = unique;
	p.rcpts = dr;
	p.nrcpts = n;
	p.original = m->data;
	p.original_size = m->size;
	free(m->dsn);
	m->dsn = dsn_build(&p, &m->dsn_size);
	free(dr);
	free(status);
	free(diag);

	if (m->q->delivery != NULL) {
		m->bounce_op = delivery_resolve(m->q->delivery, m->mail_from, bounce_resolved, m);
		return;
	}
	/* No local delivery in this process: queue it. */
	m->bounce_qop =
	    store_queue_enqueue(m->q->db, 0, "", NULL, m->dsn, m->dsn_size,
	                        (const char *const *)&m->mail_from, 1, bounce_queued, m);
}
