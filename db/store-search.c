/* SEARCH and SORT: a criteria tree (store.h) becomes one parameterized
 * WHERE clause over the folder's items; user text only ever travels as
 * parameters. Substring matching is floe_fold(column) LIKE floe_fold($n)
 * (the large search texts are stored folded: column LIKE floe_fold($n))
 * with LIKE's wildcards escaped, which the GIN trigram indexes of
 * 0002_mail.sql serve on large folders. Dates compare whole UTC days. */
#include "store-private.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define SEARCH_DEPTH_MAX 64
/* Up to this many UID ranges become index conditions; more go as arrays. */
#define SEARCH_INLINE_RANGES 32
#define SORT_KEYS_MAX        16
#define DAY                  86400

struct build {
	struct store_str sql;
	struct store_params params;
	const char *error;
};

/* '%text%' for LIKE, with \, % and _ escaped (backslash is LIKE's escape). */
static int
like_param(struct build *b, const char *text)
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
	return store_param_take(&b->params, pat.s);
}

static time_t
day_start(time_t t)
{
	return t - ((t % DAY) + DAY) % DAY;
}

static const char *
text_column(enum store_search_key key)
{
	switch (key) {
	case SK_SUBJECT:
		return "floe_fold(m.subject)";
	case SK_FROM:
		return "floe_fold(m.from_addr)";
	case SK_TO:
		return "floe_fold(m.to_addr)";
	case SK_CC:
		return "floe_fold(m.cc_addr)";
	case SK_BCC:
		return "floe_fold(m.bcc_addr)";
	case SK_BODY:
		return "m.search_text"; /* stored folded */
	default:
		return NULL;
	}
}

/* The decoded column that also answers HEADER name (lower-case), or NULL. */
static const char *
header_column(const char *name)
{
	static const struct {
		const char *name, *column;
	} map[] = {
	    {"subject", "floe_fold(m.subject)"}, {"from", "floe_fold(m.from_addr)"},
	    {"to", "floe_fold(m.to_addr)"},      {"cc", "floe_fold(m.cc_addr)"},
	    {"bcc", "floe_fold(m.bcc_addr)"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(name, map[i].name) == 0)
			return map[i].column;
	}
	return NULL;
}

static int build_node(struct build *b, const struct store_search *s, int depth);

static int
build_uids(struct build *b, const struct store_uid_ranges *uids)
{
	int n;

	if (uids->count == 0) {
		store_str_add(&b->sql, "false");
		return 0;
	}
	if (uids->ranges == NULL) {
		b->error = "invalid UID set";
		return -1;
	}
	if (uids->count > SEARCH_INLINE_RANGES) {
		n = store_param_ranges(&b->params, uids, &b->error);
		if (n < 0)
			return -1;
		/* Evaluated once (see floe_uids), whatever the plan around it. */
		store_str_addf(&b->sql, "i.uid = ANY (ARRAY(SELECT floe_uids($1, $2, $%d, $%d)))",
		               n, n + 1);
		return 0;
	}
	store_str_add(&b->sql, "(");
	for (size_t k = 0; k < uids->count; k++) {
		if (uids->ranges[k][0] == 0 || uids->ranges[k][0] > uids->ranges[k][1]) {
			b->error = "invalid UID range";
			return -1;
		}
		n = store_param_u64(&b->params, uids->ranges[k][0]);
		store_str_addf(&b->sql, "%si.uid BETWEEN $%d AND $%d", k > 0 ? " OR " : "", n,
		               store_param_u64(&b->params, uids->ranges[k][1]));
	}
	store_str_add(&b->sql, ")");
	return 0;
}

static int
build_flag(struct build *b, const struct store_search *s)
{
	const char *canon, *error;
	bool want = s->key == SK_FLAG;
	int n;

	if (s->text == NULL) {
		b->error = "flag missing";
		return -1;
	}
	/* A flag the store cannot hold (\Recent, say) is on no message. */
	if (store_flag_check(s->text, &error) < 0) {
		store_str_add(&b->sql, want ? "false" : "true");
		return 0;
	}
	canon = store_system_flag(s->text);
	n = store_param(&b->params, canon != NULL ? canon : s->text);
	store_str_addf(&b->sql,
	               canon != NULL ? "%s($%d = ANY (i.flags))" : "%sfloe_flags_has(i.flags, $%d)",
	               want ? "" : "NOT ", n);
	return 0;
}

static int
build_date(struct build *b, const struct store_search *s)
{
	bool sent = s->key == SK_SENTBEFORE || s->key == SK_SENTON || s->key == SK_SENTSINCE;
	const char *col = sent ? "coalesce(m.sent_date, i.internal_date)" : "i.internal_date";
	time_t day = day_start(s->date);
	int n = store_param_i64(&b->params, (int64_t)day);

	switch (s->key) {
	case SK_BEFORE:
	case SK_SENTBEFORE:
		store_str_addf(&b->sql, "%s < to_timestamp($%d)", col, n);
		break;
	case SK_SINCE:
	case SK_SENTSINCE:
		store_str_addf(&b->sql, "%s >= to_timestamp($%d)", col, n);
		break;
	default:
		store_str_addf(&b->sql, "(%s >= to_timestamp($%d) AND %s < to_timestamp($%d))", col,
		               n, col, store_param_i64(&b->params, (int64_t)day + DAY));
		break;
	}
	return 0;
}

static int
build_header(struct build *b, const struct store_search *s)
{
	const char *column;
	char *name;
	size_t len = s->field != NULL ? strlen(s->field) : 0;
	int n, pat = 0;

	if (len == 0 || len > STORE_NAME_MAX) {
		b->error = "invalid header name";
		return -1;
	}
	name = xstrdup(s->field);
	for (char *c = name; *c != '\0'; c++) {
		if (*c <= 0x20 || *c >= 0x7f || *c == ':') {
			free(name);
			b->error = "invalid header name";
			return -1;
		}
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	}
	column = header_column(name);
	n = store_param_take(&b->params, name);
	if (s->text != NULL && *s->text != '\0')
		pat = like_param(b, s->text);

	/* headers_text holds the unfolded header block, one field a line,
	 * case-folded (so the name compares with the lower-cased one). */
	store_str_add(&b->sql, "(");
	if (pat > 0)
		store_str_addf(&b->sql, "(m.headers_text LIKE floe_fold($%d) AND ", pat);
	store_str_addf(
	    &b->sql,
	    "EXISTS (SELECT 1 FROM regexp_split_to_table(m.headers_text, '\\n') AS l(line)"
	    " WHERE rtrim(split_part(l.line, ':', 1)) = $%d",
	    n);
	if (pat > 0) {
		store_str_addf(&b->sql,
		               " AND substr(l.line, strpos(l.line, ':') + 1) LIKE floe_fold($%d)))",
		               pat);
		/* Decoded (RFC 2047) values of the fields the store keeps. */
		if (column != NULL)
			store_str_addf(&b->sql, " OR %s LIKE floe_fold($%d)", column, pat);
	} else {
		store_str_add(&b->sql, ")");
	}
	store_str_add(&b->sql, ")");
	return 0;
}

static int
build_text(struct build *b, const struct store_search *s)
{
	static const char *const text_columns[] = {
	    "m.headers_text",         "m.search_text",        "floe_fold(m.subject)",
	    "floe_fold(m.from_addr)", "floe_fold(m.to_addr)", "floe_fold(m.cc_addr)",
	};
	const char *column = text_column(s->key);
	int n;

	if (s->text == NULL) {
		b->error = "search text missing";
		return -1;
	}
	if (*s->text == '\0') {
		store_str_add(&b->sql, "true");
		return 0;
	}
	n = like_param(b, s->text);
	if (column != NULL) {
		store_str_addf(&b->sql, "%s LIKE floe_fold($%d)", column, n);
		return 0;
	}
	/* TEXT: the header block and body, and the decoded header fields. */
	store_str_add(&b->sql, "(");
	for (size_t k = 0; k < sizeof(text_columns) / sizeof(text_columns[0]); k++)
		store_str_addf(&b->sql, "%s%s LIKE floe_fold($%d)", k > 0 ? " OR " : "",
		               text_columns[k], n);
	store_str_add(&b->sql, ")");
	return 0;
}

static int
build_children(struct build *b, const struct store_search *s, const char *op, const char *empty,
               int depth)
{
	if (s->nchildren == 0) {
		store_str_add(&b->sql, empty);
		return 0;
	}
	if (s->children == NULL) {
		b->error = "search criteria missing";
		return -1;
	}
	store_str_add(&b->sql, "(");
	for (size_t k = 0; k < s->nchildren; k++) {
		if (k > 0)
			store_str_add(&b->sql, op);
		if (build_node(b, &s->children[k], depth + 1) < 0)
			return -1;
	}
	store_str_add(&b->sql, ")");
	return 0;
}

static int
build_node(struct build *b, const struct store_search *s, int depth)
{
	if (depth > SEARCH_DEPTH_MAX) {
		b->error = "search criteria nested too deeply";
		return -1;
	}
	switch (s->key) {
	case SK_ALL:
		store_str_add(&b->sql, "true");
		return 0;
	case SK_AND:
		return build_children(b, s, " AND ", "true", depth);
	case SK_OR:
		return build_children(b, s, " OR ", "false", depth);
	case SK_NOT:
		if (s->nchildren != 1 || s->children == NULL) {
			b->error = "NOT takes one criterion";
			return -1;
		}
		/* A NULL (say, no Subject) must count as "no match" before NOT. */
		store_str_add(&b->sql, "NOT coalesce(");
		if (build_node(b, &s->children[0], depth + 1) < 0)
			return -1;
		store_str_add(&b->sql, ", false)");
		return 0;
	case SK_UID:
		return build_uids(b, &s->uids);
	case SK_FLAG:
	case SK_NOFLAG:
		return build_flag(b, s);
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		return build_date(b, s);
	case SK_LARGER:
		store_str_addf(&b->sql, "i.size > $%d", store_param_u64(&b->params, s->number));
		return 0;
	case SK_SMALLER:
		store_str_addf(&b->sql, "i.size < $%d", store_param_u64(&b->params, s->number));
		return 0;
	case SK_HEADER:
		return build_header(b, s);
	case SK_SUBJECT:
	case SK_FROM:
	case SK_TO:
	case SK_CC:
	case SK_BCC:
	case SK_BODY:
	case SK_TEXT:
		return build_text(b, s);
	case SK_MODSEQ:
		store_str_addf(&b->sql, "i.modseq >= $%d", store_param_u64(&b->params, s->number));
		return 0;
	case SK_OLDER:
		store_str_addf(&b->sql,
		               "i.internal_date <= now() - $%d::float8 * interval '1 second'",
		               store_param_u64(&b->params, s->number));
		return 0;
	case SK_YOUNGER:
		store_str_addf(&b->sql,
		               "i.internal_date > now() - $%d::float8 * interval '1 second'",
		               store_param_u64(&b->params, s->number));
		return 0;
	case SK_EMAILID:
	case SK_THREADID:
		if (s->text == NULL) {
			b->error = "object id missing";
			return -1;
		}
		store_str_addf(&b->sql, "%s = $%d",
		               s->key == SK_EMAILID ? "i.email_id" : "i.thread_id",
		               store_param(&b->params, s->text));
		return 0;
	}
	b->error = "unknown search key";
	return -1;
}

/* RFC 5256 / 5957 sort keys; strings compare as i;ascii-casemap. */
static const char *
sort_expr(enum store_sort_key key)
{
	switch (key) {
	case SORT_ARRIVAL:
		return "i.internal_date";
	case SORT_DATE:
		return "coalesce(m.sent_date, i.internal_date)";
	case SORT_FROM:
		return "lower(coalesce(m.sort_from, '')) COLLATE \"C\"";
	case SORT_SUBJECT:
		return "lower(coalesce(m.base_subject, '')) COLLATE \"C\"";
	case SORT_SIZE:
		return "i.size";
	case SORT_TO:
		return "lower(coalesce(m.sort_to, '')) COLLATE \"C\"";
	case SORT_CC:
		return "lower(coalesce(m.sort_cc, '')) COLLATE \"C\"";
	case SORT_DISPLAYFROM:
		return "lower(coalesce(m.sort_display_from, '')) COLLATE \"C\"";
	case SORT_DISPLAYTO:
		return "lower(coalesce(m.sort_display_to, '')) COLLATE \"C\"";
	}
	return NULL;
}

struct search_op {
	struct store_op op;
	store_search_cb *cb;
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
	uint32_t *uids = store_op_calloc(op, (size_t)rows + 1, sizeof(*uids));
	struct store_search_result result = {.uids = uids, .count = (size_t)rows};

	for (int r = 0; r < rows; r++) {
		uint64_t modseq = store_u64(db_result_value(res, r, 1));

		uids[r] = (uint32_t)store_u64(db_result_value(res, r, 0));
		if (modseq > result.highestmodseq)
			result.highestmodseq = modseq;
	}
	store_op_deliver_begin(op);
	s->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_search(struct store *store, uint64_t account_id, uint64_t folder_id,
             const struct store_search *criteria, const struct store_sort *sort, size_t nsort,
             store_search_cb *cb, void *ctx)
{
	struct search_op *s = (struct search_op *)store_op_new(store, sizeof(*s), search_fail, ctx);
	struct build b = {0};
	const char *expr;

	s->cb = cb;
	if (nsort > SORT_KEYS_MAX || (nsort > 0 && sort == NULL))
		return store_op_fail_later(&s->op, STORE_ERR_INVALID, "invalid sort criteria");
	store_param_u64(&b.params, account_id);
	store_param_u64(&b.params, folder_id);
	/* PostgreSQL drops the join when nothing uses message_meta (unique key). */
	store_str_add(
	    &b.sql,
	    "SELECT i.uid, i.modseq FROM items i"
	    " LEFT JOIN message_meta m ON m.account_id = i.account_id AND m.hash = i.blob_hash"
	    " WHERE i.account_id = $1 AND i.folder_id = $2 AND ");
	if (criteria == NULL)
		store_str_add(&b.sql, "true");
	else if (build_node(&b, criteria, 0) < 0)
		goto invalid;
	store_str_add(&b.sql, " ORDER BY ");
	for (size_t k = 0; k < nsort; k++) {
		expr = sort_expr(sort[k].key);
		if (expr == NULL) {
			b.error = "unknown sort key";
			goto invalid;
		}
		store_str_addf(&b.sql, "%s%s, ", expr, sort[k].reverse ? " DESC" : "");
	}
	/* Ties (and no sort at all) go by UID, i.e. mailbox order. */
	store_str_add(&b.sql, "i.uid");
	store_op_query(&s->op, b.sql.s, &b.params, search_done);
	store_str_free(&b.sql);
	return &s->op;
invalid:
	store_str_free(&b.sql);
	store_params_clear(&b.params);
	return store_op_fail_later(&s->op, STORE_ERR_INVALID, "%s", b.error);
}
