/* Internals of a session's mailbox view shared by mailbox-view.c (the
 * message and flag tables, accessors, the session's own changes, life
 * cycle) and mailbox-view-refresh.c (changes of other sessions, rights,
 * the change-notice bus). */
#ifndef FLOE_IMAPX_MAILBOX_VIEW_PRIVATE_H
#define FLOE_IMAPX_MAILBOX_VIEW_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailbox-view.h"

struct notify_sync;
struct notify_watch;
struct store_op;

struct view_msg {
	uint32_t uid;
	uint32_t fset;
	uint64_t modseq;
};

/* One distinct flag combination: the flags sorted, NUL-separated in buf. */
struct view_fset {
	char *buf;
	size_t len;
	const char **flags;
	size_t count;
	uint32_t hash;
};

struct imap_view {
	struct imap_client *client;
	uint64_t folder_id, owner_id;
	char *name;
	bool examine;    /* selected with EXAMINE */
	unsigned rights; /* ACL_* of the session on the folder */
	bool shared;     /* another account's folder: rights may change */
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;

	struct view_msg *msgs;
	size_t count, alloc;

	struct view_fset *fsets;
	size_t nfsets, fsets_alloc;
	uint32_t *fset_table; /* open addressing: fset index + 1, 0 = empty */
	size_t fset_table_size;

	char **keywords;
	size_t nkeywords;

	struct seqset *saved;

	/* Private items (CLASS:PRIVATE) of another account's groupware folder
	 * are hidden from a grantee without Administer: the view never holds
	 * them, and hidden lists their UIDs (sorted) so that UID sets given by
	 * the client leave them out. */
	bool groupware;  /* the folder's type is not mail */
	bool restricted; /* shared && groupware && no ACL_ADMIN */
	bool hide_all;   /* became restricted: the next refresh looks at every item */
	uint32_t *hidden;
	size_t nhidden, hidden_alloc;

	struct notify_watch *watch;
	bool dirty, live, again;
	/* A full refresh started since the watch was added: until then a
	 * notice may have gone by unwatched, so no shortcut. */
	bool synced;
	struct notify_sync *sync; /* imap_view_refresh_if_changed's barrier */
	/* imap_view_catch_up in progress: its barrier, or its query in op */
	struct notify_sync *cu_sync;
	bool cu_query; /* op is the catch-up's store_changes */
	imap_view_catch_up_fn *cu_done;
	void *cu_ctx;
	struct store_op *op;
	imap_view_refresh_fn *done;
	void *done_ctx;

	/* imap_view_check_rights in flight */
	struct store_op *rights_op;
	imap_view_refresh_fn *rights_done;
	void *rights_ctx;

	/* imap_view_warm_cache's query */
	struct store_op *warm_op;
};

/* mailbox-view.c: the index of the flag set holding flags (any order),
 * added if new; *new_keyword_r (may be NULL) is set when it brought a
 * keyword the view had not seen. */
uint32_t view_intern(struct imap_view *v, const char *const *flags, size_t nflags,
                     bool *new_keyword_r);
/* mailbox-view.c: removes the sorted uids from the view, reporting them
 * (EXPUNGE or VANISHED) when send. */
void view_expunge(struct imap_view *v, const uint32_t *uids, size_t count, bool send);
/* mailbox-view.c: "* seq FETCH (UID u FLAGS (...) MODSEQ (m))". */
void view_write_fetch(struct imap_view *v, uint32_t seq, bool uid, bool flags, bool modseq);
/* mailbox-view.c: adds the sorted uids to the hidden ones and removes
 * those the view has, reporting them (EXPUNGE or VANISHED) when send. */
void view_hide(struct imap_view *v, const uint32_t *uids, size_t count, bool send);
/* mailbox-view.c: recomputes restricted from shared, groupware and the
 * rights; when it turns on, hide_all is set; when it turns off, hidden is
 * forgotten (an Administer grantee may act on every item). */
void view_update_restricted(struct imap_view *v);
/* mailbox-view-refresh.c: the watch's callback (notify_fn). */
void view_notice(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly,
                 void *ctx);

#endif
