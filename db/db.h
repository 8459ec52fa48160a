/* Asynchronous PostgreSQL access for workers: a small pool of non-blocking
 * libpq connections driven by the worker's libevent loop.
 *
 * Queries never block the loop. Each query has a timeout; when the database
 * is down, queries fail at once with a clear error instead of waiting, and
 * the pool keeps reconnecting with back-off in the background. */
#ifndef FLOE_DB_H
#define FLOE_DB_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct db;
struct db_query;
struct db_txn;
struct db_result;

struct db_settings {
	const char *conninfo;        /* libpq connection string or URL */
	unsigned pool_size;          /* connections per worker */
	unsigned query_timeout_ms;   /* default per-query timeout */
	unsigned connect_timeout_ms; /* a connection attempt taking longer fails */
};

/* Result callback. res is valid only during the call. */
typedef void db_callback_fn(const struct db_result *res, void *ctx);

/* Creates the pool and starts connecting. settings is copied. */
struct db *db_create(struct event_base *base, const struct db_settings *settings);
/* Fails every pending query (callbacks run with "shutting down") and frees.
 * Not from inside one of the pool's callbacks. */
void db_destroy(struct db **db);
/* True when at least one connection is established. */
bool db_is_up(const struct db *db);

/* Runs sql with text parameters ($1..$n, NULL for SQL NULL). cb is called
 * exactly once, from the event loop (never from inside db_query), unless the
 * query is abandoned first. The returned handle stays valid until the
 * callback has run or db_query_abandon. */
struct db_query *db_query(struct db *db, const char *sql, int nparams, const char *const *params,
			  db_callback_fn *cb, void *ctx);
/* Like db_query with an explicit timeout (0 = the default). */
struct db_query *db_query_timeout(struct db *db, const char *sql, int nparams,
				  const char *const *params, unsigned timeout_ms,
				  db_callback_fn *cb, void *ctx);
/* The caller no longer wants the answer (e.g. its client went away): the
 * callback will not be called. Sets *query to NULL; accepts NULL. */
void db_query_abandon(struct db_query **query);

/* Transactions reserve one connection from BEGIN to COMMIT/ROLLBACK.
 * ready(txn, NULL, ctx) is called once BEGIN succeeded, or ready(NULL,
 * error, ctx) if no transaction could be started. */
typedef void db_txn_ready_fn(struct db_txn *txn, const char *error, void *ctx);
void db_txn_begin(struct db *db, db_txn_ready_fn *ready, void *ctx);
/* Queries inside the transaction run in order. After a failed query every
 * later one fails too, and commit reports the failure (rolls back). */
struct db_query *db_txn_query(struct db_txn *txn, const char *sql, int nparams,
			      const char *const *params, db_callback_fn *cb, void *ctx);
/* Commits; cb gets the COMMIT result (an error if anything failed, in which
 * case nothing was written). Frees the transaction and sets *txn to NULL. */
void db_txn_commit(struct db_txn **txn, db_callback_fn *cb, void *ctx);
/* Rolls back and frees; sets *txn to NULL. */
void db_txn_rollback(struct db_txn **txn);

/* --- Results --- */
bool db_result_ok(const struct db_result *res);
/* A one-line error message ("database unavailable", "query timed out after
 * 5000 ms", or PostgreSQL's message), or NULL when ok. */
const char *db_result_error(const struct db_result *res);
/* The SQLSTATE of a server error, or NULL. */
const char *db_result_sqlstate(const struct db_result *res);
int db_result_rows(const struct db_result *res);
int db_result_columns(const struct db_result *res);
/* Text value; "" for NULL (check db_result_isnull). */
const char *db_result_value(const struct db_result *res, int row, int col);
bool db_result_isnull(const struct db_result *res, int row, int col);
/* Number of rows affected by INSERT/UPDATE/DELETE. */
unsigned long db_result_affected(const struct db_result *res);

#endif
