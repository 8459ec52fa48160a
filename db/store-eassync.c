/* ActiveSync Sync state (db/store-eassync.h): thin wrappers over the SQL
 * functions of 0006_activesync_sync.sql, one statement each, so a Sync
 * request costs a load, a diff per collection and one commit. */
#include "store-eassync.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store-private.h"
#include "xmalloc.h"

static const char *
value_or_null(const struct db_result *res, int row, int col)
{
	return db_result_isnull(res, row, col) ? NULL : db_result_value(res, row, col);
}

/* "{1,2,3}" from count numbers (u32 or u64). */
static char *
array_u32(const uint32_t *v, size_t n)
{
	struct store_str s = {0};

	store_str_add(&s, "{");
	for (size_t i = 0; i < n; i++)
		store_str_addf(&s, "%s%" PRIu32, i > 0 ? "," : "", v[i]);
	store_str_add(&s, "}");
	return s.s;
}

static char *
array_u64(const uint64_t *v, size_t n)
{
	struct store_str s = {0};

	store_str_add(&s, "{");
	for (size_t i = 0; i < n; i++)
		store_str_addf(&s, "%s%" PRIu64, i > 0 ? "," : "", v[i]);
	store_str_add(&s, "}");
	return s.s;
}

/* --- Load --- */

struct load_op {
	struct store_op op;
	store_eassync_load_cb *cb;
};

static void
load_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct load_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
load_done(struct store_op *op, const struct db_result *res)
{
	struct load_op *l = (struct load_op *)op;
	int rows = db_result_rows(res);
	struct store_eassync_collection *cols =
	    store_op_calloc(op, (size_t)rows + 1, sizeof(*cols));
	struct store_eassync_load_result result = {.collections = cols};

	for (int r = 0; r < rows; r++) {
		struct store_eassync_collection *c;

		if (r == 0) {
			result.trash_id = store_u64(db_result_value(res, 0, 0));
			result.last_request = value_or_null(res, 0, 1);
		}
		if (db_result_isnull(res, r, 2))
			continue; /* no collections asked */
		c = &cols[result.count++];
		c->folder_id = store_u64(db_result_value(res, r, 2));
		c->exists = store_bool(db_result_value(res, r, 3));
		c->type = value_or_null(res, r, 4);
		c->special_use = value_or_null(res, r, 5);
		c->uidvalidity = (uint32_t)store_u64(db_result_value(res, r, 6));
		c->highestmodseq = store_u64(db_result_value(res, r, 7));
		c->messages = (uint32_t)store_u64(db_result_value(res, r, 8));
		c->generation = value_or_null(res, r, 9);
		c->current_key = (uint32_t)store_u64(db_result_value(res, r, 10));
		c->options = value_or_null(res, r, 11);
		c->has_previous = store_bool(db_result_value(res, r, 12));
		c->key_uidvalidity = (uint32_t)store_u64(db_result_value(res, r, 13));
		c->replay = value_or_null(res, r, 14);
	}
	store_op_deliver_begin(op);
	l->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

static const char load_sql[] =
    "SELECT h.trash::text, h.req, x.* FROM ("
    " SELECT (SELECT t.id FROM folders t WHERE t.account_id = $1"
    "  AND t.special_use = 'trash') AS trash,"
    " (SELECT r.collections::text FROM eas_sync_requests r"
    "  WHERE r.account_id = $1 AND r.device_id = $2) AS req) h"
    " LEFT JOIN LATERAL ("
    " SELECT x.fid::text, (f.id IS NOT NULL AND NOT f.noselect)::text, f.type, f.special_use,"
    " f.uidvalidity::text, f.highestmodseq::text, f.messages::text, c.generation,"
    " c.current_key::text, c.options::text,"
    " EXISTS (SELECT 1 FROM eas_sync_keys p WHERE p.account_id = $1 AND p.device_id = $2"
    "  AND p.folder_id = x.fid AND p.sync_key = c.current_key - 1)::text,"
    " k.uidvalidity::text, k.replay::text, x.n"
    " FROM unnest($3::bigint[]) WITH ORDINALITY AS x(fid, n)"
    " LEFT JOIN folders f ON f.account_id = $1 AND f.id = x.fid"
    " LEFT JOIN eas_sync_collections c ON c.account_id = $1 AND c.device_id = $2"
    "  AND c.folder_id = x.fid"
    " LEFT JOIN eas_sync_keys k ON k.account_id = $1 AND k.device_id = $2"
    "  AND k.folder_id = x.fid AND k.sync_key = c.current_key) x ON true"
    " ORDER BY x.n";

struct store_op *
store_eassync_load(struct store *store, uint64_t account_id, uint64_t device_id,
                   const uint64_t *folder_ids, size_t count, store_eassync_load_cb *cb, void *ctx)
{
	struct load_op *l = (struct load_op *)store_op_new(store, sizeof(*l), load_fail, ctx);
	struct store_params p = {0};

	l->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, device_id);
	store_param_take(&p, array_u64(folder_ids, count));
	store_op_query(&l->op, load_sql, &p, load_done);
	return &l->op;
}

/* --- Reset --- */

struct reset_op {
	struct store_op op;
	store_eassync_reset_cb *cb;
};

static void
reset_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct reset_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
reset_done(struct store_op *op, const struct db_result *res)
{
	struct reset_op *r = (struct reset_op *)op;

	if (db_result_rows(res) != 1 || db_result_isnull(res, 0, 0)) {
		store_op_fail(op, STORE_ERR_INTERNAL, "no sync generation returned");
		return;
	}
	store_op_deliver_begin(op);
	r->cb(db_result_value(res, 0, 0), STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_eassync_reset(struct store *store, uint64_t account_id, uint64_t device_id,
                    uint64_t folder_id, const char *options, store_eassync_reset_cb *cb, void *ctx)
{
	struct reset_op *r = (struct reset_op *)store_op_new(store, sizeof(*r), reset_fail, ctx);
	struct store_params p = {0};

	r->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, device_id);
	store_param_u64(&p, folder_id);
	store_param(&p, options);
	store_op_query(&r->op, "SELECT floe_eas_sync_reset($1, $2, $3, $4::jsonb)", &p, reset_done);
	return &r->op;
}

/* --- Diff --- */

struct diff_op {
	struct store_op op;
	store_eassync_diff_cb *cb;
};

static void
diff_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct diff_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
diff_done(struct store_op *op, const struct db_result *res)
{
	struct diff_op *d = (struct diff_op *)op;
	int rows = db_result_rows(res);
	struct store_eassync_change *ch = store_op_calloc(op, (size_t)rows + 1, sizeof(*ch));
	struct store_eassync_diff_result result = {.changes = ch};

	for (int r = 0; r < rows; r++) {
		char kind = db_result_value(res, r, 0)[0];
		uint64_t a = store_u64(db_result_value(res, r, 1));
		uint64_t b = store_u64(db_result_value(res, r, 2));

		switch (kind) {
		case 'T':
			result.total = a;
			result.highestmodseq = b;
			break;
		case 'V':
			result.uidvalidity = (uint32_t)a;
			break;
		case 'W':
			result.cursor = a;
			result.walk_done = (b & 1) != 0;
			result.changes_complete = (b & 2) != 0;
			break;
		case EASSYNC_ADD:
		case EASSYNC_CHANGE:
		case EASSYNC_DELETE:
		case EASSYNC_SOFTDELETE:
			ch[result.count].kind = (enum store_eassync_kind)kind;
			ch[result.count].uid = (uint32_t)a;
			ch[result.count].modseq = b;
			ch[result.count].walk = store_bool(db_result_value(res, r, 3));
			result.count++;
			break;
		default:
			break;
		}
	}
	store_op_deliver_begin(op);
	d->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

static void
param_delta(struct store_params *p, const struct store_eassync_delta *delta)
{
	static const struct store_eassync_delta none;

	if (delta == NULL)
		delta = &none;
	store_param_take(p, array_u32(delta->del, delta->ndel));
	store_param_take(p, array_u32(delta->up_uids, delta->nup));
	store_param_take(p, array_u64(delta->up_modseqs, delta->nup));
}

struct store_op *
store_eassync_diff(struct store *store, uint64_t account_id, uint64_t device_id, uint64_t folder_id,
                   uint32_t key, const struct store_eassync_delta *delta, time_t since,
                   unsigned limit, bool exact, store_eassync_diff_cb *cb, void *ctx)
{
	struct diff_op *d = (struct diff_op *)store_op_new(store, sizeof(*d), diff_fail, ctx);
	struct store_params p = {0};

	d->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, device_id);
	store_param_u64(&p, folder_id);
	store_param_u64(&p, key);
	param_delta(&p, delta);
	if (since > 0)
		store_param_i64(&p, (int64_t)since);
	else
		store_param(&p, NULL);
	store_param_u64(&p, limit);
	store_param(&p, exact ? "true" : "false");
	store_op_query(&d->op,
	               "SELECT r_kind, r_uid::text, r_modseq::text, r_walk::text"
	               " FROM floe_eas_diff($1, $2, $3, $4::int, $5::bigint[], $6::bigint[],"
	               " $7::bigint[], to_timestamp($8::bigint), $9::int, $10::boolean)",
	               &p, diff_done);
	return &d->op;
}

/* --- Commit --- */

struct done_op {
	struct store_op op;
	store_eassync_done_cb *cb;
};

static void
done_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct done_op *)op)->cb(code, error, op->ctx);
}

static void
done_done(struct store_op *op, const struct db_result *res)
{
	struct done_op *d = (struct done_op *)op;

	(void)res;
	store_op_deliver_begin(op);
	d->cb(STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

static json_t *
json_u32s(const uint32_t *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

/* A JSON text (or NULL) as a JSON value; invalid text becomes null. */
static json_t *
json_text(const char *text)
{
	json_t *v;

	if (text == NULL)
		return json_null();
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v != NULL ? v : json_null();
}

struct store_op *
store_eassync_commit(struct store *store, uint64_t account_id, uint64_t device_id,
                     const struct store_eassync_commit *commits, size_t count,
                     const char *request_json, store_eassync_done_cb *cb, void *ctx)
{
	struct done_op *d = (struct done_op *)store_op_new(store, sizeof(*d), done_fail, ctx);
	struct store_params p = {0};
	json_t *arr = json_array();
	char *text;

	d->cb = cb;
	for (size_t i = 0; i < count; i++) {
		const struct store_eassync_commit *c = &commits[i];
		json_t *obj = json_object(), *um = json_array();

		for (size_t k = 0; k < c->delta.nup; k++)
			json_array_append_new(um, json_integer((json_int_t)c->delta.up_modseqs[k]));
		json_object_set_new(obj, "f", json_integer((json_int_t)c->folder_id));
		json_object_set_new(obj, "g",
		                    json_string(c->generation != NULL ? c->generation : ""));
		json_object_set_new(obj, "b", json_integer(c->base_key));
		json_object_set_new(obj, "n", json_integer(c->new_key));
		json_object_set_new(obj, "v", json_integer(c->uidvalidity));
		json_object_set_new(obj, "del", json_u32s(c->delta.del, c->delta.ndel));
		json_object_set_new(obj, "up", json_u32s(c->delta.up_uids, c->delta.nup));
		json_object_set_new(obj, "um", um);
		um = json_array();
		for (size_t k = 0; k < c->adds.nup; k++)
			json_array_append_new(um, json_integer((json_int_t)c->adds.up_modseqs[k]));
		json_object_set_new(obj, "add", json_u32s(c->adds.up_uids, c->adds.nup));
		json_object_set_new(obj, "am", um);
		json_object_set_new(obj, "h", json_integer((json_int_t)c->highestmodseq));
		json_object_set_new(obj, "m", json_boolean(c->more));
		/* JSON integers are signed: the top cursor is INT64_MAX. */
		json_object_set_new(
		    obj, "c",
		    c->has_cursor
		        ? json_integer(c->cursor > INT64_MAX ? INT64_MAX : (json_int_t)c->cursor)
		        : json_null());
		json_object_set_new(obj, "r", json_text(c->replay));
		json_object_set_new(obj, "o", json_text(c->options));
		json_array_append_new(arr, obj);
	}
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (text == NULL)
		return store_op_fail_later(&d->op, STORE_ERR_INTERNAL,
		                           "cannot encode the sync state");
	store_param_u64(&p, account_id);
	store_param_u64(&p, device_id);
	store_param_take(&p, text);
	store_param(&p, request_json);
	store_op_query(&d->op, "SELECT floe_eas_sync_commit_all($1, $2, $3::jsonb, $4::jsonb)", &p,
	               done_done);
	return &d->op;
}

/* --- Item state for client changes --- */

struct state_op {
	struct store_op op;
	store_eassync_items_state_cb *cb;
};

static void
state_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct state_op *)op)->cb(NULL, 0, code, error, op->ctx);
}

static void
state_done(struct store_op *op, const struct db_result *res)
{
	struct state_op *s = (struct state_op *)op;
	int rows = db_result_rows(res);
	struct store_eassync_item_state *items =
	    store_op_calloc(op, (size_t)rows + 1, sizeof(*items));

	for (int r = 0; r < rows; r++) {
		items[r].uid = (uint32_t)store_u64(db_result_value(res, r, 0));
		items[r].exists = store_bool(db_result_value(res, r, 1));
		items[r].modseq = store_u64(db_result_value(res, r, 2));
		items[r].flags =
		    store_split_flags(op, db_result_value(res, r, 3), &items[r].nflags);
		items[r].known_modseq = store_u64(db_result_value(res, r, 4));
	}
	store_op_deliver_begin(op);
	s->cb(items, (size_t)rows, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_eassync_items_state(struct store *store, uint64_t account_id, uint64_t device_id,
                          uint64_t folder_id, uint32_t key, const struct store_eassync_delta *delta,
                          const uint32_t *uids, size_t count, store_eassync_items_state_cb *cb,
                          void *ctx)
{
	struct state_op *s = (struct state_op *)store_op_new(store, sizeof(*s), state_fail, ctx);
	struct store_params p = {0};

	s->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, device_id);
	store_param_u64(&p, folder_id);
	store_param_u64(&p, key);
	param_delta(&p, delta);
	store_param_take(&p, array_u32(uids, count));
	store_op_query(
	    &s->op,
	    "WITH st AS (SELECT r_uid AS uid, r_modseq AS modseq"
	    " FROM floe_eas_state($1, $2, $3, $4::int, $5::bigint[], $6::bigint[],"
	    " $7::bigint[]))"
	    " SELECT u.uid::text, (i.uid IS NOT NULL)::text, coalesce(i.modseq, 0)::text,"
	    " array_to_string(i.flags, ' '), coalesce(st.modseq, 0)::text"
	    " FROM unnest($8::bigint[]) WITH ORDINALITY AS u(uid, n)"
	    " LEFT JOIN items i ON i.account_id = $1 AND i.folder_id = $3"
	    " AND i.uid = u.uid"
	    " LEFT JOIN st ON st.uid = u.uid"
	    " ORDER BY u.n",
	    &p, state_done);
	return &s->op;
}

/* --- Pending (Ping) --- */

struct pending_op {
	struct store_op op;
	store_eassync_pending_cb *cb;
};

static void
pending_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct pending_op *)op)->cb(NULL, 0, code, error, op->ctx);
}

static void
pending_done(struct store_op *op, const struct db_result *res)
{
	struct pending_op *pe = (struct pending_op *)op;
	int rows = db_result_rows(res);
	uint64_t *ids = store_op_calloc(op, (size_t)rows + 1, sizeof(*ids));
	size_t n = 0;

	for (int r = 0; r < rows; r++) {
		/* With the notice: one row of NULL when nothing changed. */
		if (!db_result_isnull(res, r, 0))
			ids[n++] = store_u64(db_result_value(res, r, 0));
	}
	store_op_deliver_begin(op);
	pe->cb(ids, n, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_eassync_pending(struct store *store, uint64_t account_id, uint64_t device_id,
                      const uint64_t *folder_ids, size_t count, uint64_t notice_folder,
                      uint64_t notice_modseq, store_eassync_pending_cb *cb, void *ctx)
{
#define PENDING_SQL                                                                                \
	"SELECT f.id::text AS id, x.n FROM unnest($3::bigint[]) WITH ORDINALITY AS x(fid, n)"      \
	" JOIN folders f ON f.account_id = $1 AND f.id = x.fid AND NOT f.noselect"                 \
	" LEFT JOIN eas_sync_collections c ON c.account_id = $1"                                   \
	" AND c.device_id = $2 AND c.folder_id = f.id"                                             \
	" LEFT JOIN eas_sync_keys k ON k.account_id = $1 AND k.device_id = $2"                     \
	" AND k.folder_id = f.id AND k.sync_key = c.current_key"                                   \
	" WHERE CASE WHEN k.sync_key IS NULL THEN f.messages > 0"                                  \
	" ELSE f.highestmodseq > k.highestmodseq OR k.more"                                        \
	" OR f.uidvalidity <> k.uidvalidity END"
	struct pending_op *pe =
	    (struct pending_op *)store_op_new(store, sizeof(*pe), pending_fail, ctx);
	struct store_params p = {0};

	pe->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, device_id);
	store_param_take(&p, array_u64(folder_ids, count));
	if (notice_folder == 0) {
		store_op_query(&pe->op, "SELECT q.id FROM (" PENDING_SQL ") q ORDER BY q.n", &p,
		               pending_done);
		return &pe->op;
	}
	/* The notice is the outer side of the join: it runs whether or not
	 * a folder changed (and goes out when the statement commits). */
	store_paramf(&p, "%" PRIu64 " %" PRIu64 " %" PRIu64, account_id, notice_folder,
	             notice_modseq);
	store_op_query(&pe->op,
	               "SELECT q.id FROM (SELECT pg_notify('floe_change', $4)) AS notice"
	               " LEFT JOIN LATERAL (" PENDING_SQL ") q ON true ORDER BY q.n",
	               &p, pending_done);
	return &pe->op;
#undef PENDING_SQL
}

/* --- Client ids --- */

struct ids_op {
	struct store_op op;
	store_eassync_client_ids_cb *cb;
};

static void
ids_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct ids_op *)op)->cb(NULL, 0, code, error, op->ctx);
}

static void
ids_done(struct store_op *op, const struct db_result *res)
{
	struct ids_op *i = (struct ids_op *)op;
	int rows = db_result_rows(res);
	struct store_eassync_client_id *ids = store_op_calloc(op, (size_t)rows + 1, sizeof(*ids));

	for (int r = 0; r < rows; r++) {
		ids[r].client_id = db_result_value(res, r, 0);
		ids[r].uid = (uint32_t)store_u64(db_result_value(res, r, 1));
		ids[r].modseq = store_u64(db_result_value(res, r, 2));
	}
	store_op_deliver_begin(op);
	i->cb(ids, (size_t)rows, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_eassync_client_ids(struct store *store, uint64_t account_id, uint64_t device_id,
                         uint64_t folder_id, const char *const *client_ids, size_t count,
                         store_eassync_client_ids_cb *cb, void *ctx)
{
	struct ids_op *i = (struct ids_op *)store_op_new(store, sizeof(*i), ids_fail, ctx);
	struct store_params p = {0};
	json_t *arr = json_array();
	char *text;

	i->cb = cb;
	for (size_t k = 0; k < count; k++)
		json_array_append_new(arr, json_string(client_ids[k] != NULL ? client_ids[k] : ""));
	text = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (text == NULL)
		return store_op_fail_later(&i->op, STORE_ERR_INVALID, "invalid client ids");
	store_param_u64(&p, account_id);
	store_param_u64(&p, device_id);
	store_param_u64(&p, folder_id);
	store_param_take(&p, text);
	store_op_query(&i->op,
	               "SELECT m.client_id, coalesce(it.uid, 0)::text, coalesce(it.modseq, 0)::text"
	               " FROM eas_client_ids m"
	               " LEFT JOIN items it ON it.account_id = $1 AND it.folder_id = $3"
	               " AND it.uid = m.uid"
	               " WHERE m.account_id = $1 AND m.device_id = $2 AND m.folder_id = $3"
	               " AND m.client_id IN (SELECT jsonb_array_elements_text($4::jsonb))",
	               &p, ids_done);
	return &i->op;
}

struct store_op *
store_eassync_client_id_put(struct store *store, uint64_t account_id, uint64_t device_id,
                            uint64_t folder_id, const char *client_id, uint32_t uid,
                            store_eassync_done_cb *cb, void *ctx)
{
	struct done_op *d = (struct done_op *)store_op_new(store, sizeof(*d), done_fail, ctx);
	struct store_params p = {0};

	d->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, device_id);
	store_param_u64(&p, folder_id);
	store_param(&p, client_id);
	store_param_u64(&p, uid);
	store_op_query(
	    &d->op,
	    "INSERT INTO eas_client_ids (account_id, device_id, folder_id, client_id, uid)"
	    " VALUES ($1, $2, $3, $4, $5)"
	    " ON CONFLICT (account_id, device_id, folder_id, client_id)"
	    " DO UPDATE SET uid = EXCLUDED.uid, created_at = now()",
	    &p, done_done);
	return &d->op;
}
