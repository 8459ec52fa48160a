/* Multi-mailbox search (RFC 7377 MULTISEARCH): "ESEARCH IN (sources)
 * [RETURN (options)] criteria", and IceWarp's spelling "MSEARCH (sources)
 * [[RETURN] (options)] criteria". Sources: selected, selected-delayed,
 * inboxes, personal, subscribed, subtree, subtree-one and mailboxes (names
 * may be in the other users' namespace). Each mailbox the user may read
 * (r) is searched with the same store query as SEARCH; mailboxes that do
 * not exist and mailboxes the user may not read are skipped alike, so
 * nothing tells them apart. The answer is one "* ESEARCH (TAG "t" MAILBOX
 * "m" UIDVALIDITY n) UID ..." per mailbox with matches, in UIDs.
 * Message sequence numbers and "$" have no meaning across mailboxes and
 * are refused; "*" in a UID set stands for the highest possible UID. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "imap-acl.h"
#include "msg-util.h"
#include "search-parse.h"
#include "seqset.h"
#include "store-groupware.h"
#include "xmalloc.h"

/* Mailboxes named in one command, at most. */
#define MSEARCH_MAX_NAMES 1000

enum msearch_source {
	SRC_SELECTED = 0x01,
	SRC_INBOXES = 0x02,
	SRC_PERSONAL = 0x04,
	SRC_SUBSCRIBED = 0x08,
	SRC_NAMES = 0x10, /* mailboxes, subtree, subtree-one */
};

enum msearch_match {
	MATCH_EXACT,   /* mailboxes */
	MATCH_SUBTREE, /* the name and everything below */
	MATCH_ONE,     /* the name and its children */
};

struct msearch_name {
	char *name; /* UTF-8 */
	enum msearch_match match;
};

struct msearch_target {
	uint64_t owner_id, folder_id;
	uint32_t uidvalidity;
	char *name;
	bool restricted; /* its private items are hidden (imap_view_restricts) */
};

struct msearch_ctx {
	struct imap_cmd *cmd;
	struct store_op *op;
	unsigned sources;
	struct msearch_name *names;
	size_t nnames;
	bool other; /* a name in the other users' namespace, or subscribed */
	struct imap_search_query q;
	unsigned returns;
	struct store_search tree;
	bool have_tree;
	struct msearch_target *targets;
	size_t ntargets, next;
	/* A restricted target's matches while its private UIDs are read */
	uint32_t *found;
	size_t nfound;
	uint64_t found_modseq;
};

static void
msearch_cleanup(struct imap_cmd *cmd)
{
	struct msearch_ctx *c = cmd->ctx;

	if (c == NULL)
		return;
	store_op_abandon(&c->op);
	if (c->have_tree)
		imap_search_store_free(&c->tree);
	imap_search_query_clear(&c->q);
	for (size_t i = 0; i < c->nnames; i++)
		free(c->names[i].name);
	free(c->names);
	for (size_t i = 0; i < c->ntargets; i++)
		free(c->targets[i].name);
	free(c->targets);
	free(c->found);
	free(c);
	cmd->ctx = NULL;
}

/* --- Which mailboxes --- */

/* Whether path starts with name[0..len): the "~owner@domain" part of a
 * name in the other users' namespace in any case, the rest exactly. */
static bool
msearch_prefix(const char *path, const char *name, size_t len)
{
	const char *slash = name[0] == '~' ? memchr(name, '/', len) : NULL;
	size_t olen = name[0] != '~' ? 0 : slash != NULL ? (size_t)(slash - name) : len;

	return strlen(path) >= len && strncasecmp(path, name, olen) == 0 &&
	       strncmp(path + olen, name + olen, len - olen) == 0;
}

static bool
msearch_matches(const struct msearch_name *n, const char *path)
{
	size_t len = strlen(n->name);

	if (!msearch_prefix(path, n->name, len))
		return false;
	if (path[len] == '\0')
		return true;
	if (n->match == MATCH_EXACT || path[len] != '/')
		return false;
	return n->match == MATCH_SUBTREE || strchr(path + len + 1, '/') == NULL;
}

static void
msearch_add(struct msearch_ctx *c, uint64_t owner_id, const struct store_folder *f,
            const char *name, unsigned rights)
{
	for (size_t i = 0; i < c->ntargets; i++) {
		if (c->targets[i].owner_id == owner_id && c->targets[i].folder_id == f->id)
			return;
	}
	c->targets = xreallocarray(c->targets, c->ntargets + 1, sizeof(*c->targets));
	c->targets[c->ntargets++] = (struct msearch_target){
	    .owner_id = owner_id,
	    .folder_id = f->id,
	    .uidvalidity = f->uidvalidity,
	    .name = xstrdup(name),
	    .restricted = imap_view_restricts(imap_client_account_id(c->cmd->client), owner_id,
	                                      f->type, rights),
	};
}

/* Whether a folder (own, or shared with the user) is one of the sources. */
static bool
msearch_wanted(const struct msearch_ctx *c, const struct store_folder *f, bool own)
{
	if (f->noselect)
		return false;
	if (own && (c->sources & SRC_PERSONAL) != 0)
		return true;
	if (own && (c->sources & SRC_INBOXES) != 0 && strcmp(f->path, "INBOX") == 0)
		return true;
	if ((c->sources & SRC_SUBSCRIBED) != 0 && f->subscribed)
		return true;
	for (size_t i = 0; i < c->nnames; i++) {
		if (msearch_matches(&c->names[i], f->path))
			return true;
	}
	return false;
}

/* --- Searching each mailbox in turn --- */

static void msearch_next(struct msearch_ctx *c);

static void
msearch_write(struct msearch_ctx *c, const struct msearch_target *t,
              const struct store_search_result *res)
{
	struct imap_client *cl = c->cmd->client;
	unsigned ret = c->returns;

	if (res->count == 0)
		return;
	imap_client_printf(cl, "* ESEARCH (TAG ");
	imap_write_quoted(cl, c->cmd->tag, strlen(c->cmd->tag));
	imap_client_printf(cl, " MAILBOX ");
	imap_write_mailbox(cl, t->name);
	imap_client_printf(cl, " UIDVALIDITY %u) UID", t->uidvalidity);
	if ((ret & IMAP_SEARCH_RETURN_MIN) != 0)
		imap_client_printf(cl, " MIN %u", res->uids[0]);
	if ((ret & IMAP_SEARCH_RETURN_MAX) != 0)
		imap_client_printf(cl, " MAX %u", res->uids[res->count - 1]);
	if ((ret & IMAP_SEARCH_RETURN_COUNT) != 0)
		imap_client_printf(cl, " COUNT %zu", res->count);
	if ((ret & IMAP_SEARCH_RETURN_ALL) != 0) {
		char *set = imap_uid_list_format(res->uids, NULL, res->count);

		imap_client_printf(cl, " ALL %s", set);
		free(set);
	}
	if (c->q.uses_modseq)
		imap_client_printf(cl, " MODSEQ %llu", (unsigned long long)res->highestmodseq);
	imap_client_printf(cl, "\r\n");
}

/* A restricted target: its matches without the private items, read after
 * the search so that none that matched is missed. */
static void
msearch_private_cb(const uint32_t *uids, size_t count, enum store_err code, const char *error,
                   void *ctx)
{
	struct msearch_ctx *c = ctx;
	struct store_search_result res = {.uids = c->found, .highestmodseq = c->found_modseq};
	size_t k = 0;

	c->op = NULL;
	if (uids == NULL && code != STORE_ERR_NOT_FOUND) {
		imap_cmd_store_error(c->cmd, "Search failed", code, error);
		imap_cmd_finish(c->cmd);
		return;
	}
	for (size_t i = 0, j = 0; uids != NULL && i < c->nfound; i++) {
		while (j < count && uids[j] < c->found[i])
			j++;
		if (j < count && uids[j] == c->found[i])
			continue;
		c->found[k++] = c->found[i];
	}
	res.count = uids != NULL ? k : 0;
	msearch_write(c, &c->targets[c->next], &res);
	free(c->found);
	c->found = NULL;
	c->next++;
	msearch_next(c);
}

static void
msearch_cb(const struct store_search_result *res, enum store_err code, const char *error, void *ctx)
{
	struct msearch_ctx *c = ctx;
	const struct msearch_target *t = &c->targets[c->next];

	c->op = NULL;
	if (res != NULL && t->restricted && res->count > 0) {
		c->found = xcalloc(res->count, sizeof(*c->found));
		memcpy(c->found, res->uids, res->count * sizeof(*c->found));
		c->nfound = res->count;
		c->found_modseq = res->highestmodseq;
		c->op = store_groupware_private_uids(imap_client_store(c->cmd->client), t->owner_id,
		                                     t->folder_id, 0, msearch_private_cb, c);
		return;
	}
	if (res == NULL) {
		/* A mailbox deleted meanwhile is skipped like a missing one. */
		if (code != STORE_ERR_NOT_FOUND) {
			imap_cmd_store_error(c->cmd, "Search failed", code, error);
			imap_cmd_finish(c->cmd);
			return;
		}
	} else {
		msearch_write(c, &c->targets[c->next], res);
	}
	c->next++;
	msearch_next(c);
}

static void
msearch_next(struct msearch_ctx *c)
{
	if (c->next < c->ntargets) {
		const struct msearch_target *t = &c->targets[c->next];

		c->op = store_search(imap_client_store(c->cmd->client), t->owner_id, t->folder_id,
		                     &c->tree, NULL, 0, msearch_cb, c);
		return;
	}
	imap_cmd_ok(c->cmd, "%s completed", c->cmd->name);
	imap_cmd_finish(c->cmd);
}

/* --- Collecting the mailboxes --- */

static void
msearch_shared_cb(const struct store_acl_shared_list *list, const char *error, void *ctx)
{
	struct msearch_ctx *c = ctx;

	c->op = NULL;
	if (list == NULL) {
		imap_cmd_store_error(c->cmd, "Cannot list shared mailboxes", STORE_ERR_INTERNAL,
		                     error);
		imap_cmd_finish(c->cmd);
		return;
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct store_acl_shared *s = &list->folders[i];

		if ((imap_rights_from_store(s->rights) & ACL_READ) != 0 &&
		    msearch_wanted(c, &s->folder, false))
			msearch_add(c, s->owner_id, &s->folder, s->folder.path,
			            imap_rights_from_store(s->rights));
	}
	msearch_next(c);
}

static void
msearch_list_cb(const struct store_folder_list *list, const char *error, void *ctx)
{
	struct msearch_ctx *c = ctx;
	struct imap_client *cl = c->cmd->client;

	c->op = NULL;
	if (list == NULL) {
		imap_cmd_store_error(c->cmd, "Cannot list mailboxes", STORE_ERR_INTERNAL, error);
		imap_cmd_finish(c->cmd);
		return;
	}
	for (size_t i = 0; i < list->count; i++) {
		if (msearch_wanted(c, &list->folders[i], true))
			msearch_add(c, imap_client_account_id(cl), &list->folders[i],
			            list->folders[i].path, ACL_ALL);
	}
	if (c->other) {
		c->op = store_acl_shared(imap_client_store(cl), imap_client_account_id(cl),
		                         msearch_shared_cb, c);
		return;
	}
	msearch_next(c);
}

/* --- Parsing --- */

/* UID sets only: sequence numbers and "$" belong to one mailbox. */
static int
msearch_resolve(const char *set, bool uid, struct seqset *uids_r, void *ctx, const char **error_r)
{
	struct seqset *parsed;

	(void)ctx;
	if (!uid) {
		*error_r = "Message sequence numbers cannot be used across mailboxes (use UID)";
		return -1;
	}
	if (strcmp(set, "$") == 0) {
		*error_r = "The saved result $ cannot be used across mailboxes";
		return -1;
	}
	parsed = seqset_create();
	if (seqset_parse(parsed, set, strlen(set), UINT32_MAX, 0, error_r) < 0) {
		seqset_destroy(&parsed);
		return -1;
	}
	seqset_merge(uids_r, parsed);
	seqset_destroy(&parsed);
	return 0;
}

static const char *
msearch_add_names(struct msearch_ctx *c, const struct imap_arg *arg, enum msearch_match match)
{
	const struct imap_arg *list = arg;
	size_t count = 1;
	const char *error;

	if (arg->type == IMAP_ARG_LIST && !imap_arg_list(arg, &list, &count))
		return "Mailbox list expected";
	if (count == 0)
		return "Empty mailbox list";
	if (c->nnames + count > MSEARCH_MAX_NAMES)
		return "Too many mailboxes";
	for (size_t i = 0; i < count; i++) {
		char *name;

		if (imap_arg_mailbox(c->cmd->client, &list[i], &name, &error) < 0)
			return error;
		if (imap_mailbox_is_other(name))
			c->other = true;
		c->names = xreallocarray(c->names, c->nnames + 1, sizeof(*c->names));
		c->names[c->nnames++] = (struct msearch_name){.name = name, .match = match};
	}
	c->sources |= SRC_NAMES;
	return NULL;
}

/* The source list "(personal mailboxes (a b) ...)". */
static const char *
msearch_parse_sources(struct msearch_ctx *c, const struct imap_arg *arg)
{
	const struct imap_arg *list;
	size_t count;
	const char *error;

	if (!imap_arg_list(arg, &list, &count) || count == 0)
		return "Expected a list of mailbox sources";
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &list[i];

		if (imap_arg_atom_equals(a, "selected") ||
		    imap_arg_atom_equals(a, "selected-delayed"))
			c->sources |= SRC_SELECTED;
		else if (imap_arg_atom_equals(a, "inboxes"))
			c->sources |= SRC_INBOXES;
		else if (imap_arg_atom_equals(a, "personal"))
			c->sources |= SRC_PERSONAL;
		else if (imap_arg_atom_equals(a, "subscribed"))
			c->sources |= SRC_SUBSCRIBED;
		else if (i + 1 < count && (imap_arg_atom_equals(a, "mailboxes") ||
		                           imap_arg_atom_equals(a, "subtree") ||
		                           imap_arg_atom_equals(a, "subtree-one"))) {
			enum msearch_match m = imap_arg_atom_equals(a, "mailboxes") ? MATCH_EXACT
			                       : imap_arg_atom_equals(a, "subtree") ? MATCH_SUBTREE
			                                                            : MATCH_ONE;

			if ((error = msearch_add_names(c, &list[++i], m)) != NULL)
				return error;
		} else {
			return "Unknown mailbox source (selected, inboxes, personal, subscribed, "
			       "subtree, subtree-one, mailboxes)";
		}
	}
	if ((c->sources & SRC_SUBSCRIBED) != 0)
		c->other = true;
	return NULL;
}

/* IceWarp's bare return option list "(X-NOFALLBACK ALL)": options and
 * X- extensions (ignored). Returns false when arg is not such a list. */
static bool
msearch_bare_returns(const struct imap_arg *arg, unsigned *returns_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
	    {"MIN", IMAP_SEARCH_RETURN_MIN},     {"MAX", IMAP_SEARCH_RETURN_MAX},
	    {"COUNT", IMAP_SEARCH_RETURN_COUNT}, {"ALL", IMAP_SEARCH_RETURN_ALL},
	    {"SAVE", IMAP_SEARCH_RETURN_SAVE},
	};
	const struct imap_arg *list;
	size_t count;
	unsigned returns = 0;

	if (!imap_arg_list(arg, &list, &count))
		return false;
	for (size_t i = 0; i < count; i++) {
		const char *s;
		bool known = false;

		if (list[i].type != IMAP_ARG_ATOM || !imap_arg_atom(&list[i], &s))
			return false;
		for (size_t k = 0; k < sizeof(opts) / sizeof(*opts); k++) {
			if (strcasecmp(s, opts[k].name) == 0) {
				returns |= opts[k].bit;
				known = true;
			}
		}
		if (!known && strncasecmp(s, "X-", 2) != 0)
			return false;
	}
	*returns_r = returns;
	return true;
}

static enum imap_cmd_result
msearch_start(struct imap_cmd *cmd, const struct imap_arg *args, size_t count, bool icewarp)
{
	struct imap_client *cl = cmd->client;
	struct msearch_ctx *c = xcalloc(1, sizeof(*c));
	unsigned bare = 0;
	bool have_bare = false;
	const char *error;

	c->cmd = cmd;
	cmd->ctx = c;
	cmd->cleanup = msearch_cleanup;
	if (icewarp && count > 0 && imap_arg_atom_equals(&args[0], "IN")) {
		args++;
		count--;
	}
	if (count < 2) {
		imap_cmd_bad(cmd, "Usage: %s IN (sources) [RETURN (options)] criteria", cmd->name);
		return IMAP_CMD_DONE;
	}
	if ((error = msearch_parse_sources(c, &args[0])) != NULL) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	args++;
	count--;
	if (icewarp && count > 1 && msearch_bare_returns(&args[0], &bare)) {
		have_bare = true;
		args++;
		count--;
	}
	if (imap_search_parse(args, count, &c->q, &error) < 0) {
		if (c->q.badcharset)
			imap_cmd_no(cmd, "[BADCHARSET (UTF-8 US-ASCII)] %s", error);
		else
			imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	c->returns = have_bare ? bare : c->q.esearch ? c->q.returns : 0;
	if ((c->returns & IMAP_SEARCH_RETURN_SAVE) != 0 || c->q.uses_saved) {
		imap_cmd_bad(cmd, "SAVE and $ apply to one mailbox, not to a multi-mailbox search");
		return IMAP_CMD_DONE;
	}
	/* RETURN () and no RETURN at all both mean ALL. */
	if (c->returns == 0)
		c->returns = IMAP_SEARCH_RETURN_ALL;
	if (imap_search_to_store(&c->q.root, msearch_resolve, c, &c->tree, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	c->have_tree = true;
	if (c->q.uses_modseq)
		imap_client_enable(cl, IMAP_ENABLED_CONDSTORE);
	if ((c->sources & SRC_SELECTED) != 0 && imap_client_view(cl) != NULL) {
		struct imap_view *v = imap_client_view(cl);
		struct store_folder f = {.id = imap_view_folder_id(v),
		                         .uidvalidity = imap_view_uidvalidity(v)};

		msearch_add(c, imap_view_owner_id(v), &f, imap_view_name(v), ACL_ALL);
		/* The first target: the view knows whether it hides items. */
		c->targets[c->ntargets - 1].restricted = imap_view_restricted(v);
	}
	if ((c->sources & ~(unsigned)SRC_SELECTED) == 0) {
		if (c->ntargets == 0) {
			imap_cmd_ok(cmd, "%s completed", cmd->name);
			return IMAP_CMD_DONE;
		}
		msearch_next(c); /* a store call: its answer comes from the loop */
		return IMAP_CMD_ASYNC;
	}
	c->op = store_folder_list(imap_client_store(cl), imap_client_account_id(cl),
	                          msearch_list_cb, c);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result
cmd_esearch(struct imap_cmd *cmd)
{
	if (cmd->count < 1 || !imap_arg_atom_equals(&cmd->args[0], "IN")) {
		imap_cmd_bad(cmd, "Usage: ESEARCH IN (sources) [RETURN (options)] criteria");
		return IMAP_CMD_DONE;
	}
	return msearch_start(cmd, cmd->args + 1, cmd->count - 1, false);
}

enum imap_cmd_result
cmd_msearch(struct imap_cmd *cmd)
{
	return msearch_start(cmd, cmd->args, cmd->count, true);
}
