/* GetItemEstimate (MS-ASCMD 2.2.1.9): how many changes a Sync of each
 * collection would bring, with the collection's FilterType (from the
 * request's Options, else the ones the sync state keeps). Status 2 for a
 * collection that is not a mail folder of the account, 3 when it was
 * never synced (SyncKey 0), 4 for a SyncKey the state does not know. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail-private.h"
#include "store-eassync.h"
#include "xmalloc.h"

struct gie_coll {
	uint64_t folder_id;
	char *id_text;
	char generation[40];
	uint32_t key;
	bool key_ok;
	struct eas_mail_options opts;
	bool options_given;
	unsigned status;
	uint64_t estimate;
};

struct gie_ctx {
	struct eas_request *req;
	struct gie_coll *colls;
	size_t ncolls, cur;
	struct store_op *op;
};

static void
gie_free(struct gie_ctx *ctx)
{
	store_op_abandon(&ctx->op);
	for (size_t i = 0; i < ctx->ncolls; i++)
		free(ctx->colls[i].id_text);
	free(ctx->colls);
	free(ctx);
}

static void
gie_abort(struct eas_request *req, void *ctx)
{
	(void)req;
	gie_free(ctx);
}

static void
gie_respond(struct gie_ctx *ctx, unsigned top_status)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	struct eas_request *req = ctx->req;

	wbxml_start(w, EAS_GETITEMESTIMATE_GETITEMESTIMATE);
	if (top_status != 0) {
		wbxml_start(w, EAS_GETITEMESTIMATE_RESPONSE);
		wbxml_uint(w, EAS_GETITEMESTIMATE_STATUS, top_status);
		wbxml_end(w);
	}
	for (size_t i = 0; top_status == 0 && i < ctx->ncolls; i++) {
		const struct gie_coll *c = &ctx->colls[i];

		wbxml_start(w, EAS_GETITEMESTIMATE_RESPONSE);
		wbxml_uint(w, EAS_GETITEMESTIMATE_STATUS, c->status);
		wbxml_start(w, EAS_GETITEMESTIMATE_COLLECTION);
		if (req->version < EAS_VERSION_140)
			wbxml_string(w, EAS_GETITEMESTIMATE_CLASS, "Email");
		wbxml_string(w, EAS_GETITEMESTIMATE_COLLECTIONID, c->id_text);
		if (c->status == 1)
			wbxml_uint(w, EAS_GETITEMESTIMATE_ESTIMATE, c->estimate);
		wbxml_end(w);
		wbxml_end(w);
	}
	wbxml_end(w);
	wbxml_writer_finish(&w);
	gie_free(ctx);
	eas_respond_wbxml(req, out);
	evbuffer_free(out);
}

static void gie_next(struct gie_ctx *ctx);

static void
diff_done(const struct store_eassync_diff_result *res, enum store_err code, const char *error,
          void *vctx)
{
	struct gie_ctx *ctx = vctx;
	struct gie_coll *c = &ctx->colls[ctx->cur];

	ctx->op = NULL;
	if (res == NULL) {
		if (code != STORE_ERR_NOT_FOUND) {
			eas_log(ctx->req, "GetItemEstimate: %s", error);
			gie_respond(ctx, 5);
			return;
		}
		c->status = 2;
	} else {
		c->estimate = res->total;
	}
	ctx->cur++;
	gie_next(ctx);
}

static void
gie_next(struct gie_ctx *ctx)
{
	while (ctx->cur < ctx->ncolls) {
		struct gie_coll *c = &ctx->colls[ctx->cur];

		if (c->status == 1) {
			ctx->op =
			    store_eassync_diff(ctx->req->store, ctx->req->account_id,
			                       ctx->req->device->id, c->folder_id, c->key, NULL,
			                       eas_filter_since(c->opts.filter_type, time(NULL)), 0,
			                       true, diff_done, ctx);
			return;
		}
		ctx->cur++;
	}
	gie_respond(ctx, 0);
}

static void
loaded(const struct store_eassync_load_result *res, enum store_err code, const char *error,
       void *vctx)
{
	struct gie_ctx *ctx = vctx;

	(void)code;
	ctx->op = NULL;
	if (res == NULL) {
		eas_log(ctx->req, "GetItemEstimate: %s", error);
		gie_respond(ctx, 5);
		return;
	}
	for (size_t i = 0; i < ctx->ncolls && i < res->count; i++) {
		struct gie_coll *c = &ctx->colls[i];
		const struct store_eassync_collection *st = &res->collections[i];

		if (c->status != 1)
			continue;
		if (!st->exists || st->type == NULL || strcmp(st->type, "mail") != 0) {
			c->status = 2;
		} else if (!c->key_ok) {
			c->status = 4;
		} else if (c->key == 0 || st->generation == NULL) {
			c->status = 3;
		} else if (strcmp(st->generation, c->generation) != 0 ||
		           (c->key != st->current_key &&
		            !(c->key + 1 == st->current_key && st->has_previous))) {
			c->status = 4;
		} else if (!c->options_given) {
			eas_mail_options_from_json(st->options, &c->opts);
		}
	}
	ctx->cur = 0;
	gie_next(ctx);
}

void
eas_cmd_getitemestimate(struct eas_request *req)
{
	struct gie_ctx *ctx = xcalloc(1, sizeof(*ctx));
	const struct wbxml_node *root = req->body, *cols, *n;
	uint64_t *ids;

	ctx->req = req;
	eas_request_set_abort(req, gie_abort, ctx);
	cols = root != NULL && root->tag == EAS_GETITEMESTIMATE_GETITEMESTIMATE
	           ? wbxml_child(root, EAS_GETITEMESTIMATE_COLLECTIONS)
	           : NULL;
	for (n = wbxml_child(cols, EAS_GETITEMESTIMATE_COLLECTION); n != NULL;
	     n = wbxml_next(n, EAS_GETITEMESTIMATE_COLLECTION)) {
		struct gie_coll *c;
		const char *id = wbxml_child_text(n, EAS_GETITEMESTIMATE_COLLECTIONID);
		const char *key = wbxml_child_text(n, EAS_AIRSYNC_SYNCKEY);
		const struct wbxml_node *opt;
		uint64_t ft;

		if (ctx->ncolls >= EAS_SYNC_MAX_COLLECTIONS || id == NULL) {
			gie_respond(ctx, 2);
			return;
		}
		ctx->colls = xreallocarray(ctx->colls, ctx->ncolls + 1, sizeof(*ctx->colls));
		c = &ctx->colls[ctx->ncolls++];
		memset(c, 0, sizeof(*c));
		c->status = 1;
		c->id_text = xstrdup(id);
		if (eas_mail_folder_id(id, &c->folder_id) < 0)
			c->status = 2;
		c->key_ok = eas_sync_key_parse(key != NULL ? key : "", c->generation, &c->key) == 0;
		/* 12.x puts FilterType in the collection, 14.x in Options. */
		if (wbxml_child_uint(n, EAS_AIRSYNC_FILTERTYPE, &ft) == 0 && ft <= 7) {
			c->opts.filter_type = (unsigned)ft;
			c->options_given = true;
		}
		for (opt = wbxml_child(n, EAS_AIRSYNC_OPTIONS); opt != NULL;
		     opt = wbxml_next(opt, EAS_AIRSYNC_OPTIONS)) {
			const char *cls = wbxml_child_text(opt, EAS_AIRSYNC_CLASS);
			const char *error;

			if (cls != NULL && strcmp(cls, "Email") != 0)
				continue;
			c->options_given = true;
			if (eas_mail_options_parse(opt, &c->opts, &error) < 0)
				c->status = 2;
		}
	}
	if (ctx->ncolls == 0) {
		eas_log(req, "GetItemEstimate: no collections");
		gie_respond(ctx, 2);
		return;
	}
	ids = xcalloc(ctx->ncolls + 1, sizeof(*ids));
	for (size_t i = 0; i < ctx->ncolls; i++)
		ids[i] = ctx->colls[i].folder_id;
	ctx->op = store_eassync_load(req->store, req->account_id, req->device->id, ids, ctx->ncolls,
	                             loaded, ctx);
	free(ids);
}
