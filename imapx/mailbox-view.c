/* A session's view of its selected mailbox. Messages are kept in UID order
 * (sequence number = index + 1) as 16 bytes each: UID, modseq, and an index
 * into the view's table of distinct flag combinations, since most messages
 * of a folder share a handful of them. Changes by other sessions arrive as
 * notices on the bus and are fetched with store_changes when the session
 * may report them. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "imap-acl.h"
#include "imap-client-private.h"
#include "imap-server.h"
#include "log.h"
#include "mailbox-view.h"
#include "notify.h"
#include "seqset.h"
#include "store-acl.h"
#include "store.h"
#include "xmalloc.h"

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
	struct notify_watch *watch;
	bool dirty, live, again;
	/* A full refresh started since the watch was added: until then a
	 * notice may have gone by unwatched, so no shortcut. */
	bool synced;
	struct notify_sync *sync; /* imap_view_refresh_if_changed's barrier */
	struct store_op *op;
	imap_view_refresh_fn *done;
	void *done_ctx;

	/* imap_view_check_rights in flight */
	struct store_op *rights_op;
	imap_view_refresh_fn *rights_done;
	void *rights_ctx;
};

static const char *const view_system_flags[] = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
                                                "\\Draft"};

/* ---------------------------------------------------------------------
 * Flag sets
 */

static int
view_flag_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint32_t
view_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static void
view_table_insert(struct imap_view *v, uint32_t index)
{
	size_t mask = v->fset_table_size - 1, i = v->fsets[index].hash & mask;

	while (v->fset_table[i] != 0)
		i = (i + 1) & mask;
	v->fset_table[i] = index + 1;
}

static void
view_table_grow(struct imap_view *v)
{
	free(v->fset_table);
	v->fset_table_size = v->fset_table_size == 0 ? 64 : v->fset_table_size * 2;
	v->fset_table = xcalloc(v->fset_table_size, sizeof(*v->fset_table));
	for (size_t i = 0; i < v->nfsets; i++)
		view_table_insert(v, (uint32_t)i);
}

static bool
view_is_keyword(const char *flag)
{
	return flag[0] != '\\';
}

/* Remembers the keywords of a new flag set; true if one was new. */
static bool
view_learn_keywords(struct imap_view *v, const struct view_fset *fs)
{
	bool learnt = false;

	for (size_t i = 0; i < fs->count; i++) {
		size_t k;

		if (!view_is_keyword(fs->flags[i]))
			continue;
		for (k = 0; k < v->nkeywords; k++) {
			if (strcasecmp(v->keywords[k], fs->flags[i]) == 0)
				break;
		}
		if (k < v->nkeywords)
			continue;
		v->keywords = xreallocarray(v->keywords, v->nkeywords + 1, sizeof(*v->keywords));
		v->keywords[v->nkeywords++] = xstrdup(fs->flags[i]);
		learnt = true;
	}
	return learnt;
}

/* The index of the flag set holding flags (any order), added if new.
 * *new_keyword_r is set when it brought a keyword the view had not seen. */
static uint32_t
view_intern(struct imap_view *v, const char *const *flags, size_t nflags, bool *new_keyword_r)
{
	const char **sorted = xcalloc(nflags + 1, sizeof(*sorted));
	size_t len = 0, mask;
	struct view_fset *fs;
	char *buf, *p;
	uint32_t h, index;

	memcpy(sorted, flags, nflags * sizeof(*sorted));
	qsort(sorted, nflags, sizeof(*sorted), view_flag_cmp);
	for (size_t i = 0; i < nflags; i++)
		len += strlen(sorted[i]) + 1;
	buf = xmalloc(len + 1);
	p = buf;
	for (size_t i = 0; i < nflags; i++) {
		size_t l = strlen(sorted[i]);

		memcpy(p, sorted[i], l + 1);
		p += l + 1;
	}
	free(sorted);
	h = view_hash(buf, len);

	if (v->fset_table_size > 0) {
		mask = v->fset_table_size - 1;
		for (size_t i = h & mask; v->fset_table[i] != 0; i = (i + 1) & mask) {
			fs = &v->fsets[v->fset_table[i] - 1];
			if (fs->hash == h && fs->len == len && memcmp(fs->buf, buf, len) == 0) {
				free(buf);
				return v->fset_table[i] - 1;
			}
		}
	}
	if (v->nfsets == v->fsets_alloc) {
		v->fsets_alloc = v->fsets_alloc == 0 ? 16 : v->fsets_alloc * 2;
		v->fsets = xreallocarray(v->fsets, v->fsets_alloc, sizeof(*v->fsets));
	}
	index = (uint32_t)v->nfsets++;
	fs = &v->fsets[index];
	fs->buf = buf;
	fs->len = len;
	fs->hash = h;
	fs->count = nflags;
	fs->flags = xcalloc(nflags + 1, sizeof(*fs->flags));
	for (size_t i = 0, off = 0; i < nflags; i++) {
		fs->flags[i] = buf + off;
		off += strlen(buf + off) + 1;
	}
	if ((v->nfsets + 1) * 2 > v->fset_table_size)
		view_table_grow(v);
	else
		view_table_insert(v, index);
	if (view_learn_keywords(v, fs) && new_keyword_r != NULL)
		*new_keyword_r = true;
	return index;
}

/* ---------------------------------------------------------------------
 * Accessors
 */

uint64_t
imap_view_folder_id(const struct imap_view *v)
{
	return v->folder_id;
}

uint64_t
imap_view_owner_id(const struct imap_view *v)
{
	return v->owner_id;
}

const char *
imap_view_name(const struct imap_view *v)
{
	return v->name;
}

bool
imap_view_readonly(const struct imap_view *v)
{
	return v->examine || !acl_writable(v->rights);
}

unsigned
imap_view_rights(const struct imap_view *v)
{
	return v->rights;
}

bool
imap_view_shared(const struct imap_view *v)
{
	return v->shared;
}

uint32_t
imap_view_count(const struct imap_view *v)
{
	return (uint32_t)v->count;
}

uint32_t
imap_view_uidvalidity(const struct imap_view *v)
{
	return v->uidvalidity;
}

uint32_t
imap_view_uidnext(const struct imap_view *v)
{
	return v->uidnext;
}

uint64_t
imap_view_highestmodseq(const struct imap_view *v)
{
	return v->highestmodseq;
}

uint32_t
imap_view_seq_to_uid(const struct imap_view *v, uint32_t seq)
{
	return seq >= 1 && seq <= v->count ? v->msgs[seq - 1].uid : 0;
}

/* Index of the first message with uid >= the given one (count if none). */
static size_t
view_lower_bound(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t
imap_view_uid_to_seq(const struct imap_view *v, uint32_t uid)
{
	size_t i = view_lower_bound(v, uid);

	return i < v->count && v->msgs[i].uid == uid ? (uint32_t)i + 1 : 0;
}

uint32_t
imap_view_seq_from_uid(const struct imap_view *v, uint32_t uid)
{
	return (uint32_t)view_lower_bound(v, uid) + 1;
}

uint64_t
imap_view_modseq(const struct imap_view *v, uint32_t seq)
{
	return seq >= 1 && seq <= v->count ? v->msgs[seq - 1].modseq : 0;
}

void
imap_view_flags(const struct imap_view *v, uint32_t seq, const char *const **flags_r,
                size_t *count_r)
{
	if (seq < 1 || seq > v->count) {
		*flags_r = NULL;
		*count_r = 0;
		return;
	}
	*flags_r = v->fsets[v->msgs[seq - 1].fset].flags;
	*count_r = v->fsets[v->msgs[seq - 1].fset].count;
}

bool
imap_view_has_flag(const struct imap_view *v, uint32_t seq, const char *flag)
{
	const char *const *flags;
	size_t n;

	imap_view_flags(v, seq, &flags, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(flags[i], flag) == 0)
			return true;
	}
	return false;
}

uint32_t
imap_view_first_unseen(const struct imap_view *v)
{
	for (size_t i = 0; i < v->count; i++) {
		if (!imap_view_has_flag(v, (uint32_t)i + 1, "\\Seen"))
			return (uint32_t)i + 1;
	}
	return 0;
}

const struct seqset *
imap_view_saved(const struct imap_view *v)
{
	return v->saved;
}

void
imap_view_set_saved(struct imap_view *v, struct seqset *uids)
{
	seqset_destroy(&v->saved);
	v->saved = uids;
}

bool
imap_view_is_dirty(const struct imap_view *v)
{
	return v->dirty;
}

void
imap_view_set_dirty(struct imap_view *v)
{
	v->dirty = true;
}

/* ---------------------------------------------------------------------
 * Writing
 */

void
imap_view_write_msg_flags(struct imap_view *v, uint32_t seq)
{
	struct evbuffer *out = imap_client_output(v->client);
	const char *const *flags;
	size_t n;

	imap_view_flags(v, seq, &flags, &n);
	evbuffer_add(out, "(", 1);
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(out, i == 0 ? "%s" : " %s", flags[i]);
	evbuffer_add(out, ")", 1);
}

/* PERMANENTFLAGS follow the rights (RFC 4314 5.1.1): \Seen needs s,
 * \Deleted t, the other flags and new keywords w. */
void
imap_view_write_flags_responses(struct imap_view *v)
{
	struct evbuffer *out = imap_client_output(v->client);
	const char *sep = "";

	evbuffer_add_printf(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < v->nkeywords; i++)
		evbuffer_add_printf(out, " %s", v->keywords[i]);
	evbuffer_add_printf(out, ")\r\n");
	if (imap_view_readonly(v)) {
		evbuffer_add_printf(out, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
		return;
	}
	evbuffer_add_printf(out, "* OK [PERMANENTFLAGS (");
	for (size_t i = 0; i < sizeof(view_system_flags) / sizeof(*view_system_flags); i++) {
		if (!acl_flag_allowed(v->rights, view_system_flags[i]))
			continue;
		evbuffer_add_printf(out, "%s%s", sep, view_system_flags[i]);
		sep = " ";
	}
	if ((v->rights & ACL_WRITE) != 0) {
		for (size_t i = 0; i < v->nkeywords; i++)
			evbuffer_add_printf(out, " %s", v->keywords[i]);
		evbuffer_add_printf(out, "%s\\*", sep);
	}
	evbuffer_add_printf(out, ")] Flags permitted\r\n");
}

/* "* seq FETCH (UID u FLAGS (...) MODSEQ (m))" for an unsolicited update. */
static void
view_write_fetch(struct imap_view *v, uint32_t seq, bool uid, bool flags, bool modseq)
{
	struct evbuffer *out = imap_client_output(v->client);
	const char *sep = "";

	evbuffer_add_printf(out, "* %u FETCH (", seq);
	if (uid) {
		evbuffer_add_printf(out, "UID %u", v->msgs[seq - 1].uid);
		sep = " ";
	}
	if (flags) {
		evbuffer_add_printf(out, "%sFLAGS ", sep);
		imap_view_write_msg_flags(v, seq);
		sep = " ";
	}
	if (modseq)
		evbuffer_add_printf(out, "%sMODSEQ (%llu)", sep,
		                    (unsigned long long)v->msgs[seq - 1].modseq);
	evbuffer_add_printf(out, ")\r\n");
}

static int
view_pos_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Removes the sorted uids from the view, reporting them when send. */
static void
view_expunge(struct imap_view *v, const uint32_t *uids, size_t count, bool send)
{
	struct evbuffer *out = imap_client_output(v->client);
	bool vanished = imap_client_has(v->client, IMAP_ENABLED_QRESYNC);
	struct seqset *gone = seqset_create();
	size_t *pos = xcalloc(count + 1, sizeof(*pos)), npos = 0;

	for (size_t i = 0; i < count; i++) {
		size_t at = view_lower_bound(v, uids[i]);

		if (at < v->count && v->msgs[at].uid == uids[i] &&
		    !seqset_contains(gone, uids[i])) {
			pos[npos++] = at;
			seqset_add(gone, uids[i]);
		}
	}
	/* Callers pass sorted UIDs, but the compaction below must not depend
	 * on it. */
	qsort(pos, npos, sizeof(*pos), view_pos_cmp);
	if (send && npos > 0) {
		if (vanished) {
			char *text = seqset_format(gone);

			evbuffer_add_printf(out, "* VANISHED %s\r\n", text);
			free(text);
		} else {
			/* Highest first: the lower numbers stay valid. */
			for (size_t i = npos; i > 0; i--)
				evbuffer_add_printf(out, "* %zu EXPUNGE\r\n", pos[i - 1] + 1);
		}
	}
	/* Compact in one pass. */
	if (npos > 0) {
		size_t dst = pos[0], k = 0;

		for (size_t src = pos[0]; src < v->count; src++) {
			if (k < npos && pos[k] == src) {
				k++;
				continue;
			}
			v->msgs[dst++] = v->msgs[src];
		}
		v->count = dst;
	}
	if (v->saved != NULL && npos > 0)
		seqset_subtract(v->saved, gone);
	seqset_destroy(&gone);
	free(pos);
}

void
imap_view_apply_expunge(struct imap_cmd *cmd, const uint32_t *uids, size_t count, bool send)
{
	struct imap_view *v = imap_client_view(cmd->client);

	if (v != NULL && count > 0)
		view_expunge(v, uids, count, send);
}

void
imap_view_own_write(struct imap_cmd *cmd, uint64_t highestmodseq)
{
	struct imap_view *v = imap_client_view(cmd->client);

	if (v != NULL && !v->dirty && v->op == NULL && highestmodseq == v->highestmodseq + 1)
		v->highestmodseq = highestmodseq;
}

void
imap_view_apply_flags(struct imap_cmd *cmd, const struct store_flags_result *res, bool send_fetch,
                      bool send_modseq)
{
	struct imap_view *v = imap_client_view(cmd->client);
	bool condstore, uid, new_keyword = false;
	uint32_t *seqs;

	if (v == NULL || res == NULL || res->count == 0)
		return;
	condstore = imap_client_has(cmd->client, IMAP_ENABLED_CONDSTORE);
	uid = cmd->uid || imap_client_has(cmd->client, IMAP_ENABLED_QRESYNC);
	seqs = xcalloc(res->count, sizeof(*seqs));
	for (size_t i = 0; i < res->count; i++) {
		uint32_t seq = imap_view_uid_to_seq(v, res->changed[i].uid);
		struct view_msg *m;

		if (seq == 0)
			continue;
		m = &v->msgs[seq - 1];
		m->fset =
		    view_intern(v, res->changed[i].flags, res->changed[i].nflags, &new_keyword);
		if (res->changed[i].modseq > m->modseq)
			m->modseq = res->changed[i].modseq;
		seqs[i] = seq;
	}
	if (new_keyword)
		imap_view_write_flags_responses(v);
	for (size_t i = 0; i < res->count; i++) {
		if (seqs[i] == 0)
			continue;
		if (send_fetch)
			view_write_fetch(v, seqs[i], uid, true, condstore);
		else if (send_modseq && condstore)
			view_write_fetch(v, seqs[i], uid, false, true);
	}
	free(seqs);
}

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

static void
view_start_changes(struct imap_view *v)
{
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
}

/* Content changes carry their modseq; ACL changes come with modseq 0. */
static void
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

/* ---------------------------------------------------------------------
 * Life cycle
 */

struct imap_view *
imap_view_create(struct imap_client *client, const char *name, const struct store_msg_list *list,
                 bool readonly)
{
	struct imap_view *v = xcalloc(1, sizeof(*v));
	const struct store_folder *f = list->folder;

	v->client = client;
	v->folder_id = f->id;
	v->owner_id = f->owner_id != 0 ? f->owner_id : imap_client_account_id(client);
	v->name = xstrdup(name);
	v->examine = readonly;
	v->rights = ACL_ALL;
	v->shared = v->owner_id != imap_client_account_id(client);
	v->uidvalidity = f->uidvalidity;
	v->uidnext = f->uidnext;
	v->highestmodseq = f->highestmodseq > 0 ? f->highestmodseq : 1;
	v->alloc = list->count < 64 ? 64 : list->count;
	v->msgs = xcalloc(v->alloc, sizeof(*v->msgs));
	for (size_t i = 0; i < list->count; i++) {
		const struct store_msg *sm = &list->msgs[i];

		/* The store sorts by UID; keep the view strictly ascending even if
		 * it did not. */
		if (v->count > 0 && sm->uid <= v->msgs[v->count - 1].uid)
			continue;
		v->msgs[v->count].uid = sm->uid;
		v->msgs[v->count].modseq = sm->modseq;
		v->msgs[v->count].fset = view_intern(v, sm->flags, sm->nflags, NULL);
		v->count++;
	}
	if (v->count > 0 && v->msgs[v->count - 1].uid >= v->uidnext)
		v->uidnext = v->msgs[v->count - 1].uid + 1;
	v->watch = notify_watch_add(imap_server_bus(imap_client_server(client)), v->owner_id,
	                            v->folder_id, view_notice, v);
	return v;
}

void
imap_view_destroy(struct imap_view **viewp)
{
	struct imap_view *v = *viewp;

	if (v == NULL)
		return;
	notify_watch_remove(&v->watch);
	notify_sync_abandon(&v->sync);
	store_op_abandon(&v->op);
	store_op_abandon(&v->rights_op);
	for (size_t i = 0; i < v->nfsets; i++) {
		free(v->fsets[i].buf);
		free(v->fsets[i].flags);
	}
	for (size_t i = 0; i < v->nkeywords; i++)
		free(v->keywords[i]);
	free(v->keywords);
	free(v->fsets);
	free(v->fset_table);
	free(v->msgs);
	seqset_destroy(&v->saved);
	free(v->name);
	free(v);
	*viewp = NULL;
}

void
imap_view_report_since(struct imap_view *v, const struct store_msg_list *list, uint64_t since,
                       const struct seqset *known_uids)
{
	struct seqset *gone = seqset_create();

	for (size_t i = 0; list != NULL && i < list->nvanished; i++) {
		uint32_t uid = list->vanished[i];

		if (imap_view_uid_to_seq(v, uid) != 0)
			continue;
		if (known_uids != NULL && !seqset_contains(known_uids, uid))
			continue;
		seqset_add(gone, uid);
	}
	if (!seqset_is_empty(gone)) {
		char *text = seqset_format(gone);

		imap_client_untagged(v->client, "VANISHED (EARLIER) %s", text);
		free(text);
	}
	seqset_destroy(&gone);
	for (size_t i = 0; i < v->count; i++) {
		if (v->msgs[i].modseq > since)
			view_write_fetch(v, (uint32_t)i + 1, true, true, true);
	}
}
