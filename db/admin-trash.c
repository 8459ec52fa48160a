/* floectl's blocking SQL for the GroupWare Trash (db/admin-trash.h): the
 * store's own functions of 0012_groupware_trash.sql, database errors
 * turned into one-line messages. */
#include "admin-trash.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-share.h"
#include "admin-sql.h"
#include "xmalloc.h"

/* Batches of the purge, and of the content collection after it. */
#define PURGE_BATCH 500
#define GC_BATCH    2000

/* The account id (decimal) and canonical address of address. */
static int
account_find(PGconn *conn, const char *address, char id_r[24], char **owner_r, const char **error_r)
{
	const char *params[1] = {address};
	PGresult *res = admin_exec(conn,
	                           "SELECT r.r_id, floe_account_address(r.r_id)"
	                           " FROM floe_account_by_address($1) r",
	                           1, params, error_r);

	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return admin_fail(error_r, "unknown account %s", address);
	}
	snprintf(id_r, 24, "%s", PQgetvalue(res, 0, 0));
	*owner_r = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

static int
folder_check(const char *folder, const char **error_r)
{
	return folder == NULL ? 0 : admin_folder_path_check(folder, false, error_r);
}

/* The entries of account $1 deleted from folder $2 (NULL: any): by the
 * path they were deleted from, or through that folder's current path. */
#define TRASH_MATCH                                                                                \
	"t.account_id = $1 AND ($2::text IS NULL OR t.folder_path = $2"                            \
	" OR t.folder_id = floe_folder_find($1, $2))"

/* --- List --- */

int
admin_trash_list(PGconn *conn, const char *address, const char *folder,
                 struct admin_trash_list *list_r, const char **error_r)
{
	char id[24];
	PGresult *res;
	int n;

	memset(list_r, 0, sizeof(*list_r));
	if (folder_check(folder, error_r) < 0 ||
	    account_find(conn, address, id, &list_r->owner, error_r) < 0)
		return -1;
	const char *params[2] = {id, folder};
	res = admin_exec(
	    conn,
	    "SELECT t.id, t.folder_path, t.folder_type, t.folder_id IS NULL, t.object_uid,"
	    " t.kind, t.title, t.size,"
	    " to_char(t.deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	    " extract(day FROM now() - t.deleted_at)::bigint,"
	    " (SELECT coalesce(sum(y.size), 0) FROM groupware_trash y WHERE y.account_id = $1)"
	    " FROM groupware_trash t WHERE " TRASH_MATCH " ORDER BY t.deleted_at DESC, t.id DESC",
	    2, params, error_r);
	if (res == NULL) {
		admin_trash_list_free(list_r);
		return -1;
	}
	n = PQntuples(res);
	list_r->items = xcalloc((size_t)n + 1, sizeof(*list_r->items));
	for (int r = 0; r < n; r++) {
		struct admin_trash_entry *e = &list_r->items[list_r->count++];

		e->id = admin_int(res, r, 0);
		e->folder_path = admin_opt(res, r, 1);
		e->folder_type = admin_opt(res, r, 2);
		e->folder_gone = admin_bool(res, r, 3);
		e->object_uid = admin_opt(res, r, 4);
		e->kind = admin_opt(res, r, 5);
		e->title = admin_opt(res, r, 6);
		e->size = admin_int(res, r, 7);
		e->deleted_at = admin_opt(res, r, 8);
		e->age_days = admin_int(res, r, 9);
		list_r->total_size = admin_int(res, r, 10);
	}
	PQclear(res);
	if (n == 0) {
		/* The total still counts against the quota when this folder has
		 * nothing: ask for it alone. */
		res = admin_exec(conn,
		                 "SELECT coalesce(sum(y.size), 0) FROM groupware_trash y"
		                 " WHERE y.account_id = $1",
		                 1, params, error_r);
		if (res == NULL) {
			admin_trash_list_free(list_r);
			return -1;
		}
		list_r->total_size = admin_int(res, 0, 0);
		PQclear(res);
	}
	return 0;
}

void
admin_trash_list_free(struct admin_trash_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		struct admin_trash_entry *e = &list->items[i];

		free(e->folder_path);
		free(e->folder_type);
		free(e->object_uid);
		free(e->kind);
		free(e->title);
		free(e->deleted_at);
	}
	free(list->items);
	free(list->owner);
	memset(list, 0, sizeof(*list));
}

/* --- Restore --- */

int
admin_trash_restore(PGconn *conn, const char *address, const char *folder, const char *object_uid,
                    struct admin_trash_restore_result *result_r, const char **error_r)
{
	char id[24];
	PGresult *res;
	int n;

	memset(result_r, 0, sizeof(*result_r));
	if (object_uid != NULL && object_uid[0] == '\0')
		return admin_fail(error_r, "empty object UID");
	if (folder_check(folder, error_r) < 0 ||
	    account_find(conn, address, id, &result_r->owner, error_r) < 0)
		return -1;
	const char *params[3] = {id, folder, object_uid};
	/* One statement, so one transaction: the selection and the restore.
	 * The origin path of each entry comes from a snapshot taken before
	 * the restore removed it. */
	res = admin_exec(
	    conn,
	    "WITH sel AS (SELECT t.id, t.folder_path FROM groupware_trash t WHERE " TRASH_MATCH
	    " AND ($3::text IS NULL OR t.object_uid = $3))"
	    " SELECT r.r_id, r.r_object_uid, s.folder_path, r.r_ok, r.r_path, r.r_moved,"
	    " coalesce(r.r_uid, 0), r.r_error"
	    " FROM floe_gwtrash_restore($1, ARRAY(SELECT sel.id FROM sel)) r"
	    " LEFT JOIN sel s ON s.id = r.r_id",
	    3, params, error_r);
	if (res == NULL) {
		admin_trash_restore_result_free(result_r);
		return -1;
	}
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		admin_fail(error_r, "nothing in the trash of %s%s%s%s%s", result_r->owner,
		           folder != NULL ? " deleted from " : "", folder != NULL ? folder : "",
		           object_uid != NULL ? " with UID " : "",
		           object_uid != NULL ? object_uid : "");
		admin_trash_restore_result_free(result_r);
		return -1;
	}
	result_r->items = xcalloc((size_t)n, sizeof(*result_r->items));
	for (int r = 0; r < n; r++) {
		struct admin_trash_restored *x = &result_r->items[result_r->count++];

		x->id = admin_int(res, r, 0);
		x->object_uid = admin_opt(res, r, 1);
		x->from_path = admin_opt(res, r, 2);
		x->restored = admin_bool(res, r, 3);
		x->folder_path = admin_opt(res, r, 4);
		x->moved = admin_bool(res, r, 5);
		x->uid = admin_int(res, r, 6);
		x->error = admin_opt(res, r, 7);
		if (x->restored)
			result_r->restored++;
	}
	PQclear(res);
	return 0;
}

void
admin_trash_restore_result_free(struct admin_trash_restore_result *result)
{
	for (size_t i = 0; i < result->count; i++) {
		free(result->items[i].object_uid);
		free(result->items[i].from_path);
		free(result->items[i].folder_path);
		free(result->items[i].error);
	}
	free(result->items);
	free(result->owner);
	memset(result, 0, sizeof(*result));
}

/* --- Purge --- */

int
admin_trash_purge(PGconn *conn, const char *address, int64_t older_than_days,
                  unsigned long *purged_r, unsigned long *collected_r, const char **error_r)
{
	char id[24], age[48], batch[16], gc_batch[16], *owner = NULL;
	PGresult *res;
	unsigned long n;

	*purged_r = *collected_r = 0;
	if (older_than_days < 0 || older_than_days > 1000000)
		return admin_fail(error_r, "invalid age %" PRId64 " (days)", older_than_days);
	if (account_find(conn, address, id, &owner, error_r) < 0)
		return -1;
	free(owner);
	snprintf(age, sizeof(age), "%" PRId64 " days", older_than_days);
	snprintf(batch, sizeof(batch), "%d", PURGE_BATCH);
	snprintf(gc_batch, sizeof(gc_batch), "%d", GC_BATCH);
	const char *params[3] = {id, age, batch};
	/* Each batch one transaction (autocommit). */
	do {
		res = admin_exec(conn, "SELECT floe_gwtrash_purge($1, $2::interval, $3::int)", 3,
		                 params, error_r);
		if (res == NULL)
			return -1;
		n = (unsigned long)admin_int(res, 0, 0);
		PQclear(res);
		*purged_r += n;
	} while (n >= PURGE_BATCH);
	if (*purged_r == 0)
		return 0;
	const char *gc_params[1] = {gc_batch};
	do {
		res = admin_exec(conn, "SELECT floe_content_gc_run($1::int, '0'::interval)", 1,
		                 gc_params, error_r);
		if (res == NULL)
			return -1;
		n = (unsigned long)admin_int(res, 0, 0);
		PQclear(res);
		*collected_r += n;
	} while (n >= GC_BATCH);
	return 0;
}
