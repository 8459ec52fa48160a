/* The Sync request: its collections with their options (or the cached
 * request of the device for an empty or Partial Sync), Wait and
 * HeartbeatInterval, the JSON the device's request cache keeps, and the
 * outcome of the client's commands kept for a repeated SyncKey. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sync-private.h"
#include "xmalloc.h"

#define WAIT_MIN_MINUTES 1
#define WAIT_MAX_MINUTES 59
#define HEARTBEAT_MIN    60
#define HEARTBEAT_MAX    3540

/* ---------------------------------------------------------------------
 * The cached request
 */

char *
sync_request_json(const struct sync_ctx *ctx)
{
	json_t *j = json_object(), *arr = json_array();
	char *s, *ret;

	for (size_t i = 0; i < ctx->ncolls; i++) {
		const struct sync_coll *c = &ctx->colls[i];
		json_t *o;

		if (c->status != 1)
			continue;
		o = json_object();
		json_object_set_new(o, "id", json_integer((json_int_t)c->folder_id));
		json_object_set_new(o, "w", json_integer(c->window));
		json_object_set_new(o, "g", json_boolean(c->get_changes));
		json_object_set_new(o, "d", json_boolean(c->deletes_as_moves));
		json_object_set_new(o, "c", json_integer(c->conflict));
		json_array_append_new(arr, o);
	}
	json_object_set_new(j, "collections", arr);
	json_object_set_new(j, "wait", json_integer(ctx->wait));
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	ret = xstrdup(s != NULL ? s : "{}");
	free(s);
	return ret;
}

/* Adds the cached collections the request does not name. Returns -1 when
 * there is no cache. */
int
sync_merge_cache(struct sync_ctx *ctx, const char *cached)
{
	json_t *j = cached != NULL ? json_loads(cached, 0, NULL) : NULL;
	json_t *arr = json_object_get(j, "collections"), *o;
	size_t i;

	if (j == NULL || !json_is_array(arr) || json_array_size(arr) == 0) {
		json_decref(j);
		return -1;
	}
	if (ctx->ncolls == 0 && ctx->wait == 0)
		ctx->wait = (unsigned)json_integer_value(json_object_get(j, "wait"));
	json_array_foreach(arr, i, o)
	{
		uint64_t id = (uint64_t)json_integer_value(json_object_get(o, "id"));
		struct sync_coll *c;
		bool have = false;

		for (size_t k = 0; k < ctx->ncolls; k++)
			have = have || ctx->colls[k].folder_id == id;
		if (have || id == 0 || ctx->ncolls >= EAS_SYNC_MAX_COLLECTIONS)
			continue;
		ctx->colls = xreallocarray(ctx->colls, ctx->ncolls + 1, sizeof(*ctx->colls));
		c = &ctx->colls[ctx->ncolls++];
		memset(c, 0, sizeof(*c));
		c->folder_id = id;
		c->use_current_key = true;
		c->key_text = xstrdup("");
		c->window = (unsigned)json_integer_value(json_object_get(o, "w"));
		if (c->window == 0 || c->window > EAS_SYNC_MAX_WINDOW)
			c->window = EAS_SYNC_DEFAULT_WINDOW;
		c->get_changes = !json_is_false(json_object_get(o, "g"));
		c->deletes_as_moves = !json_is_false(json_object_get(o, "d"));
		c->conflict = json_integer_value(json_object_get(o, "c")) == 0 ? 0 : 1;
		c->status = 1;
	}
	json_decref(j);
	return 0;
}

/* ---------------------------------------------------------------------
 * Request parsing
 */

/* Returns 0, or -1 with ctx->status set. */
static int
parse_collection(struct sync_ctx *ctx, const struct wbxml_node *n, struct sync_coll *c)
{
	const char *key = wbxml_child_text(n, EAS_AIRSYNC_SYNCKEY);
	const char *id = wbxml_child_text(n, EAS_AIRSYNC_COLLECTIONID);
	const struct wbxml_node *g, *opt;
	uint64_t v;
	int r;

	(void)ctx;
	memset(c, 0, sizeof(*c));
	c->status = 1;
	c->conflict = 1;
	c->deletes_as_moves = true;
	c->window = EAS_SYNC_DEFAULT_WINDOW;
	if (key == NULL || id == NULL || eas_mail_folder_id(id, &c->folder_id) < 0)
		return -1;
	c->key_text = xstrdup(key);
	if (eas_sync_key_parse(key, c->generation, &c->key) < 0)
		c->status = 3;
	g = wbxml_child(n, EAS_AIRSYNC_GETCHANGES);
	/* GetChanges: empty or 1 asks for changes; absent means yes except
	 * for the first request (SyncKey 0). */
	c->get_changes = g == NULL ? c->key != 0 : strcmp(wbxml_text(g), "0") != 0;
	if ((g = wbxml_child(n, EAS_AIRSYNC_DELETESASMOVES)) != NULL)
		c->deletes_as_moves = strcmp(wbxml_text(g), "0") != 0;
	r = wbxml_child_uint(n, EAS_AIRSYNC_WINDOWSIZE, &v);
	if (r < 0)
		return -1;
	if (r == 0)
		c->window = v == 0 || v > EAS_SYNC_MAX_WINDOW ? EAS_SYNC_MAX_WINDOW : (unsigned)v;
	for (opt = wbxml_child(n, EAS_AIRSYNC_OPTIONS); opt != NULL;
	     opt = wbxml_next(opt, EAS_AIRSYNC_OPTIONS)) {
		const char *cls = wbxml_child_text(opt, EAS_AIRSYNC_CLASS);
		const char *error;

		/* Options for SMS and other classes are not ours. */
		if (cls != NULL && strcmp(cls, "Email") != 0)
			continue;
		if (!c->options_given)
			memset(&c->opts, 0, sizeof(c->opts));
		c->options_given = true;
		if (eas_mail_options_parse(opt, &c->opts, &error) < 0) {
			eas_log(ctx->req, "Sync: collection %s: %s", id, error);
			c->status = 4;
		}
		if (wbxml_child_uint(opt, EAS_AIRSYNC_CONFLICT, &v) == 0)
			c->conflict = v == 0 ? 0 : 1;
	}
	{
		const char *cls = wbxml_child_text(n, EAS_AIRSYNC_CLASS);

		if (cls != NULL && strcmp(cls, "Email") != 0 && c->status == 1)
			c->status = 4;
	}
	c->commands = wbxml_child(n, EAS_AIRSYNC_COMMANDS);
	if (c->commands != NULL && c->commands->first_child != NULL)
		ctx->had_commands = true;
	return 0;
}

int
sync_parse_request(struct sync_ctx *ctx)
{
	const struct wbxml_node *root = ctx->req->body, *cols, *n;
	uint64_t v;
	int wr, hr;

	if (root == NULL)
		return 0; /* empty request: the cache */
	if (root->tag != EAS_AIRSYNC_SYNC) {
		ctx->status = 4;
		return -1;
	}
	ctx->partial = wbxml_child(root, EAS_AIRSYNC_PARTIAL) != NULL;
	wr = wbxml_child_uint(root, EAS_AIRSYNC_WAIT, &v);
	if (wr == 0) {
		if (v < WAIT_MIN_MINUTES || v > WAIT_MAX_MINUTES) {
			ctx->status = 14;
			ctx->limit = v < WAIT_MIN_MINUTES ? WAIT_MIN_MINUTES : WAIT_MAX_MINUTES;
			return -1;
		}
		ctx->wait = (unsigned)v * 60;
	}
	hr = wbxml_child_uint(root, EAS_AIRSYNC_HEARTBEATINTERVAL, &v);
	if (hr == 0) {
		if (v < HEARTBEAT_MIN || v > HEARTBEAT_MAX) {
			ctx->status = 14;
			ctx->limit = v < HEARTBEAT_MIN ? HEARTBEAT_MIN : HEARTBEAT_MAX;
			return -1;
		}
		ctx->wait = (unsigned)v;
	}
	if (wr < 0 || hr < 0 || (wr == 0 && hr == 0)) {
		ctx->status = 4;
		return -1;
	}
	if (wbxml_child_uint(root, EAS_AIRSYNC_WINDOWSIZE, &v) == 0)
		ctx->total_window =
		    v == 0 || v > EAS_SYNC_MAX_WINDOW ? EAS_SYNC_MAX_WINDOW : (unsigned)v;
	cols = wbxml_child(root, EAS_AIRSYNC_COLLECTIONS);
	for (n = wbxml_child(cols, EAS_AIRSYNC_COLLECTION); n != NULL;
	     n = wbxml_next(n, EAS_AIRSYNC_COLLECTION)) {
		if (ctx->ncolls >= EAS_SYNC_MAX_COLLECTIONS) {
			ctx->status = 15;
			return -1;
		}
		ctx->colls = xreallocarray(ctx->colls, ctx->ncolls + 1, sizeof(*ctx->colls));
		if (parse_collection(ctx, n, &ctx->colls[ctx->ncolls]) < 0) {
			ctx->ncolls++;
			ctx->status = 4;
			return -1;
		}
		ctx->ncolls++;
	}
	/* The same collection twice is a protocol error. */
	for (size_t i = 0; i < ctx->ncolls; i++) {
		for (size_t k = i + 1; k < ctx->ncolls; k++) {
			if (ctx->colls[i].folder_id == ctx->colls[k].folder_id) {
				ctx->status = 4;
				return -1;
			}
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Replays
 */

void
sync_replay_load(struct sync_coll *c, const char *replay)
{
	json_t *j = replay != NULL ? json_loads(replay, 0, NULL) : NULL, *v;
	size_t i;

	if (j == NULL)
		return;
	json_array_foreach(json_object_get(j, "responses"), i, v)
	{
		const char *k = json_string_value(json_object_get(v, "k"));

		if (k == NULL)
			continue;
		sync_response_add(c, k[0], json_string_value(json_object_get(v, "c")),
		                  json_string_value(json_object_get(v, "s")),
		                  (unsigned)json_integer_value(json_object_get(v, "st")));
	}
	json_array_foreach(json_object_get(j, "del"), i, v)
	    u32vec_add(&c->client.del, (uint32_t)json_integer_value(v));
	json_array_foreach(json_object_get(j, "up"), i, v)
	    sync_delta_up(&c->client, (uint32_t)json_integer_value(json_array_get(v, 0)),
	                  (uint64_t)json_integer_value(json_array_get(v, 1)));
	json_decref(j);
}

char *
sync_replay_json(const struct sync_coll *c)
{
	json_t *j = json_object(), *resp = json_array(), *del = json_array(), *up = json_array();
	char *s, *ret;

	for (size_t i = 0; i < c->nresponses; i++) {
		const struct sync_response *r = &c->responses[i];
		json_t *o;
		char k[2] = {r->kind, '\0'};

		if (r->kind == 0 || r->kind == 'F')
			continue;
		o = json_object();
		json_object_set_new(o, "k", json_string(k));
		if (r->client_id != NULL)
			json_object_set_new(o, "c", json_string(r->client_id));
		if (r->server_id != NULL)
			json_object_set_new(o, "s", json_string(r->server_id));
		json_object_set_new(o, "st", json_integer(r->status));
		json_array_append_new(resp, o);
	}
	for (size_t i = 0; i < c->client.del.n; i++)
		json_array_append_new(del, json_integer(c->client.del.v[i]));
	for (size_t i = 0; i < c->client.up.n; i++)
		json_array_append_new(up, json_pack("[II]", (json_int_t)c->client.up.v[i],
		                                    (json_int_t)c->client.up_modseq.v[i]));
	json_object_set_new(j, "responses", resp);
	json_object_set_new(j, "del", del);
	json_object_set_new(j, "up", up);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	ret = xstrdup(s != NULL ? s : "{}");
	free(s);
	return ret;
}
