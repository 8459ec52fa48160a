/* Drives the groupware store (db/store-groupware.h) with the item form of
 * modules/groupware-item.h for tests/integration/test_groupware_store.py:
 * one JSON command a line on stdin, run against the database named on the
 * command line, one JSON answer a line on stdout. Commands run one at a
 * time; "occurrences" chains a range query, blob reads and expansion, as
 * free/busy will.
 *
 * Usage: groupware-driver CONNINFO */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "db.h"
#include "groupware-item.h"
#include "log.h"
#include "message.h"
#include "recurrence.h"
#include "store-groupware.h"
#include "store.h"
#include "xmalloc.h"

static struct event_base *base;
static struct db *db;
static struct store *store;
static struct evbuffer *input;
static struct event *stdin_ev, *next_ev;
static bool busy, eof, in_call;

/* The command being run. */
struct cmd {
	json_t *json;
	struct groupware_item *item;
	struct message_info info;
	bool have_info;
	char *msg;
	size_t msg_len;
	/* occurrences */
	json_t *rows;
	uint32_t *uids;     /* the range's items ... */
	char (*hashes)[65]; /* ... and their blobs */
	size_t npending, next;
	char *blob;
	size_t blob_len;
	time_t from, to;
};

static void
emit(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);

	printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(obj);
}

static const char *
code_name(enum store_err code)
{
	static const char *const names[] = {"ok",      "internal",  "not_found",  "exists",
	                                    "invalid", "not_empty", "over_quota", "modified"};

	return (unsigned)code < sizeof(names) / sizeof(names[0]) ? names[code] : "?";
}

static json_t *
answer(enum store_err code, const char *error)
{
	json_t *o = json_object();

	if (in_call)
		json_object_set_new(o, "contract", json_string("callback inside the call"));
	json_object_set_new(o, "ok", json_boolean(error == NULL));
	json_object_set_new(o, "code", json_string(code_name(error == NULL ? STORE_OK : code)));
	if (error != NULL)
		json_object_set_new(o, "error", json_string(error));
	return o;
}

static void
cmd_free(struct cmd *c)
{
	json_decref(c->json);
	groupware_item_free(&c->item);
	if (c->have_info)
		message_info_clear(&c->info);
	free(c->msg);
	json_decref(c->rows);
	free(c->blob);
	free(c->uids);
	free(c->hashes);
	free(c);
}

static void
cmd_done(struct cmd *c, json_t *out)
{
	emit(out);
	cmd_free(c);
	busy = false;
	event_active(next_ev, EV_TIMEOUT, 1);
}

static const char *
str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static uint64_t
num(json_t *o, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(o, key));
}

static json_t *
strings_json(const char *const *v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	return arr;
}

static json_t *
row_json(const struct store_gw_row *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "folder", json_integer((json_int_t)r->folder_id));
	json_object_set_new(o, "uid", json_integer(r->uid));
	json_object_set_new(o, "modseq", json_integer((json_int_t)r->modseq));
	json_object_set_new(o, "kind", json_string(r->kind));
	json_object_set_new(o, "object_uid", json_string(r->object_uid));
	json_object_set_new(o, "title", r->title != NULL ? json_string(r->title) : json_null());
	if (r->has_start) {
		json_object_set_new(o, "start", json_integer(r->start));
		json_object_set_new(o, "end", json_integer(r->end));
		json_object_set_new(o, "range_end",
		                    r->infinite ? json_null() : json_integer(r->range_end));
	}
	json_object_set_new(o, "all_day", json_boolean(r->all_day));
	json_object_set_new(o, "floating", json_boolean(r->floating));
	json_object_set_new(o, "recurring", json_boolean(r->recurring));
	json_object_set_new(o, "private", json_boolean(r->is_private));
	json_object_set_new(o, "emails", strings_json(r->emails, r->nemails));
	json_object_set_new(o, "phones", strings_json(r->phones, r->nphones));
	if (r->family_name != NULL)
		json_object_set_new(o, "family_name", json_string(r->family_name));
	return o;
}

/* --- put / replace --- */

static void
append_cb(const struct store_append_result *res, enum store_err code, const char *error, void *ctx)
{
	struct cmd *c = ctx;
	json_t *o = answer(code, error);

	if (res != NULL && res->count == 1) {
		json_object_set_new(o, "uid", json_integer(res->uids[0]));
		json_object_set_new(o, "modseq", json_integer((json_int_t)res->modseq));
	}
	cmd_done(c, o);
}

/* Builds (from "object" and "type") or takes ("message") the MIME item,
 * parses it for the folder type and appends or replaces it. */
static void
run_put(struct cmd *c, bool replace)
{
	json_t *j = c->json;
	const char *error = NULL, *type = str(j, "type");
	struct store_append_item item = {0};
	struct store_op *op;

	if (type != NULL) {
		struct groupware_build b = {.object = str(j, "object"), .date = 1700000000};
		static const char *const names[] = {"event",   "task",    "note",
		                                    "journal", "contact", "distlist"};

		b.object_len = b.object != NULL ? strlen(b.object) : 0;
		b.type = GROUPWARE_EVENT;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (strcmp(type, names[i]) == 0)
				b.type = (enum groupware_type)i;
		}
		c->msg = groupware_item_build(&b, &c->msg_len, &error);
	} else if (str(j, "message") != NULL) {
		c->msg = xstrdup(str(j, "message"));
		c->msg_len = strlen(c->msg);
	}
	if (c->msg == NULL) {
		cmd_done(c, answer(STORE_ERR_INVALID, error != NULL ? error : "no message"));
		return;
	}
	c->item = groupware_item_parse(c->msg, c->msg_len, str(j, "folder_type"), &error);
	if (c->item == NULL) {
		cmd_done(c, answer(STORE_ERR_INVALID, error));
		return;
	}
	if (message_parse(c->msg, c->msg_len, &c->info, &error) < 0) {
		cmd_done(c, answer(STORE_ERR_INVALID, error));
		return;
	}
	c->have_info = true;
	item.data = c->msg;
	item.size = c->msg_len;
	item.meta = &c->info.meta;
	in_call = true;
	if (replace)
		op = store_groupware_replace(store, num(j, "account"), num(j, "folder"),
		                             (uint32_t)num(j, "old_uid"), num(j, "unchangedsince"),
		                             &item, &c->item->index, append_cb, c);
	else
		op = store_groupware_append(store, num(j, "account"), num(j, "folder"), &item,
		                            &c->item->index, append_cb, c);
	in_call = false;
	(void)op;
}

/* --- queries --- */

static void
list_cb(const struct store_gw_list *list, enum store_err code, const char *error, void *ctx)
{
	struct cmd *c = ctx;
	json_t *o = answer(code, error), *rows = json_array();

	for (size_t i = 0; list != NULL && i < list->count; i++)
		json_array_append_new(rows, row_json(&list->rows[i]));
	json_object_set_new(o, "rows", rows);
	cmd_done(c, o);
}

/* --- occurrences: range, then each item's bytes, then expansion --- */

static void occ_next(struct cmd *c);

static void
occ_blob_cb(const void *data, size_t len, enum store_err code, const char *error, void *ctx)
{
	struct cmd *c = ctx;
	struct groupware_item *item;
	struct recurrence_occurrence *occ;
	size_t n;
	bool truncated;

	if (error != NULL) {
		cmd_done(c, answer(code, error));
		return;
	}
	c->blob = xrealloc(c->blob, c->blob_len + len + 1);
	memcpy(c->blob + c->blob_len, data, len);
	c->blob_len += len;
	item = groupware_item_parse(c->blob, c->blob_len, NULL, &error);
	if (item == NULL || item->ical == NULL) {
		groupware_item_free(&item);
		cmd_done(c, answer(STORE_ERR_INTERNAL, error != NULL ? error : "not a calendar"));
		return;
	}
	recurrence_expand(item->ical, c->from, c->to, 0, &occ, &n, &truncated);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "uid", json_integer(c->uids[c->next]));
		json_object_set_new(o, "start", json_integer(occ[i].start));
		json_object_set_new(o, "end", json_integer(occ[i].end));
		json_object_set_new(o, "override", json_boolean(occ[i].is_override));
		json_array_append_new(c->rows, o);
	}
	free(occ);
	groupware_item_free(&item);
	free(c->blob);
	c->blob = NULL;
	c->blob_len = 0;
	c->next++;
	occ_next(c);
}

static void
occ_next(struct cmd *c)
{
	json_t *o;

	if (c->next == c->npending) {
		o = answer(STORE_OK, NULL);
		json_object_set_new(o, "occurrences", c->rows);
		c->rows = NULL;
		cmd_done(c, o);
		return;
	}
	store_blob_read(store, num(c->json, "account"), num(c->json, "folder"), c->hashes[c->next],
	                0, 16 * 1024 * 1024, occ_blob_cb, c);
}

static void
occ_range_cb(const struct store_gw_list *list, enum store_err code, const char *error, void *ctx)
{
	struct cmd *c = ctx;

	if (list == NULL) {
		cmd_done(c, answer(code, error));
		return;
	}
	/* The rows live until this callback returns: keep what is needed. */
	c->npending = list->count;
	c->uids = xcalloc(list->count + 1, sizeof(*c->uids));
	c->hashes = xcalloc(list->count + 1, sizeof(*c->hashes));
	for (size_t i = 0; i < list->count; i++) {
		c->uids[i] = list->rows[i].uid;
		snprintf(c->hashes[i], sizeof(c->hashes[i]), "%s", list->rows[i].blob_hash);
	}
	c->rows = json_array();
	occ_next(c);
}

/* --- expunge and copy (to see the index follow the items) --- */

static void
expunge_cb(const struct store_expunge_result *res, enum store_err code, const char *error,
           void *ctx)
{
	struct cmd *c = ctx;
	json_t *o = answer(code, error);

	if (res != NULL)
		json_object_set_new(o, "count", json_integer((json_int_t)res->count));
	cmd_done(c, o);
}

static void
flags_cb(const struct store_flags_result *res, enum store_err code, const char *error, void *ctx)
{
	struct cmd *c = ctx;
	uint32_t range[1][2];
	struct store_uid_ranges uids = {.ranges = (const uint32_t(*)[2])range, .count = 1};

	if (res == NULL) {
		cmd_done(c, answer(code, error));
		return;
	}
	range[0][0] = range[0][1] = (uint32_t)num(c->json, "uid");
	store_expunge(store, num(c->json, "account"), num(c->json, "folder"), &uids, expunge_cb, c);
}

static void
copy_cb(const struct store_copy_result *res, enum store_err code, const char *error, void *ctx)
{
	struct cmd *c = ctx;
	json_t *o = answer(code, error);

	if (res != NULL && res->count == 1)
		json_object_set_new(o, "uid", json_integer(res->dest_uids[0]));
	cmd_done(c, o);
}

static void
folder_cb(const struct store_folder *f, enum store_err code, const char *error, void *ctx)
{
	struct cmd *c = ctx;
	json_t *o = answer(code, error);

	if (f != NULL) {
		json_object_set_new(o, "id", json_integer((json_int_t)f->id));
		json_object_set_new(o, "type", json_string(f->type));
		json_object_set_new(o, "highestmodseq", json_integer((json_int_t)f->highestmodseq));
		json_object_set_new(o, "messages", json_integer(f->messages));
	}
	cmd_done(c, o);
}

static void
run(json_t *j)
{
	struct cmd *c = xcalloc(1, sizeof(*c));
	const char *op = str(j, "op");
	uint64_t acct = num(j, "account"), folder = num(j, "folder");
	static const char *const deleted[] = {"\\Deleted"};

	c->json = json_incref(j);
	if (op == NULL)
		op = "";
	in_call = true;
	if (strcmp(op, "folder") == 0) {
		store_folder_get(store, acct, str(j, "path"), 0, folder_cb, c);
	} else if (strcmp(op, "put") == 0 || strcmp(op, "replace") == 0) {
		in_call = false;
		run_put(c, strcmp(op, "replace") == 0);
	} else if (strcmp(op, "range") == 0) {
		store_groupware_range(store, acct, folder, (time_t)num(j, "from"),
		                      (time_t)num(j, "to"), (unsigned)num(j, "limit"), list_cb, c);
	} else if (strcmp(op, "contacts") == 0) {
		store_groupware_contacts(store, acct, folder, str(j, "prefix"),
		                         (unsigned)num(j, "limit"), list_cb, c);
	} else if (strcmp(op, "find") == 0) {
		store_groupware_find_uid(store, acct, folder, str(j, "uid"), list_cb, c);
	} else if (strcmp(op, "occurrences") == 0) {
		c->from = (time_t)num(j, "from");
		c->to = (time_t)num(j, "to");
		store_groupware_range(store, acct, folder, c->from, c->to, 0, occ_range_cb, c);
	} else if (strcmp(op, "expunge") == 0) {
		uint32_t range[1][2] = {{(uint32_t)num(j, "uid"), (uint32_t)num(j, "uid")}};
		struct store_uid_ranges uids = {.ranges = (const uint32_t(*)[2])range, .count = 1};

		store_flags(store, acct, folder, &uids, STORE_FLAGS_ADD, deleted, 1, 0, flags_cb,
		            c);
	} else if (strcmp(op, "copy") == 0) {
		uint32_t range[1][2] = {{(uint32_t)num(j, "uid"), (uint32_t)num(j, "uid")}};
		struct store_uid_ranges uids = {.ranges = (const uint32_t(*)[2])range, .count = 1};

		store_copy(store, acct, folder, &uids, num(j, "dest_account"),
		           num(j, "dest_folder"), json_is_true(json_object_get(j, "move")), copy_cb,
		           c);
	} else {
		in_call = false;
		cmd_done(c, answer(STORE_ERR_INVALID, "unknown op"));
		return;
	}
	in_call = false;
}

static void
next_cb(evutil_socket_t fd, short what, void *arg)
{
	char *line;
	json_t *j;

	(void)fd;
	(void)what;
	(void)arg;
	if (busy)
		return;
	line = evbuffer_readln(input, NULL, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (eof)
			event_base_loopexit(base, NULL);
		return;
	}
	j = json_loads(line, 0, NULL);
	free(line);
	if (j == NULL) {
		emit(answer(STORE_ERR_INVALID, "bad JSON"));
		event_active(next_ev, EV_TIMEOUT, 1);
		return;
	}
	busy = true;
	run(j);
	json_decref(j);
}

static void
stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (evbuffer_read(input, fd, 65536) <= 0) {
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
	    .pool_size = 2,
	    .query_timeout_ms = 30000,
	    .connect_timeout_ms = 5000,
	};

	if (argc != 2) {
		fprintf(stderr, "usage: groupware-driver CONNINFO\n");
		return 2;
	}
	log_set_level(LOG_LEVEL_WARNING);
	settings.conninfo = argv[1];
	base = event_base_new();
	db = db_create(base, &settings);
	store = store_create(db);
	input = evbuffer_new();
	stdin_ev = event_new(base, STDIN_FILENO, EV_READ | EV_PERSIST, stdin_cb, NULL);
	next_ev = event_new(base, -1, 0, next_cb, NULL);
	event_add(stdin_ev, NULL);
	event_base_dispatch(base);

	event_free(stdin_ev);
	event_free(next_ev);
	evbuffer_free(input);
	store_destroy(&store);
	db_destroy(&db);
	event_base_free(base);
	return 0;
}
