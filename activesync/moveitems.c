/* MoveItems (MS-ASCMD 2.2.1.12): moves messages between mail folders of
 * the account, one Move at a time, answering each with its Status (1
 * invalid source, 2 invalid destination, 3 success, 4 same folder, 5
 * cannot move, 7 retry) and the message's new ServerId. The move is the
 * store's (copy and expunge in one transaction), so IMAP sees it too. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "mail-private.h"
#include "store.h"
#include "xmalloc.h"

#define MOVE_BAD_SOURCE 1
#define MOVE_BAD_DEST   2
#define MOVE_OK         3
#define MOVE_SAME       4
#define MOVE_FAILED     5
#define MOVE_RETRY      7

struct mv_op {
	const char *src_msg; /* as sent, for the response */
	uint64_t src_folder, dst_folder;
	uint32_t uid, new_uid;
	unsigned status;
};

struct mv_ctx {
	struct eas_request *req;
	struct mv_op *ops;
	size_t nops, cur;
	struct store_op *op;
};

static void
mv_free(struct mv_ctx *ctx)
{
	store_op_abandon(&ctx->op);
	free(ctx->ops);
	free(ctx);
}

static void
mv_abort(struct eas_request *req, void *ctx)
{
	(void)req;
	mv_free(ctx);
}

static void
mv_respond(struct mv_ctx *ctx)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	struct eas_request *req = ctx->req;

	wbxml_start(w, EAS_MOVE_MOVEITEMS);
	for (size_t i = 0; i < ctx->nops; i++) {
		const struct mv_op *o = &ctx->ops[i];

		wbxml_start(w, EAS_MOVE_RESPONSE);
		wbxml_string(w, EAS_MOVE_SRCMSGID, o->src_msg != NULL ? o->src_msg : "");
		wbxml_uint(w, EAS_MOVE_STATUS, o->status);
		if (o->status == MOVE_OK)
			wbxml_stringf(w, EAS_MOVE_DSTMSGID, "%llu:%u",
			              (unsigned long long)o->dst_folder, o->new_uid);
		wbxml_end(w);
	}
	wbxml_end(w);
	wbxml_writer_finish(&w);
	mv_free(ctx);
	eas_respond_wbxml(req, out);
	evbuffer_free(out);
}

static void mv_next(struct mv_ctx *ctx);

static void
moved(const struct store_copy_result *res, enum store_err code, const char *error, void *vctx)
{
	struct mv_ctx *ctx = vctx;
	struct mv_op *o = &ctx->ops[ctx->cur];

	ctx->op = NULL;
	if (res != NULL && res->count == 1) {
		o->status = MOVE_OK;
		o->new_uid = res->dest_uids[0];
	} else if (res != NULL) {
		o->status = MOVE_BAD_SOURCE; /* no such message */
	} else if (code == STORE_ERR_NOT_FOUND) {
		o->status = error != NULL && strstr(error, "destination") != NULL ? MOVE_BAD_DEST
		                                                                  : MOVE_BAD_SOURCE;
	} else if (code == STORE_ERR_INVALID || code == STORE_ERR_OVER_QUOTA) {
		o->status = MOVE_FAILED;
	} else {
		eas_log(ctx->req, "MoveItems: %s", error);
		o->status = MOVE_RETRY;
	}
	ctx->cur++;
	mv_next(ctx);
}

static void
mv_next(struct mv_ctx *ctx)
{
	while (ctx->cur < ctx->nops) {
		struct mv_op *o = &ctx->ops[ctx->cur];
		struct store_uid_ranges r;
		uint32_t range[1][2];

		if (o->status != 0) {
			ctx->cur++;
			continue;
		}
		range[0][0] = range[0][1] = o->uid;
		r.ranges = (const uint32_t(*)[2])range;
		r.count = 1;
		ctx->op = store_copy(ctx->req->store, ctx->req->account_id, o->src_folder, &r,
		                     ctx->req->account_id, o->dst_folder, true, moved, ctx);
		return;
	}
	mv_respond(ctx);
}

/* Both folders must be mail folders of the account. */
static void
listed(const struct store_folder_list *list, const char *error, void *vctx)
{
	struct mv_ctx *ctx = vctx;

	ctx->op = NULL;
	if (list == NULL) {
		eas_log(ctx->req, "MoveItems: %s", error);
		for (size_t i = 0; i < ctx->nops; i++) {
			if (ctx->ops[i].status == 0)
				ctx->ops[i].status = MOVE_RETRY;
		}
		mv_respond(ctx);
		return;
	}
	for (size_t i = 0; i < ctx->nops; i++) {
		struct mv_op *o = &ctx->ops[i];
		bool src = false, dst = false;

		if (o->status != 0)
			continue;
		for (size_t k = 0; k < list->count; k++) {
			const struct store_folder *f = &list->folders[k];
			bool mail = strcmp(f->type, "mail") == 0 && !f->noselect;

			if (f->id == o->src_folder)
				src = mail;
			if (f->id == o->dst_folder)
				dst = mail;
		}
		if (!src)
			o->status = MOVE_BAD_SOURCE;
		else if (!dst)
			o->status = MOVE_BAD_DEST;
	}
	ctx->cur = 0;
	mv_next(ctx);
}

void
eas_cmd_moveitems(struct eas_request *req)
{
	struct mv_ctx *ctx = xcalloc(1, sizeof(*ctx));
	const struct wbxml_node *root = req->body;

	ctx->req = req;
	eas_request_set_abort(req, mv_abort, ctx);
	if (root == NULL || root->tag != EAS_MOVE_MOVEITEMS) {
		eas_log(req, "MoveItems: malformed request");
		mv_free(ctx);
		eas_respond_http(req, 400, "malformed MoveItems request");
		return;
	}
	for (const struct wbxml_node *n = wbxml_child(root, EAS_MOVE_MOVE); n != NULL;
	     n = wbxml_next(n, EAS_MOVE_MOVE)) {
		struct mv_op *o;
		uint64_t f;

		if (ctx->nops >= 1000)
			break;
		ctx->ops = xreallocarray(ctx->ops, ctx->nops + 1, sizeof(*ctx->ops));
		o = &ctx->ops[ctx->nops++];
		memset(o, 0, sizeof(*o));
		o->src_msg = wbxml_child_text(n, EAS_MOVE_SRCMSGID);
		if (eas_mail_item_id(o->src_msg, &f, &o->uid) < 0 ||
		    eas_mail_folder_id(wbxml_child_text(n, EAS_MOVE_SRCFLDID), &o->src_folder) <
		        0 ||
		    f != o->src_folder)
			o->status = MOVE_BAD_SOURCE;
		else if (eas_mail_folder_id(wbxml_child_text(n, EAS_MOVE_DSTFLDID),
		                            &o->dst_folder) < 0)
			o->status = MOVE_BAD_DEST;
		else if (o->dst_folder == o->src_folder)
			o->status = MOVE_SAME;
	}
	if (ctx->nops == 0) {
		mv_free(ctx);
		eas_respond_http(req, 400, "MoveItems without Move");
		return;
	}
	ctx->op = store_folder_list(req->store, req->account_id, listed, ctx);
}
