/* The auto-responder's pure logic (RFC 3834): what the header block of an
 * incoming message says about answering it, whether an account's
 * responder answers a given message, IceWarp-style %%Variable%%
 * expansion, and the reply message itself. No I/O: modules/delivery.c
 * feeds it and sends what it builds; tests/unit/test-responder.c checks it. */
#ifndef FLOE_RESPONDER_H
#define FLOE_RESPONDER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "store-responder.h"

/* What the top-level header block of a message says. */
struct responder_msg {
	bool list;           /* List-Id or another List-* field (RFC 2369, 2919) */
	bool bulk;           /* Precedence: bulk, list or junk */
	bool auto_submitted; /* Auto-Submitted present and not "no" (RFC 3834) */
	bool suppress;       /* X-Auto-Response-Suppress: All, OOF or AutoReply */
	unsigned received;   /* number of Received: fields (hops so far) */
	char **delivered_to; /* Delivered-To: addresses, lower-cased */
	size_t ndelivered_to;
};

/* Scans the header block of data (CRLF or LF line ends). Never fails:
 * what cannot be read is not there. */
void responder_scan(const void *data, size_t size, struct responder_msg *msg_r);
void responder_msg_clear(struct responder_msg *msg);
/* Whether address (any case) is one of msg's Delivered-To addresses. */
bool responder_delivered_to(const struct responder_msg *msg, const char *address);

enum responder_verdict {
	RESPONDER_REPLY,       /* answer it (subject to once/interval) */
	RESPONDER_OFF,         /* mode off */
	RESPONDER_NOT_NOW,     /* outside the date window */
	RESPONDER_NULL_SENDER, /* <>: a bounce or another auto-reply */
	RESPONDER_DAEMON,      /* MAILER-DAEMON, list robots, no-reply addresses */
	RESPONDER_LIST,        /* List-* fields or Precedence bulk/list/junk */
	RESPONDER_AUTOMATIC,   /* Auto-Submitted or X-Auto-Response-Suppress */
	RESPONDER_NEVER,       /* the sender is on the never-answer list */
	RESPONDER_EXTERNAL,    /* an outside sender, and reply_external is off */
	RESPONDER_SELF,        /* the account wrote to itself */
};

/* Whether r answers a message from sender (the envelope sender, "" for
 * <>) to own_address at time now. sender_local: the sender is in one of
 * our domains. */
enum responder_verdict responder_decide(const struct store_responder *r, time_t now,
                                        const char *sender, bool sender_local,
                                        const char *own_address, const struct responder_msg *msg);
/* "mode off", "mailing list", ... for the log. */
const char *responder_verdict_text(enum responder_verdict v);

/* Whether address matches an entry of the never-answer list: the address
 * itself, "@domain" or "domain" (any case). */
bool responder_never_match(const char *const *never, size_t n, const char *address);

/* Values of the variables. NULL values expand to "". */
struct responder_vars {
	const char *subject; /* %%Subject%%: the original's subject, decoded */
	const char *from;    /* %%From%%: "Name <addr>" or "addr", decoded */
	const char *to;      /* %%To%% / %%Email%%: the account's address */
	time_t now;          /* %%Date%% (YYYY-MM-DD), %%Time%% (HH:MM), local time */
};

/* Copies text with %%Subject%%, %%From%%, %%From_Name%%, %%From_Email%%,
 * %%To%%, %%To_Email%%, %%Email%%, %%Date%% and %%Time%% (names in any
 * case) replaced; other %%...%% are left as written. The caller frees. */
char *responder_expand(const char *text, const struct responder_vars *vars);

/* The display name and the address of "Name <addr>" (or of "addr"):
 * allocated, the name "" when there is none. */
void responder_split_from(const char *from, char **name_r, char **email_r);

struct responder_reply {
	const char *from;        /* the account's address */
	const char *to;          /* the envelope sender of the original */
	const char *subject;     /* expanded, UTF-8 */
	const char *body;        /* expanded, UTF-8 text */
	const char *in_reply_to; /* the original's <message-id>, or NULL/"" */
	const char *references;  /* the original's References (<id> ...), or NULL */
	const char *hostname;    /* for the Message-ID */
	time_t now;
};

/* The reply as a complete message with CRLF line ends: Auto-Submitted:
 * auto-replied, In-Reply-To and References, an RFC 2047 subject when it
 * is not ASCII, a quoted-printable UTF-8 text body. The caller frees. */
char *responder_build(const struct responder_reply *reply, size_t *size_r);

/* An RFC 5322 date ("Tue, 04 Mar 2025 10:00:00 +0100") in buf. */
void responder_date(time_t t, char buf[64]);

#endif
