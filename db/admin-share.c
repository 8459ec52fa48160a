/* floectl's blocking SQL for folders, sharing and public folders
 * (db/admin-share.h): thin wrappers around the store's SQL functions, one
 * transaction per write, database errors turned into one-line messages. */
#include "admin-share.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin-sql.h"
#include "store-private.h"
#include "xmalloc.h"

/* --- Accounts, folders and grantees by name --- */

struct account {
	int64_t id;
	char idtext[24];
	char kind[16];
	char *address; /* canonical */
};

static int
account_find(PGconn *conn, const char *address, struct account *a_r, const char **error_r)
{
	const char *params[1] = {address};
	PGresult *res = admin_exec(conn,
	                           "SELECT r.r_id, r.r_kind, floe_account_address(r.r_id)"
	                           " FROM floe_account_by_address($1) r",
	                           1, params, error_r);

	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return admin_fail(error_r, "unknown account %s", address);
	}
	a_r->id = admin_int(res, 0, 0);
	snprintf(a_r->idtext, sizeof(a_r->idtext), "%" PRId64, a_r->id);
	snprintf(a_r->kind, sizeof(a_r->kind), "%s", PQgetvalue(res, 0, 1));
	a_r->address = xstrdup(PQgetvalue(res, 0, 2));
	PQclear(res);
	return 0;
}

/* The folder at path of a ("0" for a NULL path: the account level), as
 * decimal text in idtext. */
static int
folder_find(PGconn *conn, const struct account *a, const char *path, char idtext[24],
            const char **error_r)
{
	const char *params[2] = {a->idtext, path};
	PGresult *res;
	bool found;

	if (path == NULL) {
		snprintf(idtext, 24, "0");
		return 0;
	}
	if (admin_folder_path_check(path, false, error_r) < 0)
		return -1;
	res = admin_exec(conn, "SELECT floe_folder_find($1, $2)", 2, params, error_r);
	if (res == NULL)
		return -1;
	found = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
	if (found)
		snprintf(idtext, 24, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found ? 0 : admin_fail(error_r, "no folder %s in %s", path, a->address);
}

/* "anyone", or the account an address names: its kind as an ACL grantee
 * kind and its id ("0" for anyone). */
static int
grantee_find(PGconn *conn, const char *grantee, char kind_r[8], char idtext_r[24],
             const char **error_r)
{
	struct account g;

	if (strcasecmp(grantee, "anyone") == 0) {
		snprintf(kind_r, 8, "anyone");
		snprintf(idtext_r, 24, "0");
		return 0;
	}
	if (account_find(conn, grantee, &g, error_r) < 0)
		return admin_fail(error_r, "no such user or group: %s", grantee);
	snprintf(kind_r, 8, "%s", strcmp(g.kind, "group") == 0 ? "group" : "user");
	snprintf(idtext_r, 24, "%s", g.idtext);
	free(g.address);
	return 0;
}

/* "alice@example.com/Calendar", or the account alone. */
static const char *
target_name(const struct account *a, const char *path)
{
	static char buf[1400];

	if (path == NULL)
		snprintf(buf, sizeof(buf), "%s (the whole account)", a->address);
	else
		snprintf(buf, sizeof(buf), "%s/%s", a->address, path);
	return buf;
}

/* --- Folders --- */

static const char *const folder_types[] = {"mail", "event",   "contact", "task",
                                           "note", "journal", "file"};

bool
admin_folder_type_valid(const char *type)
{
	for (size_t i = 0; i < sizeof(folder_types) / sizeof(folder_types[0]); i++) {
		if (strcmp(type, folder_types[i]) == 0)
			return true;
	}
	return false;
}

int
admin_folder_path_check(const char *path, bool for_create, const char **error_r)
{
	const char *error;

	if (store_path_check(path, &error) < 0)
		return admin_fail(error_r, "%s: %s", error, path);
	if (for_create && path[0] == '~')
		return admin_fail(error_r,
		                  "folder names may not start with '~' (IMAP shows other users' "
		                  "folders there): %s",
		                  path);
	return 0;
}

/* Every folder of account $1 with its path, filtered by type ($2) or by id
 * ($3); the ACL source as floe_acl_source gives it. */
static const char folder_list_sql[] =
    "WITH RECURSIVE t AS ("
    " SELECT f.id, f.name::text AS path FROM folders f"
    " WHERE f.account_id = $1 AND f.parent_id IS NULL"
    " UNION ALL"
    " SELECT f.id, t.path || '/' || f.name FROM t"
    " JOIN folders f ON f.account_id = $1 AND f.parent_id = t.id) "
    "SELECT f.id, t.path, f.type, f.special_use, f.is_default, f.noselect, f.messages, f.size,"
    " f.acl_inherit, s.src = f.id,"
    " CASE WHEN s.src = 0 THEN '' ELSE floe_folder_path($1, s.src) END,"
    " (SELECT count(*) FROM acl a WHERE a.account_id = $1 AND coalesce(a.folder_id, 0) = s.src)"
    " FROM t JOIN folders f ON f.account_id = $1 AND f.id = t.id"
    " CROSS JOIN LATERAL (SELECT floe_acl_source($1, f.id) AS src) s"
    " WHERE ($2::text IS NULL OR f.type = $2) AND ($3::bigint IS NULL OR f.id = $3)"
    " ORDER BY t.path COLLATE \"C\"";

static void
folder_from_row(const PGresult *res, int row, struct admin_folder *f)
{
	memset(f, 0, sizeof(*f));
	f->id = admin_int(res, row, 0);
	f->path = xstrdup(PQgetvalue(res, row, 1));
	f->type = xstrdup(PQgetvalue(res, row, 2));
	f->special_use = admin_opt(res, row, 3);
	f->is_default = admin_bool(res, row, 4);
	f->noselect = admin_bool(res, row, 5);
	f->messages = admin_int(res, row, 6);
	f->size = admin_int(res, row, 7);
	f->acl_inherit = admin_bool(res, row, 8);
	f->acl_own = admin_bool(res, row, 9);
	f->acl_source = xstrdup(PQgetvalue(res, row, 10));
	f->acl_entries = (unsigned long)strtoul(PQgetvalue(res, row, 11), NULL, 10);
}

void
admin_folder_clear(struct admin_folder *f)
{
	xfree_ptr(&f->path);
	xfree_ptr(&f->type);
	xfree_ptr(&f->special_use);
	xfree_ptr(&f->acl_source);
}

void
admin_folder_list_free(struct admin_folder_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		admin_folder_clear(&list->items[i]);
	xfree_ptr(&list->items);
	xfree_ptr(&list->owner);
	list->count = 0;
}

int
admin_folder_list(PGconn *conn, const char *address, const char *type,
                  struct admin_folder_list *list_r, const char **error_r)
{
	struct account a;
	PGresult *res;

	memset(list_r, 0, sizeof(*list_r));
	if (type != NULL && !admin_folder_type_valid(type))
		return admin_fail(error_r, "unknown folder type %s", type);
	if (account_find(conn, address, &a, error_r) < 0)
		return -1;
	const char *params[3] = {a.idtext, type, NULL};
	res = admin_exec(conn, folder_list_sql, 3, params, error_r);
	if (res == NULL) {
		free(a.address);
		return -1;
	}
	list_r->owner = a.address;
	list_r->count = (size_t)PQntuples(res);
	list_r->items = xcalloc(list_r->count + 1, sizeof(*list_r->items));
	for (size_t i = 0; i < list_r->count; i++)
		folder_from_row(res, (int)i, &list_r->items[i]);
	PQclear(res);
	return 0;
}

int
admin_folder_get(PGconn *conn, const char *address, const char *path, struct admin_folder *folder_r,
                 const char **error_r)
{
	struct account a;
	char fid[24];
	PGresult *res = NULL;
	int ret = -1;

	memset(folder_r, 0, sizeof(*folder_r));
	if (account_find(conn, address, &a, error_r) < 0)
		return -1;
	if (folder_find(conn, &a, path, fid, error_r) == 0) {
		const char *params[3] = {a.idtext, NULL, fid};

		res = admin_exec(conn, folder_list_sql, 3, params, error_r);
	}
	if (res != NULL && PQntuples(res) == 1) {
		folder_from_row(res, 0, folder_r);
		ret = 0;
	} else if (res != NULL) {
		admin_fail(error_r, "no folder %s in %s", path, a.address);
	}
	PQclear(res);
	free(a.address);
	return ret;
}

int
admin_folder_create(PGconn *conn, const char *address, const char *path, const char *type,
                    const char **error_r)
{
	struct account a;
	int ret = -1;

	if (!admin_folder_type_valid(type))
		return admin_fail(error_r, "unknown folder type %s", type);
	if (admin_folder_path_check(path, true, error_r) < 0)
		return -1;
	if (account_find(conn, address, &a, error_r) < 0)
		return -1;
	if (strcmp(a.kind, "group") == 0) {
		admin_fail(error_r,
		           "%s is a group: its folders are public folders (public-folder create)",
		           a.address);
		goto out;
	}
	const char *params[3] = {a.idtext, path, type};
	if (admin_begin(conn, error_r) < 0)
		goto out;
	if (admin_run(conn, "SELECT floe_folder_create($1, $2, $3, NULL)", 3, params, error_r) <
	        0 ||
	    admin_run(conn,
	              "INSERT INTO subscriptions (account_id, name) VALUES ($1, $2)"
	              " ON CONFLICT DO NOTHING",
	              2, params, error_r) < 0 ||
	    admin_commit(conn, error_r) < 0) {
		admin_rollback(conn);
		goto out;
	}
	ret = 0;
out:
	free(a.address);
	return ret;
}

int
admin_folder_remove(PGconn *conn, const char *address, const char *path, bool *kept_r,
                    const char **error_r)
{
	struct account a;
	char fid[24];
	PGresult *res;
	int ret = -1;

	*kept_r = false;
	if (account_find(conn, address, &a, error_r) < 0)
		return -1;
	const char *params[2] = {a.idtext, fid};
	if (admin_begin(conn, error_r) < 0)
		goto out;
	if (folder_find(conn, &a, path, fid, error_r) < 0 ||
	    admin_run(conn, "SELECT floe_folder_delete($1, $2)", 2, params, error_r) < 0 ||
	    (res = admin_exec(conn, "SELECT 1 FROM folders f WHERE f.account_id = $1 AND f.id = $2",
	                      2, params, error_r)) == NULL) {
		admin_rollback(conn);
		goto out;
	}
	*kept_r = PQntuples(res) == 1;
	PQclear(res);
	if (admin_commit(conn, error_r) < 0) {
		admin_rollback(conn);
		goto out;
	}
	ret = 0;
out:
	free(a.address);
	return ret;
}

/* --- Access control --- */

int
admin_share_set(PGconn *conn, const char *owner, const char *path, const char *grantee,
                enum admin_share_mode mode, const char *rights, char **rights_r,
                const char **error_r)
{
	struct account a;
	char fid[24], gkind[8], gid[24], modetext[4];
	PGresult *res;
	int ret = -1;

	if (rights_r != NULL)
		*rights_r = NULL;
	if (account_find(conn, owner, &a, error_r) < 0)
		return -1;
	snprintf(modetext, sizeof(modetext), "%d", (int)mode);
	if (admin_begin(conn, error_r) < 0)
		goto out;
	if (folder_find(conn, &a, path, fid, error_r) < 0 ||
	    grantee_find(conn, grantee, gkind, gid, error_r) < 0)
		goto fail;
	if (mode == ADMIN_SHARE_REMOVE || mode == ADMIN_SHARE_DELETE) {
		const char *params[4] = {a.idtext, fid, gkind, gid};

		res = admin_exec(conn,
		                 "SELECT 1 FROM acl a WHERE a.account_id = $1"
		                 " AND coalesce(a.folder_id, 0) = floe_acl_source($1, $2)"
		                 " AND a.grantee_kind = $3 AND coalesce(a.grantee_id, 0) = $4",
		                 4, params, error_r);
		if (res == NULL)
			goto fail;
		if (PQntuples(res) == 0) {
			PQclear(res);
			admin_fail(error_r, "%s has no rights on %s", grantee,
			           target_name(&a, path));
			goto fail;
		}
		PQclear(res);
	}
	const char *params[5] = {a.idtext, fid, grantee, modetext, rights};
	res = admin_exec(conn, "SELECT floe_acl_set($1, $2, $3, $4, $5)", 5, params, error_r);
	if (res == NULL)
		goto fail;
	if (rights_r != NULL)
		*rights_r = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (admin_commit(conn, error_r) < 0)
		goto fail;
	ret = 0;
	goto out;
fail:
	admin_rollback(conn);
	if (rights_r != NULL)
		xfree_ptr(rights_r);
out:
	free(a.address);
	return ret;
}

int
admin_share_inherit(PGconn *conn, const char *owner, const char *path, bool on,
                    const char **error_r)
{
	struct account a;
	char fid[24];
	int ret = -1;

	if (account_find(conn, owner, &a, error_r) < 0)
		return -1;
	const char *params[3] = {a.idtext, fid, on ? "true" : "false"};
	if (admin_begin(conn, error_r) < 0)
		goto out;
	if (folder_find(conn, &a, path, fid, error_r) < 0 ||
	    admin_run(conn, "SELECT floe_acl_inherit($1, $2, $3)", 3, params, error_r) < 0 ||
	    admin_commit(conn, error_r) < 0) {
		admin_rollback(conn);
		goto out;
	}
	ret = 0;
out:
	free(a.address);
	return ret;
}

int
admin_public_folder_create(PGconn *conn, const char *group, const char *path, const char *type,
                           const char *rights, const char **error_r)
{
	struct account a;
	PGresult *res;
	char fid[24];
	int ret = -1;

	if (!admin_folder_type_valid(type))
		return admin_fail(error_r, "unknown folder type %s", type);
	if (admin_folder_path_check(path, true, error_r) < 0)
		return -1;
	if (account_find(conn, group, &a, error_r) < 0)
		return -1;
	if (strcmp(a.kind, "group") != 0) {
		admin_fail(error_r, "%s is not a group (public folders belong to groups)",
		           a.address);
		goto out;
	}
	const char *params[3] = {a.idtext, path, type};
	if (admin_begin(conn, error_r) < 0)
		goto out;
	res = admin_exec(conn, "SELECT floe_folder_create($1, $2, $3, NULL)", 3, params, error_r);
	if (res == NULL) {
		admin_rollback(conn);
		goto out;
	}
	snprintf(fid, sizeof(fid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	const char *set[3] = {a.idtext, fid, rights};
	if (admin_run(conn, "SELECT floe_acl_set($1, $2, floe_account_address($1), 0, $3)", 3, set,
	              error_r) < 0 ||
	    admin_commit(conn, error_r) < 0) {
		admin_rollback(conn);
		goto out;
	}
	ret = 0;
out:
	free(a.address);
	return ret;
}

/* The entries in force on folder $2 of $1 (0: the account level), as
 * store_acl_get reads them (db/store-acl.c), with the source's path. */
static const char share_folder_sql[] =
    "WITH s AS (SELECT floe_acl_source($1, $2) AS src) "
    "SELECT * FROM ("
    " SELECT 0 AS k, s.src::text AS a, NULL AS b, NULL AS c,"
    " CASE WHEN s.src = 0 THEN NULL ELSE floe_folder_path($1, s.src) END AS d,"
    " (SELECT f.acl_inherit::text FROM folders f WHERE f.account_id = $1 AND f.id = $2) AS e,"
    " '' AS o FROM s WHERE s.src IS NOT NULL"
    " UNION ALL"
    " SELECT 1, a.grantee_kind, g.name, a.rights, NULL, NULL,"
    " CASE WHEN a.grantee_kind = 'anyone' THEN '' ELSE g.name END"
    " FROM s JOIN acl a ON a.account_id = $1 AND coalesce(a.folder_id, 0) = s.src"
    " CROSS JOIN LATERAL (SELECT CASE WHEN a.grantee_kind = 'anyone' THEN 'anyone'"
    " ELSE floe_account_address(a.grantee_id) END) AS g(name)) x "
    "ORDER BY k, o COLLATE \"C\"";

/* Every entry of account $1: the account level first, then by folder. */
static const char share_account_sql[] =
    "SELECT p.path, a.grantee_kind, g.name, a.rights FROM acl a"
    " CROSS JOIN LATERAL (SELECT CASE WHEN a.folder_id IS NULL THEN NULL"
    " ELSE floe_folder_path($1, a.folder_id) END) AS p(path)"
    " CROSS JOIN LATERAL (SELECT CASE WHEN a.grantee_kind = 'anyone' THEN 'anyone'"
    " ELSE floe_account_address(a.grantee_id) END) AS g(name)"
    " WHERE a.account_id = $1"
    " ORDER BY p.path IS NOT NULL, p.path COLLATE \"C\", a.grantee_kind <> 'anyone',"
    " g.name COLLATE \"C\"";

static void
share_entry_push(struct admin_share_list *list, char *folder, const char *kind, const char *grantee,
                 const char *rights)
{
	struct admin_share_entry *e;

	list->items = xreallocarray(list->items, list->count + 1, sizeof(*list->items));
	e = &list->items[list->count++];
	e->folder = folder;
	e->kind = xstrdup(kind);
	e->grantee = xstrdup(grantee);
	e->rights = xstrdup(rights);
}

int
admin_share_list(PGconn *conn, const char *owner, const char *path, struct admin_share_list *list_r,
                 const char **error_r)
{
	struct account a;
	char fid[24];
	PGresult *res;

	memset(list_r, 0, sizeof(*list_r));
	if (account_find(conn, owner, &a, error_r) < 0)
		return -1;
	list_r->owner = a.address;
	const char *params[2] = {a.idtext, fid};
	if (path == NULL) {
		res = admin_exec(conn, share_account_sql, 1, params, error_r);
		if (res == NULL)
			goto fail;
		for (int r = 0; r < PQntuples(res); r++)
			share_entry_push(list_r, admin_opt(res, r, 0), PQgetvalue(res, r, 1),
			                 PQgetvalue(res, r, 2), PQgetvalue(res, r, 3));
		PQclear(res);
		return 0;
	}
	list_r->path = xstrdup(path);
	if (folder_find(conn, &a, path, fid, error_r) < 0)
		goto fail;
	res = admin_exec(conn, share_folder_sql, 2, params, error_r);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
		PQclear(res);
		admin_fail(error_r, "no folder %s in %s", path, a.address);
		goto fail;
	}
	list_r->source = admin_opt(res, 0, 4);
	list_r->inherited = strcmp(PQgetvalue(res, 0, 1), fid) != 0;
	list_r->acl_inherit = admin_bool(res, 0, 5);
	for (int r = 1; r < PQntuples(res); r++)
		share_entry_push(list_r, admin_opt(res, 0, 4), PQgetvalue(res, r, 1),
		                 PQgetvalue(res, r, 2), PQgetvalue(res, r, 3));
	PQclear(res);
	return 0;
fail:
	admin_share_list_free(list_r);
	return -1;
}

void
admin_share_list_free(struct admin_share_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		xfree_ptr(&list->items[i].folder);
		xfree_ptr(&list->items[i].grantee);
		xfree_ptr(&list->items[i].kind);
		xfree_ptr(&list->items[i].rights);
	}
	xfree_ptr(&list->items);
	xfree_ptr(&list->owner);
	xfree_ptr(&list->path);
	xfree_ptr(&list->source);
	list->count = 0;
}

/* --- Subscriptions --- */

int
admin_share_subscribe(PGconn *conn, const char *grantee, const char *owner, const char *path,
                      bool subscribe, const char **error_r)
{
	struct account g, o;
	PGresult *res;
	int ret = -1;

	if (path != NULL && admin_folder_path_check(path, false, error_r) < 0)
		return -1;
	if (account_find(conn, grantee, &g, error_r) < 0)
		return -1;
	if (account_find(conn, owner, &o, error_r) < 0) {
		free(g.address);
		return -1;
	}
	if (g.id == o.id) {
		admin_fail(error_r, "%s is the owner: its own folders need no share subscription",
		           g.address);
		goto out;
	}
	const char *params[4] = {g.idtext, o.address, path, subscribe ? "true" : "false"};
	res = admin_exec(conn, "SELECT floe_share_subscribe($1, $2, $3, $4)", 4, params, error_r);
	if (res == NULL)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), "ok") != 0)
		admin_fail(error_r, "no folder %s in %s visible to %s", path != NULL ? path : "",
		           o.address, g.address);
	else
		ret = 0;
	PQclear(res);
out:
	free(g.address);
	free(o.address);
	return ret;
}

/* $1 grantee, $2 owner or NULL. */
static const char subscriptions_sql[] =
    "SELECT * FROM (SELECT floe_account_address(s.owner_id) AS o,"
    " CASE WHEN s.folder_id IS NULL THEN NULL ELSE floe_folder_path(s.owner_id, s.folder_id) END"
    " AS p, s.subscribed,"
    " floe_acl_rights(s.account_id, s.owner_id, coalesce(s.folder_id, 0))"
    " FROM share_subscriptions s"
    " WHERE s.account_id = $1 AND ($2::bigint IS NULL OR s.owner_id = $2)) x"
    " ORDER BY x.o COLLATE \"C\", x.p IS NOT NULL, x.p COLLATE \"C\"";

int
admin_share_subscriptions(PGconn *conn, const char *grantee, const char *owner,
                          struct admin_share_subscription_list *list_r, const char **error_r)
{
	struct account g, o = {0};
	PGresult *res;

	memset(list_r, 0, sizeof(*list_r));
	if (account_find(conn, grantee, &g, error_r) < 0)
		return -1;
	if (owner != NULL && account_find(conn, owner, &o, error_r) < 0) {
		free(g.address);
		return -1;
	}
	list_r->grantee = g.address;
	const char *params[2] = {g.idtext, owner != NULL ? o.idtext : NULL};
	res = admin_exec(conn, subscriptions_sql, 2, params, error_r);
	free(o.address);
	if (res == NULL) {
		admin_share_subscription_list_free(list_r);
		return -1;
	}
	list_r->count = (size_t)PQntuples(res);
	list_r->items = xcalloc(list_r->count + 1, sizeof(*list_r->items));
	for (size_t i = 0; i < list_r->count; i++) {
		struct admin_share_subscription *s = &list_r->items[i];

		s->owner = xstrdup(PQgetvalue(res, (int)i, 0));
		s->folder = admin_opt(res, (int)i, 1);
		s->subscribed = admin_bool(res, (int)i, 2);
		s->rights = xstrdup(PQgetvalue(res, (int)i, 3));
	}
	PQclear(res);
	return 0;
}

void
admin_share_subscription_list_free(struct admin_share_subscription_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		xfree_ptr(&list->items[i].owner);
		xfree_ptr(&list->items[i].folder);
		xfree_ptr(&list->items[i].rights);
	}
	xfree_ptr(&list->items);
	xfree_ptr(&list->grantee);
	list->count = 0;
}
