/* SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17, .20, .19):
 * the 14.x ComposeMail form (ClientId, SaveInSentItems, ReplaceMime,
 * Source FolderId/ItemId/LongId, Mime) and the 12.x form (query
 * parameters, message/rfc822 body). The original of a SmartReply is
 * quoted and the attachments of a SmartForward attached unless
 * ReplaceMime is given (modules/message-eas-compose.c); the message is
 * then submitted through modules/delivery.h (local recipients to their
 * INBOX, the others to the queue, a copy to Sent when asked) from an
 * address the account may send as. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery.h"
#include "eas-mail.h"
#include "http.h"
#include "mail-private.h"
#include "store.h"
#include "xmalloc.h"

/* ComposeMail Status values (MS-ASCMD 2.2.3.177.14, .16). */
#define SM_INVALID_XML       103
#define SM_INVALID_MIME      107
#define SM_SERVER_ERROR      110
#define SM_RETRY_LATER       111
#define SM_QUOTA             113
#define SM_NO_RECIPIENT      119
#define SM_SUBMISSION_FAILED 120
#define SM_ITEM_NOT_FOUND    150

static struct delivery *eas_delivery;

void
eas_mail_set_delivery(struct delivery *d)
{
	eas_delivery = d;
}

enum sm_kind { SM_SEND, SM_REPLY, SM_FORWARD };

struct sm_ctx {
	struct eas_request *req;
	enum sm_kind kind;
	const unsigned char *mime;
	size_t mime_len;
	unsigned char *mime_copy; /* 12.x: the body */
	bool save_in_sent, replace_mime;
	uint64_t src_folder;
	uint32_t src_uid;
	char *from; /* envelope sender */
	char **rcpts;
	size_t nrcpts;
	char *message; /* what goes out */
	size_t message_len;
	struct store_op *op;
	struct eas_mail_load *load;
	struct delivery_op *dop;
};

static void
sm_free(struct sm_ctx *ctx)
{
	store_op_abandon(&ctx->op);
	eas_mail_load_abandon(&ctx->load);
	delivery_op_abandon(&ctx->dop);
	free(ctx->mime_copy);
	free(ctx->from);
	message_eas_strv_free(ctx->rcpts, ctx->nrcpts);
	free(ctx->message);
	free(ctx);
}

static void
sm_abort(struct eas_request *req, void *ctx)
{
	(void)req;
	sm_free(ctx);
}

static uint16_t
root_tag(enum sm_kind kind)
{
	return kind == SM_SEND    ? EAS_COMPOSEMAIL_SENDMAIL
	       : kind == SM_REPLY ? EAS_COMPOSEMAIL_SMARTREPLY
	                          : EAS_COMPOSEMAIL_SMARTFORWARD;
}

/* Ends the request: success is an empty 200; a failure is the Status
 * document (14.0+) or HTTP 500 (earlier versions). */
static void
sm_finish(struct sm_ctx *ctx, unsigned status, const char *why)
{
	struct eas_request *req = ctx->req;
	enum sm_kind kind = ctx->kind;

	if (status != 0)
		eas_log(req, "%s: Status %u: %s", req->cmd, status, why != NULL ? why : "");
	sm_free(ctx);
	if (status == 0) {
		eas_respond_empty(req);
	} else if (req->version < EAS_VERSION_140) {
		eas_respond_http(req, 500, why != NULL ? why : "message not sent");
	} else {
		struct evbuffer *out = evbuffer_new();
		struct wbxml_writer *w = wbxml_writer_new(out);

		wbxml_start(w, root_tag(kind));
		wbxml_uint(w, EAS_COMPOSEMAIL_STATUS, status);
		wbxml_end(w);
		wbxml_writer_finish(&w);
		eas_respond_wbxml(req, out);
		evbuffer_free(out);
	}
}

static void
flagged(const struct store_flags_result *res, enum store_err code, const char *error, void *vctx)
{
	struct sm_ctx *ctx = vctx;

	(void)res;
	(void)code;
	(void)error;
	ctx->op = NULL;
	sm_finish(ctx, 0, NULL);
}

static void
submitted(const struct delivery_rcpt_result *results, size_t count, void *vctx)
{
	struct sm_ctx *ctx = vctx;
	size_t ok = 0, temp = 0;
	const char *why = NULL;

	ctx->dop = NULL;
	for (size_t i = 0; i < count; i++) {
		if (results[i].code >= 200 && results[i].code < 300) {
			ok++;
		} else {
			why = results[i].text;
			if (results[i].code >= 400 && results[i].code < 500)
				temp++;
			eas_log(ctx->req, "%s: %s: %d %s %s", ctx->req->cmd, results[i].address,
			        results[i].code, results[i].enhanced, results[i].text);
		}
	}
	if (ok == 0) {
		sm_finish(ctx, temp == count ? SM_RETRY_LATER : SM_SUBMISSION_FAILED, why);
		return;
	}
	/* Mark the original as answered / forwarded, as IMAP clients do. */
	if (ctx->kind != SM_SEND) {
		static const char *const answered[] = {"\\Answered"};
		static const char *const forwarded[] = {"$Forwarded"};
		struct store_uid_ranges r;
		uint32_t range[1][2] = {{ctx->src_uid, ctx->src_uid}};

		r.ranges = (const uint32_t(*)[2])range;
		r.count = 1;
		ctx->op = store_flags(ctx->req->store, ctx->req->account_id, ctx->src_folder, &r,
		                      STORE_FLAGS_ADD, ctx->kind == SM_REPLY ? answered : forwarded,
		                      1, 0, flagged, ctx);
		return;
	}
	sm_finish(ctx, 0, NULL);
}

static void
submit(struct sm_ctx *ctx)
{
	struct delivery_message msg = {
	    .data = ctx->message,
	    .size = ctx->message_len,
	    .mail_from = ctx->from,
	    .client_addr = http_request_peer(ctx->req->http),
	    .protocol = "EAS",
	};

	ctx->dop = delivery_submit(eas_delivery, ctx->req->account_id, &msg,
	                           (const char *const *)ctx->rcpts, ctx->nrcpts, ctx->save_in_sent,
	                           submitted, ctx);
}

/* The outgoing message: the client's, combined with the original for
 * Smart*, then without Bcc and with From, Date and Message-ID. */
static int
build(struct sm_ctx *ctx, const struct eas_mail_item *orig)
{
	const char *error;
	char *combined = NULL, *from_header;
	size_t combined_len = 0;
	const void *src = ctx->mime;
	size_t src_len = ctx->mime_len;
	int r;

	if (orig != NULL) {
		if (message_eas_smart(ctx->mime, ctx->mime_len, orig->raw, orig->raw_len,
		                      ctx->kind == SM_FORWARD, !ctx->replace_mime, &combined,
		                      &combined_len, &error) < 0)
			return -1;
		src = combined;
		src_len = combined_len;
	}
	from_header = ctx->req->display_name != NULL && *ctx->req->display_name != '\0'
	                  ? xasprintf("\"%s\" <%s>", ctx->req->display_name, ctx->req->address)
	                  : xstrdup(ctx->req->address);
	r = message_eas_prepare(src, src_len, from_header, &ctx->message, &ctx->message_len,
	                        &error);
	free(from_header);
	free(combined);
	return r;
}

static void
original_loaded(struct eas_mail_item *items, size_t count, const char *error, void *vctx)
{
	struct sm_ctx *ctx = vctx;

	ctx->load = NULL;
	if (items == NULL) {
		sm_finish(ctx, SM_SERVER_ERROR, error);
		return;
	}
	if (count == 0 || !items[0].found || items[0].raw == NULL) {
		eas_mail_items_free(items, count);
		sm_finish(ctx, SM_ITEM_NOT_FOUND, "the original message does not exist");
		return;
	}
	if (build(ctx, &items[0]) < 0) {
		eas_mail_items_free(items, count);
		sm_finish(ctx, SM_INVALID_MIME, "cannot combine the message with the original");
		return;
	}
	eas_mail_items_free(items, count);
	submit(ctx);
}

static void
sender_checked(bool allowed, const char *error, void *vctx)
{
	struct sm_ctx *ctx = vctx;

	ctx->dop = NULL;
	if (error != NULL) {
		sm_finish(ctx, SM_SERVER_ERROR, error);
		return;
	}
	if (!allowed) {
		sm_finish(ctx, SM_SUBMISSION_FAILED, "the account may not send as this address");
		return;
	}
	if (ctx->kind != SM_SEND) {
		ctx->load = eas_mail_load(ctx->req->store, ctx->req->account_id, ctx->src_folder,
		                          &ctx->src_uid, 1, false, true, original_loaded, ctx);
		return;
	}
	if (build(ctx, NULL) < 0) {
		sm_finish(ctx, SM_INVALID_MIME, "the message cannot be parsed");
		return;
	}
	submit(ctx);
}

/* Reads the request (14.x WBXML or 12.x query and body). Returns 0 or a
 * Status. */
static unsigned
parse(struct sm_ctx *ctx)
{
	struct eas_request *req = ctx->req;
	const struct wbxml_node *root = req->body;
	const char *item = NULL, *folder = NULL, *longid = NULL;

	if (root != NULL) {
		const struct wbxml_node *mime = wbxml_child(root, EAS_COMPOSEMAIL_MIME);
		const struct wbxml_node *source = wbxml_child(root, EAS_COMPOSEMAIL_SOURCE);

		if (root->tag != root_tag(ctx->kind) || mime == NULL || mime->len == 0)
			return SM_INVALID_XML;
		ctx->mime = mime->data;
		ctx->mime_len = mime->len;
		ctx->save_in_sent = wbxml_child(root, EAS_COMPOSEMAIL_SAVEINSENTITEMS) != NULL;
		ctx->replace_mime = wbxml_child(root, EAS_COMPOSEMAIL_REPLACEMIME) != NULL;
		item = wbxml_child_text(source, EAS_COMPOSEMAIL_ITEMID);
		folder = wbxml_child_text(source, EAS_COMPOSEMAIL_FOLDERID);
		longid = wbxml_child_text(source, EAS_COMPOSEMAIL_LONGID);
		if (ctx->kind != SM_SEND && source == NULL)
			return SM_INVALID_XML;
	} else {
		const char *sis = req->param(req, "SaveInSent");
		size_t len = req->raw_body != NULL ? evbuffer_get_length(req->raw_body) : 0;

		if (len == 0)
			return SM_INVALID_MIME;
		ctx->mime_copy = xmalloc(len + 1);
		evbuffer_copyout(req->raw_body, ctx->mime_copy, len);
		ctx->mime_copy[len] = '\0';
		ctx->mime = ctx->mime_copy;
		ctx->mime_len = len;
		ctx->save_in_sent =
		    sis != NULL && (strcasecmp(sis, "T") == 0 || strcmp(sis, "1") == 0);
		item = req->param(req, "ItemId");
		folder = req->param(req, "CollectionId");
		longid = req->param(req, "LongId");
	}
	if (ctx->kind != SM_SEND) {
		uint64_t f = 0;

		/* ItemId is "<folder>:<uid>" (FolderId, when given, must agree);
		 * a LongId from Search is the same form. */
		if (eas_mail_item_id(item != NULL ? item : longid, &ctx->src_folder,
		                     &ctx->src_uid) < 0)
			return SM_ITEM_NOT_FOUND;
		if (item != NULL && folder != NULL &&
		    (eas_mail_folder_id(folder, &f) < 0 || f != ctx->src_folder))
			return SM_ITEM_NOT_FOUND;
	}
	return 0;
}

static void
compose_command(struct eas_request *req, enum sm_kind kind)
{
	struct sm_ctx *ctx = xcalloc(1, sizeof(*ctx));
	const char *error;
	unsigned status;

	ctx->req = req;
	ctx->kind = kind;
	eas_request_set_abort(req, sm_abort, ctx);
	if (eas_delivery == NULL) {
		sm_finish(ctx, SM_SERVER_ERROR, "mail submission is not available in this worker");
		return;
	}
	if ((status = parse(ctx)) != 0) {
		sm_finish(ctx, status, "malformed request");
		return;
	}
	if (message_eas_envelope(ctx->mime, ctx->mime_len, &ctx->rcpts, &ctx->nrcpts, &ctx->from,
	                         &error) < 0) {
		sm_finish(ctx, SM_INVALID_MIME, error);
		return;
	}
	if (ctx->nrcpts == 0) {
		sm_finish(ctx, SM_NO_RECIPIENT, "no recipients");
		return;
	}
	if (*ctx->from == '\0' || strcasecmp(ctx->from, req->address) == 0) {
		free(ctx->from);
		ctx->from = xstrdup(req->address);
		sender_checked(true, NULL, ctx);
		return;
	}
	ctx->dop =
	    delivery_sender_allowed(eas_delivery, req->account_id, ctx->from, sender_checked, ctx);
}

void
eas_cmd_sendmail(struct eas_request *req)
{
	compose_command(req, SM_SEND);
}

void
eas_cmd_smartreply(struct eas_request *req)
{
	compose_command(req, SM_REPLY);
}

void
eas_cmd_smartforward(struct eas_request *req)
{
	compose_command(req, SM_FORWARD);
}
