/* Internals of the outgoing queue shared by its files: the runner with
 * its settings, claims and graceful stop (queue.c), the delivery of one
 * claimed message over SMTP (queue-deliver.c) and the DSN for the
 * recipients that failed for good (queue-bounce.c). */
#ifndef FLOE_QUEUE_PRIVATE_H
#define FLOE_QUEUE_PRIVATE_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "queue.h"
#include "smtp-client.h"
#include "store-queue.h"

struct event;
struct mx_host;
struct mx_request;
struct mx_resolver;
struct store_queue_claimed;

/* One recipient of a message being delivered or bounced. */
struct qrcpt {
	char *address;
	char *domain;
	unsigned attempts;        /* including this one */
	unsigned bounce_attempts; /* DSN hand-overs, including this one */
	uint64_t failed_age_ms;   /* since it failed for good (claimed bouncing) */
	int code;                 /* the reply (0: none yet) */
	char *text;               /* "5.1.1 No such user" */
	char *remote;             /* the server that answered, or NULL */
	/* DELIVERING while its route runs, then the outcome; BOUNCING when
	 * it was claimed for its DSN only */
	enum store_queue_state state;
	bool claimed_bouncing; /* failed on an earlier run: only its DSN is due */
	bool released;         /* its route was abandoned at shutdown */
};

struct qmsg;

/* One destination of a message: the relay, or one recipient domain. */
struct qroute {
	struct qmsg *m;
	const char *domain;
	size_t *idx; /* recipients of the message on this route */
	size_t nidx;
	struct mx_request *dns;
	struct mx_host *hosts;
	size_t nhosts, host_i, addr_i;
	struct smtp_client *client;
	bool done;
	char last_error[512];
};

/* A claimed message. */
struct qmsg {
	struct queue *q;
	LIST_ENTRY(qmsg) entry;
	uint64_t id;
	struct qrcpt *rcpts;
	size_t nrcpts;
	struct qroute *routes;
	size_t nroutes, pending_routes;
	struct store_queue_op *op;
	size_t nrecorded; /* results handed to store_queue_record */
	unsigned char *data;
	size_t size;
	char *mail_from;
	char *envelope_id;
	uint64_t age_ms;
	int64_t created_at;
	uint64_t account_id;
	/* the bounce */
	char *dsn;
	size_t dsn_size;
	struct delivery_op *bounce_op;
	struct store_queue_op *bounce_qop;
};

struct queue {
	struct event_base *base;
	const struct floe_config *cfg;
	struct db *db;
	struct delivery *delivery;
	struct mx_resolver *mx;
	SSL_CTX *ssl;
	char hostname[256];
	char runner[300];                        /* "host:pid": who holds a lease */
	struct smtp_client_settings client;      /* towards the relay */
	struct smtp_client_settings mx_settings; /* towards MX hosts */
	bool use_relay;
	char relay_host[256];
	uint16_t relay_port;
	char relay_error[300]; /* a bad relay setting: everything waits */
	struct event *timer, *kick;
	struct store_queue_op *claim_op, *purge_op;
	time_t last_purge;
	unsigned active; /* claimed messages in progress */
	bool claim_failing;
	LIST_HEAD(, qmsg) msgs;
	LIST_HEAD(, queue_op) ops;
	/* graceful stop */
	bool stopping;
	bool released; /* the leases have been given back */
	struct event *deadline;
	struct store_queue_op *release_op;
	void (*drained)(void *ctx);
	void *drained_ctx;
};

/* queue.c: a message has finished (freed): look for more work, or, when
 * stopping, check whether the queue has drained. */
void queue_msg_finished(struct queue *q);

/* queue-deliver.c */
/* Takes over one claimed message: loads it, delivers its DELIVERING
 * recipients, records the outcome and bounces what failed for good. */
void queue_msg_start(struct queue *q, const struct store_queue_claimed *claimed);
/* Shutdown timeout: abandons the message's SMTP sessions and DNS
 * lookups; their recipients stay leased for store_queue_release. The
 * message may be freed inside this call. */
void queue_msg_interrupt(struct qmsg *m);
/* Frees the message without recording anything (queue_destroy). */
void queue_msg_free(struct qmsg *m);
/* The message is finished here: frees it and tells the runner. */
void queue_msg_done(struct qmsg *m);

/* queue-bounce.c: hands a DSN for the recipients in state BOUNCING to
 * the sender (delivered locally or queued), records BOUNCED, or
 * BOUNCE_PENDING to try again later, or FAILED when it cannot ever be
 * handed over, then queue_msg_done. */
void queue_bounce(struct qmsg *m);

#endif
