/* Folders in the store: listing with full paths and counters, lookup by
 * path or id, create/delete/rename (SQL functions of 0002_mail.sql),
 * subscriptions, and the message lists of SELECT and of "what changed
 * since modseq N". */
#include "store-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmalloc.h"

static const char *const folder_types[] = {
    "mail", "event", "contact", "task", "note", "journal", "file",
};
static const char *const special_uses[] = {
    "inbox", "sent", "drafts", "trash", "junk", "archive",
};

static bool
in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

/* --- List --- */

struct list_op {
	struct store_op op;
	store_folder_list_cb *cb;
};

static void
list_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct list_op *)op)->cb(NULL, error, op->ctx);
}

static void
list_done(struct store_op *op, const struct db_result *res)
{
	struct list_op *l = (struct list_op *)op;
	int rows = db_result_rows(res);
	struct store_folder *folders = store_op_calloc(op, (size_t)rows + 1, sizeof(*folders));
	const char **orphans = store_op_calloc(op, (size_t)rows + 1, sizeof(*orphans));
	struct store_folder_list list = {
	    .folders = folders,
	    .orphan_subscriptions = orphans,
	};

	for (int r = 0; r < rows; r++) {
		if (db_result_value(res, r, 0)[0] == '0')
			store_folder_parse(op, res, r, 1, &folders[list.count++]);
		else
			orphans[list.orphan_count++] =
			    store_op_strdup(op, db_result_value(res, r, 1));
	}
	store_op_deliver_begin(op);
	l->cb(&list, NULL, op->ctx);
	store_op_finish(op);
}

/* Paths come from one recursive walk down from the top-level folders; the
 * counters are columns of folders kept by triggers, so this reads one row
 * per folder whatever their sizes. */
static const char list_sql[] =
    "WITH RECURSIVE t AS ("
    " SELECT f.id, f.name AS path FROM folders f"
    " WHERE f.account_id = $1 AND f.parent_id IS NULL"
    " UNION ALL"
    " SELECT f.id, t.path || '/' || f.name FROM t"
    " JOIN folders f ON f.account_id = $1 AND f.parent_id = t.id) "
    "SELECT * FROM ("
    " SELECT 0 AS k, " STORE_FOLDER_COLUMNS(
        "t.path") ", t.path AS o"
                  " FROM t JOIN folders f ON f.id = t.id"
                  " UNION ALL"
                  " SELECT 1, s.name, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
                  " NULL, NULL, NULL, NULL, NULL, NULL, s.name FROM subscriptions s"
                  " WHERE s.account_id = $1 AND NOT EXISTS (SELECT 1 FROM t WHERE t.path = "
                  "s.name)) x "
                  "ORDER BY k, o COLLATE \"C\"";

struct store_op *
store_folder_list(struct store *store, uint64_t account_id, store_folder_list_cb *cb, void *ctx)
{
	struct list_op *l = (struct list_op *)store_op_new(store, sizeof(*l), list_fail, ctx);
	struct store_params p = {0};

	l->cb = cb;
	store_param_u64(&p, account_id);
	store_op_query(&l->op, list_sql, &p, list_done);
	return &l->op;
}

/* --- One folder --- */

struct folder_op {
	struct store_op op;
	store_folder_cb *cb;
	uint64_t account_id;
};

static void
folder_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct folder_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
folder_done(struct store_op *op, const struct db_result *res)
{
	struct folder_op *f = (struct folder_op *)op;
	struct store_folder folder;

	if (db_result_rows(res) != 1) {
		store_op_fail(op, STORE_ERR_NOT_FOUND, "no such folder");
		return;
	}
	store_folder_parse(op, res, 0, 0, &folder);
	store_op_deliver_begin(op);
	f->cb(&folder, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

/* The path, computed once, serves the path and subscribed columns. */
#define FOLDER_WITH_PATH                                                                           \
	" FROM folders f CROSS JOIN LATERAL floe_folder_path(f.account_id, f.id) AS p(path)"
static const char folder_by_id_sql[] = "SELECT " STORE_FOLDER_COLUMNS("p.path") FOLDER_WITH_PATH
    " WHERE f.account_id = $1 AND f.id = $2";
static const char folder_by_path_sql[] = "SELECT " STORE_FOLDER_COLUMNS("p.path") FOLDER_WITH_PATH
    " WHERE f.account_id = $1 AND f.id = (SELECT floe_folder_find($1, $2))";

/* Loads folder id into the operation's callback. */
static void
folder_load(struct folder_op *f, uint64_t folder_id)
{
	struct store_params p = {0};

	store_param_u64(&p, f->account_id);
	store_param_u64(&p, folder_id);
	store_op_query(&f->op, folder_by_id_sql, &p, folder_done);
}

struct store_op *
store_folder_get(struct store *store, uint64_t account_id, const char *path, uint64_t folder_id,
                 store_folder_cb *cb, void *ctx)
{
	struct folder_op *f = (struct folder_op *)store_op_new(store, sizeof(*f), folder_fail, ctx);
	struct store_params p = {0};

	f->cb = cb;
	f->account_id = account_id;
	if (path == NULL) {
		if (folder_id == 0)
			return store_op_fail_later(&f->op, STORE_ERR_INVALID, "no folder given");
		folder_load(f, folder_id);
		return &f->op;
	}
	/* A name the store could not hold names no folder. */
	if (strlen(path) > STORE_PATH_MAX || !store_utf8_valid(path, strlen(path)))
		return store_op_fail_later(&f->op, STORE_ERR_NOT_FOUND, "no such folder");
	store_param_u64(&p, account_id);
	store_param(&p, path);
	store_op_query(&f->op, folder_by_path_sql, &p, folder_done);
	return &f->op;
}

static void
create_done(struct store_op *op, const struct db_result *res)
{
	folder_load((struct folder_op *)op, store_u64(db_result_value(res, 0, 0)));
}

struct store_op *
store_folder_create(struct store *store, uint64_t account_id, const char *path, const char *type,
                    const char *special_use, store_folder_cb *cb, void *ctx)
{
	struct folder_op *f = (struct folder_op *)store_op_new(store, sizeof(*f), folder_fail, ctx);
	struct store_params p = {0};
	const char *error;

	f->cb = cb;
	f->account_id = account_id;
	if (type == NULL)
		type = "mail";
	if (store_path_check(path, &error) < 0)
		return store_op_fail_later(&f->op, STORE_ERR_INVALID, "%s", error);
	if (!in_list(type, folder_types, sizeof(folder_types) / sizeof(folder_types[0])))
		return store_op_fail_later(&f->op, STORE_ERR_INVALID, "unknown folder type");
	if (special_use != NULL &&
	    !in_list(special_use, special_uses, sizeof(special_uses) / sizeof(special_uses[0])))
		return store_op_fail_later(&f->op, STORE_ERR_INVALID, "unknown special use");
	store_param_u64(&p, account_id);
	store_param(&p, path);
	store_param(&p, type);
	store_param(&p, special_use);
	store_op_query(&f->op, "SELECT floe_folder_create($1, $2, $3, $4)", &p, create_done);
	return &f->op;
}

/* --- Operations that only succeed or fail --- */

struct done_op {
	struct store_op op;
	store_done_cb *cb;
};

static void
done_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct done_op *)op)->cb(code, error, op->ctx);
}

static void
done_ok(struct store_op *op, const struct db_result *res)
{
	store_op_deliver_begin(op);
	((struct done_op *)op)->cb(STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

static struct done_op *
done_op_new(struct store *store, store_done_cb *cb, void *ctx)
{
	struct done_op *d = (struct done_op *)store_op_new(store, sizeof(*d), done_fail, ctx);

	d->cb = cb;
	return d;
}

struct store_op *
store_folder_delete(struct store *store, uint64_t account_id, uint64_t folder_id, store_done_cb *cb,
                    void *ctx)
{
	struct done_op *d = done_op_new(store, cb, ctx);
	struct store_params p = {0};

	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_op_query(&d->op, "SELECT floe_folder_delete($1, $2)", &p, done_ok);
	return &d->op;
}

struct store_op *
store_folder_rename(struct store *store, uint64_t account_id, uint64_t folder_id,
                    const char *new_path, store_done_cb *cb, void *ctx)
{
	struct done_op *d = done_op_new(store, cb, ctx);
	struct store_params p = {0};
	const char *error;

	if (store_path_check(new_path, &error) < 0)
		return store_op_fail_later(&d->op, STORE_ERR_INVALID, "%s", error);
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param(&p, new_path);
	store_op_query(&d->op, "SELECT floe_folder_rename($1, $2, $3)", &p, done_ok);
	return &d->op;
}

struct store_op *
store_subscribe(struct store *store, uint64_t account_id, const char *name, bool subscribe,
                store_done_cb *cb, void *ctx)
{
	struct done_op *d = done_op_new(store, cb, ctx);
	struct store_params p = {0};
	const char *error;
	char *norm;

	if (store_path_check(name, &error) < 0)
		return store_op_fail_later(&d->op, STORE_ERR_INVALID, "%s", error);
	/* Subscriptions name folders as paths do: INBOX in any case is INBOX. */
	norm = xstrdup(name);
	if (strncasecmp(norm, "INBOX", 5) == 0 && (norm[5] == '\0' || norm[5] == '/'))
		memcpy(norm, "INBOX", 5);
	store_param_u64(&p, account_id);
	store_param_take(&p, norm);
	store_op_query(&d->op,
	               subscribe ? "INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) "
	                           "ON CONFLICT DO NOTHING"
	                         : "DELETE FROM subscriptions WHERE account_id = $1 AND name = $2",
	               &p, done_ok);
	return &d->op;
}

/* --- Message lists: SELECT and changes since a modseq --- */

struct msgs_op {
	struct store_op op;
	store_msg_list_cb *cb;
	bool select;
};

static void
msgs_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct msgs_op *)op)->cb(NULL, code, error, op->ctx);
}

/* Rows: kind 0 (the folder), kind 1 (uid, modseq, flags), kind 2 (vanished
 * uid), in that order, each by uid. */
static void
msgs_done(struct store_op *op, const struct db_result *res)
{
	struct msgs_op *m = (struct msgs_op *)op;
	int rows = db_result_rows(res);
	struct store_folder folder;
	struct store_msg *msgs;
	uint32_t *vanished;
	struct store_msg_list list = {.folder = &folder};

	if (rows == 0 || db_result_value(res, 0, 0)[0] != '0') {
		store_op_fail(op, STORE_ERR_NOT_FOUND, "no such folder");
		return;
	}
	store_folder_parse(op, res, 0, 2, &folder);
	if (m->select && folder.noselect) {
		store_op_fail(op, STORE_ERR_INVALID, "folder cannot be selected");
		return;
	}
	msgs = store_op_calloc(op, (size_t)rows, sizeof(*msgs));
	vanished = store_op_calloc(op, (size_t)rows, sizeof(*vanished));
	for (int r = 1; r < rows; r++) {
		const char *kind = db_result_value(res, r, 0);

		if (kind[0] == '1') {
			struct store_msg *msg = &msgs[list.count++];

			msg->uid = (uint32_t)store_u64(db_result_value(res, r, 2));
			msg->modseq = store_u64(db_result_value(res, r, 3));
			msg->flags =
			    store_split_flags(op, db_result_value(res, r, 4), &msg->nflags);
		} else {
			vanished[list.nvanished++] =
			    (uint32_t)store_u64(db_result_value(res, r, 2));
		}
	}
	list.msgs = msgs;
	list.vanished = vanished;
	store_op_deliver_begin(op);
	m->cb(&list, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

/* One statement, so the folder's counters and HIGHESTMODSEQ and the message
 * list come from the same snapshot. */
#define MSGS_NULLS14                                                                               \
	"NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
/* A top-level folder's path is its name: floe_folder_path (a plpgsql loop,
 * most of the statement's time in NOOP and IDLE refreshes) only for the
 * others. */
#define MSGS_FOLDER_PATH                                                                           \
	"(CASE WHEN f.parent_id IS NULL THEN f.name ELSE floe_folder_path(f.account_id, f.id) END)"
#define MSGS_FOLDER                                                                                \
	"SELECT 0 AS k, 0::bigint AS o, " STORE_FOLDER_COLUMNS(MSGS_FOLDER_PATH)                   \
	    " FROM folders f WHERE f.account_id = $1 AND f.id = $2"

static const char select_sql[] = MSGS_FOLDER
    " UNION ALL"
    " SELECT 1, i.uid, i.uid::text, i.modseq::text, array_to_string(i.flags, ' '), " MSGS_NULLS14
    " FROM items i WHERE i.account_id = $1 AND i.folder_id = $2"
    " ORDER BY 1, 2";

/* The changes come from floe_changes (0013_imap_cache.sql), planned once. */
static const char changes_sql[] = MSGS_FOLDER
    " UNION ALL"
    " SELECT c.k, c.uid, c.uid::text, c.modseq::text, c.flags, " MSGS_NULLS14
    " FROM floe_changes($1, $2, $3) c"
    " ORDER BY 1, 2";

struct store_op *
store_folder_select(struct store *store, uint64_t account_id, uint64_t folder_id,
                    store_msg_list_cb *cb, void *ctx)
{
	struct msgs_op *m = (struct msgs_op *)store_op_new(store, sizeof(*m), msgs_fail, ctx);
	struct store_params p = {0};

	m->cb = cb;
	m->select = true;
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_op_query(&m->op, select_sql, &p, msgs_done);
	return &m->op;
}

struct store_op *
store_changes(struct store *store, uint64_t account_id, uint64_t folder_id, uint64_t since,
              store_msg_list_cb *cb, void *ctx)
{
	struct msgs_op *m = (struct msgs_op *)store_op_new(store, sizeof(*m), msgs_fail, ctx);
	struct store_params p = {0};

	m->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param_u64(&p, since);
	store_op_query(&m->op, changes_sql, &p, msgs_done);
	return &m->op;
}
