/* METADATA (RFC 5464): GETMETADATA with the MAXSIZE and DEPTH options
 * (before the mailbox, or after it as some clients send them) and
 * SETMETADATA, on a mailbox or with the mailbox "" on the server level
 * (METADATA-SERVER), which Floe keeps per account. Entry names are
 * "/private/..." (the user's own, also on another account's folder) or
 * "/shared/..." (everyone's), case-insensitive; names requested that do
 * not exist are answered NIL. Rights on a mailbox (RFC 4314): reading
 * needs l and r, writing /private l and r, writing /shared also w.
 * Some entries are computed, not stored (imapx/groupware-imap.h): the
 * folder's Kolab type under /shared/vendor/kolab/folder-type,
 * /private/vendor/kolab/folder-type and IceWarp's
 * /public/vendor/kolab/folder-type/value.shared (settable on an empty
 * mail folder, through store_foldertype_set), and IceWarp's read-only
 * /public/vendor/icewarp/... entries; other "/public/..." names are
 * answered NIL and cannot be set. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "groupware-imap.h"
#include "imap-acl.h"
#include "store-foldertype.h"
#include "store-groupware.h"
#include "xmalloc.h"

struct metadata_ctx {
	bool set;
	struct imap_mailbox_lookup lookup;
	struct store_op *op;
	char *name; /* NULL: the server level */
	char *display;
	/* GETMETADATA */
	char **entries; /* requested names, lower case, each once */
	size_t nentries;
	enum store_metadata_depth depth;
	bool limited; /* MAXSIZE given */
	uint64_t maxsize;
	/* SETMETADATA: the pairs point into the command's arguments. */
	struct store_metadata_entry *values;
	size_t nvalues;
	unsigned needed; /* rights the entries need */
	/* Computed entries (GETMETADATA): per requested entry its kind, the
	 * changedsince modseq and the value (NULL: NIL). */
	enum imap_meta_computed *kinds;
	uint64_t *since;
	char **computed;
	char *foldertype; /* the folder's type as the user sees it */
	uint64_t owner_id, folder_id;
	bool restricted; /* private items hidden from the changedsince feed */
	/* SETMETADATA of the folder type */
	bool set_type;
	struct store_foldertype type;
};

static void
metadata_cleanup(struct imap_cmd *cmd)
{
	struct metadata_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	imap_mailbox_lookup_abandon(&ctx->lookup);
	store_op_abandon(&ctx->op);
	for (size_t i = 0; i < ctx->nentries; i++) {
		free(ctx->entries[i]);
		if (ctx->computed != NULL)
			free(ctx->computed[i]);
	}
	free(ctx->entries);
	free(ctx->computed);
	free(ctx->kinds);
	free(ctx->since);
	free(ctx->foldertype);
	for (size_t i = 0; i < ctx->nvalues; i++)
		free((char *)ctx->values[i].name);
	free(ctx->values);
	free(ctx->name);
	free(ctx->display);
	free(ctx);
	cmd->ctx = NULL;
}

static bool
metadata_is_public(const char *name, size_t len)
{
	return len > 8 && strncasecmp(name, "/public/", 8) == 0;
}

/* A /public name with the syntax of the others. */
static bool
metadata_public_valid(const char *name, size_t len)
{
	char *as_shared;
	bool ok;

	if (!metadata_is_public(name, len))
		return false;
	as_shared = xasprintf("/shared%.*s", (int)(len - 7), name + 7);
	ok = store_metadata_name_valid(as_shared, strlen(as_shared));
	free(as_shared);
	return ok;
}

/* An entry name argument, lower-cased into a new string; NULL with
 * *error_r when it is not a valid name. /public names pass when
 * allow_public. */
static char *
metadata_entry(const struct imap_arg *arg, bool allow_public, const char **error_r)
{
	const char *s;
	size_t len;
	char *name;

	if (!imap_arg_astring(arg, &s, &len) || arg->type == IMAP_ARG_NIL) {
		*error_r = "Entry name expected";
		return NULL;
	}
	if (memchr(s, '\0', len) != NULL || (!store_metadata_name_valid(s, len) &&
	                                     !(allow_public && metadata_public_valid(s, len)))) {
		*error_r = "Invalid entry name (/private/... or /shared/...)";
		return NULL;
	}
	name = xstrndup(s, len);
	for (char *p = name; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return name;
}

static void
metadata_write_value(struct imap_client *c, const unsigned char *value, size_t len)
{
	if (memchr(value, '\0', len) != NULL) {
		imap_write_literal_header(c, len, true);
		imap_client_write(c, value, len);
		return;
	}
	imap_write_quoted(c, (const char *)value, len);
}

static void
metadata_write_mailbox(struct imap_client *c, struct metadata_ctx *ctx)
{
	if (ctx->display == NULL)
		imap_client_printf(c, "\"\"");
	else
		imap_write_mailbox(c, ctx->display);
}

/* --- GETMETADATA --- */

struct metadata_out {
	struct imap_client *c;
	struct metadata_ctx *ctx;
	bool any;
	uint64_t longest;
};

/* One entry of the "* METADATA" response (value NULL: NIL). */
static void
metadata_out_entry(struct metadata_out *o, const char *name, const unsigned char *value, size_t len)
{
	struct imap_client *c = o->c;

	if (value != NULL && o->ctx->limited && len > o->ctx->maxsize) {
		if (len > o->longest)
			o->longest = len;
		return;
	}
	imap_client_printf(c, o->any ? " " : "* METADATA ");
	if (!o->any) {
		metadata_write_mailbox(c, o->ctx);
		imap_client_printf(c, " (");
	}
	o->any = true;
	imap_write_astring(c, name, strlen(name));
	if (value == NULL) {
		imap_client_printf(c, " NIL");
		return;
	}
	imap_client_printf(c, " ");
	metadata_write_value(c, value, len);
}

/* Whether name lies below want within the requested depth. */
static bool
metadata_below(const struct metadata_ctx *ctx, const char *want, const char *name)
{
	size_t wlen = strlen(want);

	if (ctx->depth == STORE_METADATA_DEPTH_0 || strncmp(name, want, wlen) != 0 ||
	    name[wlen] != '/')
		return false;
	return ctx->depth == STORE_METADATA_DEPTH_INFINITY || strchr(name + wlen + 1, '/') == NULL;
}

static void
metadata_get_done(const struct store_metadata_list *list, enum store_err code, const char *error,
                  void *context)
{
	struct imap_cmd *cmd = context;
	struct metadata_ctx *ctx = cmd->ctx;
	struct metadata_out o = {.c = cmd->client, .ctx = ctx};
	bool *sent, type_sent[2] = {false, false};

	ctx->op = NULL;
	if (list == NULL) {
		if (code == STORE_ERR_NOT_FOUND)
			imap_mailbox_reply_missing(cmd);
		else
			imap_cmd_store_error(cmd, "Cannot read metadata", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	sent = xcalloc(list->count + 1, sizeof(*sent));
	for (size_t i = 0; i < ctx->nentries; i++) {
		const char *want = ctx->entries[i];
		bool found = false;

		if (ctx->kinds[i] != IMAP_META_STORED) {
			const char *v = ctx->computed[i];

			for (size_t k = 0; k < 2; k++) {
				if (strcmp(want, imap_meta_foldertype_names[k]) == 0) {
					if (type_sent[k])
						v = NULL, want = NULL;
					type_sent[k] = true;
				}
			}
			if (want != NULL)
				metadata_out_entry(&o, want, (const unsigned char *)v,
				                   v != NULL ? strlen(v) : 0);
			continue;
		}
		for (size_t k = 0; k < list->count; k++) {
			const struct store_metadata_entry *e = &list->entries[k];

			if (strcmp(e->name, want) == 0)
				found = true;
			else if (!metadata_below(ctx, want, e->name))
				continue;
			/* A stored entry by the name of a computed one is hidden. */
			if (sent[k] || imap_meta_computed(e->name, NULL) != IMAP_META_STORED)
				continue;
			sent[k] = true;
			metadata_out_entry(&o, e->name, e->value, e->len);
		}
		/* The folder type is an entry below /shared and /private too. */
		for (size_t k = 0; k < 2 && ctx->foldertype != NULL; k++) {
			const char *name = imap_meta_foldertype_names[k];

			if (type_sent[k] || !metadata_below(ctx, want, name))
				continue;
			type_sent[k] = true;
			metadata_out_entry(&o, name, (const unsigned char *)ctx->foldertype,
			                   strlen(ctx->foldertype));
		}
		if (!found)
			metadata_out_entry(&o, want, NULL, 0);
	}
	free(sent);
	if (o.any)
		imap_client_printf(o.c, ")\r\n");
	if (o.longest > 0)
		imap_cmd_ok(cmd, "[METADATA LONGENTRIES %llu] GETMETADATA completed",
		            (unsigned long long)o.longest);
	else
		imap_cmd_ok(cmd, "GETMETADATA completed");
	imap_cmd_finish(cmd);
}

static void
metadata_get(struct imap_cmd *cmd)
{
	struct metadata_ctx *ctx = cmd->ctx;
	const char **names = xcalloc(ctx->nentries + 1, sizeof(*names));
	size_t n = 0;

	/* Computed entries are answered here: the store is asked for the rest. */
	for (size_t i = 0; i < ctx->nentries; i++) {
		if (ctx->kinds[i] == IMAP_META_STORED)
			names[n++] = ctx->entries[i];
	}
	ctx->op = store_metadata_get(imap_client_store(cmd->client),
	                             imap_client_account_id(cmd->client), ctx->owner_id,
	                             ctx->folder_id, names, n, ctx->depth, metadata_get_done, cmd);
	free(names);
}

static void metadata_get_next(struct imap_cmd *cmd);
static void metadata_changes_done(const struct store_msg_list *list, enum store_err code,
                                  const char *error, void *context);

/* A restricted session's changes leave the private items out. */
static void
metadata_visible_done(const struct store_msg_list *list, const uint32_t *private_uids,
                      size_t nprivate, enum store_err code, const char *error, void *context)
{
	(void)private_uids;
	(void)nprivate;
	metadata_changes_done(list, code, error, context);
}

static void
metadata_changes_done(const struct store_msg_list *list, enum store_err code, const char *error,
                      void *context)
{
	struct imap_cmd *cmd = context;
	struct metadata_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (list == NULL) {
		if (code == STORE_ERR_NOT_FOUND)
			imap_mailbox_reply_missing(cmd);
		else
			imap_cmd_store_error(cmd, "Cannot read the changes", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	for (size_t i = 0; i < ctx->nentries; i++) {
		if (ctx->kinds[i] == IMAP_META_CHANGEDSINCE && ctx->computed[i] == NULL) {
			ctx->computed[i] = imap_meta_changedsince(list);
			break;
		}
	}
	metadata_get_next(cmd);
}

/* Asks the store for each changedsince entry in turn (a client asks for
 * one), then reads the stored entries. */
static void
metadata_get_next(struct imap_cmd *cmd)
{
	struct metadata_ctx *ctx = cmd->ctx;

	for (size_t i = 0; i < ctx->nentries && ctx->folder_id != 0; i++) {
		if (ctx->kinds[i] == IMAP_META_CHANGEDSINCE && ctx->computed[i] == NULL) {
			if (ctx->restricted)
				ctx->op = store_groupware_visible(
				    imap_client_store(cmd->client), ctx->owner_id, ctx->folder_id,
				    false, ctx->since[i], ctx->since[i], metadata_visible_done,
				    cmd);
			else
				ctx->op = store_changes(imap_client_store(cmd->client),
				                        ctx->owner_id, ctx->folder_id,
				                        ctx->since[i], metadata_changes_done, cmd);
			return;
		}
	}
	metadata_get(cmd);
}

/* Fills the computed entries that need no query; folder NULL on the
 * server level. */
static void
metadata_compute(struct imap_cmd *cmd, const struct store_folder *folder, const char *display,
                 bool own)
{
	struct metadata_ctx *ctx = cmd->ctx;

	ctx->foldertype = imap_meta_value(cmd->client, IMAP_META_FOLDERTYPE, folder, display, own);
	for (size_t i = 0; i < ctx->nentries; i++) {
		if (ctx->kinds[i] != IMAP_META_CHANGEDSINCE)
			ctx->computed[i] =
			    imap_meta_value(cmd->client, ctx->kinds[i], folder, display, own);
	}
}

/* --- SETMETADATA --- */

static void
metadata_set_done(enum store_metadata_result result, enum store_err code, const char *error,
                  void *context)
{
	struct imap_cmd *cmd = context;
	struct metadata_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (code != STORE_OK) {
		if (code == STORE_ERR_NOT_FOUND)
			imap_mailbox_reply_missing(cmd);
		else
			imap_cmd_store_error(cmd, "Cannot set metadata", code, error);
	} else if (result == STORE_METADATA_TOOMANY) {
		imap_cmd_no(cmd, "[METADATA TOOMANY] Too many entries (at most %d per mailbox)",
		            STORE_METADATA_MAX_ENTRIES);
	} else if (result == STORE_METADATA_MAXSIZE) {
		imap_cmd_no(cmd, "[METADATA MAXSIZE %d] Value too large", STORE_METADATA_MAX_VALUE);
	} else {
		imap_cmd_ok(cmd, "SETMETADATA completed");
	}
	imap_cmd_finish(cmd);
}

static void
metadata_set(struct imap_cmd *cmd)
{
	struct metadata_ctx *ctx = cmd->ctx;

	ctx->op = store_metadata_set(
	    imap_client_store(cmd->client), imap_client_account_id(cmd->client), ctx->owner_id,
	    ctx->folder_id, ctx->values, ctx->nvalues, metadata_set_done, cmd);
}

/* The folder type first; the other entries (if any) after it. */
static void
metadata_type_done(enum store_err code, const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct metadata_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (code != STORE_OK) {
		if (code == STORE_ERR_NOT_FOUND)
			imap_mailbox_reply_missing(cmd);
		else
			imap_cmd_store_error(cmd, "Cannot set the folder type", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (ctx->nvalues > 0) {
		metadata_set(cmd);
		return;
	}
	imap_cmd_ok(cmd, "SETMETADATA completed");
	imap_cmd_finish(cmd);
}

static void
metadata_set_start(struct imap_cmd *cmd, bool other)
{
	struct metadata_ctx *ctx = cmd->ctx;

	if (!ctx->set_type) {
		metadata_set(cmd);
		return;
	}
	if (ctx->folder_id == 0) {
		imap_cmd_no(cmd, "[CANNOT] The server level has no folder type");
		imap_cmd_finish(cmd);
		return;
	}
	/* A default folder or a mail subtype is the owner's own choice. */
	if (other && (ctx->type.is_default || ctx->type.special_use != NULL)) {
		imap_cmd_no(cmd, "[NOPERM] Only the owner makes a folder a default or special one");
		imap_cmd_finish(cmd);
		return;
	}
	ctx->op = store_foldertype_set(imap_client_store(cmd->client), ctx->owner_id,
	                               ctx->folder_id, &ctx->type, metadata_type_done, cmd);
}

/* --- Both --- */

static void
metadata_mailbox_cb(const struct imap_mailbox *mb, enum store_err code, const char *error,
                    void *context)
{
	struct imap_cmd *cmd = context;
	struct metadata_ctx *ctx = cmd->ctx;

	if (mb == NULL) {
		imap_cmd_store_error(cmd, "Cannot find the mailbox", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (!imap_mailbox_allow(cmd, mb, ctx->needed,
	                        ctx->set ? "change the metadata of" : "read the metadata of")) {
		imap_cmd_finish(cmd);
		return;
	}
	ctx->display = xstrdup(mb->folder->path);
	ctx->owner_id = mb->owner_id;
	ctx->folder_id = mb->folder->id;
	ctx->restricted = imap_view_restricts(imap_client_account_id(cmd->client), mb->owner_id,
	                                      mb->folder->type, mb->rights);
	if (ctx->set) {
		metadata_set_start(cmd, mb->other);
		return;
	}
	metadata_compute(cmd, mb->folder, mb->folder->path, !mb->other);
	metadata_get_next(cmd);
}

/* The mailbox argument: "" is the server level (ctx->name stays NULL). */
static int
metadata_mailbox(struct imap_cmd *cmd, const struct imap_arg *arg, const char **error_r)
{
	struct metadata_ctx *ctx = cmd->ctx;
	const char *s;
	size_t len;

	if (imap_arg_astring(arg, &s, &len) && len == 0)
		return 0;
	return imap_arg_mailbox(cmd->client, arg, &ctx->name, error_r);
}

static enum imap_cmd_result
metadata_start(struct imap_cmd *cmd)
{
	struct metadata_ctx *ctx = cmd->ctx;
	struct imap_client *c = cmd->client;

	if (ctx->name == NULL) {
		/* The server level, as this account sees it. */
		ctx->owner_id = imap_client_account_id(c);
		if (ctx->set && ctx->set_type) {
			imap_cmd_no(cmd, "[CANNOT] The server level has no folder type");
			return IMAP_CMD_DONE;
		}
		if (ctx->set) {
			metadata_set_start(cmd, false);
		} else {
			metadata_compute(cmd, NULL, NULL, true);
			metadata_get(cmd);
		}
		return IMAP_CMD_ASYNC;
	}
	imap_mailbox_lookup_start(&ctx->lookup, c, ctx->name, metadata_mailbox_cb, cmd);
	return IMAP_CMD_ASYNC;
}

static const char *
metadata_options(struct metadata_ctx *ctx, const struct imap_arg *list, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const char *value;
		uint64_t n = 0;

		if (i + 1 >= count || !imap_arg_atom(&list[i + 1], &value) || *value == '\0')
			return "GETMETADATA options are (MAXSIZE n) and (DEPTH 0|1|infinity)";
		if (imap_arg_atom_equals(&list[i], "MAXSIZE")) {
			for (const char *p = value; *p != '\0'; p++) {
				if (*p < '0' || *p > '9' || n > 0xffffffffULL)
					return "Invalid MAXSIZE";
				n = n * 10 + (uint64_t)(*p - '0');
			}
			if (n > 0xffffffffULL)
				return "Invalid MAXSIZE";
			ctx->limited = true;
			ctx->maxsize = n;
		} else if (imap_arg_atom_equals(&list[i], "DEPTH")) {
			if (strcmp(value, "0") == 0)
				ctx->depth = STORE_METADATA_DEPTH_0;
			else if (strcmp(value, "1") == 0)
				ctx->depth = STORE_METADATA_DEPTH_1;
			else if (strcasecmp(value, "infinity") == 0)
				ctx->depth = STORE_METADATA_DEPTH_INFINITY;
			else
				return "DEPTH is 0, 1 or infinity";
		} else {
			return "Unknown GETMETADATA option";
		}
		i++;
	}
	return NULL;
}

/* True when a list looks like GETMETADATA options rather than entries. */
static bool
metadata_looks_like_options(const struct imap_arg *arg)
{
	const struct imap_arg *list;
	size_t count;

	return imap_arg_list(arg, &list, &count) && count > 0 &&
	       (imap_arg_atom_equals(&list[0], "MAXSIZE") ||
	        imap_arg_atom_equals(&list[0], "DEPTH"));
}

enum imap_cmd_result
cmd_getmetadata(struct imap_cmd *cmd)
{
	const struct imap_arg *args = cmd->args, *options = NULL, *mailbox, *entries, *list = NULL;
	struct metadata_ctx *ctx;
	size_t count = cmd->count, n = 0;
	const char *error;

	if (count == 3 && imap_arg_list(&args[0], &list, &n)) {
		options = &args[0];
		mailbox = &args[1];
		entries = &args[2];
	} else if (count == 3 && metadata_looks_like_options(&args[1])) {
		mailbox = &args[0];
		options = &args[1];
		entries = &args[2];
	} else if (count == 2) {
		mailbox = &args[0];
		entries = &args[1];
	} else {
		imap_cmd_bad(cmd, "Usage: GETMETADATA [(options)] mailbox entry | (entries)");
		return IMAP_CMD_DONE;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	cmd->ctx = ctx;
	cmd->cleanup = metadata_cleanup;
	ctx->needed = ACL_METADATA_READ;
	if (options != NULL && imap_arg_list(options, &list, &n)) {
		if ((error = metadata_options(ctx, list, n)) != NULL) {
			imap_cmd_bad(cmd, "%s", error);
			return IMAP_CMD_DONE;
		}
	}
	if (metadata_mailbox(cmd, mailbox, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (!imap_arg_list(entries, &list, &n)) {
		list = entries;
		n = 1;
	}
	if (n == 0) {
		imap_cmd_bad(cmd, "No entries requested");
		return IMAP_CMD_DONE;
	}
	ctx->entries = xcalloc(n, sizeof(*ctx->entries));
	for (size_t i = 0; i < n; i++) {
		char *name = metadata_entry(&list[i], true, &error);
		bool dup = false;

		if (name == NULL) {
			imap_cmd_bad(cmd, "%s", error);
			return IMAP_CMD_DONE;
		}
		for (size_t k = 0; k < ctx->nentries && !dup; k++)
			dup = strcmp(ctx->entries[k], name) == 0;
		if (dup)
			free(name);
		else
			ctx->entries[ctx->nentries++] = name;
	}
	ctx->kinds = xcalloc(ctx->nentries, sizeof(*ctx->kinds));
	ctx->since = xcalloc(ctx->nentries, sizeof(*ctx->since));
	ctx->computed = xcalloc(ctx->nentries, sizeof(*ctx->computed));
	for (size_t i = 0; i < ctx->nentries; i++)
		ctx->kinds[i] = imap_meta_computed(ctx->entries[i], &ctx->since[i]);
	return metadata_start(cmd);
}

/* The value of a folder-type entry of SETMETADATA (NIL: plain mail).
 * Returns 0, or -1 after setting the reply. */
static int
metadata_type_value(struct imap_cmd *cmd, const char *name, const struct imap_arg *arg)
{
	struct metadata_ctx *ctx = cmd->ctx;
	const char *value, *error;
	size_t len;

	if (!imap_arg_nstring(arg, &value, &len)) {
		imap_cmd_bad(cmd, "Entry values are strings or NIL");
		return -1;
	}
	if (value == NULL) {
		value = "mail";
		len = 4;
	}
	if (store_foldertype_parse(value, len, &ctx->type, &error) < 0) {
		imap_cmd_no(cmd, "[CANNOT] Invalid folder type: %s", error);
		return -1;
	}
	ctx->set_type = true;
	ctx->needed |=
	    strncmp(name, "/private/", 9) == 0 ? ACL_METADATA_PRIVATE : ACL_METADATA_SHARED;
	return 0;
}

enum imap_cmd_result
cmd_setmetadata(struct imap_cmd *cmd)
{
	const struct imap_arg *list;
	struct metadata_ctx *ctx;
	size_t n;
	const char *error;

	if (cmd->count != 2 || !imap_arg_list(&cmd->args[1], &list, &n) || n == 0 || n % 2 != 0) {
		imap_cmd_bad(cmd, "Usage: SETMETADATA mailbox (entry value ...)");
		return IMAP_CMD_DONE;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->set = true;
	cmd->ctx = ctx;
	cmd->cleanup = metadata_cleanup;
	if (metadata_mailbox(cmd, &cmd->args[0], &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	ctx->values = xcalloc(n / 2, sizeof(*ctx->values));
	for (size_t i = 0; i < n; i += 2) {
		struct store_metadata_entry *e = &ctx->values[ctx->nvalues];
		const char *value;
		size_t len;
		char *name = metadata_entry(&list[i], true, &error);
		enum imap_meta_computed kind;

		if (name == NULL) {
			imap_cmd_bad(cmd, "%s", error);
			return IMAP_CMD_DONE;
		}
		kind = imap_meta_computed(name, NULL);
		if (kind == IMAP_META_FOLDERTYPE) {
			if (metadata_type_value(cmd, name, &list[i + 1]) < 0) {
				free(name);
				return IMAP_CMD_DONE;
			}
			free(name);
			continue;
		}
		if (kind != IMAP_META_STORED) {
			free(name);
			imap_cmd_no(cmd, "[CANNOT] This entry under /public cannot be set");
			return IMAP_CMD_DONE;
		}
		e->name = name;
		ctx->nvalues++;
		if (!imap_arg_nstring(&list[i + 1], &value, &len)) {
			imap_cmd_bad(cmd, "Entry values are strings or NIL");
			return IMAP_CMD_DONE;
		}
		if (value != NULL && len > STORE_METADATA_MAX_VALUE) {
			imap_cmd_no(cmd, "[METADATA MAXSIZE %d] Value too large",
			            STORE_METADATA_MAX_VALUE);
			return IMAP_CMD_DONE;
		}
		e->value = value;
		e->len = len;
		ctx->needed |=
		    strncmp(name, "/shared/", 8) == 0 ? ACL_METADATA_SHARED : ACL_METADATA_PRIVATE;
	}
	return metadata_start(cmd);
}
