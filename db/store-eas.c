/* Store reads for ActiveSync (db/store-eas.h): a window of messages with
 * their bytes in one query, and the mailbox Search over several folders.
 * User text only ever travels as query parameters. */
#include "store-eas.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store-private.h"
#include "xmalloc.h"

#define EAS_QUERY_DEPTH_MAX 16

static const char *
value_or_null(const struct db_result *res, int row, int col)
{
	return db_result_isnull(res, row, col) ? NULL : db_result_value(res, row, col);
}

/* Value + 1 of each base64 character, 0 for the others (a Sync window
 * decodes megabytes: one table look-up per character). */
static const unsigned char b64_table[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* Decodes PostgreSQL's encode(.., 'base64') (line breaks every 76
 * characters) into out, which has room for 3/4 of the text. */
static size_t
b64_decode(const char *text, unsigned char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		unsigned v = b64_table[*p];

		if (v == 0)
			continue; /* line breaks and padding */
		acc = (acc << 6) | (v - 1);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

/* --- Items with their bytes --- */

struct items_op {
	struct store_op op;
	store_eas_items_cb *cb;
};

static void
items_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct items_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
items_done(struct store_op *op, const struct db_result *res)
{
	struct items_op *i = (struct items_op *)op;
	int rows = db_result_rows(res);
	struct store_eas_item *items = store_op_calloc(op, (size_t)rows + 1, sizeof(*items));
	struct store_eas_items_result result = {.items = items, .count = (size_t)rows};

	for (int r = 0; r < rows; r++) {
		struct store_eas_item *it = &items[r];

		it->uid = (uint32_t)store_u64(db_result_value(res, r, 0));
		it->modseq = store_u64(db_result_value(res, r, 1));
		it->flags = store_split_flags(op, db_result_value(res, r, 2), &it->nflags);
		it->internal_date = (time_t)strtoll(db_result_value(res, r, 3), NULL, 10);
		it->size = store_u64(db_result_value(res, r, 4));
		it->blob_hash = value_or_null(res, r, 5);
		it->email_id = value_or_null(res, r, 6);
		it->thread_id = value_or_null(res, r, 7);
		if (!db_result_isnull(res, r, 8)) {
			const char *b64 = db_result_value(res, r, 8);
			unsigned char *data = store_op_alloc(op, strlen(b64) / 4 * 3 + 4);

			it->data_len = b64_decode(b64, data);
			data[it->data_len] = '\0';
			it->data = data;
		}
	}
	store_op_deliver_begin(op);
	i->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_eas_items(struct store *store, uint64_t account_id, uint64_t folder_id, const uint32_t *uids,
                size_t count, size_t max_data, store_eas_items_cb *cb, void *ctx)
{
	struct items_op *i = (struct items_op *)store_op_new(store, sizeof(*i), items_fail, ctx);
	struct store_params p = {0};
	struct store_str arr = {0};

	i->cb = cb;
	store_str_add(&arr, "{");
	for (size_t k = 0; k < count; k++)
		store_str_addf(&arr, "%s%" PRIu32, k > 0 ? "," : "", uids[k]);
	store_str_add(&arr, "}");
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param_take(&p, arr.s);
	store_param_u64(&p, max_data);
	store_op_query(&i->op,
	               "SELECT i.uid, i.modseq, array_to_string(i.flags, ' '),"
	               " extract(epoch FROM i.internal_date)::bigint, i.size,"
	               " encode(i.blob_hash, 'hex'), i.email_id, i.thread_id,"
	               " CASE WHEN i.size <= $4 THEN encode(b.data, 'base64') END"
	               " FROM unnest($3::bigint[]) WITH ORDINALITY AS u(uid, n)"
	               " JOIN items i ON i.account_id = $1 AND i.folder_id = $2 AND i.uid = u.uid"
	               " JOIN blobs b ON b.hash = i.blob_hash"
	               " ORDER BY u.n",
	               &p, items_done);
	return &i->op;
}

/* --- Search --- */

struct search_op {
	struct store_op op;
	store_eas_search_cb *cb;
};

static void
search_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct search_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
search_done(struct store_op *op, const struct db_result *res)
{
	struct search_op *s = (struct search_op *)op;
	int rows = db_result_rows(res);
	struct store_eas_hit *hits = store_op_calloc(op, (size_t)rows + 1, sizeof(*hits));
	struct store_eas_search_result result = {.hits = hits};

	for (int r = 0; r < rows; r++) {
		result.total = store_u64(db_result_value(res, r, 0));
		if (db_result_isnull(res, r, 1))
			continue;
		hits[result.count].folder_id = store_u64(db_result_value(res, r, 1));
		hits[result.count].uid = (uint32_t)store_u64(db_result_value(res, r, 2));
		hits[result.count].internal_date =
		    (time_t)strtoll(db_result_value(res, r, 3), NULL, 10);
		result.count++;
	}
	store_op_deliver_begin(op);
	s->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

/* '%text%' for LIKE, with \, % and _ escaped. */
static int
like_param(struct store_params *p, const char *text)
{
	char *clean = store_utf8_clean(text);
	struct store_str pat = {0};
	char one[2] = {0, 0};

	store_str_add(&pat, "%");
	for (const char *c = clean; *c != '\0'; c++) {
		if (*c == '\\' || *c == '%' || *c == '_')
			store_str_add(&pat, "\\");
		one[0] = *c;
		store_str_add(&pat, one);
	}
	store_str_add(&pat, "%");
	free(clean);
	return store_param_take(p, pat.s);
}

static int
build_query(struct store_str *sql, struct store_params *p, const struct store_eas_query *q,
            unsigned depth, const char **error_r)
{
	int n;

	if (depth > EAS_QUERY_DEPTH_MAX) {
		*error_r = "search query nested too deeply";
		return -1;
	}
	switch (q->kind) {
	case STORE_EASQ_AND:
	case STORE_EASQ_OR:
		if (q->nchildren == 0 || q->children == NULL) {
			*error_r = "empty And/Or in the search query";
			return -1;
		}
		store_str_add(sql, "(");
		for (size_t i = 0; i < q->nchildren; i++) {
			if (i > 0)
				store_str_add(sql, q->kind == STORE_EASQ_AND ? " AND " : " OR ");
			if (build_query(sql, p, &q->children[i], depth + 1, error_r) < 0)
				return -1;
		}
		store_str_add(sql, ")");
		return 0;
	case STORE_EASQ_TEXT:
		if (q->text == NULL || *q->text == '\0') {
			*error_r = "empty search text";
			return -1;
		}
		n = like_param(p, q->text);
		store_str_addf(sql,
		               "(floe_fold(m.subject) LIKE floe_fold($%d)"
		               " OR floe_fold(m.from_addr) LIKE floe_fold($%d)"
		               " OR floe_fold(m.to_addr) LIKE floe_fold($%d)"
		               " OR floe_fold(m.cc_addr) LIKE floe_fold($%d)"
		               " OR m.search_text LIKE floe_fold($%d))",
		               n, n, n, n, n);
		return 0;
	case STORE_EASQ_AFTER:
		n = store_param_i64(p, (int64_t)q->date);
		store_str_addf(sql, "i.internal_date > to_timestamp($%d::bigint)", n);
		return 0;
	case STORE_EASQ_BEFORE:
		n = store_param_i64(p, (int64_t)q->date);
		store_str_addf(sql, "i.internal_date < to_timestamp($%d::bigint)", n);
		return 0;
	}
	*error_r = "unknown search criterion";
	return -1;
}

struct store_op *
store_eas_search(struct store *store, uint64_t account_id, const uint64_t *folder_ids,
                 size_t nfolders, const struct store_eas_query *query, size_t offset, size_t limit,
                 store_eas_search_cb *cb, void *ctx)
{
	struct search_op *s = (struct search_op *)store_op_new(store, sizeof(*s), search_fail, ctx);
	struct store_params p = {0};
	struct store_str sql = {0}, arr = {0};
	const char *error = NULL;

	s->cb = cb;
	store_str_add(&arr, "{");
	for (size_t k = 0; k < nfolders; k++)
		store_str_addf(&arr, "%s%" PRIu64, k > 0 ? "," : "", folder_ids[k]);
	store_str_add(&arr, "}");
	store_param_u64(&p, account_id);
	store_param_take(&p, arr.s);
	store_param_u64(&p, offset);
	store_param_u64(&p, limit);
	store_str_add(&sql, "WITH hits AS (SELECT i.folder_id, i.uid, i.internal_date"
	                    " FROM items i"
	                    " JOIN folders f ON f.account_id = $1 AND f.id = i.folder_id"
	                    " AND f.type = 'mail'"
	                    " JOIN message_meta m ON m.account_id = i.account_id"
	                    " AND m.hash = i.blob_hash"
	                    " WHERE i.account_id = $1 AND i.folder_id = ANY ($2::bigint[])"
	                    " AND NOT ('\\Deleted' = ANY (i.flags))");
	if (query != NULL) {
		store_str_add(&sql, " AND ");
		if (build_query(&sql, &p, query, 0, &error) < 0) {
			store_str_free(&sql);
			store_params_clear(&p);
			return store_op_fail_later(&s->op, STORE_ERR_INVALID, "%s", error);
		}
	}
	store_str_add(&sql, ") SELECT t.total::text, h.folder_id::text, h.uid::text,"
	                    " extract(epoch FROM h.internal_date)::bigint::text"
	                    " FROM (SELECT count(*) AS total FROM hits) t"
	                    " LEFT JOIN LATERAL (SELECT * FROM hits"
	                    " ORDER BY hits.internal_date DESC, hits.folder_id, hits.uid DESC"
	                    " OFFSET $3 LIMIT $4) h ON true");
	store_op_query(&s->op, sql.s, &p, search_done);
	store_str_free(&sql);
	return &s->op;
}
