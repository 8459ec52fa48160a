/* Shared folders in the store: effective rights, folders resolved by owner
 * and path with the user's rights, ACL entries read and changed, and the
 * folders other accounts share with a user. The SQL functions are in
 * db/migrations/0004_acl_metadata.sql and 0011_sharing.sql; each call
 * here is one statement. */
#include "store-acl.h"

#include <stdlib.h>
#include <string.h>

#include "store-private.h"
#include "xmalloc.h"

/* --- Rights of one folder --- */

struct rights_op {
	struct store_op op;
	store_acl_rights_cb *cb;
};

static void
rights_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct rights_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
rights_done(struct store_op *op, const struct db_result *res)
{
	struct rights_op *r = (struct rights_op *)op;
	const char *rights = db_result_rows(res) == 1 ? db_result_value(res, 0, 0) : "";

	store_op_deliver_begin(op);
	r->cb(rights, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_acl_rights(struct store *store, uint64_t user_id, uint64_t owner_id, uint64_t folder_id,
                 store_acl_rights_cb *cb, void *ctx)
{
	struct rights_op *r = (struct rights_op *)store_op_new(store, sizeof(*r), rights_fail, ctx);
	struct store_params p = {0};

	r->cb = cb;
	store_param_u64(&p, user_id);
	store_param_u64(&p, owner_id);
	store_param_u64(&p, folder_id);
	store_op_query(&r->op, "SELECT floe_acl_rights($1, $2, $3)", &p, rights_done);
	return &r->op;
}

/* --- A folder by owner and path --- */

struct lookup_op {
	struct store_op op;
	store_acl_target_cb *cb;
};

static void
lookup_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct lookup_op *)op)->cb(NULL, code, error, op->ctx);
}

/* Columns: owner, owner address, folder id (0: none), rights, parent,
 * parent rights, the owner's path, then the folder's columns. */
static void
lookup_done(struct store_op *op, const struct db_result *res)
{
	struct lookup_op *l = (struct lookup_op *)op;
	struct store_acl_target t;
	struct store_folder *folder = NULL;

	if (db_result_rows(res) != 1) {
		store_op_fail(op, STORE_ERR_NOT_FOUND, "no such account");
		return;
	}
	memset(&t, 0, sizeof(t));
	t.owner_id = store_u64(db_result_value(res, 0, 0));
	t.owner = store_op_strdup(op, db_result_value(res, 0, 1));
	t.rights = store_op_strdup(op, db_result_value(res, 0, 3));
	t.parent_id = store_u64(db_result_value(res, 0, 4));
	t.parent_rights = store_op_strdup(op, db_result_value(res, 0, 5));
	if (store_u64(db_result_value(res, 0, 2)) != 0 && !db_result_isnull(res, 0, 7)) {
		folder = store_op_calloc(op, 1, sizeof(*folder));
		store_folder_parse(op, res, 0, 7, folder);
		t.path = store_op_strdup(op, db_result_value(res, 0, 6));
	}
	t.folder = folder;
	store_op_deliver_begin(op);
	l->cb(&t, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

static const char lookup_sql[] =
    "SELECT l.r_owner::text, l.r_owner_addr, coalesce(l.r_folder, 0)::text, l.r_rights,"
    " l.r_parent::text, l.r_parent_rights, fp.path, " STORE_FOLDER_COLUMNS(
        "nm.name") " FROM floe_acl_lookup($1, $2, $3) l"
                   " LEFT JOIN folders f ON f.account_id = l.r_owner AND f.id = l.r_folder"
                   " LEFT JOIN LATERAL floe_folder_path(l.r_owner, l.r_folder) AS fp(path) ON true"
                   " LEFT JOIN LATERAL (SELECT CASE WHEN $2::text IS NULL THEN fp.path"
                   " ELSE '~' || l.r_owner_addr || '/' || fp.path END) AS nm(name) ON true";

struct store_op *
store_acl_lookup(struct store *store, uint64_t user_id, const char *owner, const char *path,
                 store_acl_target_cb *cb, void *ctx)
{
	struct lookup_op *l = (struct lookup_op *)store_op_new(store, sizeof(*l), lookup_fail, ctx);
	struct store_params p = {0};
	const char *error;

	l->cb = cb;
	if (path != NULL && store_path_check(path, &error) < 0)
		return store_op_fail_later(&l->op, STORE_ERR_INVALID, "%s", error);
	if (owner != NULL &&
	    (*owner == '\0' || strlen(owner) > 512 || !store_utf8_valid(owner, strlen(owner))))
		return store_op_fail_later(&l->op, STORE_ERR_NOT_FOUND, "no such account");
	store_param_u64(&p, user_id);
	store_param(&p, owner);
	store_param(&p, path);
	store_op_query(&l->op, lookup_sql, &p, lookup_done);
	return &l->op;
}

/* --- Reading an ACL --- */

struct get_op {
	struct store_op op;
	store_acl_list_cb *cb;
	uint64_t folder_id;
};

static void
get_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct get_op *)op)->cb(NULL, code, error, op->ctx);
}

static enum store_grantee_kind
grantee_kind(const char *kind)
{
	if (strcmp(kind, "anyone") == 0)
		return STORE_GRANTEE_ANYONE;
	if (strcmp(kind, "group") == 0)
		return STORE_GRANTEE_GROUP;
	return STORE_GRANTEE_USER;
}

/* Rows: kind 0 (the source folder), then kind 1 per entry: grantee kind,
 * grantee id, grantee name, rights. */
static void
get_done(struct store_op *op, const struct db_result *res)
{
	struct get_op *g = (struct get_op *)op;
	int rows = db_result_rows(res);
	struct store_acl_entry *entries;
	struct store_acl_list list;

	if (rows == 0 || db_result_value(res, 0, 0)[0] != '0') {
		store_op_fail(op, STORE_ERR_NOT_FOUND, "no such folder");
		return;
	}
	memset(&list, 0, sizeof(list));
	list.source_id = store_u64(db_result_value(res, 0, 1));
	list.inherited = list.source_id != g->folder_id;
	entries = store_op_calloc(op, (size_t)rows, sizeof(*entries));
	for (int r = 1; r < rows; r++) {
		struct store_acl_entry *e = &entries[list.count++];

		e->kind = grantee_kind(db_result_value(res, r, 1));
		e->grantee_id = store_u64(db_result_value(res, r, 2));
		e->grantee = store_op_strdup(op, db_result_value(res, r, 3));
		e->rights = store_op_strdup(op, db_result_value(res, r, 4));
	}
	list.entries = entries;
	store_op_deliver_begin(op);
	g->cb(&list, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

static const char get_sql[] =
    "WITH s AS (SELECT floe_acl_source($1, $2) AS src) "
    "SELECT * FROM ("
    " SELECT 0 AS k, s.src::text AS a, NULL AS b, NULL AS c, NULL AS d, '' AS o FROM s"
    " WHERE s.src IS NOT NULL"
    " UNION ALL"
    " SELECT 1, a.grantee_kind, coalesce(a.grantee_id, 0)::text, g.name, a.rights,"
    " CASE WHEN a.grantee_kind = 'anyone' THEN '' ELSE g.name END"
    " FROM s JOIN acl a ON a.account_id = $1 AND coalesce(a.folder_id, 0) = s.src"
    " CROSS JOIN LATERAL (SELECT CASE WHEN a.grantee_kind = 'anyone' THEN 'anyone'"
    " ELSE floe_account_address(a.grantee_id) END) AS g(name)) x "
    "ORDER BY k, o COLLATE \"C\"";

struct store_op *
store_acl_get(struct store *store, uint64_t owner_id, uint64_t folder_id, store_acl_list_cb *cb,
              void *ctx)
{
	struct get_op *g = (struct get_op *)store_op_new(store, sizeof(*g), get_fail, ctx);
	struct store_params p = {0};

	g->cb = cb;
	g->folder_id = folder_id;
	store_param_u64(&p, owner_id);
	store_param_u64(&p, folder_id);
	store_op_query(&g->op, get_sql, &p, get_done);
	return &g->op;
}

/* --- Changing an ACL --- */

struct set_op {
	struct store_op op;
	store_acl_set_cb *cb;
};

static void
set_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct set_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
set_done(struct store_op *op, const struct db_result *res)
{
	struct set_op *s = (struct set_op *)op;
	const char *rights = db_result_rows(res) == 1 ? db_result_value(res, 0, 0) : "";

	store_op_deliver_begin(op);
	s->cb(rights, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

/* Only the letters of rights the store knows, each once. */
static char *
rights_clean(const char *rights)
{
	char *out = xcalloc(sizeof(STORE_ACL_ALL), 1);
	size_t n = 0;

	for (const char *c = STORE_ACL_ALL; *c != '\0'; c++) {
		if (rights != NULL && strchr(rights, *c) != NULL)
			out[n++] = *c;
	}
	return out;
}

struct store_op *
store_acl_set(struct store *store, uint64_t owner_id, uint64_t folder_id, const char *grantee,
              enum store_acl_mode mode, const char *rights, store_acl_set_cb *cb, void *ctx)
{
	struct set_op *s = (struct set_op *)store_op_new(store, sizeof(*s), set_fail, ctx);
	struct store_params p = {0};
	size_t len = grantee != NULL ? strlen(grantee) : 0;

	s->cb = cb;
	if (len == 0 || len > 512 || !store_utf8_valid(grantee, len))
		return store_op_fail_later(&s->op, STORE_ERR_INVALID, "no such user or group");
	store_param_u64(&p, owner_id);
	store_param_u64(&p, folder_id);
	store_param(&p, grantee);
	store_paramf(&p, "%d", (int)mode);
	store_param_take(&p, rights_clean(rights));
	store_op_query(&s->op, "SELECT floe_acl_set($1, $2, $3, $4, $5)", &p, set_done);
	return &s->op;
}

struct inherit_op {
	struct store_op op;
	store_done_cb *cb;
};

static void
inherit_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct inherit_op *)op)->cb(code, error, op->ctx);
}

static void
inherit_done(struct store_op *op, const struct db_result *res)
{
	store_op_deliver_begin(op);
	((struct inherit_op *)op)->cb(STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_acl_inherit(struct store *store, uint64_t owner_id, uint64_t folder_id, bool inherit,
                  store_done_cb *cb, void *ctx)
{
	struct inherit_op *i =
	    (struct inherit_op *)store_op_new(store, sizeof(*i), inherit_fail, ctx);
	struct store_params p = {0};

	i->cb = cb;
	if (folder_id == 0)
		return store_op_fail_later(&i->op, STORE_ERR_INVALID,
		                           "the account level inherits from nothing");
	store_param_u64(&p, owner_id);
	store_param_u64(&p, folder_id);
	store_param(&p, inherit ? "true" : "false");
	store_op_query(&i->op, "SELECT floe_acl_inherit($1, $2, $3)", &p, inherit_done);
	return &i->op;
}

/* --- Folders shared with a user --- */

struct shared_op {
	struct store_op op;
	store_acl_shared_cb *cb;
};

static void
shared_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct shared_op *)op)->cb(NULL, error, op->ctx);
}

/* Columns: rights, owner address, the owner's path, subscribed (through
 * share subscriptions, db/store-share.h), the folder's columns. */
static void
shared_done(struct store_op *op, const struct db_result *res)
{
	struct shared_op *s = (struct shared_op *)op;
	int rows = db_result_rows(res);
	struct store_acl_shared *folders = store_op_calloc(op, (size_t)rows + 1, sizeof(*folders));
	struct store_acl_shared_list list = {.folders = folders};

	for (int r = 0; r < rows; r++) {
		struct store_acl_shared *f = &folders[list.count++];

		f->rights = store_op_strdup(op, db_result_value(res, r, 0));
		f->owner = store_op_strdup(op, db_result_value(res, r, 1));
		f->path = store_op_strdup(op, db_result_value(res, r, 2));
		store_folder_parse(op, res, r, 4, &f->folder);
		f->folder.subscribed = store_bool(db_result_value(res, r, 3));
		f->owner_id = f->folder.owner_id;
	}
	store_op_deliver_begin(op);
	s->cb(&list, NULL, op->ctx);
	store_op_finish(op);
}

static const char shared_sql[] =
    "SELECT s.r_rights, o.addr, s.r_path, s.r_subscribed::text, " STORE_FOLDER_COLUMNS(
        "nm.name") " FROM floe_share_list($1) s"
                   " JOIN accounts oa ON oa.id = s.r_owner AND oa.enabled"
                   " JOIN folders f ON f.account_id = s.r_owner AND f.id = s.r_folder"
                   " CROSS JOIN LATERAL (SELECT floe_account_address(s.r_owner)) AS o(addr)"
                   " CROSS JOIN LATERAL (SELECT '~' || o.addr || '/' || s.r_path) AS nm(name)"
                   " WHERE position('l' IN s.r_rights) > 0"
                   " ORDER BY o.addr COLLATE \"C\", s.r_path COLLATE \"C\"";

struct store_op *
store_acl_shared(struct store *store, uint64_t user_id, store_acl_shared_cb *cb, void *ctx)
{
	struct shared_op *s = (struct shared_op *)store_op_new(store, sizeof(*s), shared_fail, ctx);
	struct store_params p = {0};

	s->cb = cb;
	store_param_u64(&p, user_id);
	store_op_query(&s->op, shared_sql, &p, shared_done);
	return &s->op;
}
