/* The queue runner (see queue.h): settings, claiming due messages every
 * poll_interval and at once after this worker queued something or
 * finished a message, purging finished messages, the graceful stop that
 * gives unfinished leases back, and enqueueing. One claimed message is
 * delivered by queue-deliver.c and bounced by queue-bounce.c. */
#include "queue-private.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "mx.h"
#include "xmalloc.h"

/* Purge finished messages about this often. */
#define PURGE_INTERVAL_S 600
/* At most this much of the shutdown timeout is kept for giving leases
 * back once deliveries in progress have been abandoned. */
#define RELEASE_MARGIN_MS 2000

struct queue_op {
	struct queue *q;
	LIST_ENTRY(queue_op) entry;
	struct store_queue_op *op;
	queue_enqueue_cb *cb;
	void *ctx;
};

static void queue_kick(struct queue *q);
static void queue_check_drained(struct queue *q);

/* ---------------------------------------------------------------------
 * Settings
 */

static const char *
queue_hostname_default(char *buf, size_t size)
{
	if (gethostname(buf, size) < 0 || buf[0] == '\0')
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
	return buf;
}

static void
queue_settings(struct queue *q, const struct floe_config *cfg)
{
	const char *tls = cfg->queue.relay_tls;

	if (cfg->queue.hostname[0] != '\0')
		snprintf(q->hostname, sizeof(q->hostname), "%s", cfg->queue.hostname);
	else
		queue_hostname_default(q->hostname, sizeof(q->hostname));
	snprintf(q->runner, sizeof(q->runner), "%s:%ld", q->hostname, (long)getpid());

	q->client.helo = q->hostname;
	q->client.tls_verify = cfg->queue.relay_tls_verify;
	q->client.user = NULL;
	q->client.password = NULL;
	q->client.connect_timeout_ms = cfg->queue.connect_timeout_ms;
	q->client.command_timeout_ms = cfg->queue.command_timeout_ms;
	q->client.data_block_timeout_ms = cfg->queue.data_block_timeout_ms;
	q->client.data_end_timeout_ms = cfg->queue.data_end_timeout_ms;
	q->mx_settings = q->client;
	q->mx_settings.tls = SMTP_CLIENT_TLS_OPPORTUNISTIC;
	q->mx_settings.tls_verify = false;

	if (cfg->queue.relay[0] == '\0')
		return;
	q->use_relay = true;
	if (mx_split_hostport(cfg->queue.relay, q->relay_host, sizeof(q->relay_host), 25,
	                      &q->relay_port) < 0) {
		snprintf(q->relay_error, sizeof(q->relay_error),
		         "4.3.5 [queue] relay = %s is not host:port", cfg->queue.relay);
	}
	if (strcasecmp(tls, "off") == 0) {
		q->client.tls = SMTP_CLIENT_TLS_OFF;
	} else if (strcasecmp(tls, "opportunistic") == 0) {
		q->client.tls = SMTP_CLIENT_TLS_OPPORTUNISTIC;
	} else if (strcasecmp(tls, "required") == 0) {
		q->client.tls = SMTP_CLIENT_TLS_REQUIRED;
	} else if (strcasecmp(tls, "implicit") == 0) {
		q->client.tls = SMTP_CLIENT_TLS_IMPLICIT;
	} else {
		snprintf(
		    q->relay_error, sizeof(q->relay_error),
		    "4.3.5 [queue] relay_tls = %s is not off, opportunistic, required or implicit",
		    tls);
	}
	if (cfg->queue.relay_user[0] != '\0') {
		q->client.user = cfg->queue.relay_user;
		q->client.password = cfg->queue.relay_password;
	}
	if (q->relay_error[0] != '\0')
		log_error("%s: %s; outgoing mail waits until it is fixed", cfg->path,
		          q->relay_error + 6);
}

/* The delay before retry number attempts + 1: retry_min doubled per
 * attempt, at most retry_max. */
unsigned
queue_retry_delay(unsigned retry_min_ms, unsigned retry_max_ms, unsigned attempts)
{
	uint64_t d = retry_min_ms > 0 ? retry_min_ms : 1000;

	for (unsigned i = 1; i < attempts && d < retry_max_ms; i++)
		d *= 2;
	if (d > retry_max_ms && retry_max_ms > 0)
		d = retry_max_ms;
	return (unsigned)d;
}

/* ---------------------------------------------------------------------
 * The runner
 */

static void
queue_claimed(const struct store_queue_claimed *msgs, size_t count, const char *error, void *ctx)
{
	struct queue *q = ctx;

	q->claim_op = NULL;
	if (q->stopping) {
		/* Too late to start them: store_queue_release gives them back. */
		queue_check_drained(q);
		return;
	}
	if (error != NULL) {
		/* Once per outage, not at every poll. */
		if (!q->claim_failing)
			log_warning("queue: cannot look for due messages: %s", error);
		q->claim_failing = true;
		return;
	}
	if (q->claim_failing)
		log_info("queue: looking for due messages again");
	q->claim_failing = false;
	for (size_t i = 0; i < count; i++)
		queue_msg_start(q, &msgs[i]);
	/* A full batch: there may be more right away. */
	if (count > 0 && q->active < q->cfg->queue.max_parallel)
		queue_kick(q);
}

static void
queue_purged(unsigned long changed, const char *error, void *ctx)
{
	struct queue *q = ctx;

	q->purge_op = NULL;
	if (error != NULL)
		log_warning("queue: cannot purge finished messages: %s", error);
	else if (changed > 0)
		log_info("queue: purged %lu finished message(s)", changed);
}

static void
queue_run(struct queue *q)
{
	time_t now = time(NULL);

	if (q->stopping || q->claim_op != NULL)
		return;
	if (q->purge_op == NULL && now - q->last_purge >= PURGE_INTERVAL_S) {
		q->last_purge = now;
		q->purge_op = store_queue_purge(q->db, q->cfg->queue.keep_done_ms, queue_purged, q);
	}
	if (q->active >= q->cfg->queue.max_parallel)
		return;
	q->claim_op = store_queue_claim(q->db, q->runner, q->cfg->queue.max_parallel - q->active,
	                                q->cfg->queue.lease_ms, queue_claimed, q);
}

static void
queue_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	unsigned ms = q->cfg->queue.poll_interval_ms > 0 ? q->cfg->queue.poll_interval_ms : 5000;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(q->timer, &tv);
	queue_run(q);
}

static void
queue_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	queue_run(arg);
}

/* Runs the runner from a fresh loop iteration. */
static void
queue_kick(struct queue *q)
{
	if (!q->stopping)
		event_active(q->kick, EV_TIMEOUT, 0);
}

void
queue_msg_finished(struct queue *q)
{
	if (q->stopping)
		queue_check_drained(q);
	else
		queue_kick(q);
}

struct queue *
queue_create(struct event_base *base, const struct floe_config *cfg, struct db *db)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	struct timeval first = {0, 200 * 1000};

	q->base = base;
	q->cfg = cfg;
	q->db = db;
	LIST_INIT(&q->msgs);
	LIST_INIT(&q->ops);
	queue_settings(q, cfg);
	q->ssl = smtp_client_ssl_ctx();
	if (q->ssl == NULL)
		log_error("queue: cannot create a TLS client context; delivering without TLS");
	q->mx = mx_resolver_create(base, cfg->queue.resolver_threads);
	q->timer = evtimer_new(base, queue_timer_cb, q);
	q->kick = evtimer_new(base, queue_kick_cb, q);
	/* The first look shortly after start, once the pool is connected. */
	evtimer_add(q->timer, &first);
	return q;
}

void
queue_set_delivery(struct queue *q, struct delivery *d)
{
	q->delivery = d;
}

void
queue_destroy(struct queue **qp)
{
	struct queue *q = *qp;
	struct queue_op *op;

	if (q == NULL)
		return;
	*qp = NULL;
	q->stopping = true;
	while (!LIST_EMPTY(&q->msgs))
		queue_msg_free(LIST_FIRST(&q->msgs));
	while ((op = LIST_FIRST(&q->ops)) != NULL) {
		LIST_REMOVE(op, entry);
		store_queue_op_abandon(&op->op);
		op->cb(0, "shutting down", op->ctx);
		free(op);
	}
	store_queue_op_abandon(&q->claim_op);
	store_queue_op_abandon(&q->purge_op);
	store_queue_op_abandon(&q->release_op);
	mx_resolver_destroy(&q->mx);
	if (q->ssl != NULL)
		SSL_CTX_free(q->ssl);
	event_free(q->timer);
	event_free(q->kick);
	if (q->deadline != NULL)
		event_free(q->deadline);
	free(q);
}

/* ---------------------------------------------------------------------
 * Graceful stop
 */

static void
queue_released(unsigned long changed, const char *error, void *ctx)
{
	struct queue *q = ctx;
	void (*done)(void *) = q->drained;

	q->release_op = NULL;
	if (error != NULL)
		log_warning("queue: cannot give the leases back (another runner takes them "
		            "when they expire): %s",
		            error);
	else if (changed > 0)
		log_info("queue: gave %lu unfinished recipient(s) back for another runner",
		         changed);
	q->drained = NULL;
	if (done != NULL)
		done(q->drained_ctx);
}

/* Once nothing runs any more, the leases still held (claims that came back
 * while stopping, deliveries abandoned at the timeout) are given back in
 * one statement; then the queue has drained. */
static void
queue_check_drained(struct queue *q)
{
	if (!q->stopping || q->released || q->active > 0 || q->claim_op != NULL)
		return;
	q->released = true;
	q->release_op = store_queue_release(q->db, q->runner, queue_released, q);
}

static void
queue_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	struct qmsg *m, *next;

	if (q->active > 0)
		log_warning("queue: shutdown timeout: abandoning %u message(s) still being "
		            "delivered",
		            q->active);
	/* Each may finish (and be freed) at once; the next one stays valid. */
	for (m = LIST_FIRST(&q->msgs); m != NULL; m = next) {
		next = LIST_NEXT(m, entry);
		queue_msg_interrupt(m);
	}
	queue_check_drained(q);
}

void
queue_shutdown(struct queue *q, void (*done)(void *ctx), void *ctx)
{
	unsigned timeout = q->cfg->server.shutdown_timeout_ms;
	unsigned margin = timeout / 4 < RELEASE_MARGIN_MS ? timeout / 4 : RELEASE_MARGIN_MS;
	struct timeval tv = {(timeout - margin) / 1000, ((timeout - margin) % 1000) * 1000};

	q->stopping = true;
	q->drained = done;
	q->drained_ctx = ctx;
	evtimer_del(q->timer);
	event_del(q->kick);
	/* A purge is only housekeeping; the next runner does it. */
	store_queue_op_abandon(&q->purge_op);
	if (q->active > 0)
		log_info("queue: stopping: waiting for %u message(s) being delivered", q->active);
	q->deadline = evtimer_new(q->base, queue_deadline_cb, q);
	evtimer_add(q->deadline, &tv);
	queue_check_drained(q);
}

/* ---------------------------------------------------------------------
 * Enqueue
 */

static void
queue_enqueued(uint64_t id, const char *error, void *ctx)
{
	struct queue_op *op = ctx;
	struct queue *q = op->q;

	op->op = NULL;
	LIST_REMOVE(op, entry);
	if (error == NULL) {
		log_info("queue: message %" PRIu64 " queued", id);
		queue_kick(q);
	} else {
		log_error("queue: cannot queue a message: %s", error);
	}
	op->cb(id, error, op->ctx);
	free(op);
}

struct queue_op *
queue_enqueue(struct queue *q, uint64_t account_id, const char *mail_from, const void *data,
              size_t size, const char *const *rcpts, size_t nrcpts, queue_enqueue_cb *cb, void *ctx)
{
	struct queue_op *op = xcalloc(1, sizeof(*op));

	op->q = q;
	op->cb = cb;
	op->ctx = ctx;
	LIST_INSERT_HEAD(&q->ops, op, entry);
	op->op = store_queue_enqueue(q->db, account_id, mail_from, NULL, data, size, rcpts, nrcpts,
	                             queue_enqueued, op);
	return op;
}

void
queue_op_abandon(struct queue_op **opp)
{
	struct queue_op *op = *opp;

	if (op == NULL)
		return;
	*opp = NULL;
	LIST_REMOVE(op, entry);
	store_queue_op_abandon(&op->op);
	free(op);
}
