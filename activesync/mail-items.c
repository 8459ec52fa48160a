/* Loading messages for ActiveSync responses: one query for a window of
 * messages with their bytes (store_eas_items), one more per message too
 * large to come with it, each parsed once (modules/message-eas.h) for
 * Sync, ItemOperations and Search. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mail-private.h"
#include "store-eas.h"
#include "xmalloc.h"

struct eas_mail_load {
	struct store *store;
	uint64_t account_id, folder_id;
	uint32_t *uids;
	size_t count;
	bool with_body, keep_raw;
	struct eas_mail_item *items;
	char **hashes;   /* of the messages to read alone, per item */
	size_t next_big; /* scan position for messages read alone */
	struct store_op *op;
	eas_mail_load_cb *cb;
	void *ctx;
};

void
eas_mail_items_free(struct eas_mail_item *items, size_t count)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		eas_strv_free(items[i].flags, items[i].nflags);
		free(items[i].thread_id);
		if (items[i].parsed)
			message_eas_clear(&items[i].msg);
		free(items[i].raw);
	}
	free(items);
}

static void
load_free(struct eas_mail_load *l)
{
	store_op_abandon(&l->op);
	eas_mail_items_free(l->items, l->count);
	eas_strv_free(l->hashes, l->count);
	free(l->uids);
	free(l);
}

void
eas_mail_load_abandon(struct eas_mail_load **lp)
{
	if (*lp == NULL)
		return;
	load_free(*lp);
	*lp = NULL;
}

static void
load_finish(struct eas_mail_load *l, const char *error)
{
	struct eas_mail_item *items = error == NULL ? l->items : NULL;
	size_t count = l->count;

	if (error == NULL)
		l->items = NULL; /* the callee owns them now */
	l->cb(items, error == NULL ? count : 0, error, l->ctx);
	load_free(l);
}

static void
item_body(struct eas_mail_load *l, struct eas_mail_item *it, const unsigned char *data, size_t len)
{
	const char *error;

	if (l->with_body) {
		if (message_eas_parse(data, len, &it->msg, &error) == 0)
			it->parsed = true;
		else
			log_debug("eas: message %u of folder %llu: %s", it->uid,
			          (unsigned long long)l->folder_id, error);
	}
	if (l->keep_raw) {
		it->raw = xmalloc(len + 1);
		memcpy(it->raw, data, len);
		it->raw[len] = '\0';
		it->raw_len = len;
	}
}

static void load_next_big(struct eas_mail_load *l);

static void
big_done(const void *data, size_t len, enum store_err code, const char *error, void *ctx)
{
	struct eas_mail_load *l = ctx;
	struct eas_mail_item *it = &l->items[l->next_big];

	l->op = NULL;
	if (code == STORE_ERR_NOT_FOUND) {
		/* Expunged meanwhile. */
		it->found = false;
	} else if (data == NULL) {
		load_finish(l, error != NULL ? error : "cannot read a message");
		return;
	} else {
		item_body(l, it, data, len);
	}
	l->next_big++;
	load_next_big(l);
}

/* Reads, one at a time, the messages that were too large for the window
 * query. */
static void
load_next_big(struct eas_mail_load *l)
{
	for (; l->next_big < l->count; l->next_big++) {
		struct eas_mail_item *it = &l->items[l->next_big];

		if (it->found && l->hashes[l->next_big] != NULL) {
			l->op = store_blob_read(l->store, l->account_id, l->folder_id,
			                        l->hashes[l->next_big], 0, (size_t)it->size,
			                        big_done, l);
			return;
		}
	}
	load_finish(l, NULL);
}

static void
items_done(const struct store_eas_items_result *res, enum store_err code, const char *error,
           void *ctx)
{
	struct eas_mail_load *l = ctx;
	size_t k = 0;

	(void)code;
	l->op = NULL;
	if (res == NULL) {
		load_finish(l, error != NULL ? error : "cannot read messages");
		return;
	}
	for (size_t i = 0; i < l->count; i++) {
		struct eas_mail_item *it = &l->items[i];
		const struct store_eas_item *row = NULL;

		it->folder_id = l->folder_id;
		it->uid = l->uids[i];
		/* Rows come in the order asked, missing ones left out. */
		if (k < res->count && res->items[k].uid == l->uids[i])
			row = &res->items[k++];
		if (row == NULL)
			continue;
		it->found = true;
		it->modseq = row->modseq;
		it->nflags = row->nflags;
		it->flags = xcalloc(row->nflags + 1, sizeof(char *));
		for (size_t f = 0; f < row->nflags; f++)
			it->flags[f] = xstrdup(row->flags[f]);
		it->internal_date = row->internal_date;
		it->size = row->size;
		it->thread_id = row->thread_id != NULL ? xstrdup(row->thread_id) : NULL;
		if (!l->with_body && !l->keep_raw)
			continue;
		if (row->data != NULL)
			item_body(l, it, row->data, row->data_len);
		else if (row->blob_hash != NULL)
			l->hashes[i] = xstrdup(row->blob_hash);
	}
	l->next_big = 0;
	load_next_big(l);
}

struct eas_mail_load *
eas_mail_load(struct store *store, uint64_t account_id, uint64_t folder_id, const uint32_t *uids,
              size_t count, bool with_body, bool keep_raw, eas_mail_load_cb *cb, void *ctx)
{
	struct eas_mail_load *l = xcalloc(1, sizeof(*l));

	l->store = store;
	l->account_id = account_id;
	l->folder_id = folder_id;
	l->count = count;
	l->uids = xcalloc(count + 1, sizeof(*l->uids));
	memcpy(l->uids, uids, count * sizeof(*uids));
	l->items = xcalloc(count + 1, sizeof(*l->items));
	l->hashes = xcalloc(count + 1, sizeof(*l->hashes));
	l->with_body = with_body;
	l->keep_raw = keep_raw;
	l->cb = cb;
	l->ctx = ctx;
	l->op = store_eas_items(store, account_id, folder_id, uids, count,
	                        with_body || keep_raw ? EAS_MAIL_INLINE_MAX : 0, items_done, l);
	return l;
}
