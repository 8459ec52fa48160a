/* Submission (delivery_submit): an authenticated account's message goes
 * to local recipients through delivery_local, to the others through the
 * outgoing queue (with this hop's Received: field), and, when asked, as a
 * \Seen copy into the account's Sent folder. */
#include "delivery-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "message.h"
#include "queue.h"
#include "store.h"
#include "xmalloc.h"

/* ---------------------------------------------------------------------
 * Submission
 */

static void
submit_check_done(struct delivery_op *op)
{
	if (op->submit_pending > 0)
		return;
	if (op->done_cb != NULL) {
		op->calling = true;
		op->done_cb(op->results, op->nrcpts, op->ctx);
	}
	delivery_op_free(op);
}

static void
submit_local_done(const struct delivery_rcpt_result *results, size_t count, void *ctx)
{
	struct delivery_op *op = ctx;

	op->child = NULL;
	for (size_t i = 0; i < count && i < op->nlocal; i++) {
		struct delivery_rcpt_result *r = &op->results[op->local_idx[i]];

		r->code = results[i].code;
		r->enhanced = results[i].enhanced;
		/* The child's texts go away with it: use static ones. */
		if (results[i].code / 100 == 2)
			r->text = "delivered";
		else if (results[i].code == 452)
			r->text = "mailbox full: over quota";
		else if (results[i].code == 550)
			r->text = strcmp(results[i].enhanced, "5.2.1") == 0 ? "mailbox disabled"
			                                                    : "no such user here";
		else
			r->text = "temporary local problem, try again later";
	}
	op->submit_pending--;
	submit_check_done(op);
}

static void
submit_queued(uint64_t message_id, const char *error, void *ctx)
{
	struct delivery_op *op = ctx;

	op->qop = NULL;
	for (size_t i = 0; i < op->nremote; i++) {
		struct delivery_rcpt_result *r = &op->results[op->remote_idx[i]];

		if (error != NULL) {
			r->code = 451;
			r->enhanced = "4.3.0";
			r->text = "cannot queue the message, try again later";
		} else {
			r->code = 250;
			r->enhanced = "2.0.0";
			r->text = "queued";
		}
	}
	if (error != NULL)
		log_warning("submission: cannot queue the message: %s", error);
	else
		log_info("submission: queued as %llu for %zu recipient(s)",
		         (unsigned long long)message_id, op->nremote);
	op->submit_pending--;
	submit_check_done(op);
}

static void
sent_appended(const struct store_append_result *res, enum store_err code, const char *error,
              void *ctx)
{
	struct delivery_op *op = ctx;

	op->sop = NULL;
	if (code != STORE_OK)
		log_warning("submission: no copy in Sent: %s", error != NULL ? error : "?");
	op->submit_pending--;
	submit_check_done(op);
}

static void
sent_folder(uint64_t folder_id, const char *error, void *ctx)
{
	struct delivery_op *op = ctx;
	static const char *const seen[] = {"\\Seen"};
	struct store_append_item item = {
	    .data = op->data, .size = op->size, .flags = seen, .nflags = 1};
	struct message_info info;
	const char *perr;

	op->sop = NULL;
	memset(&info, 0, sizeof(info));
	if (folder_id == 0 || message_parse(op->data, op->size, &info, &perr) < 0) {
		log_warning("submission: no copy in Sent: %s",
		            folder_id == 0
		                ? (error != NULL ? error : "the account has no Sent folder")
		                : perr);
		message_info_clear(&info);
		op->submit_pending--;
		submit_check_done(op);
		return;
	}
	item.meta = &info.meta;
	op->sop =
	    store_append(op->d->store, op->account_id, folder_id, &item, 1, sent_appended, op);
	message_info_clear(&info);
}

static void
submit_resolved(const struct store_rcpt *rcpts, size_t count, const char *error, void *ctx)
{
	struct delivery_op *op = ctx;
	const char **local;

	op->sop = NULL;
	op->results = xcalloc(op->nrcpts + 1, sizeof(*op->results));
	for (size_t i = 0; i < op->nrcpts; i++) {
		op->results[i].address = op->rcpts[i];
		op->results[i].code = 451;
		op->results[i].enhanced = "4.3.0";
		op->results[i].text = "temporary local problem, try again later";
	}
	if (rcpts == NULL || count != op->nrcpts) {
		log_warning("submission: cannot resolve recipients: %s",
		            error != NULL ? error : "?");
		op->save_to_sent = false;
		submit_check_done(op);
		return;
	}
	local = xcalloc(op->nrcpts + 1, sizeof(char *));
	op->local_idx = xcalloc(op->nrcpts + 1, sizeof(size_t));
	op->remote = xcalloc(op->nrcpts + 1, sizeof(char *));
	op->remote_idx = xcalloc(op->nrcpts + 1, sizeof(size_t));
	for (size_t i = 0; i < op->nrcpts; i++) {
		if (rcpts[i].kind == STORE_RCPT_REMOTE && op->norm[i][0] != '\0') {
			op->remote_idx[op->nremote] = i;
			op->remote[op->nremote++] = xstrdup(op->norm[i]);
		} else {
			op->local_idx[op->nlocal] = i;
			local[op->nlocal++] = op->rcpts[i];
		}
	}
	/* Each part counts itself out; the extra one is ours, released last. */
	op->submit_pending = 1;
	if (op->nlocal > 0) {
		struct delivery_message m = {.data = op->data,
		                             .size = op->size,
		                             .mail_from = op->sender,
		                             .helo = op->helo,
		                             .client_addr = op->client_addr,
		                             .protocol = op->protocol};

		op->submit_pending++;
		op->child = delivery_local(op->d, &m, local, op->nlocal, 0, submit_local_done, op);
	}
	free(local);
	if (op->nremote > 0) {
		if (op->d->queue == NULL) {
			log_warning("submission: no outgoing queue in this worker; %zu remote "
			            "recipient(s) refused for now",
			            op->nremote);
			for (size_t i = 0; i < op->nremote; i++)
				op->results[op->remote_idx[i]].text =
				    "remote delivery is not available, try again later";
		} else {
			char *rcv =
			    delivery_received_field(op, NULL, delivery_eol_of(op->data, op->size));
			size_t rlen = strlen(rcv);
			char *data = xmalloc(rlen + op->size);

			memcpy(data, rcv, rlen);
			memcpy(data + rlen, op->data, op->size);
			op->submit_pending++;
			op->qop = queue_enqueue(op->d->queue, op->account_id, op->sender, data,
			                        rlen + op->size, (const char *const *)op->remote,
			                        op->nremote, submit_queued, op);
			free(data);
			free(rcv);
		}
	}
	if (op->save_to_sent) {
		op->submit_pending++;
		op->sop =
		    store_special_folder(op->d->store, op->account_id, "sent", sent_folder, op);
	}
	op->submit_pending--;
	submit_check_done(op);
}

static void
submit_empty(evutil_socket_t fd, short what, void *ctx)
{
	struct delivery_op *op = ctx;

	op->results = xcalloc(1, sizeof(*op->results));
	submit_check_done(op);
}

struct delivery_op *
delivery_submit(struct delivery *d, uint64_t account_id, const struct delivery_message *msg,
                const char *const *rcpts, size_t nrcpts, bool save_to_sent, delivery_done_cb *cb,
                void *ctx)
{
	struct delivery_op *op = delivery_op_new(d, DELIVERY_OP_SUBMIT, ctx);

	op->done_cb = cb;
	op->account_id = account_id;
	op->save_to_sent = save_to_sent;
	delivery_msg_copy(op, msg);
	op->nrcpts = nrcpts;
	op->rcpts = xcalloc(nrcpts + 1, sizeof(char *));
	op->norm = xcalloc(nrcpts + 1, sizeof(char *));
	for (size_t i = 0; i < nrcpts; i++) {
		op->rcpts[i] = xstrdup(rcpts[i]);
		op->norm[i] = delivery_normalize(rcpts[i]);
		if (op->norm[i] == NULL)
			op->norm[i] = xstrdup("");
	}
	if (nrcpts == 0) {
		delivery_op_defer(op, submit_empty);
		return op;
	}
	op->sop = store_rcpt_resolve(d->store, (const char *const *)op->norm, nrcpts,
	                             submit_resolved, op);
	return op;
}
