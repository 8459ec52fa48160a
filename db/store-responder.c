/* Auto-responder settings in the store (db/store-responder.h): read for
 * EAS Oof and administration, replaced in one statement that also forgets
 * whom the responder has answered. */
#include "store-responder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-private.h"
#include "xmalloc.h"

static const char *
mode_name(enum store_responder_mode mode)
{
	switch (mode) {
	case STORE_RESPONDER_ALWAYS:
		return "always";
	case STORE_RESPONDER_ONCE:
		return "once";
	case STORE_RESPONDER_INTERVAL:
		return "interval";
	case STORE_RESPONDER_OFF:
		break;
	}
	return "off";
}

/* --- Reading --- */

struct get_op {
	struct store_op op;
	store_responder_cb *cb;
};

static void
get_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct get_op *)op)->cb(NULL, code, error, op->ctx);
}

static const char *const *
lines(struct store_op *op, const char *text, size_t *count_r)
{
	size_t n = 1, len;
	const char **items;
	const char *p, *nl;

	*count_r = 0;
	if (*text == '\0')
		return NULL;
	for (p = text; *p != '\0'; p++)
		n += *p == '\n';
	items = store_op_calloc(op, n + 1, sizeof(*items));
	for (p = text;; p = nl + 1) {
		char *item;

		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		item = store_op_alloc(op, len + 1);
		memcpy(item, p, len);
		item[len] = '\0';
		items[(*count_r)++] = item;
		if (nl == NULL)
			break;
	}
	return items;
}

/* Columns: mode, interval, starts, ends (epoch or NULL), subject, body,
 * external body (or NULL), reply_external, never list. */
static void
get_done(struct store_op *op, const struct db_result *res)
{
	struct get_op *g = (struct get_op *)op;
	struct store_responder r = {
	    .mode = STORE_RESPONDER_OFF, .subject = "", .body = "", .reply_external = true};

	if (db_result_rows(res) == 1) {
		const char *mode = db_result_value(res, 0, 0);

		r.mode = strcmp(mode, "always") == 0     ? STORE_RESPONDER_ALWAYS
		         : strcmp(mode, "once") == 0     ? STORE_RESPONDER_ONCE
		         : strcmp(mode, "interval") == 0 ? STORE_RESPONDER_INTERVAL
		                                         : STORE_RESPONDER_OFF;
		r.interval_days = (unsigned)store_u64(db_result_value(res, 0, 1));
		if (!db_result_isnull(res, 0, 2))
			r.starts_at = (time_t)strtod(db_result_value(res, 0, 2), NULL);
		if (!db_result_isnull(res, 0, 3))
			r.ends_at = (time_t)strtod(db_result_value(res, 0, 3), NULL);
		r.subject = store_op_strdup(op, db_result_value(res, 0, 4));
		r.body = store_op_strdup(op, db_result_value(res, 0, 5));
		if (!db_result_isnull(res, 0, 6))
			r.external_body = store_op_strdup(op, db_result_value(res, 0, 6));
		r.reply_external = store_bool(db_result_value(res, 0, 7));
		r.never_reply = lines(op, db_result_value(res, 0, 8), &r.nnever_reply);
	}
	store_op_deliver_begin(op);
	g->cb(&r, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_responder_get(struct store *store, uint64_t account_id, store_responder_cb *cb, void *ctx)
{
	struct get_op *g = (struct get_op *)store_op_new(store, sizeof(*g), get_fail, ctx);
	struct store_params p = {0};

	g->cb = cb;
	store_param_u64(&p, account_id);
	store_op_query(&g->op,
	               "SELECT r.mode, r.interval_days, extract(epoch FROM r.starts_at),"
	               " extract(epoch FROM r.ends_at), r.subject, r.body, r.external_body,"
	               " r.reply_external, array_to_string(r.never_reply, chr(10))"
	               " FROM responders r WHERE r.account_id = $1",
	               &p, get_done);
	return &g->op;
}

/* --- Writing --- */

struct set_op {
	struct store_op op;
	store_done_cb *cb;
};

static void
set_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct set_op *)op)->cb(code, error, op->ctx);
}

static void
set_done(struct store_op *op, const struct db_result *res)
{
	struct set_op *s = (struct set_op *)op;

	if (db_result_rows(res) != 1) {
		store_op_fail(op, STORE_ERR_NOT_FOUND, "no such account");
		return;
	}
	store_op_deliver_begin(op);
	s->cb(STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

/* A text[] literal of the never-answer entries, lower-cased. */
static char *
never_array(const struct store_responder *r)
{
	struct store_str s = {0};

	store_str_add(&s, "{");
	for (size_t i = 0; i < r->nnever_reply; i++) {
		store_str_add(&s, i > 0 ? ",\"" : "\"");
		for (const char *c = r->never_reply[i]; *c != '\0'; c++) {
			char ch[3] = {0};

			if (*c == '"' || *c == '\\') {
				ch[0] = '\\';
				ch[1] = *c;
			} else {
				ch[0] = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
			}
			store_str_add(&s, ch);
		}
		store_str_add(&s, "\"");
	}
	store_str_add(&s, "}");
	return s.s;
}

/* One statement: the upsert, then the log of the account emptied (a
 * data-modifying CTE runs whether or not its rows are read). */
static const char set_sql[] =
    "WITH u AS (INSERT INTO responders AS r (account_id, mode, interval_days, starts_at,"
    "  ends_at, subject, body, external_body, reply_external, never_reply, updated_at)"
    " SELECT a.id, $2, $3::int, to_timestamp($4::float8), to_timestamp($5::float8), $6, $7,"
    "  $8, $9::boolean, $10::text[], now() FROM accounts a WHERE a.id = $1"
    " ON CONFLICT (account_id) DO UPDATE SET mode = EXCLUDED.mode,"
    "  interval_days = EXCLUDED.interval_days, starts_at = EXCLUDED.starts_at,"
    "  ends_at = EXCLUDED.ends_at, subject = EXCLUDED.subject, body = EXCLUDED.body,"
    "  external_body = EXCLUDED.external_body, reply_external = EXCLUDED.reply_external,"
    "  never_reply = EXCLUDED.never_reply, updated_at = now()"
    " RETURNING r.account_id),"
    " d AS (DELETE FROM responder_log l WHERE l.account_id = $1)"
    " SELECT account_id FROM u";

struct store_op *
store_responder_set(struct store *store, uint64_t account_id, const struct store_responder *r,
                    store_done_cb *cb, void *ctx)
{
	struct set_op *s = (struct set_op *)store_op_new(store, sizeof(*s), set_fail, ctx);
	struct store_params p = {0};
	const char *texts[3];

	s->cb = cb;
	if (r->mode == STORE_RESPONDER_INTERVAL && r->interval_days == 0)
		return store_op_fail_later(&s->op, STORE_ERR_INVALID,
		                           "interval mode needs an interval of at least one day");
	if (r->interval_days > 3650)
		return store_op_fail_later(&s->op, STORE_ERR_INVALID,
		                           "the interval may be at most 3650 days");
	if (r->starts_at != 0 && r->ends_at != 0 && r->ends_at < r->starts_at)
		return store_op_fail_later(&s->op, STORE_ERR_INVALID,
		                           "the responder's end is before its start");
	texts[0] = r->subject;
	texts[1] = r->body;
	texts[2] = r->external_body;
	for (size_t i = 0; i < 3; i++) {
		if (texts[i] != NULL && !store_utf8_valid(texts[i], strlen(texts[i])))
			return store_op_fail_later(&s->op, STORE_ERR_INVALID,
			                           "responder text is not valid UTF-8");
	}
	for (size_t i = 0; i < r->nnever_reply; i++) {
		if (!store_utf8_valid(r->never_reply[i], strlen(r->never_reply[i])) ||
		    strchr(r->never_reply[i], '\n') != NULL || r->never_reply[i][0] == '\0')
			return store_op_fail_later(&s->op, STORE_ERR_INVALID,
			                           "invalid never-answer entry");
	}
	store_param_u64(&p, account_id);
	store_param(&p, mode_name(r->mode));
	store_paramf(&p, "%u", r->interval_days);
	if (r->starts_at != 0)
		store_paramf(&p, "%lld", (long long)r->starts_at);
	else
		store_param(&p, NULL);
	if (r->ends_at != 0)
		store_paramf(&p, "%lld", (long long)r->ends_at);
	else
		store_param(&p, NULL);
	store_param(&p, r->subject != NULL ? r->subject : "");
	store_param(&p, r->body != NULL ? r->body : "");
	store_param(&p, r->external_body);
	store_param(&p, r->reply_external ? "true" : "false");
	store_param_take(&p, never_array(r));
	store_op_query(&s->op, set_sql, &p, set_done);
	return &s->op;
}
