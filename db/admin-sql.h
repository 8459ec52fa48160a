/* Shared helpers of the admin_* modules (floectl's blocking libpq side of
 * the store; never used by a worker): errors as one readable line in a
 * static buffer (valid until the next admin_* call), statements that turn
 * database errors into such a line, transactions, result values. */
#ifndef FLOE_ADMIN_SQL_H
#define FLOE_ADMIN_SQL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

/* A timestamptz column as UTC text, 2026-11-22T03:04:05Z. */
#define ADMIN_SQL_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Sets *error_r to the formatted message (line breaks and tabs folded to
 * spaces) and returns -1. */
int admin_fail(const char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Input quoted in a message: control characters replaced, at most about
 * 90 bytes; two calls may be used in one message. */
const char *admin_quote(const char *text);
/* Folds a multi-line text into one line in place. */
void admin_one_line(char *text);
/* A failed statement's result (or NULL) as *error_r: a unique or foreign
 * key violation as a short explanation, anything else "database error:
 * ...". Returns -1. */
int admin_db_error(PGconn *conn, const PGresult *res, const char **error_r);
/* Runs one statement. Returns the result (the caller clears it), or NULL
 * with *error_r set. */
PGresult *admin_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
                     const char **error_r);
/* The same with results in text (format 0) or binary (1) form. */
PGresult *admin_exec_format(PGconn *conn, const char *sql, int nparams, const char *const *params,
                            int format, const char **error_r);
/* The same for a statement whose rows do not matter: 0 or -1. */
int admin_run(PGconn *conn, const char *sql, int nparams, const char *const *params,
              const char **error_r);
int admin_begin(PGconn *conn, const char **error_r);
int admin_commit(PGconn *conn, const char **error_r);
/* Leaves the transaction after a failure; the error already reported
 * stays the one the caller sees. Returns -1. */
int admin_rollback(PGconn *conn);
/* Result values: a copy of the text (admin_opt: NULL for SQL NULL), an
 * integer, a boolean. */
char *admin_opt(const PGresult *res, int row, int col);
char *admin_value(const PGresult *res, int row, int col);
int64_t admin_int(const PGresult *res, int row, int col);
bool admin_bool(const PGresult *res, int row, int col);
void admin_id_text(int64_t id, char buf[24]);

#endif
