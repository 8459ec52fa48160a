/* What runs after a message was stored for an account: its forwarding
 * (local targets through delivery_local, remote ones through the outgoing
 * queue; the copy carries Delivered-To of the forwarding account, so a
 * loop back to it is noticed) and its auto-responder (RFC 3834 checks in
 * responder.c, "once"/"interval" claimed in the store, the reply sent from
 * the null sender to the envelope sender). Each is an operation of its
 * own: the delivery that started it has already answered. */
#include "delivery-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "queue.h"
#include "xmalloc.h"

void
delivery_rules_free(struct delivery_op *op)
{
	free(op->owner_address);
	free(op->reply_subject);
	free(op->reply_body);
}

/* ---------------------------------------------------------------------
 * Forwarding
 */

static void
forward_queued(uint64_t message_id, const char *error, void *ctx)
{
	struct delivery_op *f = ctx;

	f->qop = NULL;
	if (error != NULL)
		log_warning("forwarding for %s: cannot queue the copy: %s", f->owner_address,
		            error);
	else
		log_info("forwarding for %s: queued as %llu for %zu remote target(s)",
		         f->owner_address, (unsigned long long)message_id, f->nremote);
	delivery_op_free(f);
}

static void
forward_resolved(const struct store_rcpt *rcpts, size_t count, const char *error, void *ctx)
{
	struct delivery_op *f = ctx;
	struct delivery *d = f->d;
	const char **local;
	size_t nlocal = 0;

	f->sop = NULL;
	if (rcpts == NULL || count != f->nrcpts) {
		log_warning("forwarding for %s: cannot resolve the targets: %s", f->owner_address,
		            error != NULL ? error : "?");
		delivery_op_free(f);
		return;
	}
	local = xcalloc(f->nrcpts + 1, sizeof(char *));
	f->remote = xcalloc(f->nrcpts + 1, sizeof(char *));
	for (size_t i = 0; i < f->nrcpts; i++) {
		if (rcpts[i].kind == STORE_RCPT_REMOTE)
			f->remote[f->nremote++] = xstrdup(f->norm[i]);
		else
			local[nlocal++] = f->norm[i];
	}
	if (nlocal > 0) {
		struct delivery_message m = {.data = f->data,
		                             .size = f->size,
		                             .mail_from = f->sender,
		                             .helo = NULL,
		                             .client_addr = NULL,
		                             .protocol = "LOCAL"};

		/* With rules: the target's own forwarding and responder run too;
		 * Delivered-To and the hop limit stop loops. */
		delivery_local(d, &m, local, nlocal, 0, delivery_log_results, "forwarded copy");
	}
	free(local);
	if (f->nremote == 0) {
		delivery_op_free(f);
		return;
	}
	if (d->queue == NULL) {
		for (size_t i = 0; i < f->nremote; i++)
			log_warning("forwarding for %s to %s failed temporarily: no outgoing queue "
			            "in this worker",
			            f->owner_address, f->remote[i]);
		delivery_op_free(f);
		return;
	}
	f->qop = queue_enqueue(d->queue, f->account_id, f->sender, f->data, f->size,
	                       (const char *const *)f->remote, f->nremote, forward_queued, f);
}

static void
forward_start(struct delivery_op *op, const struct delivery_acct *a)
{
	struct delivery_op *f = delivery_op_new(op->d, DELIVERY_OP_FORWARD, NULL);
	const char *eol = "\r\n";
	char *dt;
	size_t dlen, rlen, n = 0;

	if (op->size > 0) {
		const char *nl = memchr(op->data, '\n', op->size);

		if (nl != NULL && (nl == op->data || nl[-1] != '\r'))
			eol = "\n";
	}
	f->account_id = a->id;
	f->owner_address = xstrdup(a->address);
	f->sender = xstrdup(op->sender);
	dt = xasprintf("Delivered-To: %s%s", a->address, eol);
	dlen = strlen(dt);
	rlen = op->received != NULL ? strlen(op->received) : 0;
	f->size = dlen + rlen + op->size;
	f->data = xmalloc(f->size + 1);
	memcpy(f->data, dt, dlen);
	if (rlen > 0)
		memcpy(f->data + dlen, op->received, rlen);
	memcpy(f->data + dlen + rlen, op->data, op->size);
	f->data[f->size] = '\0';
	free(dt);
	f->norm = xcalloc(a->nforward + 1, sizeof(char *));
	for (size_t i = 0; i < a->nforward; i++) {
		char *t = delivery_normalize(a->forward[i]);

		if (t == NULL) {
			log_warning("forwarding for %s: invalid target \"%s\" skipped", a->address,
			            a->forward[i]);
			continue;
		}
		f->norm[n++] = t;
	}
	f->nrcpts = n;
	if (n == 0) {
		delivery_op_free(f);
		return;
	}
	f->sop =
	    store_rcpt_resolve(op->d->store, (const char *const *)f->norm, n, forward_resolved, f);
}

/* ---------------------------------------------------------------------
 * Auto-responder
 */

static void
reply_queued(uint64_t message_id, const char *error, void *ctx)
{
	struct delivery_op *r = ctx;

	r->qop = NULL;
	if (error != NULL)
		log_warning("auto-reply of %s to %s: cannot queue it: %s", r->owner_address,
		            r->sender, error);
	else
		log_info("auto-reply of %s to %s queued as %llu", r->owner_address, r->sender,
		         (unsigned long long)message_id);
	delivery_op_free(r);
}

static void
reply_send(struct delivery_op *r)
{
	struct delivery *d = r->d;
	const char *to[1] = {r->sender};

	if (r->sender_local) {
		struct delivery_message m = {
		    .data = r->data, .size = r->size, .mail_from = "", .protocol = "LOCAL"};

		log_info("auto-reply of %s to %s", r->owner_address, r->sender);
		delivery_local(d, &m, to, 1, DELIVERY_NO_RULES, delivery_log_results, "auto-reply");
		delivery_op_free(r);
		return;
	}
	if (d->queue == NULL) {
		log_warning("auto-reply of %s to %s failed temporarily: no outgoing queue in this "
		            "worker",
		            r->owner_address, r->sender);
		delivery_op_free(r);
		return;
	}
	r->qop =
	    queue_enqueue(d->queue, r->account_id, "", r->data, r->size, to, 1, reply_queued, r);
}

static void
reply_claimed(bool claimed, const char *error, void *ctx)
{
	struct delivery_op *r = ctx;

	r->sop = NULL;
	if (error != NULL) {
		log_warning("auto-reply of %s to %s not sent: %s", r->owner_address, r->sender,
		            error);
		delivery_op_free(r);
		return;
	}
	if (!claimed) {
		log_info("auto-reply of %s to %s not sent: already answered", r->owner_address,
		         r->sender);
		delivery_op_free(r);
		return;
	}
	reply_send(r);
}

static void
reply_start(struct delivery_op *op, const struct delivery_acct *a)
{
	struct delivery_op *r;
	enum responder_verdict v;
	struct responder_vars vars;
	struct responder_reply reply;
	const char *subject, *body;
	char *sender = delivery_normalize(op->sender);

	v = responder_decide(&a->resp, time(NULL), sender != NULL ? sender : "", op->sender_local,
	                     a->address, &op->scan);
	if (v != RESPONDER_REPLY || sender == NULL) {
		if (v != RESPONDER_OFF)
			log_info("auto-reply of %s to <%s> not sent: %s", a->address, op->sender,
			         responder_verdict_text(v));
		free(sender);
		return;
	}
	r = delivery_op_new(op->d, DELIVERY_OP_REPLY, NULL);
	r->account_id = a->id;
	r->owner_address = xstrdup(a->address);
	r->sender = sender;
	r->sender_local = op->sender_local;
	r->mode = a->resp.mode;
	r->interval_days = a->resp.interval_days;

	memset(&vars, 0, sizeof(vars));
	vars.subject = op->subject;
	vars.from = op->from;
	vars.to = a->address;
	vars.now = time(NULL);
	subject = a->resp.subject != NULL && a->resp.subject[0] != '\0' ? a->resp.subject
	                                                                : "Auto: %%Subject%%";
	body = a->resp.body;
	if (!op->sender_local && a->resp.external_body != NULL && a->resp.external_body[0] != '\0')
		body = a->resp.external_body;
	r->reply_subject = responder_expand(subject, &vars);
	r->reply_body = responder_expand(body, &vars);

	memset(&reply, 0, sizeof(reply));
	reply.from = a->address;
	reply.to = r->sender;
	reply.subject = r->reply_subject;
	reply.body = r->reply_body;
	reply.in_reply_to = op->message_id;
	reply.references = op->references;
	reply.hostname = op->d->hostname;
	reply.now = vars.now;
	r->data = responder_build(&reply, &r->size);

	if (r->mode == STORE_RESPONDER_ALWAYS) {
		reply_send(r);
		return;
	}
	r->sop = store_responder_claim(op->d->store, r->account_id, r->sender,
	                               r->mode == STORE_RESPONDER_ONCE ? 0 : r->interval_days,
	                               reply_claimed, r);
}

void
delivery_rules_run(struct delivery_op *op)
{
	for (size_t i = 0; i < op->naccts; i++) {
		const struct delivery_acct *a = &op->accts[i];

		if (a->code / 100 != 2)
			continue;
		if (a->nforward > 0)
			forward_start(op, a);
		/* Only for mail to the account itself: a group is a list. */
		if (a->direct && a->resp.mode != STORE_RESPONDER_OFF)
			reply_start(op, a);
	}
}
