/* The SQL side of authentication: failed-login counters and lockouts kept in
 * the UNLOGGED table auth_failures (db/migrations/0003_auth.sql), shared by
 * every worker and node, and the password-hash upgrade after a login.
 *
 * Every function is asynchronous on the worker's db pool: it returns a
 * handle at once and calls its callback exactly once from the event loop
 * (never from inside the call), unless the handle is abandoned first.
 * Callback data is valid only during the callback. On failure the callback
 * gets error set (a one-line message: "database unavailable: ...", "query
 * timed out ...", or PostgreSQL's) and no states. */
#ifndef FLOE_STORE_AUTH_H
#define FLOE_STORE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct store_auth_op;

/* What a counter is about. An account that exists is counted by its id; a
 * login that names no account by the login itself (lower-cased by the
 * caller), so that unknown names are throttled too. */
enum store_auth_kind {
	STORE_AUTH_IP,      /* value: the client's address (IPv6 by /64) */
	STORE_AUTH_ACCOUNT, /* value: account id in decimal */
	STORE_AUTH_LOGIN,   /* value: a login that names no account */
};

/* At most this many keys per call. */
#define STORE_AUTH_MAX_KEYS 3

struct store_auth_key {
	enum store_auth_kind kind;
	const char *value;
};

struct store_auth_limits {
	unsigned max_failures; /* failures within window_ms that start a lockout (>= 1) */
	unsigned window_ms;
	unsigned lockout_ms;
};

struct store_auth_state {
	enum store_auth_kind kind;
	const char *value;
	unsigned failures; /* failures in the current window (or that caused the lock) */
	bool locked;       /* attempts are refused until the lock runs out */
	uint64_t lock_ms;  /* remaining lock time, 0 when not locked */
	bool just_locked;  /* store_auth_fail only: this failure started the lock */
};

/* states has one entry per key that has a counter (keys without one are
 * absent), in no particular order. */
typedef void store_auth_state_cb(const struct store_auth_state *states, size_t count,
                                 const char *error, void *ctx);
typedef void store_auth_done_cb(const char *error, void *ctx);

/* The current counters of keys (1..STORE_AUTH_MAX_KEYS, no key twice).
 * Counters whose window (limits->window_ms) and lock have passed report 0
 * failures and no lock. Read-only. */
struct store_auth_op *store_auth_check(struct db *db, const struct store_auth_key *keys,
                                       size_t nkeys, const struct store_auth_limits *limits,
                                       store_auth_state_cb *cb, void *ctx);

/* Counts one failure against every key, atomically across nodes: a
 * counter whose window (or lock) has passed starts again at 1; a counter
 * that reaches limits->max_failures is locked for limits->lockout_ms
 * (just_locked is then true for exactly one caller); a locked counter is
 * left as it is. The callback gets the new state of every key. Keys are
 * locked in the order given: pass the IP key first, always, so that two
 * concurrent calls cannot deadlock. */
struct store_auth_op *store_auth_fail(struct db *db, const struct store_auth_key *keys,
                                      size_t nkeys, const struct store_auth_limits *limits,
                                      store_auth_state_cb *cb, void *ctx);

/* Forgets the counter of one key (after a successful login). */
struct store_auth_op *store_auth_reset(struct db *db, const struct store_auth_key *key,
                                       store_auth_done_cb *cb, void *ctx);

/* Deletes counters whose window (window_ms) and lock have both passed, so
 * that the table does not grow with every address ever seen. Rows another
 * transaction holds are skipped, never waited for. */
struct store_auth_op *store_auth_expire(struct db *db, unsigned window_ms, store_auth_done_cb *cb,
                                        void *ctx);

/* Replaces account_id's password hash by new_hash if it is still old_hash
 * (a password changed meanwhile is left alone). Not an error when nothing
 * was replaced. */
struct store_auth_op *store_auth_update_hash(struct db *db, uint64_t account_id,
                                             const char *old_hash, const char *new_hash,
                                             store_auth_done_cb *cb, void *ctx);

/* The caller no longer wants the answer: the callback will not be called
 * (a query already sent may still complete on the server). Sets *op to
 * NULL; accepts NULL. */
void store_auth_op_abandon(struct store_auth_op **op);

/* "ip", "account" or "login": the kind column's values. */
const char *store_auth_kind_name(enum store_auth_kind kind);

#endif
