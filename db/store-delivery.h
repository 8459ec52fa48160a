/* The store side of local delivery (modules/delivery.c): address
 * resolution with each account's INBOX, forwarding and auto-responder in
 * one query, the responder's "already answered" log, the folder a Sent
 * copy goes to, and send-as checks. Asynchronous like the rest of the
 * store (store.h): one callback per operation, data valid during it only.
 * Messages themselves are written with store_append. */
#ifndef FLOE_STORE_DELIVERY_H
#define FLOE_STORE_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store-responder.h"
#include "store.h"

enum store_rcpt_kind {
	STORE_RCPT_LOCAL,    /* an account or an alias of one */
	STORE_RCPT_GROUP,    /* a group: its enabled member accounts */
	STORE_RCPT_NOSUCH,   /* one of our domains, no such address */
	STORE_RCPT_DISABLED, /* an account that is disabled */
	STORE_RCPT_REMOTE,   /* not one of our domains */
};

/* An account an address reaches, with what delivery needs to know. */
struct store_rcpt_account {
	uint64_t id;
	const char *address;        /* its own address, local@domain */
	uint64_t inbox_id;          /* 0: it has no INBOX */
	const char *const *forward; /* forwarding targets; NULL when none */
	size_t nforward;
	bool keep_copy;
	struct store_responder responder; /* mode OFF when never set */
};

struct store_rcpt {
	enum store_rcpt_kind kind;
	const struct store_rcpt_account *accounts; /* LOCAL: one; GROUP: the members */
	size_t naccounts;
};

/* Resolves addresses (lower-cased "local@domain"); rcpts[i] answers
 * addresses[i]. On failure rcpts is NULL and error says why. */
typedef void store_rcpt_cb(const struct store_rcpt *rcpts, size_t count, const char *error,
                           void *ctx);
struct store_op *store_rcpt_resolve(struct store *store, const char *const *addresses, size_t count,
                                    store_rcpt_cb *cb, void *ctx);

/* Claims the right of account_id's responder to answer sender now: false
 * when mode once (interval_days 0) already answered that sender, or mode
 * interval did so within interval_days. A true answer is recorded. */
typedef void store_claim_cb(bool claimed, const char *error, void *ctx);
struct store_op *store_responder_claim(struct store *store, uint64_t account_id, const char *sender,
                                       unsigned interval_days, store_claim_cb *cb, void *ctx);

/* The account's folder with that special use ("sent"); folder_id 0 when
 * it has none. */
typedef void store_special_cb(uint64_t folder_id, const char *error, void *ctx);
struct store_op *store_special_folder(struct store *store, uint64_t account_id,
                                      const char *special_use, store_special_cb *cb, void *ctx);

/* Whether account_id may send as address (lower-cased): its own address,
 * one of its aliases, or an address delegated to it (table send_as). */
typedef void store_bool_cb(bool value, const char *error, void *ctx);
struct store_op *store_send_as_allowed(struct store *store, uint64_t account_id,
                                       const char *address, store_bool_cb *cb, void *ctx);

#endif
