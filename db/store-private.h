/* Internals shared by the store's files: the operation object (a small state
 * machine over db_query with a memory pool for its results), query
 * parameters, UID ranges and flags as SQL parameters, and the folder row
 * every folder-returning query selects. Writes are SQL functions defined by
 * db/migrations/0002_mail.sql, so every operation is one or two queries. */
#ifndef FLOE_STORE_PRIVATE_H
#define FLOE_STORE_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "db.h"
#include "store.h"

struct store_pool_chunk;

/* Runs with the result of the operation's query (always ok: failures go to
 * the operation's fail function). It either queries again or delivers. */
typedef void store_step_fn(struct store_op *op, const struct db_result *res);
/* Calls the caller's callback with no result, code and error. */
typedef void store_fail_fn(struct store_op *op, enum store_err code, const char *error);

struct store {
	struct db *db;
	LIST_HEAD(, store_op) ops;
	uint64_t gc_last_ms; /* monotonic time of the last automatic content GC */
};

struct store_op {
	struct store *store; /* NULL once the store is gone */
	LIST_ENTRY(store_op) entry;
	struct db_query *query; /* the query in flight */
	store_step_fn *step;
	store_fail_fn *fail;
	void (*cleanup)(struct store_op *op);
	void *ctx;
	bool delivering; /* the caller's callback is running */
	/* A failure found before any query, reported from the loop. */
	enum store_err fail_code;
	char *fail_error;
	struct store_pool_chunk *pool;
};

/* Allocates an operation of size bytes (a struct starting with struct
 * store_op), zeroed. */
struct store_op *store_op_new(struct store *store, size_t size, store_fail_fn *fail, void *ctx);
/* Runs sql with params (cleared afterwards); step gets the result. */
struct store_params;
void store_op_query(struct store_op *op, const char *sql, struct store_params *params,
                    store_step_fn *step);
/* Reports code and error from the event loop (never inside the API call),
 * through a trivial query, since the store has no event base of its own.
 * Returns op. */
struct store_op *store_op_fail_later(struct store_op *op, enum store_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Calls the fail function and frees op (from a step or query callback). */
void store_op_fail(struct store_op *op, enum store_err code, const char *error);
/* Brackets the call of the caller's callback on success, then frees op. */
void store_op_deliver_begin(struct store_op *op);
void store_op_finish(struct store_op *op);

/* Runs floe_analyze() in the background (no callback): a write reported
 * that the statistics of items lag far behind (see 0002_mail.sql). */
void store_stats_refresh(struct store_op *op);
/* An expunge removed messages: runs the content garbage collection in the
 * background (no callback) if STORE_GC_INTERVAL_MS passed since the last,
 * over entries queued at least that long ago, so that a content appended
 * again soon (moves by copy and expunge) keeps its parse results. */
void store_content_gc_due(struct store_op *op);

/* Memory that lives as long as the operation. */
void *store_op_alloc(struct store_op *op, size_t size);
void *store_op_calloc(struct store_op *op, size_t nmemb, size_t size);
char *store_op_strdup(struct store_op *op, const char *s);

/* Query parameters: copies of the given strings (NULL for SQL NULL). */
struct store_params {
	char **v;
	int n, cap;
};
/* Each returns the parameter's number ($n). */
int store_param(struct store_params *p, const char *value);
int store_param_take(struct store_params *p, char *value);
int store_param_u64(struct store_params *p, uint64_t value);
int store_param_i64(struct store_params *p, int64_t value);
int store_paramf(struct store_params *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void store_params_clear(struct store_params *p);

/* A growing string for SQL built from fixed fragments. */
struct store_str {
	char *s;
	size_t len, cap;
};
void store_str_add(struct store_str *str, const char *text);
void store_str_addf(struct store_str *str, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void store_str_free(struct store_str *str);

/* Adds the ranges as two bigint[] parameters (lows, highs), sorted and
 * merged; uids NULL means every UID. Returns -1 (with *error_r) when a
 * range is malformed, else the number of the first parameter. */
int store_param_ranges(struct store_params *p, const struct store_uid_ranges *uids,
                       const char **error_r);

/* Checks flags (system flags must be known ones; keywords are IMAP atoms)
 * and adds them as a text[] parameter with system flags in their canonical
 * spelling. Returns the parameter number, or -1 with *error_r. */
int store_param_flags(struct store_params *p, const char *const *flags, size_t nflags,
                      const char **error_r);
/* The canonical spelling of a system flag ("\\SEEN" -> "\\Seen"), or NULL
 * if flag is not one. */
const char *store_system_flag(const char *flag);
/* Checks one flag; returns 0 or -1 with *error_r. */
int store_flag_check(const char *flag, const char **error_r);
/* Splits a blank-separated flag list (a query value) into pool memory. */
const char *const *store_split_flags(struct store_op *op, const char *text, size_t *count_r);

/* A copy of s that is valid UTF-8: each byte that is not part of a valid
 * sequence becomes '?', so byte counts (IMAP literals) stay right. NULL
 * for NULL. The caller frees. */
char *store_utf8_clean(const char *s);
bool store_utf8_valid(const char *s, size_t len);

/* The store code for a failed query (SQLSTATEs FL001.. raised by the SQL
 * functions, unique violations) and the message to report. */
enum store_err store_result_code(const struct db_result *res);

uint64_t store_u64(const char *text);
bool store_bool(const char *text);

/* Checks a folder path: non-empty UTF-8 components separated by '/',
 * without control characters, at most STORE_PATH_MAX bytes. */
#define STORE_PATH_MAX 1024
#define STORE_NAME_MAX 255
int store_path_check(const char *path, const char **error_r);

/* The 17 text columns store_folder_parse reads, for a row "f" of folders
 * of account $1 whose full path is the SQL expression path. */
#define STORE_FOLDER_NCOLS 17
#define STORE_FOLDER_COLUMNS(path)                                                                 \
	"f.id::text, coalesce(f.parent_id, 0)::text, " path ", f.type, f.special_use, "            \
	"f.is_default::text, "                                                                     \
	"EXISTS (SELECT 1 FROM folders c WHERE c.account_id = f.account_id "                       \
	"AND c.parent_id = f.id)::text, "                                                          \
	"EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = $1 AND s.name = " path         \
	")::text, "                                                                                \
	"f.uidvalidity::text, f.uidnext::text, f.highestmodseq::text, f.messages::text, "          \
	"f.unseen::text, f.deleted::text, f.size::text, f.account_id::text, f.noselect::text"
/* Fills f from columns col.. of row; strings are copied to the pool. */
void store_folder_parse(struct store_op *op, const struct db_result *res, int row, int col,
                        struct store_folder *f);

/* store-message.c, shared with the other appenders (store-groupware.c):
 * an append operation answered with a store_append_result from the rows
 * (uidvalidity, uid, modseq, analyze) of an append SQL function, and the
 * JSON of the parse results those functions read. */
struct store_append_op {
	struct store_op op;
	store_append_cb *cb;
};
struct store_append_op *store_append_op_new(struct store *store, store_append_cb *cb, void *ctx);
void store_append_done(struct store_op *op, const struct db_result *res);
struct json_t;
/* Sets key to value with invalid UTF-8 replaced; nothing for NULL. */
void store_json_set_text(struct json_t *obj, const char *key, const char *value);
struct json_t *store_meta_json(const struct store_msg_meta *m);

#endif
