/* The blocking-SQL helpers every admin_* module (floectl's side of the
 * store) shares: one-line error messages, statements, transactions and
 * result values. */
#include "admin-sql.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static char admin_error_buf[1024];

int
admin_fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(admin_error_buf, sizeof(admin_error_buf), fmt, ap);
	va_end(ap);
	for (char *p = admin_error_buf; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	}
	*error_r = admin_error_buf;
	return -1;
}

/* Input quoted in an error message: control characters replaced and
 * length bounded so a message stays one readable line. */
const char *
admin_quote(const char *text)
{
	static char bufs[2][96];
	static unsigned next;
	char *buf = bufs[next++ % 2];
	size_t i, n = 0;

	for (i = 0; text[i] != '\0' && n < sizeof(bufs[0]) - 4; i++)
		buf[n++] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
	if (text[i] != '\0') {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* Folds a multi-line libpq message into one line. */
void
admin_one_line(char *text)
{
	char *in = text, *out = text;
	bool space = false;

	while (*in == ' ' || *in == '\n' || *in == '\t')
		in++;
	for (; *in != '\0'; in++) {
		if (*in == '\n' || *in == '\t' || *in == '\r' || *in == ' ') {
			space = true;
			continue;
		}
		if (space)
			*out++ = ' ';
		space = false;
		*out++ = *in;
	}
	*out = '\0';
}

int
admin_db_error(PGconn *conn, const PGresult *res, const char **error_r)
{
	const char *state = NULL, *primary = NULL, *constraint = NULL;

	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	}
	if (PQstatus(conn) == CONNECTION_BAD || primary == NULL) {
		admin_fail(error_r, "database error: %s", PQerrorMessage(conn));
		admin_one_line(admin_error_buf + strlen("database error: "));
		return -1;
	}
	/* Uniqueness is normally checked first with a clear message; these
	 * cover a concurrent writer getting there in between. */
	if (state != NULL && strcmp(state, "23505") == 0) {
		if (constraint != NULL && strcmp(constraint, "domains_name_key") == 0)
			return admin_fail(error_r, "domain already exists");
		if (constraint != NULL &&
		    strcmp(constraint, "accounts_domain_id_local_part_key") == 0)
			return admin_fail(error_r, "account already exists");
		if (constraint != NULL && strcmp(constraint, "aliases_pkey") == 0)
			return admin_fail(error_r, "alias already exists");
		return admin_fail(error_r, "%s", primary);
	}
	/* Floe's own SQL functions raise SQLSTATE FLnnn with a message meant
	 * for the user ("no such folder", "over quota"...). */
	if (state != NULL && strncmp(state, "FL", 2) == 0)
		return admin_fail(error_r, "%s", primary);
	if (state != NULL && strcmp(state, "23503") == 0)
		return admin_fail(error_r, "changed concurrently, try again (%s)", primary);
	admin_fail(error_r, "database error: %s", primary);
	admin_one_line(admin_error_buf);
	return -1;
}

/* Runs one statement. Returns the result (the caller clears it), or NULL
 * with *error_r set. */
PGresult *
admin_exec_format(PGconn *conn, const char *sql, int nparams, const char *const *params, int format,
                  const char **error_r)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, format);
	ExecStatusType status = PQresultStatus(res);

	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
		return res;
	admin_db_error(conn, res, error_r);
	PQclear(res);
	return NULL;
}

PGresult *
admin_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
           const char **error_r)
{
	return admin_exec_format(conn, sql, nparams, params, 0, error_r);
}

int
admin_run(PGconn *conn, const char *sql, int nparams, const char *const *params,
          const char **error_r)
{
	PGresult *res = admin_exec(conn, sql, nparams, params, error_r);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
admin_begin(PGconn *conn, const char **error_r)
{
	return admin_run(conn, "BEGIN", 0, NULL, error_r);
}

int
admin_commit(PGconn *conn, const char **error_r)
{
	return admin_run(conn, "COMMIT", 0, NULL, error_r);
}

/* Leaves the transaction after a failure; the error already reported
 * stays the one the caller sees. */
int
admin_rollback(PGconn *conn)
{
	PQclear(PQexec(conn, "ROLLBACK"));
	return -1;
}

char *
admin_opt(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

char *
admin_value(const PGresult *res, int row, int col)
{
	return xstrdup(PQgetvalue(res, row, col));
}

int64_t
admin_int(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

bool
admin_bool(const PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

void
admin_id_text(int64_t id, char buf[24])
{
	snprintf(buf, 24, "%" PRId64, id);
}
