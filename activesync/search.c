/* Search (MS-ASCMD 2.2.1.16) of the mailbox (Store Name "Mailbox"): a
 * Query of And / Or over CollectionId, FreeText and DateReceived
 * GreaterThan / LessThan, with Range, DeepTraversal (subfolders too) and
 * BodyPreference; results newest first with LongIds ("<folder>:<uid>",
 * usable by ItemOperations and SmartReply) and the Email class
 * properties. Results are not cached, so RebuildResults changes nothing.
 * Other stores (GAL, DocumentLibrary) answer Status 2 here. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail-private.h"
#include "store-eas.h"
#include "store.h"
#include "xmalloc.h"

#define SEARCH_OK          1
#define SEARCH_INVALID     2
#define SEARCH_SERVER      3
#define SEARCH_TOO_COMPLEX 8
#define SEARCH_RANGE_MAX   100
#define QUERY_NODES_MAX    64

struct search_ctx {
	struct eas_request *req;
	struct store_eas_query query; /* the criteria */
	bool has_query;
	size_t nnodes;   /* criteria counted, for the limit */
	uint64_t *asked; /* CollectionIds named in the query */
	size_t nasked;
	bool deep;
	size_t lo, hi; /* Range */
	struct eas_mail_options opts;
	uint64_t *folders;
	size_t nfolders;
	struct store_eas_hit *hits;
	size_t nhits, next; /* loading: next hit to load */
	uint64_t total;
	struct eas_mail_item *items; /* one per hit */
	struct store_op *op;
	struct eas_mail_load *load;
};

static void
query_free(struct store_eas_query *q)
{
	for (size_t i = 0; i < q->nchildren; i++)
		query_free((struct store_eas_query *)&q->children[i]);
	free((void *)q->children);
	free((char *)q->text);
	memset(q, 0, sizeof(*q));
}

static void
search_free(struct search_ctx *ctx)
{
	store_op_abandon(&ctx->op);
	eas_mail_load_abandon(&ctx->load);
	query_free(&ctx->query);
	free(ctx->asked);
	free(ctx->folders);
	free(ctx->hits);
	if (ctx->items != NULL) {
		/* items[i] were moved out of the loads: free their contents. */
		for (size_t i = 0; i < ctx->nhits; i++) {
			eas_strv_free(ctx->items[i].flags, ctx->items[i].nflags);
			free(ctx->items[i].thread_id);
			if (ctx->items[i].parsed)
				message_eas_clear(&ctx->items[i].msg);
			free(ctx->items[i].raw);
		}
		free(ctx->items);
	}
	free(ctx);
}

static void
search_abort(struct eas_request *req, void *ctx)
{
	(void)req;
	search_free(ctx);
}

static void
search_respond(struct search_ctx *ctx, unsigned top, unsigned store_status)
{
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	struct eas_request *req = ctx->req;
	size_t shown = 0;

	wbxml_start(w, EAS_SEARCH_SEARCH);
	wbxml_uint(w, EAS_SEARCH_STATUS, top);
	if (top == SEARCH_OK) {
		wbxml_start(w, EAS_SEARCH_RESPONSE);
		wbxml_start(w, EAS_SEARCH_STORE);
		wbxml_uint(w, EAS_SEARCH_STATUS, store_status);
		for (size_t i = 0; store_status == SEARCH_OK && i < ctx->nhits; i++) {
			const struct eas_mail_item *it = &ctx->items[i];

			if (!it->found)
				continue;
			wbxml_start(w, EAS_SEARCH_RESULT);
			wbxml_string(w, EAS_AIRSYNC_CLASS, "Email");
			wbxml_stringf(w, EAS_SEARCH_LONGID, "%llu:%u",
			              (unsigned long long)ctx->hits[i].folder_id, ctx->hits[i].uid);
			wbxml_stringf(w, EAS_AIRSYNC_COLLECTIONID, "%llu",
			              (unsigned long long)ctx->hits[i].folder_id);
			wbxml_start(w, EAS_SEARCH_PROPERTIES);
			eas_email_write(w, req->version, it, &ctx->opts);
			wbxml_end(w);
			wbxml_end(w);
			shown++;
		}
		if (store_status == SEARCH_OK) {
			if (shown == 0)
				wbxml_empty(w, EAS_SEARCH_RESULT);
			else
				wbxml_stringf(w, EAS_SEARCH_RANGE, "%zu-%zu", ctx->lo,
				              ctx->lo + shown - 1);
			wbxml_uint(w, EAS_SEARCH_TOTAL, ctx->total);
		}
		wbxml_end(w);
		wbxml_end(w);
	}
	wbxml_end(w);
	wbxml_writer_finish(&w);
	search_free(ctx);
	eas_respond_wbxml(req, out);
	evbuffer_free(out);
}

/* ---------------------------------------------------------------------
 * Loading the hits, folder by folder
 */

static void load_next(struct search_ctx *ctx);

static void
hits_loaded(struct eas_mail_item *items, size_t count, const char *error, void *vctx)
{
	struct search_ctx *ctx = vctx;
	uint64_t folder = ctx->hits[ctx->next].folder_id;
	size_t k = 0;

	ctx->load = NULL;
	if (items == NULL) {
		eas_log(ctx->req, "Search: %s", error);
		search_respond(ctx, SEARCH_OK, SEARCH_SERVER);
		return;
	}
	/* Move each loaded item to its hit (the hits of this folder, in order). */
	for (size_t i = ctx->next; i < ctx->nhits && k < count; i++) {
		if (ctx->hits[i].folder_id != folder || ctx->items[i].found)
			continue;
		ctx->items[i] = items[k];
		memset(&items[k], 0, sizeof(items[k]));
		k++;
	}
	eas_mail_items_free(items, count);
	ctx->next++;
	load_next(ctx);
}

static void
load_next(struct search_ctx *ctx)
{
	struct u32 {
		uint32_t *v;
		size_t n;
	} uids = {0};

	for (; ctx->next < ctx->nhits; ctx->next++) {
		uint64_t folder = ctx->hits[ctx->next].folder_id;
		bool earlier = false;

		/* A folder whose hits an earlier round loaded is done. */
		for (size_t i = 0; i < ctx->next; i++)
			earlier = earlier || ctx->hits[i].folder_id == folder;
		if (earlier)
			continue;
		uids.v = xcalloc(ctx->nhits + 1, sizeof(uint32_t));
		for (size_t i = ctx->next; i < ctx->nhits; i++) {
			if (ctx->hits[i].folder_id == folder)
				uids.v[uids.n++] = ctx->hits[i].uid;
		}
		ctx->load = eas_mail_load(ctx->req->store, ctx->req->account_id, folder, uids.v,
		                          uids.n, true, false, hits_loaded, ctx);
		free(uids.v);
		return;
	}
	search_respond(ctx, SEARCH_OK, SEARCH_OK);
}

static void
searched(const struct store_eas_search_result *res, enum store_err code, const char *error,
         void *vctx)
{
	struct search_ctx *ctx = vctx;

	ctx->op = NULL;
	if (res == NULL) {
		eas_log(ctx->req, "Search: %s", error);
		search_respond(ctx, SEARCH_OK,
		               code == STORE_ERR_INVALID ? SEARCH_INVALID : SEARCH_SERVER);
		return;
	}
	ctx->total = res->total;
	ctx->nhits = res->count;
	ctx->hits = xcalloc(res->count + 1, sizeof(*ctx->hits));
	memcpy(ctx->hits, res->hits, res->count * sizeof(*ctx->hits));
	ctx->items = xcalloc(res->count + 1, sizeof(*ctx->items));
	ctx->next = 0;
	load_next(ctx);
}

static bool
below(const struct store_folder_list *list, uint64_t id, uint64_t ancestor)
{
	for (size_t depth = 0; id != 0 && depth < 100; depth++) {
		uint64_t parent = 0;

		if (id == ancestor)
			return true;
		for (size_t k = 0; k < list->count; k++) {
			if (list->folders[k].id == id) {
				parent = list->folders[k].parent_id;
				break;
			}
		}
		id = parent;
	}
	return false;
}

static void
listed(const struct store_folder_list *list, const char *error, void *vctx)
{
	struct search_ctx *ctx = vctx;

	ctx->op = NULL;
	if (list == NULL) {
		eas_log(ctx->req, "Search: %s", error);
		search_respond(ctx, SEARCH_OK, SEARCH_SERVER);
		return;
	}
	ctx->folders = xcalloc(list->count + 1, sizeof(uint64_t));
	for (size_t i = 0; i < list->count; i++) {
		const struct store_folder *f = &list->folders[i];
		bool take = ctx->nasked == 0;

		if (strcmp(f->type, "mail") != 0 || f->noselect)
			continue;
		for (size_t k = 0; k < ctx->nasked && !take; k++)
			take = f->id == ctx->asked[k] ||
			       (ctx->deep && below(list, f->id, ctx->asked[k]));
		if (take)
			ctx->folders[ctx->nfolders++] = f->id;
	}
	ctx->op = store_eas_search(ctx->req->store, ctx->req->account_id, ctx->folders,
	                           ctx->nfolders, ctx->has_query ? &ctx->query : NULL, ctx->lo,
	                           ctx->hi - ctx->lo + 1, searched, ctx);
}

/* ---------------------------------------------------------------------
 * The query
 */

/* Converts n into q; returns -1 with a Status. CollectionIds are
 * collected aside and Class is ignored; an And / Or left with no criteria
 * matches everything (in the collections). */
static int
convert(struct search_ctx *ctx, const struct wbxml_node *n, struct store_eas_query *q,
        unsigned depth, unsigned *status_r)
{
	if (depth > 8 || ++ctx->nnodes > QUERY_NODES_MAX) {
		*status_r = SEARCH_TOO_COMPLEX;
		return -1;
	}
	switch (n->tag) {
	case EAS_SEARCH_AND:
	case EAS_SEARCH_OR: {
		size_t max = 0;
		struct store_eas_query *ch;

		q->kind = n->tag == EAS_SEARCH_AND ? STORE_EASQ_AND : STORE_EASQ_OR;
		for (const struct wbxml_node *c = n->first_child; c != NULL; c = c->next)
			max++;
		ch = xcalloc(max + 1, sizeof(*ch));
		q->children = ch;
		for (const struct wbxml_node *c = n->first_child; c != NULL; c = c->next) {
			if (c->tag == EAS_AIRSYNC_CLASS)
				continue;
			if (c->tag == EAS_AIRSYNC_COLLECTIONID) {
				uint64_t id;

				if (eas_mail_folder_id(wbxml_text(c), &id) < 0) {
					*status_r = SEARCH_INVALID;
					return -1;
				}
				ctx->asked =
				    xreallocarray(ctx->asked, ctx->nasked + 1, sizeof(uint64_t));
				ctx->asked[ctx->nasked++] = id;
				continue;
			}
			q->nchildren++;
			if (convert(ctx, c, &ch[q->nchildren - 1], depth + 1, status_r) < 0)
				return -1;
		}
		if (q->nchildren == 0) {
			free(ch);
			q->children = NULL;
			q->kind = STORE_EASQ_AFTER; /* everything: received after 1970 */
			q->date = 0;
		}
		return 0;
	}
	case EAS_SEARCH_FREETEXT: {
		const char *t = wbxml_text(n);

		if (t == NULL || *t == '\0') {
			*status_r = SEARCH_INVALID;
			return -1;
		}
		q->kind = STORE_EASQ_TEXT;
		q->text = xstrdup(t);
		return 0;
	}
	case EAS_SEARCH_GREATERTHAN:
	case EAS_SEARCH_LESSTHAN: {
		const char *v = wbxml_child_text(n, EAS_SEARCH_VALUE);

		if (wbxml_child(n, EAS_EMAIL_DATERECEIVED) == NULL ||
		    eas_parse_date(v, &q->date) < 0) {
			*status_r = SEARCH_INVALID;
			return -1;
		}
		q->kind = n->tag == EAS_SEARCH_GREATERTHAN ? STORE_EASQ_AFTER : STORE_EASQ_BEFORE;
		return 0;
	}
	default:
		*status_r = SEARCH_TOO_COMPLEX;
		return -1;
	}
}

void
eas_cmd_search(struct eas_request *req)
{
	struct search_ctx *ctx = xcalloc(1, sizeof(*ctx));
	const struct wbxml_node *store, *query, *opt;
	const char *name, *range;
	unsigned status = SEARCH_INVALID;

	ctx->req = req;
	eas_request_set_abort(req, search_abort, ctx);
	store = req->body != NULL && req->body->tag == EAS_SEARCH_SEARCH
	            ? wbxml_child(req->body, EAS_SEARCH_STORE)
	            : NULL;
	name = wbxml_child_text(store, EAS_SEARCH_NAME);
	query = wbxml_child(store, EAS_SEARCH_QUERY);
	opt = wbxml_child(store, EAS_SEARCH_OPTIONS);
	if (name == NULL || query == NULL) {
		search_respond(ctx, SEARCH_INVALID, 0);
		return;
	}
	if (strcasecmp(name, "Mailbox") != 0) {
		eas_log(req, "Search: store %s is not served here", name);
		search_respond(ctx, SEARCH_OK, SEARCH_INVALID);
		return;
	}
	if (query->first_child == NULL || query->first_child->next != NULL) {
		search_respond(ctx, SEARCH_OK, SEARCH_INVALID);
		return;
	}
	ctx->has_query = true;
	if (convert(ctx, query->first_child, &ctx->query, 0, &status) < 0) {
		search_respond(ctx, SEARCH_OK, status);
		return;
	}
	ctx->deep = wbxml_child(opt, EAS_SEARCH_DEEPTRAVERSAL) != NULL;
	ctx->lo = 0;
	ctx->hi = SEARCH_RANGE_MAX - 1;
	range = wbxml_child_text(opt, EAS_SEARCH_RANGE);
	if (range != NULL) {
		unsigned long lo, hi;
		int used = 0;

		if (sscanf(range, "%lu-%lu%n", &lo, &hi, &used) != 2 || range[used] != '\0' ||
		    lo > hi) {
			search_respond(ctx, SEARCH_OK, SEARCH_INVALID);
			return;
		}
		ctx->lo = lo;
		ctx->hi = hi - lo >= SEARCH_RANGE_MAX ? lo + SEARCH_RANGE_MAX - 1 : hi;
	}
	if (opt != NULL) {
		const char *error;

		if (eas_mail_options_parse(opt, &ctx->opts, &error) < 0) {
			search_respond(ctx, SEARCH_OK, SEARCH_INVALID);
			return;
		}
	}
	ctx->op = store_folder_list(req->store, req->account_id, listed, ctx);
}
