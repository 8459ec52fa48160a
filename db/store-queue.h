/* The outgoing queue and the submission state in PostgreSQL (migration
 * 0008): enqueue, claim due recipients under a lease, load a message,
 * record results, purge finished messages; the per-account submission rate
 * window and the "save to Sent" setting. Asynchronous on the worker's db
 * pool: every call returns a handle at once and calls its callback exactly
 * once from the event loop (never from inside the call), unless the handle
 * is abandoned first. Each operation is one SQL statement, hence one
 * transaction. */
#ifndef FLOE_STORE_QUEUE_H
#define FLOE_STORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct store_queue_op;

/* The callback will not be called. Sets *op to NULL; accepts NULL. */
void store_queue_op_abandon(struct store_queue_op **op);

/* A recipient's life: QUEUED -> DELIVERING (leased) -> DELIVERED, or
 * DEFERRED (and due again later), or, failed for good, BOUNCING (leased
 * while the DSN is handed over) -> BOUNCED, or BOUNCE_PENDING when the
 * hand-over failed (due again later, then BOUNCING again), or FAILED
 * when no DSN goes out (null sender, or the DSN itself failed for good). */
enum store_queue_state {
	STORE_QUEUE_QUEUED,
	STORE_QUEUE_DEFERRED,
	STORE_QUEUE_DELIVERING,
	STORE_QUEUE_DELIVERED,
	STORE_QUEUE_FAILED,
	STORE_QUEUE_BOUNCED,
	STORE_QUEUE_BOUNCING,
	STORE_QUEUE_BOUNCE_PENDING,
};
/* "queued", "deferred", ... as stored; parse returns 0 or -1. */
const char *store_queue_state_name(enum store_queue_state state);
int store_queue_state_parse(const char *name, enum store_queue_state *state_r);

/* Inserts the message and its recipients (addresses; duplicates are
 * stored once) and sends pg_notify('floe_queue', '<id>'), all in one
 * statement. account_id 0: no submitting account; mail_from "" is the
 * null sender; envelope_id may be NULL. cb gets the new id, or 0 and an
 * error (nothing was queued). */
typedef void store_queue_enqueue_cb(uint64_t message_id, const char *error, void *ctx);
struct store_queue_op *store_queue_enqueue(struct db *db, uint64_t account_id,
                                           const char *mail_from, const char *envelope_id,
                                           const void *data, size_t size, const char *const *rcpts,
                                           size_t nrcpts, store_queue_enqueue_cb *cb, void *ctx);

/* One recipient handed to a runner. */
struct store_queue_rcpt {
	const char *recipient;
	const char *domain;
	/* DELIVERING: to be delivered; BOUNCING: failed earlier, its DSN is
	 * to be handed over (last_error and remote say why) */
	enum store_queue_state state;
	unsigned attempts;        /* delivery attempts, including one now starting */
	unsigned bounce_attempts; /* BOUNCING: hand-overs, including this one */
	uint64_t failed_age_ms;   /* BOUNCING: since it failed for good */
	const char *last_error;   /* "550 5.1.1 ..." or NULL */
	const char *remote;       /* the server that answered, or NULL */
};
struct store_queue_claimed {
	uint64_t message_id;
	struct store_queue_rcpt *rcpts;
	size_t nrcpts;
};
/* Claims up to max_messages messages with due recipients (queued,
 * deferred or bounce_pending with next_try_at reached, or delivering or
 * bouncing with an expired lease), skipping messages another runner is
 * claiming at this moment: their due recipients become "delivering"
 * (attempts + 1) or, when their DSN is owed, "bouncing" (bounce_attempts
 * + 1), leased to runner until lease_ms from now. msgs (NULL when none)
 * and error are valid during the call only. */
typedef void store_queue_claim_cb(const struct store_queue_claimed *msgs, size_t count,
                                  const char *error, void *ctx);
struct store_queue_op *store_queue_claim(struct db *db, const char *runner, unsigned max_messages,
                                         unsigned lease_ms, store_queue_claim_cb *cb, void *ctx);

struct store_queue_message {
	uint64_t id;
	uint64_t account_id; /* 0: none */
	const char *mail_from;
	const char *envelope_id; /* NULL when none */
	const unsigned char *data;
	size_t size;
	uint64_t age_ms;    /* since it was queued */
	int64_t created_at; /* Unix time */
};
/* Reads a message. msg is NULL with error "no such message" when it was
 * removed meanwhile. Valid during the call only. */
typedef void store_queue_load_cb(const struct store_queue_message *msg, const char *error,
                                 void *ctx);
struct store_queue_op *store_queue_load(struct db *db, uint64_t message_id, store_queue_load_cb *cb,
                                        void *ctx);

/* The outcome of one attempt for one recipient. */
struct store_queue_result {
	const char *recipient;
	/* DELIVERED, DEFERRED, FAILED, BOUNCING (the lease is renewed for
	 * lease_ms while this runner hands the DSN over), BOUNCE_PENDING,
	 * BOUNCED */
	enum store_queue_state state;
	unsigned retry_ms;  /* DEFERRED, BOUNCE_PENDING: next try this long from now */
	const char *error;  /* the reply or reason; NULL: keep the last one */
	const char *remote; /* the server that answered; NULL: keep */
};
/* Records results, only for recipients this runner still leases
 * (delivering or bouncing; a lease that expired and was taken over is
 * left alone). cb gets the number of rows changed, or an error. */
typedef void store_queue_done_cb(unsigned long changed, const char *error, void *ctx);
struct store_queue_op *store_queue_record(struct db *db, uint64_t message_id, const char *runner,
                                          unsigned lease_ms,
                                          const struct store_queue_result *results, size_t count,
                                          store_queue_done_cb *cb, void *ctx);

/* Gives back every lease runner holds (a runner stopping before its
 * deliveries finished): delivering recipients become queued or deferred
 * again with the interrupted attempt not counted, bouncing ones
 * bounce_pending; all due at once, so another runner takes them now
 * rather than when the lease would have expired. cb gets the number of
 * recipients released. */
struct store_queue_op *store_queue_release(struct db *db, const char *runner,
                                           store_queue_done_cb *cb, void *ctx);

/* Deletes up to 1000 messages whose recipients are all finished
 * (delivered, failed, bounced) since at least keep_ms. */
struct store_queue_op *store_queue_purge(struct db *db, unsigned keep_ms, store_queue_done_cb *cb,
                                         void *ctx);

/* Submission rate limit: counts one message for account_id in the current
 * one-hour window unless limit are already counted. allowed is false when
 * the limit is reached (nothing counted). */
typedef void store_smtp_rate_cb(bool allowed, const char *error, void *ctx);
struct store_queue_op *store_smtp_rate_take(struct db *db, uint64_t account_id, unsigned limit,
                                            store_smtp_rate_cb *cb, void *ctx);

/* The account's "save submitted mail to Sent" setting (false without a
 * row). */
typedef void store_smtp_settings_cb(bool save_to_sent, const char *error, void *ctx);
struct store_queue_op *store_smtp_settings_get(struct db *db, uint64_t account_id,
                                               store_smtp_settings_cb *cb, void *ctx);

/* Helpers shared with the blocking side (db/admin-queue.c). */
/* Decodes a bytea in PostgreSQL's hex text form ("\x4142"). Returns 0
 * with *data_r (NUL-terminated, the caller frees) and *len_r, or -1. */
int store_queue_bytea_decode(const char *text, unsigned char **data_r, size_t *len_r);
/* The lower-cased domain of an address (after the last '@'; "" when
 * none). The caller frees. */
char *store_queue_domain(const char *address);

#endif
