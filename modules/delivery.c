/* Local delivery (modules/delivery.h): recipients resolved in one query,
 * the message parsed once and stored once per distinct account into its
 * INBOX (one shared blob), results per recipient as LMTP/SMTP replies;
 * then forwarding and the auto-responder (delivery-rules.c). Also
 * address resolution for RCPT and the send-as check.
 *
 * Trace fields: every stored copy starts with Return-Path and Received
 * (the same for every recipient of the transaction), and with
 * Delivered-To when the transaction stores into one account only. With
 * several accounts the copies share one blob, so a per-recipient field
 * cannot be in it (it would also show Bcc recipients to the others);
 * forwarded copies always carry the Delivered-To of the account that
 * forwards, which is what loop detection reads. */
#include "delivery-private.h"

#include <ctype.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "store.h"
#include "xmalloc.h"

struct delivery *
delivery_create(struct event_base *base, const struct floe_config *cfg, struct db *db,
                struct store *store, struct queue *queue)
{
	struct delivery *d = xcalloc(1, sizeof(*d));

	d->base = base;
	d->cfg = cfg;
	d->db = db;
	d->store = store;
	d->queue = queue;
	if (gethostname(d->hostname, sizeof(d->hostname) - 1) < 0 || d->hostname[0] == '\0')
		snprintf(d->hostname, sizeof(d->hostname), "localhost");
	for (char *p = d->hostname; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			*p = '-';
	}
	LIST_INIT(&d->ops);
	if (queue == NULL)
		log_debug("delivery: no outgoing queue; remote targets fail temporarily");
	return d;
}

void
delivery_destroy(struct delivery **dp)
{
	struct delivery *d = *dp;
	struct delivery_op *op;

	if (d == NULL)
		return;
	*dp = NULL;
	while ((op = LIST_FIRST(&d->ops)) != NULL)
		delivery_op_free(op);
	free(d);
}

/* ---------------------------------------------------------------------
 * Operations
 */

struct delivery_op *
delivery_op_new(struct delivery *d, enum delivery_op_kind kind, void *ctx)
{
	struct delivery_op *op = xcalloc(1, sizeof(*op));

	op->d = d;
	op->kind = kind;
	op->ctx = ctx;
	LIST_INSERT_HEAD(&d->ops, op, entry);
	return op;
}

static void
strv_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
resp_free(struct store_responder *r)
{
	free((char *)r->subject);
	free((char *)r->body);
	free((char *)r->external_body);
	strv_free((char **)r->never_reply, r->nnever_reply);
	memset(r, 0, sizeof(*r));
}

static void
resp_copy(struct store_responder *dst, const struct store_responder *src)
{
	char **never = NULL;

	*dst = *src;
	dst->subject = xstrdup(src->subject != NULL ? src->subject : "");
	dst->body = xstrdup(src->body != NULL ? src->body : "");
	dst->external_body = src->external_body != NULL ? xstrdup(src->external_body) : NULL;
	if (src->nnever_reply > 0) {
		never = xcalloc(src->nnever_reply, sizeof(*never));
		for (size_t i = 0; i < src->nnever_reply; i++)
			never[i] = xstrdup(src->never_reply[i]);
	}
	dst->never_reply = (const char *const *)never;
}

void
delivery_op_free(struct delivery_op *op)
{
	LIST_REMOVE(op, entry);
	store_op_abandon(&op->sop);
	if (op->qop != NULL)
		queue_op_abandon(&op->qop);
	if (op->defer != NULL)
		event_free(op->defer);
	/* A submission's local part must not call back into it. */
	if (op->child != NULL)
		op->child->done_cb = NULL;
	for (size_t i = 0; i < op->naccts; i++) {
		struct delivery_acct *a = &op->accts[i];

		store_op_abandon(&a->sop);
		free(a->address);
		strv_free(a->forward, a->nforward);
		resp_free(&a->resp);
		free(a->text);
	}
	free(op->accts);
	for (size_t i = 0; op->rs != NULL && i < op->nrcpts; i++)
		free(op->rs[i].accts);
	free(op->rs);
	strv_free(op->rcpts, op->nrcpts);
	strv_free(op->norm, op->nrcpts);
	free(op->results);
	free(op->data);
	free(op->sender);
	free(op->helo);
	free(op->client_addr);
	free(op->protocol);
	responder_msg_clear(&op->scan);
	free(op->stored);
	free(op->received);
	free(op->subject);
	free(op->from);
	free(op->message_id);
	free(op->references);
	free(op->local_idx);
	strv_free(op->remote, op->nremote);
	free(op->remote_idx);
	delivery_rules_free(op);
	free(op);
}

void
delivery_op_abandon(struct delivery_op **opp)
{
	struct delivery_op *op = *opp;

	if (op == NULL)
		return;
	*opp = NULL;
	if (op->calling)
		return; /* freed when its callback returns */
	switch (op->kind) {
	case DELIVERY_OP_LOCAL:
	case DELIVERY_OP_SUBMIT:
		/* The message was handed over: it is delivered all the same,
		 * only the answer goes nowhere. */
		op->done_cb = NULL;
		break;
	default:
		delivery_op_free(op);
		break;
	}
}

void
delivery_op_defer(struct delivery_op *op, void (*fn)(evutil_socket_t, short, void *))
{
	if (op->defer != NULL)
		event_free(op->defer);
	op->defer = event_new(op->d->base, -1, 0, fn, op);
	event_active(op->defer, EV_TIMEOUT, 1);
}

char *
delivery_normalize(const char *address)
{
	size_t len;
	const char *at;
	char *out;

	if (address == NULL)
		return NULL;
	while (*address == ' ')
		address++;
	len = strlen(address);
	if (len >= 2 && address[0] == '<' && address[len - 1] == '>') {
		address++;
		len -= 2;
	}
	if (len == 0 || len > 254)
		return NULL;
	out = xstrndup(address, len);
	at = strrchr(out, '@');
	if (at == NULL || at == out || at[1] == '\0') {
		free(out);
		return NULL;
	}
	for (char *p = out; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == 0x7f) {
			free(out);
			return NULL;
		}
		*p = (char)tolower((unsigned char)*p);
	}
	return out;
}

void
delivery_log_results(const struct delivery_rcpt_result *results, size_t count, void *ctx)
{
	const char *label = ctx != NULL ? ctx : "delivery";

	for (size_t i = 0; i < count; i++) {
		if (results[i].code / 100 == 2)
			log_info("%s to %s: %d %s %s", label, results[i].address, results[i].code,
			         results[i].enhanced, results[i].text);
		else
			log_warning("%s to %s failed: %d %s %s", label, results[i].address,
			            results[i].code, results[i].enhanced, results[i].text);
	}
}

/* ---------------------------------------------------------------------
 * Resolution and send-as
 */

static void
resolve_done(const struct store_rcpt *rcpts, size_t count, const char *error, void *ctx)
{
	struct delivery_op *op = ctx;
	struct delivery_addr addr = {.address = op->norm[0]};
	uint64_t *members = NULL;

	op->sop = NULL;
	if (rcpts == NULL || count != 1) {
		op->calling = true;
		op->addr_cb(NULL, error != NULL ? error : "address resolution failed", op->ctx);
		delivery_op_free(op);
		return;
	}
	switch (rcpts[0].kind) {
	case STORE_RCPT_LOCAL:
		addr.kind = DELIVERY_ADDR_LOCAL;
		addr.account_id = rcpts[0].naccounts > 0 ? rcpts[0].accounts[0].id : 0;
		break;
	case STORE_RCPT_GROUP:
		addr.kind = DELIVERY_ADDR_GROUP;
		members = xcalloc(rcpts[0].naccounts + 1, sizeof(*members));
		for (size_t i = 0; i < rcpts[0].naccounts; i++)
			members[i] = rcpts[0].accounts[i].id;
		addr.members = members;
		addr.nmembers = rcpts[0].naccounts;
		break;
	case STORE_RCPT_NOSUCH:
		addr.kind = DELIVERY_ADDR_NO_SUCH_USER;
		break;
	case STORE_RCPT_DISABLED:
		addr.kind = DELIVERY_ADDR_DISABLED;
		break;
	case STORE_RCPT_REMOTE:
		addr.kind = DELIVERY_ADDR_REMOTE;
		break;
	}
	op->calling = true;
	op->addr_cb(&addr, NULL, op->ctx);
	free(members);
	delivery_op_free(op);
}

static void
resolve_invalid(evutil_socket_t fd, short what, void *ctx)
{
	struct delivery_op *op = ctx;
	struct delivery_addr addr = {.kind = DELIVERY_ADDR_NO_SUCH_USER, .address = op->rcpts[0]};

	op->calling = true;
	op->addr_cb(&addr, NULL, op->ctx);
	delivery_op_free(op);
}

struct delivery_op *
delivery_resolve(struct delivery *d, const char *address, delivery_addr_cb *cb, void *ctx)
{
	struct delivery_op *op = delivery_op_new(d, DELIVERY_OP_RESOLVE, ctx);

	op->addr_cb = cb;
	op->nrcpts = 1;
	op->rcpts = xcalloc(1, sizeof(char *));
	op->norm = xcalloc(1, sizeof(char *));
	op->rcpts[0] = xstrdup(address != NULL ? address : "");
	op->norm[0] = delivery_normalize(address);
	if (op->norm[0] == NULL)
		delivery_op_defer(op, resolve_invalid);
	else
		op->sop = store_rcpt_resolve(d->store, (const char *const *)op->norm, 1,
		                             resolve_done, op);
	return op;
}

static void
allowed_done(bool value, const char *error, void *ctx)
{
	struct delivery_op *op = ctx;

	op->sop = NULL;
	op->calling = true;
	op->allowed_cb(error == NULL && value, error, op->ctx);
	delivery_op_free(op);
}

static void
allowed_invalid(evutil_socket_t fd, short what, void *ctx)
{
	struct delivery_op *op = ctx;

	op->calling = true;
	op->allowed_cb(false, NULL, op->ctx);
	delivery_op_free(op);
}

struct delivery_op *
delivery_sender_allowed(struct delivery *d, uint64_t account_id, const char *address,
                        delivery_allowed_cb *cb, void *ctx)
{
	struct delivery_op *op = delivery_op_new(d, DELIVERY_OP_ALLOWED, ctx);

	op->allowed_cb = cb;
	op->sender = delivery_normalize(address);
	if (op->sender == NULL)
		delivery_op_defer(op, allowed_invalid);
	else
		op->sop = store_send_as_allowed(d->store, account_id, op->sender, allowed_done, op);
	return op;
}

/* ---------------------------------------------------------------------
 * Local delivery
 */

/* A header value without line breaks or control characters. */
char *
delivery_field_safe(const char *s)
{
	char *out = xstrdup(s != NULL ? s : "");

	for (char *p = out; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return out;
}

const char *
delivery_eol_of(const char *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);

	return nl != NULL && nl > data && nl[-1] == '\r' ? "\r\n" : (nl != NULL ? "\n" : "\r\n");
}

/* The Received: field for this delivery (with its line end). */
char *
delivery_received_field(struct delivery_op *op, const char *for_addr, const char *eol)
{
	char date[64], *helo = delivery_field_safe(op->helo),
	               *addr = delivery_field_safe(op->client_addr);
	char *proto = delivery_field_safe(op->protocol != NULL ? op->protocol : "LMTP");
	char *from, *out;

	responder_date(time(NULL), date);
	if (op->helo != NULL && op->client_addr != NULL)
		from = xasprintf("from %s ([%s])%s\t", helo, addr, eol);
	else if (op->helo != NULL)
		from = xasprintf("from %s%s\t", helo, eol);
	else
		from = xstrdup("");
	if (for_addr != NULL)
		out = xasprintf("Received: %sby %s (Floe) with %s%s\tfor <%s>; %s%s", from,
		                op->d->hostname, proto, eol, for_addr, date, eol);
	else
		out = xasprintf("Received: %sby %s (Floe) with %s; %s%s", from, op->d->hostname,
		                proto, date, eol);
	free(from);
	free(helo);
	free(addr);
	free(proto);
	return out;
}

static void
local_results(struct delivery_op *op)
{
	op->results = xcalloc(op->nrcpts + 1, sizeof(*op->results));
	for (size_t i = 0; i < op->nrcpts; i++) {
		struct delivery_rcpt_result *r = &op->results[i];
		struct delivery_rcpt_state *rs = &op->rs[i];

		r->address = op->rcpts[i];
		switch (rs->kind) {
		case STORE_RCPT_LOCAL:
			if (rs->naccts == 1) {
				struct delivery_acct *a = &op->accts[rs->accts[0]];

				r->code = a->code;
				r->enhanced = a->enhanced;
				r->text = a->text;
				break;
			}
			r->code = 451;
			r->enhanced = "4.3.0";
			r->text = "address resolution failed";
			break;
		case STORE_RCPT_GROUP: {
			size_t ok = 0;
			struct delivery_acct *fail = NULL;

			for (size_t k = 0; k < rs->naccts; k++) {
				struct delivery_acct *a = &op->accts[rs->accts[k]];

				if (a->code / 100 == 2)
					ok++;
				else if (fail == NULL)
					fail = a;
			}
			/* Members that got it must not get it again: once one
			 * did, the group as a whole is accepted. */
			if (ok > 0 || fail == NULL) {
				r->code = 250;
				r->enhanced = "2.0.0";
				r->text = rs->naccts == 0
				              ? "group without members: nothing delivered"
				              : "delivered to the group";
			} else {
				r->code = fail->code;
				r->enhanced = fail->enhanced;
				r->text = fail->text;
			}
			break;
		}
		case STORE_RCPT_NOSUCH:
			r->code = 550;
			r->enhanced = "5.1.1";
			r->text = "no such user here";
			break;
		case STORE_RCPT_DISABLED:
			r->code = 550;
			r->enhanced = "5.2.1";
			r->text = "mailbox disabled";
			break;
		case STORE_RCPT_REMOTE:
			r->code = 550;
			r->enhanced = "5.1.1";
			r->text = "not a local address";
			break;
		}
	}
}

static void
local_finish(struct delivery_op *op)
{
	if (op->results == NULL)
		local_results(op);
	if ((op->flags & DELIVERY_NO_RULES) == 0)
		delivery_rules_run(op);
	if (op->done_cb != NULL) {
		op->calling = true;
		op->done_cb(op->results, op->nrcpts, op->ctx);
	}
	delivery_op_free(op);
}

static void
local_finish_cb(evutil_socket_t fd, short what, void *ctx)
{
	local_finish(ctx);
}

/* Every recipient gets the same answer. */
static void
local_fail_all(struct delivery_op *op, int code, const char *enhanced, const char *text)
{
	op->results = xcalloc(op->nrcpts + 1, sizeof(*op->results));
	for (size_t i = 0; i < op->nrcpts; i++) {
		op->results[i].address = op->rcpts[i];
		op->results[i].code = code;
		op->results[i].enhanced = enhanced;
		op->results[i].text = text;
	}
	op->flags |= DELIVERY_NO_RULES;
}

static void
acct_result(struct delivery_acct *a, int code, const char *enhanced, const char *text)
{
	a->code = code;
	a->enhanced = enhanced;
	free(a->text);
	a->text = xstrdup(text);
}

/* The delivery_acct back-pointer: the op is found through the account's
 * position, kept in a small context. */
struct append_ctx {
	struct delivery_op *op;
	size_t index;
};

static void
append_done(const struct store_append_result *res, enum store_err code, const char *error,
            void *ctx)
{
	struct append_ctx *ac = ctx;
	struct delivery_op *op = ac->op;
	struct delivery_acct *a = &op->accts[ac->index];

	free(ac);
	a->sop = NULL;
	if (code == STORE_OK) {
		acct_result(a, 250, "2.0.0", "delivered");
		log_info("delivered to %s (uid %u)%s", a->address,
		         res != NULL && res->count > 0 ? res->uids[0] : 0,
		         a->nforward > 0 ? ", forwarding it" : "");
	} else if (code == STORE_ERR_OVER_QUOTA) {
		acct_result(a, 452, "4.2.2", "mailbox full: over quota");
		log_info("not delivered to %s: over quota", a->address);
	} else {
		acct_result(a, 451, "4.3.0", "temporary local problem, try again later");
		log_warning("not delivered to %s: %s", a->address, error != NULL ? error : "?");
	}
	if (--op->pending == 0)
		local_finish(op);
}

static size_t
acct_find_or_add(struct delivery_op *op, const struct store_rcpt_account *ra)
{
	struct delivery_acct *a;

	for (size_t i = 0; i < op->naccts; i++) {
		if (op->accts[i].id == ra->id)
			return i;
	}
	op->accts = xreallocarray(op->accts, op->naccts + 1, sizeof(*op->accts));
	a = &op->accts[op->naccts];
	memset(a, 0, sizeof(*a));
	a->id = ra->id;
	a->address = xstrdup(ra->address);
	a->inbox_id = ra->inbox_id;
	a->store = true;
	resp_copy(&a->resp, &ra->responder);
	if (ra->nforward > 0 && (op->flags & DELIVERY_NO_RULES) == 0) {
		if (responder_delivered_to(&op->scan, ra->address)) {
			log_warning("forwarding loop: the message to %s already went through it; "
			            "kept in its INBOX, not forwarded",
			            ra->address);
		} else {
			a->forward = xcalloc(ra->nforward, sizeof(char *));
			for (size_t i = 0; i < ra->nforward; i++)
				a->forward[i] = xstrdup(ra->forward[i]);
			a->nforward = ra->nforward;
			a->store = ra->keep_copy;
		}
	}
	if (!a->store)
		acct_result(a, 250, "2.0.0", "forwarded");
	return op->naccts++;
}

/* Builds the stored bytes (trace fields + the message) and parses them. */
static int
local_prepare(struct delivery_op *op, struct message_info *info, const char **error_r)
{
	const char *eol = delivery_eol_of(op->data, op->size);
	size_t nstore = 0, last = 0;
	char *rp, *dt = NULL, *rcv, *rcv_plain;

	for (size_t i = 0; i < op->naccts; i++) {
		if (op->accts[i].store) {
			nstore++;
			last = i;
		}
	}
	rp = xasprintf("Return-Path: <%s>%s", op->sender, eol);
	if (nstore == 1) {
		dt = xasprintf("Delivered-To: %s%s", op->accts[last].address, eol);
		rcv = delivery_received_field(op, op->accts[last].address, eol);
	} else {
		rcv = delivery_received_field(op, NULL, eol);
	}
	/* Forwarded copies carry the Received: field without "for". */
	rcv_plain = delivery_received_field(op, NULL, eol);
	op->stored_size = strlen(rp) + (dt != NULL ? strlen(dt) : 0) + strlen(rcv) + op->size;
	op->stored = xmalloc(op->stored_size + 1);
	snprintf(op->stored, op->stored_size + 1, "%s%s%s", rp, dt != NULL ? dt : "", rcv);
	memcpy(op->stored + op->stored_size - op->size, op->data, op->size);
	op->stored[op->stored_size] = '\0';
	free(rp);
	free(dt);
	free(rcv);
	op->received = rcv_plain; /* for forwarded copies (delivery-rules.c) */
	if (message_parse(op->stored, op->stored_size, info, error_r) < 0)
		return -1;
	op->subject = xstrdup(info->meta.subject != NULL ? info->meta.subject : "");
	op->from = xstrdup(info->meta.from_addr != NULL ? info->meta.from_addr : "");
	op->message_id = xstrdup(info->meta.message_id != NULL ? info->meta.message_id : "");
	op->references = xstrdup(info->meta.references != NULL ? info->meta.references : "");
	return 0;
}

static void
local_resolved(const struct store_rcpt *rcpts, size_t count, const char *error, void *ctx)
{
	struct delivery_op *op = ctx;
	struct message_info info;
	struct store_append_item item = {0};
	const char *perr;

	op->sop = NULL;
	if (rcpts == NULL || count < op->nrcpts) {
		log_warning("delivery: cannot resolve recipients: %s", error != NULL ? error : "?");
		local_fail_all(op, 451, "4.3.0", "temporary local problem, try again later");
		local_finish(op);
		return;
	}
	op->rs = xcalloc(op->nrcpts, sizeof(*op->rs));
	for (size_t i = 0; i < op->nrcpts; i++) {
		struct delivery_rcpt_state *rs = &op->rs[i];

		rs->kind = rcpts[i].kind;
		if (rs->kind != STORE_RCPT_LOCAL && rs->kind != STORE_RCPT_GROUP)
			continue;
		rs->accts = xcalloc(rcpts[i].naccounts + 1, sizeof(size_t));
		for (size_t k = 0; k < rcpts[i].naccounts; k++) {
			size_t idx = acct_find_or_add(op, &rcpts[i].accounts[k]);

			rs->accts[rs->naccts++] = idx;
			if (rs->kind == STORE_RCPT_LOCAL)
				op->accts[idx].direct = true;
		}
	}
	op->sender_local = count > op->nrcpts && rcpts[op->nrcpts].kind != STORE_RCPT_REMOTE;
	if (op->naccts == 0) {
		local_finish(op); /* no local account: nothing to store or run */
		return;
	}

	memset(&info, 0, sizeof(info));
	if (local_prepare(op, &info, &perr) < 0) {
		log_warning("delivery: message from <%s> cannot be parsed: %s", op->sender, perr);
		message_info_clear(&info);
		local_fail_all(op, 554, "5.6.0", "message cannot be parsed");
		local_finish(op);
		return;
	}
	item.data = op->stored;
	item.size = op->stored_size;
	item.meta = &info.meta;
	for (size_t i = 0; i < op->naccts; i++) {
		struct delivery_acct *a = &op->accts[i];
		struct append_ctx *ac;

		if (!a->store)
			continue;
		if (a->inbox_id == 0) {
			acct_result(a, 451, "4.3.0", "the mailbox has no INBOX");
			log_warning("not delivered to %s: it has no INBOX", a->address);
			continue;
		}
		ac = xcalloc(1, sizeof(*ac));
		ac->op = op;
		ac->index = i;
		op->pending++;
		a->sop = store_append(op->d->store, a->id, a->inbox_id, &item, 1, append_done, ac);
	}
	message_info_clear(&info);
	if (op->pending == 0)
		local_finish(op);
}

void
delivery_msg_copy(struct delivery_op *op, const struct delivery_message *msg)
{
	op->data = xmalloc(msg->size + 1);
	if (msg->size > 0)
		memcpy(op->data, msg->data, msg->size);
	op->data[msg->size] = '\0';
	op->size = msg->size;
	op->sender = delivery_field_safe(msg->mail_from != NULL ? msg->mail_from : "");
	op->helo = msg->helo != NULL ? xstrdup(msg->helo) : NULL;
	op->client_addr = msg->client_addr != NULL ? xstrdup(msg->client_addr) : NULL;
	op->protocol = msg->protocol != NULL ? xstrdup(msg->protocol) : NULL;
}

struct delivery_op *
delivery_local(struct delivery *d, const struct delivery_message *msg, const char *const *rcpts,
               size_t nrcpts, unsigned flags, delivery_done_cb *cb, void *ctx)
{
	struct delivery_op *op = delivery_op_new(d, DELIVERY_OP_LOCAL, ctx);
	char **addrs;
	size_t n = 0;

	op->done_cb = cb;
	op->flags = flags;
	delivery_msg_copy(op, msg);
	op->nrcpts = nrcpts;
	op->rcpts = xcalloc(nrcpts + 1, sizeof(char *));
	op->norm = xcalloc(nrcpts + 1, sizeof(char *));
	for (size_t i = 0; i < nrcpts; i++) {
		op->rcpts[i] = xstrdup(rcpts[i]);
		op->norm[i] = delivery_normalize(rcpts[i]);
		if (op->norm[i] == NULL)
			op->norm[i] = xstrdup(""); /* resolves as not local */
	}
	responder_scan(op->data, op->size, &op->scan);
	if (nrcpts == 0) {
		op->results = xcalloc(1, sizeof(*op->results));
		delivery_op_defer(op, local_finish_cb);
		return op;
	}
	if (op->size == 0) {
		local_fail_all(op, 554, "5.6.0", "empty message");
		delivery_op_defer(op, local_finish_cb);
		return op;
	}
	if (op->scan.received >= d->cfg->delivery.max_hops) {
		log_warning("delivery: message from <%s> refused: %u hops, a mail loop", op->sender,
		            op->scan.received);
		local_fail_all(op, 554, "5.4.6", "too many hops: mail loop");
		delivery_op_defer(op, local_finish_cb);
		return op;
	}
	/* The sender is resolved with the recipients: is it one of ours? */
	addrs = xcalloc(nrcpts + 2, sizeof(char *));
	for (size_t i = 0; i < nrcpts; i++)
		addrs[n++] = op->norm[i];
	char *sender_norm = delivery_normalize(op->sender);

	if (sender_norm != NULL && (flags & DELIVERY_NO_RULES) == 0)
		addrs[n++] = sender_norm;
	op->sop = store_rcpt_resolve(d->store, (const char *const *)addrs, n, local_resolved, op);
	free(sender_norm);
	free(addrs);
	return op;
}
