/* Subscriptions to shared folders, share notices and the changes of many
 * folders at once (store-share.h). Each call is one statement over the SQL
 * functions of db/migrations/0011_sharing.sql. */
#include "store-share.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "store-private.h"
#include "xmalloc.h"

/* --- Subscriptions --- */

struct subscribe_op {
	struct store_op op;
	store_share_subscribe_cb *cb;
};

static void
subscribe_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct subscribe_op *)op)->cb(STORE_SHARE_SUB_NONEXISTENT, code, error, op->ctx);
}

static void
subscribe_done(struct store_op *op, const struct db_result *res)
{
	struct subscribe_op *s = (struct subscribe_op *)op;
	const char *answer = db_result_rows(res) == 1 ? db_result_value(res, 0, 0) : "";
	enum store_share_sub_result result = STORE_SHARE_SUB_OK;

	if (strcmp(answer, "own") == 0)
		result = STORE_SHARE_SUB_OWN;
	else if (strcmp(answer, "nonexistent") == 0)
		result = STORE_SHARE_SUB_NONEXISTENT;
	else if (strcmp(answer, "ok") != 0) {
		store_op_fail(op, STORE_ERR_INTERNAL, "unexpected answer to a subscription");
		return;
	}
	store_op_deliver_begin(op);
	s->cb(result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_share_subscribe(struct store *store, uint64_t user_id, const char *owner, const char *path,
                      bool subscribe, store_share_subscribe_cb *cb, void *ctx)
{
	struct subscribe_op *s =
	    (struct subscribe_op *)store_op_new(store, sizeof(*s), subscribe_fail, ctx);
	struct store_params p = {0};
	const char *error;

	s->cb = cb;
	if (path != NULL && *path != '\0' && store_path_check(path, &error) < 0)
		return store_op_fail_later(&s->op, STORE_ERR_INVALID, "%s", error);
	if (owner == NULL || *owner == '\0' || strlen(owner) > 512 ||
	    !store_utf8_valid(owner, strlen(owner)))
		return store_op_fail_later(&s->op, STORE_ERR_INVALID, "invalid account name");
	store_param_u64(&p, user_id);
	store_param(&p, owner);
	store_param(&p, path);
	store_param(&p, subscribe ? "true" : "false");
	store_op_query(&s->op, "SELECT floe_share_subscribe($1, $2, $3, $4)", &p, subscribe_done);
	return &s->op;
}

/* --- Claiming notices --- */

struct claim_op {
	struct store_op op;
	store_share_notice_claim_cb *cb;
};

static void
claim_fail(struct store_op *op, enum store_err code, const char *error)
{
	(void)code;
	((struct claim_op *)op)->cb(NULL, 0, error, op->ctx);
}

/* Columns as floe_share_notice_claim returns them. */
static void
claim_done(struct store_op *op, const struct db_result *res)
{
	struct claim_op *c = (struct claim_op *)op;
	int rows = db_result_rows(res);
	struct store_share_notice *v = store_op_calloc(op, (size_t)rows + 1, sizeof(*v));

	for (int r = 0; r < rows; r++) {
		struct store_share_notice *n = &v[r];

		n->id = store_u64(db_result_value(res, r, 0));
		n->account_id = store_u64(db_result_value(res, r, 1));
		n->inbox_id = store_u64(db_result_value(res, r, 2));
		n->address = store_op_strdup(op, db_result_value(res, r, 3));
		n->name = store_op_strdup(op, db_result_value(res, r, 4));
		n->owner = store_op_strdup(op, db_result_value(res, r, 5));
		n->owner_name = store_op_strdup(op, db_result_value(res, r, 6));
		n->folder = db_result_isnull(res, r, 7)
		                ? NULL
		                : store_op_strdup(op, db_result_value(res, r, 7));
		n->unshare = strcmp(db_result_value(res, r, 8), "unshare") == 0;
		n->rights = store_op_strdup(op, db_result_value(res, r, 9));
		n->created = (time_t)store_u64(db_result_value(res, r, 10));
		n->attempts = (unsigned)store_u64(db_result_value(res, r, 11));
	}
	store_op_deliver_begin(op);
	c->cb(v, (size_t)rows, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_share_notice_claim(struct store *store, const char *runner, unsigned max, unsigned lease_ms,
                         store_share_notice_claim_cb *cb, void *ctx)
{
	struct claim_op *c = (struct claim_op *)store_op_new(store, sizeof(*c), claim_fail, ctx);
	struct store_params p = {0};

	c->cb = cb;
	store_param(&p, runner);
	store_paramf(&p, "%u", max > 0 ? max : 1);
	store_paramf(&p, "%u", lease_ms > 0 ? lease_ms : 1000);
	store_op_query(&c->op,
	               "SELECT r_id, r_account, coalesce(r_inbox, 0), r_address, r_name, r_owner,"
	               " r_owner_name, r_folder, r_method, r_rights, r_created, r_attempts"
	               " FROM floe_share_notice_claim($1, $2, $3)",
	               &p, claim_done);
	return &c->op;
}

/* --- Delivering one --- */

struct deliver_op {
	struct store_op op;
	store_share_notice_deliver_cb *cb;
};

static void
deliver_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct deliver_op *)op)->cb(false, 0, code, error, op->ctx);
}

static void
deliver_done(struct store_op *op, const struct db_result *res)
{
	struct deliver_op *d = (struct deliver_op *)op;
	bool delivered = db_result_rows(res) > 0;
	uint32_t uid = delivered ? (uint32_t)store_u64(db_result_value(res, 0, 1)) : 0;

	if (delivered && store_bool(db_result_value(res, 0, 3)))
		store_stats_refresh(op);
	store_op_deliver_begin(op);
	d->cb(delivered, uid, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_share_notice_deliver(struct store *store, const struct store_share_notice *n,
                           const void *data, size_t size, const struct store_msg_meta *meta,
                           store_share_notice_deliver_cb *cb, void *ctx)
{
	struct deliver_op *d =
	    (struct deliver_op *)store_op_new(store, sizeof(*d), deliver_fail, ctx);
	struct store_params p = {0};
	json_t *items, *obj;
	char *datas, *out, *json;

	d->cb = cb;
	if (n->inbox_id == 0)
		return store_op_fail_later(&d->op, STORE_ERR_NOT_FOUND, "the account has no INBOX");
	if (data == NULL || size == 0)
		return store_op_fail_later(&d->op, STORE_ERR_INVALID, "nothing to append");
	obj = json_object();
	json_object_set_new(obj, "flags", json_array());
	if (meta != NULL)
		json_object_set_new(obj, "meta", store_meta_json(meta));
	items = json_array();
	json_array_append_new(items, obj);
	json = json_dumps(items, JSON_COMPACT);
	json_decref(items);
	if (json == NULL)
		return store_op_fail_later(&d->op, STORE_ERR_INTERNAL,
		                           "cannot encode the message data");
	/* The message travels as a one-element text[] of base64, as store_append
	 * sends it. */
	datas = xmalloc(BASE64_ENCODED_LEN(size) + 5);
	out = datas;
	*out++ = '{';
	*out++ = '"';
	out = base64_encode_into(out, data, size);
	*out++ = '"';
	*out++ = '}';
	*out = '\0';
	store_param_u64(&p, n->id);
	store_param_u64(&p, n->account_id);
	store_param_u64(&p, n->inbox_id);
	store_param_take(&p, datas);
	store_param(&p, json);
	free(json);
	store_op_query(&d->op,
	               "SELECT r_uidvalidity, r_uid, r_modseq, r_analyze::text"
	               " FROM floe_share_notice_deliver($1, $2, $3, $4, $5)",
	               &p, deliver_done);
	return &d->op;
}

/* --- Retrying or dropping one --- */

struct done_op {
	struct store_op op;
	store_done_cb *cb;
};

static void
done_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct done_op *)op)->cb(code, error, op->ctx);
}

static void
done_ok(struct store_op *op, const struct db_result *res)
{
	(void)res;
	store_op_deliver_begin(op);
	((struct done_op *)op)->cb(STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_share_notice_retry(struct store *store, uint64_t id, uint64_t account_id, unsigned delay_ms,
                         const char *error, store_done_cb *cb, void *ctx)
{
	struct done_op *d = (struct done_op *)store_op_new(store, sizeof(*d), done_fail, ctx);
	struct store_params p = {0};
	char *clean = store_utf8_clean(error != NULL ? error : "");

	d->cb = cb;
	store_param_u64(&p, id);
	store_param_u64(&p, account_id);
	store_paramf(&p, "%u", delay_ms);
	store_param_take(&p, clean);
	store_op_query(&d->op,
	               "UPDATE share_notices SET next_try = now() + $3 * interval '1 millisecond',"
	               " lease_until = NULL, last_error = $4"
	               " WHERE id = $1 AND account_id = $2",
	               &p, done_ok);
	return &d->op;
}

struct store_op *
store_share_notice_drop(struct store *store, uint64_t id, uint64_t account_id, store_done_cb *cb,
                        void *ctx)
{
	struct done_op *d = (struct done_op *)store_op_new(store, sizeof(*d), done_fail, ctx);
	struct store_params p = {0};

	d->cb = cb;
	store_param_u64(&p, id);
	store_param_u64(&p, account_id);
	store_op_query(&d->op, "DELETE FROM share_notices WHERE id = $1 AND account_id = $2", &p,
	               done_ok);
	return &d->op;
}

/* --- Changes of many folders --- */

struct changes_op {
	struct store_op op;
	store_folder_changes_cb *cb;
};

static void
changes_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct changes_op *)op)->cb(NULL, 0, code, error, op->ctx);
}

/* Blank-separated UIDs into pool memory. */
static uint32_t *
changes_uids(struct store_op *op, const char *text, size_t *count_r)
{
	size_t n = 0, cap = 1;
	uint32_t *uids;

	for (const char *p = text; *p != '\0'; p++) {
		if (*p == ' ')
			cap++;
	}
	uids = store_op_calloc(op, cap, sizeof(*uids));
	for (const char *p = text; *p != '\0';) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (end == p)
			break;
		if (n < cap)
			uids[n++] = (uint32_t)v;
		p = end;
		while (*p == ' ')
			p++;
	}
	*count_r = n;
	return uids;
}

/* Columns: owner, folder, changed UIDs, vanished UIDs (blank-separated). */
static void
changes_done(struct store_op *op, const struct db_result *res)
{
	struct changes_op *c = (struct changes_op *)op;
	int rows = db_result_rows(res);
	struct store_folder_changes *v = store_op_calloc(op, (size_t)rows + 1, sizeof(*v));

	for (int r = 0; r < rows; r++) {
		struct store_folder_changes *f = &v[r];
		size_t count;
		uint32_t *uids = changes_uids(op, db_result_value(res, r, 2), &count);
		struct store_msg *msgs = store_op_calloc(op, count + 1, sizeof(*msgs));

		f->owner_id = store_u64(db_result_value(res, r, 0));
		f->folder_id = store_u64(db_result_value(res, r, 1));
		for (size_t i = 0; i < count; i++)
			msgs[i].uid = uids[i];
		f->list.msgs = msgs;
		f->list.count = count;
		f->list.vanished = changes_uids(op, db_result_value(res, r, 3), &f->list.nvanished);
	}
	store_op_deliver_begin(op);
	c->cb(v, (size_t)rows, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

/* $1 user, $2 modseq, $3 shared too. Each folder's lists come from its
 * (account_id, folder_id, modseq) ranges, as store_changes reads them. */
static const char changes_sql[] =
    "WITH f AS ("
    " SELECT fo.account_id AS owner, fo.id FROM folders fo"
    " WHERE fo.account_id = $1 AND NOT fo.noselect"
    " UNION ALL"
    " SELECT s.r_owner, s.r_folder FROM floe_acl_shared($1) s"
    " JOIN folders fo ON fo.account_id = s.r_owner AND fo.id = s.r_folder AND NOT fo.noselect"
    " WHERE $3 AND strpos(s.r_rights, 'r') > 0) "
    "SELECT f.owner::text, f.id::text,"
    " coalesce((SELECT string_agg(i.uid::text, ' ' ORDER BY i.uid) FROM items i"
    " WHERE i.account_id = f.owner AND i.folder_id = f.id AND i.modseq > $2), ''),"
    " coalesce((SELECT string_agg(t.uid::text, ' ' ORDER BY t.uid) FROM tombstones t"
    " WHERE t.account_id = f.owner AND t.folder_id = f.id AND t.modseq > $2), '')"
    " FROM f";

struct store_op *
store_changes_folders(struct store *store, uint64_t user_id, uint64_t since, bool shared,
                      store_folder_changes_cb *cb, void *ctx)
{
	struct changes_op *c =
	    (struct changes_op *)store_op_new(store, sizeof(*c), changes_fail, ctx);
	struct store_params p = {0};

	c->cb = cb;
	store_param_u64(&p, user_id);
	store_param_u64(&p, since);
	store_param(&p, shared ? "true" : "false");
	store_op_query(&c->op, changes_sql, &p, changes_done);
	return &c->op;
}
