/* The administration side of the outgoing queue and of SMTP submission,
 * for floectl only (BLOCKING libpq, never in a worker): list and show
 * queued messages, retry them now, remove them, and the per-account
 * "save submitted mail to Sent" setting. Same conventions as admin.h:
 * 0 or -1 with *error_r (static storage, valid until the next call). */
#ifndef FLOE_ADMIN_QUEUE_H
#define FLOE_ADMIN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct admin_queue_rcpt {
	char *recipient;
	char *state; /* queued, deferred, delivering, delivered, bouncing, bounce_pending,
	              * bounced, failed */
	int attempts;
	char *next_try;   /* "YYYY-MM-DDTHH:MM:SSZ" */
	char *last_error; /* "" when none */
	char *leased_by;  /* "" when not leased */
};

struct admin_queue_message {
	int64_t id;
	char *account;   /* the submitting account's address, "" for none */
	char *mail_from; /* "" for the null sender */
	int64_t size;
	char *created;
	struct admin_queue_rcpt *rcpts;
	size_t nrcpts;
	char *headers; /* admin_queue_show only: the header section, else NULL */
};

struct admin_queue_list {
	struct admin_queue_message *items;
	size_t count;
};

/* Every message in the queue, oldest first, with its recipients. */
int admin_queue_list(PGconn *conn, struct admin_queue_list *list_r, const char **error_r);
void admin_queue_list_free(struct admin_queue_list *list);
/* One message with its recipients and header section. */
int admin_queue_show(PGconn *conn, int64_t id, struct admin_queue_message *msg_r,
                     const char **error_r);
void admin_queue_message_clear(struct admin_queue_message *msg);
/* Makes the waiting (queued, deferred, or bounce_pending: their DSN)
 * recipients of message id (0: of every message) due now, and wakes the
 * runners. *count_r: recipients
 * changed. A message with nothing waiting is an error when id is given. */
int admin_queue_retry(PGconn *conn, int64_t id, unsigned long *count_r, const char **error_r);
/* Deletes message id and its recipients without bouncing (a recipient
 * being delivered right now may still get it). */
int admin_queue_remove(PGconn *conn, int64_t id, const char **error_r);

/* The "save submitted mail to Sent" setting of the account at address
 * (normalised by the caller). */
int admin_smtp_save_sent_get(PGconn *conn, const char *address, bool *value_r,
                             const char **error_r);
int admin_smtp_save_sent_set(PGconn *conn, const char *address, bool value, const char **error_r);

#endif
