/* The Sync command (MS-ASCMD 2.2.1.21) for the Email class: reads the
 * request (or the device's cached one for an empty or Partial request),
 * checks every collection's SyncKey against the sync state (a repeated
 * previous key replays: SmartSync), runs the client's commands
 * (sync-client.c), computes the server's changes in windows, loads the
 * messages to send, records the new state of every collection in one
 * transaction and writes the response; with nothing to say it answers
 * empty, or parks for Wait / HeartbeatInterval without a database
 * connection until a folder changes. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "notify.h"
#include "sync-private.h"
#include "xmalloc.h"

#define WAIT_MIN_MINUTES 1
#define WAIT_MAX_MINUTES 59
#define HEARTBEAT_MIN    60
#define HEARTBEAT_MAX    3540

/* ---------------------------------------------------------------------
 * Small containers
 */

void
u32vec_add(struct u32vec *a, uint32_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 16 : a->cap * 2;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
	}
	a->v[a->n++] = x;
}

void
u64vec_add(struct u64vec *a, uint64_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 16 : a->cap * 2;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
	}
	a->v[a->n++] = x;
}

void
u32vec_free(struct u32vec *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

void
u64vec_free(struct u64vec *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

void
sync_delta_up(struct sync_delta *d, uint32_t uid, uint64_t modseq)
{
	u32vec_add(&d->up, uid);
	u64vec_add(&d->up_modseq, modseq);
}

void
sync_delta_free(struct sync_delta *d)
{
	u32vec_free(&d->del);
	u32vec_free(&d->up);
	u64vec_free(&d->up_modseq);
}

struct store_eassync_delta
sync_delta_view(const struct sync_delta *d)
{
	struct store_eassync_delta v = {
	    .del = d->del.v,
	    .ndel = d->del.n,
	    .up_uids = d->up.v,
	    .up_modseqs = d->up_modseq.v,
	    .nup = d->up.n,
	};
	return v;
}

void
sync_coll_clear_server(struct sync_coll *c)
{
	free(c->changes);
	c->changes = NULL;
	c->nchanges = 0;
	c->more = false;
	eas_mail_items_free(c->items, c->nitems);
	c->items = NULL;
	c->nitems = 0;
	eas_mail_items_free(c->citems, c->ncitems);
	c->citems = NULL;
	c->ncitems = 0;
	sync_delta_free(&c->server);
	sync_delta_free(&c->sadds);
	u32vec_free(&c->deferred);
	c->diffed = false;
}

void
sync_ctx_free(struct sync_ctx *ctx)
{
	store_op_abandon(&ctx->op);
	eas_mail_load_abandon(&ctx->load);
	for (size_t i = 0; i < ctx->nwatches; i++)
		notify_watch_remove(&ctx->watches[i]);
	free(ctx->watches);
	if (ctx->timer != NULL)
		event_free(ctx->timer);
	if (ctx->wake != NULL)
		event_free(ctx->wake);
	sync_client_clear(ctx);
	for (size_t i = 0; i < ctx->ncolls; i++) {
		struct sync_coll *c = &ctx->colls[i];

		free(c->key_text);
		free(c->state_generation);
		for (size_t k = 0; k < c->nresponses; k++) {
			free(c->responses[k].client_id);
			free(c->responses[k].server_id);
		}
		free(c->responses);
		sync_delta_free(&c->client);
		u32vec_free(&c->fetch);
		sync_coll_clear_server(c);
	}
	free(ctx->colls);
	free(ctx->last_request);
	free(ctx);
}

static void
sync_abort(struct eas_request *req, void *vctx)
{
	(void)req;
	sync_ctx_free(vctx);
}

/* ---------------------------------------------------------------------
 * The flow
 */

static void finish(struct sync_ctx *ctx);
static void load_state(struct sync_ctx *ctx);

static void
state_loaded(const struct store_eassync_load_result *res, enum store_err code, const char *error,
             void *vctx)
{
	struct sync_ctx *ctx = vctx;

	(void)code;
	ctx->op = NULL;
	if (res == NULL) {
		sync_fail(ctx, error);
		return;
	}
	ctx->trash_id = res->trash_id;
	for (size_t i = 0; i < ctx->ncolls && i < res->count; i++) {
		struct sync_coll *c = &ctx->colls[i];
		const struct store_eassync_collection *st = &res->collections[i];

		if (c->status != 1)
			continue;
		if (!st->exists) {
			c->status = 12; /* the client's folder list is stale */
			continue;
		}
		if (st->type == NULL || strcmp(st->type, "mail") != 0) {
			eas_log(ctx->req, "Sync: collection %llu is of type %s, not served",
			        (unsigned long long)c->folder_id,
			        st->type != NULL ? st->type : "?");
			c->status = 4;
			continue;
		}
		c->is_trash = st->special_use != NULL && strcmp(st->special_use, "trash") == 0;
		c->uidvalidity = st->uidvalidity;
		if (!c->options_given) {
			eas_mail_options_from_json(st->options, &c->opts);
		} else {
			struct eas_mail_options saved;
			char *a, *b;

			eas_mail_options_from_json(st->options, &saved);
			a = eas_mail_options_json(&saved);
			b = eas_mail_options_json(&c->opts);
			c->options_changed = st->options == NULL || strcmp(a, b) != 0;
			free(a);
			free(b);
		}
		if (c->use_current_key) {
			if (st->generation == NULL) {
				c->status = 3;
				continue;
			}
			snprintf(c->generation, sizeof(c->generation), "%s", st->generation);
			c->key = st->current_key;
			c->get_changes = true;
		}
		if (c->key == 0) {
			c->phase = SYNC_PHASE_DONE; /* reset below, nothing else */
			continue;
		}
		if (st->generation == NULL || strcmp(st->generation, c->generation) != 0 ||
		    st->key_uidvalidity != st->uidvalidity) {
			c->status = 3;
			continue;
		}
		if (c->key == st->current_key) {
			c->replay = false;
		} else if (c->key + 1 == st->current_key && st->has_previous) {
			/* SmartSync: the last response was lost. */
			c->replay = true;
			sync_replay_load(c, st->replay);
			eas_log(ctx->req, "Sync: collection %llu repeats key %u, replaying",
			        (unsigned long long)c->folder_id, c->key);
		} else {
			c->status = 3;
			continue;
		}
		c->state_generation = xstrdup(st->generation);
		c->current_key = st->current_key;
		c->new_key = c->key + 1;
		c->phase = SYNC_PHASE_ADDS;
	}
	ctx->cur = 0;
	sync_continue(ctx);
}

static void
cache_loaded(const struct store_eassync_load_result *res, enum store_err code, const char *error,
             void *vctx)
{
	struct sync_ctx *ctx = vctx;

	(void)code;
	ctx->op = NULL;
	if (res == NULL) {
		sync_fail(ctx, error);
		return;
	}
	ctx->last_request = res->last_request != NULL ? xstrdup(res->last_request) : NULL;
	if (sync_merge_cache(ctx, res->last_request) < 0 && ctx->ncolls == 0) {
		sync_respond_status(ctx, 13);
		return;
	}
	load_state(ctx);
}

static void
load_state(struct sync_ctx *ctx)
{
	uint64_t *ids = xcalloc(ctx->ncolls + 1, sizeof(*ids));

	for (size_t i = 0; i < ctx->ncolls; i++)
		ids[i] = ctx->colls[i].folder_id;
	ctx->op = store_eassync_load(ctx->req->store, ctx->req->account_id, ctx->req->device->id,
	                             ids, ctx->ncolls, state_loaded, ctx);
	free(ids);
}

static void
reset_done(const char *generation, enum store_err code, const char *error, void *vctx)
{
	struct sync_ctx *ctx = vctx;
	struct sync_coll *c = &ctx->colls[ctx->cur];

	ctx->op = NULL;
	if (generation == NULL) {
		if (code == STORE_ERR_NOT_FOUND) {
			c->status = 12;
		} else {
			sync_fail(ctx, error);
			return;
		}
	} else {
		c->state_generation = xstrdup(generation);
		c->new_key = 1;
		c->reset = true;
	}
	ctx->cur++;
	sync_continue(ctx);
}

static unsigned
window_left(const struct sync_ctx *ctx, const struct sync_coll *c)
{
	size_t used = 0;

	if (ctx->total_window == 0)
		return c->window;
	for (size_t i = 0; i < ctx->cur; i++)
		used += ctx->colls[i].nchanges;
	if (used >= ctx->total_window)
		return 0;
	return ctx->total_window - used < c->window ? (unsigned)(ctx->total_window - used)
	                                            : c->window;
}

static void
diff_done(const struct store_eassync_diff_result *res, enum store_err code, const char *error,
          void *vctx)
{
	struct sync_ctx *ctx = vctx;
	struct sync_coll *c = &ctx->colls[ctx->cur];
	unsigned budget = window_left(ctx, c);
	static const char order[] = {EASSYNC_DELETE, EASSYNC_SOFTDELETE, EASSYNC_CHANGE,
	                             EASSYNC_ADD};

	ctx->op = NULL;
	if (res == NULL) {
		if (code == STORE_ERR_NOT_FOUND) {
			c->status = 12;
			c->phase = SYNC_PHASE_DONE;
			sync_continue(ctx);
			return;
		}
		sync_fail(ctx, error);
		return;
	}
	c->highestmodseq = res->highestmodseq;
	c->changes = xcalloc(res->count + 1, sizeof(*c->changes));
	/* Deletions first (cheap, and they free the device's space), then
	 * flag changes, then new messages highest UID first. */
	for (size_t o = 0; o < sizeof(order); o++) {
		for (size_t i = 0; i < res->count && c->nchanges < budget; i++) {
			if (res->changes[i].kind == (enum store_eassync_kind)order[o])
				c->changes[c->nchanges++] = res->changes[i];
		}
	}
	c->diffed = true;
	c->cursor_old = res->cursor;
	c->walk_done = res->walk_done;
	c->changes_complete = res->changes_complete;
	c->nwalk_rows = 0;
	c->nonwalk_selected = true;
	for (size_t i = 0; i < res->count; i++) {
		if (res->changes[i].walk) {
			c->nwalk_rows++;
		} else {
			bool selected = false;

			for (size_t k = 0; k < c->nchanges && !selected; k++)
				selected = c->changes[k].uid == res->changes[i].uid &&
				           c->changes[k].kind == res->changes[i].kind;
			if (!selected)
				c->nonwalk_selected = false;
		}
	}
	c->more = res->total > c->nchanges;
	c->phase = SYNC_PHASE_LOAD;
	sync_continue(ctx);
}

static bool
needs_raw(const struct eas_mail_options *o)
{
	for (unsigned i = 0; i < o->nbody; i++) {
		if (o->body[i].type == 4)
			return true;
	}
	return false;
}

static void
citems_loaded(struct eas_mail_item *items, size_t count, const char *error, void *vctx)
{
	struct sync_ctx *ctx = vctx;
	struct sync_coll *c = &ctx->colls[ctx->cur];

	ctx->load = NULL;
	if (items == NULL) {
		sync_fail(ctx, error);
		return;
	}
	c->citems = items;
	c->ncitems = count;
	for (size_t i = 0; i < c->nchanges; i++) {
		const struct store_eassync_change *ch = &c->changes[i];

		if (ch->kind == EASSYNC_CHANGE && sync_find_citem(c, ch->uid) != NULL)
			sync_delta_up(&c->server, ch->uid, ch->modseq);
		else if (ch->kind == EASSYNC_DELETE || ch->kind == EASSYNC_SOFTDELETE)
			u32vec_add(&c->server.del, ch->uid);
	}
	c->phase = SYNC_PHASE_DONE;
	sync_continue(ctx);
}

static void
items_loaded(struct eas_mail_item *items, size_t count, const char *error, void *vctx)
{
	struct sync_ctx *ctx = vctx;
	struct sync_coll *c = &ctx->colls[ctx->cur];
	struct u32vec cuids = {0};
	size_t nadds = count - c->fetch.n;

	ctx->load = NULL;
	if (items == NULL) {
		sync_fail(ctx, error);
		return;
	}
	c->items = items;
	c->nitems = count;
	/* Bound the response: past the byte budget the remaining adds wait
	 * for the next request (MoreAvailable). */
	for (size_t i = 0, k = 0; i < c->nchanges; i++) {
		struct store_eassync_change *ch = &c->changes[i];
		struct eas_mail_item *it;

		if (ch->kind != EASSYNC_ADD)
			continue;
		it = k < nadds ? &items[k] : NULL;
		k++;
		if (it == NULL || !it->found)
			continue;
		if (ctx->body_bytes > 0 && ctx->body_bytes + eas_email_body_bytes(it, &c->opts) >
		                               EAS_SYNC_MAX_RESPONSE_BYTES) {
			it->found = false; /* not sent */
			c->more = true;
			u32vec_add(&c->deferred, ch->uid);
			continue;
		}
		ctx->body_bytes += eas_email_body_bytes(it, &c->opts) + 512;
		sync_delta_up(&c->sadds, ch->uid, ch->modseq);
	}
	for (size_t i = 0; i < c->nchanges; i++) {
		if (c->changes[i].kind == EASSYNC_CHANGE)
			u32vec_add(&cuids, c->changes[i].uid);
	}
	if (cuids.n > 0) {
		ctx->load = eas_mail_load(ctx->req->store, ctx->req->account_id, c->folder_id,
		                          cuids.v, cuids.n, false, false, citems_loaded, ctx);
		u32vec_free(&cuids);
		return;
	}
	citems_loaded(xcalloc(1, sizeof(struct eas_mail_item)), 0, NULL, ctx);
}

static void
start_load(struct sync_ctx *ctx, struct sync_coll *c)
{
	struct u32vec uids = {0};

	for (size_t i = 0; i < c->nchanges; i++) {
		if (c->changes[i].kind == EASSYNC_ADD)
			u32vec_add(&uids, c->changes[i].uid);
	}
	for (size_t i = 0; i < c->fetch.n; i++)
		u32vec_add(&uids, c->fetch.v[i]);
	if (uids.n == 0) {
		items_loaded(xcalloc(1, sizeof(struct eas_mail_item)), 0, NULL, ctx);
		return;
	}
	ctx->load = eas_mail_load(ctx->req->store, ctx->req->account_id, c->folder_id, uids.v,
	                          uids.n, true, needs_raw(&c->opts), items_loaded, ctx);
	u32vec_free(&uids);
}

void
sync_continue(struct sync_ctx *ctx)
{
	for (;;) {
		struct sync_coll *c;

		if (ctx->cur >= ctx->ncolls) {
			finish(ctx);
			return;
		}
		c = &ctx->colls[ctx->cur];
		if (c->status != 1) {
			ctx->cur++;
			continue;
		}
		if (c->key == 0 && !c->reset) {
			char *opts = eas_mail_options_json(&c->opts);

			ctx->op = store_eassync_reset(
			    ctx->req->store, ctx->req->account_id, ctx->req->device->id,
			    c->folder_id, c->options_given ? opts : NULL, reset_done, ctx);
			free(opts);
			return;
		}
		switch (c->phase) {
		case SYNC_PHASE_ADDS:
		case SYNC_PHASE_CHANGES:
		case SYNC_PHASE_DELETES:
			sync_client_commands(ctx);
			return;
		case SYNC_PHASE_DIFF: {
			struct sync_delta all = {0};
			struct store_eassync_delta dv;
			time_t since = eas_filter_since(c->opts.filter_type, time(NULL));

			if (!c->get_changes || window_left(ctx, c) == 0) {
				/* More may wait, but this request asked for none or
				 * the total window is used up. */
				c->phase = SYNC_PHASE_LOAD;
				continue;
			}
			all = c->client;
			dv = sync_delta_view(&all);
			ctx->op =
			    store_eassync_diff(ctx->req->store, ctx->req->account_id,
			                       ctx->req->device->id, c->folder_id, c->key, &dv,
			                       since, window_left(ctx, c), false, diff_done, ctx);
			return;
		}
		case SYNC_PHASE_LOAD:
			start_load(ctx, c);
			return;
		case SYNC_PHASE_DONE:
			ctx->cur++;
			continue;
		}
	}
}

/* ---------------------------------------------------------------------
 * The end: commit and answer, answer empty, or wait
 */

static void
committed(enum store_err code, const char *error, void *vctx)
{
	struct sync_ctx *ctx = vctx;

	ctx->op = NULL;
	if (code != STORE_OK) {
		if (code == STORE_ERR_INVALID) {
			/* Another request of this device moved the state on. */
			eas_log(ctx->req, "Sync: state changed meanwhile: %s", error);
			for (size_t i = 0; i < ctx->ncolls; i++) {
				if (ctx->colls[i].status == 1 && !ctx->colls[i].reset)
					ctx->colls[i].status = 16;
			}
			sync_respond_full(ctx);
			return;
		}
		sync_fail(ctx, error);
		return;
	}
	sync_respond_full(ctx);
}

static void
saved_empty(enum store_err code, const char *error, void *vctx)
{
	struct sync_ctx *ctx = vctx;
	struct eas_request *req = ctx->req;

	ctx->op = NULL;
	if (code != STORE_OK)
		log_warning("eas: cannot cache a Sync request: %s", error);
	sync_ctx_free(ctx);
	eas_respond_empty(req);
}

static bool
deferred(const struct sync_coll *c, uint32_t uid)
{
	for (size_t i = 0; i < c->deferred.n; i++) {
		if (c->deferred.v[i] == uid)
			return true;
	}
	return false;
}

/* The add cursor of the key this response makes (store-eassync.h): past
 * the walk's adds that were all sent, from the top down; unknown when the
 * request read no changes, when a change other than those waits, or with
 * a FilterType window (a later, wider window would need the messages the
 * walk skipped). */
static void
new_cursor(const struct sync_coll *c, struct store_eassync_commit *cm)
{
	size_t selected = 0, prefix = 0;
	uint64_t last = 0;

	cm->has_cursor = false;
	if (!c->diffed || c->opts.filter_type != 0 || !c->changes_complete || !c->nonwalk_selected)
		return;
	for (size_t i = 0; i < c->nchanges; i++) {
		const struct store_eassync_change *ch = &c->changes[i];

		if (ch->kind != EASSYNC_ADD)
			continue;
		if (!ch->walk) {
			if (deferred(c, ch->uid))
				return; /* a change since the key's modseq waits */
			continue;
		}
		selected++;
		if (prefix + 1 == selected && !deferred(c, ch->uid)) {
			prefix++;
			last = ch->uid;
		}
	}
	cm->has_cursor = true;
	if (prefix == c->nwalk_rows && c->walk_done)
		cm->cursor = 0; /* nothing waits below */
	else if (prefix > 0)
		cm->cursor = last;
	else
		cm->cursor = c->cursor_old;
}

static bool
has_news(const struct sync_ctx *ctx)
{
	if (ctx->had_commands || ctx->req->version < EAS_VERSION_121)
		return true;
	for (size_t i = 0; i < ctx->ncolls; i++) {
		const struct sync_coll *c = &ctx->colls[i];

		if (c->status != 1 || c->reset || c->replay || c->nchanges > 0 || c->more ||
		    c->fetch.n > 0 || c->nresponses > 0 || c->options_changed)
			return true;
	}
	return false;
}

static void
finish(struct sync_ctx *ctx)
{
	struct store_eassync_commit *commits;
	char **replays, **options, *req_json;
	size_t n = 0;

	if (!has_news(ctx)) {
		if (ctx->wait > 0 && !ctx->timed_out && sync_park(ctx))
			return;
		sync_respond_empty(ctx);
		return;
	}
	commits = xcalloc(ctx->ncolls + 1, sizeof(*commits));
	replays = xcalloc(ctx->ncolls + 1, sizeof(char *));
	options = xcalloc(ctx->ncolls + 1, sizeof(char *));
	for (size_t i = 0; i < ctx->ncolls; i++) {
		struct sync_coll *c = &ctx->colls[i];
		struct store_eassync_commit *cm;

		if (c->status != 1 || c->reset)
			continue;
		/* The response's delta: the client's commands, then what the
		 * response sends (later entries win). */
		for (size_t k = 0; k < c->client.del.n; k++)
			u32vec_add(&c->server.del, c->client.del.v[k]);
		for (size_t k = 0; k < c->client.up.n; k++)
			sync_delta_up(&c->server, c->client.up.v[k], c->client.up_modseq.v[k]);
		cm = &commits[n];
		cm->folder_id = c->folder_id;
		cm->generation = c->state_generation;
		cm->base_key = c->key;
		cm->new_key = c->new_key;
		cm->uidvalidity = c->uidvalidity;
		cm->delta = sync_delta_view(&c->server);
		cm->adds = sync_delta_view(&c->sadds);
		cm->highestmodseq = c->highestmodseq;
		cm->more = c->more;
		new_cursor(c, cm);
		replays[n] = sync_replay_json(c);
		cm->replay = replays[n];
		if (c->options_changed)
			options[n] = eas_mail_options_json(&c->opts);
		cm->options = options[n];
		n++;
	}
	req_json = sync_request_json(ctx);
	ctx->op = store_eassync_commit(ctx->req->store, ctx->req->account_id, ctx->req->device->id,
	                               commits, n, req_json, committed, ctx);
	free(req_json);
	eas_strv_free(replays, n);
	eas_strv_free(options, n);
	free(commits);
}

void
sync_respond_empty(struct sync_ctx *ctx)
{
	char *req_json = sync_request_json(ctx);

	if (ctx->last_request != NULL && strcmp(ctx->last_request, req_json) == 0) {
		struct eas_request *req = ctx->req;

		free(req_json);
		sync_ctx_free(ctx);
		eas_respond_empty(req);
		return;
	}
	ctx->op = store_eassync_commit(ctx->req->store, ctx->req->account_id, ctx->req->device->id,
	                               NULL, 0, req_json, saved_empty, ctx);
	free(req_json);
}

/* ---------------------------------------------------------------------
 * The command
 */

void
eas_cmd_sync(struct eas_request *req)
{
	struct sync_ctx *ctx = xcalloc(1, sizeof(*ctx));

	ctx->req = req;
	eas_request_set_abort(req, sync_abort, ctx);
	if (sync_parse_request(ctx) < 0) {
		if (ctx->status == 4)
			eas_log(req, "Sync: malformed request");
		sync_respond_status(ctx, ctx->status);
		return;
	}
	if (req->body == NULL || ctx->partial || ctx->ncolls == 0) {
		ctx->op = store_eassync_load(req->store, req->account_id, req->device->id, NULL, 0,
		                             cache_loaded, ctx);
		return;
	}
	load_state(ctx);
}
