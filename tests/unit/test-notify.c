/* Unit tests for the change-notice bus: payload parsing, the watch index
 * (dispatch by key and by account, removal during a dispatch, wake-all) and
 * barriers on a bus whose connection can never succeed; with
 * FLOE_TEST_PG_URL set (tests/integration/test_imap_notify.py does), also
 * barriers against a real PostgreSQL: every notice committed before a
 * barrier is dispatched before its callback, waiting callers share a
 * query, and a cut connection answers "unknown". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "tap.h"

static void
test_parse_good(void)
{
	uint64_t a = 1, f = 1, m = 1;

	ok(notify_parse_payload("12 34 56", &a, &f, &m) == 0 && a == 12 && f == 34 && m == 56,
	   "plain payload");
	ok(notify_parse_payload("0 0 0", &a, &f, &m) == 0 && a == 0 && f == 0 && m == 0, "zeros");
	ok(notify_parse_payload("18446744073709551615 1 18446744073709551615", &a, &f, &m) == 0 &&
	       a == UINT64_MAX && f == 1 && m == UINT64_MAX,
	   "largest 64-bit values");
	ok(notify_parse_payload("  7  8\t9  ", &a, &f, &m) == 0 && a == 7 && f == 8 && m == 9,
	   "extra blanks around and between numbers");
	ok(notify_parse_payload("007 08 9", &a, &f, &m) == 0 && a == 7 && f == 8 && m == 9,
	   "leading zeros");
}

static void
test_parse_bad(void)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "1",
	    "1 2",
	    "1 2 3 4",
	    "1,2,3",
	    "12 34 56x",
	    "a 2 3",
	    "-1 2 3",
	    "+1 2 3",
	    "1 -2 3",
	    "1 2 0x10",
	    "1 2 3\n",
	    "1 2 3.5",
	    "123",
	    "18446744073709551616 1 1",
	    "1 1 18446744073709551616",
	    "1 1 99999999999999999999999",
	    "1\n2 3",
	};
	uint64_t a = 11, f = 22, m = 33;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char shown[64];
		size_t n = 0;

		/* Keep the TAP line on one line. */
		for (const char *p = bad[i]; *p != '\0' && n < sizeof(shown) - 3; p++) {
			if (*p == '\n') {
				shown[n++] = '\\';
				shown[n++] = 'n';
			} else {
				shown[n++] = *p;
			}
		}
		shown[n] = '\0';
		ok(notify_parse_payload(bad[i], &a, &f, &m) == -1, "rejects \"%s\"", shown);
	}
	ok(a == 11 && f == 22 && m == 33, "outputs untouched on failure");
	ok(notify_parse_payload(NULL, &a, &f, &m) == -1, "rejects NULL");
}

/* --- The watch index --- */

struct rec {
	char log[1024];
	int calls;
	struct notify_watch **remove_self;  /* removed when called */
	struct notify_watch **remove_other; /* removed when called */
	struct notify_bus *bus;
	struct notify_watch **add_into; /* a new watch is added when called */
	struct rec *add_rec;
};

static void
record(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly, void *ctx)
{
	struct rec *r = ctx;
	size_t len = strlen(r->log);

	snprintf(r->log + len, sizeof(r->log) - len, "%s%" PRIu64 "/%" PRIu64 "/%" PRIu64 "%s",
	         len > 0 ? " " : "", account_id, folder_id, modseq, possibly ? "?" : "");
	r->calls++;
	if (r->remove_self != NULL)
		notify_watch_remove(r->remove_self);
	if (r->remove_other != NULL)
		notify_watch_remove(r->remove_other);
	if (r->add_into != NULL && *r->add_into == NULL)
		*r->add_into = notify_watch_add(r->bus, 1, 5, record, r->add_rec);
}

static void
test_dispatch(struct notify_bus *bus)
{
	struct rec folder = {.calls = 0}, account = {.calls = 0}, other = {.calls = 0};
	struct notify_watch *w1 = notify_watch_add(bus, 1, 5, record, &folder);
	struct notify_watch *w2 = notify_watch_add(bus, 1, 0, record, &account);
	struct notify_watch *w3 = notify_watch_add(bus, 2, 5, record, &other);

	is_int(notify_bus_watch_count(bus), 3, "three watches");
	is_int(notify_bus_dispatch(bus, "1 5 100"), 0, "dispatch a good payload");
	is_str(folder.log, "1/5/100", "folder watcher called");
	is_str(account.log, "1/5/100", "account-wide watcher called with the folder");
	is_int(other.calls, 0, "other account not called");

	is_int(notify_bus_dispatch(bus, "1 6 7"), 0, "another folder");
	is_int(folder.calls, 1, "folder 5 watcher not called for folder 6");
	is_str(account.log, "1/5/100 1/6/7", "account watcher sees folder 6");

	is_int(notify_bus_dispatch(bus, "1 0 9"), 0, "account-level notice");
	is_str(account.log, "1/5/100 1/6/7 1/0/9", "account watcher called once for folder 0");

	is_int(notify_bus_dispatch(bus, "1 5 x"), -1, "bad payload rejected");
	is_int(folder.calls + account.calls + other.calls, 4, "nobody called for a bad payload");
	is_int(notify_bus_dispatch(bus, "3 5 1"), 0, "notice nobody watches");
	is_int(folder.calls + account.calls + other.calls, 4, "nobody called");

	notify_watch_remove(&w1);
	ok(w1 == NULL, "remove sets the handle to NULL");
	notify_watch_remove(&w1);
	ok(w1 == NULL, "removing NULL is harmless");
	notify_bus_dispatch(bus, "1 5 101");
	is_int(folder.calls, 1, "removed watch not called");
	is_int(account.calls, 4, "remaining watch still called");
	notify_watch_remove(&w2);
	notify_watch_remove(&w3);
	is_int(notify_bus_watch_count(bus), 0, "index empty");
}

static void
test_remove_during_dispatch(struct notify_bus *bus)
{
	struct rec a = {.calls = 0}, b = {.calls = 0}, c = {.calls = 0}, d = {.calls = 0};
	struct rec added = {.calls = 0};
	struct notify_watch *wa, *wb, *wc, *wd, *wnew = NULL;

	/* Same key: chained together, newest first (d, c, b, a). */
	wa = notify_watch_add(bus, 1, 5, record, &a);
	wb = notify_watch_add(bus, 1, 5, record, &b);
	wc = notify_watch_add(bus, 1, 5, record, &c);
	wd = notify_watch_add(bus, 1, 0, record, &d);
	/* d removes itself, c removes b (which comes after it), b would
	 * remove a; a new watch added during the dispatch is not called. */
	d.remove_self = &wd;
	c.remove_other = &wb;
	b.remove_other = &wa;
	a.bus = bus;
	a.add_into = &wnew;
	a.add_rec = &added;

	notify_bus_dispatch(bus, "1 5 3");
	is_int(c.calls, 1, "c called");
	is_int(b.calls, 0, "b removed by c before its turn: not called");
	is_int(a.calls, 1, "a called");
	is_int(d.calls, 1, "account watcher called and removed itself");
	ok(wd == NULL && wb == NULL, "removed handles are NULL");
	ok(wnew != NULL, "a watch was added during dispatch");
	is_int(added.calls, 0, "watch added during dispatch not called by it");
	is_int(notify_bus_watch_count(bus), 3, "a, c and the new watch remain");

	notify_bus_dispatch(bus, "1 5 4");
	is_int(a.calls + c.calls + added.calls, 5, "next dispatch reaches a, c and the new one");
	is_int(d.calls, 1, "self-removed watch not called again");

	notify_watch_remove(&wa);
	notify_watch_remove(&wc);
	notify_watch_remove(&wnew);
	is_int(notify_bus_watch_count(bus), 0, "index empty again");
}

static void
test_wake_all(struct notify_bus *bus)
{
	struct rec r1 = {.calls = 0}, r2 = {.calls = 0}, r3 = {.calls = 0};
	struct notify_watch *w1 = notify_watch_add(bus, 1, 5, record, &r1);
	struct notify_watch *w2 = notify_watch_add(bus, 2, 0, record, &r2);
	struct notify_watch *w3 = notify_watch_add(bus, 3, 7, record, &r3);

	r1.remove_self = &w1;
	r2.remove_other = &w3; /* may or may not have been called already */
	notify_bus_wake_all(bus);
	is_str(r1.log, "1/5/0?", "woken with possibly = true and its key");
	is_str(r2.log, "2/0/0?", "account watcher woken");
	ok(r3.calls <= 1, "a watch removed during wake-all is called at most once");
	ok(w1 == NULL && w3 == NULL, "removed during wake-all");
	is_int(notify_bus_watch_count(bus), 1, "one watch left");
	notify_watch_remove(&w2);
}

static void
test_many(struct notify_bus *bus)
{
	enum { N = 5000 };
	static struct notify_watch *w[N];
	struct rec r = {.calls = 0};
	char payload[64];
	int wrong = 0;

	/* Enough to make the table grow several times. */
	for (int i = 0; i < N; i++)
		w[i] = notify_watch_add(bus, (uint64_t)(i % 100) + 1, (uint64_t)i, record, &r);
	is_int(notify_bus_watch_count(bus), N, "many watches");
	for (int i = 0; i < N; i += 499) {
		int before = r.calls;

		r.log[0] = '\0';
		snprintf(payload, sizeof(payload), "%d %d 1", i % 100 + 1, i);
		notify_bus_dispatch(bus, payload);
		if (r.calls != before + 1)
			wrong++;
	}
	is_int(wrong, 0, "each key finds exactly its watch after growing");
	for (int i = 0; i < N; i += 2)
		notify_watch_remove(&w[i]);
	is_int(notify_bus_watch_count(bus), N / 2, "half removed");
	/* The rest is freed by notify_bus_destroy. */
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* --- Barriers --- */

struct barrier {
	struct event_base *base;
	struct notify_bus *bus;
	int calls;
	bool known;
	/* What the watch had seen when the barrier answered. */
	uint64_t seen_at_answer;
	const uint64_t *seen;
	bool inline_call; /* set while notify_bus_sync runs */
	bool called_inline;
	struct notify_sync *again; /* a new barrier asked from the callback */
	struct barrier *again_rec;
	bool stop;
};

static void
barrier_cb(bool known, void *ctx)
{
	struct barrier *b = ctx;

	b->calls++;
	b->known = known;
	if (b->inline_call)
		b->called_inline = true;
	if (b->seen != NULL)
		b->seen_at_answer = *b->seen;
	if (b->again_rec != NULL && b->again == NULL)
		b->again = notify_bus_sync(b->bus, barrier_cb, b->again_rec);
	if (b->stop)
		event_base_loopbreak(b->base);
}

static struct notify_sync *
barrier_ask(struct notify_bus *bus, struct barrier *b)
{
	struct notify_sync *s;

	b->inline_call = true;
	s = notify_bus_sync(bus, barrier_cb, b);
	b->inline_call = false;
	return s;
}

/* Runs the loop until *calls changes or timeout_ms passes. */
static void
run_until_called(struct event_base *base, const int *calls, int before, unsigned timeout_ms)
{
	for (unsigned waited = 0; *calls == before && waited < timeout_ms; waited += 5) {
		struct timeval tv = {.tv_sec = 0, .tv_usec = 5000};

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static void
test_barrier_down(struct event_base *base, struct notify_bus *bus)
{
	struct barrier a = {.base = base}, b = {.base = base}, c = {.base = base};
	struct notify_sync *sa, *sb, *sc;

	sa = barrier_ask(bus, &a);
	sb = barrier_ask(bus, &b);
	sc = barrier_ask(bus, &c);
	ok(sa != NULL && sb != NULL && sc != NULL, "barriers on a bus that is down");
	ok(!a.called_inline && a.calls == 0, "not called from inside notify_bus_sync");
	notify_sync_abandon(&sb);
	ok(sb == NULL, "abandon sets the handle to NULL");
	notify_sync_abandon(&sb);
	run_until_called(base, &c.calls, 0, 1000);
	is_int(a.calls, 1, "down: called once");
	ok(!a.known && !c.known, "down: the answer is unknown");
	is_int(b.calls, 0, "an abandoned barrier is not called");
	is_int(c.calls, 1, "every other barrier called");
	is_int((int)notify_bus_sync_queries(bus), 0, "no query sent while down");
	/* Left pending: notify_bus_destroy frees it without a call. */
	(void)notify_bus_sync(bus, barrier_cb, &b);
}

struct seen {
	uint64_t modseq;
	int possibly;
};

static void
seen_cb(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly, void *ctx)
{
	struct seen *s = ctx;

	if (possibly)
		s->possibly++;
	else if (modseq > s->modseq)
		s->modseq = modseq;
}

static bool
pg_ok(PGconn *pg, const char *sql)
{
	PGresult *res = PQexec(pg, sql);
	bool good =
	    PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!good)
		printf("# %s: %s", sql, PQerrorMessage(pg));
	PQclear(res);
	return good;
}

static void
wait_up(struct event_base *base, struct notify_bus *bus, unsigned timeout_ms)
{
	for (unsigned waited = 0; !notify_bus_is_up(bus) && waited < timeout_ms; waited += 10) {
		struct timeval tv = {.tv_sec = 0, .tv_usec = 10000};

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static void
test_barrier_db(const char *url)
{
	enum { ROUNDS = 200 };
	struct event_base *base = event_base_new();
	char conninfo[512], sql[256];
	struct notify_bus *bus;
	struct notify_watch *w;
	struct seen seen = {0};
	PGconn *pg;
	int late = 0, unknown = 0, wrong_calls = 0;
	uint64_t q0;
	/* A name of our own, so that only this bus's backend is cut below. */
	snprintf(conninfo, sizeof(conninfo), "%s%sapplication_name=test-notify-%ld", url,
	         strchr(url, '?') != NULL ? "&" : "?", (long)getpid());
	bus = notify_bus_create(base, conninfo, 5000);
	pg = PQconnectdb(url);
	ok(PQstatus(pg) == CONNECTION_OK, "second connection for the writer");
	wait_up(base, bus, 10000);
	ok(notify_bus_is_up(bus), "bus listening");
	w = notify_watch_add(bus, 900001, 7, seen_cb, &seen);
	seen.possibly = 0;

	/* Each notice is committed (pg_notify in its own transaction) before
	 * the barrier is asked: the watch must have it when it answers. */
	for (int i = 1; i <= ROUNDS; i++) {
		struct barrier b = {.base = base, .seen = &seen.modseq};

		snprintf(sql, sizeof(sql), "SELECT pg_notify('%s', '900001 7 %d')", NOTIFY_CHANNEL,
		         i);
		if (!pg_ok(pg, sql))
			break;
		barrier_ask(bus, &b);
		run_until_called(base, &b.calls, 0, 5000);
		if (b.calls != 1)
			wrong_calls++;
		else if (!b.known)
			unknown++;
		else if (b.seen_at_answer != (uint64_t)i)
			late++;
	}
	is_int(wrong_calls, 0, "every barrier answered once");
	is_int(unknown, 0, "every barrier known while the bus is up");
	is_int(late, 0, "every notice committed before a barrier dispatched before its answer");

	/* Three at once: the first sends a query, the two that wait share the
	 * next one; a callback may ask for a new barrier. */
	{
		struct barrier a = {.base = base}, b = {.base = base}, c = {.base = base};
		struct barrier d = {.base = base};
		struct notify_sync *sb;

		q0 = notify_bus_sync_queries(bus);
		a.bus = bus;
		a.again_rec = &d;
		barrier_ask(bus, &a);
		sb = barrier_ask(bus, &b);
		barrier_ask(bus, &c);
		is_int((int)(notify_bus_sync_queries(bus) - q0), 1, "one query in flight");
		notify_sync_abandon(&sb);
		run_until_called(base, &c.calls, 0, 5000);
		run_until_called(base, &d.calls, 0, 5000);
		ok(a.calls == 1 && c.calls == 1 && d.calls == 1 && b.calls == 0,
		   "each called once, the abandoned one never");
		ok(a.known && c.known && d.known, "all known");
		is_int((int)(notify_bus_sync_queries(bus) - q0), 3,
		       "waiting callers shared the second query, the callback's got a third");
	}

	/* Cut the listener: a barrier asked now says "unknown"; after the
	 * reconnect the watch is woken with possibly = true. */
	{
		struct barrier b = {.base = base};

		snprintf(sql, sizeof(sql),
		         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		         "WHERE application_name = 'test-notify-%ld'",
		         (long)getpid());
		ok(pg_ok(pg, sql), "listener terminated");
		usleep(100000);
		barrier_ask(bus, &b);
		run_until_called(base, &b.calls, 0, 5000);
		ok(b.calls == 1 && !b.known, "a barrier on a cut connection answers unknown");
		wait_up(base, bus, 15000);
		ok(notify_bus_is_up(bus), "listening again");
		ok(seen.possibly >= 1, "the watch was woken with possibly after the reconnect");
		b.calls = 0;
		barrier_ask(bus, &b);
		run_until_called(base, &b.calls, 0, 5000);
		ok(b.calls == 1 && b.known, "barriers work again after the reconnect");
	}

	notify_watch_remove(&w);
	PQfinish(pg);
	notify_bus_destroy(&bus);
	event_base_free(base);
}

int
main(void)
{
	struct event_base *base;
	struct notify_bus *bus;
	struct timeval tv = {.tv_sec = 0, .tv_usec = 300000};

	log_set_level(LOG_LEVEL_ERROR);
	test_parse_good();
	test_parse_bad();

	base = event_base_new();
	/* Nothing listens on port 1: the bus keeps retrying in the background. */
	bus = notify_bus_create(base, "host=127.0.0.1 port=1 dbname=none", 1000);
	ok(bus != NULL, "bus created");
	ok(!notify_bus_is_up(bus), "not up without a database");
	test_dispatch(bus);
	test_remove_during_dispatch(bus);
	test_wake_all(bus);

	/* Let it fail and retry a few times with watches registered. */
	event_base_once(base, -1, EV_TIMEOUT, stop_cb, base, &tv);
	event_base_dispatch(base);
	ok(!notify_bus_is_up(bus), "still down after retrying");

	test_barrier_down(base, bus);
	test_many(bus);
	notify_bus_destroy(&bus);
	ok(bus == NULL, "destroy sets the pointer to NULL");
	notify_bus_destroy(&bus);
	event_base_free(base);

	if (getenv("FLOE_TEST_PG_URL") != NULL && *getenv("FLOE_TEST_PG_URL") != '\0')
		test_barrier_db(getenv("FLOE_TEST_PG_URL"));
	return done_testing();
}
