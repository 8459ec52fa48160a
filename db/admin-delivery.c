/* floectl's blocking SQL for delivery settings (db/admin-delivery.h):
 * forwarding, auto-responder, send-as delegation. */
#include "admin-delivery.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-sql.h"
#include "xmalloc.h"

/* Splits a newline-separated value into list. */
static void
split_lines(const char *text, struct admin_strings *list)
{
	const char *p = text, *nl;

	memset(list, 0, sizeof(*list));
	if (text == NULL || *text == '\0')
		return;
	for (;;) {
		nl = strchr(p, '\n');
		list->items = xreallocarray(list->items, list->count + 1, sizeof(char *));
		list->items[list->count++] =
		    nl != NULL ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/* A text[] literal of the strings. */
static char *
text_array(const char *const *items, size_t count)
{
	size_t len = 3;
	char *out, *o;

	for (size_t i = 0; i < count; i++)
		len += 2 * strlen(items[i]) + 3;
	out = o = xmalloc(len);
	*o++ = '{';
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			*o++ = ',';
		*o++ = '"';
		for (const char *c = items[i]; *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				*o++ = '\\';
			*o++ = *c;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

void
admin_strings_free(struct admin_strings *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* The account named by address (its own or an alias): id and address.
 * Groups are refused. With lock, the account row is locked. */
static int
account_find(PGconn *conn, const char *address, bool lock, char id_r[24], char **address_r,
             const char **error_r)
{
	const char *params[1] = {address};
	PGresult *res;
	const char *kind;

	res =
	    admin_exec(conn,
	               lock ? "SELECT a.id, a.kind, a.local_part || '@' || d.name FROM accounts a"
	                      " JOIN domains d ON d.id = a.domain_id"
	                      " WHERE a.id = (SELECT a2.id FROM accounts a2 JOIN domains d2"
	                      "  ON d2.id = a2.domain_id WHERE a2.local_part || '@' || d2.name = $1"
	                      "  UNION ALL SELECT al.account_id FROM aliases al JOIN domains d3"
	                      "  ON d3.id = al.domain_id WHERE al.local_part || '@' || d3.name = $1"
	                      "  LIMIT 1) FOR NO KEY UPDATE OF a"
	                    : "SELECT a.id, a.kind, a.local_part || '@' || d.name FROM accounts a"
	                      " JOIN domains d ON d.id = a.domain_id"
	                      " WHERE a.id = (SELECT a2.id FROM accounts a2 JOIN domains d2"
	                      "  ON d2.id = a2.domain_id WHERE a2.local_part || '@' || d2.name = $1"
	                      "  UNION ALL SELECT al.account_id FROM aliases al JOIN domains d3"
	                      "  ON d3.id = al.domain_id WHERE al.local_part || '@' || d3.name = $1"
	                      "  LIMIT 1)",
	               1, params, error_r);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return admin_fail(error_r, "unknown account %s", address);
	}
	kind = PQgetvalue(res, 0, 1);
	if (strcmp(kind, "group") == 0) {
		PQclear(res);
		return admin_fail(
		    error_r, "%s is a group: only users and resources have this setting", address);
	}
	snprintf(id_r, 24, "%s", PQgetvalue(res, 0, 0));
	if (address_r != NULL)
		*address_r = xstrdup(PQgetvalue(res, 0, 2));
	PQclear(res);
	return 0;
}

/* --- Forwarding --- */

int
admin_forward_set(PGconn *conn, const char *address, const char *const *targets, size_t ntargets,
                  bool keep_copy, const char **error_r)
{
	char id[24], *own = NULL, *array;
	const char *params[3];
	int ret;

	if (ntargets == 0)
		return admin_fail(error_r, "forwarding needs at least one target");
	if (admin_run(conn, "BEGIN", 0, NULL, error_r) < 0)
		return -1;
	if (account_find(conn, address, true, id, &own, error_r) < 0)
		return admin_rollback(conn);
	for (size_t i = 0; i < ntargets; i++) {
		if (strcmp(targets[i], own) == 0 || strcmp(targets[i], address) == 0) {
			free(own);
			admin_rollback(conn);
			return admin_fail(error_r, "%s cannot forward to itself", address);
		}
	}
	free(own);
	array = text_array(targets, ntargets);
	params[0] = id;
	params[1] = array;
	params[2] = keep_copy ? "true" : "false";
	ret = admin_run(conn,
	                "INSERT INTO forwarding (account_id, targets, keep_copy, updated_at)"
	                " VALUES ($1, $2::text[], $3::boolean, now())"
	                " ON CONFLICT (account_id) DO UPDATE SET targets = EXCLUDED.targets,"
	                " keep_copy = EXCLUDED.keep_copy, updated_at = now()",
	                3, params, error_r);
	free(array);
	if (ret < 0)
		return admin_rollback(conn);
	return admin_run(conn, "COMMIT", 0, NULL, error_r);
}

int
admin_forward_clear(PGconn *conn, const char *address, const char **error_r)
{
	char id[24];
	const char *params[1] = {id};

	if (admin_run(conn, "BEGIN", 0, NULL, error_r) < 0)
		return -1;
	if (account_find(conn, address, true, id, NULL, error_r) < 0 ||
	    admin_run(conn, "DELETE FROM forwarding WHERE account_id = $1", 1, params, error_r) < 0)
		return admin_rollback(conn);
	return admin_run(conn, "COMMIT", 0, NULL, error_r);
}

int
admin_forward_get(PGconn *conn, const char *address, struct admin_forward *fwd_r,
                  const char **error_r)
{
	char id[24];
	const char *params[1] = {id};
	PGresult *res;

	memset(fwd_r, 0, sizeof(*fwd_r));
	if (account_find(conn, address, false, id, &fwd_r->address, error_r) < 0)
		return -1;
	res = admin_exec(conn,
	                 "SELECT array_to_string(targets, chr(10)), keep_copy,"
	                 " to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	                 " FROM forwarding WHERE account_id = $1",
	                 1, params, error_r);
	if (res == NULL) {
		admin_forward_free(fwd_r);
		return -1;
	}
	fwd_r->keep_copy = true;
	if (PQntuples(res) == 1) {
		split_lines(PQgetvalue(res, 0, 0), &fwd_r->targets);
		fwd_r->keep_copy = PQgetvalue(res, 0, 1)[0] == 't';
		fwd_r->updated = admin_opt(res, 0, 2);
	}
	PQclear(res);
	return 0;
}

void
admin_forward_free(struct admin_forward *fwd)
{
	free(fwd->address);
	admin_strings_free(&fwd->targets);
	free(fwd->updated);
	memset(fwd, 0, sizeof(*fwd));
}

/* --- Responder --- */

/* $1 account; $2 mode; $3 days; $4 starts, $5 ends (NULL: unchanged, "":
 * none); $6 subject, $7 body (NULL: unchanged); $8 never (NULL:
 * unchanged). A bare date as the end means the end of that day. */
static const char responder_set_sql[] =
    "WITH v AS (SELECT"
    "  CASE WHEN $4::text = '' THEN NULL WHEN $4 ~ '^\\d{4}-\\d{2}-\\d{2}$'"
    "   THEN $4::date::timestamptz ELSE $4::timestamptz END AS starts,"
    "  CASE WHEN $5::text = '' THEN NULL WHEN $5 ~ '^\\d{4}-\\d{2}-\\d{2}$'"
    "   THEN ($5::date + 1)::timestamptz - interval '1 second' ELSE $5::timestamptz END"
    "   AS ends)"
    " INSERT INTO responders AS r (account_id, mode, interval_days, starts_at, ends_at,"
    "  subject, body, never_reply, updated_at)"
    " SELECT $1, $2, coalesce($3::int, 0), v.starts, v.ends, coalesce($6, ''),"
    "  coalesce($7, ''), coalesce($8::text[], '{}'), now() FROM v"
    " ON CONFLICT (account_id) DO UPDATE SET mode = EXCLUDED.mode,"
    "  interval_days = CASE WHEN $3 IS NULL THEN r.interval_days"
    "   ELSE EXCLUDED.interval_days END,"
    "  starts_at = CASE WHEN $4 IS NULL THEN r.starts_at ELSE EXCLUDED.starts_at END,"
    "  ends_at = CASE WHEN $5 IS NULL THEN r.ends_at ELSE EXCLUDED.ends_at END,"
    "  subject = CASE WHEN $6 IS NULL THEN r.subject ELSE EXCLUDED.subject END,"
    "  body = CASE WHEN $7 IS NULL THEN r.body ELSE EXCLUDED.body END,"
    "  never_reply = CASE WHEN $8 IS NULL THEN r.never_reply ELSE EXCLUDED.never_reply END,"
    "  updated_at = now()"
    " RETURNING r.mode, r.interval_days, r.starts_at IS NULL OR r.ends_at IS NULL"
    "  OR r.ends_at >= r.starts_at";

int
admin_responder_set(PGconn *conn, const char *address, const struct admin_responder_changes *c,
                    const char **error_r)
{
	char id[24], *never = NULL;
	const char *params[8];
	PGresult *res;

	if (c->mode == NULL || (strcmp(c->mode, "off") != 0 && strcmp(c->mode, "always") != 0 &&
	                        strcmp(c->mode, "once") != 0 && strcmp(c->mode, "interval") != 0))
		return admin_fail(error_r, "the mode is one of off, always, once, interval");
	if (admin_run(conn, "BEGIN", 0, NULL, error_r) < 0)
		return -1;
	if (account_find(conn, address, true, id, NULL, error_r) < 0)
		return admin_rollback(conn);
	if (c->never != NULL)
		never = text_array((const char *const *)c->never->items, c->never->count);
	params[0] = id;
	params[1] = c->mode;
	params[2] = c->interval_days;
	params[3] = c->starts;
	params[4] = c->ends;
	params[5] = c->subject;
	params[6] = c->body;
	params[7] = never;
	res = admin_exec(conn, responder_set_sql, 8, params, error_r);
	free(never);
	if (res == NULL) {
		admin_rollback(conn);
		if (strstr(*error_r, "check constraint") != NULL)
			return admin_fail(error_r,
			                  "interval mode needs --days of at least 1, and the "
			                  "end may not be before the start");
		if (strstr(*error_r, "date/time") != NULL ||
		    strstr(*error_r, "timestamp") != NULL || strstr(*error_r, "date") != NULL)
			return admin_fail(error_r,
			                  "bad date (expected YYYY-MM-DD or YYYY-MM-DD HH:MM)");
		return -1;
	}
	PQclear(res);
	/* New settings: whom the old ones answered no longer counts. */
	params[0] = id;
	if (admin_run(conn, "DELETE FROM responder_log WHERE account_id = $1", 1, params, error_r) <
	    0)
		return admin_rollback(conn);
	return admin_run(conn, "COMMIT", 0, NULL, error_r);
}

int
admin_responder_get(PGconn *conn, const char *address, struct admin_responder *resp_r,
                    const char **error_r)
{
	char id[24];
	const char *params[1] = {id};
	PGresult *res;

	memset(resp_r, 0, sizeof(*resp_r));
	if (account_find(conn, address, false, id, &resp_r->address, error_r) < 0)
		return -1;
	res =
	    admin_exec(conn,
	               "SELECT r.mode, r.interval_days,"
	               " to_char(r.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	               " to_char(r.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	               " r.subject, r.body, array_to_string(r.never_reply, chr(10)),"
	               " (SELECT count(*) FROM responder_log l WHERE l.account_id = r.account_id)"
	               " FROM responders r WHERE r.account_id = $1",
	               1, params, error_r);
	if (res == NULL) {
		admin_responder_free(resp_r);
		return -1;
	}
	if (PQntuples(res) == 1) {
		resp_r->mode = xstrdup(PQgetvalue(res, 0, 0));
		resp_r->interval_days = (unsigned)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
		resp_r->starts = admin_opt(res, 0, 2);
		resp_r->ends = admin_opt(res, 0, 3);
		resp_r->subject = xstrdup(PQgetvalue(res, 0, 4));
		resp_r->body = xstrdup(PQgetvalue(res, 0, 5));
		split_lines(PQgetvalue(res, 0, 6), &resp_r->never);
		resp_r->answered = strtoul(PQgetvalue(res, 0, 7), NULL, 10);
	} else {
		resp_r->mode = xstrdup("off");
		resp_r->subject = xstrdup("");
		resp_r->body = xstrdup("");
	}
	PQclear(res);
	return 0;
}

void
admin_responder_free(struct admin_responder *resp)
{
	free(resp->address);
	free(resp->mode);
	free(resp->starts);
	free(resp->ends);
	free(resp->subject);
	free(resp->body);
	admin_strings_free(&resp->never);
	memset(resp, 0, sizeof(*resp));
}

/* --- Send-as --- */

int
admin_send_as_add(PGconn *conn, const char *account, const char *address, const char **error_r)
{
	char id[24];
	const char *params[2] = {id, address};

	if (admin_run(conn, "BEGIN", 0, NULL, error_r) < 0)
		return -1;
	if (account_find(conn, account, true, id, NULL, error_r) < 0 ||
	    admin_run(conn,
	              "INSERT INTO send_as (account_id, address) VALUES ($1, $2)"
	              " ON CONFLICT (account_id, address) DO NOTHING",
	              2, params, error_r) < 0)
		return admin_rollback(conn);
	return admin_run(conn, "COMMIT", 0, NULL, error_r);
}

int
admin_send_as_remove(PGconn *conn, const char *account, const char *address, const char **error_r)
{
	char id[24];
	const char *params[2] = {id, address};
	PGresult *res;
	bool gone;

	if (admin_run(conn, "BEGIN", 0, NULL, error_r) < 0)
		return -1;
	if (account_find(conn, account, true, id, NULL, error_r) < 0)
		return admin_rollback(conn);
	res = admin_exec(conn, "DELETE FROM send_as WHERE account_id = $1 AND address = $2", 2,
	                 params, error_r);
	if (res == NULL)
		return admin_rollback(conn);
	gone = strcmp(PQcmdTuples(res), "0") != 0;
	PQclear(res);
	if (!gone) {
		admin_rollback(conn);
		return admin_fail(error_r, "%s may not send as %s", account, address);
	}
	return admin_run(conn, "COMMIT", 0, NULL, error_r);
}

int
admin_send_as_list(PGconn *conn, const char *account, struct admin_strings *list_r,
                   const char **error_r)
{
	char id[24];
	const char *params[1] = {id};
	PGresult *res;

	memset(list_r, 0, sizeof(*list_r));
	if (account_find(conn, account, false, id, NULL, error_r) < 0)
		return -1;
	res = admin_exec(conn, "SELECT address FROM send_as WHERE account_id = $1 ORDER BY address",
	                 1, params, error_r);
	if (res == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		list_r->items = xreallocarray(list_r->items, list_r->count + 1, sizeof(char *));
		list_r->items[list_r->count++] = xstrdup(PQgetvalue(res, r, 0));
	}
	PQclear(res);
	return 0;
}
