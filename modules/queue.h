/* The outgoing queue: messages for remote recipients, kept in PostgreSQL
 * (tables queue_messages and queue_recipients, migration 0008) with
 * state, attempts and next try per recipient. Every worker runs a queue
 * runner; exactly one delivers a given message at a time (row locking
 * with FOR UPDATE SKIP LOCKED and a lease), to the configured relay or to
 * the recipient domain's MX, retrying temporary failures with back-off
 * until [queue] max_age, then bouncing with an RFC 3464 DSN to the sender
 * (delivered locally or queued); permanent failures bounce at once. A DSN
 * that cannot be handed over yet stays owed (bounce_pending) and is
 * retried like a delivery. The code: queue.c (runner, graceful stop),
 * queue-deliver.c (one message over SMTP), queue-bounce.c (the DSN). */
#ifndef FLOE_QUEUE_H
#define FLOE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct event_base;
struct floe_config;
struct queue;
struct queue_op;
struct delivery;

/* Creates the worker's queue and starts its runner. */
struct queue *queue_create(struct event_base *base, const struct floe_config *cfg, struct db *db);
/* The runner bounces through delivery (set once both exist). */
void queue_set_delivery(struct queue *q, struct delivery *d);
/* Graceful stop (worker shutdown or reload): claims nothing more, lets
 * the deliveries in progress finish until shortly before [server]
 * shutdown_timeout, then abandons the rest, and gives every lease this
 * runner still holds back in the database (store_queue_release), so
 * that another runner retries those recipients at once instead of after
 * [queue] lease. done(ctx) is called from the event loop once that is
 * over (never from inside this call). Enqueueing still works meanwhile. */
void queue_shutdown(struct queue *q, void (*done)(void *ctx), void *ctx);
/* Stops the runner at once (deliveries in progress are abandoned: their
 * lease expires and another worker retries them). Enqueue operations
 * still running get their callback with "shutting down" from inside this
 * call. Accepts NULL; sets *q to NULL. */
void queue_destroy(struct queue **q);
void queue_op_abandon(struct queue_op **op);

/* Queues data for rcpts (remote addresses) from mail_from ("" = <>) in one
 * transaction, then wakes the runners (pg_notify 'floe_queue'). cb gets
 * the new message id, or error (then nothing was queued). */
typedef void queue_enqueue_cb(uint64_t message_id, const char *error, void *ctx);
struct queue_op *queue_enqueue(struct queue *q, uint64_t account_id, const char *mail_from,
                               const void *data, size_t size, const char *const *rcpts,
                               size_t nrcpts, queue_enqueue_cb *cb, void *ctx);

/* The back-off before the next try after attempt number attempts (1 for
 * the first): retry_min_ms doubled per further attempt, at most
 * retry_max_ms. */
unsigned queue_retry_delay(unsigned retry_min_ms, unsigned retry_max_ms, unsigned attempts);

#endif
