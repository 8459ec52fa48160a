/* floectl's blocking SQL for files (db/admin-file.h): folder lookup, the
 * groupware_files index, the stored item, and appends or replacements
 * through floe_groupware_append / floe_groupware_replace, one transaction
 * each, database errors turned into one-line messages. */
#include "admin-file.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-sql.h"
#include "xmalloc.h"

/* The account and its file folder, as decimal text; the canonical address
 * in owner_r when asked for (the caller frees). */
static int
folder_find(PGconn *conn, const char *address, const char *folder, char acct_r[24], char fid_r[24],
            char **owner_r, const char **error_r)
{
	const char *params[2] = {address, folder};
	PGresult *res;

	if (folder == NULL || folder[0] == '\0')
		return admin_fail(error_r, "no folder given");
	res = admin_exec_format(conn,
	                        "SELECT r.r_id, floe_account_address(r.r_id), f.id, f.type"
	                        " FROM floe_account_by_address($1) r"
	                        " LEFT JOIN folders f ON f.account_id = r.r_id"
	                        " AND f.id = floe_folder_find(r.r_id, $2)",
	                        2, params, 0, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return admin_fail(error_r, "unknown account %s", address);
	}
	if (PQgetisnull(res, 0, 2)) {
		admin_fail(error_r, "no folder %s in %s", folder, PQgetvalue(res, 0, 1));
		PQclear(res);
		return -1;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "file") != 0) {
		admin_fail(error_r, "%s in %s is a folder of type %s, not file", folder,
		           PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 3));
		PQclear(res);
		return -1;
	}
	snprintf(acct_r, 24, "%s", PQgetvalue(res, 0, 0));
	snprintf(fid_r, 24, "%s", PQgetvalue(res, 0, 2));
	if (owner_r != NULL)
		*owner_r = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

#define FILE_COLUMNS                                                                               \
	"SELECT i.uid, i.modseq, g.uid, f.filename, f.size, f.media_type,"                         \
	" encode(f.sha256, 'hex'),"                                                                \
	" to_char(i.internal_date AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), i.size"   \
	" FROM items i"                                                                            \
	" JOIN groupware_index g ON g.account_id = i.account_id AND g.hash = i.blob_hash"          \
	" JOIN groupware_files f ON f.account_id = i.account_id AND f.hash = i.blob_hash"          \
	" WHERE i.account_id = $1 AND i.folder_id = $2"

static void
file_from_row(const PGresult *res, int row, struct admin_file *f)
{
	f->uid = admin_int(res, row, 0);
	f->modseq = admin_int(res, row, 1);
	f->object_uid = xstrdup(PQgetvalue(res, row, 2));
	f->filename = xstrdup(PQgetvalue(res, row, 3));
	f->size = admin_int(res, row, 4);
	f->media_type = xstrdup(PQgetvalue(res, row, 5));
	f->sha256 = xstrdup(PQgetvalue(res, row, 6));
	f->stored_at = xstrdup(PQgetvalue(res, row, 7));
	f->item_size = admin_int(res, row, 8);
}

void
admin_file_clear(struct admin_file *f)
{
	free(f->object_uid);
	free(f->filename);
	free(f->media_type);
	free(f->sha256);
	free(f->stored_at);
	memset(f, 0, sizeof(*f));
}

void
admin_file_list_free(struct admin_file_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		admin_file_clear(&list->items[i]);
	free(list->items);
	free(list->owner);
	memset(list, 0, sizeof(*list));
}

int
admin_file_list(PGconn *conn, const char *address, const char *folder,
                struct admin_file_list *list_r, const char **error_r)
{
	char acct[24], fid[24];
	const char *params[2] = {acct, fid};
	PGresult *res;
	int rows;

	memset(list_r, 0, sizeof(*list_r));
	if (folder_find(conn, address, folder, acct, fid, &list_r->owner, error_r) < 0)
		return -1;
	res = admin_exec_format(conn, FILE_COLUMNS " ORDER BY f.filename COLLATE \"C\", i.uid", 2,
	                        params, 0, error_r);
	if (res == NULL) {
		admin_file_list_free(list_r);
		return -1;
	}
	rows = PQntuples(res);
	list_r->items = xcalloc((size_t)rows + 1, sizeof(*list_r->items));
	for (int r = 0; r < rows; r++)
		file_from_row(res, r, &list_r->items[r]);
	list_r->count = (size_t)rows;
	PQclear(res);
	return 0;
}

int
admin_file_find(PGconn *conn, const char *address, const char *folder, const char *name,
                struct admin_file *file_r, const char **error_r)
{
	char acct[24], fid[24];
	const char *params[3] = {acct, fid, name};
	PGresult *res;
	int found;

	memset(file_r, 0, sizeof(*file_r));
	if (folder_find(conn, address, folder, acct, fid, NULL, error_r) < 0)
		return -1;
	res =
	    admin_exec_format(conn, FILE_COLUMNS " AND f.filename = $3 ORDER BY i.uid DESC LIMIT 1",
	                      3, params, 0, error_r);
	if (res == NULL)
		return -1;
	found = PQntuples(res) == 1;
	if (found)
		file_from_row(res, 0, file_r);
	PQclear(res);
	return found;
}

int
admin_file_read(PGconn *conn, const char *address, const char *folder, int64_t uid,
                unsigned char **data_r, size_t *len_r, const char **error_r)
{
	char acct[24], fid[24], uidtext[24];
	const char *params[3] = {acct, fid, uidtext};
	PGresult *res;
	size_t len;

	*data_r = NULL;
	*len_r = 0;
	if (folder_find(conn, address, folder, acct, fid, NULL, error_r) < 0)
		return -1;
	snprintf(uidtext, sizeof(uidtext), "%" PRId64, uid);
	res = admin_exec_format(conn,
	                        "SELECT b.data FROM items i JOIN blobs b ON b.hash = i.blob_hash"
	                        " WHERE i.account_id = $1 AND i.folder_id = $2 AND i.uid = $3",
	                        3, params, 1, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return admin_fail(error_r, "no item with UID %" PRId64 " in %s", uid, folder);
	}
	len = (size_t)PQgetlength(res, 0, 0);
	*data_r = xmalloc(len + 1);
	memcpy(*data_r, PQgetvalue(res, 0, 0), len);
	(*data_r)[len] = '\0';
	*len_r = len;
	PQclear(res);
	return 0;
}

int
admin_file_store(PGconn *conn, const char *address, const char *folder, int64_t replace_uid,
                 const struct store_append_item *item, const struct store_gw_index *index,
                 int64_t *uid_r, const char **error_r)
{
	char acct[24], fid[24], old[24], *datas, *items, *indexes;
	const char *params[7];
	PGresult *res;
	int ret = -1;

	if (index == NULL || index->kind == NULL || strcmp(index->kind, "file") != 0)
		return admin_fail(error_r, "not a file item");
	if (store_groupware_append_params(item, &index, 1, &datas, &items, &indexes, error_r) < 0)
		return -1;
	if (admin_run(conn, "BEGIN", 0, NULL, error_r) < 0)
		goto out;
	if (folder_find(conn, address, folder, acct, fid, NULL, error_r) < 0) {
		admin_rollback(conn);
		goto out;
	}
	snprintf(old, sizeof(old), "%" PRId64, replace_uid);
	params[0] = acct;
	params[1] = fid;
	if (replace_uid > 0) {
		params[2] = old;
		params[3] = "0";
		params[4] = datas;
		params[5] = items;
		params[6] = indexes;
		res = admin_exec_format(
		    conn, "SELECT r_uid FROM floe_groupware_replace($1, $2, $3, $4, $5, $6, $7)", 7,
		    params, 0, error_r);
	} else {
		params[2] = datas;
		params[3] = items;
		params[4] = indexes;
		res = admin_exec_format(
		    conn, "SELECT r_uid FROM floe_groupware_append($1, $2, $3, $4, $5)", 5, params,
		    0, error_r);
	}
	if (res == NULL) {
		admin_rollback(conn);
		goto out;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		admin_rollback(conn);
		admin_fail(error_r, "the store did not return the new UID");
		goto out;
	}
	*uid_r = admin_int(res, 0, 0);
	PQclear(res);
	if (admin_run(conn, "COMMIT", 0, NULL, error_r) < 0) {
		admin_rollback(conn);
		goto out;
	}
	ret = 0;
out:
	free(datas);
	free(items);
	free(indexes);
	return ret;
}
