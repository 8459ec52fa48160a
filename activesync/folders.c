/* The folder hierarchy over ActiveSync: FolderSync (hierarchy SyncKey,
 * initial and incremental Add/Update/Delete against the folder set the
 * device was last sent, a repeated key answered again), FolderCreate,
 * FolderUpdate (rename and move) and FolderDelete over the store's folder
 * functions (types, ServerIds and the state text: eas-folders.c).
 *
 * Outbox: the store has none, so FolderSync creates a plain mail folder
 * "Outbox" at the top level the first time an account syncs its hierarchy
 * and presents it as type 6 (IMAP sees it as an ordinary folder). Folders
 * of type file are not shown (EAS has no such class). */
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eas-private.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define OUTBOX_NAME "Outbox"

/* --- The commands --- */

enum fcmd { F_SYNC, F_CREATE, F_UPDATE, F_DELETE };

struct fctx {
	struct eas_request *req;
	struct store_op *op;
	enum fcmd cmd;
	struct eas_view view;
	bool outbox_tried;
	/* the device's state */
	uint64_t key, prev_key;
	char *state, *prev_state;
	/* the client's key ("0" is 0) */
	uint64_t client_key;
	/* the answer being prepared */
	uint64_t new_key;
	char *new_state;
	uint64_t new_folder; /* FolderCreate */
	/* FolderDelete: the ids still to delete, deepest first */
	uint64_t *doomed;
	size_t ndoomed, next_doomed;
	const char *name;
	uint64_t target, parent;
	unsigned create_type;
};

static uint16_t
fcmd_root(enum fcmd c)
{
	switch (c) {
	case F_SYNC:
		return EAS_FOLDERHIERARCHY_FOLDERSYNC;
	case F_CREATE:
		return EAS_FOLDERHIERARCHY_FOLDERCREATE;
	case F_UPDATE:
		return EAS_FOLDERHIERARCHY_FOLDERUPDATE;
	case F_DELETE:
		return EAS_FOLDERHIERARCHY_FOLDERDELETE;
	}
	return 0;
}

static void
fctx_free(struct fctx *f)
{
	store_op_abandon(&f->op);
	eas_view_free(&f->view);
	free(f->state);
	free(f->prev_state);
	free(f->new_state);
	free(f->doomed);
	free(f);
}

static void
fctx_abort(struct eas_request *req, void *ctx)
{
	fctx_free(ctx);
}

/* Answers with Status only (errors), or with the key (and ServerId). */
static void
fctx_reply(struct fctx *f, unsigned status)
{
	struct eas_request *req = f->req;
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);

	wbxml_start(w, fcmd_root(f->cmd));
	wbxml_uint(w, EAS_FOLDERHIERARCHY_STATUS, status);
	if (status == 1) {
		wbxml_uint(w, EAS_FOLDERHIERARCHY_SYNCKEY, f->new_key);
		if (f->cmd == F_CREATE)
			wbxml_uint(w, EAS_FOLDERHIERARCHY_SERVERID, f->new_folder);
	}
	wbxml_end(w);
	wbxml_writer_finish(&w);
	if (status != 1)
		eas_log(req, "status %u", status);
	fctx_free(f);
	eas_respond_wbxml(req, out);
	evbuffer_free(out);
}

static void
fctx_store_error(struct fctx *f, const char *what, const char *error)
{
	eas_log(f->req, "%s: %s", what, error);
	fctx_reply(f, 6); /* server error */
}

/* FolderSync: the changes from the state base to the current view. */
static void
foldersync_reply(struct fctx *f, const char *base, uint64_t key)
{
	struct eas_request *req = f->req;
	struct evbuffer *out = evbuffer_new();
	struct wbxml_writer *w = wbxml_writer_new(out);
	char *copy = xstrdup(base);
	size_t n, count = 0;
	struct eas_state_entry *old = eas_state_parse(copy, &n);

	/* Count first: Count precedes the changes. */
	for (size_t i = 0; i < f->view.count; i++) {
		const struct eas_view_folder *v = &f->view.items[i];
		const struct eas_state_entry *e = eas_state_find(old, n, v->id);

		if (e == NULL || e->parent != v->parent || e->type != v->type ||
		    strcmp(e->name, v->name) != 0)
			count++;
	}
	for (size_t i = 0; i < n; i++) {
		if (eas_view_find(&f->view, old[i].id) == NULL)
			count++;
	}

	wbxml_start(w, EAS_FOLDERHIERARCHY_FOLDERSYNC);
	wbxml_uint(w, EAS_FOLDERHIERARCHY_STATUS, 1);
	wbxml_uint(w, EAS_FOLDERHIERARCHY_SYNCKEY, key);
	wbxml_start(w, EAS_FOLDERHIERARCHY_CHANGES);
	wbxml_uint(w, EAS_FOLDERHIERARCHY_COUNT, count);
	/* Updates, then additions (parents first), then deletions: a folder
	 * moved out of a deleted one is moved before its old parent goes. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < f->view.count; i++) {
			const struct eas_view_folder *v = &f->view.items[i];
			const struct eas_state_entry *e = eas_state_find(old, n, v->id);

			if (pass == 0 &&
			    (e == NULL || (e->parent == v->parent && e->type == v->type &&
			                   strcmp(e->name, v->name) == 0)))
				continue;
			if (pass == 1 && e != NULL)
				continue;
			wbxml_start(w, pass == 0 ? EAS_FOLDERHIERARCHY_UPDATE
			                         : EAS_FOLDERHIERARCHY_ADD);
			wbxml_uint(w, EAS_FOLDERHIERARCHY_SERVERID, v->id);
			wbxml_uint(w, EAS_FOLDERHIERARCHY_PARENTID, v->parent);
			wbxml_string(w, EAS_FOLDERHIERARCHY_DISPLAYNAME, v->name);
			wbxml_uint(w, EAS_FOLDERHIERARCHY_TYPE, v->type);
			wbxml_end(w);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (eas_view_find(&f->view, old[i].id) != NULL)
			continue;
		wbxml_start(w, EAS_FOLDERHIERARCHY_DELETE);
		wbxml_uint(w, EAS_FOLDERHIERARCHY_SERVERID, old[i].id);
		wbxml_end(w);
	}
	wbxml_end(w);
	wbxml_end(w);
	wbxml_writer_finish(&w);
	free(old);
	free(copy);
	eas_log(req, "hierarchy key %" PRIu64 " -> %" PRIu64 ", %zu change(s)", f->client_key, key,
	        count);
	fctx_free(f);
	eas_respond_wbxml(req, out);
	evbuffer_free(out);
}

static void
fctx_saved(enum store_err code, const char *error, void *ctx)
{
	struct fctx *f = ctx;

	f->op = NULL;
	if (code == STORE_ERR_MODIFIED) {
		/* Another request of this device moved the key meanwhile. */
		eas_log(f->req, "hierarchy state changed concurrently");
		fctx_reply(f, f->cmd == F_SYNC ? 9 : 9);
		return;
	}
	if (code != STORE_OK) {
		fctx_store_error(f, "saving the hierarchy state", error);
		return;
	}
	if (f->cmd == F_SYNC) {
		/* The base is what the device holds: prev_state after a repeat. */
		const char *base = f->client_key == 0 ? "" : f->state;

		foldersync_reply(f, base, f->new_key);
		return;
	}
	fctx_reply(f, 1);
}

/* Saves new_state under new_key, keeping what the device held as the
 * previous state. */
static void
fctx_save(struct fctx *f, uint64_t prev_key, const char *prev_state)
{
	struct eas_request *req = f->req;
	char hash[17];

	eas_folders_hash(f->new_state, hash);
	f->op = store_device_folders_set(req->store, req->account_id, req->device->id, f->key,
	                                 f->new_key, f->new_state, hash, prev_key, prev_state,
	                                 fctx_saved, f);
}

static void
foldersync_run(struct fctx *f)
{
	char cur_hash[17], stored_hash[17];
	char *base;
	uint64_t base_key;

	f->new_state = eas_view_state(&f->view);
	if (f->client_key == 0) {
		/* Initial (or a reset): everything is new. The previous state is
		 * dropped so that an old key is refused from now on. */
		f->new_key = (f->key > f->prev_key ? f->key : f->prev_key) + 1;
		fctx_save(f, 0, "");
		return;
	}
	if (f->client_key == f->key) {
		base = f->state;
		base_key = f->key;
	} else if (f->client_key == f->prev_key && f->prev_key != 0) {
		/* The answer that carried f->key was lost: answer again from
		 * what the device holds, under the same new key. */
		free(f->state);
		f->state = f->prev_state;
		f->prev_state = NULL;
		f->new_key = f->key;
		fctx_save(f, f->client_key, f->state);
		return;
	} else {
		eas_log(f->req, "unknown hierarchy key %" PRIu64 " (device holds %" PRIu64 ")",
		        f->client_key, f->key);
		fctx_reply(f, 9);
		return;
	}
	eas_folders_hash(f->new_state, cur_hash);
	eas_folders_hash(base, stored_hash);
	if (strcmp(cur_hash, stored_hash) == 0) {
		/* No change: same key, nothing stored. */
		foldersync_reply(f, base, base_key);
		return;
	}
	f->new_key = f->key + 1;
	fctx_save(f, f->key, f->state);
}

/* Applies this command's change to the stored state (the device holds
 * f->state plus exactly this change afterwards). */
static char *
state_apply(const char *state, uint64_t remove_from, const uint64_t *removed, size_t nremoved,
            const struct eas_view_folder *changed)
{
	struct evbuffer *out = evbuffer_new();
	char *copy = xstrdup(state), *s;
	size_t n, len;
	struct eas_state_entry *e = eas_state_parse(copy, &n);
	bool replaced = false;

	for (size_t i = 0; i < n; i++) {
		bool skip = false;

		for (size_t k = 0; k < nremoved; k++) {
			if (removed[k] == e[i].id)
				skip = true;
		}
		if (skip || e[i].id == remove_from)
			continue;
		if (changed != NULL && e[i].id == changed->id) {
			eas_state_add_line(out, changed->id, changed->parent, changed->type,
			                   changed->name);
			replaced = true;
			continue;
		}
		eas_state_add_line(out, e[i].id, e[i].parent, e[i].type, e[i].name);
	}
	if (changed != NULL && !replaced)
		eas_state_add_line(out, changed->id, changed->parent, changed->type, changed->name);
	len = evbuffer_get_length(out);
	s = xmalloc(len + 1);
	evbuffer_remove(out, s, len);
	s[len] = '\0';
	evbuffer_free(out);
	free(e);
	free(copy);
	return s;
}

static void
folder_created(const struct store_folder *folder, enum store_err code, const char *error, void *ctx)
{
	struct fctx *f = ctx;
	struct eas_view_folder vf;

	f->op = NULL;
	if (code == STORE_ERR_EXISTS) {
		fctx_reply(f, 2);
		return;
	}
	if (code == STORE_ERR_INVALID) {
		eas_log(f->req, "cannot create: %s", error);
		fctx_reply(f, 10);
		return;
	}
	if (folder == NULL) {
		fctx_store_error(f, "creating the folder", error);
		return;
	}
	f->new_folder = folder->id;
	vf.id = folder->id;
	vf.parent = f->parent;
	vf.type = eas_folder_type(folder);
	vf.name = (char *)f->name;
	f->new_state = state_apply(f->state, 0, NULL, 0, &vf);
	f->new_key = f->key + 1;
	eas_log(f->req, "created folder %" PRIu64 " %s", folder->id, folder->path);
	fctx_save(f, f->key, f->state);
}

/* Builds "parent path/name" (or name at the top); NULL when the parent is
 * not a folder the device can see. */
static char *
child_path(struct fctx *f, uint64_t parent, const char *name)
{
	const struct eas_view_folder *p;

	if (parent == 0)
		return xstrdup(name);
	p = eas_view_find(&f->view, parent);
	return p != NULL ? xasprintf("%s/%s", p->path, name) : NULL;
}

static bool
name_ok(const char *name)
{
	if (name == NULL || name[0] == '\0' || strlen(name) > 255)
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p < ' ' || *p == '/')
			return false;
	}
	return true;
}

static void
foldercreate_run(struct fctx *f)
{
	static const char *const types[] = {
	    [1] = "mail",  [12] = "mail",    [13] = "event", [14] = "contact",
	    [15] = "task", [16] = "journal", [17] = "note",
	};
	struct eas_request *req = f->req;
	char *path;

	if (f->create_type >= sizeof(types) / sizeof(types[0]) || types[f->create_type] == NULL) {
		fctx_reply(f, 10);
		return;
	}
	path = child_path(f, f->parent, f->name);
	if (path == NULL) {
		fctx_reply(f, 5); /* parent not found */
		return;
	}
	f->op = store_folder_create(req->store, req->account_id, path, types[f->create_type], NULL,
	                            folder_created, f);
	free(path);
}

static void
folder_renamed(enum store_err code, const char *error, void *ctx)
{
	struct fctx *f = ctx;
	const struct eas_view_folder *old = eas_view_find(&f->view, f->target);
	struct eas_view_folder vf;

	f->op = NULL;
	if (code == STORE_ERR_EXISTS) {
		fctx_reply(f, 2);
		return;
	}
	if (code == STORE_ERR_NOT_FOUND) {
		fctx_reply(f, 4);
		return;
	}
	if (code == STORE_ERR_INVALID) {
		eas_log(f->req, "cannot rename: %s", error);
		fctx_reply(f, 10);
		return;
	}
	if (code != STORE_OK) {
		fctx_store_error(f, "renaming the folder", error);
		return;
	}
	vf.id = f->target;
	vf.parent = f->parent;
	vf.type = old != NULL ? old->type : 12;
	vf.name = (char *)f->name;
	f->new_state = state_apply(f->state, 0, NULL, 0, &vf);
	f->new_key = f->key + 1;
	eas_log(f->req, "renamed folder %" PRIu64 " to %s", f->target, f->name);
	fctx_save(f, f->key, f->state);
}

static void
folderupdate_run(struct fctx *f)
{
	struct eas_request *req = f->req;
	const struct eas_view_folder *t = eas_view_find(&f->view, f->target);
	char *path;

	if (t == NULL) {
		fctx_reply(f, 4);
		return;
	}
	if (eas_type_is_special(t->type)) {
		fctx_reply(f, 2); /* a special folder */
		return;
	}
	if (f->parent == f->target) {
		fctx_reply(f, 5);
		return;
	}
	path = child_path(f, f->parent, f->name);
	if (path == NULL) {
		fctx_reply(f, 5);
		return;
	}
	f->op =
	    store_folder_rename(req->store, req->account_id, f->target, path, folder_renamed, f);
	free(path);
}

static void folderdelete_next(struct fctx *f);

static void
folder_deleted(enum store_err code, const char *error, void *ctx)
{
	struct fctx *f = ctx;

	f->op = NULL;
	if (code != STORE_OK && code != STORE_ERR_NOT_FOUND) {
		fctx_store_error(f, "deleting the folder", error);
		return;
	}
	folderdelete_next(f);
}

static void
folderdelete_next(struct fctx *f)
{
	struct eas_request *req = f->req;

	if (f->next_doomed < f->ndoomed) {
		uint64_t id = f->doomed[f->next_doomed++];

		f->op = store_folder_delete(req->store, req->account_id, id, folder_deleted, f);
		return;
	}
	f->new_state = state_apply(f->state, f->target, f->doomed, f->ndoomed, NULL);
	f->new_key = f->key + 1;
	eas_log(f->req, "deleted folder %" PRIu64 " with %zu subfolder(s)", f->target,
	        f->ndoomed - 1);
	fctx_save(f, f->key, f->state);
}

static void
folderdelete_run(struct fctx *f)
{
	const struct eas_view_folder *t = eas_view_find(&f->view, f->target);

	if (t == NULL) {
		fctx_reply(f, 4);
		return;
	}
	if (eas_type_is_special(t->type)) {
		fctx_reply(f, 3);
		return;
	}
	/* The subtree, deepest first: the view lists parents before
	 * children, so walking it backwards deletes children first. */
	f->doomed = xcalloc(f->view.count + 1, sizeof(*f->doomed));
	for (size_t i = f->view.count; i-- > 0;) {
		uint64_t id = f->view.items[i].id;
		bool below = false;

		for (uint64_t p = id; p != 0;) {
			const struct eas_view_folder *x = eas_view_find(&f->view, p);

			if (p == f->target) {
				below = true;
				break;
			}
			p = x != NULL ? x->parent : 0;
		}
		if (below)
			f->doomed[f->ndoomed++] = id;
	}
	folderdelete_next(f);
}

static void
fctx_state_done(const struct store_device_folders *s, enum store_err code, const char *error,
                void *ctx)
{
	struct fctx *f = ctx;

	f->op = NULL;
	if (s == NULL) {
		fctx_store_error(f, "reading the hierarchy state", error);
		return;
	}
	f->key = s->key;
	f->prev_key = s->prev_key;
	f->state = xstrdup(s->state);
	f->prev_state = xstrdup(s->prev_state);
	if (f->cmd == F_SYNC) {
		foldersync_run(f);
		return;
	}
	/* The other commands need the current key. */
	if (f->key == 0 || f->client_key != f->key) {
		eas_log(f->req, "hierarchy key %" PRIu64 " is not current (%" PRIu64 ")",
		        f->client_key, f->key);
		fctx_reply(f, 9);
		return;
	}
	if (f->cmd == F_CREATE)
		foldercreate_run(f);
	else if (f->cmd == F_UPDATE)
		folderupdate_run(f);
	else
		folderdelete_run(f);
}

static void fctx_list(struct fctx *f);

static void
outbox_created(const struct store_folder *folder, enum store_err code, const char *error, void *ctx)
{
	struct fctx *f = ctx;

	f->op = NULL;
	if (folder == NULL && code != STORE_ERR_EXISTS)
		log_warning("eas: cannot create the Outbox of %s: %s", f->req->address, error);
	fctx_list(f);
}

static void
fctx_list_done(const struct store_folder_list *list, const char *error, void *ctx)
{
	struct fctx *f = ctx;
	struct eas_request *req = f->req;
	bool outbox = false;

	f->op = NULL;
	if (list == NULL) {
		fctx_store_error(f, "listing folders", error);
		return;
	}
	eas_view_free(&f->view);
	eas_view_build(list, &f->view);
	for (size_t i = 0; i < f->view.count; i++) {
		if (f->view.items[i].type == 6)
			outbox = true;
	}
	if (!outbox && !f->outbox_tried && f->cmd == F_SYNC) {
		f->outbox_tried = true;
		f->op = store_folder_create(req->store, req->account_id, OUTBOX_NAME, "mail", NULL,
		                            outbox_created, f);
		return;
	}
	f->op = store_device_folders_get(req->store, req->account_id, req->device->id,
	                                 fctx_state_done, f);
}

static void
fctx_list(struct fctx *f)
{
	f->op = store_folder_list(f->req->store, f->req->account_id, fctx_list_done, f);
}

/* Common start: checks the root and the SyncKey, then lists folders. */
static void
fcmd_start(struct eas_request *req, enum fcmd cmd)
{
	const struct wbxml_node *root = req->body;
	struct fctx *f = xcalloc(1, sizeof(*f));
	const char *key;

	f->req = req;
	f->cmd = cmd;
	eas_request_set_abort(req, fctx_abort, f);
	if (root == NULL || root->tag != fcmd_root(cmd)) {
		fctx_reply(f, 10);
		return;
	}
	key = wbxml_child_text(root, EAS_FOLDERHIERARCHY_SYNCKEY);
	if (key == NULL) {
		fctx_reply(f, 10);
		return;
	}
	if (eas_parse_u64(key, strlen(key), &f->client_key) < 0) {
		fctx_reply(f, 9);
		return;
	}
	if (cmd != F_SYNC) {
		const char *parent = wbxml_child_text(root, EAS_FOLDERHIERARCHY_PARENTID);
		const char *target = wbxml_child_text(root, EAS_FOLDERHIERARCHY_SERVERID);
		uint64_t v;

		f->name = wbxml_child_text(root, EAS_FOLDERHIERARCHY_DISPLAYNAME);
		if (cmd != F_DELETE && !name_ok(f->name)) {
			fctx_reply(f, 10);
			return;
		}
		if (cmd != F_DELETE &&
		    (parent == NULL || eas_parse_u64(parent, strlen(parent), &f->parent) < 0)) {
			fctx_reply(f, cmd == F_CREATE && parent != NULL ? 5 : 10);
			return;
		}
		if (cmd != F_CREATE &&
		    (target == NULL || eas_parse_u64(target, strlen(target), &f->target) < 0)) {
			fctx_reply(f, target == NULL ? 10 : 4);
			return;
		}
		if (cmd == F_CREATE) {
			if (wbxml_child_uint(root, EAS_FOLDERHIERARCHY_TYPE, &v) != 0 || v > 100) {
				fctx_reply(f, 10);
				return;
			}
			f->create_type = (unsigned)v;
		}
	}
	fctx_list(f);
}

void
eas_cmd_foldersync(struct eas_request *req)
{
	fcmd_start(req, F_SYNC);
}

void
eas_cmd_foldercreate(struct eas_request *req)
{
	fcmd_start(req, F_CREATE);
}

void
eas_cmd_folderupdate(struct eas_request *req)
{
	fcmd_start(req, F_UPDATE);
}

void
eas_cmd_folderdelete(struct eas_request *req)
{
	fcmd_start(req, F_DELETE);
}
