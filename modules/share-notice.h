/* Share notification mail: when an owner gives a user rights on a folder or
 * the whole account, or takes the last ones away, the user gets a short
 * mail in its INBOX from the owner, with a human-readable text (who shared
 * what, with which rights as the clients name them, how to subscribe) and
 * machine-readable headers: IceWarp's
 *   X-IceWarp-Server-Request: method=share; user=<owner>; folder=<path>;
 *     right=<RFC 4314 letters>
 * (method=unshare on revocation; folder percent-encoded, "*" for the whole
 * account) and Floe's own X-Floe-Share-* headers (README, "Sharing").
 *
 * The ACL change queues a notice in its transaction (db/store-share.h);
 * each worker runs a runner that claims due notices (woken at once by the
 * change bus, else every [sharing] notify_poll), writes the mail and
 * appends it to the INBOX while deleting the notice, in one transaction.
 * A notice that cannot be delivered (over quota, no INBOX, database down)
 * is retried with back-off and dropped with a warning after [sharing]
 * notify_max_age. With [sharing] notify = no the runner drops notices
 * without mail. */
#ifndef FLOE_SHARE_NOTICE_H
#define FLOE_SHARE_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct event_base;
struct floe_config;
struct notify_bus;
struct store;
struct share_notices;

/* What one mail says. */
struct share_notice_mail {
	const char *owner;      /* the owner's address (From) */
	const char *owner_name; /* its display name; "" or NULL: none */
	const char *grantee;    /* the recipient's address (To) */
	const char *grantee_name;
	const char *folder; /* path in the owner's account; NULL: the whole account */
	bool unshare;       /* the last right went */
	const char *rights; /* RFC 4314 letters the grantee has now ("" on unshare) */
	time_t date;
	const char *message_id; /* without <>; NULL: made up from the time */
};

/* The whole message (CRLF line ends, UTF-8 text, 8bit when not ASCII),
 * newly allocated; *size_r gets its length. Never fails. */
char *share_notice_compose(const struct share_notice_mail *m, size_t *size_r);

/* Percent-encodes s as the folder= value: every byte but ASCII letters,
 * digits, "-._~" and "/" as %XX. Newly allocated. */
char *share_notice_url_encode(const char *s);

/* Creates the worker's runner and starts it (a first look at once). */
struct share_notices *share_notices_create(struct event_base *base, const struct floe_config *cfg,
                                           struct store *store, struct notify_bus *bus);
/* Stops the runner: operations in flight are abandoned (a delivery that
 * reached the database completes there exactly once; a claimed notice
 * that did not is retried by any runner when its lease ends). Accepts
 * NULL; sets *sn to NULL. Before the store and the bus are destroyed. */
void share_notices_destroy(struct share_notices **sn);

#endif
