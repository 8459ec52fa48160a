/* Administration of delivery settings for floectl over its BLOCKING libpq
 * connection (never for a worker): an account's forwarding, its
 * auto-responder, and the addresses it may send as. Conventions as in
 * admin.h: addresses already normalised by admin_address_normalize, one
 * transaction per write, 0 or -1 with *error_r a static one-line message.
 * Accounts are named by their address or one of their aliases; groups
 * are refused. */
#ifndef FLOE_ADMIN_DELIVERY_H
#define FLOE_ADMIN_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "admin.h"

struct admin_forward {
	char *address;                /* the account's own address */
	struct admin_strings targets; /* empty: no forwarding */
	bool keep_copy;
	char *updated; /* "YYYY-MM-DDTHH:MM:SSZ", NULL when none */
};

/* Replaces the account's forwarding. Targets must be valid addresses and
 * not the account itself. */
int admin_forward_set(PGconn *conn, const char *address, const char *const *targets,
                      size_t ntargets, bool keep_copy, const char **error_r);
/* Removes it (no error when there was none). */
int admin_forward_clear(PGconn *conn, const char *address, const char **error_r);
int admin_forward_get(PGconn *conn, const char *address, struct admin_forward *fwd_r,
                      const char **error_r);
void admin_forward_free(struct admin_forward *fwd);

/* Changes to a responder; NULL fields stay as they are. starts/ends:
 * "" removes the bound; a date alone (YYYY-MM-DD) starts at the
 * beginning of that day, or ends at its end (server time zone); any other
 * PostgreSQL timestamp text is taken as written. Changing the settings
 * forgets whom the responder has already answered. */
struct admin_responder_changes {
	const char *mode; /* off, always, once, interval (required) */
	const char *interval_days;
	const char *starts, *ends;
	const char *subject, *body;
	const struct admin_strings *never; /* NULL: unchanged */
};
int admin_responder_set(PGconn *conn, const char *address,
                        const struct admin_responder_changes *changes, const char **error_r);

struct admin_responder {
	char *address;
	char *mode;
	unsigned interval_days;
	char *starts, *ends; /* "YYYY-MM-DDTHH:MM:SSZ" or NULL */
	char *subject, *body;
	struct admin_strings never;
	unsigned long answered; /* senders in the log */
};
int admin_responder_get(PGconn *conn, const char *address, struct admin_responder *resp_r,
                        const char **error_r);
void admin_responder_free(struct admin_responder *resp);

/* Delegation: account may send as address. add is idempotent; remove
 * fails with "a may not send as b" when there is no such entry. */
int admin_send_as_add(PGconn *conn, const char *account, const char *address, const char **error_r);
int admin_send_as_remove(PGconn *conn, const char *account, const char *address,
                         const char **error_r);
int admin_send_as_list(PGconn *conn, const char *account, struct admin_strings *list_r,
                       const char **error_r);
void admin_strings_free(struct admin_strings *list);

#endif
