/* floectl's blocking SQL for ActiveSync devices (db/admin-device.h). */
#include "admin-device.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-sql.h"
#include "xmalloc.h"

static const char device_columns[] =
    "d.id, floe_account_address(d.account_id), d.device_id, d.device_type, d.user_agent,"
    " d.protocol_version, d.model, d.imei, d.os, d.os_language, d.friendly_name,"
    " d.phone_number, d.mobile_operator, " ADMIN_SQL_UTC("d.first_seen") ", " ADMIN_SQL_UTC(
        "d.last_seen") ","
                       " d.policy_key, d.pending_policy_key, coalesce(d.policy_status, "
                       "0), " ADMIN_SQL_UTC(
                           "d.policy_acked_at") ","
                                                " d.protocol_log, coalesce(e.protocol_log, false), "
                                                "d.access_state,"
                                                " d.wipe_state, d.folder_sync_key, "
                                                "cardinality(d.ping_folders),"
                                                " d.ping_heartbeat"
                                                " FROM devices d LEFT JOIN eas_accounts e ON "
                                                "e.account_id = "
                                                "d.account_id";

static void
parse_device(const PGresult *res, int row, struct admin_device *d)
{
	int c = 0;

	memset(d, 0, sizeof(*d));
	d->id = strtoll(PQgetvalue(res, row, c++), NULL, 10);
	d->address = xstrdup(PQgetvalue(res, row, c++));
	d->device_id = xstrdup(PQgetvalue(res, row, c++));
	d->device_type = xstrdup(PQgetvalue(res, row, c++));
	d->user_agent = xstrdup(PQgetvalue(res, row, c++));
	d->protocol_version = xstrdup(PQgetvalue(res, row, c++));
	d->model = admin_opt(res, row, c++);
	d->imei = admin_opt(res, row, c++);
	d->os = admin_opt(res, row, c++);
	d->os_language = admin_opt(res, row, c++);
	d->friendly_name = admin_opt(res, row, c++);
	d->phone_number = admin_opt(res, row, c++);
	d->mobile_operator = admin_opt(res, row, c++);
	d->first_seen = xstrdup(PQgetvalue(res, row, c++));
	d->last_seen = xstrdup(PQgetvalue(res, row, c++));
	d->policy_key = strtoll(PQgetvalue(res, row, c++), NULL, 10);
	d->pending_policy_key = strtoll(PQgetvalue(res, row, c++), NULL, 10);
	d->policy_status = atoi(PQgetvalue(res, row, c++));
	d->policy_acked = admin_opt(res, row, c++);
	d->protocol_log = PQgetvalue(res, row, c++)[0] == 't';
	d->account_log = PQgetvalue(res, row, c++)[0] == 't';
	d->access_state = xstrdup(PQgetvalue(res, row, c++));
	d->wipe_state = xstrdup(PQgetvalue(res, row, c++));
	d->folder_sync_key = strtoll(PQgetvalue(res, row, c++), NULL, 10);
	d->ping_folders = (size_t)strtoul(PQgetvalue(res, row, c++), NULL, 10);
	d->ping_heartbeat = atoi(PQgetvalue(res, row, c++));
}

void
admin_device_clear(struct admin_device *d)
{
	char **strings[] = {
	    &d->address,          &d->device_id,     &d->device_type,  &d->user_agent,
	    &d->protocol_version, &d->model,         &d->imei,         &d->os,
	    &d->os_language,      &d->friendly_name, &d->phone_number, &d->mobile_operator,
	    &d->first_seen,       &d->last_seen,     &d->policy_acked, &d->access_state,
	    &d->wipe_state,
	};

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		xfree_ptr(strings[i]);
}

void
admin_device_list_free(struct admin_device_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		admin_device_clear(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

/* The account an address (or alias) names; 0 with an error when none. */
static int64_t
account_of(PGconn *conn, const char *address, const char **error_r)
{
	const char *params[1] = {address};
	PGresult *res =
	    admin_exec(conn, "SELECT r_id FROM floe_account_by_address($1)", 1, params, error_r);
	int64_t id = 0;

	if (res == NULL)
		return 0;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (id == 0)
		admin_fail(error_r, "unknown account %s", address);
	return id;
}

int
admin_device_list(PGconn *conn, const char *address, struct admin_device_list *list_r,
                  const char **error_r)
{
	char *sql, acct[24];
	const char *params[1] = {acct};
	PGresult *res;

	memset(list_r, 0, sizeof(*list_r));
	if (address != NULL) {
		int64_t id = account_of(conn, address, error_r);

		if (id == 0)
			return -1;
		snprintf(acct, sizeof(acct), "%" PRId64, id);
		sql = xasprintf("SELECT %s WHERE d.account_id = $1 ORDER BY d.last_seen DESC, d.id",
		                device_columns);
	} else {
		sql = xasprintf("SELECT %s ORDER BY floe_account_address(d.account_id),"
		                " d.last_seen DESC, d.id",
		                device_columns);
	}
	res = admin_exec(conn, sql, address != NULL ? 1 : 0, params, error_r);
	free(sql);
	if (res == NULL)
		return -1;
	list_r->count = (size_t)PQntuples(res);
	list_r->items = xcalloc(list_r->count + 1, sizeof(*list_r->items));
	for (size_t i = 0; i < list_r->count; i++)
		parse_device(res, (int)i, &list_r->items[i]);
	PQclear(res);
	return 0;
}

int
admin_device_get(PGconn *conn, int64_t id, struct admin_device *device_r, const char **error_r)
{
	char idtext[24];
	const char *params[1] = {idtext};
	char *sql = xasprintf("SELECT %s WHERE d.id = $1", device_columns);
	PGresult *res;

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	res = admin_exec(conn, sql, 1, params, error_r);
	free(sql);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return admin_fail(error_r, "no device %" PRId64, id);
	}
	parse_device(res, 0, device_r);
	PQclear(res);
	return 0;
}

int
admin_device_log_device(PGconn *conn, int64_t id, bool on, const char **error_r)
{
	char idtext[24];
	const char *params[2] = {idtext, on ? "true" : "false"};
	PGresult *res;
	bool found;

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	res = admin_exec(conn, "UPDATE devices SET protocol_log = $2 WHERE id = $1", 2, params,
	                 error_r);
	if (res == NULL)
		return -1;
	found = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return found ? 0 : admin_fail(error_r, "no device %" PRId64, id);
}

int
admin_device_log_account(PGconn *conn, const char *address, bool on, const char **error_r)
{
	char acct[24];
	const char *params[2] = {acct, on ? "true" : "false"};
	int64_t id = account_of(conn, address, error_r);
	PGresult *res;

	if (id == 0)
		return -1;
	snprintf(acct, sizeof(acct), "%" PRId64, id);
	res = admin_exec(
	    conn,
	    "INSERT INTO eas_accounts (account_id, protocol_log) VALUES ($1, $2)"
	    " ON CONFLICT (account_id) DO UPDATE SET protocol_log = EXCLUDED.protocol_log",
	    2, params, error_r);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
admin_device_remove(PGconn *conn, int64_t id, const char **error_r)
{
	char idtext[24];
	const char *params[1] = {idtext};
	PGresult *res;
	bool found;

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	res = admin_exec(conn, "DELETE FROM devices WHERE id = $1", 1, params, error_r);
	if (res == NULL)
		return -1;
	found = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return found ? 0 : admin_fail(error_r, "no device %" PRId64, id);
}
