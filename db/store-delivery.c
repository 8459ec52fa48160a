/* The store side of local delivery: address resolution (floe_resolve in
 * db/migrations/0007_delivery.sql) parsed into accounts with forwarding
 * and responder settings, the responder claim, special folders and
 * send-as checks. */
#include "store-delivery.h"

#include <stdlib.h>
#include <string.h>

#include "store-private.h"
#include "xmalloc.h"

/* A text[] literal of strings, each quoted. */
static char *
text_array(const char *const *items, size_t count)
{
	struct store_str s = {0};

	store_str_add(&s, "{");
	for (size_t i = 0; i < count; i++) {
		store_str_add(&s, i > 0 ? ",\"" : "\"");
		for (const char *c = items[i]; *c != '\0'; c++) {
			char ch[3] = {0};

			if (*c == '"' || *c == '\\') {
				ch[0] = '\\';
				ch[1] = *c;
			} else {
				ch[0] = *c;
			}
			store_str_add(&s, ch);
		}
		store_str_add(&s, "\"");
	}
	store_str_add(&s, "}");
	return s.s;
}

/* Splits a newline-separated list (array_to_string(..., chr(10))) into
 * pool memory. NULL and count 0 for SQL NULL. */
static const char *const *
split_lines(struct store_op *op, const struct db_result *res, int row, int col, size_t *count_r)
{
	const char *text, *p, *nl;
	const char **items;
	size_t n = 1;

	*count_r = 0;
	if (db_result_isnull(res, row, col))
		return NULL;
	text = db_result_value(res, row, col);
	if (*text == '\0')
		return NULL;
	for (p = text; *p != '\0'; p++)
		n += *p == '\n';
	items = store_op_calloc(op, n + 1, sizeof(*items));
	for (p = text;; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			items[(*count_r)++] = store_op_strdup(op, p);
			break;
		}
		char *item = store_op_alloc(op, (size_t)(nl - p) + 1);

		memcpy(item, p, (size_t)(nl - p));
		item[nl - p] = '\0';
		items[(*count_r)++] = item;
	}
	return items;
}

static const char *
opt_text(struct store_op *op, const struct db_result *res, int row, int col)
{
	if (db_result_isnull(res, row, col))
		return NULL;
	return store_op_strdup(op, db_result_value(res, row, col));
}

static enum store_responder_mode
mode_parse(const char *text)
{
	if (strcmp(text, "always") == 0)
		return STORE_RESPONDER_ALWAYS;
	if (strcmp(text, "once") == 0)
		return STORE_RESPONDER_ONCE;
	if (strcmp(text, "interval") == 0)
		return STORE_RESPONDER_INTERVAL;
	return STORE_RESPONDER_OFF;
}

/* --- Resolution --- */

struct rcpt_op {
	struct store_op op;
	store_rcpt_cb *cb;
	size_t count;
};

static void
rcpt_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct rcpt_op *)op)->cb(NULL, 0, error, op->ctx);
}

static enum store_rcpt_kind
kind_parse(const char *text)
{
	if (strcmp(text, "local") == 0)
		return STORE_RCPT_LOCAL;
	if (strcmp(text, "group") == 0)
		return STORE_RCPT_GROUP;
	if (strcmp(text, "disabled") == 0)
		return STORE_RCPT_DISABLED;
	if (strcmp(text, "nosuch") == 0)
		return STORE_RCPT_NOSUCH;
	return STORE_RCPT_REMOTE;
}

static void
rcpt_account_parse(struct store_op *op, const struct db_result *res, int r,
                   struct store_rcpt_account *a)
{
	struct store_responder *resp = &a->responder;

	a->id = store_u64(db_result_value(res, r, 2));
	a->address = store_op_strdup(op, db_result_value(res, r, 3));
	a->inbox_id = db_result_isnull(res, r, 4) ? 0 : store_u64(db_result_value(res, r, 4));
	a->forward = split_lines(op, res, r, 5, &a->nforward);
	a->keep_copy = db_result_isnull(res, r, 6) || store_bool(db_result_value(res, r, 6));
	if (db_result_isnull(res, r, 7)) {
		resp->mode = STORE_RESPONDER_OFF;
		resp->subject = resp->body = "";
		resp->reply_external = true;
		return;
	}
	resp->mode = mode_parse(db_result_value(res, r, 7));
	resp->interval_days = (unsigned)store_u64(db_result_value(res, r, 8));
	resp->starts_at =
	    db_result_isnull(res, r, 9) ? 0 : (time_t)strtod(db_result_value(res, r, 9), NULL);
	resp->ends_at =
	    db_result_isnull(res, r, 10) ? 0 : (time_t)strtod(db_result_value(res, r, 10), NULL);
	resp->subject = store_op_strdup(op, db_result_value(res, r, 11));
	resp->body = store_op_strdup(op, db_result_value(res, r, 12));
	resp->external_body = opt_text(op, res, r, 13);
	resp->reply_external = store_bool(db_result_value(res, r, 14));
	resp->never_reply = split_lines(op, res, r, 15, &resp->nnever_reply);
}

/* Rows are ordered by address number (column 0, from 1), several per
 * group. */
static void
rcpt_done(struct store_op *op, const struct db_result *res)
{
	struct rcpt_op *ro = (struct rcpt_op *)op;
	int rows = db_result_rows(res);
	struct store_rcpt *rcpts = store_op_calloc(op, ro->count + 1, sizeof(*rcpts));
	struct store_rcpt_account *accts = store_op_calloc(op, (size_t)rows + 1, sizeof(*accts));
	size_t nacct = 0;

	for (size_t i = 0; i < ro->count; i++)
		rcpts[i].kind = STORE_RCPT_REMOTE;
	for (int r = 0; r < rows; r++) {
		size_t ord = (size_t)store_u64(db_result_value(res, r, 0));
		struct store_rcpt *rc;

		if (ord < 1 || ord > ro->count) {
			store_op_fail(op, STORE_ERR_INTERNAL, "address resolution out of order");
			return;
		}
		rc = &rcpts[ord - 1];
		rc->kind = kind_parse(db_result_value(res, r, 1));
		if (db_result_isnull(res, r, 2))
			continue;
		if (rc->naccounts == 0)
			rc->accounts = &accts[nacct];
		rcpt_account_parse(op, res, r, &accts[nacct++]);
		rc->naccounts++;
	}
	store_op_deliver_begin(op);
	ro->cb(rcpts, ro->count, NULL, op->ctx);
	store_op_finish(op);
}

static const char rcpt_sql[] =
    "SELECT r_ord, r_kind, r_account, r_address, r_inbox, array_to_string(r_forward, chr(10)),"
    " r_keep_copy, r_mode, r_interval, r_starts, r_ends, r_subject, r_body, r_external_body,"
    " r_reply_external, array_to_string(r_never, chr(10))"
    " FROM floe_resolve($1::text[]) ORDER BY r_ord, r_account";

struct store_op *
store_rcpt_resolve(struct store *store, const char *const *addresses, size_t count,
                   store_rcpt_cb *cb, void *ctx)
{
	struct rcpt_op *ro = (struct rcpt_op *)store_op_new(store, sizeof(*ro), rcpt_fail, ctx);
	struct store_params p = {0};

	ro->cb = cb;
	ro->count = count;
	if (count == 0)
		return store_op_fail_later(&ro->op, STORE_ERR_INVALID, "no address to resolve");
	for (size_t i = 0; i < count; i++) {
		if (!store_utf8_valid(addresses[i], strlen(addresses[i])))
			return store_op_fail_later(&ro->op, STORE_ERR_INVALID,
			                           "address is not valid UTF-8");
	}
	store_param_take(&p, text_array(addresses, count));
	store_op_query(&ro->op, rcpt_sql, &p, rcpt_done);
	return &ro->op;
}

/* --- Responder claim --- */

struct claim_op {
	struct store_op op;
	store_claim_cb *cb;
};

static void
claim_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct claim_op *)op)->cb(false, error, op->ctx);
}

static void
claim_done(struct store_op *op, const struct db_result *res)
{
	struct claim_op *c = (struct claim_op *)op;
	bool claimed = db_result_rows(res) == 1 && store_bool(db_result_value(res, 0, 0));

	store_op_deliver_begin(op);
	c->cb(claimed, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_responder_claim(struct store *store, uint64_t account_id, const char *sender,
                      unsigned interval_days, store_claim_cb *cb, void *ctx)
{
	struct claim_op *c = (struct claim_op *)store_op_new(store, sizeof(*c), claim_fail, ctx);
	struct store_params p = {0};

	c->cb = cb;
	if (!store_utf8_valid(sender, strlen(sender)))
		return store_op_fail_later(&c->op, STORE_ERR_INVALID, "sender is not valid UTF-8");
	store_param_u64(&p, account_id);
	store_param(&p, sender);
	store_paramf(&p, "%u", interval_days);
	store_op_query(&c->op, "SELECT floe_responder_claim($1, $2, $3::int)", &p, claim_done);
	return &c->op;
}

/* --- Special folders and send-as --- */

struct special_op {
	struct store_op op;
	store_special_cb *cb;
};

static void
special_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct special_op *)op)->cb(0, error, op->ctx);
}

static void
special_done(struct store_op *op, const struct db_result *res)
{
	struct special_op *s = (struct special_op *)op;
	uint64_t id = db_result_rows(res) > 0 ? store_u64(db_result_value(res, 0, 0)) : 0;

	store_op_deliver_begin(op);
	s->cb(id, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_special_folder(struct store *store, uint64_t account_id, const char *special_use,
                     store_special_cb *cb, void *ctx)
{
	struct special_op *s =
	    (struct special_op *)store_op_new(store, sizeof(*s), special_fail, ctx);
	struct store_params p = {0};

	s->cb = cb;
	store_param_u64(&p, account_id);
	store_param(&p, special_use);
	store_op_query(&s->op,
	               "SELECT f.id FROM folders f WHERE f.account_id = $1 AND f.special_use = $2"
	               " AND NOT f.noselect",
	               &p, special_done);
	return &s->op;
}

struct bool_op {
	struct store_op op;
	store_bool_cb *cb;
};

static void
bool_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct bool_op *)op)->cb(false, error, op->ctx);
}

static void
bool_done(struct store_op *op, const struct db_result *res)
{
	struct bool_op *b = (struct bool_op *)op;
	bool value = db_result_rows(res) == 1 && store_bool(db_result_value(res, 0, 0));

	store_op_deliver_begin(op);
	b->cb(value, NULL, op->ctx);
	store_op_finish(op);
}

/* $1 account, $2 the address. */
static const char send_as_sql[] =
    "SELECT EXISTS (SELECT 1 FROM accounts a JOIN domains d ON d.id = a.domain_id"
    "  WHERE a.id = $1 AND a.local_part || '@' || d.name = $2)"
    " OR EXISTS (SELECT 1 FROM aliases al JOIN domains d ON d.id = al.domain_id"
    "  WHERE al.account_id = $1 AND al.local_part || '@' || d.name = $2)"
    " OR EXISTS (SELECT 1 FROM send_as s WHERE s.account_id = $1 AND s.address = $2)";

struct store_op *
store_send_as_allowed(struct store *store, uint64_t account_id, const char *address,
                      store_bool_cb *cb, void *ctx)
{
	struct bool_op *b = (struct bool_op *)store_op_new(store, sizeof(*b), bool_fail, ctx);
	struct store_params p = {0};

	b->cb = cb;
	if (!store_utf8_valid(address, strlen(address)))
		return store_op_fail_later(&b->op, STORE_ERR_INVALID, "address is not valid UTF-8");
	store_param_u64(&p, account_id);
	store_param(&p, address);
	store_op_query(&b->op, send_as_sql, &p, bool_done);
	return &b->op;
}
