/* Schema migrations: applies the numbered SQL files compiled into the binary
 * (db/migrations.c) in order, each in its own transaction, while holding a
 * session advisory lock so that nodes starting together do not race.
 * Blocking libpq: used at start-up and by floectl only. */
#include "migrate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* pg_advisory_lock key: the bytes of "FloeMigr" as a signed 64-bit number. */
#define MIGRATE_LOCK_KEY "5074553361020839794"

static char migrate_error[1024];

static void __attribute__((format(printf, 1, 2))) set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(migrate_error, sizeof(migrate_error), fmt, ap);
	va_end(ap);
}

/* PostgreSQL's message for a failed result or connection, on one line. */
static const char *
pg_message(PGconn *conn, const PGresult *res, char *buf, size_t size)
{
	const char *msg = NULL;
	size_t len;

	if (res != NULL)
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL && res != NULL && *PQresultErrorMessage(res) != '\0')
		msg = PQresultErrorMessage(res);
	if (msg == NULL)
		msg = PQerrorMessage(conn);
	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	len = strcspn(msg, "\n");
	if (len >= size)
		len = size - 1;
	memcpy(buf, msg, len);
	buf[len] = '\0';
	return buf;
}

/* Runs sql; returns 0 when it succeeded, else -1 with the message in buf. */
static int
exec_ok(PGconn *conn, const char *sql, PGresult **res_r, char *buf, size_t size)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType status = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
		pg_message(conn, res, buf, size);
		PQclear(res);
		return -1;
	}
	if (res_r != NULL)
		*res_r = res;
	else
		PQclear(res);
	return 0;
}

/* Where in the migration text a failing statement began ("line 12"). */
static void
error_position(const char *sql, const PGresult *res, char *buf, size_t size)
{
	const char *pos = res != NULL ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
	long offset, line = 1;

	buf[0] = '\0';
	if (pos == NULL)
		return;
	offset = strtol(pos, NULL, 10);
	for (long i = 0; i < offset - 1 && sql[i] != '\0'; i++) {
		if (sql[i] == '\n')
			line++;
	}
	snprintf(buf, size, " (line %ld)", line);
}

int
db_migrations_latest(void)
{
	int latest = 0;

	for (const struct db_migration *m = db_migrations; m->name != NULL; m++) {
		if (m->version > latest)
			latest = m->version;
	}
	return latest;
}

static int
apply_one(PGconn *conn, const struct db_migration *m)
{
	char msg[512], where[32], version[16];
	const char *params[2];
	PGresult *res;

	if (exec_ok(conn, "BEGIN", NULL, msg, sizeof(msg)) < 0) {
		set_error("migration %s: cannot begin a transaction: %s", m->name, msg);
		return -1;
	}
	/* The simple query protocol runs every statement of the file inside
	 * the transaction and stops at the first error. */
	res = PQexec(conn, m->sql);
	if (res == NULL || PQresultStatus(res) == PGRES_FATAL_ERROR ||
	    PQresultStatus(res) == PGRES_BAD_RESPONSE ||
	    PQresultStatus(res) == PGRES_NONFATAL_ERROR) {
		pg_message(conn, res, msg, sizeof(msg));
		error_position(m->sql, res, where, sizeof(where));
		PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		set_error("migration %s failed%s: %s", m->name, where, msg);
		return -1;
	}
	PQclear(res);

	snprintf(version, sizeof(version), "%d", m->version);
	params[0] = version;
	params[1] = m->name;
	res = PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2,
	                   NULL, params, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_message(conn, res, msg, sizeof(msg));
		PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		set_error("migration %s: cannot record it: %s", m->name, msg);
		return -1;
	}
	PQclear(res);

	if (exec_ok(conn, "COMMIT", NULL, msg, sizeof(msg)) < 0) {
		PQclear(PQexec(conn, "ROLLBACK"));
		set_error("migration %s: commit failed: %s", m->name, msg);
		return -1;
	}
	log_info("db: applied migration %s", m->name);
	return 0;
}

/* Everything between taking and releasing the lock. */
static int
migrate_locked(PGconn *conn)
{
	char msg[512];
	PGresult *res;
	int current, latest = db_migrations_latest(), prev = 0, applied = 0;

	for (const struct db_migration *m = db_migrations; m->name != NULL; m++) {
		if (m->version <= prev) {
			set_error("migration %s is out of order (version %d after %d)", m->name,
			          m->version, prev);
			return -1;
		}
		prev = m->version;
	}

	if (exec_ok(conn,
	            "CREATE TABLE IF NOT EXISTS schema_migrations ("
	            " version integer PRIMARY KEY,"
	            " name text NOT NULL,"
	            " applied_at timestamptz NOT NULL DEFAULT now())",
	            NULL, msg, sizeof(msg)) < 0) {
		set_error("cannot create schema_migrations: %s", msg);
		return -1;
	}
	if (exec_ok(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations", &res, msg,
	            sizeof(msg)) < 0) {
		set_error("cannot read the schema version: %s", msg);
		return -1;
	}
	current = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);

	if (current > latest) {
		set_error("database schema version %d is newer than this floed (%d)", current,
		          latest);
		return -1;
	}
	for (const struct db_migration *m = db_migrations; m->name != NULL; m++) {
		if (m->version <= current)
			continue;
		if (apply_one(conn, m) < 0)
			return -1;
		applied++;
	}
	return applied;
}

int
db_migrate(PGconn *conn, const char **error_r)
{
	char msg[512];
	int ret;

	migrate_error[0] = '\0';
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		set_error("cannot migrate: not connected to the database%s%s",
		          conn != NULL ? ": " : "",
		          conn != NULL ? pg_message(conn, NULL, msg, sizeof(msg)) : "");
		*error_r = migrate_error;
		return -1;
	}
	/* Quiet the NOTICEs of CREATE ... IF NOT EXISTS. */
	PQclear(PQexec(conn, "SET client_min_messages = warning"));

	if (exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", NULL, msg, sizeof(msg)) <
	    0) {
		set_error("cannot take the migration lock: %s", msg);
		*error_r = migrate_error;
		return -1;
	}
	ret = migrate_locked(conn);
	if (exec_ok(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", NULL, msg,
	            sizeof(msg)) < 0 &&
	    ret >= 0) {
		set_error("cannot release the migration lock: %s", msg);
		ret = -1;
	}
	PQclear(PQexec(conn, "RESET client_min_messages"));
	if (ret < 0)
		*error_r = migrate_error;
	return ret;
}
