/* METADATA entries (RFC 5464) in the store: entry names checked and
 * lower-cased, values carried as hex through text parameters, entries read
 * with their descendants, and set or deleted all at once by one SQL
 * function that enforces the per-scope entry limit; and the entries of
 * every folder at once for LIST (store-metadata.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store-acl.h"
#include "store-metadata.h"
#include "store-private.h"
#include "xmalloc.h"

bool
store_metadata_name_valid(const char *name, size_t len)
{
	size_t prefix;

	if (name == NULL || len > STORE_METADATA_MAX_NAME)
		return false;
	if (len > 9 && strncasecmp(name, "/private/", 9) == 0)
		prefix = 9;
	else if (len > 8 && strncasecmp(name, "/shared/", 8) == 0)
		prefix = 8;
	else
		return false;
	if (name[len - 1] == '/')
		return false;
	for (size_t i = prefix; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c >= 0x7f || c == '*' || c == '%')
			return false;
		if (c == '/' && name[i - 1] == '/')
			return false;
	}
	return true;
}

/* A text[] literal of the names, lower-cased, each quoted. */
static char *
names_array(const char *const *names, size_t count)
{
	struct store_str s = {0};

	store_str_add(&s, "{");
	for (size_t i = 0; i < count; i++) {
		store_str_add(&s, i > 0 ? ",\"" : "\"");
		for (const char *c = names[i]; *c != '\0'; c++) {
			char ch[3] = {0};

			if (*c == '"' || *c == '\\') {
				ch[0] = '\\';
				ch[1] = *c;
			} else {
				ch[0] = (char)tolower((unsigned char)*c);
			}
			store_str_add(&s, ch);
		}
		store_str_add(&s, "\"");
	}
	store_str_add(&s, "}");
	return s.s;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* --- Reading --- */

struct get_op {
	struct store_op op;
	store_metadata_get_cb *cb;
};

static void
get_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct get_op *)op)->cb(NULL, code, error, op->ctx);
}

/* Columns: name, value in hex. */
static void
get_done(struct store_op *op, const struct db_result *res)
{
	struct get_op *g = (struct get_op *)op;
	int rows = db_result_rows(res);
	struct store_metadata_entry *entries =
	    store_op_calloc(op, (size_t)rows + 1, sizeof(*entries));
	struct store_metadata_list list = {.entries = entries};

	for (int r = 0; r < rows; r++) {
		const char *hex = db_result_value(res, r, 1);
		size_t hlen = strlen(hex), n = hlen / 2;
		unsigned char *value = store_op_alloc(op, n + 1);
		struct store_metadata_entry *e = &entries[list.count];

		for (size_t i = 0; i < n; i++) {
			int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				store_op_fail(op, STORE_ERR_INTERNAL, "malformed metadata value");
				return;
			}
			value[i] = (unsigned char)(hi << 4 | lo);
		}
		value[n] = '\0';
		e->name = store_op_strdup(op, db_result_value(res, r, 0));
		e->value = value;
		e->len = n;
		list.count++;
	}
	store_op_deliver_begin(op);
	g->cb(&list, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

/* $1 owner, $2 folder (0: server level), $3 user, $4 names, $5 depth. A
 * /private entry is the user's, a /shared one nobody's. */
static const char get_sql[] =
    "SELECT DISTINCT m.name COLLATE \"C\", encode(m.value, 'hex') FROM folder_metadata m"
    " JOIN unnest($4::text[]) AS q(n) ON m.name = q.n OR ($5::int > 0"
    " AND starts_with(m.name, q.n || '/')"
    " AND ($5::int = 2 OR position('/' IN substr(m.name, length(q.n) + 2)) = 0))"
    " WHERE m.account_id = $1 AND coalesce(m.folder_id, 0) = $2"
    " AND coalesce(m.user_id, 0) = CASE WHEN m.scope = 'private' THEN $3::bigint ELSE 0 END"
    " ORDER BY 1";

struct store_op *
store_metadata_get(struct store *store, uint64_t user_id, uint64_t owner_id, uint64_t folder_id,
                   const char *const *names, size_t count, enum store_metadata_depth depth,
                   store_metadata_get_cb *cb, void *ctx)
{
	struct get_op *g = (struct get_op *)store_op_new(store, sizeof(*g), get_fail, ctx);
	struct store_params p = {0};

	g->cb = cb;
	for (size_t i = 0; i < count; i++) {
		if (!store_metadata_name_valid(names[i], strlen(names[i])))
			return store_op_fail_later(&g->op, STORE_ERR_INVALID,
			                           "invalid metadata entry name");
	}
	store_param_u64(&p, owner_id);
	store_param_u64(&p, folder_id);
	store_param_u64(&p, user_id);
	store_param_take(&p, names_array(names, count));
	store_paramf(&p, "%d",
	             depth == STORE_METADATA_DEPTH_0   ? 0
	             : depth == STORE_METADATA_DEPTH_1 ? 1
	                                               : 2);
	store_op_query(&g->op, get_sql, &p, get_done);
	return &g->op;
}

/* --- Writing --- */

struct set_op {
	struct store_op op;
	store_metadata_set_cb *cb;
};

static void
set_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct set_op *)op)->cb(STORE_METADATA_OK, code, error, op->ctx);
}

static void
set_done(struct store_op *op, const struct db_result *res)
{
	struct set_op *s = (struct set_op *)op;
	bool toomany =
	    db_result_rows(res) == 1 && strcmp(db_result_value(res, 0, 0), "toomany") == 0;

	store_op_deliver_begin(op);
	s->cb(toomany ? STORE_METADATA_TOOMANY : STORE_METADATA_OK, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

static void
set_maxsize(struct store_op *op, const struct db_result *res)
{
	struct set_op *s = (struct set_op *)op;

	store_op_deliver_begin(op);
	s->cb(STORE_METADATA_MAXSIZE, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

/* A text[] literal of the values in hex, NULL for deletions. */
static char *
values_array(const struct store_metadata_entry *entries, size_t count)
{
	static const char digits[] = "0123456789abcdef";
	struct store_str s = {0};

	store_str_add(&s, "{");
	for (size_t i = 0; i < count; i++) {
		const unsigned char *v = entries[i].value;

		if (i > 0)
			store_str_add(&s, ",");
		if (v == NULL) {
			store_str_add(&s, "NULL");
			continue;
		}
		/* An empty value is a quoted empty string, not NULL. */
		store_str_add(&s, "\"");
		for (size_t k = 0; k < entries[i].len; k++) {
			char hex[3] = {digits[v[k] >> 4], digits[v[k] & 15], 0};

			store_str_add(&s, hex);
		}
		store_str_add(&s, "\"");
	}
	store_str_add(&s, "}");
	return s.s;
}

struct store_op *
store_metadata_set(struct store *store, uint64_t user_id, uint64_t owner_id, uint64_t folder_id,
                   const struct store_metadata_entry *entries, size_t count,
                   store_metadata_set_cb *cb, void *ctx)
{
	struct set_op *s = (struct set_op *)store_op_new(store, sizeof(*s), set_fail, ctx);
	struct store_params p = {0};
	const char **names = xcalloc(count + 1, sizeof(*names));

	s->cb = cb;
	for (size_t i = 0; i < count; i++) {
		names[i] = entries[i].name;
		if (!store_metadata_name_valid(entries[i].name, strlen(entries[i].name))) {
			free(names);
			return store_op_fail_later(&s->op, STORE_ERR_INVALID,
			                           "invalid metadata entry name");
		}
	}
	for (size_t i = 0; i < count; i++) {
		if (entries[i].value != NULL && entries[i].len > STORE_METADATA_MAX_VALUE) {
			free(names);
			/* Answered from the loop like every result. */
			store_op_query(&s->op, "SELECT 1", NULL, set_maxsize);
			return &s->op;
		}
	}
	store_param_u64(&p, owner_id);
	store_param_u64(&p, folder_id);
	store_param_u64(&p, user_id);
	store_param_take(&p, names_array(names, count));
	free(names);
	store_param_take(&p, values_array(entries, count));
	store_paramf(&p, "%d", STORE_METADATA_MAX_ENTRIES);
	store_op_query(&s->op, "SELECT floe_metadata_set($1, $2, $3, $4, $5, $6)", &p, set_done);
	return &s->op;
}

/* --- Entries of every folder (LIST RETURN (METADATA ...)) --- */

struct folders_op {
	struct store_op op;
	store_metadata_folders_cb *cb;
};

static void
folders_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct folders_op *)op)->cb(NULL, code, error, op->ctx);
}

/* Columns: owner, folder, name, value in hex. */
static void
folders_done(struct store_op *op, const struct db_result *res)
{
	struct folders_op *f = (struct folders_op *)op;
	int rows = db_result_rows(res);
	struct store_metadata_folder_entry *v = store_op_calloc(op, (size_t)rows + 1, sizeof(*v));
	struct store_metadata_folder_list list = {.entries = v, .count = (size_t)rows};

	for (int r = 0; r < rows; r++) {
		const char *hex = db_result_value(res, r, 3);
		size_t n = strlen(hex) / 2;
		unsigned char *value = store_op_alloc(op, n + 1);

		for (size_t i = 0; i < n; i++) {
			int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				store_op_fail(op, STORE_ERR_INTERNAL, "malformed metadata value");
				return;
			}
			value[i] = (unsigned char)(hi << 4 | lo);
		}
		value[n] = '\0';
		v[r].owner_id = store_u64(db_result_value(res, r, 0));
		v[r].folder_id = store_u64(db_result_value(res, r, 1));
		v[r].name = store_op_strdup(op, db_result_value(res, r, 2));
		v[r].value = value;
		v[r].len = n;
	}
	store_op_deliver_begin(op);
	f->cb(&list, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

/* $1 user, $2 names. A /private entry is the user's, a /shared one
 * nobody's; shared folders need r (floe_acl_shared lists those with any
 * right, l included). */
#define FOLDERS_OWN_SQL                                                                            \
	"SELECT m.account_id::text, m.folder_id::text, m.name, encode(m.value, 'hex')"             \
	" FROM folder_metadata m WHERE m.account_id = $1 AND m.folder_id IS NOT NULL"              \
	" AND m.name = ANY ($2::text[])"                                                           \
	" AND coalesce(m.user_id, 0) = CASE WHEN m.scope = 'private' THEN $1::bigint ELSE 0 END"
#define FOLDERS_SHARED_SQL                                                                         \
	" UNION ALL SELECT m.account_id::text, m.folder_id::text, m.name,"                         \
	" encode(m.value, 'hex') FROM floe_acl_shared($1) s JOIN folder_metadata m"                \
	" ON m.account_id = s.r_owner AND m.folder_id = s.r_folder"                                \
	" WHERE strpos(s.r_rights, 'r') > 0 AND m.name = ANY ($2::text[])"                         \
	" AND coalesce(m.user_id, 0) = CASE WHEN m.scope = 'private' THEN $1::bigint ELSE 0 END"

struct store_op *
store_metadata_folders(struct store *store, uint64_t user_id, const char *const *names,
                       size_t count, bool shared, store_metadata_folders_cb *cb, void *ctx)
{
	struct folders_op *f =
	    (struct folders_op *)store_op_new(store, sizeof(*f), folders_fail, ctx);
	struct store_params p = {0};

	f->cb = cb;
	for (size_t i = 0; i < count; i++) {
		if (!store_metadata_name_valid(names[i], strlen(names[i])))
			return store_op_fail_later(&f->op, STORE_ERR_INVALID,
			                           "invalid metadata entry name");
	}
	store_param_u64(&p, user_id);
	store_param_take(&p, names_array(names, count));
	store_op_query(&f->op, shared ? FOLDERS_OWN_SQL FOLDERS_SHARED_SQL : FOLDERS_OWN_SQL, &p,
	               folders_done);
	return &f->op;
}
