/* The mail store's plumbing: the store object, operations as small state
 * machines over the worker's db pool (one query in flight, results in a
 * per-operation pool freed after the callback), parameter helpers, and the
 * account lookup used for authentication. */
#include "store-private.h"

#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "xmalloc.h"

#define POOL_CHUNK_MIN 4096
#define POOL_ALIGN     16

struct store_pool_chunk {
	struct store_pool_chunk *next;
	size_t used, size;
	unsigned char *data;
};

static uint64_t
store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct store *
store_create(struct db *db)
{
	struct store *store = xcalloc(1, sizeof(*store));

	store->db = db;
	LIST_INIT(&store->ops);
	store->gc_last_ms = store_now_ms();
	return store;
}

static void
op_free(struct store_op *op)
{
	struct store_pool_chunk *c, *next;

	if (op->store != NULL)
		LIST_REMOVE(op, entry);
	if (op->query != NULL)
		db_query_abandon(&op->query);
	for (c = op->pool; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(op->fail_error);
	free(op);
}

/* Operations still running are abandoned: their callbacks are not called. */
void
store_destroy(struct store **storep)
{
	struct store *store = *storep;
	struct store_op *op;

	if (store == NULL)
		return;
	*storep = NULL;
	while ((op = LIST_FIRST(&store->ops)) != NULL) {
		LIST_REMOVE(op, entry);
		op->store = NULL;
		/* One delivering now is freed when its callback returns. */
		if (!op->delivering)
			op_free(op);
	}
	free(store);
}

void
store_op_abandon(struct store_op **opp)
{
	struct store_op *op = *opp;

	if (op == NULL)
		return;
	*opp = NULL;
	/* From inside its own callback: freed when the callback returns. */
	if (op->delivering)
		return;
	op_free(op);
}

struct store_op *
store_op_new(struct store *store, size_t size, store_fail_fn *fail, void *ctx)
{
	struct store_op *op;

	if (size < sizeof(*op))
		size = sizeof(*op);
	op = xcalloc(1, size);
	op->store = store;
	op->fail = fail;
	op->ctx = ctx;
	LIST_INSERT_HEAD(&store->ops, op, entry);
	return op;
}

void
store_op_deliver_begin(struct store_op *op)
{
	op->delivering = true;
}

void
store_op_finish(struct store_op *op)
{
	op->delivering = false;
	op_free(op);
}

void
store_op_fail(struct store_op *op, enum store_err code, const char *error)
{
	op->delivering = true;
	op->fail(op, code == STORE_OK ? STORE_ERR_INTERNAL : code,
	         error != NULL ? error : "unknown error");
	store_op_finish(op);
}

static void
op_query_cb(const struct db_result *res, void *ctx)
{
	struct store_op *op = ctx;
	enum store_err code;
	const char *error, *state;

	op->query = NULL;
	if (op->fail_error != NULL) {
		store_op_fail(op, op->fail_code, op->fail_error);
		return;
	}
	if (!db_result_ok(res)) {
		code = store_result_code(res);
		error = db_result_error(res);
		state = db_result_sqlstate(res);
		if (state != NULL && strcmp(state, "23505") == 0)
			error = "a folder with that name already exists";
		store_op_fail(op, code, error);
		return;
	}
	op->step(op, res);
}

void
store_op_query(struct store_op *op, const char *sql, struct store_params *params,
               store_step_fn *step)
{
	op->step = step;
	op->query =
	    db_query(op->store->db, sql, params != NULL ? params->n : 0,
	             params != NULL ? (const char *const *)params->v : NULL, op_query_cb, op);
	if (params != NULL)
		store_params_clear(params);
}

struct store_op *
store_op_fail_later(struct store_op *op, enum store_err code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	free(op->fail_error);
	op->fail_error = xvasprintf(fmt, ap);
	va_end(ap);
	op->fail_code = code;
	/* The pool calls back from the loop, even when the database is down;
	 * op_query_cb then reports fail_error whatever the answer. */
	store_op_query(op, "SELECT 1", NULL, NULL);
	return op;
}

void
store_stats_refresh(struct store_op *op)
{
	if (op->store != NULL)
		db_query(op->store->db, "SELECT floe_analyze()", 0, NULL, NULL, NULL);
}

void
store_content_gc_due(struct store_op *op)
{
	uint64_t now = store_now_ms();
	char limit[24], age[40];
	const char *params[2] = {limit, age};

	if (op->store == NULL || now - op->store->gc_last_ms < STORE_GC_INTERVAL_MS)
		return;
	op->store->gc_last_ms = now;
	snprintf(limit, sizeof(limit), "%d", STORE_GC_BATCH);
	snprintf(age, sizeof(age), "%d milliseconds", STORE_GC_INTERVAL_MS);
	db_query(op->store->db, "SELECT floe_content_gc_run($1::int, $2::interval)", 2, params,
	         NULL, NULL);
}

struct gc_op {
	struct store_op op;
	store_gc_cb *cb;
};

static void
gc_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct gc_op *)op)->cb(0, code, error, op->ctx);
}

static void
gc_done(struct store_op *op, const struct db_result *res)
{
	unsigned long n =
	    db_result_rows(res) > 0 ? (unsigned long)store_u64(db_result_value(res, 0, 0)) : 0;

	store_op_deliver_begin(op);
	((struct gc_op *)op)->cb(n, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_content_gc(struct store *store, store_gc_cb *cb, void *ctx)
{
	struct gc_op *g = (struct gc_op *)store_op_new(store, sizeof(*g), gc_fail, ctx);
	struct store_params p = {0};

	g->cb = cb;
	store_param_u64(&p, STORE_GC_BATCH);
	store_param(&p, "0");
	store_op_query(&g->op, "SELECT floe_content_gc_run($1::int, $2::interval)", &p, gc_done);
	return &g->op;
}

/* --- Pool --- */

void *
store_op_alloc(struct store_op *op, size_t size)
{
	struct store_pool_chunk *c = op->pool;
	size_t need = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1), csize;
	void *p;

	if (need == 0)
		need = POOL_ALIGN;
	if (c == NULL || c->size - c->used < need) {
		csize = need > POOL_CHUNK_MIN ? need : POOL_CHUNK_MIN;
		/* The header is padded so that data stays aligned. */
		c = xmalloc(((sizeof(*c) + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1)) + csize);
		c->data = (unsigned char *)c +
		          ((sizeof(*c) + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1));
		c->size = csize;
		c->used = 0;
		if (op->pool != NULL && csize > POOL_CHUNK_MIN) {
			/* A big block goes behind the current chunk, which keeps
			 * serving small allocations. */
			c->next = op->pool->next;
			op->pool->next = c;
			c->used = need;
			return c->data;
		}
		c->next = op->pool;
		op->pool = c;
	}
	p = c->data + c->used;
	c->used += need;
	return p;
}

void *
store_op_calloc(struct store_op *op, size_t nmemb, size_t size)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size) {
		log_error("store: allocation of %zu x %zu bytes overflows", nmemb, size);
		abort();
	}
	p = store_op_alloc(op, nmemb * size);
	memset(p, 0, nmemb * size);
	return p;
}

char *
store_op_strdup(struct store_op *op, const char *s)
{
	size_t len;
	char *p;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	p = store_op_alloc(op, len + 1);
	memcpy(p, s, len + 1);
	return p;
}

/* --- Parameters and SQL text --- */

int
store_param_take(struct store_params *p, char *value)
{
	if (p->n == p->cap) {
		p->cap = p->cap == 0 ? 8 : p->cap * 2;
		p->v = xreallocarray(p->v, (size_t)p->cap, sizeof(*p->v));
	}
	p->v[p->n++] = value;
	return p->n;
}

int
store_param(struct store_params *p, const char *value)
{
	return store_param_take(p, value != NULL ? xstrdup(value) : NULL);
}

int
store_param_u64(struct store_params *p, uint64_t value)
{
	return store_paramf(p, "%" PRIu64, value);
}

int
store_param_i64(struct store_params *p, int64_t value)
{
	return store_paramf(p, "%" PRId64, value);
}

int
store_paramf(struct store_params *p, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return store_param_take(p, s);
}

void
store_params_clear(struct store_params *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

static void
str_reserve(struct store_str *str, size_t more)
{
	if (str->len + more + 1 <= str->cap)
		return;
	while (str->len + more + 1 > str->cap)
		str->cap = str->cap == 0 ? 256 : str->cap * 2;
	str->s = xrealloc(str->s, str->cap);
}

void
store_str_add(struct store_str *str, const char *text)
{
	size_t len = strlen(text);

	str_reserve(str, len);
	memcpy(str->s + str->len, text, len + 1);
	str->len += len;
}

void
store_str_addf(struct store_str *str, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	store_str_add(str, s);
	free(s);
}

void
store_str_free(struct store_str *str)
{
	free(str->s);
	str->s = NULL;
	str->len = str->cap = 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

int
store_param_ranges(struct store_params *p, const struct store_uid_ranges *uids,
                   const char **error_r)
{
	struct store_str lo = {0}, hi = {0};
	uint32_t(*r)[2];
	size_t n = 0;
	int first;

	if (uids == NULL) {
		first = store_param(p, "{1}");
		store_param(p, "{4294967295}");
		return first;
	}
	if (uids->count > 0 && uids->ranges == NULL) {
		*error_r = "invalid UID set";
		return -1;
	}
	r = xcalloc(uids->count > 0 ? uids->count : 1, sizeof(*r));
	for (size_t i = 0; i < uids->count; i++) {
		if (uids->ranges[i][0] == 0 || uids->ranges[i][0] > uids->ranges[i][1]) {
			free(r);
			*error_r = "invalid UID range";
			return -1;
		}
		r[i][0] = uids->ranges[i][0];
		r[i][1] = uids->ranges[i][1];
	}
	qsort(r, uids->count, sizeof(*r), range_cmp);
	for (size_t i = 0; i < uids->count; i++) {
		/* Overlapping or adjacent ranges become one. */
		if (n > 0 && (uint64_t)r[i][0] <= (uint64_t)r[n - 1][1] + 1) {
			if (r[i][1] > r[n - 1][1])
				r[n - 1][1] = r[i][1];
			continue;
		}
		r[n][0] = r[i][0];
		r[n][1] = r[i][1];
		n++;
	}
	store_str_add(&lo, "{");
	store_str_add(&hi, "{");
	for (size_t i = 0; i < n; i++) {
		store_str_addf(&lo, "%s%" PRIu32, i > 0 ? "," : "", r[i][0]);
		store_str_addf(&hi, "%s%" PRIu32, i > 0 ? "," : "", r[i][1]);
	}
	store_str_add(&lo, "}");
	store_str_add(&hi, "}");
	free(r);
	first = store_param_take(p, lo.s);
	store_param_take(p, hi.s);
	return first;
}

/* --- Flags --- */

static const char *const system_flags[] = {
    "\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft",
};

const char *
store_system_flag(const char *flag)
{
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
		if (strcasecmp(flag, system_flags[i]) == 0)
			return system_flags[i];
	}
	return NULL;
}

int
store_flag_check(const char *flag, const char **error_r)
{
	size_t len;

	if (flag == NULL || *flag == '\0') {
		*error_r = "empty flag";
		return -1;
	}
	if (flag[0] == '\\') {
		if (store_system_flag(flag) == NULL) {
			*error_r = "unknown system flag";
			return -1;
		}
		return 0;
	}
	len = strlen(flag);
	if (len > STORE_NAME_MAX) {
		*error_r = "keyword too long";
		return -1;
	}
	/* A keyword is an IMAP atom. */
	for (const unsigned char *c = (const unsigned char *)flag; *c != '\0'; c++) {
		if (*c <= 0x20 || *c >= 0x7f || strchr("(){%*\"\\]", *c) != NULL) {
			*error_r = "invalid character in keyword";
			return -1;
		}
	}
	return 0;
}

int
store_param_flags(struct store_params *p, const char *const *flags, size_t nflags,
                  const char **error_r)
{
	struct store_str arr = {0};
	const char *flag;

	if (nflags > 0 && flags == NULL) {
		*error_r = "invalid flag list";
		return -1;
	}
	store_str_add(&arr, "{");
	for (size_t i = 0; i < nflags; i++) {
		if (store_flag_check(flags[i], error_r) < 0) {
			store_str_free(&arr);
			return -1;
		}
		flag = store_system_flag(flags[i]);
		if (flag == NULL)
			flag = flags[i];
		/* Array literal: every element quoted, backslashes escaped. */
		store_str_add(&arr, i > 0 ? ",\"" : "\"");
		if (flag[0] == '\\')
			store_str_add(&arr, "\\\\");
		store_str_add(&arr, flag[0] == '\\' ? flag + 1 : flag);
		store_str_add(&arr, "\"");
	}
	store_str_add(&arr, "}");
	return store_param_take(p, arr.s);
}

const char *const *
store_split_flags(struct store_op *op, const char *text, size_t *count_r)
{
	const char **v;
	char *copy, *s;
	size_t n = 0, cap = 1;

	for (const char *c = text; *c != '\0'; c++) {
		if (*c == ' ')
			cap++;
	}
	v = store_op_calloc(op, cap, sizeof(*v));
	copy = store_op_strdup(op, text);
	for (s = copy; *s != '\0';) {
		char *end = strchr(s, ' ');

		if (end != NULL)
			*end = '\0';
		if (*s != '\0' && n < cap)
			v[n++] = s;
		if (end == NULL)
			break;
		s = end + 1;
	}
	*count_r = n;
	return v;
}

/* --- Text --- */

/* Length of the valid UTF-8 sequence at s (at most len bytes), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool
store_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seq(p + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

char *
store_utf8_clean(const char *s)
{
	size_t len, i = 0, n;
	unsigned char *out;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	out = (unsigned char *)xstrdup(s);
	while (i < len) {
		n = utf8_seq(out + i, len - i);
		if (n == 0) {
			out[i] = '?';
			n = 1;
		}
		i += n;
	}
	return (char *)out;
}

int
store_path_check(const char *path, const char **error_r)
{
	size_t len, comp = 0;

	if (path == NULL || *path == '\0') {
		*error_r = "empty folder name";
		return -1;
	}
	len = strlen(path);
	if (len > STORE_PATH_MAX) {
		*error_r = "folder name too long";
		return -1;
	}
	if (!store_utf8_valid(path, len)) {
		*error_r = "folder name is not valid UTF-8";
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c == '/' || c == '\0') {
			if (comp == 0) {
				*error_r = "empty component in folder name";
				return -1;
			}
			comp = 0;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			*error_r = "control character in folder name";
			return -1;
		}
		if (++comp > STORE_NAME_MAX) {
			*error_r = "folder name component too long";
			return -1;
		}
	}
	return 0;
}

/* --- Results --- */

enum store_err
store_result_code(const struct db_result *res)
{
	const char *state = db_result_sqlstate(res);

	if (state == NULL)
		return STORE_ERR_INTERNAL;
	if (strcmp(state, "FL001") == 0)
		return STORE_ERR_NOT_FOUND;
	if (strcmp(state, "FL002") == 0 || strcmp(state, "23505") == 0)
		return STORE_ERR_EXISTS;
	if (strcmp(state, "FL003") == 0)
		return STORE_ERR_INVALID;
	if (strcmp(state, "FL004") == 0)
		return STORE_ERR_NOT_EMPTY;
	if (strcmp(state, "FL005") == 0)
		return STORE_ERR_OVER_QUOTA;
	if (strcmp(state, "FL006") == 0)
		return STORE_ERR_MODIFIED;
	return STORE_ERR_INTERNAL;
}

uint64_t
store_u64(const char *text)
{
	return text != NULL ? strtoull(text, NULL, 10) : 0;
}

bool
store_bool(const char *text)
{
	return text != NULL && (text[0] == 't' || text[0] == 'T');
}

void
store_folder_parse(struct store_op *op, const struct db_result *res, int row, int col,
                   struct store_folder *f)
{
	memset(f, 0, sizeof(*f));
	f->id = store_u64(db_result_value(res, row, col + 0));
	f->parent_id = store_u64(db_result_value(res, row, col + 1));
	f->path = store_op_strdup(op, db_result_value(res, row, col + 2));
	f->type = store_op_strdup(op, db_result_value(res, row, col + 3));
	f->special_use = db_result_isnull(res, row, col + 4)
	                     ? NULL
	                     : store_op_strdup(op, db_result_value(res, row, col + 4));
	f->is_default = store_bool(db_result_value(res, row, col + 5));
	f->has_children = store_bool(db_result_value(res, row, col + 6));
	f->subscribed = store_bool(db_result_value(res, row, col + 7));
	f->uidvalidity = (uint32_t)store_u64(db_result_value(res, row, col + 8));
	f->uidnext = (uint32_t)store_u64(db_result_value(res, row, col + 9));
	f->highestmodseq = store_u64(db_result_value(res, row, col + 10));
	f->messages = (uint32_t)store_u64(db_result_value(res, row, col + 11));
	f->unseen = (uint32_t)store_u64(db_result_value(res, row, col + 12));
	f->deleted = (uint32_t)store_u64(db_result_value(res, row, col + 13));
	f->size = store_u64(db_result_value(res, row, col + 14));
	f->owner_id = store_u64(db_result_value(res, row, col + 15));
	f->noselect = store_bool(db_result_value(res, row, col + 16));
}

/* --- Accounts --- */

struct account_op {
	struct store_op op;
	store_account_cb *cb;
};

static void
account_fail(struct store_op *op, enum store_err code, const char *error)
{
	struct account_op *a = (struct account_op *)op;

	a->cb(NULL, error, op->ctx);
}

static void
account_done(struct store_op *op, const struct db_result *res)
{
	struct account_op *a = (struct account_op *)op;
	struct store_account acct = {0};
	const struct store_account *found = NULL;

	if (db_result_rows(res) == 1) {
		acct.id = store_u64(db_result_value(res, 0, 0));
		acct.address = db_result_value(res, 0, 1);
		acct.display_name = db_result_value(res, 0, 2);
		acct.kind = db_result_value(res, 0, 3);
		acct.enabled = store_bool(db_result_value(res, 0, 4));
		acct.password_hash =
		    db_result_isnull(res, 0, 5) ? NULL : db_result_value(res, 0, 5);
		acct.quota_bytes = store_u64(db_result_value(res, 0, 6));
		found = &acct;
	}
	store_op_deliver_begin(op);
	a->cb(found, NULL, op->ctx);
	store_op_finish(op);
}

/* $1 local part, $2 domain (NULL: a bare local part, unique among the
 * domains that allow local logins). Addresses are stored lower-case. */
static const char account_sql[] =
    "WITH m AS ("
    " SELECT a.id FROM accounts a JOIN domains d ON d.id = a.domain_id"
    " WHERE a.local_part = lower($1)"
    " AND CASE WHEN $2::text IS NULL THEN d.local_login ELSE d.name = lower($2) END"
    " UNION"
    " SELECT al.account_id FROM aliases al JOIN domains d ON d.id = al.domain_id"
    " WHERE al.local_part = lower($1)"
    " AND CASE WHEN $2::text IS NULL THEN d.local_login ELSE d.name = lower($2) END) "
    "SELECT a.id, a.local_part || '@' || d.name, a.display_name, a.kind, a.enabled::text,"
    " c.secret, a.quota_bytes "
    "FROM accounts a JOIN domains d ON d.id = a.domain_id"
    " LEFT JOIN credentials c ON c.account_id = a.id AND c.kind = 'password' "
    "WHERE a.id IN (SELECT id FROM m) AND (SELECT count(*) FROM m) = 1";

struct store_op *
store_account_lookup(struct store *store, const char *login, store_account_cb *cb, void *ctx)
{
	struct account_op *a =
	    (struct account_op *)store_op_new(store, sizeof(*a), account_fail, ctx);
	struct store_params p = {0};
	const char *at;
	size_t len = login != NULL ? strlen(login) : 0;

	a->cb = cb;
	at = login != NULL ? strrchr(login, '@') : NULL;
	/* Nothing can match a malformed login: report "no account". */
	if (len == 0 || len > 512 || !store_utf8_valid(login, len) ||
	    (at != NULL && (at == login || at[1] == '\0'))) {
		store_param(&p, "");
		store_param(&p, "");
	} else if (at != NULL) {
		store_param_take(&p, xstrndup(login, (size_t)(at - login)));
		store_param(&p, at + 1);
	} else {
		store_param(&p, login);
		store_param(&p, NULL);
	}
	store_op_query(&a->op, account_sql, &p, account_done);
	return &a->op;
}
