/* Failed-login counters and lockouts in the UNLOGGED table auth_failures
 * (see store-auth.h): one statement per operation, so that counting is
 * atomic across workers and nodes without explicit transactions. */
#include "store-auth.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "xmalloc.h"

/* Up to three (kind, key) pairs are always passed as $1..$6; unused pairs
 * are NULL and match nothing. */
#define KEY_PARAMS (2 * STORE_AUTH_MAX_KEYS)

#define MS "* interval '1 millisecond'"
/* Whether the counter f has outlived its window or its lock: the next
 * failure starts a new window. */
#define PASSED "(f.locked_until IS NOT NULL OR f.window_start <= now() - $8::bigint " MS ")"
#define LOCKED "f.locked_until > now()"
#define LOCK_MS                                                                                    \
	"CASE WHEN locked_until > now() "                                                          \
	"THEN ceil(extract(epoch FROM locked_until - now()) * 1000)::bigint ELSE 0 END"

static const char sql_check[] =
    "SELECT kind, key,"
    " CASE WHEN locked_until > now() OR (locked_until IS NULL AND"
    "  window_start > now() - $7::bigint " MS ") THEN failures ELSE 0 END,"
    " coalesce(locked_until > now(), false), " LOCK_MS ", false"
    " FROM auth_failures"
    " WHERE (kind = $1 AND key = $2) OR (kind = $3 AND key = $4) OR (kind = $5 AND key = $6)";

/* $7 max failures, $8 window, $9 lockout. Rows are inserted (and so
 * locked) in the order of the keys. A statement's now() is fixed, so a
 * lock that ends exactly at now() + lockout was set by this statement. */
static const char sql_fail[] =
    "INSERT INTO auth_failures AS f (kind, key, failures, window_start, locked_until)"
    " SELECT t.kind, t.key, 1, now(),"
    "  CASE WHEN $7::int <= 1 THEN now() + $9::bigint " MS " END"
    " FROM (VALUES (1, $1::text, $2::text), (2, $3::text, $4::text), (3, $5::text, $6::text))"
    "  AS t(n, kind, key)"
    " WHERE t.kind IS NOT NULL ORDER BY t.n"
    " ON CONFLICT (kind, key) DO UPDATE SET"
    " failures = CASE WHEN " LOCKED " THEN f.failures WHEN " PASSED " THEN 1"
    "  ELSE f.failures + 1 END,"
    " window_start = CASE WHEN " LOCKED " THEN f.window_start WHEN " PASSED " THEN now()"
    "  ELSE f.window_start END,"
    " locked_until = CASE WHEN " LOCKED " THEN f.locked_until"
    "  WHEN " PASSED " THEN excluded.locked_until"
    "  WHEN f.failures + 1 >= $7::int THEN now() + $9::bigint " MS " ELSE NULL END"
    " RETURNING kind, key, failures, coalesce(locked_until > now(), false), " LOCK_MS ","
    " coalesce(locked_until > now() AND locked_until = now() + $9::bigint " MS ", false)";

static const char sql_reset[] = "DELETE FROM auth_failures WHERE kind = $1 AND key = $2";

/* A locked row counts as passed only one window after its lock ended:
 * later than needed, never too early. SKIP LOCKED: never wait for (or
 * deadlock with) a login that is counting right now. */
static const char sql_expire[] =
    "DELETE FROM auth_failures WHERE (kind, key) IN ("
    " SELECT kind, key FROM auth_failures"
    " WHERE coalesce(locked_until, window_start) < now() - $1::bigint " MS
    " LIMIT 10000 FOR UPDATE SKIP LOCKED)";

static const char sql_update_hash[] =
    "UPDATE credentials SET secret = $3, updated_at = now()"
    " WHERE account_id = $1 AND kind = 'password' AND secret = $2";

struct store_auth_op {
	struct db_query *query;
	store_auth_state_cb *state_cb;
	store_auth_done_cb *done_cb;
	void *ctx;
};

const char *
store_auth_kind_name(enum store_auth_kind kind)
{
	switch (kind) {
	case STORE_AUTH_IP:
		return "ip";
	case STORE_AUTH_ACCOUNT:
		return "account";
	case STORE_AUTH_LOGIN:
		return "login";
	}
	return "?";
}

static int
store_auth_kind_parse(const char *name, enum store_auth_kind *kind_r)
{
	if (strcmp(name, "ip") == 0)
		*kind_r = STORE_AUTH_IP;
	else if (strcmp(name, "account") == 0)
		*kind_r = STORE_AUTH_ACCOUNT;
	else if (strcmp(name, "login") == 0)
		*kind_r = STORE_AUTH_LOGIN;
	else
		return -1;
	return 0;
}

static struct store_auth_op *
store_auth_op_new(store_auth_state_cb *state_cb, store_auth_done_cb *done_cb, void *ctx)
{
	struct store_auth_op *op = xcalloc(1, sizeof(*op));

	op->state_cb = state_cb;
	op->done_cb = done_cb;
	op->ctx = ctx;
	return op;
}

/* Rows of (kind, key, failures, locked, lock_ms, just_locked). */
static void
store_auth_state_result(const struct db_result *res, void *ctx)
{
	struct store_auth_op *op = ctx;
	struct store_auth_state states[STORE_AUTH_MAX_KEYS];
	size_t count = 0;
	int rows;

	op->query = NULL;
	if (!db_result_ok(res)) {
		op->state_cb(NULL, 0, db_result_error(res), op->ctx);
		free(op);
		return;
	}
	rows = db_result_rows(res);
	for (int i = 0; i < rows && count < STORE_AUTH_MAX_KEYS; i++) {
		struct store_auth_state *st = &states[count];

		if (store_auth_kind_parse(db_result_value(res, i, 0), &st->kind) < 0)
			continue;
		st->value = db_result_value(res, i, 1);
		st->failures = (unsigned)strtoul(db_result_value(res, i, 2), NULL, 10);
		st->locked = strcmp(db_result_value(res, i, 3), "t") == 0;
		st->lock_ms = st->locked ? strtoull(db_result_value(res, i, 4), NULL, 10) : 0;
		st->just_locked = strcmp(db_result_value(res, i, 5), "t") == 0;
		count++;
	}
	op->state_cb(states, count, NULL, op->ctx);
	free(op);
}

static void
store_auth_done_result(const struct db_result *res, void *ctx)
{
	struct store_auth_op *op = ctx;

	op->query = NULL;
	op->done_cb(db_result_ok(res) ? NULL : db_result_error(res), op->ctx);
	free(op);
}

static void
store_auth_key_params(const struct store_auth_key *keys, size_t nkeys, const char **params)
{
	assert(nkeys >= 1 && nkeys <= STORE_AUTH_MAX_KEYS);
	for (size_t i = 0; i < STORE_AUTH_MAX_KEYS; i++) {
		if (i < nkeys) {
			assert(keys[i].value != NULL);
			params[2 * i] = store_auth_kind_name(keys[i].kind);
			params[2 * i + 1] = keys[i].value;
		} else {
			params[2 * i] = NULL;
			params[2 * i + 1] = NULL;
		}
	}
}

struct store_auth_op *
store_auth_check(struct db *db, const struct store_auth_key *keys, size_t nkeys,
                 const struct store_auth_limits *limits, store_auth_state_cb *cb, void *ctx)
{
	struct store_auth_op *op = store_auth_op_new(cb, NULL, ctx);
	const char *params[KEY_PARAMS + 1];
	char window[24];

	store_auth_key_params(keys, nkeys, params);
	snprintf(window, sizeof(window), "%u", limits->window_ms);
	params[KEY_PARAMS] = window;
	op->query = db_query(db, sql_check, KEY_PARAMS + 1, params, store_auth_state_result, op);
	return op;
}

struct store_auth_op *
store_auth_fail(struct db *db, const struct store_auth_key *keys, size_t nkeys,
                const struct store_auth_limits *limits, store_auth_state_cb *cb, void *ctx)
{
	struct store_auth_op *op = store_auth_op_new(cb, NULL, ctx);
	const char *params[KEY_PARAMS + 3];
	char max[24], window[24], lockout[24];

	store_auth_key_params(keys, nkeys, params);
	snprintf(max, sizeof(max), "%u", limits->max_failures > 0 ? limits->max_failures : 1);
	snprintf(window, sizeof(window), "%u", limits->window_ms);
	snprintf(lockout, sizeof(lockout), "%u", limits->lockout_ms);
	params[KEY_PARAMS] = max;
	params[KEY_PARAMS + 1] = window;
	params[KEY_PARAMS + 2] = lockout;
	op->query = db_query(db, sql_fail, KEY_PARAMS + 3, params, store_auth_state_result, op);
	return op;
}

struct store_auth_op *
store_auth_reset(struct db *db, const struct store_auth_key *key, store_auth_done_cb *cb, void *ctx)
{
	struct store_auth_op *op = store_auth_op_new(NULL, cb, ctx);
	const char *params[2] = {store_auth_kind_name(key->kind), key->value};

	assert(key->value != NULL);
	op->query = db_query(db, sql_reset, 2, params, store_auth_done_result, op);
	return op;
}

struct store_auth_op *
store_auth_expire(struct db *db, unsigned window_ms, store_auth_done_cb *cb, void *ctx)
{
	struct store_auth_op *op = store_auth_op_new(NULL, cb, ctx);
	char window[24];
	const char *params[1] = {window};

	snprintf(window, sizeof(window), "%u", window_ms);
	op->query = db_query(db, sql_expire, 1, params, store_auth_done_result, op);
	return op;
}

struct store_auth_op *
store_auth_update_hash(struct db *db, uint64_t account_id, const char *old_hash,
                       const char *new_hash, store_auth_done_cb *cb, void *ctx)
{
	struct store_auth_op *op = store_auth_op_new(NULL, cb, ctx);
	char id[24];
	const char *params[3] = {id, old_hash, new_hash};

	snprintf(id, sizeof(id), "%" PRIu64, account_id);
	op->query = db_query(db, sql_update_hash, 3, params, store_auth_done_result, op);
	return op;
}

void
store_auth_op_abandon(struct store_auth_op **op)
{
	if (*op == NULL)
		return;
	db_query_abandon(&(*op)->query);
	free(*op);
	*op = NULL;
}
