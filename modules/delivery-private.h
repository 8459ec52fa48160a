/* Internals of local delivery shared by modules/delivery.c (the object,
 * resolution, storing into INBOXes, submission) and
 * modules/delivery-rules.c (forwarding and the auto-responder, which run
 * after a message was stored, as operations of their own). */
#ifndef FLOE_DELIVERY_PRIVATE_H
#define FLOE_DELIVERY_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/util.h>

#include "delivery.h"
#include "responder.h"
#include "store-delivery.h"

struct event;
struct queue_op;

struct delivery {
	struct event_base *base;
	const struct floe_config *cfg;
	struct db *db;
	struct store *store;
	struct queue *queue; /* NULL: remote targets cannot be reached */
	char hostname[256];
	LIST_HEAD(, delivery_op) ops;
};

enum delivery_op_kind {
	DELIVERY_OP_RESOLVE,
	DELIVERY_OP_ALLOWED,
	DELIVERY_OP_LOCAL,
	DELIVERY_OP_SUBMIT,
	DELIVERY_OP_FORWARD,
	DELIVERY_OP_REPLY,
};

/* A distinct account a local delivery stores into. */
struct delivery_acct {
	uint64_t id;
	char *address;
	uint64_t inbox_id;
	bool direct;    /* reached by its own address or alias, not only through a group */
	bool store;     /* a copy goes into its INBOX */
	char **forward; /* forwarding targets to run after storing; NULL: none */
	size_t nforward;
	struct store_responder resp; /* deep copy (strings owned) */
	struct store_op *sop;
	int code;
	const char *enhanced;
	char *text;
};

/* What a recipient of a local delivery turned out to be. */
struct delivery_rcpt_state {
	enum store_rcpt_kind kind;
	size_t *accts; /* indexes into accts */
	size_t naccts;
};

struct delivery_op {
	struct delivery *d;
	LIST_ENTRY(delivery_op) entry;
	enum delivery_op_kind kind;
	bool calling; /* the caller's callback is running */
	struct event *defer;
	struct store_op *sop;
	struct queue_op *qop;

	delivery_addr_cb *addr_cb;
	delivery_done_cb *done_cb;
	delivery_allowed_cb *allowed_cb;
	void *ctx;

	/* The message: bytes as given, the envelope, its header scan. */
	char *data;
	size_t size;
	char *sender; /* "" for <> */
	char *helo, *client_addr, *protocol;
	unsigned flags;
	struct responder_msg scan;
	char *stored; /* trace fields + data, as stored */
	size_t stored_size;
	char *received; /* this hop's Received: field without "for", for forwarded copies */

	char **rcpts; /* as given */
	char **norm;  /* normalised */
	size_t nrcpts;
	struct delivery_rcpt_state *rs;
	struct delivery_acct *accts;
	size_t naccts;
	bool sender_local;
	size_t pending;
	struct delivery_rcpt_result *results;

	/* Parsed fields the responder needs (from message_parse). */
	char *subject, *from, *message_id, *references;

	/* Submission. */
	uint64_t account_id;
	bool save_to_sent;
	struct delivery_op *child; /* the local part */
	size_t *local_idx;         /* rcpt index of each local recipient */
	size_t nlocal;
	char **remote;
	size_t nremote;
	size_t *remote_idx;
	size_t submit_pending;

	/* Forwarding and replies. */
	char *owner_address;
	unsigned interval_days;
	enum store_responder_mode mode;
	char *reply_subject, *reply_body;
};

/* delivery.c */
struct delivery_op *delivery_op_new(struct delivery *d, enum delivery_op_kind kind, void *ctx);
void delivery_op_free(struct delivery_op *op);
/* Calls fn(op) from the event loop. */
void delivery_op_defer(struct delivery_op *op, void (*fn)(evutil_socket_t, short, void *));
/* Lower-cases the domain (and, as stored addresses are, the local part);
 * strips angle brackets. NULL when it is not an address. */
char *delivery_normalize(const char *address);
/* The results callback for deliveries started by Floe itself (forwarded
 * copies, auto-replies): logs each result; ctx is a static label. */
void delivery_log_results(const struct delivery_rcpt_result *results, size_t count, void *ctx);

/* A header value with control characters replaced (never NULL). */
char *delivery_field_safe(const char *s);
/* The line end data uses ("\r\n" when it has none). */
const char *delivery_eol_of(const char *data, size_t size);
/* This hop's Received: field (with its line end), naming for_addr when
 * not NULL. The caller frees. */
char *delivery_received_field(struct delivery_op *op, const char *for_addr, const char *eol);
/* Copies msg's bytes and envelope into op. */
void delivery_msg_copy(struct delivery_op *op, const struct delivery_message *msg);

/* delivery-rules.c: run after op (a local delivery) stored its message. */
void delivery_rules_run(struct delivery_op *op);
/* Frees the rules' part of an operation. */
void delivery_rules_free(struct delivery_op *op);

#endif
