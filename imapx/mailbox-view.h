/* A session's view of its selected mailbox: the sequence-number map over
 * the folder's UIDs, each message's flags and modseq as last told to the
 * client, the folder's UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ, and changes other
 * sessions made (learnt from the change-notice bus, fetched with
 * store_changes) that are reported only where RFC 3501/7162 allow. */
#ifndef FLOE_MAILBOX_VIEW_H
#define FLOE_MAILBOX_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_client;
struct imap_view;
struct seqset;
struct store_msg_list;

/* ---------------------------------------------------------------------
 * Read accessors (for every command). Sequence numbers run 1..count.
 */

uint64_t imap_view_folder_id(const struct imap_view *view);
/* The folder's owner: the account itself, or another account for a folder
 * of the other users' namespace. Store calls on the selected mailbox take
 * this as their account_id. */
uint64_t imap_view_owner_id(const struct imap_view *view);
/* The mailbox name in UTF-8 as the client uses it ("INBOX", "a/b",
 * "~bob@example.com/INBOX"). */
const char *imap_view_name(const struct imap_view *view);
/* Selected with EXAMINE, or the session has none of the rights that make
 * a mailbox read-write (RFC 4314 5.2: i, e, s, w, t). */
bool imap_view_readonly(const struct imap_view *view);
/* The session's rights on the folder (ACL_* of modules/acl.h): every
 * right on its own folders; for another account's folder as of SELECT,
 * refreshed before each selected-state command and whenever the folder's
 * ACL changes (see imap_view_check_rights). */
unsigned imap_view_rights(const struct imap_view *view);
/* True when the folder belongs to another account. */
bool imap_view_shared(const struct imap_view *view);
uint32_t imap_view_count(const struct imap_view *view);
uint32_t imap_view_uidvalidity(const struct imap_view *view);
/* Greater than every UID the view has. */
uint32_t imap_view_uidnext(const struct imap_view *view);
/* The HIGHESTMODSEQ up to which the view is complete (>= 1). */
uint64_t imap_view_highestmodseq(const struct imap_view *view);

/* 0 when seq is out of range. */
uint32_t imap_view_seq_to_uid(const struct imap_view *view, uint32_t seq);
/* 0 when the view has no such UID. O(log n). */
uint32_t imap_view_uid_to_seq(const struct imap_view *view, uint32_t uid);
/* The sequence number of the first message whose UID is uid or higher;
 * count + 1 when there is none. O(log n). */
uint32_t imap_view_seq_from_uid(const struct imap_view *view, uint32_t uid);
/* The message's modseq, 0 when seq is out of range. */
uint64_t imap_view_modseq(const struct imap_view *view, uint32_t seq);
/* The message's flags as the client last saw them ("\\Seen", keywords);
 * valid until the view next changes. count 0 when seq is out of range. */
void imap_view_flags(const struct imap_view *view, uint32_t seq, const char *const **flags_r,
                     size_t *count_r);
/* True if the message has flag (case-insensitive). */
bool imap_view_has_flag(const struct imap_view *view, uint32_t seq, const char *flag);

/* Private items (CLASS:PRIVATE) of another account's groupware folder
 * are invisible to a grantee without Administer ("restricted"): the view
 * leaves them out (no sequence number, no EXISTS, no FETCH; UIDNEXT and
 * HIGHESTMODSEQ stay the folder's), and every set of UIDs the session
 * acts on must leave them out too (imap_view_subtract_hidden). The owner
 * and Administer grantees see everything, at no extra cost. */

/* Whether a session of account_id with rights on a folder of owner_id of
 * this type (NULL: mail) must not see the folder's private items. */
bool imap_view_restricts(uint64_t account_id, uint64_t owner_id, const char *type, unsigned rights);
/* The view hides private items (see above). */
bool imap_view_restricted(const struct imap_view *view);
/* True if uid is a private item the view hides. O(log n). */
bool imap_view_is_hidden(const struct imap_view *view, uint32_t uid);
/* Removes the hidden UIDs from uids (nothing for a view that hides none). */
void imap_view_subtract_hidden(const struct imap_view *view, struct seqset *uids);
/* SELECT of a restricted view: the sorted UIDs of the folder's private
 * items (store_groupware_visible), which the list it was built from left
 * out. */
void imap_view_set_hidden(struct imap_view *view, const uint32_t *uids, size_t count);

/* SEARCHRES (RFC 5182): the saved result, as UIDs; NULL when none. Saving
 * takes ownership of uids (NULL clears). Expunged messages drop out of it. */
const struct seqset *imap_view_saved(const struct imap_view *view);
void imap_view_set_saved(struct imap_view *view, struct seqset *uids);

/* ---------------------------------------------------------------------
 * For the session and SELECT (not for other commands)
 */

/* Builds a view from store_folder_select's answer and starts watching the
 * change-notice bus for the folder. name is copied. The rights start as
 * every right; SELECT sets the session's with imap_view_set_rights. */
struct imap_view *imap_view_create(struct imap_client *client, const char *name,
                                   const struct store_msg_list *list, bool readonly);
/* Removes the notify watch, abandons a refresh in flight, frees. Accepts
 * NULL; sets *view to NULL. */
void imap_view_destroy(struct imap_view **view);
/* True when the bus reported a change the view has not fetched yet. */
bool imap_view_is_dirty(const struct imap_view *view);
void imap_view_set_dirty(struct imap_view *view);
/* SELECT: the view was built from a list read after a watch of the folder
 * was in place, and that watch saw no later change: it is in step with the
 * bus without a first full refresh. */
void imap_view_mark_synced(struct imap_view *view);

/* Fetches what changed since the view's HIGHESTMODSEQ and writes the
 * untagged responses (EXPUNGE or VANISHED, EXISTS, FLAGS, FETCH) at once,
 * then calls done(ctx) (from the event loop; also on a store error, which
 * is logged); done may be NULL. A refresh requested while one runs is
 * merged into it (which is repeated if the bus spoke meanwhile); only the
 * last caller's done is called. */
typedef void imap_view_refresh_fn(void *ctx);
void imap_view_refresh(struct imap_view *view, imap_view_refresh_fn *done, void *ctx);
/* Like imap_view_refresh, but fetches nothing when nothing can have
 * changed: first a barrier on the change-notice bus (notify_bus_sync)
 * makes sure every notice of what was committed before now has arrived;
 * if the folder got none since the last refresh and the bus stayed up (a
 * reconnect marks every view dirty), done is called without a store
 * query. Otherwise, and for another account's folder, a full refresh. */
void imap_view_refresh_if_changed(struct imap_view *view, imap_view_refresh_fn *done, void *ctx);
/* Sets the rights without telling the client (SELECT, before it reports
 * the mailbox's state). */
void imap_view_set_rights(struct imap_view *view, unsigned rights);
/* Reads the session's rights on the folder again and, if they changed,
 * tells the client (FLAGS and PERMANENTFLAGS, OK [READ-ONLY] or
 * [READ-WRITE], NO [NOPERM] when read access is gone); then calls
 * done(ctx) from the event loop, also after a store error (logged; the
 * rights stay). One check at a time: a new one replaces one in flight.
 * A shared folder's refresh (imap_view_refresh) checks the rights the same
 * way first and fetches no changes while the session may not read. */
void imap_view_check_rights(struct imap_view *view, imap_view_refresh_fn *done, void *ctx);
/* True when the view holds the folder's messages, flags and modseqs
 * exactly as of the last barrier on the change-notice bus that completed:
 * no notice arrived since its last refresh, a full refresh ran since its
 * watch was added, none is running, the bus stayed up, and the folder is
 * the session's own (another account's folder also depends on rights no
 * notice covers). Commands that answer from the view instead of the store
 * (cached FETCH, SEARCH) ask notify_bus_sync first and test this in its
 * callback. */
bool imap_view_exact(const struct imap_view *view);
/* For commands during which EXPUNGE may not be sent (FETCH, SEARCH,
 * STATUS of the selected mailbox): a barrier on the change-notice bus and,
 * if the folder changed, store_changes; the changes are applied and
 * reported at once (FETCH, FLAGS, EXISTS, which may be sent at any time)
 * unless they expunge a message the view has, which only a later refresh
 * may report. Then done(exact, ctx) from the event loop, exact as for
 * imap_view_exact. One at a time per view; the view must not be
 * refreshing. imap_view_catch_up_abandon cancels it (done is not called;
 * changes not yet applied are left for the next refresh). */
typedef void imap_view_catch_up_fn(bool exact, void *ctx);
void imap_view_catch_up(struct imap_view *view, imap_view_catch_up_fn *done, void *ctx);
void imap_view_catch_up_abandon(struct imap_view *view);
/* True while a refresh is running. */
bool imap_view_refreshing(const struct imap_view *view);
/* While set (IDLE), a notice starts a refresh at once and flushes the
 * output when it is done. */
void imap_view_set_live(struct imap_view *view, bool live);

/* SELECT ... (QRESYNC (uidvalidity since ...)): writes
 * "* VANISHED (EARLIER)" for the UIDs of list->vanished (store_changes
 * after since, asked after the view was built) that the view does not have,
 * restricted to known_uids (NULL: all), then "* seq FETCH (UID FLAGS
 * MODSEQ)" for every message of the view whose modseq is above since. Does
 * not change the view. */
void imap_view_report_since(struct imap_view *view, const struct store_msg_list *list,
                            uint64_t since, const struct seqset *known_uids);

/* SELECT: reads what the worker's message cache (msg-cache.h) lacks of the
 * folder's messages, in one query in the background, so that the first
 * FETCH and SEARCH find it there (as Dovecot finds its index files).
 * Nothing for a folder of more than IMAP_VIEW_WARM_MAX messages or one
 * that would take more than half the cache; those fill as they are read. */
#define IMAP_VIEW_WARM_MAX 1000
void imap_view_warm_cache(struct imap_view *view);

/* Writes "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" for the view. */
void imap_view_write_flags_responses(struct imap_view *view);
/* Writes "(flag flag ...)" of message seq. */
void imap_view_write_msg_flags(struct imap_view *view, uint32_t seq);
/* The sequence number of the first message without \Seen, 0 if none. */
uint32_t imap_view_first_unseen(const struct imap_view *view);

#endif
