/* The GroupWare Trash in the store (list, restore, purge) over the SQL
 * functions of 0012_groupware_trash.sql, and the per-worker purge timer. */
#include "store-gwtrash.h"

#include <event2/event.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store-private.h"
#include "xmalloc.h"

#define PURGE_FIRST_MAX_MS 300000u
/* The content collection after a purge runs again while it finds a full
 * batch queued, at most this many times per purge run. */
#define PURGE_GC_ROUNDS 20

static const char *
col_or_null(struct store_op *op, const struct db_result *res, int r, int c)
{
	return db_result_isnull(res, r, c) ? NULL : store_op_strdup(op, db_result_value(res, r, c));
}

/* --- List --- */

struct list_op {
	struct store_op op;
	store_gwtrash_list_cb *cb;
};

static void
list_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct list_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
list_done(struct store_op *op, const struct db_result *res)
{
	int rows = db_result_rows(res);
	struct store_gwtrash_entry *v = store_op_calloc(op, (size_t)rows + 1, sizeof(*v));
	struct store_gwtrash_list list = {.entries = v};

	/* Every row carries the account's total; an empty trash has no row. */
	for (int r = 0; r < rows; r++) {
		struct store_gwtrash_entry *e;

		list.total_size = store_u64(db_result_value(res, r, 10));
		if (db_result_isnull(res, r, 0))
			continue;
		e = &v[list.count++];
		e->id = store_u64(db_result_value(res, r, 0));
		e->folder_id = store_u64(db_result_value(res, r, 1));
		e->folder_path = col_or_null(op, res, r, 2);
		e->folder_type = col_or_null(op, res, r, 3);
		e->object_uid = col_or_null(op, res, r, 4);
		e->kind = col_or_null(op, res, r, 5);
		e->title = col_or_null(op, res, r, 6);
		e->size = store_u64(db_result_value(res, r, 7));
		e->deleted_at = (time_t)strtoll(db_result_value(res, r, 8), NULL, 10);
		e->blob_hash = col_or_null(op, res, r, 9);
	}
	store_op_deliver_begin(op);
	((struct list_op *)op)->cb(&list, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_gwtrash_list(struct store *store, uint64_t account_id, uint64_t folder_id,
                   store_gwtrash_list_cb *cb, void *ctx)
{
	struct list_op *l = (struct list_op *)store_op_new(store, sizeof(*l), list_fail, ctx);
	struct store_params p = {0};

	l->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	/* The right join keeps one row (with NULL entry columns) for the
	 * total when nothing matches. */
	store_op_query(&l->op,
	               "SELECT t.id::text, coalesce(t.folder_id, 0)::text, t.folder_path,"
	               " t.folder_type, t.object_uid, t.kind, t.title, t.size::text,"
	               " extract(epoch FROM t.deleted_at)::bigint::text,"
	               " encode(t.blob_hash, 'hex'), s.total::text"
	               " FROM (SELECT * FROM groupware_trash x WHERE x.account_id = $1"
	               " AND ($2::bigint = 0 OR x.folder_id = $2::bigint)) t"
	               " RIGHT JOIN (SELECT coalesce(sum(y.size), 0) AS total"
	               " FROM groupware_trash y WHERE y.account_id = $1) s ON true"
	               " ORDER BY t.deleted_at DESC, t.id DESC",
	               &p, list_done);
	return &l->op;
}

/* --- Restore --- */

struct restore_op {
	struct store_op op;
	store_gwtrash_restore_cb *cb;
};

static void
restore_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct restore_op *)op)->cb(NULL, code, error, op->ctx);
}

/* Rows of floe_gwtrash_restore: id, object_uid, ok, folder_id, path,
 * moved, uid, modseq, error. */
static void
restore_done(struct store_op *op, const struct db_result *res)
{
	int rows = db_result_rows(res);
	struct store_gwtrash_restored *v = store_op_calloc(op, (size_t)rows + 1, sizeof(*v));
	struct store_gwtrash_restore_result result = {.items = v, .count = (size_t)rows};

	for (int r = 0; r < rows; r++) {
		struct store_gwtrash_restored *x = &v[r];

		x->id = store_u64(db_result_value(res, r, 0));
		x->object_uid = col_or_null(op, res, r, 1);
		x->restored = store_bool(db_result_value(res, r, 2));
		x->folder_id = store_u64(db_result_value(res, r, 3));
		x->folder_path = col_or_null(op, res, r, 4);
		x->moved = store_bool(db_result_value(res, r, 5));
		x->uid = (uint32_t)store_u64(db_result_value(res, r, 6));
		x->modseq = store_u64(db_result_value(res, r, 7));
		x->error = col_or_null(op, res, r, 8);
		if (x->restored)
			result.restored++;
	}
	store_op_deliver_begin(op);
	((struct restore_op *)op)->cb(&result, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

#define RESTORE_COLUMNS                                                                            \
	"SELECT r_id::text, r_object_uid, r_ok::text, coalesce(r_folder_id, 0)::text, r_path,"     \
	" r_moved::text, coalesce(r_uid, 0)::text, coalesce(r_modseq, 0)::text, r_error"

struct store_op *
store_gwtrash_restore(struct store *store, uint64_t account_id, const uint64_t *ids, size_t count,
                      store_gwtrash_restore_cb *cb, void *ctx)
{
	struct restore_op *o =
	    (struct restore_op *)store_op_new(store, sizeof(*o), restore_fail, ctx);
	struct store_params p = {0};
	struct store_str list = {0};

	o->cb = cb;
	if (count > 0 && ids == NULL)
		return store_op_fail_later(&o->op, STORE_ERR_INVALID, "no entries given");
	store_param_u64(&p, account_id);
	store_str_add(&list, "{");
	for (size_t i = 0; i < count; i++)
		store_str_addf(&list, "%s%" PRIu64, i > 0 ? "," : "", ids[i]);
	store_str_add(&list, "}");
	store_param_take(&p, list.s);
	store_op_query(&o->op, RESTORE_COLUMNS " FROM floe_gwtrash_restore($1, $2::bigint[])", &p,
	               restore_done);
	return &o->op;
}

struct store_op *
store_gwtrash_restore_where(struct store *store, uint64_t account_id, uint64_t folder_id,
                            const char *object_uid, store_gwtrash_restore_cb *cb, void *ctx)
{
	struct restore_op *o =
	    (struct restore_op *)store_op_new(store, sizeof(*o), restore_fail, ctx);
	struct store_params p = {0};

	o->cb = cb;
	if (object_uid != NULL && (object_uid[0] == '\0' || strlen(object_uid) > 1024 ||
	                           !store_utf8_valid(object_uid, strlen(object_uid))))
		return store_op_fail_later(&o->op, STORE_ERR_INVALID, "invalid object UID");
	store_param_u64(&p, account_id);
	store_param_u64(&p, folder_id);
	store_param(&p, object_uid);
	/* One statement: the selection and the restore share a transaction. */
	store_op_query(&o->op,
	               RESTORE_COLUMNS " FROM floe_gwtrash_restore($1, ARRAY("
	                               "SELECT t.id FROM groupware_trash t WHERE t.account_id = $1"
	                               " AND ($2::bigint = 0 OR t.folder_id = $2::bigint)"
	                               " AND ($3::text IS NULL OR t.object_uid = $3)))",
	               &p, restore_done);
	return &o->op;
}

/* --- Purge --- */

struct purge_op {
	struct store_op op;
	store_gwtrash_purge_cb *cb;
};

static void
purge_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct purge_op *)op)->cb(0, code, error, op->ctx);
}

static void
purge_done(struct store_op *op, const struct db_result *res)
{
	unsigned long n =
	    db_result_rows(res) > 0 ? (unsigned long)store_u64(db_result_value(res, 0, 0)) : 0;

	store_op_deliver_begin(op);
	((struct purge_op *)op)->cb(n, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_gwtrash_purge(struct store *store, uint64_t account_id, uint64_t older_than_s, unsigned limit,
                    store_gwtrash_purge_cb *cb, void *ctx)
{
	struct purge_op *o = (struct purge_op *)store_op_new(store, sizeof(*o), purge_fail, ctx);
	struct store_params p = {0};

	o->cb = cb;
	store_param_u64(&p, account_id);
	store_paramf(&p, "%" PRIu64 " seconds", older_than_s);
	store_param_u64(&p, limit > 0 ? limit : STORE_GWTRASH_BATCH);
	store_op_query(&o->op, "SELECT floe_gwtrash_purge($1, $2::interval, $3::int)", &p,
	               purge_done);
	return &o->op;
}

/* --- The purger --- */

struct gwtrash_purger {
	struct store *store;
	struct event *timer;
	struct store_op *op; /* the purge or collection in flight */
	uint64_t older_than_s;
	unsigned interval_ms;
	unsigned long purged; /* in this run */
	unsigned gc_rounds;   /* content collections in this run */
};

uint64_t
gwtrash_purge_delay_ms(unsigned interval_ms, bool first, uint32_t r)
{
	uint64_t span;

	if (first) {
		span = interval_ms < PURGE_FIRST_MAX_MS ? interval_ms : PURGE_FIRST_MAX_MS;
		return span > 0 ? (uint64_t)r % span : 0;
	}
	/* interval - 10 % + [0, 20 %) */
	span = (uint64_t)interval_ms / 5;
	return (uint64_t)interval_ms - (uint64_t)interval_ms / 10 +
	       (span > 0 ? (uint64_t)r % span : 0);
}

static void
purger_schedule(struct gwtrash_purger *p, bool first)
{
	uint64_t ms = gwtrash_purge_delay_ms(p->interval_ms, first, randombytes_random());
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(p->timer, &tv);
}

static void purger_batch(struct gwtrash_purger *p);

static void
purger_gc_done(unsigned long handled, enum store_err code, const char *error, void *ctx)
{
	struct gwtrash_purger *p = ctx;

	p->op = NULL;
	if (code != STORE_OK)
		log_warning("groupware trash: content collection after the purge failed: %s",
		            error);
	else if (handled >= STORE_GC_BATCH && ++p->gc_rounds < PURGE_GC_ROUNDS) {
		/* More was queued than one run takes: another, at once. */
		p->op = store_content_gc(p->store, purger_gc_done, p);
		return;
	}
	purger_schedule(p, false);
}

static void
purger_batch_done(unsigned long purged, enum store_err code, const char *error, void *ctx)
{
	struct gwtrash_purger *p = ctx;

	p->op = NULL;
	if (code != STORE_OK) {
		log_warning("groupware trash: purge failed (retried later): %s", error);
		purger_schedule(p, false);
		return;
	}
	p->purged += purged;
	if (purged >= STORE_GWTRASH_BATCH) {
		/* Each batch its own transaction; the next one from the loop. */
		purger_batch(p);
		return;
	}
	if (p->purged == 0) {
		purger_schedule(p, false);
		return;
	}
	log_info("groupware trash: purged %lu item(s) deleted more than %" PRIu64 " day(s) ago",
	         p->purged, p->older_than_s / 86400);
	p->op = store_content_gc(p->store, purger_gc_done, p);
}

static void
purger_batch(struct gwtrash_purger *p)
{
	p->op = store_gwtrash_purge(p->store, 0, p->older_than_s, STORE_GWTRASH_BATCH,
	                            purger_batch_done, p);
}

static void
purger_fire(evutil_socket_t fd, short what, void *ctx)
{
	struct gwtrash_purger *p = ctx;

	(void)fd;
	(void)what;
	if (p->op != NULL)
		return;
	p->purged = 0;
	p->gc_rounds = 0;
	purger_batch(p);
}

struct gwtrash_purger *
gwtrash_purger_create(struct event_base *base, struct store *store, unsigned trash_days,
                      unsigned interval_ms)
{
	struct gwtrash_purger *p;

	if (trash_days == 0 || interval_ms == 0)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->store = store;
	p->older_than_s = (uint64_t)trash_days * 86400;
	p->interval_ms = interval_ms;
	p->timer = evtimer_new(base, purger_fire, p);
	if (p->timer == NULL) {
		log_error("groupware trash: cannot create the purge timer; no automatic purge");
		free(p);
		return NULL;
	}
	purger_schedule(p, true);
	return p;
}

void
gwtrash_purger_destroy(struct gwtrash_purger **purgerp)
{
	struct gwtrash_purger *p = *purgerp;

	if (p == NULL)
		return;
	*purgerp = NULL;
	store_op_abandon(&p->op);
	event_free(p->timer);
	free(p);
}
