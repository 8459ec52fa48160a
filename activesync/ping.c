/* Ping (MS-ASCMD 2.2.1.13): the device names folders and an interval; the
 * answer is Status 2 with the folders that changed as soon as a change is
 * committed (on any worker or node: the change-notice bus), Status 1 at the
 * end of the interval, Status 7 when the folder hierarchy changed, 3/4/5/6/8
 * for missing parameters, syntax, a bad interval, too many folders and
 * server errors. An empty Ping re-uses the device's last set (kept in the
 * devices table, since it may land on another worker).
 *
 * A parked Ping keeps only the HTTP request, this small struct, a timer
 * and its notify watches: no database connection, no store operation, no
 * decoded request. A newer Ping of the same device ends the older one: on
 * this worker through the registry below, elsewhere through a notice on the
 * pseudo folder id (1<<63 | devices.id) whose modseq field carries the
 * newer Ping's start time (so that a late notice of an older Ping is told
 * apart); the notice travels with the Ping's first check for changes,
 * in the same statement. The Pings of one account on a worker share one
 * account-wide watch and one folder-tree check per burst of notices: a
 * change wakes one folder-list query, not one per device, and a new Ping
 * checks its folders against the tree the account's last check saw
 * (valid until the next notice of the account), so a Ping costs the
 * device row and one query for pending changes. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "config.h"
#include "eas-private.h"
#include "log.h"
#include "notify.h"
#include "store.h"
#include "xmalloc.h"

#define PING_PSEUDO_BIT (1ULL << 63)

enum ping_check {
	CHECK_HIERARCHY = 1 << 0, /* the folder tree may have changed */
	CHECK_ITEMS = 1 << 1,     /* a watched folder's contents may have changed */
};

struct eas_ping {
	struct eas_request *req;
	struct eas_server *server;
	struct eas_ping *hash_next;
	uint64_t account_id, device;
	uint64_t nonce;
	uint64_t *folders;
	size_t nfolders;
	unsigned heartbeat;
	char folder_hash[17];
	bool parked;
	bool has_sync_state;       /* the device did a FolderSync */
	bool noticed;              /* the replacement notice went out */
	unsigned checking, wanted; /* enum ping_check bits */
	struct notify_watch **watches;
	struct notify_watch *pseudo_watch;
	/* The account's shared state (from the first check on), the list of
	 * its parked Pings, and of the Pings waiting for its folder tree. */
	struct eas_ping_acct *acct;
	bool in_acct, waiting;
	struct eas_ping *acct_next, **acct_prev;
	struct eas_ping *wait_next, **wait_prev;
	struct event *timer;
	struct store_op *save_op;
	struct eas_pending *pending;
};

static void ping_check(struct eas_ping *p, unsigned what);

/* --- Registry of parked Pings by device --- */

static size_t
reg_bucket(const struct eas_server *s, uint64_t device)
{
	return (size_t)((device * 0x9e3779b97f4a7c15ULL) >> 32) & (s->ping_buckets - 1);
}

static void
reg_grow(struct eas_server *s)
{
	size_t old = s->ping_buckets;
	struct eas_ping **buckets = s->pings;

	s->ping_buckets = old == 0 ? 64 : old * 2;
	s->pings = xcalloc(s->ping_buckets, sizeof(*s->pings));
	for (size_t i = 0; i < old; i++) {
		struct eas_ping *p = buckets[i], *next;

		for (; p != NULL; p = next) {
			size_t b = reg_bucket(s, p->device);

			next = p->hash_next;
			p->hash_next = s->pings[b];
			s->pings[b] = p;
		}
	}
	free(buckets);
}

static struct eas_ping *
reg_find(struct eas_server *s, uint64_t device)
{
	if (s->ping_buckets == 0)
		return NULL;
	for (struct eas_ping *p = s->pings[reg_bucket(s, device)]; p != NULL; p = p->hash_next) {
		if (p->device == device)
			return p;
	}
	return NULL;
}

static void
reg_add(struct eas_server *s, struct eas_ping *p)
{
	size_t b;

	if (s->ping_count + 1 > s->ping_buckets * 2)
		reg_grow(s);
	b = reg_bucket(s, p->device);
	p->hash_next = s->pings[b];
	s->pings[b] = p;
	s->ping_count++;
}

static void
reg_remove(struct eas_server *s, struct eas_ping *p)
{
	struct eas_ping **pp;

	if (s->ping_buckets == 0)
		return;
	for (pp = &s->pings[reg_bucket(s, p->device)]; *pp != NULL; pp = &(*pp)->hash_next) {
		if (*pp == p) {
			*pp = p->hash_next;
			s->ping_count--;
			return;
		}
	}
}

void
eas_ping_registry_free(struct eas_server *server)
{
	free(server->pings);
	server->pings = NULL;
	server->ping_buckets = server->ping_count = 0;
	free(server->accts);
	server->accts = NULL;
	server->acct_buckets = server->acct_count = 0;
}

/* --- Accounts with Pings --- */

struct eas_ping_acct {
	struct eas_server *server;
	struct eas_ping_acct *hash_next;
	uint64_t account_id;
	struct notify_watch *watch;
	size_t refs;              /* Pings with acct pointing here */
	struct eas_ping *pings;   /* parked */
	struct eas_ping *waiters; /* waiting for the folder tree */
	struct store_op *op;
	bool again;     /* a notice came during the check */
	bool iterating; /* ending Pings: do not free yet */
	/* The EAS folder tree as the last check saw it; valid until the
	 * next notice of the account. */
	bool tree_valid;
	char tree_hash[17];
	uint64_t *tree_ids; /* sorted */
	size_t ntree_ids;
};

static size_t
acct_bucket(const struct eas_server *s, uint64_t account_id)
{
	return (size_t)((account_id * 0x9e3779b97f4a7c15ULL) >> 32) & (s->acct_buckets - 1);
}

static void
acct_grow(struct eas_server *s)
{
	size_t old = s->acct_buckets;
	struct eas_ping_acct **buckets = s->accts;

	s->acct_buckets = old == 0 ? 64 : old * 2;
	s->accts = xcalloc(s->acct_buckets, sizeof(*s->accts));
	for (size_t i = 0; i < old; i++) {
		struct eas_ping_acct *a = buckets[i], *next;

		for (; a != NULL; a = next) {
			size_t b = acct_bucket(s, a->account_id);

			next = a->hash_next;
			a->hash_next = s->accts[b];
			s->accts[b] = a;
		}
	}
	free(buckets);
}

static void
acct_maybe_free(struct eas_ping_acct *a)
{
	struct eas_server *s = a->server;
	struct eas_ping_acct **pp;

	if (a->refs > 0 || a->iterating)
		return;
	for (pp = &s->accts[acct_bucket(s, a->account_id)]; *pp != NULL; pp = &(*pp)->hash_next) {
		if (*pp == a) {
			*pp = a->hash_next;
			s->acct_count--;
			break;
		}
	}
	notify_watch_remove(&a->watch);
	store_op_abandon(&a->op);
	free(a->tree_ids);
	free(a);
}

static void ping_end(struct eas_ping *p, unsigned status, const uint64_t *changed, size_t nchanged,
                     unsigned value);
static void ping_tree_checked(struct eas_ping *p);
static void acct_check(struct eas_ping_acct *a);

static void
wait_unlink(struct eas_ping *p)
{
	if (!p->waiting)
		return;
	*p->wait_prev = p->wait_next;
	if (p->wait_next != NULL)
		p->wait_next->wait_prev = p->wait_prev;
	p->waiting = false;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Keeps the digest and the folder ids of the tree in a. */
static void
acct_keep_tree(struct eas_ping_acct *a, const struct store_folder_list *list)
{
	char *state = eas_folders_state(list), *copy = xstrdup(state);
	size_t n;
	struct eas_state_entry *e = eas_state_parse(copy, &n);

	eas_folders_hash(state, a->tree_hash);
	free(a->tree_ids);
	a->tree_ids = xcalloc(n + 1, sizeof(*a->tree_ids));
	for (size_t i = 0; i < n; i++)
		a->tree_ids[i] = e[i].id;
	a->ntree_ids = n;
	qsort(a->tree_ids, n, sizeof(*a->tree_ids), u64_cmp);
	free(e);
	free(copy);
	free(state);
}

/* The account's folder list: every parked Ping whose device holds another
 * hierarchy is told to sync it (Status 7); the waiting Pings go on. */
static void
acct_list_done(const struct store_folder_list *list, const char *error, void *ctx)
{
	struct eas_ping_acct *a = ctx;
	struct eas_ping *p, *next;

	a->op = NULL;
	a->iterating = true;
	if (list == NULL) {
		log_warning("eas: Ping hierarchy check of account %" PRIu64 " failed: %s",
		            a->account_id, error);
		a->tree_valid = false;
		while ((p = a->waiters) != NULL) {
			wait_unlink(p);
			eas_log(p->req, "listing folders failed: %s", error);
			ping_end(p, 8, NULL, 0, 0);
		}
	} else {
		acct_keep_tree(a, list);
		/* A notice during the check may have changed the tree again. */
		a->tree_valid = !a->again;
		for (p = a->pings; p != NULL; p = next) {
			next = p->acct_next;
			if (!p->has_sync_state || strcmp(a->tree_hash, p->folder_hash) != 0)
				ping_end(p, 7, NULL, 0, 0);
		}
		while ((p = a->waiters) != NULL) {
			wait_unlink(p);
			ping_tree_checked(p);
		}
	}
	a->iterating = false;
	if (a->again && a->refs > 0) {
		a->again = false;
		acct_check(a);
	}
	acct_maybe_free(a);
}

static void
acct_check(struct eas_ping_acct *a)
{
	if (a->op != NULL) {
		a->again = true;
		return;
	}
	a->again = false;
	a->op = store_folder_list(a->server->store, a->account_id, acct_list_done, a);
}

static void
acct_notice(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly, void *ctx)
{
	struct eas_ping_acct *a = ctx;

	/* Pseudo ids are the Ping-replacement notices. Any other change may
	 * be a folder created, renamed or deleted. */
	if (!possibly && (folder_id & PING_PSEUDO_BIT) != 0)
		return;
	a->tree_valid = false;
	acct_check(a);
}

/* The account's shared state for p (found or made). */
static struct eas_ping_acct *
acct_ref(struct eas_ping *p)
{
	struct eas_server *s = p->server;
	struct eas_ping_acct *a = NULL;

	if (p->acct != NULL)
		return p->acct;
	if (s->acct_buckets > 0) {
		for (a = s->accts[acct_bucket(s, p->account_id)]; a != NULL; a = a->hash_next) {
			if (a->account_id == p->account_id)
				break;
		}
	}
	if (a == NULL) {
		size_t b;

		if (s->acct_count + 1 > s->acct_buckets * 2)
			acct_grow(s);
		a = xcalloc(1, sizeof(*a));
		a->server = s;
		a->account_id = p->account_id;
		a->watch = notify_watch_add(s->bus, p->account_id, 0, acct_notice, a);
		b = acct_bucket(s, a->account_id);
		a->hash_next = s->accts[b];
		s->accts[b] = a;
		s->acct_count++;
	}
	a->refs++;
	p->acct = a;
	return a;
}

static void
acct_join(struct eas_ping *p)
{
	struct eas_ping_acct *a = acct_ref(p);

	p->acct_next = a->pings;
	if (a->pings != NULL)
		a->pings->acct_prev = &p->acct_next;
	p->acct_prev = &a->pings;
	a->pings = p;
	p->in_acct = true;
}

static void
acct_leave(struct eas_ping *p)
{
	struct eas_ping_acct *a = p->acct;

	if (a == NULL)
		return;
	wait_unlink(p);
	if (p->in_acct) {
		*p->acct_prev = p->acct_next;
		if (p->acct_next != NULL)
			p->acct_next->acct_prev = p->acct_prev;
		p->in_acct = false;
	}
	p->acct = NULL;
	a->refs--;
	acct_maybe_free(a);
}

/* --- Ending --- */

static void
ping_free(struct eas_ping *p)
{
	if (p->parked)
		reg_remove(p->server, p);
	p->parked = false;
	for (size_t i = 0; p->watches != NULL && i < p->nfolders; i++)
		notify_watch_remove(&p->watches[i]);
	notify_watch_remove(&p->pseudo_watch);
	acct_leave(p);
	if (p->timer != NULL)
		event_free(p->timer);
	store_op_abandon(&p->save_op);
	eas_pending_abandon(&p->pending);
	free(p->watches);
	free(p->folders);
	free(p);
}

/* Answers Status status, with extra written by the caller's data: the
 * changed folders (2), the bound (5), the limit (6). */
static void
ping_end(struct eas_ping *p, unsigned status, const uint64_t *changed, size_t nchanged,
         unsigned value)
{
	struct eas_request *req = p->req;
	struct eas_server *s = p->server;
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);

	wbxml_start(w, EAS_PING_PING);
	wbxml_uint(w, EAS_PING_STATUS, status);
	if (status == 2) {
		wbxml_start(w, EAS_PING_FOLDERS);
		for (size_t i = 0; i < nchanged; i++)
			wbxml_uint(w, EAS_PING_FOLDER, changed[i]);
		wbxml_end(w);
	} else if (status == 5) {
		wbxml_uint(w, EAS_PING_HEARTBEATINTERVAL, value);
	} else if (status == 6) {
		wbxml_uint(w, EAS_PING_MAXFOLDERS, value);
	}
	wbxml_end(w);
	wbxml_writer_finish(&w);
	if (status != 1 && status != 2)
		eas_log(req, "status %u", status);
	else if (status == 2)
		eas_log(req, "%zu folder(s) changed", nchanged);
	ping_free(p);
	eas_request_set_abort(req, NULL, NULL);
	eas_respond_wbxml(req, out);
	evbuffer_free(out);
	eas_server_check_drained(s);
}

static void
ping_abort(struct eas_request *req, void *ctx)
{
	struct eas_ping *p = ctx;
	struct eas_server *s = p->server;

	ping_free(p);
	eas_server_check_drained(s);
}

void
eas_ping_shutdown_all(struct eas_server *server)
{
	for (size_t b = 0; b < server->ping_buckets; b++) {
		while (server->pings != NULL && server->pings[b] != NULL)
			ping_end(server->pings[b], 1, NULL, 0, 0);
	}
}

/* --- Watching --- */

static void
ping_timeout(evutil_socket_t fd, short what, void *ctx)
{
	ping_end(ctx, 1, NULL, 0, 0);
}

static void
ping_folder_notice(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly,
                   void *ctx)
{
	/* The account's watch sees the same notice and checks the hierarchy
	 * (a rename or deletion of this folder). */
	ping_check(ctx, CHECK_ITEMS);
}

static void
ping_pseudo_notice(uint64_t account_id, uint64_t folder_id, uint64_t nonce, bool possibly,
                   void *ctx)
{
	struct eas_ping *p = ctx;

	/* A newer Ping of this device started (here or elsewhere); our own
	 * notice and late notices of older Pings carry an older start time. */
	if (possibly || nonce <= p->nonce)
		return;
	eas_log(p->req, "replaced by a newer Ping");
	ping_end(p, 1, NULL, 0, 0);
}

static uint64_t
ping_nonce(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (((uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec) << 8 |
	        (randombytes_random() & 0xff)) &
	       ~PING_PSEUDO_BIT;
}

static void
ping_park(struct eas_ping *p)
{
	struct eas_request *req = p->req;
	struct eas_server *s = p->server;
	struct eas_ping *older;
	struct timeval tv = {(time_t)p->heartbeat, 0};

	if (s->shutting_down) {
		ping_end(p, 1, NULL, 0, 0);
		return;
	}
	older = reg_find(s, p->device);
	if (older != NULL) {
		eas_log(older->req, "replaced by a newer Ping");
		ping_end(older, 1, NULL, 0, 0);
	}
	reg_add(s, p);
	p->parked = true;
	p->watches = xcalloc(p->nfolders, sizeof(*p->watches));
	for (size_t i = 0; i < p->nfolders; i++)
		p->watches[i] =
		    notify_watch_add(req->bus, p->account_id, p->folders[i], ping_folder_notice, p);
	p->pseudo_watch = notify_watch_add(req->bus, p->account_id, PING_PSEUDO_BIT | p->device,
	                                   ping_pseudo_notice, p);
	acct_join(p);
	p->timer = evtimer_new(req->base, ping_timeout, p);
	evtimer_add(p->timer, &tv);
}

/* --- Checks --- */

static void
ping_pending_done(const uint64_t *changed, size_t count, const char *error, void *ctx)
{
	struct eas_ping *p = ctx;
	unsigned again;

	p->pending = NULL;
	if (error != NULL) {
		eas_log(p->req, "checking for changes failed: %s", error);
		ping_end(p, 8, NULL, 0, 0);
		return;
	}
	if (count > 0) {
		ping_end(p, 2, changed, count, 0);
		return;
	}
	p->checking = 0;
	if (!p->parked) {
		ping_park(p);
		return;
	}
	again = p->wanted;
	p->wanted = 0;
	if (again != 0)
		ping_check(p, again);
}

static void
ping_items(struct eas_ping *p)
{
	/* The first check also tells other workers and nodes that this Ping
	 * replaces the device's older one. */
	uint64_t notice = p->noticed ? 0 : PING_PSEUDO_BIT | p->device;

	p->noticed = true;
	p->pending = eas_sync_pending(p->req, p->folders, p->nfolders, notice, p->nonce,
	                              ping_pending_done, p);
}

/* Goes on once the account's folder tree is known. */
static void
ping_tree_checked(struct eas_ping *p)
{
	const struct eas_ping_acct *a = p->acct;
	bool missing = false;

	for (size_t i = 0; i < p->nfolders && !missing; i++)
		missing = bsearch(&p->folders[i], a->tree_ids, a->ntree_ids, sizeof(*a->tree_ids),
		                  u64_cmp) == NULL;
	if (!p->has_sync_state || missing || strcmp(a->tree_hash, p->folder_hash) != 0) {
		ping_end(p, 7, NULL, 0, 0);
		return;
	}
	if ((p->checking & CHECK_ITEMS) != 0) {
		ping_items(p);
		return;
	}
	p->checking = 0;
	if (p->wanted != 0) {
		unsigned again = p->wanted;

		p->wanted = 0;
		ping_check(p, again);
	}
}

/* Runs the checks in what (one at a time; a notice during a check is
 * remembered and checked afterwards). */
static void
ping_check(struct eas_ping *p, unsigned what)
{
	if (p->checking != 0) {
		p->wanted |= what;
		return;
	}
	p->checking = what;
	if ((what & CHECK_HIERARCHY) != 0) {
		struct eas_ping_acct *a = acct_ref(p);

		if (a->tree_valid) {
			ping_tree_checked(p);
			return;
		}
		/* Wait for the account's check (one query for all its Pings). */
		p->wait_next = a->waiters;
		if (a->waiters != NULL)
			a->waiters->wait_prev = &p->wait_next;
		p->wait_prev = &a->waiters;
		a->waiters = p;
		p->waiting = true;
		if (a->op == NULL)
			acct_check(a);
		return;
	}
	ping_items(p);
}

/* --- The command --- */

static void
ping_saved(enum store_err code, const char *error, void *ctx)
{
	struct eas_ping *p = ctx;

	p->save_op = NULL;
	if (code != STORE_OK)
		eas_log(p->req, "saving the Ping set failed: %s", error);
}

void
eas_cmd_ping(struct eas_request *req)
{
	const struct floe_config *cfg = req->cfg;
	const struct store_device *dev = eas_request_device(req);
	const struct wbxml_node *root = req->body, *folders = NULL, *f;
	struct eas_ping *p = xcalloc(1, sizeof(*p));
	unsigned min = cfg->eas.heartbeat_min_ms / 1000, max = cfg->eas.heartbeat_max_ms / 1000;
	uint64_t hb = 0;
	bool have_hb = false, changed_set = false;

	p->req = req;
	p->server = req->server;
	p->account_id = req->account_id;
	p->device = dev->id;
	p->has_sync_state = dev->folder_sync_key != 0;
	p->nonce = ping_nonce();
	snprintf(p->folder_hash, sizeof(p->folder_hash), "%s", dev->folder_hash);
	eas_request_set_abort(req, ping_abort, p);

	if (root != NULL && root->tag != EAS_PING_PING) {
		ping_end(p, 4, NULL, 0, 0);
		return;
	}
	if (root != NULL) {
		int r = wbxml_child_uint(root, EAS_PING_HEARTBEATINTERVAL, &hb);

		if (r < 0) {
			ping_end(p, 4, NULL, 0, 0);
			return;
		}
		have_hb = r == 0;
		folders = wbxml_child(root, EAS_PING_FOLDERS);
	}
	if (folders != NULL) {
		size_t n = 0;

		for (f = wbxml_child(folders, EAS_PING_FOLDER); f != NULL;
		     f = wbxml_next(f, EAS_PING_FOLDER))
			n++;
		if (n > cfg->eas.ping_max_folders) {
			ping_end(p, 6, NULL, 0, cfg->eas.ping_max_folders);
			return;
		}
		p->folders = xcalloc(n + 1, sizeof(*p->folders));
		for (f = wbxml_child(folders, EAS_PING_FOLDER); f != NULL;
		     f = wbxml_next(f, EAS_PING_FOLDER)) {
			uint64_t id;

			if (wbxml_child_uint(f, EAS_PING_ID, &id) != 0) {
				/* Not one of our ServerIds: the device's tree is stale. */
				ping_end(p, wbxml_child(f, EAS_PING_ID) == NULL ? 4 : 7, NULL, 0,
				         0);
				return;
			}
			p->folders[p->nfolders++] = id;
		}
		qsort(p->folders, p->nfolders, sizeof(*p->folders), u64_cmp);
		n = 0;
		for (size_t i = 0; i < p->nfolders; i++) {
			if (n == 0 || p->folders[i] != p->folders[n - 1])
				p->folders[n++] = p->folders[i];
		}
		p->nfolders = n;
		changed_set =
		    p->nfolders != dev->nping_folders ||
		    memcmp(p->folders, dev->ping_folders, p->nfolders * sizeof(*p->folders)) != 0;
		if (p->nfolders == 0) {
			ping_end(p, 3, NULL, 0, 0);
			return;
		}
	} else if (dev->nping_folders > 0) {
		p->nfolders = dev->nping_folders;
		p->folders = xcalloc(p->nfolders, sizeof(*p->folders));
		memcpy(p->folders, dev->ping_folders, p->nfolders * sizeof(*p->folders));
	} else {
		ping_end(p, 3, NULL, 0, 0);
		return;
	}
	if (!have_hb) {
		if (dev->ping_heartbeat == 0) {
			ping_end(p, 3, NULL, 0, 0);
			return;
		}
		hb = dev->ping_heartbeat;
	}
	if (hb < min) {
		ping_end(p, 5, NULL, 0, min);
		return;
	}
	if (hb > max) {
		if (!cfg->eas.heartbeat_clamp) {
			ping_end(p, 5, NULL, 0, max);
			return;
		}
		eas_log(req, "HeartbeatInterval %" PRIu64 " lowered to %u", hb, max);
		hb = max;
	}
	p->heartbeat = (unsigned)hb;
	/* Everything needed is in p: drop the decoded tree and the body now,
	 * not at parking, since the checks below may wait for the database
	 * behind thousands of other requests. */
	eas_request_release_body(req);
	if (changed_set || hb != dev->ping_heartbeat)
		p->save_op = store_device_set_ping(req->store, req->account_id, dev->id, p->folders,
		                                   p->nfolders, p->heartbeat, ping_saved, p);
	/* Changes may already be waiting: check before parking. */
	ping_check(p, CHECK_HIERARCHY | CHECK_ITEMS);
}
