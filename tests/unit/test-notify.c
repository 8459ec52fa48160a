/* Unit tests for the change-notice bus without a database: payload parsing
 * and the watch index (dispatch by key and by account, removal during a
 * dispatch, wake-all), on a bus whose connection can never succeed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

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

	test_many(bus);
	notify_bus_destroy(&bus);
	ok(bus == NULL, "destroy sets the pointer to NULL");
	notify_bus_destroy(&bus);
	event_base_free(base);
	return done_testing();
}
