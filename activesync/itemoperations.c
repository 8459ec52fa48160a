/* ItemOperations (MS-ASCMD 2.2.1.10) for the mailbox: Fetch of messages
 * (by CollectionId + ServerId, or the LongId of a Search result) with the
 * Email class and BodyPreference, Fetch of attachments by FileReference
 * (with Range), EmptyFolderContents (DeleteSubFolders), and Move of a
 * conversation; inline base64 data or, with MS-ASAcceptMultiPart, a
 * multipart response. GetAttachment (12.1 and earlier) is here too. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "mail-private.h"
#include "store.h"
#include "xmalloc.h"

/* ItemOperations Status values (MS-ASCMD 2.2.3.177.7). */
#define IO_OK             1
#define IO_PROTOCOL       2
#define IO_SERVER         3
#define IO_NOT_FOUND      6
#define IO_BAD_RANGE      8
#define IO_BAD_STORE      9
#define IO_CONVERSION     14
#define IO_BAD_ATTACHMENT 15
#define IO_NOT_SUPPORTED  156

struct io_op {
	const struct wbxml_node *node;
	unsigned status;
	/* Fetch */
	uint64_t folder_id;
	uint32_t uid;
	char part[64]; /* attachment section, "" for a message */
	bool by_long_id;
	bool has_range;
	uint64_t range_lo, range_hi;
	struct eas_mail_options opts;
	struct eas_mail_item *item; /* loaded */
	size_t nitem;
	/* EmptyFolderContents / Move */
	bool delete_subfolders;
};

struct io_ctx {
	struct eas_request *req;
	struct io_op *ops;
	size_t nops, cur;
	bool multipart;
	bool getattachment;
	struct store_op *op;
	struct eas_mail_load *load;
	uint64_t *subfolders; /* EmptyFolderContents: folders to delete */
	size_t nsub, sub_index;
};

static void
io_free(struct io_ctx *ctx)
{
	store_op_abandon(&ctx->op);
	eas_mail_load_abandon(&ctx->load);
	for (size_t i = 0; i < ctx->nops; i++)
		eas_mail_items_free(ctx->ops[i].item, ctx->ops[i].nitem);
	free(ctx->ops);
	free(ctx->subfolders);
	free(ctx);
}

static void
io_abort(struct eas_request *req, void *ctx)
{
	(void)req;
	io_free(ctx);
}

/* ---------------------------------------------------------------------
 * The response
 */

static void
write_b64(struct wbxml_writer *w, const unsigned char *data, size_t len)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char buf[4096];
	size_t n = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		buf[n++] = t[v >> 18];
		buf[n++] = t[(v >> 12) & 63];
		buf[n++] = i + 1 < len ? t[(v >> 6) & 63] : '=';
		buf[n++] = i + 2 < len ? t[v & 63] : '=';
		if (n + 4 > sizeof(buf)) {
			wbxml_text_append(w, buf, n);
			n = 0;
		}
	}
	if (n > 0)
		wbxml_text_append(w, buf, n);
}

static void
write_attachment(struct io_ctx *ctx, struct wbxml_writer *w, struct io_op *o,
                 struct eas_parts *parts)
{
	const struct eas_mail_item *it = o->item;
	unsigned char *data = NULL;
	char *type = NULL;
	size_t len = 0, lo = 0, hi;

	if (it == NULL || !it->found || it->raw == NULL ||
	    message_eas_part(it->raw, it->raw_len, o->part, &data, &len, &type) < 0) {
		o->status = IO_BAD_ATTACHMENT;
	} else if (o->has_range && (o->range_lo > o->range_hi || (len > 0 && o->range_lo >= len))) {
		o->status = IO_BAD_RANGE;
	}
	wbxml_start(w, EAS_ITEMOPERATIONS_FETCH);
	wbxml_uint(w, EAS_ITEMOPERATIONS_STATUS, o->status);
	wbxml_string(w, EAS_AIRSYNCBASE_FILEREFERENCE,
	             wbxml_child_text(o->node, EAS_AIRSYNCBASE_FILEREFERENCE));
	if (o->status == IO_OK) {
		hi = len;
		if (o->has_range) {
			lo = (size_t)o->range_lo;
			if (o->range_hi + 1 < hi)
				hi = (size_t)o->range_hi + 1;
		}
		wbxml_start(w, EAS_ITEMOPERATIONS_PROPERTIES);
		wbxml_string(w, EAS_AIRSYNCBASE_CONTENTTYPE, type);
		if (o->has_range)
			wbxml_stringf(w, EAS_ITEMOPERATIONS_RANGE, "%zu-%zu", lo,
			              hi > lo ? hi - 1 : lo);
		wbxml_uint(w, EAS_ITEMOPERATIONS_TOTAL, len);
		if (parts != NULL) {
			wbxml_uint(w, EAS_ITEMOPERATIONS_PART,
			           eas_parts_add(parts, data + lo, hi - lo));
		} else {
			wbxml_start(w, EAS_ITEMOPERATIONS_DATA);
			write_b64(w, data + lo, hi - lo);
			wbxml_end(w);
		}
		wbxml_end(w);
	}
	wbxml_end(w);
	(void)ctx;
	free(data);
	free(type);
}

static void
write_item(struct io_ctx *ctx, struct wbxml_writer *w, struct io_op *o, struct eas_parts *parts)
{
	const struct eas_mail_item *it = o->item;

	if (o->status == IO_OK && (it == NULL || !it->found))
		o->status = IO_NOT_FOUND;
	wbxml_start(w, EAS_ITEMOPERATIONS_FETCH);
	wbxml_uint(w, EAS_ITEMOPERATIONS_STATUS, o->status);
	if (o->by_long_id) {
		wbxml_stringf(w, EAS_SEARCH_LONGID, "%llu:%u", (unsigned long long)o->folder_id,
		              o->uid);
	} else {
		wbxml_stringf(w, EAS_AIRSYNC_COLLECTIONID, "%llu",
		              (unsigned long long)o->folder_id);
		wbxml_stringf(w, EAS_AIRSYNC_SERVERID, "%llu:%u", (unsigned long long)o->folder_id,
		              o->uid);
	}
	if (o->status == IO_OK) {
		wbxml_string(w, EAS_AIRSYNC_CLASS, "Email");
		wbxml_start(w, EAS_ITEMOPERATIONS_PROPERTIES);
		eas_email_write_parts(w, ctx->req->version, it, &o->opts, parts);
		wbxml_end(w);
	}
	wbxml_end(w);
}

static void
io_respond(struct io_ctx *ctx, unsigned top)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	struct eas_request *req = ctx->req;
	struct eas_parts parts = {0};
	struct eas_parts *pp = ctx->multipart ? &parts : NULL;

	wbxml_start(w, EAS_ITEMOPERATIONS_ITEMOPERATIONS);
	wbxml_uint(w, EAS_ITEMOPERATIONS_STATUS, top);
	if (top == IO_OK) {
		wbxml_start(w, EAS_ITEMOPERATIONS_RESPONSE);
		for (size_t i = 0; i < ctx->nops; i++) {
			struct io_op *o = &ctx->ops[i];

			switch (o->node->tag) {
			case EAS_ITEMOPERATIONS_FETCH:
				if (o->part[0] != '\0')
					write_attachment(ctx, w, o, pp);
				else
					write_item(ctx, w, o, pp);
				break;
			case EAS_ITEMOPERATIONS_EMPTYFOLDERCONTENTS:
				wbxml_start(w, EAS_ITEMOPERATIONS_EMPTYFOLDERCONTENTS);
				wbxml_uint(w, EAS_ITEMOPERATIONS_STATUS, o->status);
				wbxml_stringf(w, EAS_AIRSYNC_COLLECTIONID, "%llu",
				              (unsigned long long)o->folder_id);
				wbxml_end(w);
				break;
			case EAS_ITEMOPERATIONS_MOVE:
				wbxml_start(w, EAS_ITEMOPERATIONS_MOVE);
				wbxml_uint(w, EAS_ITEMOPERATIONS_STATUS, o->status);
				{
					const struct wbxml_node *cid =
					    wbxml_child(o->node, EAS_ITEMOPERATIONS_CONVERSATIONID);

					if (cid != NULL)
						wbxml_opaque(w, EAS_ITEMOPERATIONS_CONVERSATIONID,
						             cid->data, cid->len);
				}
				wbxml_end(w);
				break;
			}
		}
		wbxml_end(w);
	}
	wbxml_end(w);
	wbxml_writer_finish(&w);
	io_free(ctx);
	if (pp != NULL) {
		struct evbuffer *body = evbuffer_new();

		eas_parts_build(body, out, pp);
		eas_respond_raw(req, "application/vnd.ms-sync.multipart", body);
		evbuffer_free(body);
	} else {
		eas_respond_wbxml(req, out);
	}
	eas_parts_free(&parts);
	evbuffer_free(out);
}

/* ---------------------------------------------------------------------
 * Running the operations one after the other
 */

static void io_next(struct io_ctx *ctx);

static void
op_done(struct io_ctx *ctx)
{
	ctx->op = NULL;
	ctx->cur++;
	io_next(ctx);
}

static void
fetch_loaded(struct eas_mail_item *items, size_t count, const char *error, void *vctx)
{
	struct io_ctx *ctx = vctx;
	struct io_op *o = &ctx->ops[ctx->cur];

	ctx->load = NULL;
	if (items == NULL) {
		eas_log(ctx->req, "ItemOperations: %s", error);
		o->status = IO_SERVER;
	} else {
		o->item = items;
		o->nitem = count;
		if (count == 0 || !items[0].found)
			o->status = o->part[0] != '\0' ? IO_BAD_ATTACHMENT : IO_NOT_FOUND;
	}
	op_done(ctx);
}

static void
empty_deleted(enum store_err code, const char *error, void *vctx)
{
	struct io_ctx *ctx = vctx;

	ctx->op = NULL;
	if (code != STORE_OK && code != STORE_ERR_NOT_FOUND)
		eas_log(ctx->req, "ItemOperations: cannot delete a subfolder: %s", error);
	ctx->sub_index++;
	if (ctx->sub_index < ctx->nsub) {
		ctx->op = store_folder_delete(ctx->req->store, ctx->req->account_id,
		                              ctx->subfolders[ctx->sub_index], empty_deleted, ctx);
		return;
	}
	op_done(ctx);
}

static void
empty_listed(const struct store_folder_list *list, const char *error, void *vctx)
{
	struct io_ctx *ctx = vctx;
	struct io_op *o = &ctx->ops[ctx->cur];

	ctx->op = NULL;
	if (list == NULL) {
		eas_log(ctx->req, "ItemOperations: %s", error);
		o->status = IO_SERVER;
		op_done(ctx);
		return;
	}
	/* Every folder below, deepest first (the list has parents first). */
	free(ctx->subfolders);
	ctx->subfolders = xcalloc(list->count + 1, sizeof(uint64_t));
	ctx->nsub = ctx->sub_index = 0;
	for (size_t i = list->count; i-- > 0;) {
		uint64_t p = list->folders[i].parent_id;

		/* Is folders[i] below o->folder_id? Walk up its parents. */
		for (size_t depth = 0; p != 0 && depth < 100; depth++) {
			if (p == o->folder_id) {
				ctx->subfolders[ctx->nsub++] = list->folders[i].id;
				break;
			}
			for (size_t k = 0; k < list->count; k++) {
				if (list->folders[k].id == p) {
					p = list->folders[k].parent_id;
					break;
				}
			}
		}
	}
	if (ctx->nsub == 0) {
		op_done(ctx);
		return;
	}
	ctx->op = store_folder_delete(ctx->req->store, ctx->req->account_id, ctx->subfolders[0],
	                              empty_deleted, ctx);
}

static void
empty_expunged(const struct store_expunge_result *res, enum store_err code, const char *error,
               void *vctx)
{
	struct io_ctx *ctx = vctx;
	struct io_op *o = &ctx->ops[ctx->cur];

	ctx->op = NULL;
	if (res == NULL) {
		o->status = code == STORE_ERR_NOT_FOUND ? IO_NOT_FOUND : IO_SERVER;
		if (o->status == IO_SERVER)
			eas_log(ctx->req, "ItemOperations: %s", error);
		op_done(ctx);
		return;
	}
	if (o->delete_subfolders) {
		ctx->op =
		    store_folder_list(ctx->req->store, ctx->req->account_id, empty_listed, ctx);
		return;
	}
	op_done(ctx);
}

static void
empty_flagged(const struct store_flags_result *res, enum store_err code, const char *error,
              void *vctx)
{
	struct io_ctx *ctx = vctx;
	struct io_op *o = &ctx->ops[ctx->cur];

	ctx->op = NULL;
	if (res == NULL) {
		o->status = code == STORE_ERR_NOT_FOUND ? IO_NOT_FOUND : IO_SERVER;
		if (o->status == IO_SERVER)
			eas_log(ctx->req, "ItemOperations: %s", error);
		op_done(ctx);
		return;
	}
	ctx->op = store_expunge(ctx->req->store, ctx->req->account_id, o->folder_id, NULL,
	                        empty_expunged, ctx);
}

static void
io_next(struct io_ctx *ctx)
{
	static const char *const deleted[] = {"\\Deleted"};

	while (ctx->cur < ctx->nops) {
		struct io_op *o = &ctx->ops[ctx->cur];

		if (o->status != IO_OK) {
			ctx->cur++;
			continue;
		}
		switch (o->node->tag) {
		case EAS_ITEMOPERATIONS_FETCH:
			ctx->load =
			    eas_mail_load(ctx->req->store, ctx->req->account_id, o->folder_id,
			                  &o->uid, 1, true, true, fetch_loaded, ctx);
			return;
		case EAS_ITEMOPERATIONS_EMPTYFOLDERCONTENTS:
			ctx->op =
			    store_flags(ctx->req->store, ctx->req->account_id, o->folder_id, NULL,
			                STORE_FLAGS_ADD, deleted, 1, 0, empty_flagged, ctx);
			return;
		default:
			ctx->cur++;
			continue;
		}
	}
	io_respond(ctx, IO_OK);
}

/* ---------------------------------------------------------------------
 * Parsing
 */

static void
parse_fetch(struct io_ctx *ctx, struct io_op *o)
{
	const struct wbxml_node *n = o->node, *opt = wbxml_child(n, EAS_ITEMOPERATIONS_OPTIONS);
	const char *store = wbxml_child_text(n, EAS_ITEMOPERATIONS_STORE);
	const char *fref = wbxml_child_text(n, EAS_AIRSYNCBASE_FILEREFERENCE);
	const char *sid = wbxml_child_text(n, EAS_AIRSYNC_SERVERID);
	const char *lid = wbxml_child_text(n, EAS_SEARCH_LONGID);
	const char *range = wbxml_child_text(opt, EAS_ITEMOPERATIONS_RANGE);
	const char *error;

	(void)ctx;
	if (store == NULL || strcasecmp(store, "Mailbox") != 0) {
		o->status = store == NULL ? IO_PROTOCOL : IO_BAD_STORE;
		return;
	}
	if (fref != NULL) {
		if (eas_mail_file_ref(fref, &o->folder_id, &o->uid, o->part) < 0)
			o->status = IO_BAD_ATTACHMENT;
	} else if (sid != NULL || lid != NULL) {
		o->by_long_id = sid == NULL;
		if (eas_mail_item_id(sid != NULL ? sid : lid, &o->folder_id, &o->uid) < 0)
			o->status = IO_NOT_FOUND;
	} else {
		o->status = IO_PROTOCOL;
		return;
	}
	if (opt != NULL && eas_mail_options_parse(opt, &o->opts, &error) < 0)
		o->status = IO_PROTOCOL;
	if (range != NULL) {
		unsigned long long lo, hi;
		int used = 0;

		if (sscanf(range, "%llu-%llu%n", &lo, &hi, &used) != 2 || range[used] != '\0' ||
		    lo > hi) {
			o->status = IO_BAD_RANGE;
		} else {
			o->has_range = true;
			o->range_lo = lo;
			o->range_hi = hi;
		}
	}
}

static bool
wants_multipart(const struct eas_request *req)
{
	const char *h = http_request_header(req->http, "MS-ASAcceptMultiPart");

	if (h != NULL && (strcasecmp(h, "T") == 0 || strcasecmp(h, "true") == 0))
		return true;
	return req->param(req, "AcceptMultiPart") != NULL;
}

void
eas_cmd_itemoperations(struct eas_request *req)
{
	struct io_ctx *ctx = xcalloc(1, sizeof(*ctx));
	const struct wbxml_node *root = req->body;

	ctx->req = req;
	eas_request_set_abort(req, io_abort, ctx);
	ctx->multipart = wants_multipart(req);
	if (root == NULL || root->tag != EAS_ITEMOPERATIONS_ITEMOPERATIONS ||
	    root->first_child == NULL) {
		eas_log(req, "ItemOperations: malformed request");
		io_respond(ctx, IO_PROTOCOL);
		return;
	}
	for (const struct wbxml_node *n = root->first_child; n != NULL; n = n->next) {
		struct io_op *o;

		if (ctx->nops >= 100) {
			io_respond(ctx, IO_PROTOCOL);
			return;
		}
		ctx->ops = xreallocarray(ctx->ops, ctx->nops + 1, sizeof(*ctx->ops));
		o = &ctx->ops[ctx->nops++];
		memset(o, 0, sizeof(*o));
		o->node = n;
		o->status = IO_OK;
		switch (n->tag) {
		case EAS_ITEMOPERATIONS_FETCH:
			parse_fetch(ctx, o);
			break;
		case EAS_ITEMOPERATIONS_EMPTYFOLDERCONTENTS:
			if (eas_mail_folder_id(wbxml_child_text(n, EAS_AIRSYNC_COLLECTIONID),
			                       &o->folder_id) < 0)
				o->status = IO_NOT_FOUND;
			o->delete_subfolders =
			    wbxml_child(wbxml_child(n, EAS_ITEMOPERATIONS_OPTIONS),
			                EAS_ITEMOPERATIONS_DELETESUBFOLDERS) != NULL;
			break;
		case EAS_ITEMOPERATIONS_MOVE:
			/* Moving whole conversations is not served yet. */
			eas_log(req, "ItemOperations: Move of a conversation is not implemented");
			o->status = IO_NOT_SUPPORTED;
			break;
		default:
			io_respond(ctx, IO_PROTOCOL);
			return;
		}
	}
	io_next(ctx);
}

/* ---------------------------------------------------------------------
 * GetAttachment (12.1 and earlier): the attachment's bytes as the body
 */

static void
getatt_loaded(struct eas_mail_item *items, size_t count, const char *error, void *vctx)
{
	struct io_ctx *ctx = vctx;
	struct eas_request *req = ctx->req;
	struct io_op *o = &ctx->ops[0];
	unsigned char *data = NULL;
	char *type = NULL;
	size_t len = 0;

	ctx->load = NULL;
	if (items == NULL) {
		eas_log(req, "GetAttachment: %s", error);
		io_free(ctx);
		eas_respond_http(req, 500, "database error");
		return;
	}
	if (count == 0 || !items[0].found || items[0].raw == NULL ||
	    message_eas_part(items[0].raw, items[0].raw_len, o->part, &data, &len, &type) < 0) {
		eas_mail_items_free(items, count);
		io_free(ctx);
		eas_respond_http(req, 500, "no such attachment");
		return;
	}
	eas_mail_items_free(items, count);
	io_free(ctx);
	{
		struct evbuffer *body = evbuffer_new();

		evbuffer_add(body, data, len);
		eas_respond_raw(req, type, body);
		evbuffer_free(body);
	}
	free(data);
	free(type);
}

void
eas_cmd_getattachment(struct eas_request *req)
{
	struct io_ctx *ctx = xcalloc(1, sizeof(*ctx));
	const char *name = req->param(req, "AttachmentName");
	struct io_op *o;

	ctx->req = req;
	eas_request_set_abort(req, io_abort, ctx);
	ctx->ops = xcalloc(1, sizeof(*ctx->ops));
	ctx->nops = 1;
	o = &ctx->ops[0];
	if (name == NULL || eas_mail_file_ref(name, &o->folder_id, &o->uid, o->part) < 0) {
		io_free(ctx);
		eas_respond_http(req, 400, "missing or invalid AttachmentName");
		return;
	}
	ctx->load = eas_mail_load(req->store, req->account_id, o->folder_id, &o->uid, 1, false,
	                          true, getatt_loaded, ctx);
}
