/* The asynchronous PostgreSQL pool: a few non-blocking libpq connections per
 * worker, each a small state machine (down, connecting, ready) driven by
 * socket readiness on the worker's libevent loop, a FIFO of queries waiting
 * for an idle connection, per-query client-side timeouts, and transactions
 * that reserve one connection from BEGIN to COMMIT/ROLLBACK. Statements a
 * connection runs repeatedly are prepared on it (named, per connection),
 * so that PostgreSQL parses them once instead of at every call. */
#include "db.h"
#include "pg-socket.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "log.h"
#include "xmalloc.h"

#define DB_BACKOFF_MIN_MS 100
#define DB_BACKOFF_MAX_MS 10000
/* A connection that dies sooner than this after it was established counts as
 * a failed attempt, so that a server which accepts and drops connections is
 * not hammered in a tight loop. */
#define DB_STABLE_MS 1000
#define DB_ERROR_MAX 512
/* Named statements per connection; past this, statements run unnamed. */
#define DB_STMT_MAX 256
/* Hashes of statements a connection has run once (a power of two): a
 * statement is prepared on its second run, so one-off SQL costs no
 * extra round trip and no slot. */
#define DB_STMT_SEEN 1024

enum conn_state {
	CONN_DOWN,       /* waiting for the reconnect timer */
	CONN_CONNECTING, /* PQconnectPoll in progress */
	CONN_SETUP,      /* connected, setting statement_timeout */
	CONN_READY,      /* usable */
};

enum conn_job {
	JOB_NONE,
	JOB_SETUP,       /* SET statement_timeout after connecting */
	JOB_SET_TIMEOUT, /* SET statement_timeout before a query with another timeout */
	JOB_PREPARE,     /* preparing conn->current's SQL as a named statement */
	JOB_QUERY,       /* conn->current's SQL */
};

/* A statement prepared on a connection, named "floe_<id>". */
struct db_stmt {
	char *sql;
	uint32_t hash;
	unsigned id;
};

enum query_kind {
	QUERY_PLAIN,
	QUERY_BEGIN,
	QUERY_TXN,
	QUERY_COMMIT,
	QUERY_ROLLBACK,
};

enum query_where {
	WHERE_NONE,
	WHERE_DB_QUEUE,  /* waiting for an idle connection */
	WHERE_TXN_QUEUE, /* waiting for its transaction's connection */
	WHERE_DEFERRED,  /* failing from a zero-timeout event */
	WHERE_RUNNING,   /* sent on q->conn */
};

struct db_result {
	const PGresult *pg;
	const char *error; /* NULL when ok */
	const char *sqlstate;
	char buf[DB_ERROR_MAX];
};

TAILQ_HEAD(db_query_list, db_query);

struct db_query {
	struct db *db;
	struct db_txn *txn;
	enum query_kind kind;
	enum query_where where;
	char *sql;
	int nparams;
	char **params;
	unsigned timeout_ms; /* 0: none */
	db_callback_fn *cb;
	void *ctx;
	/* The timeout, or (WHERE_DEFERRED) the zero-timeout failure. */
	struct event *timer;
	struct db_conn *conn;
	char *fail_error;
	char *fail_sqlstate;
	bool abandoned;
	bool completing; /* its callback is running */
	TAILQ_ENTRY(db_query) entry;
};

struct db_txn {
	struct db *db;
	struct db_conn *conn; /* NULL once the connection is gone */
	db_txn_ready_fn *ready;
	void *ready_ctx;
	struct db_query_list queue;
	bool failed;
	char *error;
	char *sqlstate;
	LIST_ENTRY(db_txn) entry;
};

struct db_conn {
	struct db *db;
	unsigned id;
	enum conn_state state;
	PGconn *pg;
	struct pg_socket io;
	/* Connect timeout, reconnect delay, or (ready) a deferred loss. */
	struct event *timer;
	enum conn_job job;
	struct db_query *current;
	struct db_txn *txn;
	PGresult *result; /* collected for the current job */
	unsigned stmt_timeout_ms;
	unsigned backoff_ms;
	uint64_t connected_at_ms;
	bool want_write;
	char *lost_reason; /* set when the loss is handled from the timer */
	char *fatal;       /* last FATAL message the server sent */

	/* Prepared statements of this session (gone with it). */
	struct db_stmt *stmts;
	size_t nstmts;
	unsigned next_stmt_id;
	uint32_t seen[DB_STMT_SEEN];   /* 0: empty */
	const struct db_stmt *running; /* the statement of the JOB_QUERY, or NULL */
};

struct db {
	struct event_base *base;
	struct db_settings settings;
	char *conninfo;
	struct db_conn *conns;
	unsigned up_count;
	struct db_query_list queue;
	struct db_query_list deferred;
	LIST_HEAD(, db_txn) txns;
	bool down; /* nothing is connected and the last attempt failed */
	bool ever_up;
	bool destroying;
	unsigned callback_depth; /* callbacks running now */
	char *down_reason;
};

static void conn_connect(struct db_conn *conn);
static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void conn_lost(struct db_conn *conn, const char *reason);
static void db_pump(struct db *db);
static void txn_pump(struct db_txn *txn);
static void txn_drain(struct db_txn *txn);
static void txn_free(struct db_txn *txn);
static void query_finish(struct db_query *q, const struct db_result *res);

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timeval
ms_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	return tv;
}

/* The first line of a libpq message, without trailing blanks. */
static char *
one_line(const char *msg)
{
	size_t len;

	if (msg == NULL || *msg == '\0')
		return xstrdup("unknown error");
	/* libpq prefixes a server's message with its severity. */
	if (strncmp(msg, "FATAL:  ", 8) == 0 || strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	len = strcspn(msg, "\n");
	while (len > 0 && (msg[len - 1] == ' ' || msg[len - 1] == '\t' || msg[len - 1] == '\r'))
		len--;
	return xstrndup(msg, len);
}

/* --- Results --- */

static bool
pg_status_ok(ExecStatusType status)
{
	return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ||
	       status == PGRES_EMPTY_QUERY;
}

static void
result_error(struct db_result *res, const char *error, const char *sqlstate)
{
	memset(res, 0, sizeof(*res));
	snprintf(res->buf, sizeof(res->buf), "%s", error);
	res->error = res->buf;
	res->sqlstate = sqlstate;
}

/* Wraps a PGresult; timeout_ms names the timeout in a statement_timeout error. */
static void
result_from_pg(struct db_result *res, const PGresult *pg, unsigned timeout_ms)
{
	const char *msg, *state;
	size_t len;

	memset(res, 0, sizeof(*res));
	res->pg = pg;
	if (pg == NULL) {
		result_error(res, "no result from the database", NULL);
		return;
	}
	if (pg_status_ok(PQresultStatus(pg)))
		return;
	state = PQresultErrorField(pg, PG_DIAG_SQLSTATE);
	msg = PQresultErrorField(pg, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL || *msg == '\0')
		msg = PQresultErrorMessage(pg);
	if (msg == NULL || *msg == '\0')
		msg = PQresStatus(PQresultStatus(pg));
	res->sqlstate = state;
	/* The server's statement_timeout and ours say the same thing. */
	if (state != NULL && strcmp(state, "57014") == 0 &&
	    strstr(msg, "statement timeout") != NULL) {
		snprintf(res->buf, sizeof(res->buf), "query timed out after %u ms", timeout_ms);
	} else {
		len = strcspn(msg, "\n");
		if (len >= sizeof(res->buf))
			len = sizeof(res->buf) - 1;
		memcpy(res->buf, msg, len);
		res->buf[len] = '\0';
	}
	res->error = res->buf;
}

bool
db_result_ok(const struct db_result *res)
{
	return res != NULL && res->error == NULL;
}

const char *
db_result_error(const struct db_result *res)
{
	return res != NULL ? res->error : "no result";
}

const char *
db_result_sqlstate(const struct db_result *res)
{
	return res != NULL ? res->sqlstate : NULL;
}

int
db_result_rows(const struct db_result *res)
{
	return res != NULL && res->pg != NULL ? PQntuples(res->pg) : 0;
}

int
db_result_columns(const struct db_result *res)
{
	return res != NULL && res->pg != NULL ? PQnfields(res->pg) : 0;
}

static bool
result_in_range(const struct db_result *res, int row, int col)
{
	return res != NULL && res->pg != NULL && row >= 0 && col >= 0 && row < PQntuples(res->pg) &&
	       col < PQnfields(res->pg);
}

const char *
db_result_value(const struct db_result *res, int row, int col)
{
	const char *value;

	if (!result_in_range(res, row, col))
		return "";
	value = PQgetvalue(res->pg, row, col);
	return value != NULL ? value : "";
}

bool
db_result_isnull(const struct db_result *res, int row, int col)
{
	if (!result_in_range(res, row, col))
		return true;
	return PQgetisnull(res->pg, row, col) != 0;
}

unsigned long
db_result_affected(const struct db_result *res)
{
	const char *n;

	if (res == NULL || res->pg == NULL)
		return 0;
	n = PQcmdTuples((PGresult *)res->pg);
	return n != NULL && *n != '\0' ? strtoul(n, NULL, 10) : 0;
}

/* --- Queries --- */

static void query_timer_cb(evutil_socket_t fd, short what, void *arg);

static struct db_query *
query_new(struct db *db, enum query_kind kind, const char *sql, int nparams,
          const char *const *params, unsigned timeout_ms, db_callback_fn *cb, void *ctx)
{
	struct db_query *q = xcalloc(1, sizeof(*q));

	q->db = db;
	q->kind = kind;
	q->sql = xstrdup(sql != NULL ? sql : "");
	if (nparams > 0 && params != NULL) {
		q->nparams = nparams;
		q->params = xcalloc((size_t)nparams, sizeof(*q->params));
		for (int i = 0; i < nparams; i++)
			q->params[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
	}
	q->timeout_ms = timeout_ms;
	q->cb = cb;
	q->ctx = ctx;
	q->timer = evtimer_new(db->base, query_timer_cb, q);
	return q;
}

static void
query_free(struct db_query *q)
{
	event_free(q->timer);
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	free(q->fail_error);
	free(q->fail_sqlstate);
	free(q);
}

/* Takes q out of whichever queue holds it. */
static void
query_unlink(struct db_query *q)
{
	switch (q->where) {
	case WHERE_DB_QUEUE:
		TAILQ_REMOVE(&q->db->queue, q, entry);
		break;
	case WHERE_TXN_QUEUE:
		TAILQ_REMOVE(&q->txn->queue, q, entry);
		break;
	case WHERE_DEFERRED:
		TAILQ_REMOVE(&q->db->deferred, q, entry);
		break;
	case WHERE_RUNNING:
	case WHERE_NONE:
		break;
	}
	q->where = WHERE_NONE;
}

/* Calls the callback (unless abandoned) and frees q. */
static void
query_deliver(struct db_query *q, const struct db_result *res)
{
	struct db *db = q->db;

	if (q->cb != NULL && !q->abandoned) {
		q->completing = true;
		db->callback_depth++;
		q->cb(res, q->ctx);
		db->callback_depth--;
	}
	query_free(q);
}

static void
query_finish_error(struct db_query *q, const char *error, const char *sqlstate)
{
	struct db_result res;

	result_error(&res, error, sqlstate);
	query_finish(q, &res);
}

/* Fails q from a zero-timeout event, so that no callback runs inside the
 * API call that created it. */
static void
query_fail_later(struct db_query *q, const char *error, const char *sqlstate)
{
	query_unlink(q);
	free(q->fail_error);
	free(q->fail_sqlstate);
	q->fail_error = xstrdup(error);
	q->fail_sqlstate = sqlstate != NULL ? xstrdup(sqlstate) : NULL;
	q->where = WHERE_DEFERRED;
	TAILQ_INSERT_TAIL(&q->db->deferred, q, entry);
	event_del(q->timer);
	event_active(q->timer, EV_TIMEOUT, 1);
}

static void
query_start_timer(struct db_query *q)
{
	struct timeval tv;

	if (q->timeout_ms == 0)
		return;
	tv = ms_tv(q->timeout_ms);
	evtimer_add(q->timer, &tv);
}

/* The connection is no longer needed by the transaction. */
static void
txn_release(struct db_txn *txn)
{
	if (txn->conn != NULL) {
		txn->conn->txn = NULL;
		txn->conn = NULL;
	}
}

static void
txn_set_failed(struct db_txn *txn, const char *error, const char *sqlstate)
{
	if (txn->failed)
		return;
	txn->failed = true;
	txn->error = xstrdup(error);
	txn->sqlstate = sqlstate != NULL ? xstrdup(sqlstate) : NULL;
}

/* Completes q with res, doing what its kind needs for its transaction. */
static void
query_finish(struct db_query *q, const struct db_result *res)
{
	struct db_txn *txn = q->txn;
	struct db_result failed;
	struct db *db;
	bool ok = db_result_ok(res);

	switch (q->kind) {
	case QUERY_PLAIN:
		query_deliver(q, res);
		break;
	case QUERY_BEGIN:
		query_free(q);
		db = txn->db;
		db->callback_depth++;
		if (ok) {
			txn->ready(txn, NULL, txn->ready_ctx);
			db->callback_depth--;
		} else {
			txn_release(txn);
			txn->ready(NULL, res->error, txn->ready_ctx);
			db->callback_depth--;
			txn_free(txn);
		}
		break;
	case QUERY_TXN:
		if (txn == NULL) {
			query_deliver(q, res);
			break;
		}
		if (!ok)
			txn_set_failed(txn, res->error, res->sqlstate);
		query_deliver(q, res);
		if (!ok)
			txn_drain(txn);
		break;
	case QUERY_COMMIT:
	case QUERY_ROLLBACK:
		txn_release(txn);
		if (txn->failed) {
			/* COMMIT was replaced by ROLLBACK: report the first error. */
			result_error(&failed, txn->error, txn->sqlstate);
			res = &failed;
		}
		query_deliver(q, res);
		txn_free(txn);
		break;
	}
}

static void
query_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_query *q = arg;
	struct db_conn *conn;
	struct db_txn *txn;
	struct db_result res;
	char msg[64];

	if (q->where == WHERE_DEFERRED) {
		query_unlink(q);
		/* q->fail_sqlstate lives until q is freed, after its callback. */
		result_error(&res, q->fail_error, q->fail_sqlstate);
		query_finish(q, &res);
		return;
	}

	snprintf(msg, sizeof(msg), "query timed out after %u ms", q->timeout_ms);
	if (q->where != WHERE_RUNNING) {
		query_unlink(q);
		if (q->kind == QUERY_TXN && q->txn != NULL)
			txn_set_failed(q->txn, msg, NULL);
		query_finish_error(q, msg, NULL);
		return;
	}

	/* PQcancel would block; drop the connection instead. The server
	 * stops the statement through statement_timeout. */
	conn = q->conn;
	txn = conn->txn;
	conn->current = NULL;
	q->conn = NULL;
	q->where = WHERE_NONE;
	log_info("db: connection %u: %s, reconnecting", conn->id, msg);
	if (txn != NULL) {
		txn_release(txn);
		txn_set_failed(txn, msg, NULL);
	}
	conn_lost(conn, NULL);
	/* For a transaction's query this also fails what waits behind it. */
	query_finish_error(q, msg, NULL);
}

/* --- Transactions --- */

static void
txn_free(struct db_txn *txn)
{
	struct db_query *q;

	txn_release(txn);
	while ((q = TAILQ_FIRST(&txn->queue)) != NULL) {
		query_unlink(q);
		query_free(q);
	}
	LIST_REMOVE(txn, entry);
	free(txn->error);
	free(txn->sqlstate);
	free(txn);
}

/* From the event loop after txn failed: fails the queries waiting in it and,
 * when its connection is gone, finishes a queued COMMIT/ROLLBACK (which
 * frees txn). */
static void
txn_drain(struct db_txn *txn)
{
	struct db_query *q;

	while ((q = TAILQ_FIRST(&txn->queue)) != NULL) {
		if (q->kind == QUERY_TXN) {
			query_unlink(q);
			q->txn = NULL;
			query_finish_error(q, "transaction aborted", NULL);
			continue;
		}
		if (txn->conn == NULL) {
			query_unlink(q);
			query_finish_error(q, txn->error, txn->sqlstate);
			return;
		}
		break;
	}
	txn_pump(txn);
}

/* --- Prepared statements --- */

static uint32_t
stmt_hash(const char *sql)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h != 0 ? h : 1;
}

/* Forgets the session's statements (a new session has none). */
static void
conn_stmts_clear(struct db_conn *conn)
{
	for (size_t i = 0; i < conn->nstmts; i++)
		free(conn->stmts[i].sql);
	free(conn->stmts);
	conn->stmts = NULL;
	conn->nstmts = 0;
	conn->running = NULL;
	memset(conn->seen, 0, sizeof(conn->seen));
}

static const struct db_stmt *
conn_stmt_find(const struct db_conn *conn, const char *sql, uint32_t hash)
{
	for (size_t i = 0; i < conn->nstmts; i++) {
		if (conn->stmts[i].hash == hash && strcmp(conn->stmts[i].sql, sql) == 0)
			return &conn->stmts[i];
	}
	return NULL;
}

/* True when the statement with this hash ran before on conn (it is then
 * worth preparing); remembers it otherwise. */
static bool
conn_stmt_seen(struct db_conn *conn, uint32_t hash)
{
	uint32_t *slot = &conn->seen[hash & (DB_STMT_SEEN - 1)];

	if (*slot == hash)
		return true;
	*slot = hash;
	return false;
}

static void
stmt_name(unsigned id, char *buf, size_t size)
{
	snprintf(buf, size, "floe_%u", id);
}

/* --- Connections --- */

static void conn_send(struct db_conn *conn, struct db_query *q);

static void
conn_teardown(struct db_conn *conn)
{
	pg_socket_clear(&conn->io);
	if (conn->result != NULL) {
		PQclear(conn->result);
		conn->result = NULL;
	}
	if (conn->pg != NULL) {
		PQfinish(conn->pg);
		conn->pg = NULL;
	}
	evtimer_del(conn->timer);
	conn->job = JOB_NONE;
	conn->want_write = false;
	xfree_ptr(&conn->fatal);
	xfree_ptr(&conn->lost_reason);
	conn_stmts_clear(conn);
}

/* Watches the connection's socket (which can change between attempts). */
static void
conn_watch(struct db_conn *conn, short what)
{
	pg_socket_watch(&conn->io, conn->db->base, conn->pg, what, conn_io_cb, conn);
}

static void
conn_watch_ready(struct db_conn *conn)
{
	conn_watch(conn, conn->want_write ? EV_READ | EV_WRITE : EV_READ);
}

static void
db_fail_queue(struct db *db, const char *error)
{
	struct db_query *q;

	while ((q = TAILQ_FIRST(&db->queue)) != NULL) {
		query_unlink(q);
		query_finish_error(q, error, NULL);
	}
}

/* An attempt failed and nothing is connected: the database is down. */
static void
db_set_down(struct db *db, const char *reason)
{
	char *error;

	if (!db->down)
		log_warning("db: database unavailable: %s", reason);
	db->down = true;
	free(db->down_reason);
	db->down_reason = xstrdup(reason);
	error = xasprintf("database unavailable: %s", reason);
	db_fail_queue(db, error);
	free(error);
}

static void
db_set_up(struct db *db)
{
	if (db->down)
		log_info("db: database available again");
	else if (!db->ever_up)
		log_info("db: connected");
	db->down = false;
	db->ever_up = true;
}

static void
conn_schedule(struct db_conn *conn, unsigned delay_ms)
{
	struct timeval tv = ms_tv(delay_ms);

	conn->state = CONN_DOWN;
	evtimer_add(conn->timer, &tv);
}

static unsigned
next_backoff(unsigned ms)
{
	if (ms < DB_BACKOFF_MIN_MS)
		return DB_BACKOFF_MIN_MS;
	return ms >= DB_BACKOFF_MAX_MS / 2 ? DB_BACKOFF_MAX_MS : ms * 2;
}

static void
conn_attempt_failed(struct db_conn *conn, const char *reason)
{
	struct db *db = conn->db;
	char *why = one_line(conn->fatal != NULL ? conn->fatal : reason);
	struct db_query *q = conn->current;

	conn->current = NULL;
	conn_teardown(conn);
	conn->backoff_ms = next_backoff(conn->backoff_ms);
	log_debug("db: connection %u: attempt failed: %s (next in %u ms)", conn->id, why,
	          conn->backoff_ms);
	conn_schedule(conn, conn->backoff_ms);
	/* A query never goes to a connection that is still setting up. */
	if (q != NULL)
		query_finish_error(q, why, NULL);
	if (db->up_count == 0)
		db_set_down(db, why);
	free(why);
}

static void
conn_setup_done(struct db_conn *conn)
{
	struct db *db = conn->db;

	evtimer_del(conn->timer);
	conn->state = CONN_READY;
	conn->connected_at_ms = now_ms();
	conn->stmt_timeout_ms = db->settings.query_timeout_ms;
	db->up_count++;
	log_debug("db: connection %u ready", conn->id);
	db_set_up(db);
	db_pump(db);
}

/* After a PQsend*: flushes, or arranges for the loss to be handled from
 * the loop when sent is 0. */
static void
conn_sent(struct db_conn *conn, int sent)
{
	int r;

	if (!sent) {
		/* Handled from the loop so that no callback runs inside the
		 * API call that led here. */
		free(conn->lost_reason);
		conn->lost_reason = one_line(PQerrorMessage(conn->pg));
		event_active(conn->timer, EV_TIMEOUT, 1);
		return;
	}
	r = PQflush(conn->pg);
	if (r < 0) {
		free(conn->lost_reason);
		conn->lost_reason = one_line(PQerrorMessage(conn->pg));
		event_active(conn->timer, EV_TIMEOUT, 1);
		return;
	}
	conn->want_write = r == 1;
	conn_watch_ready(conn);
}

static void
conn_send_sql(struct db_conn *conn, const char *sql, int nparams, const char *const *params)
{
	conn_sent(conn, PQsendQueryParams(conn->pg, sql, nparams, NULL, params, NULL, NULL, 0));
}

/* Sends q's SQL: as its prepared statement when conn has one, preparing
 * it first when q's SQL ran on conn before (JOB_PREPARE), else unnamed.
 * Parameter types are inferred alike either way, so results are the
 * same. */
static void
conn_send_query(struct db_conn *conn, struct db_query *q)
{
	const struct db_stmt *st = NULL;
	char name[32];
	uint32_t hash;

	conn->running = NULL;
	if (q->kind == QUERY_PLAIN || q->kind == QUERY_TXN) {
		hash = stmt_hash(q->sql);
		st = conn_stmt_find(conn, q->sql, hash);
		if (st == NULL && conn->nstmts < DB_STMT_MAX && conn_stmt_seen(conn, hash)) {
			conn->job = JOB_PREPARE;
			stmt_name(conn->next_stmt_id + 1, name, sizeof(name));
			conn_sent(conn, PQsendPrepare(conn->pg, name, q->sql, q->nparams, NULL));
			return;
		}
	}
	conn->job = JOB_QUERY;
	if (st == NULL) {
		conn_send_sql(conn, q->sql, q->nparams, (const char *const *)q->params);
		return;
	}
	conn->running = st;
	stmt_name(st->id, name, sizeof(name));
	conn_sent(conn, PQsendQueryPrepared(conn->pg, name, q->nparams,
	                                    (const char *const *)q->params, NULL, NULL, 0));
}

/* The current query's statement was prepared: remember it, run it. */
static void
conn_stmt_prepared(struct db_conn *conn, struct db_query *q)
{
	struct db_stmt *st;

	conn->stmts = xreallocarray(conn->stmts, conn->nstmts + 1, sizeof(*conn->stmts));
	st = &conn->stmts[conn->nstmts++];
	st->sql = xstrdup(q->sql);
	st->hash = stmt_hash(q->sql);
	st->id = ++conn->next_stmt_id;
	conn_send_query(conn, q);
}

static void
conn_send_set_timeout(struct db_conn *conn, unsigned ms)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "SET statement_timeout = %u", ms);
	conn_send_sql(conn, sql, 0, NULL);
}

static void
conn_send(struct db_conn *conn, struct db_query *q)
{
	conn->current = q;
	q->conn = conn;
	q->where = WHERE_RUNNING;
	if (q->kind != QUERY_PLAIN && q->kind != QUERY_BEGIN)
		query_start_timer(q);
	if ((q->kind == QUERY_PLAIN || q->kind == QUERY_BEGIN) &&
	    q->timeout_ms != conn->stmt_timeout_ms) {
		conn->job = JOB_SET_TIMEOUT;
		conn_send_set_timeout(conn, q->timeout_ms);
		return;
	}
	conn_send_query(conn, q);
}

static void
quiet_notice(void *arg, const PGresult *res)
{
	struct db_conn *conn = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (msg == NULL)
		return;
	/* A server shutting down says why before it closes the socket. */
	if (severity != NULL &&
	    (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0)) {
		free(conn->fatal);
		conn->fatal = xstrdup(msg);
	}
	log_debug("db: connection %u: %s: %s", conn->id, severity != NULL ? severity : "notice",
	          msg);
}

static void
conn_connected(struct db_conn *conn)
{
	PQsetnonblocking(conn->pg, 1);
	PQsetNoticeReceiver(conn->pg, quiet_notice, conn);
	conn->state = CONN_SETUP;
	conn->job = JOB_SETUP;
	conn_send_set_timeout(conn, conn->db->settings.query_timeout_ms);
}

static void
conn_poll_connect(struct db_conn *conn)
{
	switch (PQconnectPoll(conn->pg)) {
	case PGRES_POLLING_READING:
		conn_watch(conn, EV_READ);
		if (conn->io.ev == NULL)
			conn_attempt_failed(conn, PQerrorMessage(conn->pg));
		break;
	case PGRES_POLLING_WRITING:
		conn_watch(conn, EV_WRITE);
		if (conn->io.ev == NULL)
			conn_attempt_failed(conn, PQerrorMessage(conn->pg));
		break;
	case PGRES_POLLING_OK:
		conn_connected(conn);
		break;
	case PGRES_POLLING_FAILED:
	default:
		conn_attempt_failed(conn, PQerrorMessage(conn->pg));
		break;
	}
}

static void
conn_connect(struct db_conn *conn)
{
	struct db *db = conn->db;
	const char *keys[] = {"fallback_application_name", "dbname", NULL};
	const char *values[] = {"floed", db->conninfo, NULL};
	struct timeval tv;

	conn->state = CONN_CONNECTING;
	/* Host names are resolved here (getaddrinfo); configure addresses or
	 * a socket directory to keep that off the loop entirely. */
	conn->pg = PQconnectStartParams(keys, values, 1);
	if (conn->pg == NULL) {
		conn_attempt_failed(conn, "out of memory");
		return;
	}
	if (PQstatus(conn->pg) == CONNECTION_BAD) {
		conn_attempt_failed(conn, PQerrorMessage(conn->pg));
		return;
	}
	if (db->settings.connect_timeout_ms > 0) {
		tv = ms_tv(db->settings.connect_timeout_ms);
		evtimer_add(conn->timer, &tv);
	}
	/* Right after PQconnectStart, libpq wants write readiness. */
	conn_watch(conn, EV_WRITE);
	if (conn->io.ev == NULL)
		conn_attempt_failed(conn, "no socket for the connection");
}

/* The connection broke or was reset (reason NULL: a query timed out, the
 * caller already detached the query). Fails its query and transaction and
 * starts reconnecting. */
static void
conn_lost(struct db_conn *conn, const char *reason)
{
	struct db *db = conn->db;
	struct db_query *q = conn->current;
	struct db_txn *txn = conn->txn;
	char *why = NULL, *error = NULL;
	bool was_ready = conn->state == CONN_READY;
	unsigned delay;

	if (reason != NULL) {
		why = one_line(conn->fatal != NULL ? conn->fatal : reason);
		error = xasprintf("database connection lost: %s", why);
		log_info("db: connection %u lost: %s", conn->id, why);
	}
	conn->current = NULL;
	if (txn != NULL) {
		txn_release(txn);
		if (error != NULL)
			txn_set_failed(txn, error, NULL);
	}
	conn_teardown(conn);
	if (was_ready)
		db->up_count--;

	if (reason == NULL || now_ms() - conn->connected_at_ms >= DB_STABLE_MS) {
		/* A healthy connection: try again at once. */
		conn->backoff_ms = 0;
		delay = 0;
	} else {
		conn->backoff_ms = next_backoff(conn->backoff_ms);
		delay = conn->backoff_ms;
	}
	conn_schedule(conn, delay);

	if (q != NULL) {
		q->conn = NULL;
		q->where = WHERE_NONE;
		query_finish_error(q, error != NULL ? error : "database connection lost", NULL);
	}
	/* With a query, query_finish already dealt with its transaction. */
	if (txn != NULL && q == NULL)
		txn_drain(txn);
	free(error);
	free(why);
}

/* The result of the current job is complete. */
static void
conn_job_done(struct db_conn *conn)
{
	struct db *db = conn->db;
	enum conn_job job = conn->job;
	PGresult *pg = conn->result;
	struct db_query *q = conn->current;
	struct db_result res;

	conn->result = NULL;
	conn->job = JOB_NONE;

	switch (job) {
	case JOB_SETUP:
		if (pg == NULL || !pg_status_ok(PQresultStatus(pg))) {
			result_from_pg(&res, pg, 0);
			conn_attempt_failed(conn, res.error);
		} else {
			conn_setup_done(conn);
		}
		break;
	case JOB_SET_TIMEOUT:
		if (pg == NULL || !pg_status_ok(PQresultStatus(pg))) {
			conn->current = NULL;
			q->conn = NULL;
			q->where = WHERE_NONE;
			result_from_pg(&res, pg, q->timeout_ms);
			query_finish(q, &res);
		} else {
			conn->stmt_timeout_ms = q->timeout_ms;
			conn_send_query(conn, q);
		}
		break;
	case JOB_PREPARE:
		if (pg != NULL && pg_status_ok(PQresultStatus(pg))) {
			conn_stmt_prepared(conn, q);
			break;
		}
		/* The SQL cannot be prepared: it would fail unprepared too. */
		conn->current = NULL;
		q->conn = NULL;
		q->where = WHERE_NONE;
		evtimer_del(q->timer);
		result_from_pg(&res, pg, q->timeout_ms);
		query_finish(q, &res);
		break;
	case JOB_QUERY:
		conn->current = NULL;
		q->conn = NULL;
		q->where = WHERE_NONE;
		evtimer_del(q->timer);
		result_from_pg(&res, pg, q->timeout_ms);
		/* The session lost its statements (DISCARD, a pooler in
		 * between) or one can no longer run as planned: prepare
		 * afresh from now on. */
		if (conn->running != NULL && res.sqlstate != NULL &&
		    (strcmp(res.sqlstate, "26000") == 0 || strcmp(res.sqlstate, "0A000") == 0)) {
			log_info("db: connection %u: prepared statement failed (%s), "
			         "forgetting prepared statements",
			         conn->id, res.error);
			conn_stmts_clear(conn);
		}
		conn->running = NULL;
		query_finish(q, &res);
		break;
	case JOB_NONE:
		break;
	}
	if (pg != NULL)
		PQclear(pg);
	if (conn->state == CONN_READY && conn->job == JOB_NONE) {
		if (conn->txn != NULL)
			txn_pump(conn->txn);
		else
			db_pump(db);
	}
}

/* Reads whatever results are complete. */
static void
conn_collect(struct db_conn *conn)
{
	PGresult *pg;

	while (conn->pg != NULL && conn->job != JOB_NONE && !PQisBusy(conn->pg)) {
		pg = PQgetResult(conn->pg);
		if (pg == NULL) {
			conn_job_done(conn);
			continue;
		}
		/* Keep the first error, else the last result. */
		if (conn->result == NULL || pg_status_ok(PQresultStatus(conn->result))) {
			if (conn->result != NULL)
				PQclear(conn->result);
			conn->result = pg;
		} else {
			PQclear(pg);
		}
	}
	if (conn->pg != NULL && conn->job == JOB_NONE) {
		/* Idle: parse anything that arrived (a FATAL before close). */
		while (!PQisBusy(conn->pg) && (pg = PQgetResult(conn->pg)) != NULL)
			PQclear(pg);
	}
	if (conn->pg != NULL && PQstatus(conn->pg) == CONNECTION_BAD) {
		if (conn->state == CONN_READY)
			conn_lost(conn, PQerrorMessage(conn->pg));
		else
			conn_attempt_failed(conn, PQerrorMessage(conn->pg));
	}
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *conn = arg;
	int r;

	if (conn->state == CONN_CONNECTING) {
		conn_poll_connect(conn);
		return;
	}
	if ((what & EV_READ) != 0) {
		if (!PQconsumeInput(conn->pg)) {
			if (conn->state == CONN_READY)
				conn_lost(conn, PQerrorMessage(conn->pg));
			else
				conn_attempt_failed(conn, PQerrorMessage(conn->pg));
			return;
		}
	}
	if (conn->want_write) {
		r = PQflush(conn->pg);
		if (r < 0) {
			if (conn->state == CONN_READY)
				conn_lost(conn, PQerrorMessage(conn->pg));
			else
				conn_attempt_failed(conn, PQerrorMessage(conn->pg));
			return;
		}
		conn->want_write = r == 1;
		conn_watch_ready(conn);
	}
	conn_collect(conn);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *conn = arg;
	char msg[96];
	char *reason;

	switch (conn->state) {
	case CONN_DOWN:
		conn_connect(conn);
		break;
	case CONN_CONNECTING:
	case CONN_SETUP:
		if (conn->lost_reason != NULL) {
			reason = conn->lost_reason;
			conn->lost_reason = NULL;
			conn_attempt_failed(conn, reason);
			free(reason);
			break;
		}
		snprintf(msg, sizeof(msg), "connection attempt timed out after %u ms",
		         conn->db->settings.connect_timeout_ms);
		conn_attempt_failed(conn, msg);
		break;
	case CONN_READY:
		if (conn->lost_reason != NULL) {
			reason = conn->lost_reason;
			conn->lost_reason = NULL;
			conn_lost(conn, reason);
			free(reason);
		}
		break;
	}
}

/* --- The pool --- */

static struct db_conn *
db_idle_conn(struct db *db)
{
	for (unsigned i = 0; i < db->settings.pool_size; i++) {
		struct db_conn *conn = &db->conns[i];

		if (conn->state == CONN_READY && conn->job == JOB_NONE && conn->txn == NULL &&
		    conn->lost_reason == NULL)
			return conn;
	}
	return NULL;
}

/* Hands queued queries to idle connections. Never runs a callback. */
static void
db_pump(struct db *db)
{
	struct db_query *q;
	struct db_conn *conn;

	while ((q = TAILQ_FIRST(&db->queue)) != NULL && (conn = db_idle_conn(db)) != NULL) {
		query_unlink(q);
		if (q->kind == QUERY_BEGIN) {
			conn->txn = q->txn;
			q->txn->conn = conn;
		}
		conn_send(conn, q);
	}
}

/* Sends the transaction's next query when its connection is free. */
static void
txn_pump(struct db_txn *txn)
{
	struct db_query *q;
	struct db_conn *conn = txn->conn;

	if (conn == NULL || conn->state != CONN_READY || conn->job != JOB_NONE ||
	    conn->lost_reason != NULL)
		return;
	q = TAILQ_FIRST(&txn->queue);
	if (q == NULL)
		return;
	query_unlink(q);
	if (q->kind == QUERY_COMMIT && txn->failed) {
		free(q->sql);
		q->sql = xstrdup("ROLLBACK");
	}
	conn_send(conn, q);
}

struct db *
db_create(struct event_base *base, const struct db_settings *settings)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->base = base;
	db->settings = *settings;
	db->conninfo = xstrdup(settings->conninfo != NULL ? settings->conninfo : "");
	db->settings.conninfo = db->conninfo;
	if (db->settings.pool_size == 0)
		db->settings.pool_size = 1;
	TAILQ_INIT(&db->queue);
	TAILQ_INIT(&db->deferred);
	LIST_INIT(&db->txns);
	db->conns = xcalloc(db->settings.pool_size, sizeof(*db->conns));
	for (unsigned i = 0; i < db->settings.pool_size; i++) {
		struct db_conn *conn = &db->conns[i];

		conn->db = db;
		conn->id = i + 1;
		pg_socket_init(&conn->io);
		conn->timer = evtimer_new(base, conn_timer_cb, conn);
		conn_connect(conn);
	}
	return db;
}

bool
db_is_up(const struct db *db)
{
	return db != NULL && db->up_count > 0;
}

/* During db_destroy: everything fails with this at once. */
static void
db_fail_now(struct db_query *q)
{
	query_unlink(q);
	q->conn = NULL;
	query_finish_error(q, "shutting down", NULL);
}

void
db_destroy(struct db **dbp)
{
	struct db *db = *dbp;
	struct db_query *q;
	struct db_txn *txn;

	if (db == NULL)
		return;
	/* The code that called the callback would go on using the pool. */
	assert(db->callback_depth == 0);
	*dbp = NULL;
	db->destroying = true;

	for (unsigned i = 0; i < db->settings.pool_size; i++) {
		struct db_conn *conn = &db->conns[i];

		q = conn->current;
		conn->current = NULL;
		if (conn->txn != NULL) {
			txn = conn->txn;
			txn_release(txn);
			txn_set_failed(txn, "shutting down", NULL);
		}
		conn_teardown(conn);
		event_free(conn->timer);
		conn->timer = NULL;
		conn->state = CONN_DOWN;
		if (q != NULL) {
			if (q->kind == QUERY_TXN)
				q->txn = NULL;
			db_fail_now(q);
		}
	}
	db->up_count = 0;
	/* Callbacks may queue more (a commit, say); loop until all is done. */
	for (;;) {
		if ((q = TAILQ_FIRST(&db->queue)) != NULL) {
			db_fail_now(q);
		} else if ((q = TAILQ_FIRST(&db->deferred)) != NULL) {
			query_unlink(q);
			query_finish_error(q, q->fail_error, q->fail_sqlstate);
		} else if ((txn = LIST_FIRST(&db->txns)) != NULL) {
			txn_set_failed(txn, "shutting down", NULL);
			q = TAILQ_FIRST(&txn->queue);
			if (q == NULL) {
				/* Never committed or rolled back by its owner. */
				txn_free(txn);
			} else {
				if (q->kind == QUERY_TXN)
					q->txn = NULL;
				/* A COMMIT/ROLLBACK also frees txn. */
				db_fail_now(q);
			}
		} else {
			break;
		}
	}
	free(db->conns);
	free(db->conninfo);
	free(db->down_reason);
	free(db);
}

struct db_query *
db_query_timeout(struct db *db, const char *sql, int nparams, const char *const *params,
                 unsigned timeout_ms, db_callback_fn *cb, void *ctx)
{
	struct db_query *q;
	struct db_result res;
	char *error;

	if (db->destroying) {
		/* Only reached from a callback run by db_destroy. */
		if (cb != NULL) {
			result_error(&res, "shutting down", NULL);
			cb(&res, ctx);
		}
		return NULL;
	}
	q = query_new(db, QUERY_PLAIN, sql, nparams, params,
	              timeout_ms != 0 ? timeout_ms : db->settings.query_timeout_ms, cb, ctx);
	if (sql == NULL || nparams < 0 || (nparams > 0 && params == NULL)) {
		query_fail_later(q, "invalid query", NULL);
		return q;
	}
	if (db->down) {
		error = xasprintf("database unavailable: %s", db->down_reason);
		query_fail_later(q, error, NULL);
		free(error);
		return q;
	}
	q->where = WHERE_DB_QUEUE;
	TAILQ_INSERT_TAIL(&db->queue, q, entry);
	query_start_timer(q);
	db_pump(db);
	return q;
}

struct db_query *
db_query(struct db *db, const char *sql, int nparams, const char *const *params, db_callback_fn *cb,
         void *ctx)
{
	return db_query_timeout(db, sql, nparams, params, 0, cb, ctx);
}

void
db_query_abandon(struct db_query **queryp)
{
	struct db_query *q = *queryp;

	if (q == NULL)
		return;
	*queryp = NULL;
	q->cb = NULL;
	q->abandoned = true;
	if (q->completing || q->where == WHERE_RUNNING)
		return; /* freed when its result arrives or after its callback */
	/* Transaction bookkeeping queries are never handed out, so q is a
	 * plain or transaction query that has not been sent yet. */
	query_unlink(q);
	query_free(q);
}

void
db_txn_begin(struct db *db, db_txn_ready_fn *ready, void *ctx)
{
	struct db_txn *txn;
	struct db_query *q;
	char *error;

	if (db->destroying) {
		ready(NULL, "shutting down", ctx);
		return;
	}
	txn = xcalloc(1, sizeof(*txn));
	txn->db = db;
	txn->ready = ready;
	txn->ready_ctx = ctx;
	TAILQ_INIT(&txn->queue);
	LIST_INSERT_HEAD(&db->txns, txn, entry);

	q = query_new(db, QUERY_BEGIN, "BEGIN", 0, NULL, db->settings.query_timeout_ms, NULL, NULL);
	q->txn = txn;
	if (db->down) {
		error = xasprintf("database unavailable: %s", db->down_reason);
		query_fail_later(q, error, NULL);
		free(error);
		return;
	}
	q->where = WHERE_DB_QUEUE;
	TAILQ_INSERT_TAIL(&db->queue, q, entry);
	query_start_timer(q);
	db_pump(db);
}

struct db_query *
db_txn_query(struct db_txn *txn, const char *sql, int nparams, const char *const *params,
             db_callback_fn *cb, void *ctx)
{
	struct db *db = txn->db;
	struct db_query *q;

	q = query_new(db, QUERY_TXN, sql, nparams, params, db->settings.query_timeout_ms, cb, ctx);
	if (sql == NULL || nparams < 0 || (nparams > 0 && params == NULL)) {
		/* A malformed call fails the transaction like a bad statement. */
		txn_set_failed(txn, "invalid query", NULL);
		query_fail_later(q, "invalid query", NULL);
		return q;
	}
	if (txn->failed || txn->conn == NULL) {
		query_fail_later(q, "transaction aborted", NULL);
		return q;
	}
	q->txn = txn;
	q->where = WHERE_TXN_QUEUE;
	TAILQ_INSERT_TAIL(&txn->queue, q, entry);
	txn_pump(txn);
	return q;
}

static void
txn_finish(struct db_txn **txnp, enum query_kind kind, db_callback_fn *cb, void *ctx)
{
	struct db_txn *txn = *txnp;
	struct db_query *q;

	if (txn == NULL)
		return;
	*txnp = NULL;
	if (txn->conn == NULL) {
		/* The connection is gone: the server already rolled back. */
		if (cb == NULL) {
			txn_free(txn);
			return;
		}
		q = query_new(txn->db, kind, "ROLLBACK", 0, NULL, 0, cb, ctx);
		q->txn = txn;
		query_fail_later(q, txn->error != NULL ? txn->error : "transaction aborted", NULL);
		return;
	}
	q = query_new(txn->db, kind, kind == QUERY_COMMIT ? "COMMIT" : "ROLLBACK", 0, NULL,
	              txn->db->settings.query_timeout_ms, cb, ctx);
	q->txn = txn;
	q->where = WHERE_TXN_QUEUE;
	TAILQ_INSERT_TAIL(&txn->queue, q, entry);
	txn_pump(txn);
}

void
db_txn_commit(struct db_txn **txn, db_callback_fn *cb, void *ctx)
{
	txn_finish(txn, QUERY_COMMIT, cb, ctx);
}

void
db_txn_rollback(struct db_txn **txn)
{
	txn_finish(txn, QUERY_ROLLBACK, NULL, NULL);
}
