/* LIST (RFC 3501 6.3.8) with LIST-EXTENDED (RFC 5258: selection options
 * SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE; return options
 * SUBSCRIBED, CHILDREN, SPECIAL-USE, METADATA of RFC 9590 through
 * imapx/list-metadata.c; several patterns), SPECIAL-USE
 * attributes (RFC 6154), LIST-STATUS (RFC 5819) and LSUB (RFC 3501
 * 6.3.9). Names are matched in UTF-8 against the store's folder list and,
 * when a pattern can reach the other users' namespace, against the
 * folders other accounts share with the user: "~owner@domain/path" for
 * each folder with the l right (RFC 4314 4) that the user subscribed (the
 * folder, one above it or the whole account: imapx/cmd-subscribe.c; a
 * group's public folders for its members without subscribing), with
 * "~owner@domain" and any parent not listed itself as \Noselect
 * \HasChildren. Access by name does not depend on subscriptions. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "commands.h"
#include "groupware-imap.h"
#include "imap-acl.h"
#include "imap-client-private.h"
#include "mutf7.h"
#include "store-groupware.h"
#include "xmalloc.h"

/* Longest pattern accepted: matching costs pattern x name length. */
#define LIST_MAX_PATTERN 1024

#define SEL_SUBSCRIBED     0x01
#define SEL_RECURSIVEMATCH 0x02
#define SEL_SPECIALUSE     0x04
#define RET_SUBSCRIBED     0x01
#define RET_CHILDREN       0x02
#define RET_SPECIALUSE     0x04
#define RET_STATUS         0x08

struct list_ctx {
	bool lsub;
	unsigned sel, ret, status_items;
	char **patterns; /* reference + pattern, UTF-8 */
	size_t npatterns;
	bool other; /* a pattern may match "~owner/..." names */
	/* Subscriptions of "~..." names, answered with the shared folders. */
	char **orphans;
	size_t norphans;
	struct store_op *op;
	struct imap_list_metadata *md; /* RETURN (METADATA (...)), RFC 9590 */
	/* RETURN (STATUS) of shared folders whose private items the user may
	 * not see: their counters without them, read before the listing. */
	struct store_gw_counts *counts;
	size_t ncounts;
	bool counts_read;
};

static void
list_cleanup(struct imap_cmd *cmd)
{
	struct list_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	store_op_abandon(&ctx->op);
	for (size_t i = 0; i < ctx->npatterns; i++)
		free(ctx->patterns[i]);
	free(ctx->patterns);
	for (size_t i = 0; i < ctx->norphans; i++)
		free(ctx->orphans[i]);
	free(ctx->orphans);
	imap_list_metadata_free(&ctx->md);
	free(ctx->counts);
	free(ctx);
	cmd->ctx = NULL;
}

/* '*' matches anything, '%' anything but the delimiter. Dynamic
 * programming over one row: O(pattern x name), no backtracking blow-up. */
static bool
list_match_exact(const char *pat, const char *name)
{
	size_t plen = strlen(pat), nlen = strlen(name);
	bool *row = xcalloc(nlen + 1, sizeof(*row)), result;

	row[0] = true;
	for (size_t i = 0; i < plen; i++) {
		char p = pat[i];
		bool diag = row[0], prev;

		row[0] = row[0] && (p == '*' || p == '%');
		prev = row[0];
		for (size_t j = 1; j <= nlen; j++) {
			bool up = row[j], cur;

			if (p == '*')
				cur = up || prev;
			else if (p == '%')
				cur = up || (prev && name[j - 1] != '/');
			else
				cur = diag && p == name[j - 1];
			diag = up;
			row[j] = cur;
			prev = cur;
		}
	}
	result = row[nlen];
	free(row);
	return result;
}

/* INBOX is case-insensitive: a pattern starting with some spelling of it
 * (or a prefix of it before a wildcard) also matches "INBOX...". */
static bool
list_match(const char *pat, const char *name)
{
	char *upper;
	bool ok;

	if (list_match_exact(pat, name))
		return true;
	if (strncmp(name, "INBOX", 5) != 0)
		return false;
	upper = xstrdup(pat);
	for (size_t i = 0; i < 5 && upper[i] != '\0' && upper[i] != '*' && upper[i] != '%'; i++) {
		if (upper[i] >= 'a' && upper[i] <= 'z')
			upper[i] = (char)(upper[i] - 'a' + 'A');
	}
	ok = list_match_exact(upper, name);
	free(upper);
	return ok;
}

static bool
list_matches(const struct list_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->npatterns; i++) {
		if (list_match(ctx->patterns[i], name))
			return true;
	}
	return false;
}

static const char *
list_special_use_attr(const char *special_use)
{
	static const struct {
		const char *store, *attr;
	} map[] = {
	    {"sent", "\\Sent"},       {"drafts", "\\Drafts"},   {"trash", "\\Trash"},
	    {"junk", "\\Junk"},       {"archive", "\\Archive"}, {"all", "\\All"},
	    {"flagged", "\\Flagged"},
	};

	if (special_use == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
		if (strcasecmp(map[i].store, special_use) == 0)
			return map[i].attr;
	}
	return NULL;
}

/* True if a folder below f (by path) is subscribed. */
static bool
list_has_subscribed_child(const struct store_folder_list *list, const struct store_folder *f)
{
	size_t len = strlen(f->path);

	for (size_t i = 0; i < list->count; i++) {
		const struct store_folder *o = &list->folders[i];

		if (o->subscribed && strncmp(o->path, f->path, len) == 0 && o->path[len] == '/')
			return true;
	}
	for (size_t i = 0; i < list->orphan_count; i++) {
		const char *o = list->orphan_subscriptions[i];

		if (strncmp(o, f->path, len) == 0 && o[len] == '/')
			return true;
	}
	return false;
}

static void
list_write_line(struct imap_cmd *cmd, const char *verb, const char *attrs, const char *name,
                bool childinfo)
{
	struct imap_client *c = cmd->client;

	imap_client_printf(c, "* %s (%s) \"/\" ", verb, attrs);
	imap_write_mailbox(c, name);
	if (childinfo)
		imap_client_printf(c, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	imap_client_printf(c, "\r\n");
}

static void
list_folder(struct imap_cmd *cmd, const struct store_folder_list *list,
            const struct store_folder *f)
{
	struct list_ctx *ctx = cmd->ctx;
	const char *special = list_special_use_attr(f->special_use);
	bool childinfo = false;
	char attrs[128];

	if (!list_matches(ctx, f->path))
		return;
	if ((ctx->sel & SEL_SPECIALUSE) != 0 && special == NULL)
		return;
	if ((ctx->sel & SEL_SUBSCRIBED) != 0 && !f->subscribed) {
		/* RECURSIVEMATCH: a parent whose children match is listed with
		 * CHILDINFO (RFC 5258 3.5). */
		if ((ctx->sel & SEL_RECURSIVEMATCH) == 0 || !list_has_subscribed_child(list, f))
			return;
		childinfo = true;
	}
	attrs[0] = '\0';
	strcat(attrs, f->has_children ? "\\HasChildren" : "\\HasNoChildren");
	if (special != NULL) {
		strcat(attrs, " ");
		strcat(attrs, special);
	}
	if (f->subscribed && (ctx->ret & RET_SUBSCRIBED) != 0 && !childinfo)
		strcat(attrs, " \\Subscribed");
	list_write_line(cmd, "LIST", attrs, f->path, childinfo);
	if ((ctx->ret & RET_STATUS) != 0)
		imap_status_write(cmd->client, f, ctx->status_items);
	imap_list_metadata_write(cmd->client, ctx->md, imap_client_account_id(cmd->client), f,
	                         f->path, true, ACL_ALL);
}

/* A subscription in the other users' namespace is answered once the
 * shared folders are known. Returns true if it was kept for then. */
static bool
list_defer_orphan(struct list_ctx *ctx, const char *name)
{
	if (!ctx->other || !imap_mailbox_is_other(name))
		return false;
	ctx->orphans = xreallocarray(ctx->orphans, ctx->norphans + 1, sizeof(*ctx->orphans));
	ctx->orphans[ctx->norphans++] = xstrdup(name);
	return true;
}

static void
list_lsub(struct imap_cmd *cmd, const struct store_folder_list *list)
{
	struct list_ctx *ctx = cmd->ctx;

	for (size_t i = 0; i < list->count; i++) {
		const struct store_folder *f = &list->folders[i];

		if (f->subscribed && list_matches(ctx, f->path))
			list_write_line(cmd, "LSUB", "", f->path, false);
	}
	for (size_t i = 0; i < list->orphan_count; i++) {
		if (list_matches(ctx, list->orphan_subscriptions[i]) &&
		    !list_defer_orphan(ctx, list->orphan_subscriptions[i]))
			list_write_line(cmd, "LSUB", "\\Noselect", list->orphan_subscriptions[i],
			                false);
	}
}

/* ---------------------------------------------------------------------
 * The other users' namespace
 */

/* One name to answer: a shared folder, or a parent of some (the owner's
 * root "~owner", or a folder the user may not see) shown as \Noselect. */
struct list_other {
	const char *name;
	const struct store_acl_shared *folder; /* NULL: a parent only */
	bool children;                         /* a visible name below it */
};

static int
list_other_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_other *)a)->name, ((const struct list_other *)b)->name);
}

/* The first entry whose name is >= key (count if none); entries sorted. */
static size_t
list_other_lower(const struct list_other *v, size_t count, const char *key)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid].name, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether a name below prefix + "/" exists in v (sorted), optionally
 * only a subscribed shared folder. */
static bool
list_other_below(const struct list_other *v, size_t count, const char *name, bool subscribed)
{
	char *prefix = xasprintf("%s/", name);
	size_t len = strlen(prefix), i = list_other_lower(v, count, prefix);
	bool found = false;

	for (; i < count && strncmp(v[i].name, prefix, len) == 0; i++) {
		if (!subscribed || (v[i].folder != NULL && v[i].folder->folder.subscribed)) {
			found = true;
			break;
		}
	}
	free(prefix);
	return found;
}

/* Every subscribed shared folder and every parent of one, sorted, each
 * once. The names of parents are allocated into *names_r (freed by the
 * caller). */
static struct list_other *
list_other_build(const struct store_acl_shared_list *shared, size_t *count_r, char ***names_r,
                 size_t *nnames_r)
{
	struct list_other *v = NULL;
	size_t count = 0, alloc = 0, nnames = 0;
	char **names = NULL;

	for (size_t i = 0; i < shared->count; i++) {
		const char *name = shared->folders[i].folder.path;

		/* Only what the user subscribed is listed. */
		if (!shared->folders[i].folder.subscribed)
			continue;

		/* The folder, then each parent: "~o", "~o/a", "~o/a/b", ... */
		for (const char *p = strchr(name, '/');; p = strchr(p + 1, '/')) {
			if (count == alloc) {
				alloc = alloc == 0 ? 64 : alloc * 2;
				v = xreallocarray(v, alloc, sizeof(*v));
			}
			if (p == NULL) {
				v[count++] = (struct list_other){.name = name,
				                                 .folder = &shared->folders[i]};
				break;
			}
			names = xreallocarray(names, nnames + 1, sizeof(*names));
			names[nnames] = xstrndup(name, (size_t)(p - name));
			v[count++] = (struct list_other){.name = names[nnames++]};
		}
	}
	if (count > 1) /* qsort of NULL is undefined, even for 0 elements */
		qsort(v, count, sizeof(*v), list_other_cmp);
	/* Drop duplicates, keeping the shared folder over a parent entry. */
	size_t out = 0;
	for (size_t i = 0; i < count; i++) {
		if (out > 0 && strcmp(v[out - 1].name, v[i].name) == 0) {
			if (v[i].folder != NULL)
				v[out - 1] = v[i];
			continue;
		}
		v[out++] = v[i];
	}
	count = out;
	for (size_t i = 0; i < count; i++)
		v[i].children = list_other_below(v, count, v[i].name, false);
	*count_r = count;
	*names_r = names;
	*nnames_r = nnames;
	return v;
}

/* Whether STATUS of this shared folder must leave private items out. */
static bool
list_status_restricted(struct imap_cmd *cmd, const struct store_acl_shared *sf, unsigned rights)
{
	struct list_ctx *ctx = cmd->ctx;

	return (ctx->status_items & IMAP_STATUS_COUNTS) != 0 &&
	       imap_view_restricts(imap_client_account_id(cmd->client), sf->owner_id,
	                           sf->folder.type, rights);
}

static void
list_status_shared(struct imap_cmd *cmd, const struct store_acl_shared *sf, unsigned rights)
{
	struct list_ctx *ctx = cmd->ctx;
	struct store_folder f;

	if (!list_status_restricted(cmd, sf, rights)) {
		imap_status_write(cmd->client, &sf->folder, ctx->status_items);
		return;
	}
	for (size_t i = 0; i < ctx->ncounts; i++) {
		if (ctx->counts[i].owner_id == sf->owner_id &&
		    ctx->counts[i].folder_id == sf->folder.id) {
			f = sf->folder;
			imap_status_apply_counts(&f, &ctx->counts[i]);
			imap_status_write(cmd->client, &f, ctx->status_items);
			return;
		}
	}
	/* Shared after the counters were read (or past the limit): no
	 * STATUS rather than one that counts private items. */
}

static void list_shared_cb(const struct store_acl_shared_list *shared, const char *error,
                           void *context);

static void
list_counts_cb(const struct store_gw_counts *counts, size_t count, enum store_err code,
               const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct list_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (counts == NULL) {
		imap_cmd_store_error(cmd, "Cannot read the status", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	ctx->counts = xcalloc(count + 1, sizeof(*ctx->counts));
	memcpy(ctx->counts, counts, count * sizeof(*counts));
	ctx->ncounts = count;
	ctx->op = store_acl_shared(imap_client_store(cmd->client),
	                           imap_client_account_id(cmd->client), list_shared_cb, cmd);
}

/* Asks for the counters of the restricted folders that LIST-STATUS may
 * report, then lists the shared folders again. False when none. */
static bool
list_read_counts(struct imap_cmd *cmd, const struct store_acl_shared_list *shared)
{
	struct list_ctx *ctx = cmd->ctx;
	uint64_t(*folders)[2];
	size_t n = 0;

	if ((ctx->ret & RET_STATUS) == 0 || ctx->lsub || ctx->counts_read)
		return false;
	ctx->counts_read = true;
	folders = xcalloc(shared->count + 1, sizeof(*folders));
	for (size_t i = 0; i < shared->count && n < STORE_GW_COUNTS_MAX; i++) {
		const struct store_acl_shared *sf = &shared->folders[i];
		unsigned rights = imap_rights_from_store(sf->rights);

		if (sf->folder.subscribed && !sf->folder.noselect && (rights & ACL_READ) != 0 &&
		    list_matches(ctx, sf->folder.path) && list_status_restricted(cmd, sf, rights)) {
			folders[n][0] = sf->owner_id;
			folders[n][1] = sf->folder.id;
			n++;
		}
	}
	if (n > 0)
		ctx->op = store_groupware_visible_counts(imap_client_store(cmd->client),
		                                         (const uint64_t(*)[2])folders, n,
		                                         list_counts_cb, cmd);
	free(folders);
	return n > 0;
}

static void
list_other_write(struct imap_cmd *cmd, const struct list_other *v, size_t count,
                 const struct list_other *o)
{
	struct list_ctx *ctx = cmd->ctx;
	const struct store_acl_shared *sf = o->folder;
	bool subscribed = sf != NULL && sf->folder.subscribed, childinfo = false;
	unsigned rights = sf != NULL ? imap_rights_from_store(sf->rights) : 0;
	char attrs[128];

	if (!list_matches(ctx, o->name))
		return;
	/* Special uses describe one's own folders only. */
	if ((ctx->sel & SEL_SPECIALUSE) != 0)
		return;
	if ((ctx->sel & SEL_SUBSCRIBED) != 0 && !subscribed) {
		if ((ctx->sel & SEL_RECURSIVEMATCH) == 0 ||
		    !list_other_below(v, count, o->name, true))
			return;
		childinfo = true;
	}
	attrs[0] = '\0';
	if (sf == NULL || sf->folder.noselect)
		strcat(attrs, "\\Noselect ");
	strcat(attrs, o->children ? "\\HasChildren" : "\\HasNoChildren");
	if (subscribed && (ctx->ret & RET_SUBSCRIBED) != 0 && !childinfo)
		strcat(attrs, " \\Subscribed");
	list_write_line(cmd, "LIST", attrs, o->name, childinfo);
	if ((ctx->ret & RET_STATUS) != 0 && sf != NULL && !sf->folder.noselect &&
	    (rights & ACL_READ) != 0)
		list_status_shared(cmd, sf, rights);
	if (sf != NULL)
		imap_list_metadata_write(cmd->client, ctx->md, sf->owner_id, &sf->folder, o->name,
		                         false, rights);
}

static bool
list_other_visible(const struct list_other *v, size_t count, const char *name)
{
	size_t i = list_other_lower(v, count, name);

	return i < count && strcmp(v[i].name, name) == 0 && v[i].folder != NULL &&
	       !v[i].folder->folder.noselect;
}

static void
list_shared_cb(const struct store_acl_shared_list *shared, const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct list_ctx *ctx = cmd->ctx;
	struct list_other *v;
	size_t count, nnames;
	char **names;

	ctx->op = NULL;
	if (shared == NULL) {
		imap_cmd_store_error(cmd, "Cannot list shared mailboxes", STORE_ERR_INTERNAL,
		                     error);
		imap_cmd_finish(cmd);
		return;
	}
	if (list_read_counts(cmd, shared))
		return;
	v = list_other_build(shared, &count, &names, &nnames);
	if (ctx->lsub) {
		for (size_t i = 0; i < count; i++) {
			if (v[i].folder != NULL && v[i].folder->folder.subscribed &&
			    list_matches(ctx, v[i].name))
				list_write_line(cmd, "LSUB",
				                v[i].folder->folder.noselect ? "\\Noselect" : "",
				                v[i].name, false);
		}
	} else {
		for (size_t i = 0; i < count; i++)
			list_other_write(cmd, v, count, &v[i]);
	}
	/* Subscribed names the user cannot see (any more) look like names
	 * of nothing. */
	for (size_t i = 0; i < ctx->norphans; i++) {
		if (list_other_visible(v, count, ctx->orphans[i]))
			continue;
		if (ctx->lsub)
			list_write_line(cmd, "LSUB", "\\Noselect", ctx->orphans[i], false);
		else
			list_write_line(cmd, "LIST", "\\NonExistent \\Subscribed", ctx->orphans[i],
			                false);
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(v);
	imap_cmd_ok(cmd, "%s completed", cmd->name);
	imap_cmd_finish(cmd);
}

static void
list_cb(const struct store_folder_list *list, const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct list_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (list == NULL) {
		imap_cmd_store_error(cmd, "Cannot list mailboxes", STORE_ERR_INTERNAL, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (ctx->lsub) {
		list_lsub(cmd, list);
	} else {
		for (size_t i = 0; i < list->count; i++)
			list_folder(cmd, list, &list->folders[i]);
		for (size_t i = 0; (ctx->sel & SEL_SUBSCRIBED) != 0 && i < list->orphan_count;
		     i++) {
			if (list_matches(ctx, list->orphan_subscriptions[i]) &&
			    !list_defer_orphan(ctx, list->orphan_subscriptions[i]))
				list_write_line(cmd, "LIST", "\\NonExistent \\Subscribed",
				                list->orphan_subscriptions[i], false);
		}
	}
	if (ctx->other) {
		ctx->op =
		    store_acl_shared(imap_client_store(cmd->client),
		                     imap_client_account_id(cmd->client), list_shared_cb, cmd);
		return;
	}
	imap_cmd_ok(cmd, "%s completed", cmd->name);
	imap_cmd_finish(cmd);
}

/* The stored METADATA entries are known: list the folders. */
static void
list_metadata_cb(const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct list_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (error != NULL) {
		imap_cmd_store_error(cmd, "Cannot read metadata", STORE_ERR_INTERNAL, error);
		imap_cmd_finish(cmd);
		return;
	}
	ctx->op = store_folder_list(imap_client_store(cmd->client),
	                            imap_client_account_id(cmd->client), list_cb, cmd);
}

/* Decodes a reference or pattern (mUTF-7, or UTF-8 after UTF8=ACCEPT). */
static int
list_decode(struct imap_client *c, const char *s, size_t len, char **utf8_r, const char **error_r)
{
	if (len > LIST_MAX_PATTERN || memchr(s, '\0', len) != NULL) {
		*error_r = "Mailbox pattern too long or contains NUL";
		return -1;
	}
	if (imap_client_has(c, IMAP_ENABLED_UTF8 | IMAP_ENABLED_REV2)) {
		if (mutf7_utf8_validate(s, len, error_r) < 0)
			return -1;
		*utf8_r = xstrndup(s, len);
		return 0;
	}
	if (len == 0) {
		*utf8_r = xstrdup("");
		return 0;
	}
	return mutf7_decode(s, len, utf8_r, error_r);
}

static const char *
list_add_pattern(struct imap_cmd *cmd, const char *ref, const struct imap_arg *arg)
{
	struct list_ctx *ctx = cmd->ctx;
	const char *s, *error;
	size_t len;
	char *pat;

	if (!imap_arg_astring(arg, &s, &len))
		return "Mailbox pattern expected";
	if (list_decode(cmd->client, s, len, &pat, &error) < 0)
		return error;
	ctx->patterns = xreallocarray(ctx->patterns, ctx->npatterns + 1, sizeof(*ctx->patterns));
	ctx->patterns[ctx->npatterns++] = xasprintf("%s%s", ref, pat);
	free(pat);
	return NULL;
}

static const char *
list_parse_options(struct list_ctx *ctx, const struct imap_arg *sel, size_t nsel,
                   const struct imap_arg *ret, size_t nret)
{
	const struct imap_arg *items;
	size_t nitems;
	const char *error;

	for (size_t i = 0; i < nsel; i++) {
		if (imap_arg_atom_equals(&sel[i], "SUBSCRIBED"))
			ctx->sel |= SEL_SUBSCRIBED;
		else if (imap_arg_atom_equals(&sel[i], "RECURSIVEMATCH"))
			ctx->sel |= SEL_RECURSIVEMATCH;
		else if (imap_arg_atom_equals(&sel[i], "SPECIAL-USE"))
			ctx->sel |= SEL_SPECIALUSE;
		else if (!imap_arg_atom_equals(&sel[i], "REMOTE"))
			return "Unknown LIST selection option";
	}
	if (ctx->sel == SEL_RECURSIVEMATCH)
		return "RECURSIVEMATCH needs another selection option";
	for (size_t i = 0; i < nret; i++) {
		if (imap_arg_atom_equals(&ret[i], "SUBSCRIBED")) {
			ctx->ret |= RET_SUBSCRIBED;
		} else if (imap_arg_atom_equals(&ret[i], "CHILDREN")) {
			ctx->ret |= RET_CHILDREN;
		} else if (imap_arg_atom_equals(&ret[i], "SPECIAL-USE")) {
			ctx->ret |= RET_SPECIALUSE;
		} else if (imap_arg_atom_equals(&ret[i], "STATUS") && i + 1 < nret &&
		           imap_arg_list(&ret[i + 1], &items, &nitems)) {
			if (imap_status_parse_items(items, nitems, &ctx->status_items, &error) < 0)
				return error;
			ctx->ret |= RET_STATUS;
			i++;
		} else if (imap_arg_atom_equals(&ret[i], "METADATA") && i + 1 < nret) {
			if (imap_list_metadata_parse(&ret[++i], &ctx->md, &error) < 0)
				return error;
		} else {
			return "Unknown LIST return option";
		}
	}
	if ((ctx->sel & SEL_SUBSCRIBED) != 0)
		ctx->ret |= RET_SUBSCRIBED;
	return NULL;
}

static enum imap_cmd_result
list_start(struct imap_cmd *cmd, bool lsub)
{
	struct imap_client *c = cmd->client;
	const struct imap_arg *args = cmd->args, *sel = NULL, *ret = NULL, *pats;
	size_t count = cmd->count, nsel = 0, nret = 0, npats;
	const char *s, *error;
	struct list_ctx *ctx;
	size_t len;
	char *ref;

	if (!lsub && count > 0 && imap_arg_list(&args[0], &sel, &nsel)) {
		args++;
		count--;
	}
	if (!lsub && count == 4 && imap_arg_atom_equals(&args[2], "RETURN") &&
	    imap_arg_list(&args[3], &ret, &nret))
		count = 2;
	if (count != 2 || !imap_arg_astring(&args[0], &s, &len)) {
		imap_cmd_bad(cmd, "Usage: %s reference mailbox", cmd->name);
		return IMAP_CMD_DONE;
	}
	if (list_decode(c, s, len, &ref, &error) < 0) {
		imap_cmd_bad(cmd, "Invalid reference: %s", error);
		return IMAP_CMD_DONE;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->lsub = lsub;
	cmd->ctx = ctx;
	cmd->cleanup = list_cleanup;
	if ((error = list_parse_options(ctx, sel, nsel, ret, nret)) != NULL) {
		free(ref);
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (!lsub && imap_arg_list(&args[1], &pats, &npats)) {
		for (size_t i = 0; i < npats && error == NULL; i++)
			error = list_add_pattern(cmd, ref, &pats[i]);
		if (npats == 0)
			error = "Empty pattern list";
	} else {
		error = list_add_pattern(cmd, ref, &args[1]);
	}
	free(ref);
	if (error != NULL) {
		imap_cmd_bad(cmd, "Invalid mailbox pattern: %s", error);
		return IMAP_CMD_DONE;
	}
	/* Only a pattern starting with "~" or a wildcard can match a name of
	 * the other users' namespace; others need no second query. */
	for (size_t i = 0; i < ctx->npatterns; i++) {
		if (strchr("~*%", ctx->patterns[i][0]) != NULL && ctx->patterns[i][0] != '\0')
			ctx->other = true;
	}
	/* LIST "" "": the hierarchy delimiter and root (RFC 3501 6.3.8). */
	if (!lsub && ctx->npatterns == 1 && ctx->patterns[0][0] == '\0' && nsel == 0) {
		imap_client_untagged(c, "LIST (\\Noselect) \"/\" \"\"");
		imap_cmd_ok(cmd, "LIST completed");
		return IMAP_CMD_DONE;
	}
	if (imap_list_metadata_needs_load(ctx->md)) {
		/* ctx->md owns the loading (it may take several queries) and
		 * abandons it when freed. */
		(void)imap_list_metadata_load(ctx->md, c, ctx->other, list_metadata_cb, cmd);
		return IMAP_CMD_ASYNC;
	}
	ctx->op = store_folder_list(imap_client_store(c), imap_client_account_id(c), list_cb, cmd);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result
cmd_list(struct imap_cmd *cmd)
{
	return list_start(cmd, false);
}

enum imap_cmd_result
cmd_lsub(struct imap_cmd *cmd)
{
	return list_start(cmd, true);
}
