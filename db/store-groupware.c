/* Groupware items in the store: append and replace with the index in one
 * statement (floe_groupware_append / floe_groupware_replace of
 * 0010_groupware.sql, built on floe_append; file columns in
 * 0014_groupware_files.sql), and the index queries. */
#include "store-groupware.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "base64.h"
#include "store-private.h"
#include "xmalloc.h"

#define RANGE_LIMIT_DEFAULT    10000
#define CONTACTS_LIMIT_DEFAULT 100
/* Floating times are some zone's wall clock: UTC-12 to UTC+14. */
#define FLOATING_MARGIN "interval '14 hours'"

/* --- JSON for the SQL functions --- */

static json_t *
text_array(const char *const *v, size_t n)
{
	json_t *arr = json_array();
	char *clean;

	for (size_t i = 0; v != NULL && i < n; i++) {
		if (v[i] == NULL)
			continue;
		clean = store_utf8_clean(v[i]);
		json_array_append_new(arr, json_string(clean));
		free(clean);
	}
	return arr;
}

/* The index object floe_groupware_index_put reads. */
static json_t *
index_json(const struct store_gw_index *x)
{
	json_t *obj = json_object(), *att = json_array();

	store_json_set_text(obj, "kind", x->kind);
	store_json_set_text(obj, "uid", x->uid);
	store_json_set_text(obj, "title", x->title);
	store_json_set_text(obj, "location", x->location);
	store_json_set_text(obj, "status", x->status);
	store_json_set_text(obj, "class", x->klass);
	store_json_set_text(obj, "rrule", x->rrule);
	store_json_set_text(obj, "organizer", x->organizer);
	json_object_set_new(obj, "private", json_boolean(x->is_private));
	if (x->has_start) {
		json_object_set_new(obj, "start", json_integer(x->start));
		json_object_set_new(obj, "end", json_integer(x->has_end ? x->end : x->start));
		if (!x->infinite)
			json_object_set_new(obj, "range_end", json_integer(x->range_end));
	}
	json_object_set_new(obj, "all_day", json_boolean(x->all_day));
	json_object_set_new(obj, "floating", json_boolean(x->floating));
	json_object_set_new(obj, "recurring", json_boolean(x->recurring));
	if (x->has_due)
		json_object_set_new(obj, "due", json_integer(x->due));
	if (x->has_completed)
		json_object_set_new(obj, "completed", json_integer(x->completed));
	if (x->percent >= 0)
		json_object_set_new(obj, "percent", json_integer(x->percent));
	if (x->priority > 0)
		json_object_set_new(obj, "priority", json_integer(x->priority));
	json_object_set_new(obj, "categories", text_array(x->categories, x->ncategories));
	for (size_t i = 0; x->attendees != NULL && i < x->nattendees; i++) {
		json_t *a = json_object();

		store_json_set_text(a, "address", x->attendees[i].address);
		store_json_set_text(a, "name", x->attendees[i].name);
		store_json_set_text(a, "partstat", x->attendees[i].partstat);
		store_json_set_text(a, "role", x->attendees[i].role);
		json_array_append_new(att, a);
	}
	json_object_set_new(obj, "attendees", att);
	store_json_set_text(obj, "given_name", x->given_name);
	store_json_set_text(obj, "family_name", x->family_name);
	store_json_set_text(obj, "org", x->org);
	json_object_set_new(obj, "emails", text_array(x->emails, x->nemails));
	json_object_set_new(obj, "phones", text_array(x->phones, x->nphones));
	json_object_set_new(obj, "members", text_array(x->members, x->nmembers));
	if (x->bday_month > 0) {
		if (x->bday_year > 0)
			json_object_set_new(obj, "bday_year", json_integer(x->bday_year));
		json_object_set_new(obj, "bday_month", json_integer(x->bday_month));
		json_object_set_new(obj, "bday_day", json_integer(x->bday_day));
	}
	if (x->kind != NULL && strcmp(x->kind, "file") == 0) {
		store_json_set_text(obj, "filename", x->filename);
		store_json_set_text(obj, "media_type", x->media_type);
		store_json_set_text(obj, "sha256", x->sha256);
		json_object_set_new(obj, "size", json_integer((json_int_t)x->file_size));
	}
	return obj;
}

/* The JSON object floe_append reads for one item: flags, internal date,
 * parse results. NULL with *error_r for bad input. */
static json_t *
item_json(const struct store_append_item *item, const struct store_gw_index *index,
          const char **error_r)
{
	json_t *obj, *flags;
	const char *flag;

	if (item == NULL || index == NULL || (item->data == NULL && item->size > 0)) {
		*error_r = "nothing to append";
		return NULL;
	}
	if (index->kind == NULL || index->uid == NULL || index->uid[0] == '\0') {
		*error_r = "the index needs the object's kind and UID";
		return NULL;
	}
	if (strcmp(index->kind, "file") == 0 &&
	    (index->filename == NULL || index->filename[0] == '\0' || index->media_type == NULL ||
	     index->sha256 == NULL || strlen(index->sha256) != 64)) {
		*error_r = "the index of a file needs its name, media type and SHA-256";
		return NULL;
	}
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

int
store_groupware_append_params(const struct store_append_item *items,
                              const struct store_gw_index *const *indexes, size_t count,
                              char **datas_r, char **items_r, char **index_r, const char **error_r)
{
	json_t *arr, *idx, *obj;
	size_t total = 3;
	char *out;

	*datas_r = *items_r = *index_r = NULL;
	if (count == 0 || items == NULL || indexes == NULL) {
		*error_r = "nothing to append";
		return -1;
	}
	arr = json_array();
	idx = json_array();
	for (size_t i = 0; i < count; i++) {
		if ((obj = item_json(&items[i], indexes[i], error_r)) == NULL) {
			json_decref(arr);
			json_decref(idx);
			return -1;
		}
		json_array_append_new(arr, obj);
		json_array_append_new(idx, index_json(indexes[i]));
		total += BASE64_ENCODED_LEN(items[i].size) + 3;
	}
	/* text[] literal of base64 elements, {"...","..."}, encoded in place:
	 * beside the items themselves only this one copy is made. */
	*datas_r = out = xmalloc(total);
	*out++ = '{';
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			*out++ = ',';
		*out++ = '"';
		out = base64_encode_into(out, items[i].data != NULL ? items[i].data : "",
		                         items[i].size);
		*out++ = '"';
	}
	*out++ = '}';
	*out = '\0';
	*items_r = json_dumps(arr, JSON_COMPACT);
	*index_r = json_dumps(idx, JSON_COMPACT);
	json_decref(arr);
	json_decref(idx);
	if (*items_r == NULL || *index_r == NULL) {
		free(*datas_r);
		free(*items_r);
		free(*index_r);
		*datas_r = *items_r = *index_r = NULL;
		*error_r = "cannot encode the items";
		return -1;
	}
	return 0;
}

/* Adds $n: text[] of the items in base64, $n+1: the item JSON array, $n+2:
 * the index JSON array. Returns -1 with *error_r for bad input. */
static int
item_params(struct store_params *p, const struct store_append_item *items,
            const struct store_gw_index *const *indexes, size_t count, const char **error_r)
{
	char *datas, *json, *index;

	if (store_groupware_append_params(items, indexes, count, &datas, &json, &index, error_r) <
	    0)
		return -1;
	store_param_take(p, datas);
	store_param(p, json);
	free(json);
	store_param(p, index);
	free(index);
	return 0;
}

/* --- Append and replace --- */

struct store_op *
store_groupware_append(struct store *store, uint64_t account_id, uint64_t folder_id,
                       const struct store_append_item *item, const struct store_gw_index *index,
                       store_append_cb *cb, void *ctx)
{
	return store_groupware_append_many(store, account_id, folder_id, item, &index,
	                                   item != NULL ? 1 : 0, cb, ctx);
}

struct store_op *
store_groupware_append_many(struct store *store, uint64_t account_id, uint64_t folder_id,
                            const struct store_append_item *items,
                            const struct store_gw_index *const *indexes, size_t count,
                            store_append_cb *cb, void *ctx)
{
	struct store_append_op *a = store_append_op_new(store, cb, ctx);
	struct store_params p = {0};
	const char *error = NULL;

	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	if (item_params(&p, items, indexes, count, &error) < 0) {
		store_params_clear(&p);
		return store_op_fail_later(&a->op, STORE_ERR_INVALID, "%s", error);
	}
	store_op_query(&a->op,
	               "SELECT r_uidvalidity, r_uid, r_modseq, r_analyze::text"
	               " FROM floe_groupware_append($1, $2, $3, $4, $5)",
	               &p, store_append_done);
	return &a->op;
}

struct store_op *
store_groupware_replace(struct store *store, uint64_t account_id, uint64_t folder_id,
                        uint32_t old_uid, uint64_t unchangedsince,
                        const struct store_append_item *item, const struct store_gw_index *index,
                        store_append_cb *cb, void *ctx)
{
	struct store_append_op *a = store_append_op_new(store, cb, ctx);
	struct store_params p = {0};
	const char *error = NULL;

	if (old_uid == 0)
		return store_op_fail_later(&a->op, STORE_ERR_INVALID, "invalid UID 0");
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param_u64(&p, old_uid);
	store_param_u64(&p, unchangedsince);
	if (item_params(&p, item, &index, item != NULL ? 1 : 0, &error) < 0) {
		store_params_clear(&p);
		return store_op_fail_later(&a->op, STORE_ERR_INVALID, "%s", error);
	}
	store_op_query(&a->op,
	               "SELECT r_uidvalidity, r_uid, r_modseq, r_analyze::text"
	               " FROM floe_groupware_replace($1, $2, $3, $4, $5, $6, $7)",
	               &p, store_append_done);
	return &a->op;
}

/* --- Queries --- */

struct list_op {
	struct store_op op;
	store_gw_list_cb *cb;
};

static void
list_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct list_op *)op)->cb(NULL, code, error, op->ctx);
}

/* The columns every query selects, from items i and groupware_index g. */
#define ROW_COLUMNS                                                                                \
	"i.folder_id::text, i.uid::text, i.modseq::text, encode(i.blob_hash, 'hex'), g.kind, "     \
	"g.uid, g.title, g.location, g.status, g.rrule, "                                          \
	"extract(epoch FROM g.starts_at)::bigint::text, "                                          \
	"extract(epoch FROM g.ends_at)::bigint::text, "                                            \
	"extract(epoch FROM g.range_end)::bigint::text, g.all_day::text, g.floating::text, "       \
	"g.recurring::text, g.private::text, g.given_name, g.family_name, g.org, "                 \
	"array_to_json(g.emails)::text, array_to_json(g.phones)::text"
#define ROW_JOIN                                                                                   \
	" FROM items i JOIN groupware_index g"                                                     \
	" ON g.account_id = i.account_id AND g.hash = i.blob_hash"

static const char *
col_or_null(struct store_op *op, const struct db_result *res, int r, int c)
{
	return db_result_isnull(res, r, c) ? NULL : store_op_strdup(op, db_result_value(res, r, c));
}

/* A JSON array of strings into pool memory. */
static const char *const *
json_strings(struct store_op *op, const char *text, size_t *n_r)
{
	json_t *arr = json_loads(text, 0, NULL);
	size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
	const char **v = store_op_calloc(op, n + 1, sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		v[i] = store_op_strdup(op, s != NULL ? s : "");
	}
	json_decref(arr);
	*n_r = n;
	return v;
}

static void
list_done(struct store_op *op, const struct db_result *res)
{
	struct list_op *l = (struct list_op *)op;
	int rows = db_result_rows(res);
	struct store_gw_row *v = store_op_calloc(op, (size_t)rows + 1, sizeof(*v));
	struct store_gw_list list = {.rows = v, .count = (size_t)rows};

	for (int r = 0; r < rows; r++) {
		struct store_gw_row *row = &v[r];

		row->folder_id = store_u64(db_result_value(res, r, 0));
		row->uid = (uint32_t)store_u64(db_result_value(res, r, 1));
		row->modseq = store_u64(db_result_value(res, r, 2));
		row->blob_hash = col_or_null(op, res, r, 3);
		row->kind = col_or_null(op, res, r, 4);
		row->object_uid = col_or_null(op, res, r, 5);
		row->title = col_or_null(op, res, r, 6);
		row->location = col_or_null(op, res, r, 7);
		row->status = col_or_null(op, res, r, 8);
		row->rrule = col_or_null(op, res, r, 9);
		row->has_start = !db_result_isnull(res, r, 10);
		row->start = (time_t)strtoll(db_result_value(res, r, 10), NULL, 10);
		row->end = (time_t)strtoll(db_result_value(res, r, 11), NULL, 10);
		row->infinite = row->has_start && db_result_isnull(res, r, 12);
		row->range_end = (time_t)strtoll(db_result_value(res, r, 12), NULL, 10);
		row->all_day = store_bool(db_result_value(res, r, 13));
		row->floating = store_bool(db_result_value(res, r, 14));
		row->recurring = store_bool(db_result_value(res, r, 15));
		row->is_private = store_bool(db_result_value(res, r, 16));
		row->given_name = col_or_null(op, res, r, 17);
		row->family_name = col_or_null(op, res, r, 18);
		row->org = col_or_null(op, res, r, 19);
		row->emails = json_strings(op, db_result_value(res, r, 20), &row->nemails);
		row->phones = json_strings(op, db_result_value(res, r, 21), &row->nphones);
	}
	store_op_deliver_begin(op);
	l->cb(&list, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

static struct list_op *
list_op_new(struct store *store, store_gw_list_cb *cb, void *ctx)
{
	struct list_op *l = (struct list_op *)store_op_new(store, sizeof(*l), list_fail, ctx);

	l->cb = cb;
	return l;
}

struct store_op *
store_groupware_range(struct store *store, uint64_t account_id, uint64_t folder_id, time_t from,
                      time_t to, unsigned limit, store_gw_list_cb *cb, void *ctx)
{
	struct list_op *l = list_op_new(store, cb, ctx);
	struct store_params p = {0};

	if (to <= from)
		return store_op_fail_later(&l->op, STORE_ERR_INVALID,
		                           "the time range ends before it starts");
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param_i64(&p, (int64_t)from);
	store_param_i64(&p, (int64_t)to);
	store_param_u64(&p, limit > 0 ? limit : RANGE_LIMIT_DEFAULT);
	/* The wide test (with the floating margin) uses the range index; the
	 * second keeps the exact test for items in a known zone. */
	store_op_query(&l->op,
	               "SELECT " ROW_COLUMNS ROW_JOIN
	               " WHERE i.account_id = $1 AND i.folder_id = $2 AND g.starts_at IS NOT NULL"
	               " AND g.starts_at < to_timestamp($4) + " FLOATING_MARGIN
	               " AND coalesce(g.range_end, 'infinity'::timestamptz)"
	               " > to_timestamp($3) - " FLOATING_MARGIN
	               " AND (g.floating OR (g.starts_at < to_timestamp($4)"
	               " AND (coalesce(g.range_end, 'infinity'::timestamptz) > to_timestamp($3)"
	               " OR g.starts_at >= to_timestamp($3))))"
	               " ORDER BY g.starts_at, i.uid LIMIT $5",
	               &p, list_done);
	return &l->op;
}

struct store_op *
store_groupware_contacts(struct store *store, uint64_t account_id, uint64_t folder_id,
                         const char *prefix, unsigned limit, store_gw_list_cb *cb, void *ctx)
{
	struct list_op *l = list_op_new(store, cb, ctx);
	struct store_params p = {0};
	char *clean;

	if (prefix == NULL)
		prefix = "";
	if (strlen(prefix) > 200)
		return store_op_fail_later(&l->op, STORE_ERR_INVALID, "search prefix too long");
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	clean = store_utf8_clean(prefix);
	store_param_take(&p, clean);
	store_param_u64(&p, limit > 0 ? limit : CONTACTS_LIMIT_DEFAULT);
	/* A prefix is the key range [p, p || U+10FFFF) in the C collation. */
	store_op_query(&l->op,
	               "SELECT " ROW_COLUMNS ROW_JOIN
	               " JOIN folders f ON f.account_id = i.account_id AND f.id = i.folder_id"
	               " WHERE i.account_id = $1 AND ($2 = 0 OR i.folder_id = $2)"
	               " AND f.type = 'contact' AND g.kind IN ('contact', 'distlist')"
	               " AND ($3 = '' OR EXISTS (SELECT 1 FROM groupware_keys k"
	               " WHERE k.account_id = $1 AND k.hash = g.hash"
	               " AND k.key >= floe_fold($3) COLLATE \"C\""
	               " AND k.key < (floe_fold($3) || chr(1114111)) COLLATE \"C\"))"
	               " ORDER BY floe_fold(coalesce(g.title, '')), i.folder_id, i.uid LIMIT $4",
	               &p, list_done);
	return &l->op;
}

struct store_op *
store_groupware_find_uid(struct store *store, uint64_t account_id, uint64_t folder_id,
                         const char *object_uid, store_gw_list_cb *cb, void *ctx)
{
	struct list_op *l = list_op_new(store, cb, ctx);
	struct store_params p = {0};

	if (object_uid == NULL || object_uid[0] == '\0')
		return store_op_fail_later(&l->op, STORE_ERR_INVALID, "empty object UID");
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param_take(&p, store_utf8_clean(object_uid));
	store_op_query(&l->op,
	               "SELECT " ROW_COLUMNS ROW_JOIN
	               " WHERE i.account_id = $1 AND i.folder_id = $2 AND g.uid = $3"
	               " ORDER BY i.uid",
	               &p, list_done);
	return &l->op;
}

/* --- Files --- */

struct file_list_op {
	struct store_op op;
	store_gw_file_list_cb *cb;
};

static void
file_list_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct file_list_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
file_list_done(struct store_op *op, const struct db_result *res)
{
	struct file_list_op *l = (struct file_list_op *)op;
	int rows = db_result_rows(res);
	struct store_gw_file *v = store_op_calloc(op, (size_t)rows + 1, sizeof(*v));
	struct store_gw_file_list list = {.files = v, .count = (size_t)rows};

	for (int r = 0; r < rows; r++) {
		struct store_gw_file *f = &v[r];

		f->uid = (uint32_t)store_u64(db_result_value(res, r, 0));
		f->modseq = store_u64(db_result_value(res, r, 1));
		f->blob_hash = store_op_strdup(op, db_result_value(res, r, 2));
		f->object_uid = store_op_strdup(op, db_result_value(res, r, 3));
		f->filename = store_op_strdup(op, db_result_value(res, r, 4));
		f->size = store_u64(db_result_value(res, r, 5));
		f->media_type = store_op_strdup(op, db_result_value(res, r, 6));
		f->sha256 = store_op_strdup(op, db_result_value(res, r, 7));
		f->internal_date = (time_t)strtoll(db_result_value(res, r, 8), NULL, 10);
		f->item_size = store_u64(db_result_value(res, r, 9));
	}
	store_op_deliver_begin(op);
	l->cb(&list, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_groupware_files(struct store *store, uint64_t account_id, uint64_t folder_id,
                      const char *filename, store_gw_file_list_cb *cb, void *ctx)
{
	struct file_list_op *l =
	    (struct file_list_op *)store_op_new(store, sizeof(*l), file_list_fail, ctx);
	struct store_params p = {0};

	l->cb = cb;
	if (filename != NULL && (filename[0] == '\0' || strlen(filename) > 1024))
		return store_op_fail_later(&l->op, STORE_ERR_INVALID, "invalid file name");
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	if (filename != NULL)
		store_param_take(&p, store_utf8_clean(filename));
	else
		store_param(&p, NULL);
	store_op_query(
	    &l->op,
	    "SELECT i.uid::text, i.modseq::text, encode(i.blob_hash, 'hex'), g.uid,"
	    " f.filename, f.size::text, f.media_type, encode(f.sha256, 'hex'),"
	    " extract(epoch FROM i.internal_date)::bigint::text, i.size::text"
	    " FROM items i"
	    " JOIN groupware_index g ON g.account_id = i.account_id AND g.hash = i.blob_hash"
	    " JOIN groupware_files f ON f.account_id = i.account_id AND f.hash = i.blob_hash"
	    " WHERE i.account_id = $1 AND i.folder_id = $2"
	    " AND ($3::text IS NULL OR f.filename = $3)"
	    " ORDER BY f.filename COLLATE \"C\", i.uid",
	    &p, file_list_done);
	return &l->op;
}

/* --- Private items hidden from restricted grantees --- */

#define PRIVATE_OF(i)                                                                              \
	"EXISTS (SELECT 1 FROM groupware_index g WHERE g.account_id = " i ".account_id"            \
	" AND g.hash = " i ".blob_hash AND g.private)"
#define VISIBLE_NULLS13                                                                            \
	"NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
/* The folder row as store_folder_select reads it: kind 0 first. */
#define VISIBLE_FOLDER                                                                             \
	"SELECT 0 AS k, 0::bigint AS o, " STORE_FOLDER_COLUMNS(                                    \
	    "(CASE WHEN f.parent_id IS NULL THEN f.name"                                           \
	    " ELSE floe_folder_path(f.account_id, f.id) END)") " FROM folders f WHERE "            \
	                                                       "f.account_id = $1 AND f.id = $2"

/* Rows: kind 1 (uid, modseq, flags, private), kind 2 (vanished uid), kind
 * 3 (an older private item's uid). */
static const char visible_select_sql[] =
    VISIBLE_FOLDER " UNION ALL"
                   " SELECT 1, i.uid, i.uid::text, i.modseq::text, array_to_string(i.flags, ' '), "
                   "(" PRIVATE_OF("i") ")::text, " VISIBLE_NULLS13
                                       " FROM items i WHERE i.account_id = $1 AND i.folder_id = $2"
                                       " ORDER BY 1, 2";

static const char visible_changes_sql[] = VISIBLE_FOLDER
    " UNION ALL"
    " SELECT c.k, c.uid, c.uid::text, c.modseq::text, c.flags, "
    "(c.k = 1 AND EXISTS (SELECT 1 FROM items i WHERE i.account_id = $1 AND i.folder_id = $2"
    " AND i.uid = c.uid AND " PRIVATE_OF(
        "i") "))::text, " VISIBLE_NULLS13 " FROM floe_changes($1, $2, $3) c"
             " UNION ALL"
             " SELECT 3, i.uid, i.uid::text, NULL, NULL, 'true', " VISIBLE_NULLS13
             " FROM items i WHERE i.account_id = $1 AND i.folder_id = $2"
             " AND i.modseq > $4 AND i.modseq <= $3 AND " PRIVATE_OF("i") " ORDER BY 1, 2";

struct visible_op {
	struct store_op op;
	store_gw_visible_cb *cb;
};

static void
visible_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct visible_op *)op)->cb(NULL, NULL, 0, code, error, op->ctx);
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
visible_done(struct store_op *op, const struct db_result *res)
{
	struct visible_op *m = (struct visible_op *)op;
	int rows = db_result_rows(res);
	struct store_folder folder;
	struct store_msg *msgs;
	uint32_t *vanished, *priv;
	size_t npriv = 0;
	struct store_msg_list list = {.folder = &folder};

	if (rows == 0 || db_result_value(res, 0, 0)[0] != '0') {
		store_op_fail(op, STORE_ERR_NOT_FOUND, "no such folder");
		return;
	}
	store_folder_parse(op, res, 0, 2, &folder);
	if (folder.noselect) {
		store_op_fail(op, STORE_ERR_INVALID, "folder cannot be selected");
		return;
	}
	msgs = store_op_calloc(op, (size_t)rows, sizeof(*msgs));
	vanished = store_op_calloc(op, (size_t)rows, sizeof(*vanished));
	priv = store_op_calloc(op, (size_t)rows, sizeof(*priv));
	for (int r = 1; r < rows; r++) {
		const char *kind = db_result_value(res, r, 0);
		uint32_t uid = (uint32_t)store_u64(db_result_value(res, r, 2));

		if (kind[0] == '2') {
			vanished[list.nvanished++] = uid;
		} else if (kind[0] == '3' || store_bool(db_result_value(res, r, 5))) {
			priv[npriv++] = uid;
		} else {
			struct store_msg *msg = &msgs[list.count++];

			msg->uid = uid;
			msg->modseq = store_u64(db_result_value(res, r, 3));
			msg->flags =
			    store_split_flags(op, db_result_value(res, r, 4), &msg->nflags);
		}
	}
	if (npriv > 1)
		qsort(priv, npriv, sizeof(*priv), uid_cmp);
	list.msgs = msgs;
	list.vanished = vanished;
	store_op_deliver_begin(op);
	m->cb(&list, priv, npriv, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_groupware_visible(struct store *store, uint64_t account_id, uint64_t folder_id, bool select,
                        uint64_t since, uint64_t private_since, store_gw_visible_cb *cb, void *ctx)
{
	struct visible_op *m =
	    (struct visible_op *)store_op_new(store, sizeof(*m), visible_fail, ctx);
	struct store_params p = {0};

	m->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	if (select) {
		store_op_query(&m->op, visible_select_sql, &p, visible_done);
	} else {
		store_param_u64(&p, since);
		store_param_u64(&p, private_since);
		store_op_query(&m->op, visible_changes_sql, &p, visible_done);
	}
	return &m->op;
}

struct uids_op {
	struct store_op op;
	store_gw_uids_cb *cb;
};

static void
uids_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct uids_op *)op)->cb(NULL, 0, code, error, op->ctx);
}

static void
uids_done(struct store_op *op, const struct db_result *res)
{
	struct uids_op *u = (struct uids_op *)op;
	int rows = db_result_rows(res);
	uint32_t *uids = store_op_calloc(op, (size_t)rows + 1, sizeof(*uids));

	for (int r = 0; r < rows; r++)
		uids[r] = (uint32_t)store_u64(db_result_value(res, r, 0));
	store_op_deliver_begin(op);
	u->cb(uids, (size_t)rows, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_groupware_private_uids(struct store *store, uint64_t account_id, uint64_t folder_id,
                             uint64_t since, store_gw_uids_cb *cb, void *ctx)
{
	struct uids_op *u = (struct uids_op *)store_op_new(store, sizeof(*u), uids_fail, ctx);
	struct store_params p = {0};

	u->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param_u64(&p, since);
	store_op_query(&u->op,
	               "SELECT i.uid::text FROM items i"
	               " WHERE i.account_id = $1 AND i.folder_id = $2 AND i.modseq > $3"
	               " AND " PRIVATE_OF("i") " ORDER BY i.uid",
	               &p, uids_done);
	return &u->op;
}

struct counts_op {
	struct store_op op;
	store_gw_counts_cb *cb;
};

static void
counts_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct counts_op *)op)->cb(NULL, 0, code, error, op->ctx);
}

static void
counts_done(struct store_op *op, const struct db_result *res)
{
	struct counts_op *c = (struct counts_op *)op;
	int rows = db_result_rows(res);
	struct store_gw_counts *v = store_op_calloc(op, (size_t)rows + 1, sizeof(*v));

	for (int r = 0; r < rows; r++) {
		v[r].owner_id = store_u64(db_result_value(res, r, 0));
		v[r].folder_id = store_u64(db_result_value(res, r, 1));
		v[r].messages = (uint32_t)store_u64(db_result_value(res, r, 2));
		v[r].unseen = (uint32_t)store_u64(db_result_value(res, r, 3));
		v[r].deleted = (uint32_t)store_u64(db_result_value(res, r, 4));
		v[r].size = store_u64(db_result_value(res, r, 5));
	}
	store_op_deliver_begin(op);
	c->cb(v, (size_t)rows, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

/* "{1,2,3}": a bigint[] literal of column col of folders. */
static char *
counts_array(const uint64_t (*folders)[2], size_t count, int col)
{
	struct store_str s = {0};

	store_str_add(&s, "{");
	for (size_t i = 0; i < count; i++)
		store_str_addf(&s, "%s%" PRIu64, i == 0 ? "" : ",", folders[i][col]);
	store_str_add(&s, "}");
	return s.s;
}

struct store_op *
store_groupware_visible_counts(struct store *store, const uint64_t (*folders)[2], size_t count,
                               store_gw_counts_cb *cb, void *ctx)
{
	struct counts_op *c = (struct counts_op *)store_op_new(store, sizeof(*c), counts_fail, ctx);
	struct store_params p = {0};

	c->cb = cb;
	if (count == 0 || count > STORE_GW_COUNTS_MAX)
		return store_op_fail_later(&c->op, STORE_ERR_INVALID, "between 1 and %d folders",
		                           STORE_GW_COUNTS_MAX);
	store_param_take(&p, counts_array(folders, count, 0));
	store_param_take(&p, counts_array(folders, count, 1));
	store_op_query(&c->op,
	               "SELECT f.o::text, f.id::text, count(i.uid)::text,"
	               " count(i.uid) FILTER (WHERE NOT ('\\Seen' = ANY (i.flags)))::text,"
	               " count(i.uid) FILTER (WHERE '\\Deleted' = ANY (i.flags))::text,"
	               " coalesce(sum(i.size), 0)::text"
	               " FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS f(o, id, n)"
	               " LEFT JOIN items i ON i.account_id = f.o AND i.folder_id = f.id"
	               " AND NOT " PRIVATE_OF("i") " GROUP BY f.n, f.o, f.id ORDER BY f.n",
	               &p, counts_done);
	return &c->op;
}

struct many_op {
	struct store_op op;
	store_gw_private_many_cb *cb;
};

static void
many_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct many_op *)op)->cb(NULL, 0, code, error, op->ctx);
}

static void
many_done(struct store_op *op, const struct db_result *res)
{
	struct many_op *m = (struct many_op *)op;
	int rows = db_result_rows(res);
	struct store_gw_private_uid *v = store_op_calloc(op, (size_t)rows + 1, sizeof(*v));

	for (int r = 0; r < rows; r++) {
		v[r].owner_id = store_u64(db_result_value(res, r, 0));
		v[r].folder_id = store_u64(db_result_value(res, r, 1));
		v[r].uid = (uint32_t)store_u64(db_result_value(res, r, 2));
	}
	store_op_deliver_begin(op);
	m->cb(v, (size_t)rows, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_groupware_private_many(struct store *store, const uint64_t (*folders)[2], size_t count,
                             uint64_t since, store_gw_private_many_cb *cb, void *ctx)
{
	struct many_op *m = (struct many_op *)store_op_new(store, sizeof(*m), many_fail, ctx);
	struct store_params p = {0};

	m->cb = cb;
	if (count == 0 || count > STORE_GW_COUNTS_MAX)
		return store_op_fail_later(&m->op, STORE_ERR_INVALID, "between 1 and %d folders",
		                           STORE_GW_COUNTS_MAX);
	store_param_take(&p, counts_array(folders, count, 0));
	store_param_take(&p, counts_array(folders, count, 1));
	store_param_u64(&p, since);
	store_op_query(&m->op,
	               "SELECT f.o::text, f.id::text, i.uid::text"
	               " FROM unnest($1::bigint[], $2::bigint[]) AS f(o, id)"
	               " JOIN items i ON i.account_id = f.o AND i.folder_id = f.id"
	               " AND i.modseq > $3 AND " PRIVATE_OF("i") " ORDER BY f.o, f.id, i.uid",
	               &p, many_done);
	return &m->op;
}
