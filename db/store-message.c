/* Messages in the store: append (blobs deduplicated by SHA-256), flag
 * changes with UNCHANGEDSINCE, expunge with tombstones, copy and move, and
 * the reads FETCH needs (stored metadata, blob slices). The writes are the
 * SQL functions of 0002_mail.sql: one statement, one transaction each. */
#include "store-private.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "xmalloc.h"

/* bytea substring() takes int offsets; blobs are far smaller anyway. */
#define BLOB_OFFSET_MAX 0x7fffffffu

/* --- Append --- */

static void
append_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct store_append_op *)op)->cb(NULL, code, error, op->ctx);
}

struct store_append_op *
store_append_op_new(struct store *store, store_append_cb *cb, void *ctx)
{
	struct store_append_op *a =
	    (struct store_append_op *)store_op_new(store, sizeof(*a), append_fail, ctx);

	a->cb = cb;
	return a;
}

void
store_append_done(struct store_op *op, const struct db_result *res)
{
	struct store_append_op *a = (struct store_append_op *)op;
	int rows = db_result_rows(res);
	uint32_t *uids = store_op_calloc(op, (size_t)rows + 1, sizeof(*uids));
	struct store_append_result result = {.uids = uids, .count = (size_t)rows};

	for (int r = 0; r < rows; r++) {
		result.uidvalidity = (uint32_t)store_u64(db_result_value(res, r, 0));
		uids[r] = (uint32_t)store_u64(db_result_value(res, r, 1));
		result.modseq = store_u64(db_result_value(res, r, 2));
	}
	if (rows > 0 && store_bool(db_result_value(res, 0, 3)))
		store_stats_refresh(op);
	store_op_deliver_begin(op);
	a->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

void
store_json_set_text(json_t *obj, const char *key, const char *value)
{
	char *clean;

	if (value == NULL)
		return;
	clean = store_utf8_clean(value);
	json_object_set_new(obj, key, json_string(clean));
	free(clean);
}

/* The parse results, named as in struct store_msg_meta. */
json_t *
store_meta_json(const struct store_msg_meta *m)
{
	json_t *obj = json_object();

	store_json_set_text(obj, "envelope", m->envelope);
	store_json_set_text(obj, "bodystructure", m->bodystructure);
	store_json_set_text(obj, "body", m->body);
	store_json_set_text(obj, "partmap", m->partmap);
	store_json_set_text(obj, "preview", m->preview);
	if (m->sent_date != -1 && m->sent_date != 0)
		json_object_set_new(obj, "sent_date", json_integer(m->sent_date));
	store_json_set_text(obj, "subject", m->subject);
	store_json_set_text(obj, "base_subject", m->base_subject);
	store_json_set_text(obj, "from_addr", m->from_addr);
	store_json_set_text(obj, "to_addr", m->to_addr);
	store_json_set_text(obj, "cc_addr", m->cc_addr);
	store_json_set_text(obj, "bcc_addr", m->bcc_addr);
	store_json_set_text(obj, "sort_from", m->sort_from);
	store_json_set_text(obj, "sort_to", m->sort_to);
	store_json_set_text(obj, "sort_cc", m->sort_cc);
	store_json_set_text(obj, "sort_display_from", m->sort_display_from);
	store_json_set_text(obj, "sort_display_to", m->sort_display_to);
	store_json_set_text(obj, "message_id", m->message_id);
	store_json_set_text(obj, "in_reply_to", m->in_reply_to);
	store_json_set_text(obj, "references", m->references);
	store_json_set_text(obj, "search_text", m->search_text);
	store_json_set_text(obj, "headers_text", m->headers_text);
	json_object_set_new(obj, "has_attachment", json_boolean(m->has_attachment));
	return obj;
}

/* The JSON object floe_append reads for one item; NULL with *error_r when
 * its flags are invalid. */
static json_t *
append_item_json(const struct store_append_item *item, const char **error_r)
{
	json_t *obj, *flags;
	const char *flag;

	if (item->nflags > 0 && item->flags == NULL) {
		*error_r = "invalid flag list";
		return NULL;
	}
	flags = json_array();
	for (size_t i = 0; i < item->nflags; i++) {
		if (store_flag_check(item->flags[i], error_r) < 0) {
			json_decref(flags);
			return NULL;
		}
		flag = store_system_flag(item->flags[i]);
		json_array_append_new(flags, json_string(flag != NULL ? flag : item->flags[i]));
	}
	obj = json_object();
	json_object_set_new(obj, "flags", flags);
	if (item->internal_date != 0)
		json_object_set_new(obj, "internal_date", json_integer(item->internal_date));
	if (item->meta != NULL)
		json_object_set_new(obj, "meta", store_meta_json(item->meta));
	return obj;
}

struct store_op *
store_append(struct store *store, uint64_t account_id, uint64_t folder_id,
             const struct store_append_item *items, size_t count, store_append_cb *cb, void *ctx)
{
	struct store_append_op *a = store_append_op_new(store, cb, ctx);
	struct store_params p = {0};
	json_t *meta, *obj;
	const char *error = NULL;
	size_t total = 3;
	char *datas, *out, *json;

	if (count == 0 || items == NULL)
		return store_op_fail_later(&a->op, STORE_ERR_INVALID, "nothing to append");
	meta = json_array();
	for (size_t i = 0; i < count; i++) {
		if (items[i].data == NULL && items[i].size > 0) {
			json_decref(meta);
			return store_op_fail_later(&a->op, STORE_ERR_INVALID,
			                           "message without data");
		}
		obj = append_item_json(&items[i], &error);
		if (obj == NULL) {
			json_decref(meta);
			return store_op_fail_later(&a->op, STORE_ERR_INVALID, "%s", error);
		}
		json_array_append_new(meta, obj);
		total += (items[i].size + 2) / 3 * 4 + 3;
	}
	json = json_dumps(meta, JSON_COMPACT);
	json_decref(meta);
	if (json == NULL)
		return store_op_fail_later(&a->op, STORE_ERR_INTERNAL,
		                           "cannot encode the message data");

	/* The raw messages travel as a text[] of base64 (text parameters only). */
	datas = xmalloc(total);
	out = datas;
	*out++ = '{';
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			*out++ = ',';
		*out++ = '"';
		out = base64_encode_into(out, items[i].data, items[i].size);
		*out++ = '"';
	}
	*out++ = '}';
	*out = '\0';

	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param_take(&p, datas);
	store_param(&p, json);
	free(json);
	store_op_query(&a->op,
	               "SELECT r_uidvalidity, r_uid, r_modseq, r_analyze::text"
	               " FROM floe_append($1, $2, $3, $4)",
	               &p, store_append_done);
	return &a->op;
}

/* --- Flags --- */

struct flags_op {
	struct store_op op;
	store_flags_cb *cb;
};

static void
flags_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct flags_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
flags_done(struct store_op *op, const struct db_result *res)
{
	struct flags_op *f = (struct flags_op *)op;
	int rows = db_result_rows(res);
	struct store_msg *changed = store_op_calloc(op, (size_t)rows + 1, sizeof(*changed));
	uint32_t *modified = store_op_calloc(op, (size_t)rows + 1, sizeof(*modified));
	struct store_flags_result result = {.changed = changed, .modified = modified};

	for (int r = 0; r < rows; r++) {
		switch (db_result_value(res, r, 0)[0]) {
		case '0': {
			struct store_msg *msg = &changed[result.count++];

			msg->uid = (uint32_t)store_u64(db_result_value(res, r, 1));
			msg->modseq = store_u64(db_result_value(res, r, 2));
			msg->flags =
			    store_split_flags(op, db_result_value(res, r, 3), &msg->nflags);
			break;
		}
		case '1':
			modified[result.nmodified++] =
			    (uint32_t)store_u64(db_result_value(res, r, 1));
			break;
		default:
			result.highestmodseq = store_u64(db_result_value(res, r, 2));
			break;
		}
	}
	store_op_deliver_begin(op);
	f->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_flags(struct store *store, uint64_t account_id, uint64_t folder_id,
            const struct store_uid_ranges *uids, enum store_flag_op op, const char *const *flags,
            size_t nflags, uint64_t unchangedsince, store_flags_cb *cb, void *ctx)
{
	struct flags_op *f = (struct flags_op *)store_op_new(store, sizeof(*f), flags_fail, ctx);
	struct store_params p = {0};
	const char *error;

	f->cb = cb;
	if (op != STORE_FLAGS_SET && op != STORE_FLAGS_ADD && op != STORE_FLAGS_REMOVE)
		return store_op_fail_later(&f->op, STORE_ERR_INVALID, "unknown flag operation");
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	if (store_param_ranges(&p, uids, &error) < 0 ||
	    store_param_flags(&p, flags, nflags, &error) < 0) {
		store_params_clear(&p);
		return store_op_fail_later(&f->op, STORE_ERR_INVALID, "%s", error);
	}
	store_param_i64(&p, op == STORE_FLAGS_SET ? 0 : op == STORE_FLAGS_ADD ? 1 : 2);
	store_param_u64(&p, unchangedsince);
	/* Parameters are $1 acct, $2 folder, $3/$4 ranges, $5 flags, $6 op, $7 since. */
	store_op_query(&f->op,
	               "SELECT r_kind, r_uid, r_modseq, r_flags"
	               " FROM floe_flags($1, $2, $3, $4, $6, $5, $7)",
	               &p, flags_done);
	return &f->op;
}

/* --- Expunge --- */

struct expunge_op {
	struct store_op op;
	store_expunge_cb *cb;
};

static void
expunge_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct expunge_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
expunge_done(struct store_op *op, const struct db_result *res)
{
	struct expunge_op *e = (struct expunge_op *)op;
	int rows = db_result_rows(res);
	uint32_t *uids = store_op_calloc(op, (size_t)rows + 1, sizeof(*uids));
	struct store_expunge_result result = {.uids = uids};

	for (int r = 0; r < rows; r++) {
		if (db_result_value(res, r, 0)[0] == '0')
			result.highestmodseq = store_u64(db_result_value(res, r, 1));
		else
			uids[result.count++] = (uint32_t)store_u64(db_result_value(res, r, 1));
	}
	if (result.count > 0)
		store_content_gc_due(op);
	store_op_deliver_begin(op);
	e->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_expunge(struct store *store, uint64_t account_id, uint64_t folder_id,
              const struct store_uid_ranges *uids, store_expunge_cb *cb, void *ctx)
{
	struct expunge_op *e =
	    (struct expunge_op *)store_op_new(store, sizeof(*e), expunge_fail, ctx);
	struct store_params p = {0};
	const char *error;

	e->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	if (uids == NULL) {
		store_param(&p, NULL);
		store_param(&p, NULL);
	} else if (store_param_ranges(&p, uids, &error) < 0) {
		store_params_clear(&p);
		return store_op_fail_later(&e->op, STORE_ERR_INVALID, "%s", error);
	}
	store_op_query(&e->op, "SELECT r_kind, r_v FROM floe_expunge($1, $2, $3, $4)", &p,
	               expunge_done);
	return &e->op;
}

/* --- Copy and move --- */

struct copy_op {
	struct store_op op;
	store_copy_cb *cb;
};

static void
copy_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct copy_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
copy_done(struct store_op *op, const struct db_result *res)
{
	struct copy_op *c = (struct copy_op *)op;
	int rows = db_result_rows(res);
	uint32_t *src = store_op_calloc(op, (size_t)rows + 1, sizeof(*src));
	uint32_t *dest = store_op_calloc(op, (size_t)rows + 1, sizeof(*dest));
	struct store_copy_result result = {.src_uids = src, .dest_uids = dest};

	for (int r = 0; r < rows; r++) {
		uint64_t a = store_u64(db_result_value(res, r, 1));
		uint64_t b = store_u64(db_result_value(res, r, 2));

		if (db_result_value(res, r, 0)[0] == '0') {
			result.dest_uidvalidity = (uint32_t)a;
			result.src_highestmodseq = b;
			if (store_bool(db_result_value(res, r, 3)))
				store_stats_refresh(op);
		} else {
			src[result.count] = (uint32_t)a;
			dest[result.count] = (uint32_t)b;
			result.count++;
		}
	}
	store_op_deliver_begin(op);
	c->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_copy(struct store *store, uint64_t account_id, uint64_t src_folder_id,
           const struct store_uid_ranges *uids, uint64_t dest_owner_id, uint64_t dest_folder_id,
           bool move, store_copy_cb *cb, void *ctx)
{
	struct copy_op *c = (struct copy_op *)store_op_new(store, sizeof(*c), copy_fail, ctx);
	struct store_params p = {0};
	const char *error;

	c->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, src_folder_id);
	if (store_param_ranges(&p, uids, &error) < 0) {
		store_params_clear(&p);
		return store_op_fail_later(&c->op, STORE_ERR_INVALID, "%s", error);
	}
	store_param_u64(&p, dest_owner_id);
	store_param_u64(&p, dest_folder_id);
	store_param(&p, move ? "true" : "false");
	store_op_query(
	    &c->op,
	    "SELECT r_kind, r_a, r_b, r_analyze::text FROM floe_copy($1, $2, $3, $4, $5, $6, $7)",
	    &p, copy_done);
	return &c->op;
}

/* --- Fetch --- */

struct fetch_op {
	struct store_op op;
	store_fetch_cb *cb;
	unsigned fields;
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A bytea in text form ("\\x" and two hex digits a byte) decoded into
 * pool memory (NUL-terminated); NULL when it is not in that form. */
static const char *
bytea_decode(struct store_op *op, const char *hex, size_t *len_r)
{
	unsigned char *data;
	size_t len;

	if (hex[0] != '\\' || hex[1] != 'x')
		return NULL;
	hex += 2;
	len = strlen(hex) / 2;
	data = store_op_alloc(op, len + 1);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	data[len] = '\0';
	*len_r = len;
	return (const char *)data;
}

static void
fetch_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct fetch_op *)op)->cb(NULL, code, error, op->ctx);
}

static const char *
value_or_null(const struct db_result *res, int row, int col)
{
	return db_result_isnull(res, row, col) ? NULL : db_result_value(res, row, col);
}

/* Strings point into the query result, which outlives the callback. */
static void
fetch_done(struct store_op *op, const struct db_result *res)
{
	struct fetch_op *f = (struct fetch_op *)op;
	int rows = db_result_rows(res);
	struct store_fetch_row *out = store_op_calloc(op, (size_t)rows + 1, sizeof(*out));
	struct store_fetch_result result = {.rows = out, .count = (size_t)rows};

	for (int r = 0; r < rows; r++) {
		struct store_fetch_row *row = &out[r];

		row->uid = (uint32_t)store_u64(db_result_value(res, r, 0));
		row->modseq = store_u64(db_result_value(res, r, 1));
		row->flags = store_split_flags(op, db_result_value(res, r, 2), &row->nflags);
		row->internal_date = (time_t)strtoll(db_result_value(res, r, 3), NULL, 10);
		row->size = store_u64(db_result_value(res, r, 4));
		row->envelope = value_or_null(res, r, 5);
		row->bodystructure = value_or_null(res, r, 6);
		row->body = value_or_null(res, r, 7);
		row->partmap = value_or_null(res, r, 8);
		row->preview = value_or_null(res, r, 9);
		row->email_id = value_or_null(res, r, 10);
		row->thread_id = value_or_null(res, r, 11);
		row->blob_hash = value_or_null(res, r, 12);
		if ((f->fields & STORE_FETCH_HEADER) != 0 && !db_result_isnull(res, r, 14))
			row->header =
			    bytea_decode(op, db_result_value(res, r, 14), &row->header_len);
		if (row->header != NULL)
			row->header_offset = store_u64(db_result_value(res, r, 13));
	}
	store_op_deliver_begin(op);
	f->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_fetch(struct store *store, uint64_t account_id, uint64_t folder_id,
            const struct store_uid_ranges *uids, unsigned fields, uint64_t changedsince,
            store_fetch_cb *cb, void *ctx)
{
	struct fetch_op *f = (struct fetch_op *)store_op_new(store, sizeof(*f), fetch_fail, ctx);
	struct store_params p = {0};
	const char *error;

	f->cb = cb;
	f->fields = fields;
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	if (store_param_ranges(&p, uids, &error) < 0) {
		store_params_clear(&p);
		return store_op_fail_later(&f->op, STORE_ERR_INVALID, "%s", error);
	}
	/* One statement whatever the fields, planned once
	 * (0009_imap_perf.sql). CONDSTORE polls ("anything changed since
	 * n?") are driven by the (account, folder, modseq) index: usually
	 * nothing, however large the UID set. */
	store_param_u64(&p, fields);
	if (changedsince == 0) {
		store_op_query(&f->op, "SELECT * FROM floe_fetch($1, $2, $3, $4, $5)", &p,
		               fetch_done);
		return &f->op;
	}
	store_param_u64(&p, changedsince);
	store_op_query(&f->op, "SELECT * FROM floe_fetch_changed($1, $2, $3, $4, $5, $6)", &p,
	               fetch_done);
	return &f->op;
}

/* --- Reads for the IMAP message cache --- */

struct cache_op {
	struct store_op op;
	store_cache_cb *cb;
};

static void
cache_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct cache_op *)op)->cb(NULL, code, error, op->ctx);
}

static int64_t
value_i64(const struct db_result *res, int row, int col)
{
	return (int64_t)strtoll(db_result_value(res, row, col), NULL, 10);
}

/* Strings point into the query result, which outlives the callback. */
static void
cache_done(struct store_op *op, const struct db_result *res)
{
	struct cache_op *c = (struct cache_op *)op;
	int rows = db_result_rows(res);
	struct store_cache_row *out = store_op_calloc(op, (size_t)rows + 1, sizeof(*out));
	struct store_cache_result result = {.rows = out, .count = (size_t)rows};

	for (int r = 0; r < rows; r++) {
		struct store_cache_row *row = &out[r];

		row->uid = (uint32_t)store_u64(db_result_value(res, r, 0));
		row->modseq = store_u64(db_result_value(res, r, 1));
		row->flags = store_split_flags(op, db_result_value(res, r, 2), &row->nflags);
		row->uidvalidity = (uint32_t)store_u64(db_result_value(res, r, 3));
		row->data = store_bool(db_result_value(res, r, 4));
		row->internal_us = value_i64(res, r, 6);
		row->size = store_u64(db_result_value(res, r, 7));
		if (!row->data)
			continue;
		row->cacheable = store_bool(db_result_value(res, r, 5));
		row->envelope = value_or_null(res, r, 8);
		row->bodystructure = value_or_null(res, r, 9);
		row->body = value_or_null(res, r, 10);
		row->partmap = value_or_null(res, r, 11);
		row->preview = value_or_null(res, r, 12);
		row->email_id = value_or_null(res, r, 13);
		row->thread_id = value_or_null(res, r, 14);
		row->blob_hash = value_or_null(res, r, 15);
		if (!db_result_isnull(res, r, 24))
			row->blob = bytea_decode(op, db_result_value(res, r, 24), &row->blob_len);
		if (!db_result_isnull(res, r, 17)) {
			row->header_offset = store_u64(db_result_value(res, r, 16));
			row->header =
			    bytea_decode(op, db_result_value(res, r, 17), &row->header_len);
		} else if (row->blob != NULL && !db_result_isnull(res, r, 16) &&
		           !db_result_isnull(res, r, 25)) {
			/* The same block as floe_fetch gives, out of the blob. */
			int64_t hs = value_i64(res, r, 16), he = value_i64(res, r, 25);

			if (hs >= 0 && he >= hs && he - hs <= STORE_FETCH_HEADER_MAX &&
			    (uint64_t)he <= row->blob_len) {
				row->header_offset = (uint64_t)hs;
				row->header = (const char *)row->blob + hs;
				row->header_len = (size_t)(he - hs);
			}
		}
		if (!db_result_isnull(res, r, 18)) {
			row->has_sent_date = true;
			row->sent_us = value_i64(res, r, 18);
		}
		row->subject = value_or_null(res, r, 19);
		row->from = value_or_null(res, r, 20);
		row->to = value_or_null(res, r, 21);
		row->cc = value_or_null(res, r, 22);
		row->bcc = value_or_null(res, r, 23);
	}
	store_op_deliver_begin(op);
	c->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_fetch_cache(struct store *store, uint64_t account_id, uint64_t folder_id,
                  const struct store_uid_ranges *uids, const struct store_uid_ranges *data_uids,
                  size_t blob_max, store_cache_cb *cb, void *ctx)
{
	struct cache_op *c = (struct cache_op *)store_op_new(store, sizeof(*c), cache_fail, ctx);
	struct store_params p = {0};
	const char *error;

	c->cb = cb;
	if (blob_max > BLOB_OFFSET_MAX)
		blob_max = BLOB_OFFSET_MAX;
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	if (store_param_ranges(&p, uids, &error) < 0 ||
	    store_param_ranges(&p, data_uids, &error) < 0) {
		store_params_clear(&p);
		return store_op_fail_later(&c->op, STORE_ERR_INVALID, "%s", error);
	}
	store_param_u64(&p, blob_max);
	store_op_query(&c->op, "SELECT * FROM floe_fetch_cache($1, $2, $3, $4, $5, $6, $7)", &p,
	               cache_done);
	return &c->op;
}

/* --- Blob slices --- */

struct blob_op {
	struct store_op op;
	store_blob_cb *cb;
};

static void
blob_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct blob_op *)op)->cb(NULL, 0, code, error, op->ctx);
}

static void
blob_done(struct store_op *op, const struct db_result *res)
{
	struct blob_op *b = (struct blob_op *)op;
	const char *data;
	size_t len;

	if (db_result_rows(res) != 1) {
		store_op_fail(op, STORE_ERR_NOT_FOUND, "no such message data");
		return;
	}
	data = bytea_decode(op, db_result_value(res, 0, 0), &len);
	if (data == NULL) {
		store_op_fail(op, STORE_ERR_INTERNAL, "unexpected bytea format");
		return;
	}
	store_op_deliver_begin(op);
	b->cb(data, len, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_blob_read(struct store *store, uint64_t account_id, uint64_t folder_id, const char *blob_hash,
                uint64_t offset, size_t length, store_blob_cb *cb, void *ctx)
{
	struct blob_op *b = (struct blob_op *)store_op_new(store, sizeof(*b), blob_fail, ctx);
	struct store_params p = {0};
	size_t hlen = blob_hash != NULL ? strlen(blob_hash) : 0;

	b->cb = cb;
	if (hlen != 64)
		return store_op_fail_later(&b->op, STORE_ERR_INVALID, "invalid blob hash");
	for (size_t i = 0; i < hlen; i++) {
		if (hexval(blob_hash[i]) < 0)
			return store_op_fail_later(&b->op, STORE_ERR_INVALID, "invalid blob hash");
	}
	if (offset >= BLOB_OFFSET_MAX)
		offset = BLOB_OFFSET_MAX - 1;
	if (length > BLOB_OFFSET_MAX)
		length = BLOB_OFFSET_MAX;
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param(&p, blob_hash);
	store_param_u64(&p, offset + 1);
	store_param_u64(&p, length);
	/* With the blob stored uncompressed out of line, substring() reads
	 * only the chunks of the slice. */
	store_op_query(&b->op,
	               "SELECT substring(b.data FROM $4::int FOR $5::int) FROM blobs b"
	               " WHERE b.hash = decode($3, 'hex') AND EXISTS (SELECT 1 FROM items i"
	               " WHERE i.blob_hash = b.hash AND i.account_id = $1 AND i.folder_id = $2)",
	               &p, blob_done);
	return &b->op;
}
