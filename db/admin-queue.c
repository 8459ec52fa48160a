/* floectl's view of the outgoing queue and of the submission settings
 * (see admin-queue.h): plain blocking libpq statements, each its own
 * transaction. */
#include "admin-queue.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-queue.h"
#include "admin-sql.h"
#include "xmalloc.h"

/* Message columns 0..5, recipient columns 6..11. */
static const char aq_select[] =
    "SELECT q.id, coalesce(floe_account_address(q.account_id), ''), q.mail_from, "
    "q.size, " ADMIN_SQL_UTC(
        "q.created_at") ", length(q.data), "
                        "r.recipient, r.state, r.attempts, " ADMIN_SQL_UTC(
                            "r.next_try_at") ", coalesce(r.last_error, ''), "
                                             "coalesce(r.leased_by, '') "
                                             "FROM queue_messages q JOIN queue_recipients r ON "
                                             "r.message_id = q.id ";

static void
aq_rows(const PGresult *res, struct admin_queue_message **items_r, size_t *count_r)
{
	int rows = PQntuples(res);
	struct admin_queue_message *items = xcalloc((size_t)rows + 1, sizeof(*items));
	size_t count = 0;

	for (int i = 0; i < rows; i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		struct admin_queue_message *m;
		struct admin_queue_rcpt *r;

		if (count == 0 || items[count - 1].id != id) {
			m = &items[count++];
			m->id = id;
			m->account = admin_value(res, i, 1);
			m->mail_from = admin_value(res, i, 2);
			m->size = strtoll(PQgetvalue(res, i, 3), NULL, 10);
			m->created = admin_value(res, i, 4);
		}
		m = &items[count - 1];
		m->rcpts = xreallocarray(m->rcpts, m->nrcpts + 1, sizeof(*m->rcpts));
		r = &m->rcpts[m->nrcpts++];
		r->recipient = admin_value(res, i, 6);
		r->state = admin_value(res, i, 7);
		r->attempts = atoi(PQgetvalue(res, i, 8));
		r->next_try = admin_value(res, i, 9);
		r->last_error = admin_value(res, i, 10);
		r->leased_by = admin_value(res, i, 11);
	}
	*items_r = items;
	*count_r = count;
}

int
admin_queue_list(PGconn *conn, struct admin_queue_list *list_r, const char **error_r)
{
	char sql[sizeof(aq_select) + 64];
	PGresult *res;

	list_r->items = NULL;
	list_r->count = 0;
	snprintf(sql, sizeof(sql), "%sORDER BY q.id, r.recipient", aq_select);
	if ((res = admin_exec(conn, sql, 0, NULL, error_r)) == NULL)
		return -1;
	aq_rows(res, &list_r->items, &list_r->count);
	PQclear(res);
	return 0;
}

void
admin_queue_message_clear(struct admin_queue_message *msg)
{
	for (size_t i = 0; i < msg->nrcpts; i++) {
		free(msg->rcpts[i].recipient);
		free(msg->rcpts[i].state);
		free(msg->rcpts[i].next_try);
		free(msg->rcpts[i].last_error);
		free(msg->rcpts[i].leased_by);
	}
	free(msg->rcpts);
	free(msg->account);
	free(msg->mail_from);
	free(msg->created);
	free(msg->headers);
	memset(msg, 0, sizeof(*msg));
}

void
admin_queue_list_free(struct admin_queue_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		admin_queue_message_clear(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

/* The header section of a message: up to the first empty line. */
static char *
aq_headers(const unsigned char *data, size_t len)
{
	size_t end = len;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' &&
		    (i + 1 == len || data[i + 1] == '\n' ||
		     (data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n'))) {
			end = i + 1;
			break;
		}
	}
	return xstrndup((const char *)data, end);
}

int
admin_queue_show(PGconn *conn, int64_t id, struct admin_queue_message *msg_r, const char **error_r)
{
	char sql[sizeof(aq_select) + 64], idtext[24];
	const char *params[1] = {idtext};
	struct admin_queue_message *items;
	size_t count;
	PGresult *res;
	unsigned char *data;
	size_t len;

	memset(msg_r, 0, sizeof(*msg_r));
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	snprintf(sql, sizeof(sql), "%sWHERE q.id = $1 ORDER BY r.recipient", aq_select);
	if ((res = admin_exec(conn, sql, 1, params, error_r)) == NULL)
		return -1;
	aq_rows(res, &items, &count);
	PQclear(res);
	if (count == 0) {
		free(items);
		return admin_fail(error_r, "no queued message %" PRId64, id);
	}
	*msg_r = items[0];
	free(items);
	/* The header section only: at most the first 64 KiB. */
	res = admin_exec(
	    conn, "SELECT substring(data FROM 1 FOR 65536) FROM queue_messages WHERE id = $1", 1,
	    params, error_r);
	if (res == NULL) {
		admin_queue_message_clear(msg_r);
		return -1;
	}
	if (PQntuples(res) == 1 &&
	    store_queue_bytea_decode(PQgetvalue(res, 0, 0), &data, &len) == 0) {
		msg_r->headers = aq_headers(data, len);
		free(data);
	} else {
		msg_r->headers = xstrdup("");
	}
	PQclear(res);
	return 0;
}

int
admin_queue_retry(PGconn *conn, int64_t id, unsigned long *count_r, const char **error_r)
{
	char idtext[24];
	const char *params[1] = {idtext};
	PGresult *res;

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	res = admin_exec(
	    conn,
	    "WITH u AS (UPDATE queue_recipients SET next_try_at = now(), updated_at = now()"
	    " WHERE state IN ('queued', 'deferred', 'bounce_pending')"
	    " AND ($1::bigint = 0 OR message_id = $1)"
	    " RETURNING 1), n AS (SELECT pg_notify('floe_queue', $1::text))"
	    " SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM n)",
	    1, params, error_r);
	if (res == NULL)
		return -1;
	*count_r = strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (id != 0 && *count_r == 0) {
		res = admin_exec(conn, "SELECT 1 FROM queue_messages WHERE id = $1", 1, params,
		                 error_r);
		if (res == NULL)
			return -1;
		if (PQntuples(res) == 0) {
			PQclear(res);
			return admin_fail(error_r, "no queued message %" PRId64, id);
		}
		PQclear(res);
		return admin_fail(error_r,
		                  "message %" PRId64 " has no recipient waiting for a retry", id);
	}
	return 0;
}

int
admin_queue_remove(PGconn *conn, int64_t id, const char **error_r)
{
	char idtext[24];
	const char *params[1] = {idtext};
	PGresult *res;
	int ret = 0;

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	res = admin_exec(conn, "DELETE FROM queue_messages WHERE id = $1", 1, params, error_r);
	if (res == NULL)
		return -1;
	if (strcmp(PQcmdTuples(res), "0") == 0)
		ret = admin_fail(error_r, "no queued message %" PRId64, id);
	PQclear(res);
	return ret;
}

static int
aq_account(PGconn *conn, const char *address, char id_r[24], const char **error_r)
{
	const char *params[1] = {address};
	PGresult *res = admin_exec(conn,
	                           "SELECT r_id FROM floe_account_by_address($1)"
	                           " WHERE r_id IS NOT NULL AND r_kind <> 'group'",
	                           1, params, error_r);

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return admin_fail(error_r, "unknown account %s", address);
	}
	snprintf(id_r, 24, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
admin_smtp_save_sent_get(PGconn *conn, const char *address, bool *value_r, const char **error_r)
{
	char id[24];
	const char *params[1] = {id};
	PGresult *res;

	if (aq_account(conn, address, id, error_r) < 0)
		return -1;
	res = admin_exec(conn, "SELECT save_to_sent FROM smtp_settings WHERE account_id = $1", 1,
	                 params, error_r);
	if (res == NULL)
		return -1;
	*value_r = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

int
admin_smtp_save_sent_set(PGconn *conn, const char *address, bool value, const char **error_r)
{
	char id[24];
	const char *params[2] = {id, value ? "true" : "false"};
	PGresult *res;

	if (aq_account(conn, address, id, error_r) < 0)
		return -1;
	res = admin_exec(
	    conn,
	    "INSERT INTO smtp_settings (account_id, save_to_sent) VALUES ($1, $2)"
	    " ON CONFLICT (account_id) DO UPDATE SET save_to_sent = excluded.save_to_sent",
	    2, params, error_r);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}
