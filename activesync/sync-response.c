/* Writing Sync responses: the top-level Status form (4, 13, 14...), and
 * the full form with every collection's new SyncKey, Status,
 * MoreAvailable, server Commands (Add with the Email ApplicationData,
 * Change with flags, Delete, SoftDelete) and Responses to the client's
 * Add, Change, Delete and Fetch. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sync-private.h"
#include "xmalloc.h"

/* ---------------------------------------------------------------------
 * Responses
 */

void
sync_respond_status(struct sync_ctx *ctx, unsigned status)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	struct eas_request *req = ctx->req;

	wbxml_start(w, EAS_AIRSYNC_SYNC);
	wbxml_uint(w, EAS_AIRSYNC_STATUS, status);
	if (status == 14)
		wbxml_uint(w, EAS_AIRSYNC_LIMIT, ctx->limit);
	wbxml_end(w);
	wbxml_writer_finish(&w);
	sync_ctx_free(ctx);
	eas_respond_wbxml(req, out);
	evbuffer_free(out);
}

static void
write_item_id(struct wbxml_writer *w, const struct sync_coll *c, uint32_t uid)
{
	wbxml_stringf(w, EAS_AIRSYNC_SERVERID, "%llu:%u", (unsigned long long)c->folder_id, uid);
}

const struct eas_mail_item *
sync_find_citem(const struct sync_coll *c, uint32_t uid)
{
	for (size_t i = 0; i < c->ncitems; i++) {
		if (c->citems[i].uid == uid && c->citems[i].found)
			return &c->citems[i];
	}
	return NULL;
}

const struct eas_mail_item *
sync_find_item(const struct sync_coll *c, uint32_t uid, size_t from)
{
	for (size_t i = from; i < c->nitems; i++) {
		if (c->items[i].uid == uid && c->items[i].found)
			return &c->items[i];
	}
	return NULL;
}

static void
write_commands(struct wbxml_writer *w, const struct sync_ctx *ctx, const struct sync_coll *c)
{
	unsigned version = ctx->req->version;
	bool open = false;

	for (size_t i = 0; i < c->nchanges; i++) {
		const struct store_eassync_change *ch = &c->changes[i];
		const struct eas_mail_item *it = NULL;

		if (ch->kind == EASSYNC_ADD && (it = sync_find_item(c, ch->uid, 0)) == NULL)
			continue;
		if (ch->kind == EASSYNC_CHANGE && (it = sync_find_citem(c, ch->uid)) == NULL)
			continue;
		if (!open)
			wbxml_start(w, EAS_AIRSYNC_COMMANDS);
		open = true;
		switch (ch->kind) {
		case EASSYNC_ADD:
			wbxml_start(w, EAS_AIRSYNC_ADD);
			write_item_id(w, c, ch->uid);
			wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
			eas_email_write(w, version, it, &c->opts);
			wbxml_end(w);
			wbxml_end(w);
			break;
		case EASSYNC_CHANGE:
			wbxml_start(w, EAS_AIRSYNC_CHANGE);
			write_item_id(w, c, ch->uid);
			wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
			eas_email_write_flags(w, version, (const char *const *)it->flags,
			                      it->nflags);
			wbxml_end(w);
			wbxml_end(w);
			break;
		case EASSYNC_DELETE:
			wbxml_start(w, EAS_AIRSYNC_DELETE);
			write_item_id(w, c, ch->uid);
			wbxml_end(w);
			break;
		case EASSYNC_SOFTDELETE:
			wbxml_start(w, EAS_AIRSYNC_SOFTDELETE);
			write_item_id(w, c, ch->uid);
			wbxml_end(w);
			break;
		}
	}
	if (open)
		wbxml_end(w);
}

static void
write_responses(struct wbxml_writer *w, const struct sync_ctx *ctx, const struct sync_coll *c)
{
	bool open = false;

	for (size_t i = 0; i < c->nresponses; i++) {
		const struct sync_response *r = &c->responses[i];

		if (r->kind == 0)
			continue;
		if (!open)
			wbxml_start(w, EAS_AIRSYNC_RESPONSES);
		open = true;
		switch (r->kind) {
		case 'A':
			wbxml_start(w, EAS_AIRSYNC_ADD);
			if (r->client_id != NULL)
				wbxml_string(w, EAS_AIRSYNC_CLIENTID, r->client_id);
			if (r->server_id != NULL)
				wbxml_string(w, EAS_AIRSYNC_SERVERID, r->server_id);
			wbxml_uint(w, EAS_AIRSYNC_STATUS, r->status);
			wbxml_end(w);
			break;
		case 'C':
			wbxml_start(w, EAS_AIRSYNC_CHANGE);
			wbxml_string(w, EAS_AIRSYNC_SERVERID,
			             r->server_id != NULL ? r->server_id : "");
			wbxml_uint(w, EAS_AIRSYNC_STATUS, r->status);
			wbxml_end(w);
			break;
		case 'D':
			wbxml_start(w, EAS_AIRSYNC_DELETE);
			wbxml_string(w, EAS_AIRSYNC_SERVERID,
			             r->server_id != NULL ? r->server_id : "");
			wbxml_uint(w, EAS_AIRSYNC_STATUS, r->status);
			wbxml_end(w);
			break;
		case 'F':
			wbxml_start(w, EAS_AIRSYNC_FETCH);
			wbxml_string(w, EAS_AIRSYNC_SERVERID,
			             r->server_id != NULL ? r->server_id : "");
			wbxml_uint(w, EAS_AIRSYNC_STATUS, r->status);
			wbxml_end(w);
			break;
		default:
			break;
		}
	}
	/* Fetches: from the items loaded after the adds. */
	for (size_t i = 0; i < c->fetch.n; i++) {
		size_t from = c->nitems >= c->fetch.n ? c->nitems - c->fetch.n : 0;
		const struct eas_mail_item *it = sync_find_item(c, c->fetch.v[i], from);

		if (!open)
			wbxml_start(w, EAS_AIRSYNC_RESPONSES);
		open = true;
		wbxml_start(w, EAS_AIRSYNC_FETCH);
		write_item_id(w, c, c->fetch.v[i]);
		wbxml_uint(w, EAS_AIRSYNC_STATUS, it != NULL ? 1 : 8);
		if (it != NULL) {
			wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
			eas_email_write(w, ctx->req->version, it, &c->opts);
			wbxml_end(w);
		}
		wbxml_end(w);
	}
	if (open)
		wbxml_end(w);
}

void
sync_respond_full(struct sync_ctx *ctx)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	struct eas_request *req = ctx->req;

	wbxml_start(w, EAS_AIRSYNC_SYNC);
	wbxml_start(w, EAS_AIRSYNC_COLLECTIONS);
	for (size_t i = 0; i < ctx->ncolls; i++) {
		struct sync_coll *c = &ctx->colls[i];

		wbxml_start(w, EAS_AIRSYNC_COLLECTION);
		if (req->version < EAS_VERSION_140)
			wbxml_string(w, EAS_AIRSYNC_CLASS, "Email");
		if (c->status == 1) {
			char *key = eas_sync_key_format(c->state_generation, c->new_key);

			wbxml_string(w, EAS_AIRSYNC_SYNCKEY, key);
			free(key);
		} else {
			wbxml_string(w, EAS_AIRSYNC_SYNCKEY, c->status == 3 ? "0" : c->key_text);
		}
		wbxml_stringf(w, EAS_AIRSYNC_COLLECTIONID, "%llu",
		              (unsigned long long)c->folder_id);
		wbxml_uint(w, EAS_AIRSYNC_STATUS, c->status);
		if (c->status == 1) {
			if (c->more)
				wbxml_empty(w, EAS_AIRSYNC_MOREAVAILABLE);
			write_commands(w, ctx, c);
			write_responses(w, ctx, c);
		}
		wbxml_end(w);
	}
	wbxml_end(w);
	wbxml_end(w);
	if (wbxml_writer_finish(&w) < 0)
		log_error("eas: Sync response was not well-formed");
	sync_ctx_free(ctx);
	eas_respond_wbxml(req, out);
	evbuffer_free(out);
}

void
sync_fail(struct sync_ctx *ctx, const char *error)
{
	eas_log(ctx->req, "Sync: server error: %s", error != NULL ? error : "unknown");
	for (size_t i = 0; i < ctx->ncolls; i++) {
		if (ctx->colls[i].status == 1)
			ctx->colls[i].status = 5;
	}
	if (ctx->ncolls == 0) {
		sync_respond_status(ctx, 5);
		return;
	}
	sync_respond_full(ctx);
}
