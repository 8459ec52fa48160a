/* Drives the mail store (db/store.h) for tests/integration/test_store.py:
 * reads one JSON command a line on stdin, runs it against the database
 * named on the command line on its own event loop, and prints one JSON
 * line with the result. Change notices of watched accounts are printed as
 * {"notice": [account, folder, modseq]} lines as they arrive.
 *
 * Usage: store-driver CONNINFO */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "db.h"
#include "log.h"
#include "notify.h"
#include "store.h"
#include "xmalloc.h"

struct job;

/* One store call of a job. */
struct call {
	struct job *job;
	size_t index;
	struct store_op *op;
	bool abandoned;
};

/* A command: one call, or several running at once ("parallel"). */
struct job {
	json_t *results;
	size_t pending;
	bool parallel;
	struct call *calls;
	size_t ncalls;
};

static struct event_base *base;
static struct db *db;
static struct store *store;
static struct notify_bus *bus;
static struct evbuffer *input;
static struct event *stdin_ev, *next_ev;
static bool busy, eof;
/* Set while a store function runs: a callback then is a contract breach. */
static bool in_call;

static void job_call_done(struct call *call, json_t *result);

static void
emit(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);

	printf("%s\n", s);
	fflush(stdout);
	free(s);
}

static const char *
code_name(enum store_err code)
{
	switch (code) {
	case STORE_OK:
		return "ok";
	case STORE_ERR_INTERNAL:
		return "internal";
	case STORE_ERR_NOT_FOUND:
		return "not_found";
	case STORE_ERR_EXISTS:
		return "exists";
	case STORE_ERR_INVALID:
		return "invalid";
	case STORE_ERR_NOT_EMPTY:
		return "not_empty";
	case STORE_ERR_OVER_QUOTA:
		return "over_quota";
	case STORE_ERR_MODIFIED:
		return "modified";
	}
	return "?";
}

/* The common part of every answer. */
static json_t *
answer(struct call *call, enum store_err code, const char *error)
{
	json_t *obj = json_object();

	if (in_call)
		json_object_set_new(obj, "contract", json_string("callback inside the call"));
	if (call->abandoned)
		json_object_set_new(obj, "contract", json_string("callback after abandon"));
	json_object_set_new(obj, "ok", json_boolean(error == NULL));
	json_object_set_new(obj, "code", json_string(code_name(error == NULL ? STORE_OK : code)));
	if (error != NULL)
		json_object_set_new(obj, "error", json_string(error));
	return obj;
}

static json_t *
json_str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
flags_json(const char *const *flags, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(flags[i]));
	return arr;
}

static json_t *
uids_json(const uint32_t *uids, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_integer(uids[i]));
	return arr;
}

static json_t *
folder_json(const struct store_folder *f)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer((json_int_t)f->id));
	json_object_set_new(o, "owner_id", json_integer((json_int_t)f->owner_id));
	json_object_set_new(o, "parent_id", json_integer((json_int_t)f->parent_id));
	json_object_set_new(o, "path", json_string(f->path));
	json_object_set_new(o, "type", json_string(f->type));
	json_object_set_new(o, "special_use", json_str_or_null(f->special_use));
	json_object_set_new(o, "is_default", json_boolean(f->is_default));
	json_object_set_new(o, "has_children", json_boolean(f->has_children));
	json_object_set_new(o, "subscribed", json_boolean(f->subscribed));
	json_object_set_new(o, "noselect", json_boolean(f->noselect));
	json_object_set_new(o, "uidvalidity", json_integer(f->uidvalidity));
	json_object_set_new(o, "uidnext", json_integer(f->uidnext));
	json_object_set_new(o, "highestmodseq", json_integer((json_int_t)f->highestmodseq));
	json_object_set_new(o, "messages", json_integer(f->messages));
	json_object_set_new(o, "unseen", json_integer(f->unseen));
	json_object_set_new(o, "deleted", json_integer(f->deleted));
	json_object_set_new(o, "size", json_integer((json_int_t)f->size));
	return o;
}

static json_t *
msgs_json(const struct store_msg *msgs, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *m = json_object();

		json_object_set_new(m, "uid", json_integer(msgs[i].uid));
		json_object_set_new(m, "modseq", json_integer((json_int_t)msgs[i].modseq));
		json_object_set_new(m, "flags", flags_json(msgs[i].flags, msgs[i].nflags));
		json_array_append_new(arr, m);
	}
	return arr;
}

/* --- Callbacks --- */

static void
account_cb(const struct store_account *a, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, STORE_ERR_INTERNAL, error);

	if (a != NULL) {
		json_t *acct = json_object();

		json_object_set_new(acct, "id", json_integer((json_int_t)a->id));
		json_object_set_new(acct, "address", json_string(a->address));
		json_object_set_new(acct, "display_name", json_string(a->display_name));
		json_object_set_new(acct, "kind", json_string(a->kind));
		json_object_set_new(acct, "enabled", json_boolean(a->enabled));
		json_object_set_new(acct, "password_hash", json_str_or_null(a->password_hash));
		json_object_set_new(acct, "quota_bytes", json_integer((json_int_t)a->quota_bytes));
		json_object_set_new(o, "account", acct);
	} else if (error == NULL) {
		json_object_set_new(o, "account", json_null());
	}
	job_call_done(call, o);
}

static void
list_cb(const struct store_folder_list *list, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, STORE_ERR_INTERNAL, error);

	if (list != NULL) {
		json_t *arr = json_array(), *orphans = json_array();

		for (size_t i = 0; i < list->count; i++)
			json_array_append_new(arr, folder_json(&list->folders[i]));
		for (size_t i = 0; i < list->orphan_count; i++)
			json_array_append_new(orphans, json_string(list->orphan_subscriptions[i]));
		json_object_set_new(o, "folders", arr);
		json_object_set_new(o, "orphans", orphans);
	}
	job_call_done(call, o);
}

static void
folder_cb(const struct store_folder *folder, enum store_err code, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, code, error);

	if (folder != NULL)
		json_object_set_new(o, "folder", folder_json(folder));
	job_call_done(call, o);
}

static void
done_cb(enum store_err code, const char *error, void *ctx)
{
	struct call *call = ctx;

	job_call_done(call, answer(call, code, error));
}

static void
msgs_cb(const struct store_msg_list *list, enum store_err code, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, code, error);

	if (list != NULL) {
		json_object_set_new(o, "folder", folder_json(list->folder));
		json_object_set_new(o, "msgs", msgs_json(list->msgs, list->count));
		json_object_set_new(o, "vanished", uids_json(list->vanished, list->nvanished));
	}
	job_call_done(call, o);
}

static void
append_cb(const struct store_append_result *res, enum store_err code, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, code, error);

	if (res != NULL) {
		json_object_set_new(o, "uidvalidity", json_integer(res->uidvalidity));
		json_object_set_new(o, "uids", uids_json(res->uids, res->count));
		json_object_set_new(o, "modseq", json_integer((json_int_t)res->modseq));
	}
	job_call_done(call, o);
}

static void
flags_cb(const struct store_flags_result *res, enum store_err code, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, code, error);

	if (res != NULL) {
		json_object_set_new(o, "changed", msgs_json(res->changed, res->count));
		json_object_set_new(o, "modified", uids_json(res->modified, res->nmodified));
		json_object_set_new(o, "highestmodseq",
		                    json_integer((json_int_t)res->highestmodseq));
	}
	job_call_done(call, o);
}

static void
expunge_cb(const struct store_expunge_result *res, enum store_err code, const char *error,
           void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, code, error);

	if (res != NULL) {
		json_object_set_new(o, "uids", uids_json(res->uids, res->count));
		json_object_set_new(o, "highestmodseq",
		                    json_integer((json_int_t)res->highestmodseq));
	}
	job_call_done(call, o);
}

static void
gc_cb(unsigned long handled, enum store_err code, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, code, error);

	if (code == STORE_OK)
		json_object_set_new(o, "handled", json_integer((json_int_t)handled));
	job_call_done(call, o);
}

static void
copy_cb(const struct store_copy_result *res, enum store_err code, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, code, error);

	if (res != NULL) {
		json_object_set_new(o, "dest_uidvalidity", json_integer(res->dest_uidvalidity));
		json_object_set_new(o, "src_uids", uids_json(res->src_uids, res->count));
		json_object_set_new(o, "dest_uids", uids_json(res->dest_uids, res->count));
		json_object_set_new(o, "src_highestmodseq",
		                    json_integer((json_int_t)res->src_highestmodseq));
	}
	job_call_done(call, o);
}

static void
fetch_cb(const struct store_fetch_result *res, enum store_err code, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, code, error);

	if (res != NULL) {
		json_t *arr = json_array();

		for (size_t i = 0; i < res->count; i++) {
			const struct store_fetch_row *r = &res->rows[i];
			json_t *m = json_object();

			json_object_set_new(m, "uid", json_integer(r->uid));
			json_object_set_new(m, "modseq", json_integer((json_int_t)r->modseq));
			json_object_set_new(m, "flags", flags_json(r->flags, r->nflags));
			json_object_set_new(m, "internal_date", json_integer(r->internal_date));
			json_object_set_new(m, "size", json_integer((json_int_t)r->size));
			json_object_set_new(m, "envelope", json_str_or_null(r->envelope));
			json_object_set_new(m, "bodystructure", json_str_or_null(r->bodystructure));
			json_object_set_new(m, "body", json_str_or_null(r->body));
			json_object_set_new(m, "partmap", json_str_or_null(r->partmap));
			json_object_set_new(m, "preview", json_str_or_null(r->preview));
			json_object_set_new(m, "email_id", json_str_or_null(r->email_id));
			json_object_set_new(m, "thread_id", json_str_or_null(r->thread_id));
			json_object_set_new(m, "blob_hash", json_str_or_null(r->blob_hash));
			json_array_append_new(arr, m);
		}
		json_object_set_new(o, "rows", arr);
	}
	job_call_done(call, o);
}

static void
blob_cb(const void *data, size_t len, enum store_err code, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, code, error);

	if (error == NULL) {
		static const char digits[] = "0123456789abcdef";
		const unsigned char *p = data;
		char *hex = xmalloc(len * 2 + 1);

		for (size_t i = 0; i < len; i++) {
			hex[2 * i] = digits[p[i] >> 4];
			hex[2 * i + 1] = digits[p[i] & 15];
		}
		hex[2 * len] = '\0';
		json_object_set_new(o, "hex", json_string(hex));
		free(hex);
	}
	job_call_done(call, o);
}

static void
search_cb(const struct store_search_result *res, enum store_err code, const char *error, void *ctx)
{
	struct call *call = ctx;
	json_t *o = answer(call, code, error);

	if (res != NULL) {
		json_object_set_new(o, "uids", uids_json(res->uids, res->count));
		json_object_set_new(o, "highestmodseq",
		                    json_integer((json_int_t)res->highestmodseq));
	}
	job_call_done(call, o);
}

static void
notice_cb(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly, void *ctx)
{
	json_t *o = json_object();

	if (possibly) {
		json_object_set_new(o, "possibly", json_integer((json_int_t)account_id));
	} else {
		json_object_set_new(o, "notice",
		                    json_pack("[III]", (json_int_t)account_id,
		                              (json_int_t)folder_id, (json_int_t)modseq));
	}
	emit(o);
	json_decref(o);
}

/* --- Input conversion --- */

static uint64_t
num(json_t *cmd, const char *key)
{
	json_t *v = json_object_get(cmd, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static const char *
str(json_t *cmd, const char *key)
{
	json_t *v = json_object_get(cmd, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A JSON list of strings as a C array (pointers into the JSON). */
static const char **
str_list(json_t *arr, size_t *n_r)
{
	size_t n = json_array_size(arr);
	const char **v = xcalloc(n + 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(arr, i));
	*n_r = n;
	return v;
}

/* [[lo, hi], ...] or null (NULL: every UID). */
static struct store_uid_ranges *
ranges(json_t *arr, struct store_uid_ranges *r)
{
	uint32_t(*v)[2];
	size_t n;

	if (!json_is_array(arr))
		return NULL;
	n = json_array_size(arr);
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i][0] = (uint32_t)json_integer_value(json_array_get(json_array_get(arr, i), 0));
		v[i][1] = (uint32_t)json_integer_value(json_array_get(json_array_get(arr, i), 1));
	}
	r->ranges = (const uint32_t(*)[2])v;
	r->count = n;
	return r;
}

static void
ranges_free(struct store_uid_ranges *r)
{
	if (r != NULL)
		free((void *)r->ranges);
}

static const struct {
	const char *name;
	enum store_search_key key;
} search_keys[] = {
    {"all", SK_ALL},
    {"and", SK_AND},
    {"or", SK_OR},
    {"not", SK_NOT},
    {"uid", SK_UID},
    {"flag", SK_FLAG},
    {"noflag", SK_NOFLAG},
    {"before", SK_BEFORE},
    {"on", SK_ON},
    {"since", SK_SINCE},
    {"sentbefore", SK_SENTBEFORE},
    {"senton", SK_SENTON},
    {"sentsince", SK_SENTSINCE},
    {"larger", SK_LARGER},
    {"smaller", SK_SMALLER},
    {"header", SK_HEADER},
    {"subject", SK_SUBJECT},
    {"from", SK_FROM},
    {"to", SK_TO},
    {"cc", SK_CC},
    {"bcc", SK_BCC},
    {"body", SK_BODY},
    {"text", SK_TEXT},
    {"modseq", SK_MODSEQ},
    {"older", SK_OLDER},
    {"younger", SK_YOUNGER},
    {"emailid", SK_EMAILID},
    {"threadid", SK_THREADID},
    {"bogus", (enum store_search_key)999},
};

static void
criteria_from_json(json_t *j, struct store_search *s)
{
	const char *key = str(j, "key");
	json_t *children = json_object_get(j, "children");

	memset(s, 0, sizeof(*s));
	s->key = SK_ALL;
	for (size_t i = 0; key != NULL && i < sizeof(search_keys) / sizeof(search_keys[0]); i++) {
		if (strcmp(key, search_keys[i].name) == 0)
			s->key = search_keys[i].key;
	}
	s->field = str(j, "field");
	s->text = str(j, "text");
	s->number = num(j, "number");
	s->date = (time_t)num(j, "date");
	ranges(json_object_get(j, "uids"), &s->uids);
	if (json_is_array(children)) {
		struct store_search *c = xcalloc(json_array_size(children) + 1, sizeof(*c));

		for (size_t i = 0; i < json_array_size(children); i++)
			criteria_from_json(json_array_get(children, i), &c[i]);
		s->children = c;
		s->nchildren = json_array_size(children);
	}
}

static void
criteria_free(struct store_search *s)
{
	for (size_t i = 0; i < s->nchildren; i++)
		criteria_free((struct store_search *)&s->children[i]);
	free((void *)s->children);
	free((void *)s->uids.ranges);
}

static char *
meta_str(json_t *m, const char *key)
{
	const char *s = str(m, key);

	return s != NULL ? xstrdup(s) : NULL;
}

/* Message bytes: "data" (text, sent as UTF-8) or "data_hex". */
static void *
item_data(json_t *j, size_t *len_r)
{
	const char *hex = str(j, "data_hex"), *text = str(j, "data");
	unsigned char *out;
	size_t n;

	if (hex != NULL) {
		n = strlen(hex) / 2;
		out = xmalloc(n + 1);
		for (size_t i = 0; i < n; i++) {
			unsigned v;

			sscanf(hex + 2 * i, "%2x", &v);
			out[i] = (unsigned char)v;
		}
		*len_r = n;
		return out;
	}
	*len_r = text != NULL ? strlen(text) : 0;
	return xstrdup(text != NULL ? text : "");
}

static void
append_items(json_t *arr, struct store_append_item **items_r, struct store_msg_meta **metas_r,
             size_t *n_r)
{
	size_t n = json_array_size(arr);
	struct store_append_item *items = xcalloc(n + 1, sizeof(*items));
	struct store_msg_meta *metas = xcalloc(n + 1, sizeof(*metas));

	for (size_t i = 0; i < n; i++) {
		json_t *j = json_array_get(arr, i), *m = json_object_get(j, "meta");
		struct store_msg_meta *meta = &metas[i];

		items[i].data = item_data(j, &items[i].size);
		items[i].flags = str_list(json_object_get(j, "flags"), &items[i].nflags);
		items[i].internal_date = (time_t)num(j, "internal_date");
		if (!json_is_object(m))
			continue;
		items[i].meta = meta;
		meta->size = items[i].size;
		meta->envelope = meta_str(m, "envelope");
		meta->bodystructure = meta_str(m, "bodystructure");
		meta->body = meta_str(m, "body");
		meta->partmap = meta_str(m, "partmap");
		meta->sent_date = json_is_integer(json_object_get(m, "sent_date"))
		                      ? (time_t)num(m, "sent_date")
		                      : -1;
		meta->subject = meta_str(m, "subject");
		meta->base_subject = meta_str(m, "base_subject");
		meta->from_addr = meta_str(m, "from_addr");
		meta->to_addr = meta_str(m, "to_addr");
		meta->cc_addr = meta_str(m, "cc_addr");
		meta->bcc_addr = meta_str(m, "bcc_addr");
		meta->sort_from = meta_str(m, "sort_from");
		meta->sort_to = meta_str(m, "sort_to");
		meta->sort_cc = meta_str(m, "sort_cc");
		meta->sort_display_from = meta_str(m, "sort_display_from");
		meta->sort_display_to = meta_str(m, "sort_display_to");
		meta->message_id = meta_str(m, "message_id");
		meta->in_reply_to = meta_str(m, "in_reply_to");
		meta->references = meta_str(m, "references");
		meta->preview = meta_str(m, "preview");
		meta->search_text = meta_str(m, "search_text");
		meta->headers_text = meta_str(m, "headers_text");
		meta->has_attachment = json_is_true(json_object_get(m, "has_attachment"));
	}
	*items_r = items;
	*metas_r = metas;
	*n_r = n;
}

/* Frees everything, poisoning it first: the store must not keep pointers
 * into its arguments after the call. */
static void
append_items_free(struct store_append_item *items, struct store_msg_meta *metas, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct store_msg_meta *m = &metas[i];
		char **strs[] = {
		    (char **)&m->envelope,
		    (char **)&m->bodystructure,
		    (char **)&m->body,
		    (char **)&m->partmap,
		    (char **)&m->subject,
		    (char **)&m->base_subject,
		    (char **)&m->from_addr,
		    (char **)&m->to_addr,
		    (char **)&m->cc_addr,
		    (char **)&m->bcc_addr,
		    (char **)&m->sort_from,
		    (char **)&m->sort_to,
		    (char **)&m->sort_cc,
		    (char **)&m->sort_display_from,
		    (char **)&m->sort_display_to,
		    (char **)&m->message_id,
		    (char **)&m->in_reply_to,
		    (char **)&m->references,
		    (char **)&m->preview,
		    (char **)&m->search_text,
		    (char **)&m->headers_text,
		};

		for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++) {
			if (*strs[k] != NULL)
				memset(*strs[k], 'X', strlen(*strs[k]));
			free(*strs[k]);
		}
		memset((void *)items[i].data, 0, items[i].size);
		free((void *)items[i].data);
		free((void *)items[i].flags);
	}
	free(items);
	free(metas);
}

static unsigned
fetch_fields(json_t *arr)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	    {"flags", STORE_FETCH_FLAGS},
	    {"internaldate", STORE_FETCH_INTERNALDATE},
	    {"size", STORE_FETCH_SIZE},
	    {"envelope", STORE_FETCH_ENVELOPE},
	    {"bodystructure", STORE_FETCH_BODYSTRUCTURE},
	    {"partmap", STORE_FETCH_PARTMAP},
	    {"preview", STORE_FETCH_PREVIEW},
	    {"ids", STORE_FETCH_IDS},
	};
	unsigned fields = 0;

	for (size_t i = 0; i < json_array_size(arr); i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		for (size_t k = 0; s != NULL && k < sizeof(names) / sizeof(names[0]); k++) {
			if (strcmp(s, names[k].name) == 0)
				fields |= names[k].bit;
		}
	}
	return fields;
}

static enum store_sort_key
sort_key(const char *name)
{
	static const char *const names[] = {
	    "arrival", "date", "from", "subject", "size", "to", "cc", "displayfrom", "displayto",
	};

	for (size_t i = 0; name != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0)
			return (enum store_sort_key)i;
	}
	return (enum store_sort_key)99;
}

/* Starts the store call for cmd; returns the op, or NULL when the command
 * answered at once (into *now_r). */
static struct store_op *
start(json_t *cmd, struct call *call, json_t **now_r)
{
	const char *op = str(cmd, "op");
	uint64_t acct = num(cmd, "account"), folder = num(cmd, "folder");
	struct store_uid_ranges r = {0}, *rp;
	struct store_op *handle = NULL;

	*now_r = NULL;
	if (op == NULL)
		op = "";
	in_call = true;
	if (strcmp(op, "lookup") == 0) {
		handle = store_account_lookup(store, str(cmd, "login"), account_cb, call);
	} else if (strcmp(op, "list") == 0) {
		handle = store_folder_list(store, acct, list_cb, call);
	} else if (strcmp(op, "get") == 0) {
		handle = store_folder_get(store, acct, str(cmd, "path"), folder, folder_cb, call);
	} else if (strcmp(op, "create") == 0) {
		handle = store_folder_create(store, acct, str(cmd, "path"), str(cmd, "type"),
		                             str(cmd, "special_use"), folder_cb, call);
	} else if (strcmp(op, "delete") == 0) {
		handle = store_folder_delete(store, acct, folder, done_cb, call);
	} else if (strcmp(op, "rename") == 0) {
		handle = store_folder_rename(store, acct, folder, str(cmd, "path"), done_cb, call);
	} else if (strcmp(op, "subscribe") == 0) {
		handle = store_subscribe(store, acct, str(cmd, "name"),
		                         !json_is_false(json_object_get(cmd, "subscribe")), done_cb,
		                         call);
	} else if (strcmp(op, "select") == 0) {
		handle = store_folder_select(store, acct, folder, msgs_cb, call);
	} else if (strcmp(op, "changes") == 0) {
		handle = store_changes(store, acct, folder, num(cmd, "since"), msgs_cb, call);
	} else if (strcmp(op, "append") == 0) {
		struct store_append_item *items;
		struct store_msg_meta *metas;
		size_t n;

		append_items(json_object_get(cmd, "items"), &items, &metas, &n);
		handle = store_append(store, acct, folder, items, n, append_cb, call);
		append_items_free(items, metas, n);
	} else if (strcmp(op, "flags") == 0) {
		const char *mode = str(cmd, "mode");
		enum store_flag_op fop = mode == NULL                  ? (enum store_flag_op)7
		                         : strcmp(mode, "set") == 0    ? STORE_FLAGS_SET
		                         : strcmp(mode, "add") == 0    ? STORE_FLAGS_ADD
		                         : strcmp(mode, "remove") == 0 ? STORE_FLAGS_REMOVE
		                                                       : (enum store_flag_op)7;
		size_t n;
		const char **flags = str_list(json_object_get(cmd, "flags"), &n);

		rp = ranges(json_object_get(cmd, "uids"), &r);
		handle = store_flags(store, acct, folder, rp, fop, flags, n,
		                     num(cmd, "unchangedsince"), flags_cb, call);
		free(flags);
		ranges_free(rp);
	} else if (strcmp(op, "expunge") == 0) {
		rp = ranges(json_object_get(cmd, "uids"), &r);
		handle = store_expunge(store, acct, folder, rp, expunge_cb, call);
		ranges_free(rp);
	} else if (strcmp(op, "gc") == 0) {
		handle = store_content_gc(store, gc_cb, call);
	} else if (strcmp(op, "copy") == 0) {
		rp = ranges(json_object_get(cmd, "uids"), &r);
		handle = store_copy(store, acct, folder, rp, num(cmd, "dest_account"),
		                    num(cmd, "dest_folder"),
		                    json_is_true(json_object_get(cmd, "move")), copy_cb, call);
		ranges_free(rp);
	} else if (strcmp(op, "fetch") == 0) {
		rp = ranges(json_object_get(cmd, "uids"), &r);
		handle = store_fetch(store, acct, folder, rp,
		                     fetch_fields(json_object_get(cmd, "fields")),
		                     num(cmd, "changedsince"), fetch_cb, call);
		ranges_free(rp);
	} else if (strcmp(op, "blob") == 0) {
		handle = store_blob_read(store, acct, folder, str(cmd, "hash"), num(cmd, "offset"),
		                         (size_t)num(cmd, "length"), blob_cb, call);
	} else if (strcmp(op, "search") == 0) {
		json_t *crit = json_object_get(cmd, "criteria"),
		       *sorts = json_object_get(cmd, "sort");
		struct store_search s = {0};
		size_t nsort = json_array_size(sorts);
		struct store_sort *sort = xcalloc(nsort + 1, sizeof(*sort));

		if (json_is_object(crit))
			criteria_from_json(crit, &s);
		for (size_t i = 0; i < nsort; i++) {
			json_t *k = json_array_get(sorts, i);

			sort[i].key = sort_key(str(k, "key"));
			sort[i].reverse = json_is_true(json_object_get(k, "reverse"));
		}
		handle = store_search(store, acct, folder, json_is_object(crit) ? &s : NULL, sort,
		                      nsort, search_cb, call);
		criteria_free(&s);
		free(sort);
	} else {
		in_call = false;
		*now_r = json_pack("{sbss}", "ok", 0, "error", "unknown command");
		return NULL;
	}
	in_call = false;
	return handle;
}

/* --- Jobs --- */

static void
job_free(struct job *job)
{
	json_decref(job->results);
	free(job->calls);
	free(job);
}

static void
job_finish(struct job *job)
{
	if (job->parallel) {
		json_t *o = json_object();

		json_object_set_new(o, "ok", json_true());
		json_object_set(o, "results", job->results);
		emit(o);
		json_decref(o);
	} else {
		emit(json_array_get(job->results, 0));
	}
	job_free(job);
	busy = false;
	event_active(next_ev, EV_TIMEOUT, 1);
}

static void
job_call_done(struct call *call, json_t *result)
{
	struct job *job = call->job;

	if (call->abandoned) {
		json_t *o = json_pack("{ss}", "contract", "callback after abandon");

		emit(o);
		json_decref(o);
		json_decref(result);
		return;
	}
	call->op = NULL;
	json_array_set_new(job->results, call->index, result);
	if (--job->pending == 0)
		job_finish(job);
}

struct abandon_wait {
	struct job *job;
	struct event *ev;
};

static void
abandon_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct abandon_wait *w = arg;

	event_free(w->ev);
	json_array_set_new(w->job->results, 0, json_pack("{sb}", "ok", 1));
	job_finish(w->job);
	free(w);
}

struct sleep_wait {
	struct event *ev;
};

static void
sleep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sleep_wait *w = arg;
	json_t *o = json_pack("{sb}", "ok", 1);

	event_free(w->ev);
	free(w);
	emit(o);
	json_decref(o);
	busy = false;
	event_active(next_ev, EV_TIMEOUT, 1);
}

static void
run_command(json_t *cmd)
{
	const char *op = str(cmd, "op");
	struct job *job = xcalloc(1, sizeof(*job));
	json_t *ops, *now;

	job->results = json_array();
	if (op != NULL && strcmp(op, "sleep") == 0) {
		struct sleep_wait *w = xcalloc(1, sizeof(*w));
		struct timeval tv = {.tv_sec = 0, .tv_usec = (long)num(cmd, "ms") * 1000};

		job_free(job);
		tv.tv_sec = tv.tv_usec / 1000000;
		tv.tv_usec %= 1000000;
		w->ev = evtimer_new(base, sleep_cb, w);
		evtimer_add(w->ev, &tv);
		return;
	}
	if (op != NULL && strcmp(op, "watch") == 0) {
		notify_watch_add(bus, num(cmd, "account"), num(cmd, "folder"), notice_cb, NULL);
		job_free(job);
		now = json_pack("{sbsb}", "ok", 1, "up", notify_bus_is_up(bus));
		emit(now);
		json_decref(now);
		busy = false;
		event_active(next_ev, EV_TIMEOUT, 1);
		return;
	}
	if (op != NULL && strcmp(op, "abandon") == 0) {
		/* Starts the inner command, abandons it at once, and answers
		 * after a while during which its callback must not run. */
		struct abandon_wait *w = xcalloc(1, sizeof(*w));
		struct timeval tv = {.tv_sec = 0, .tv_usec = 300000};

		job->ncalls = 1;
		job->calls = xcalloc(1, sizeof(*job->calls));
		job->calls[0].job = job;
		job->pending = 1;
		json_array_append_new(job->results, json_null());
		job->calls[0].op = start(json_object_get(cmd, "inner"), &job->calls[0], &now);
		json_decref(now);
		job->calls[0].abandoned = true;
		store_op_abandon(&job->calls[0].op);
		w->job = job;
		w->ev = evtimer_new(base, abandon_wait_cb, w);
		evtimer_add(w->ev, &tv);
		return;
	}
	if (op != NULL && strcmp(op, "parallel") == 0) {
		ops = json_object_get(cmd, "ops");
		job->parallel = true;
	} else {
		ops = json_pack("[O]", cmd);
	}
	job->ncalls = json_array_size(ops);
	job->calls = xcalloc(job->ncalls + 1, sizeof(*job->calls));
	job->pending = job->ncalls;
	for (size_t i = 0; i < job->ncalls; i++)
		json_array_append_new(job->results, json_null());
	if (job->ncalls == 0) {
		job_finish(job);
		if (!job->parallel)
			json_decref(ops);
		return;
	}
	for (size_t i = 0; i < job->ncalls; i++) {
		struct call *call = &job->calls[i];

		call->job = job;
		call->index = i;
		call->op = start(json_array_get(ops, i), call, &now);
		if (call->op == NULL) {
			if (now == NULL)
				now =
				    json_pack("{sbss}", "ok", 0, "contract", "no handle returned");
			json_array_set_new(job->results, i, now);
			job->pending--;
		}
	}
	if (!job->parallel)
		json_decref(ops);
	if (job->pending == 0)
		job_finish(job);
}

static void
next_cb(evutil_socket_t fd, short what, void *arg)
{
	char *line;
	json_t *cmd;
	json_error_t err;

	if (busy)
		return;
	line = evbuffer_readln(input, NULL, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (eof)
			event_base_loopexit(base, NULL);
		return;
	}
	cmd = json_loads(line, 0, &err);
	free(line);
	if (cmd == NULL) {
		json_t *o = json_pack("{sbss}", "ok", 0, "error", "bad JSON");

		emit(o);
		json_decref(o);
		event_active(next_ev, EV_TIMEOUT, 1);
		return;
	}
	busy = true;
	run_command(cmd);
	json_decref(cmd);
}

static void
stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	int n = evbuffer_read(input, fd, 65536);

	if (n <= 0) {
		eof = true;
		event_del(stdin_ev);
	}
	if (!busy)
		next_cb(-1, 0, NULL);
}

int
main(int argc, char **argv)
{
	struct db_settings settings = {
	    .pool_size = 4,
	    .query_timeout_ms = 30000,
	    .connect_timeout_ms = 5000,
	};
	struct stat st;

	if (argc != 2) {
		fprintf(stderr, "usage: store-driver CONNINFO\n");
		return 2;
	}
	log_set_level(LOG_LEVEL_WARNING);
	settings.conninfo = argv[1];
	base = event_base_new();
	db = db_create(base, &settings);
	store = store_create(db);
	bus = notify_bus_create(base, argv[1], 5000);
	input = evbuffer_new();
	stdin_ev = event_new(base, STDIN_FILENO, EV_READ | EV_PERSIST, stdin_cb, NULL);
	next_ev = event_new(base, -1, 0, next_cb, NULL);
	/* A pipe is read as data comes; a file (epoll refuses those) at once. */
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
		while (evbuffer_read(input, STDIN_FILENO, 65536) > 0)
			;
		eof = true;
		event_active(next_ev, EV_TIMEOUT, 1);
	} else {
		event_add(stdin_ev, NULL);
	}
	event_base_dispatch(base);

	event_free(stdin_ev);
	event_free(next_ev);
	evbuffer_free(input);
	store_destroy(&store);
	notify_bus_destroy(&bus);
	db_destroy(&db);
	event_base_free(base);
	return 0;
}
