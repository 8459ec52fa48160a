/* An account's auto-responder settings (table responders, migration
 * 0007): set by the administrator (floectl), by the user through EAS
 * Settings Oof, and read by delivery (modules/delivery.c) for every
 * message it stores. Asynchronous like the rest of the store (store.h). */
#ifndef FLOE_STORE_RESPONDER_H
#define FLOE_STORE_RESPONDER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

enum store_responder_mode {
	STORE_RESPONDER_OFF,
	STORE_RESPONDER_ALWAYS,   /* every message */
	STORE_RESPONDER_ONCE,     /* once per sender */
	STORE_RESPONDER_INTERVAL, /* again after interval_days per sender */
};

struct store_responder {
	enum store_responder_mode mode;
	unsigned interval_days;      /* INTERVAL only */
	time_t starts_at, ends_at;   /* 0: no bound; outside the window it is off */
	const char *subject;         /* may hold %%Subject%%-style variables */
	const char *body;            /* text/plain; replies to senders in our domains */
	const char *external_body;   /* for other senders; NULL: same as body */
	bool reply_external;         /* answer senders outside our domains */
	const char *const *never_reply; /* addresses or @domains never answered */
	size_t nnever_reply;
};

/* The settings (mode OFF and empty texts when none were ever set). */
typedef void store_responder_cb(const struct store_responder *r, enum store_err code,
				const char *error, void *ctx);
struct store_op *store_responder_get(struct store *store, uint64_t account_id,
				     store_responder_cb *cb, void *ctx);
/* Replaces the settings in one transaction (STORE_ERR_INVALID for an
 * interval of 0 with INTERVAL, or ends_at before starts_at). Changing them
 * forgets whom the responder has already answered. */
struct store_op *store_responder_set(struct store *store, uint64_t account_id,
				     const struct store_responder *r, store_done_cb *cb,
				     void *ctx);

#endif
