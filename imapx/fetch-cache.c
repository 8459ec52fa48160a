/* FETCH from the worker's message cache (msg-cache.h): what never changes
 * of a message comes from the cache, its bytes too when it is small, and
 * UID, FLAGS and MODSEQ from the session's view when it is exact as of a
 * barrier on the change-notice bus (imap_view_catch_up). Only what is missing is asked of
 * the store, in one query per batch (store_fetch_cache), which fills the
 * cache; when the view may be behind, that query also brings every
 * message's flags, as the uncached path does. The rows are then written by
 * cmd-fetch.c and fetch-body.c exactly as rows from store_fetch. */

#include <stdlib.h>
#include <string.h>

#include "fetch-private.h"
#include "imap-server.h"
#include "log.h"
#include "msg-cache.h"
#include "msg-util.h"
#include "xmalloc.h"

#define FETCH_CACHE_BATCH 1000

/* Whether every body item reads within the top-level header block. */
static bool
header_is_enough(const struct imap_fetch_items *items)
{
	for (size_t i = 0; i < items->nbodies; i++) {
		const struct imap_fetch_body *b = &items->bodies[i];

		if (b->type != IMAP_FETCH_BODY_SECTION || b->section.part[0] != '\0' ||
		    (b->section.kind != SECTION_HEADER && b->section.kind != SECTION_FIELDS &&
		     b->section.kind != SECTION_FIELDS_NOT))
			return false;
	}
	return true;
}

void
fetch_cache_init(struct fetch_ctx *c)
{
	struct imap_cache *cache = imap_server_cache(imap_client_server(c->client));

	/* CHANGEDSINCE selects by the store's modseqs: the CONDSTORE poll
	 * has its own index path. */
	if (!imap_cache_enabled(cache) || c->items.changedsince_set || c->items.vanished)
		return;
	c->cached = true;
	c->cache_flags = (c->items.attrs & (IMAP_FETCH_FLAGS | IMAP_FETCH_MODSEQ)) != 0;
	c->cache_blob = c->items.nbodies > 0 && !header_is_enough(&c->items);
	c->cache_exact = -1;
}

void
fetch_cache_cleanup(struct fetch_ctx *c)
{
	if (c->catching_up) {
		imap_view_catch_up_abandon(c->view);
		c->catching_up = false;
	}
}

static char *
dup_or_null(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

static void
set_pf(struct fetch_row *r, const void *data, size_t len, uint64_t offset)
{
	free(r->pf_data);
	r->pf_data = xmalloc(len + 1);
	memcpy(r->pf_data, data, len);
	r->pf_lo = offset;
	r->pf_len = len;
}

/* The flags and modseq the view holds for r. */
static void
flags_from_view(struct fetch_ctx *c, struct fetch_row *r)
{
	const char *const *flags;
	size_t n;

	imap_view_flags(c->view, r->seq, &flags, &n);
	r->modseq = imap_view_modseq(c->view, r->seq);
	r->nflags = n;
	r->flags = n == 0 ? NULL : xcalloc(n, sizeof(char *));
	for (size_t k = 0; k < n; k++)
		r->flags[k] = xstrdup(flags[k]);
}

static void
flags_from_store(struct fetch_row *r, const struct store_cache_row *s)
{
	for (size_t k = 0; k < r->nflags; k++)
		free(r->flags[k]);
	free(r->flags);
	r->modseq = s->modseq;
	r->nflags = s->nflags;
	r->flags = s->nflags == 0 ? NULL : xcalloc(s->nflags, sizeof(char *));
	for (size_t k = 0; k < s->nflags; k++)
		r->flags[k] = xstrdup(s->flags[k]);
}

/* What a row takes over from a cache entry or a store row: the fields
 * store_fetch would have given for these items. */
struct row_data {
	int64_t internal_us;
	uint64_t size;
	const char *envelope, *bodystructure, *body, *partmap, *preview;
	const char *email_id, *thread_id, *blob_hash;
	const char *header;
	uint64_t header_offset;
	size_t header_len;
};

static void
fill_row(struct fetch_ctx *c, struct fetch_row *r, const struct row_data *d)
{
	unsigned a = c->items.attrs;

	r->internal_date = (time_t)imap_cache_seconds(d->internal_us);
	r->size = d->size;
	if ((a & IMAP_FETCH_ENVELOPE) != 0)
		r->envelope = dup_or_null(d->envelope);
	if ((a & (IMAP_FETCH_BODYSTRUCTURE | IMAP_FETCH_BODY)) != 0) {
		r->bodystructure = dup_or_null(d->bodystructure);
		r->body = dup_or_null(d->body);
	}
	if ((a & IMAP_FETCH_PREVIEW) != 0)
		r->preview = dup_or_null(d->preview);
	r->email_id = dup_or_null(d->email_id);
	r->thread_id = dup_or_null(d->thread_id);
	r->blob_hash = dup_or_null(d->blob_hash);
	if (c->items.nbodies > 0) {
		r->partmap = dup_or_null(d->partmap);
		/* The header block serves the row if it covers its items
		 * (fetch_body_prepare decides); a whole message replaces it. */
		if (d->header != NULL)
			set_pf(r, d->header, d->header_len, d->header_offset);
	}
}

static void
data_from_msg(const struct imap_cache_msg *m, struct row_data *d)
{
	*d = (struct row_data){
	    .internal_us = m->internal_us,
	    .size = m->size,
	    .envelope = m->envelope,
	    .bodystructure = m->bodystructure,
	    .body = m->body,
	    .partmap = m->partmap,
	    .preview = m->preview,
	    .email_id = m->email_id,
	    .thread_id = m->thread_id,
	    .blob_hash = m->blob_hash,
	    .header = m->header,
	    .header_offset = m->header_offset,
	    .header_len = m->header_len,
	};
}

static void
data_from_store(const struct store_cache_row *s, struct row_data *d)
{
	*d = (struct row_data){
	    .internal_us = s->internal_us,
	    .size = s->size,
	    .envelope = s->envelope,
	    .bodystructure = s->bodystructure,
	    .body = s->body,
	    .partmap = s->partmap,
	    .preview = s->preview,
	    .email_id = s->email_id,
	    .thread_id = s->thread_id,
	    .blob_hash = s->blob_hash,
	    .header = s->header,
	    .header_offset = s->header_offset,
	    .header_len = s->header_len,
	};
}

/* Whether row r of a batch still waits for the store for its data (a
 * filled row always has its content's hash). */
#define ROW_PENDING(r) ((r)->seq != 0 && (r)->blob_hash == NULL)

static void
rows_ready(struct fetch_ctx *c)
{
	c->stage = STAGE_ROWS;
	c->row = 0;
	c->row_open = false;
	fetch_body_prepare(c);
}

static void
cache_cb(const struct store_cache_result *res, enum store_err code, const char *error, void *ctx)
{
	struct fetch_ctx *c = ctx;
	struct imap_cache *cache = imap_server_cache(imap_client_server(c->client));
	bool view_flags = c->cache_exact == 1;
	size_t k = 0;

	c->op = NULL;
	if (res == NULL) {
		imap_cmd_store_error(c->cmd, "Fetch failed", code, error);
		c->stage = STAGE_DONE;
		if (c->in_exec)
			c->sync_done = true;
		else
			imap_cmd_finish(c->cmd);
		return;
	}
	/* Both are sorted by UID. */
	for (size_t i = 0; i < c->nrows; i++) {
		struct fetch_row *r = &c->rows[i];
		bool pending = ROW_PENDING(r);

		while (k < res->count && res->rows[k].uid < r->uid)
			k++;
		if (k == res->count || res->rows[k].uid != r->uid) {
			/* Expunged meanwhile; the store would not give it either. */
			if (pending || !view_flags) {
				r->seq = 0;
				c->missing = true;
			}
			continue;
		}
		const struct store_cache_row *s = &res->rows[k];

		if (!view_flags)
			flags_from_store(r, s);
		if (pending && s->data) {
			struct row_data d;

			imap_cache_msg_put(cache, imap_view_folder_id(c->view), s);
			if (s->blob != NULL && s->blob_hash != NULL)
				imap_cache_blob_put(cache, s->blob_hash, s->blob, s->blob_len);
			data_from_store(s, &d);
			fill_row(c, r, &d);
			if (s->blob != NULL && c->items.nbodies > 0)
				set_pf(r, s->blob, s->blob_len, 0);
		}
	}
	rows_ready(c);
	fetch_continue(c);
}

static void
catch_up_cb(bool exact, void *ctx)
{
	struct fetch_ctx *c = ctx;

	c->catching_up = false;
	c->cache_exact = exact ? 1 : 0;
	fetch_continue(c);
}

/* Fills r from the cache; false when the store must be asked. */
static bool
row_from_cache(struct fetch_ctx *c, struct imap_cache *cache, struct fetch_row *r)
{
	const struct imap_cache_msg *m;
	struct row_data d;
	const void *blob = NULL;
	size_t blob_len = 0;

	m = imap_cache_msg_get(cache, imap_view_folder_id(c->view), imap_view_uidvalidity(c->view),
	                       r->uid);
	if (m == NULL)
		return false;
	if (c->cache_blob && m->size <= IMAP_CACHE_BLOB_MAX &&
	    !imap_cache_blob_get(cache, m->blob_hash, &blob, &blob_len))
		return false;
	/* The blob lookup may not evict: m is still valid. */
	data_from_msg(m, &d);
	fill_row(c, r, &d);
	if (blob != NULL)
		set_pf(r, blob, blob_len, 0);
	return true;
}

bool
fetch_cache_batch(struct fetch_ctx *c)
{
	struct imap_cache *cache = imap_server_cache(imap_client_server(c->client));
	size_t n = c->ntargets - c->next_target, nmiss = 0;
	uint32_t *misses;
	struct store_uid_ranges miss_ranges, all_ranges;
	uint32_t(*all_pairs)[2] = NULL, (*miss_pairs)[2] = NULL;
	bool view_flags;

	if (c->cache_exact < 0) {
		/* Flags from the view only when it is exact as of a barrier
		 * on the bus (after catching up with what changed). */
		if (!c->cache_flags) {
			c->cache_exact = 1;
		} else if (imap_view_shared(c->view)) {
			c->cache_exact = 0;
		} else {
			c->catching_up = true;
			imap_view_catch_up(c->view, catch_up_cb, c);
			return true;
		}
	}
	view_flags = c->cache_exact == 1;
	if (n > FETCH_CACHE_BATCH)
		n = FETCH_CACHE_BATCH;
	c->rows = xcalloc(n, sizeof(*c->rows));
	c->nrows = n;
	misses = xcalloc(n, sizeof(*misses));
	for (size_t i = 0; i < n; i++) {
		struct fetch_row *r = &c->rows[i];

		r->uid = c->targets[c->next_target + i];
		r->seq = imap_view_uid_to_seq(c->view, r->uid);
		/* FLAGS of rows whose \Seen this command set come from the
		 * view, which learnt them from the store. */
		if (c->cache_flags ? view_flags
		                   : c->seen_set != NULL && seqset_contains(c->seen_set, r->uid))
			flags_from_view(c, r);
		if (!row_from_cache(c, cache, r))
			misses[nmiss++] = r->uid;
	}
	c->next_target += n;
	log_debug("imap %s: FETCH of %zu messages, %zu from the cache, flags from the %s",
	          imap_client_peer(c->client), n, n - nmiss, view_flags ? "view" : "store");
	if (nmiss == 0 && view_flags) {
		free(misses);
		rows_ready(c);
		return false;
	}
	imap_uid_array_ranges(misses, nmiss, &miss_ranges, &miss_pairs);
	free(misses);
	if (!view_flags) {
		uint32_t *all = xcalloc(n, sizeof(*all));

		for (size_t i = 0; i < n; i++)
			all[i] = c->rows[i].uid;
		imap_uid_array_ranges(all, n, &all_ranges, &all_pairs);
		free(all);
	}
	c->op =
	    store_fetch_cache(imap_client_store(c->client), imap_view_owner_id(c->view),
	                      imap_view_folder_id(c->view), view_flags ? &miss_ranges : &all_ranges,
	                      &miss_ranges, c->cache_blob ? IMAP_CACHE_BLOB_MAX : 0, cache_cb, c);
	/* The store copied the ranges into its parameters. */
	free(all_pairs);
	free(miss_pairs);
	return true;
}
