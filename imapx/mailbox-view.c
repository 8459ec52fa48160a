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
#include "msg-cache.h"
#include "msg-util.h"
#include "notify.h"
#include "seqset.h"
#include "store-acl.h"
#include "store.h"
#include "xmalloc.h"

#include "mailbox-view-private.h"

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
uint32_t
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

/* ---------------------------------------------------------------------
 * Private items hidden from restricted grantees
 */

bool
imap_view_restricts(uint64_t account_id, uint64_t owner_id, const char *type, unsigned rights)
{
	return owner_id != account_id && type != NULL && strcmp(type, "mail") != 0 &&
	       (rights & ACL_ADMIN) == 0;
}

bool
imap_view_restricted(const struct imap_view *v)
{
	return v->restricted;
}

bool
imap_view_is_hidden(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->nhidden;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->hidden[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->nhidden && v->hidden[lo] == uid;
}

void
imap_view_subtract_hidden(const struct imap_view *v, struct seqset *uids)
{
	if (v->nhidden == 0 || seqset_is_empty(uids))
		return;
	for (size_t i = 0; i < v->nhidden; i++) {
		if (v->hidden[i] > seqset_max(uids))
			break;
		if (seqset_contains(uids, v->hidden[i]))
			seqset_remove_range(uids, v->hidden[i], v->hidden[i]);
	}
}

void
view_hide(struct imap_view *v, const uint32_t *uids, size_t count, bool send)
{
	uint32_t *merged, *gone;
	size_t n = 0, ngone = 0, a = 0, b = 0;

	if (count == 0)
		return;
	merged = xcalloc(v->nhidden + count, sizeof(*merged));
	while (a < v->nhidden || b < count) {
		uint32_t x;

		if (b == count || (a < v->nhidden && v->hidden[a] <= uids[b]))
			x = v->hidden[a++];
		else
			x = uids[b++];
		if (n == 0 || merged[n - 1] != x)
			merged[n++] = x;
	}
	free(v->hidden);
	v->hidden = merged;
	v->nhidden = v->hidden_alloc = n;
	/* Normally none: a private item is hidden before the view holds it.
	 * Only a grantee who lost Administer still has some. */
	gone = xcalloc(count, sizeof(*gone));
	for (size_t i = 0; i < count; i++) {
		if (imap_view_uid_to_seq(v, uids[i]) != 0)
			gone[ngone++] = uids[i];
	}
	if (ngone > 0)
		view_expunge(v, gone, ngone, send);
	free(gone);
}

void
imap_view_set_hidden(struct imap_view *v, const uint32_t *uids, size_t count)
{
	view_hide(v, uids, count, false);
}

void
view_update_restricted(struct imap_view *v)
{
	bool restricted = v->shared && v->groupware && (v->rights & ACL_ADMIN) == 0;

	if (restricted && !v->restricted)
		v->hide_all = true;
	if (!restricted) {
		free(v->hidden);
		v->hidden = NULL;
		v->nhidden = v->hidden_alloc = 0;
		v->hide_all = false;
	}
	v->restricted = restricted;
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
void
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
void
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
	v->groupware = f->type != NULL && strcmp(f->type, "mail") != 0;
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
	notify_sync_abandon(&v->cu_sync);
	store_op_abandon(&v->op);
	store_op_abandon(&v->rights_op);
	store_op_abandon(&v->warm_op);
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
	free(v->hidden);
	seqset_destroy(&v->saved);
	free(v->name);
	free(v);
	*viewp = NULL;
}

static void
view_warm_cb(const struct store_cache_result *res, enum store_err code, const char *error,
             void *ctx)
{
	struct imap_view *v = ctx;
	struct imap_cache *cache = imap_server_cache(imap_client_server(v->client));

	v->warm_op = NULL;
	if (res == NULL) {
		log_warning("imap %s: cannot read %s for the cache: %s",
		            imap_client_peer(v->client), v->name,
		            error != NULL ? error : "unknown error");
		return;
	}
	for (size_t i = 0; i < res->count; i++)
		imap_cache_msg_put(cache, v->folder_id, &res->rows[i]);
}

void
imap_view_warm_cache(struct imap_view *v)
{
	struct imap_cache *cache = imap_server_cache(imap_client_server(v->client));
	struct imap_cache_stats st;
	struct store_uid_ranges ranges;
	uint32_t *misses, (*pairs)[2] = NULL;
	size_t n = 0;

	imap_cache_get_stats(cache, &st);
	/* A rough entry size: a folder that would take more than half the
	 * cache is left to fill as it is read. */
	if (!imap_cache_enabled(cache) || v->warm_op != NULL || v->count == 0 ||
	    v->count > IMAP_VIEW_WARM_MAX || v->count * 4096 > st.max_bytes / 2)
		return;
	misses = xcalloc(v->count, sizeof(*misses));
	for (size_t i = 0; i < v->count; i++) {
		if (imap_cache_msg_get(cache, v->folder_id, v->uidvalidity, v->msgs[i].uid) == NULL)
			misses[n++] = v->msgs[i].uid;
	}
	if (n > 0) {
		imap_uid_array_ranges(misses, n, &ranges, &pairs);
		v->warm_op = store_fetch_cache(imap_client_store(v->client), v->owner_id,
		                               v->folder_id, &ranges, &ranges, 0, view_warm_cb, v);
		free(pairs);
	}
	free(misses);
}

void
imap_view_report_since(struct imap_view *v, const struct store_msg_list *list, uint64_t since,
                       const struct seqset *known_uids)
{
	struct seqset *gone = seqset_create();

	for (size_t i = 0; list != NULL && i < list->nvanished; i++) {
		uint32_t uid = list->vanished[i];

		if (imap_view_uid_to_seq(v, uid) != 0 || imap_view_is_hidden(v, uid))
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
