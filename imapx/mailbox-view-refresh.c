/* A session's view of its selected mailbox, kept up to date: notices of
 * other sessions' changes from the change-notice bus, refreshes with
 * store_changes (with a barrier on the bus first when nothing is known to
 * have changed), and the session's rights on another account's folder. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "imap-acl.h"
#include "imap-client-private.h"
#include "imap-server.h"
#include "log.h"
#include "mailbox-view-private.h"
#include "notify.h"
#include "store-acl.h"
#include "store-groupware.h"
#include "store.h"
#include "xmalloc.h"

/* ---------------------------------------------------------------------
 * Refresh
 */

static void view_start_refresh(struct imap_view *v);

/* Brings the view up to date with list (store_changes since the view's
 * HIGHESTMODSEQ) and writes what the client must be told. */
static void
view_apply_changes(struct imap_view *v, const struct store_msg_list *list)
{
	struct imap_client *c = v->client;
	const struct store_folder *f = list->folder;
	bool condstore = imap_client_has(c, IMAP_ENABLED_CONDSTORE), new_keyword = false;
	size_t old_count, nchanged = 0;
	uint32_t *changed;

	if (f != NULL && f->uidvalidity != v->uidvalidity) {
		imap_client_disconnect(c, "Mailbox UIDVALIDITY changed");
		return;
	}
	if (list->nvanished > 0)
		view_expunge(v, list->vanished, list->nvanished, true);

	old_count = v->count;
	changed = xcalloc(list->count + 1, sizeof(*changed));
	for (size_t i = 0; i < list->count; i++) {
		const struct store_msg *sm = &list->msgs[i];
		uint32_t seq = imap_view_uid_to_seq(v, sm->uid), fs;

		if (seq != 0) {
			struct view_msg *m = &v->msgs[seq - 1];

			fs = view_intern(v, sm->flags, sm->nflags, &new_keyword);
			if (seq <= old_count &&
			    (fs != m->fset || (condstore && sm->modseq > m->modseq)))
				changed[nchanged++] = seq;
			m->fset = fs;
			if (sm->modseq > m->modseq)
				m->modseq = sm->modseq;
		} else if (v->count == 0 || sm->uid > v->msgs[v->count - 1].uid) {
			if (v->count == v->alloc) {
				v->alloc = v->alloc < 64 ? 64 : v->alloc * 2;
				v->msgs = xreallocarray(v->msgs, v->alloc, sizeof(*v->msgs));
			}
			v->msgs[v->count].uid = sm->uid;
			v->msgs[v->count].modseq = sm->modseq;
			v->msgs[v->count].fset =
			    view_intern(v, sm->flags, sm->nflags, &new_keyword);
			v->count++;
		}
		/* Otherwise a UID below the view's last one that it does not have:
		 * expunged, or never shown to this session; nothing to tell. */
	}
	if (new_keyword)
		imap_view_write_flags_responses(v);
	for (size_t i = 0; i < nchanged; i++)
		view_write_fetch(v, changed[i], true, true, condstore);
	free(changed);
	if (v->count != old_count)
		imap_client_untagged(c, "%zu EXISTS", v->count);
	if (f != NULL) {
		if (f->uidnext > v->uidnext)
			v->uidnext = f->uidnext;
		if (f->highestmodseq > v->highestmodseq)
			v->highestmodseq = f->highestmodseq;
	}
	if (v->count > 0 && v->msgs[v->count - 1].uid >= v->uidnext)
		v->uidnext = v->msgs[v->count - 1].uid + 1;
}

/* Ends a refresh: runs it again if the bus spoke meanwhile, else calls
 * done. */
static void
view_refresh_finish(struct imap_view *v, bool ok)
{
	imap_view_refresh_fn *done;

	if (v->again && ok) {
		view_start_refresh(v);
		return;
	}
	v->again = false;
	if (v->live)
		imap_client_flush(v->client);
	done = v->done;
	if (done != NULL) {
		v->done = NULL;
		/* Last thing: done may end the command and, with it, this view. */
		done(v->done_ctx);
	}
}

static void
view_changes_cb(const struct store_msg_list *list, enum store_err code, const char *error,
                void *ctx)
{
	struct imap_view *v = ctx;

	v->op = NULL;
	if (list != NULL) {
		view_apply_changes(v, list);
	} else if (code == STORE_ERR_NOT_FOUND) {
		imap_client_disconnect(v->client, "Mailbox was deleted");
	} else {
		log_warning("imap %s: cannot refresh %s: %s", imap_client_peer(v->client), v->name,
		            error != NULL ? error : "unknown error");
	}
	view_refresh_finish(v, list != NULL);
}

/* A restricted view's refresh: the private items among the changes (and,
 * after losing Administer, every one) are hidden before the rest is
 * applied, so that none is announced. */
static void
view_visible_cb(const struct store_msg_list *list, const uint32_t *private_uids, size_t nprivate,
                enum store_err code, const char *error, void *ctx)
{
	struct imap_view *v = ctx;

	if (list != NULL) {
		v->hide_all = false;
		view_hide(v, private_uids, nprivate, true);
	}
	view_changes_cb(list, code, error, ctx);
}

static void
view_start_changes(struct imap_view *v)
{
	if (v->restricted) {
		v->op = store_groupware_visible(
		    imap_client_store(v->client), v->owner_id, v->folder_id, false,
		    v->highestmodseq, v->hide_all ? 0 : v->highestmodseq, view_visible_cb, v);
		return;
	}
	v->op = store_changes(imap_client_store(v->client), v->owner_id, v->folder_id,
	                      v->highestmodseq, view_changes_cb, v);
}

/* Applies rights read from the store and tells the client what changed
 * for it (RFC 4314 5.1.1): new FLAGS and PERMANENTFLAGS, READ-ONLY or
 * READ-WRITE when that changed, and a warning when read access is gone. */
static void
view_apply_rights(struct imap_view *v, unsigned rights)
{
	bool was_readonly = imap_view_readonly(v), now_readonly;
	unsigned flag_rights = ACL_SEEN | ACL_WRITE | ACL_DELETE_MSGS, old = v->rights;

	if (rights == old)
		return;
	if ((old & ACL_READ) != 0 && (rights & ACL_READ) == 0)
		imap_client_untagged(v->client,
		                     "NO [NOPERM] Read access to this mailbox was revoked");
	else if ((old & ACL_READ) == 0 && (rights & ACL_READ) != 0)
		imap_client_untagged(v->client, "OK Read access to this mailbox was granted");
	v->rights = rights;
	view_update_restricted(v);
	now_readonly = imap_view_readonly(v);
	if (was_readonly != now_readonly || ((old ^ rights) & flag_rights) != 0)
		imap_view_write_flags_responses(v);
	if (!was_readonly && now_readonly)
		imap_client_untagged(v->client, "OK [READ-ONLY] Access rights changed");
	else if (was_readonly && !now_readonly)
		imap_client_untagged(v->client, "OK [READ-WRITE] Access rights changed");
}

/* A shared folder's refresh asks for the rights first: content changes
 * are fetched only while the session may still read the folder. */
static void
view_refresh_rights_cb(const char *rights, enum store_err code, const char *error, void *ctx)
{
	struct imap_view *v = ctx;

	v->op = NULL;
	if (rights == NULL) {
		log_warning("imap %s: cannot check the rights on %s: %s",
		            imap_client_peer(v->client), v->name,
		            error != NULL ? error : "unknown error");
		view_refresh_finish(v, false);
		return;
	}
	view_apply_rights(v, imap_rights_from_store(rights));
	if ((v->rights & ACL_READ) == 0) {
		view_refresh_finish(v, true);
		return;
	}
	view_start_changes(v);
}

static void
view_start_refresh(struct imap_view *v)
{
	v->dirty = false;
	v->again = false;
	v->synced = true;
	if (v->shared) {
		v->op = store_acl_rights(imap_client_store(v->client),
		                         imap_client_account_id(v->client), v->owner_id,
		                         v->folder_id, view_refresh_rights_cb, v);
		return;
	}
	view_start_changes(v);
}

void
imap_view_refresh(struct imap_view *v, imap_view_refresh_fn *done, void *ctx)
{
	v->done = done;
	v->done_ctx = ctx;
	/* A refresh already running serves this request too; a notice that
	 * arrives meanwhile makes it run again (view_notice). */
	if (v->op == NULL)
		view_start_refresh(v);
}

/* The bus has dispatched every notice of what was committed before the
 * barrier was asked (or cannot tell: known false). */
static void
view_sync_cb(bool known, void *ctx)
{
	struct imap_view *v = ctx;

	v->sync = NULL;
	if (!known)
		v->dirty = true;
	/* A refresh started meanwhile (a notice during IDLE, or a command's
	 * full refresh) answers for this one and calls done. */
	if (v->op != NULL)
		return;
	/* Nobody waits any more (IDLE ended first): the next command
	 * refreshes if the view is dirty. */
	if (v->done == NULL && !v->live)
		return;
	if (v->dirty)
		view_start_refresh(v);
	else
		view_refresh_finish(v, true);
}

void
imap_view_refresh_if_changed(struct imap_view *v, imap_view_refresh_fn *done, void *ctx)
{
	struct notify_bus *bus = imap_server_bus(imap_client_server(v->client));

	/* A shared folder's refresh also re-reads the rights, which no
	 * notice of this folder covers (inherited ACLs). */
	if (v->shared || v->dirty || !v->synced || v->op != NULL || !notify_bus_is_up(bus)) {
		imap_view_refresh(v, done, ctx);
		return;
	}
	v->done = done;
	v->done_ctx = ctx;
	/* A barrier asked earlier (an IDLE that ended) does not cover what
	 * was committed since: ask again. */
	notify_sync_abandon(&v->sync);
	v->sync = notify_bus_sync(bus, view_sync_cb, v);
}

void
imap_view_mark_synced(struct imap_view *v)
{
	v->synced = true;
}

bool
imap_view_exact(const struct imap_view *v)
{
	return !v->dirty && v->synced && v->op == NULL && !v->shared &&
	       notify_bus_is_up(imap_server_bus(imap_client_server(v->client)));
}

static void
catch_up_finish(struct imap_view *v)
{
	imap_view_catch_up_fn *done = v->cu_done;

	v->cu_done = NULL;
	/* Last thing: done may end the command. */
	if (done != NULL)
		done(imap_view_exact(v), v->cu_ctx);
}

static void
catch_up_changes_cb(const struct store_msg_list *list, enum store_err code, const char *error,
                    void *ctx)
{
	struct imap_view *v = ctx;
	bool expunges = false;

	v->op = NULL;
	v->cu_query = false;
	v->again = false;
	if (list == NULL || (list->folder != NULL && list->folder->uidvalidity != v->uidvalidity)) {
		/* The next refresh deals with it (and reports the error). */
		v->dirty = true;
		catch_up_finish(v);
		return;
	}
	for (size_t i = 0; i < list->nvanished && !expunges; i++)
		expunges = imap_view_uid_to_seq(v, list->vanished[i]) != 0;
	if (expunges) {
		v->dirty = true;
		catch_up_finish(v);
		return;
	}
	view_apply_changes(v, list);
	catch_up_finish(v);
}

static void
catch_up_sync_cb(bool known, void *ctx)
{
	struct imap_view *v = ctx;

	v->cu_sync = NULL;
	if (!known)
		v->dirty = true;
	if (imap_view_exact(v) || v->shared || !known || !v->synced || v->op != NULL ||
	    !notify_bus_is_up(imap_server_bus(imap_client_server(v->client)))) {
		catch_up_finish(v);
		return;
	}
	/* A notice while the query runs sets dirty again (view_notice). */
	v->dirty = false;
	v->cu_query = true;
	v->op = store_changes(imap_client_store(v->client), v->owner_id, v->folder_id,
	                      v->highestmodseq, catch_up_changes_cb, v);
}

void
imap_view_catch_up(struct imap_view *v, imap_view_catch_up_fn *done, void *ctx)
{
	imap_view_catch_up_abandon(v);
	v->cu_done = done;
	v->cu_ctx = ctx;
	v->cu_sync =
	    notify_bus_sync(imap_server_bus(imap_client_server(v->client)), catch_up_sync_cb, v);
}

void
imap_view_catch_up_abandon(struct imap_view *v)
{
	if (v->cu_done == NULL)
		return;
	v->cu_done = NULL;
	notify_sync_abandon(&v->cu_sync);
	if (v->cu_query) {
		/* Its changes are not applied: the next refresh fetches them. */
		store_op_abandon(&v->op);
		v->cu_query = false;
		v->dirty = true;
	}
}

bool
imap_view_refreshing(const struct imap_view *v)
{
	return v->op != NULL;
}

void
imap_view_set_live(struct imap_view *v, bool live)
{
	v->live = live;
}

static void
view_check_rights_cb(const char *rights, enum store_err code, const char *error, void *ctx)
{
	struct imap_view *v = ctx;
	imap_view_refresh_fn *done = v->rights_done;

	v->rights_op = NULL;
	v->rights_done = NULL;
	if (rights != NULL)
		view_apply_rights(v, imap_rights_from_store(rights));
	else
		log_warning("imap %s: cannot check the rights on %s: %s",
		            imap_client_peer(v->client), v->name,
		            error != NULL ? error : "unknown error");
	/* Last thing: done may end the command and, with it, this view. */
	done(v->rights_ctx);
}

void
imap_view_check_rights(struct imap_view *v, imap_view_refresh_fn *done, void *ctx)
{
	store_op_abandon(&v->rights_op);
	v->rights_done = done;
	v->rights_ctx = ctx;
	v->rights_op =
	    store_acl_rights(imap_client_store(v->client), imap_client_account_id(v->client),
	                     v->owner_id, v->folder_id, view_check_rights_cb, v);
}

void
imap_view_set_rights(struct imap_view *v, unsigned rights)
{
	v->rights = rights & ACL_ALL;
	view_update_restricted(v);
	/* Built from a list that already left the private items out. */
	v->hide_all = false;
}

/* Content changes carry their modseq; ACL changes come with modseq 0. */
void
view_notice(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly, void *ctx)
{
	struct imap_view *v = ctx;

	if (!possibly && modseq != 0 && modseq <= v->highestmodseq)
		return;
	if (!possibly && modseq == 0 && !v->shared)
		return;
	v->dirty = true;
	if (v->op != NULL)
		v->again = true;
	else if (v->live)
		view_start_refresh(v);
}
