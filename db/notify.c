/* The change-notice bus: one non-blocking libpq connection per worker that
 * LISTENs on floe_change (connection, reconnects with back-off, reading
 * notices), and the barriers (notify_bus_sync) that ride on the same
 * connection. The index of watches the notices go to is notify-index.c. */
#include "notify-private.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "log.h"
#include "xmalloc.h"

#define NOTIFY_BACKOFF_MIN_MS 100
#define NOTIFY_BACKOFF_MAX_MS 10000
#define NOTIFY_STABLE_MS      1000
#define NOTIFY_BUCKETS_MIN    64

static void bus_connect(struct notify_bus *bus);
static void bus_io_cb(evutil_socket_t fd, short what, void *arg);
static void bus_lost(struct notify_bus *bus, const char *reason);
static void bus_watch(struct notify_bus *bus, short what);

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
notify_bus_sync_queries(const struct notify_bus *bus)
{
	return bus->sync_queries;
}

/* --- Barriers --- */

static void
sync_unlink(struct notify_sync *s)
{
	struct sync_queue *q = &s->bus->syncs[s->state];

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		q->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		q->tail = s->prev;
	s->prev = s->next = NULL;
}

static void
sync_append(struct notify_bus *bus, struct notify_sync *s, enum sync_state state)
{
	struct sync_queue *q = &bus->syncs[state];

	s->state = state;
	s->next = NULL;
	s->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
}

/* Moves every barrier of from to the end of to. */
static void
sync_move_all(struct notify_bus *bus, enum sync_state from, enum sync_state to)
{
	struct notify_sync *s;

	while ((s = bus->syncs[from].head) != NULL) {
		sync_unlink(s);
		sync_append(bus, s, to);
	}
}

/* Moves every barrier of from to SYNC_READY with the answer known. */
static void
sync_answer_all(struct notify_bus *bus, enum sync_state from, bool known)
{
	for (struct notify_sync *s = bus->syncs[from].head; s != NULL; s = s->next)
		s->known = known;
	sync_move_all(bus, from, SYNC_READY);
}

/* Calls back the answered barriers one at a time: a callback may ask for
 * a new barrier or abandon one that is still queued. */
static void
sync_fire(struct notify_bus *bus)
{
	struct notify_sync *s;

	while ((s = bus->syncs[SYNC_READY].head) != NULL) {
		notify_sync_fn *cb = s->cb;
		void *ctx = s->ctx;
		bool known = s->known;

		sync_unlink(s);
		free(s);
		cb(known, ctx);
	}
}

static void
sync_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	sync_fire(arg);
}

/* The LISTEN connection is gone: no barrier can be answered now. */
static void
sync_fail_all(struct notify_bus *bus)
{
	bus->sync_in_flight = false;
	bus->sync_failed = false;
	sync_answer_all(bus, SYNC_SENT, false);
	sync_answer_all(bus, SYNC_NEXT, false);
	if (bus->syncs[SYNC_READY].head != NULL && bus->sync_ev != NULL)
		event_active(bus->sync_ev, EV_TIMEOUT, 0);
}

/* Sends one barrier query for everyone waiting for the next. An empty
 * query is the cheapest statement that still ends with ReadyForQuery. */
static void
sync_send(struct notify_bus *bus)
{
	int r;

	if (bus->sync_in_flight || bus->syncs[SYNC_NEXT].head == NULL ||
	    bus->state != BUS_LISTENING)
		return;
	if (!PQsendQuery(bus->pg, "")) {
		bus_lost(bus, PQerrorMessage(bus->pg));
		return;
	}
	r = PQflush(bus->pg);
	if (r < 0) {
		bus_lost(bus, PQerrorMessage(bus->pg));
		return;
	}
	bus->sync_queries++;
	bus->sync_in_flight = true;
	bus->sync_failed = false;
	sync_move_all(bus, SYNC_NEXT, SYNC_SENT);
	if (r == 1 && !bus->want_write) {
		bus->want_write = true;
		bus_watch(bus, EV_READ | EV_WRITE);
	}
}

struct notify_sync *
notify_bus_sync(struct notify_bus *bus, notify_sync_fn *cb, void *ctx)
{
	struct notify_sync *s = xcalloc(1, sizeof(*s));

	s->bus = bus;
	s->cb = cb;
	s->ctx = ctx;
	if (bus->state != BUS_LISTENING) {
		s->known = false;
		sync_append(bus, s, SYNC_READY);
		event_active(bus->sync_ev, EV_TIMEOUT, 0);
		return s;
	}
	sync_append(bus, s, SYNC_NEXT);
	sync_send(bus);
	return s;
}

void
notify_sync_abandon(struct notify_sync **syncp)
{
	struct notify_sync *s = *syncp;

	if (s == NULL)
		return;
	*syncp = NULL;
	sync_unlink(s);
	free(s);
}

/* The barrier query ended: what it owed has been dispatched already. */
static void
sync_done(struct notify_bus *bus)
{
	bool known = !bus->sync_failed;

	bus->sync_in_flight = false;
	bus->sync_failed = false;
	sync_answer_all(bus, SYNC_SENT, known);
	sync_send(bus);
	sync_fire(bus);
}

/* --- The LISTEN connection --- */

static char *
one_line(const char *msg)
{
	size_t len;

	if (msg == NULL || *msg == '\0')
		return xstrdup("unknown error");
	if (strncmp(msg, "FATAL:  ", 8) == 0 || strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	len = strcspn(msg, "\n");
	while (len > 0 && (msg[len - 1] == ' ' || msg[len - 1] == '\t' || msg[len - 1] == '\r'))
		len--;
	return xstrndup(msg, len);
}

static void
bus_teardown(struct notify_bus *bus)
{
	pg_socket_clear(&bus->io);
	if (bus->pg != NULL) {
		PQfinish(bus->pg);
		bus->pg = NULL;
	}
	evtimer_del(bus->timer);
	bus->want_write = false;
	xfree_ptr(&bus->fatal);
	xfree_ptr(&bus->listen_error);
	sync_fail_all(bus);
}

static void
bus_watch(struct notify_bus *bus, short what)
{
	pg_socket_watch(&bus->io, bus->base, bus->pg, what, bus_io_cb, bus);
}

static unsigned
next_backoff(unsigned ms)
{
	if (ms < NOTIFY_BACKOFF_MIN_MS)
		return NOTIFY_BACKOFF_MIN_MS;
	return ms >= NOTIFY_BACKOFF_MAX_MS / 2 ? NOTIFY_BACKOFF_MAX_MS : ms * 2;
}

static void
bus_schedule(struct notify_bus *bus, unsigned delay_ms)
{
	struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};

	bus->state = BUS_DOWN;
	evtimer_add(bus->timer, &tv);
}

/* A connection attempt, or the LISTEN, failed. */
static void
bus_attempt_failed(struct notify_bus *bus, const char *reason)
{
	char *why = one_line(bus->fatal != NULL ? bus->fatal : reason);

	bus_teardown(bus);
	bus->backoff_ms = next_backoff(bus->backoff_ms);
	if (!bus->trouble_logged) {
		log_warning("notify: cannot listen: %s", why);
		bus->trouble_logged = true;
	} else {
		log_debug("notify: attempt failed: %s (next in %u ms)", why, bus->backoff_ms);
	}
	bus_schedule(bus, bus->backoff_ms);
	free(why);
}

/* The listening connection broke. */
static void
bus_lost(struct notify_bus *bus, const char *reason)
{
	char *why = one_line(bus->fatal != NULL ? bus->fatal : reason);
	unsigned delay = 0;

	bus_teardown(bus);
	log_warning("notify: connection lost: %s", why);
	bus->trouble_logged = true;
	if (now_ms() - bus->listening_since_ms < NOTIFY_STABLE_MS) {
		bus->backoff_ms = next_backoff(bus->backoff_ms);
		delay = bus->backoff_ms;
	} else {
		bus->backoff_ms = 0;
	}
	bus_schedule(bus, delay);
	free(why);
}

static void
bus_send_listen(struct notify_bus *bus)
{
	int r;

	if (!PQsendQuery(bus->pg, "LISTEN " NOTIFY_CHANNEL)) {
		bus_attempt_failed(bus, PQerrorMessage(bus->pg));
		return;
	}
	r = PQflush(bus->pg);
	if (r < 0) {
		bus_attempt_failed(bus, PQerrorMessage(bus->pg));
		return;
	}
	bus->want_write = r == 1;
	bus->state = BUS_LISTEN;
	bus_watch(bus, bus->want_write ? EV_READ | EV_WRITE : EV_READ);
}

static void
bus_notice(void *arg, const PGresult *res)
{
	struct notify_bus *bus = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (msg == NULL)
		return;
	if (severity != NULL &&
	    (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0)) {
		free(bus->fatal);
		bus->fatal = xstrdup(msg);
	}
	log_debug("notify: %s: %s", severity != NULL ? severity : "notice", msg);
}

static void
bus_listening(struct notify_bus *bus)
{
	evtimer_del(bus->timer);
	bus->state = BUS_LISTENING;
	bus->listening_since_ms = now_ms();
	bus->trouble_logged = false;
	log_info("notify: listening");
	/* Notices sent while we were not listening are lost: every watcher
	 * has to look for itself. */
	if (bus->count > 0)
		notify_bus_wake_all(bus);
}

static void
bus_read_notices(struct notify_bus *bus)
{
	PGnotify *n;

	while (bus->pg != NULL && (n = PQnotifies(bus->pg)) != NULL) {
		if (strcmp(n->relname, NOTIFY_CHANNEL) == 0 &&
		    notify_bus_dispatch(bus, n->extra) < 0)
			log_debug("notify: ignoring a malformed notice \"%.80s\"", n->extra);
		PQfreemem(n);
	}
}

static void
bus_collect(struct notify_bus *bus)
{
	PGresult *res;
	char *error;

	if (bus->state == BUS_LISTEN) {
		while (!PQisBusy(bus->pg) && (res = PQgetResult(bus->pg)) != NULL) {
			if (PQresultStatus(res) != PGRES_COMMAND_OK && bus->listen_error == NULL)
				bus->listen_error = one_line(PQresultErrorMessage(res));
			PQclear(res);
		}
		if (!PQisBusy(bus->pg)) {
			if (bus->listen_error != NULL) {
				error = bus->listen_error;
				bus->listen_error = NULL;
				bus_attempt_failed(bus, error);
				free(error);
				return;
			}
			bus_listening(bus);
		}
	} else {
		/* Only a barrier's answer is expected; otherwise parse what came
		 * (a FATAL before close). */
		while (bus->pg != NULL && !PQisBusy(bus->pg) &&
		       (res = PQgetResult(bus->pg)) != NULL) {
			if (PQresultStatus(res) != PGRES_EMPTY_QUERY)
				bus->sync_failed = true;
			PQclear(res);
		}
	}
	if (bus->state == BUS_LISTENING) {
		/* Notices that came before the barrier's ReadyForQuery first. */
		bus_read_notices(bus);
		if (bus->sync_in_flight && bus->pg != NULL && !PQisBusy(bus->pg))
			sync_done(bus);
	}
	if (bus->pg != NULL && PQstatus(bus->pg) == CONNECTION_BAD) {
		if (bus->state == BUS_LISTENING)
			bus_lost(bus, PQerrorMessage(bus->pg));
		else
			bus_attempt_failed(bus, PQerrorMessage(bus->pg));
	}
}

static void
bus_poll_connect(struct notify_bus *bus)
{
	switch (PQconnectPoll(bus->pg)) {
	case PGRES_POLLING_READING:
		bus_watch(bus, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		bus_watch(bus, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		PQsetnonblocking(bus->pg, 1);
		PQsetNoticeReceiver(bus->pg, bus_notice, bus);
		bus_send_listen(bus);
		return;
	case PGRES_POLLING_FAILED:
	default:
		bus_attempt_failed(bus, PQerrorMessage(bus->pg));
		return;
	}
	if (bus->io.ev == NULL)
		bus_attempt_failed(bus, PQerrorMessage(bus->pg));
}

static void
bus_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify_bus *bus = arg;
	int r;

	if (bus->state == BUS_CONNECTING) {
		bus_poll_connect(bus);
		return;
	}
	if ((what & EV_READ) != 0 && !PQconsumeInput(bus->pg)) {
		if (bus->state == BUS_LISTENING)
			bus_lost(bus, PQerrorMessage(bus->pg));
		else
			bus_attempt_failed(bus, PQerrorMessage(bus->pg));
		return;
	}
	if (bus->want_write) {
		r = PQflush(bus->pg);
		if (r < 0) {
			bus_attempt_failed(bus, PQerrorMessage(bus->pg));
			return;
		}
		bus->want_write = r == 1;
		bus_watch(bus, bus->want_write ? EV_READ | EV_WRITE : EV_READ);
	}
	bus_collect(bus);
}

static void
bus_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct notify_bus *bus = arg;
	char msg[96];

	if (bus->state == BUS_DOWN) {
		bus_connect(bus);
		return;
	}
	if (bus->state != BUS_LISTENING) {
		snprintf(msg, sizeof(msg), "connection attempt timed out after %u ms",
		         bus->connect_timeout_ms);
		bus_attempt_failed(bus, msg);
	}
}

static void
bus_connect(struct notify_bus *bus)
{
	const char *keys[] = {"fallback_application_name", "dbname", NULL};
	const char *values[] = {"floed-notify", bus->conninfo, NULL};
	struct timeval tv;

	bus->state = BUS_CONNECTING;
	bus->pg = PQconnectStartParams(keys, values, 1);
	if (bus->pg == NULL) {
		bus_attempt_failed(bus, "out of memory");
		return;
	}
	if (PQstatus(bus->pg) == CONNECTION_BAD) {
		bus_attempt_failed(bus, PQerrorMessage(bus->pg));
		return;
	}
	if (bus->connect_timeout_ms > 0) {
		tv.tv_sec = bus->connect_timeout_ms / 1000;
		tv.tv_usec = (bus->connect_timeout_ms % 1000) * 1000;
		evtimer_add(bus->timer, &tv);
	}
	bus_watch(bus, EV_WRITE);
	if (bus->io.ev == NULL)
		bus_attempt_failed(bus, "no socket for the connection");
}

struct notify_bus *
notify_bus_create(struct event_base *base, const char *conninfo, unsigned connect_timeout_ms)
{
	struct notify_bus *bus = xcalloc(1, sizeof(*bus));

	bus->base = base;
	bus->conninfo = xstrdup(conninfo != NULL ? conninfo : "");
	bus->connect_timeout_ms = connect_timeout_ms;
	pg_socket_init(&bus->io);
	bus->timer = evtimer_new(base, bus_timer_cb, bus);
	bus->sync_ev = event_new(base, -1, 0, sync_ev_cb, bus);
	bus->nbuckets = NOTIFY_BUCKETS_MIN;
	bus->buckets = xcalloc(bus->nbuckets, sizeof(*bus->buckets));
	bus_connect(bus);
	return bus;
}

void
notify_bus_destroy(struct notify_bus **busp)
{
	struct notify_bus *bus = *busp;

	if (bus == NULL)
		return;
	/* A dispatch on the stack would walk freed chains. */
	assert(bus->dispatching == 0);
	*busp = NULL;
	/* Barriers still waiting are freed without a call. */
	event_free(bus->sync_ev);
	bus->sync_ev = NULL;
	bus_teardown(bus);
	event_free(bus->timer);
	for (int i = 0; i < SYNC_STATES; i++) {
		struct notify_sync *s;

		while ((s = bus->syncs[i].head) != NULL) {
			sync_unlink(s);
			free(s);
		}
	}
	for (size_t i = 0; i < bus->nbuckets; i++) {
		struct notify_watch *w = bus->buckets[i], *next;

		for (; w != NULL; w = next) {
			next = w->next;
			free(w);
		}
	}
	free(bus->buckets);
	free(bus->conninfo);
	free(bus);
}

bool
notify_bus_is_up(const struct notify_bus *bus)
{
	return bus != NULL && bus->state == BUS_LISTENING;
}
