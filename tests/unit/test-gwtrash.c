/* Unit tests for the GroupWare Trash purger (db/store-gwtrash.c): the
 * jittered delays, no purger when there is nothing to do, and a purger
 * whose database is unreachable: its runs fail, are logged and
 * rescheduled, and destroying it in the middle leaves nothing behind.
 * With FLOE_TEST_PG_URL and an account prepared by
 * tests/integration/test_gw_trash.py, also the store API (list, restore,
 * purge) against PostgreSQL. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "db.h"
#include "log.h"
#include "store-gwtrash.h"
#include "store.h"
#include "tap.h"

static void
test_delays(void)
{
	uint64_t lo = UINT64_MAX, hi = 0, d;
	int bad = 0;

	/* First run: somewhere in [0, min(interval, 5 min)). */
	for (uint32_t r = 0; r < 100000; r += 7) {
		d = gwtrash_purge_delay_ms(3600000, true, r * 2654435761u);
		if (d >= 300000)
			bad++;
	}
	is_int(bad, 0, "first run within 5 minutes of an hourly interval");
	is_int(gwtrash_purge_delay_ms(1000, true, 999), 999, "first run within a short interval");
	is_int(gwtrash_purge_delay_ms(1000, true, 1000), 0, "first delay wraps by the span");
	is_int(gwtrash_purge_delay_ms(0, true, 12345), 0, "no span, no delay");

	/* Later runs: interval +-10 %. */
	for (uint32_t r = 0; r < 200000; r++) {
		d = gwtrash_purge_delay_ms(3600000, false, r * 2654435761u);
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	ok(lo >= 3240000 && hi < 3960000, "hourly runs between 54 and 66 minutes (%llu..%llu)",
	   (unsigned long long)lo, (unsigned long long)hi);
	ok(hi - lo > 600000, "the jitter spreads the runs (%llu ms)",
	   (unsigned long long)(hi - lo));
	is_int(gwtrash_purge_delay_ms(3600000, false, 0), 3240000, "smallest delay");
	is_int(gwtrash_purge_delay_ms(4, false, 0), 4, "tiny interval: no jitter span");
	is_int(gwtrash_purge_delay_ms(UINT32_MAX, false, UINT32_MAX) <=
	           (uint64_t)UINT32_MAX * 11 / 10,
	       1, "no overflow at the largest interval");
}

static void
stop_loop(evutil_socket_t fd, short what, void *ctx)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(ctx);
}

static void
test_purger_lifecycle(void)
{
	struct event_base *base = event_base_new();
	struct db_settings settings = {
	    .conninfo = "host=127.0.0.1 port=1 connect_timeout=1",
	    .pool_size = 1,
	    .query_timeout_ms = 1000,
	    .connect_timeout_ms = 1000,
	};
	struct db *db = db_create(base, &settings);
	struct store *store = store_create(db);
	struct gwtrash_purger *p;
	struct event *stop;
	struct timeval tv = {0, 300000};

	ok(gwtrash_purger_create(base, store, 0, 1000) == NULL, "trash_days 0: no purger");
	ok(gwtrash_purger_create(base, store, 30, 0) == NULL, "interval 0: no purger");

	/* A 10 ms interval: several runs fail on the unreachable database
	 * within 300 ms; the loop survives them. */
	p = gwtrash_purger_create(base, store, 30, 10);
	ok(p != NULL, "purger created");
	stop = evtimer_new(base, stop_loop, base);
	evtimer_add(stop, &tv);
	event_base_dispatch(base);
	ok(1, "runs against an unreachable database end without harm");
	gwtrash_purger_destroy(&p);
	ok(p == NULL, "destroy clears the pointer");
	gwtrash_purger_destroy(&p);
	ok(1, "destroying NULL is fine");

	event_free(stop);
	store_destroy(&store);
	db_destroy(&db);
	event_base_free(base);
}

/* --- The store API against a real database --- */

struct wait {
	struct event_base *base;
	bool done;
	enum store_err code;
	char error[256];
	/* list */
	size_t count;
	uint64_t total, first_id, first_folder;
	char first_uid[256], first_kind[32];
	/* restore */
	size_t restored;
	char restore_error[256], restore_path[256];
	uint32_t new_uid;
	/* purge */
	unsigned long purged;
};

static void
wait_done(struct wait *w, enum store_err code, const char *error)
{
	w->done = true;
	w->code = code;
	snprintf(w->error, sizeof(w->error), "%s", error != NULL ? error : "");
	event_base_loopbreak(w->base);
}

static void
list_cb(const struct store_gwtrash_list *list, enum store_err code, const char *error, void *ctx)
{
	struct wait *w = ctx;

	if (list != NULL) {
		w->count = list->count;
		w->total = list->total_size;
		if (list->count > 0) {
			w->first_id = list->entries[0].id;
			w->first_folder = list->entries[0].folder_id;
			snprintf(w->first_uid, sizeof(w->first_uid), "%s",
			         list->entries[0].object_uid);
			snprintf(w->first_kind, sizeof(w->first_kind), "%s",
			         list->entries[0].kind != NULL ? list->entries[0].kind : "");
		}
	}
	wait_done(w, code, error);
}

static void
restore_cb(const struct store_gwtrash_restore_result *res, enum store_err code, const char *error,
           void *ctx)
{
	struct wait *w = ctx;

	w->restored = 0;
	w->restore_error[0] = w->restore_path[0] = '\0';
	if (res != NULL) {
		w->count = res->count;
		w->restored = res->restored;
		if (res->count > 0) {
			snprintf(w->restore_error, sizeof(w->restore_error), "%s",
			         res->items[0].error != NULL ? res->items[0].error : "");
			snprintf(w->restore_path, sizeof(w->restore_path), "%s",
			         res->items[0].folder_path != NULL ? res->items[0].folder_path
			                                           : "");
			w->new_uid = res->items[0].uid;
		}
	}
	wait_done(w, code, error);
}

static void
purge_cb(unsigned long purged, enum store_err code, const char *error, void *ctx)
{
	struct wait *w = ctx;

	w->purged = purged;
	wait_done(w, code, error);
}

static void
run(struct wait *w)
{
	w->done = false;
	while (!w->done)
		event_base_dispatch(w->base);
}

/* FLOE_TEST_GWTRASH_ACCOUNT has two trashed events (the Python side sets
 * them up and checks the result over IMAP): the newest has UID
 * FLOE_TEST_GWTRASH_UID and left the folder FLOE_TEST_GWTRASH_FOLDER,
 * which has an item with the other's UID again. */
static void
test_store_db(const char *url)
{
	struct event_base *base = event_base_new();
	struct db_settings settings = {
	    .conninfo = url, .pool_size = 2, .query_timeout_ms = 10000, .connect_timeout_ms = 5000};
	struct db *db = db_create(base, &settings);
	struct store *store = store_create(db);
	struct wait w = {.base = base};
	uint64_t acct = strtoull(getenv("FLOE_TEST_GWTRASH_ACCOUNT"), NULL, 10);
	uint64_t folder = strtoull(getenv("FLOE_TEST_GWTRASH_FOLDER"), NULL, 10);
	const char *uid = getenv("FLOE_TEST_GWTRASH_UID");
	uint64_t bogus = 987654321, first;

	store_gwtrash_list(store, acct, 0, list_cb, &w);
	run(&w);
	is_int(w.code, STORE_OK, "list: %s", w.error);
	is_int(w.count, 2, "list: two entries");
	is_str(w.first_uid, uid, "list: newest first");
	is_str(w.first_kind, "event", "list: kind");
	is_int(w.first_folder, folder, "list: the folder it left");
	ok(w.total > 0, "list: total size %llu", (unsigned long long)w.total);
	first = w.first_id;
	store_gwtrash_list(store, acct, folder + 1000000, list_cb, &w);
	run(&w);
	is_int(w.count, 0, "list: nothing from another folder");
	ok(w.total > 0, "list: the total all the same");

	store_gwtrash_restore(store, acct, &bogus, 1, restore_cb, &w);
	run(&w);
	is_int(w.code, STORE_OK, "restore of a missing entry is no failure: %s", w.error);
	is_int(w.restored, 0, "restore: nothing restored");
	is_str(w.restore_error, "no such entry in the trash", "restore: missing entry named");

	store_gwtrash_restore_where(store, acct, folder, uid, restore_cb, &w);
	run(&w);
	is_int(w.code, STORE_OK, "restore by folder and UID: %s", w.error);
	is_int(w.restored, 1, "restore by folder and UID: restored");
	ok(w.new_uid > 0, "restore: new IMAP UID %u", w.new_uid);
	store_gwtrash_restore(store, acct, &first, 1, restore_cb, &w);
	run(&w);
	is_str(w.restore_error, "no such entry in the trash", "restored entry left the trash");

	/* The other one: its UID is back in the folder, so it is refused. */
	store_gwtrash_restore_where(store, acct, 0, NULL, restore_cb, &w);
	run(&w);
	is_int(w.count, 1, "restore all: one entry left");
	is_int(w.restored, 0, "restore all: refused");
	ok(strstr(w.restore_error, "already holds an item with UID") != NULL, "refusal: %s",
	   w.restore_error);
	store_gwtrash_restore_where(store, acct, 0, "", restore_cb, &w);
	run(&w);
	is_int(w.code, STORE_ERR_INVALID, "empty object UID refused");

	store_gwtrash_purge(store, acct, 3600, 0, purge_cb, &w);
	run(&w);
	is_int(w.code, STORE_OK, "purge: %s", w.error);
	is_int(w.purged, 0, "purge: the entry is younger than an hour");
	store_gwtrash_purge(store, acct, 0, 0, purge_cb, &w);
	run(&w);
	is_int(w.purged, 1, "purge: everything");
	store_gwtrash_list(store, acct, 0, list_cb, &w);
	run(&w);
	is_int(w.count, 0, "list: empty after the purge");
	is_int(w.total, 0, "list: total 0");

	store_destroy(&store);
	db_destroy(&db);
	event_base_free(base);
}

int
main(void)
{
	/* The failing runs log a warning each. */
	log_set_level(LOG_LEVEL_ERROR);
	test_delays();
	test_purger_lifecycle();
	if (getenv("FLOE_TEST_PG_URL") != NULL && *getenv("FLOE_TEST_PG_URL") != '\0' &&
	    getenv("FLOE_TEST_GWTRASH_ACCOUNT") != NULL &&
	    getenv("FLOE_TEST_GWTRASH_FOLDER") != NULL && getenv("FLOE_TEST_GWTRASH_UID") != NULL)
		test_store_db(getenv("FLOE_TEST_PG_URL"));
	return done_testing();
}
