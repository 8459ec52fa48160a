/* The ACL commands (RFC 4314 3): SETACL, DELETEACL, GETACL and LISTRIGHTS
 * need the a right on the mailbox, MYRIGHTS any of l r i k x a; a mailbox
 * the user may not see is answered like a missing one. Identifiers are
 * addresses of users or groups, or "anyone"; negative rights ("-bob") are
 * not supported. Rights in answers include the obsolete c and d when a
 * member right is granted (RFC 4314 2.1.1). The owner is listed first by
 * GETACL, with every right. A group account may be given rights on its
 * own folders (public folders: its members get them). SETACL and
 * DELETEACL queue the share notification mail in their transaction. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "imap-acl.h"
#include "xmalloc.h"

enum acl_cmd {
	ACL_CMD_SET,
	ACL_CMD_DELETE,
	ACL_CMD_GET,
	ACL_CMD_LISTRIGHTS,
	ACL_CMD_MYRIGHTS,
};

struct acl_ctx {
	enum acl_cmd kind;
	struct imap_mailbox_lookup lookup;
	struct store_op *op;
	char *name;       /* mailbox, UTF-8 */
	char *identifier; /* SETACL, DELETEACL, LISTRIGHTS */
	enum acl_modify mode;
	unsigned rights;
	/* Kept from the lookup for the second step. */
	char *display;
	char *owner;
};

static void
acl_cleanup(struct imap_cmd *cmd)
{
	struct acl_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	imap_mailbox_lookup_abandon(&ctx->lookup);
	store_op_abandon(&ctx->op);
	free(ctx->name);
	free(ctx->identifier);
	free(ctx->display);
	free(ctx->owner);
	free(ctx);
	cmd->ctx = NULL;
}

static void
acl_write_rights(struct imap_client *c, unsigned rights)
{
	char buf[ACL_RIGHTS_BUFSIZE];

	acl_rights_format(rights, true, buf);
	imap_write_astring(c, buf, strlen(buf));
}

static void
acl_set_done(const char *rights, enum store_err code, const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct acl_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (rights != NULL)
		imap_cmd_ok(cmd, "%s completed", cmd->name);
	else if (code == STORE_ERR_INVALID)
		imap_cmd_no(cmd, "[CANNOT] %s", error);
	else
		imap_cmd_store_error(cmd, "Cannot change the ACL", code, error);
	imap_cmd_finish(cmd);
}

static void
acl_get_done(const struct store_acl_list *list, enum store_err code, const char *error,
             void *context)
{
	struct imap_cmd *cmd = context;
	struct acl_ctx *ctx = cmd->ctx;
	struct imap_client *c = cmd->client;

	ctx->op = NULL;
	if (list == NULL) {
		if (code == STORE_ERR_NOT_FOUND)
			imap_mailbox_reply_missing(cmd);
		else
			imap_cmd_store_error(cmd, "Cannot read the ACL", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	imap_client_printf(c, "* ACL ");
	imap_write_mailbox(c, ctx->display);
	imap_client_printf(c, " ");
	imap_write_astring(c, ctx->owner, strlen(ctx->owner));
	imap_client_printf(c, " ");
	acl_write_rights(c, ACL_ALL);
	for (size_t i = 0; i < list->count; i++) {
		imap_client_printf(c, " ");
		imap_write_astring(c, list->entries[i].grantee, strlen(list->entries[i].grantee));
		imap_client_printf(c, " ");
		acl_write_rights(c, imap_rights_from_store(list->entries[i].rights));
	}
	imap_client_printf(c, "\r\n");
	imap_cmd_ok(cmd, "GETACL completed");
	imap_cmd_finish(cmd);
}

static void
acl_listrights_write(struct imap_cmd *cmd, struct acl_ctx *ctx)
{
	struct imap_client *c = cmd->client;
	const char *required;
	const char *const *optional;
	size_t n;

	acl_listrights(strcasecmp(ctx->identifier, ctx->owner) == 0, &required, &optional, &n);
	imap_client_printf(c, "* LISTRIGHTS ");
	imap_write_mailbox(c, ctx->display);
	imap_client_printf(c, " ");
	imap_write_astring(c, ctx->identifier, strlen(ctx->identifier));
	imap_client_printf(c, " ");
	imap_write_astring(c, required, strlen(required));
	for (size_t i = 0; i < n; i++)
		imap_client_printf(c, " %s", optional[i]);
	imap_client_printf(c, "\r\n");
}

static void
acl_mailbox_cb(const struct imap_mailbox *mb, enum store_err code, const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct acl_ctx *ctx = cmd->ctx;
	struct imap_client *c = cmd->client;
	struct store *store = imap_client_store(c);
	char letters[ACL_RIGHTS_BUFSIZE];

	if (mb == NULL) {
		imap_cmd_store_error(cmd, "Cannot find the mailbox", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (ctx->kind == ACL_CMD_MYRIGHTS) {
		if (mb->folder == NULL || (mb->rights & ACL_MYRIGHTS_ANY) == 0) {
			imap_mailbox_reply_missing(cmd);
		} else {
			imap_client_printf(c, "* MYRIGHTS ");
			imap_write_mailbox(c, mb->folder->path);
			imap_client_printf(c, " ");
			acl_write_rights(c, mb->rights);
			imap_client_printf(c, "\r\n");
			imap_cmd_ok(cmd, "MYRIGHTS completed");
		}
		imap_cmd_finish(cmd);
		return;
	}
	if (!imap_mailbox_allow(cmd, mb, ACL_ADMIN, "administer")) {
		imap_cmd_finish(cmd);
		return;
	}
	ctx->display = xstrdup(mb->folder->path);
	ctx->owner = xstrdup(mb->owner != NULL ? mb->owner : imap_client_address(c));
	switch (ctx->kind) {
	case ACL_CMD_SET:
	case ACL_CMD_DELETE:
		/* The store refuses the owner as grantee ("[CANNOT] the owner
		 * always has every right", also under an alias), except a
		 * group account on its own (public) folders. The grantees who
		 * gain rights or lose the last ones get a notification mail
		 * (modules/share-notice.h). */
		acl_rights_format(ctx->rights, false, letters);
		ctx->op = store_acl_set(store, mb->owner_id, mb->folder->id, ctx->identifier,
		                        ctx->kind == ACL_CMD_DELETE      ? STORE_ACL_DELETE
		                        : ctx->mode == ACL_MODIFY_ADD    ? STORE_ACL_ADD
		                        : ctx->mode == ACL_MODIFY_REMOVE ? STORE_ACL_REMOVE
		                                                         : STORE_ACL_REPLACE,
		                        letters, acl_set_done, cmd);
		return;
	case ACL_CMD_GET:
		ctx->op = store_acl_get(store, mb->owner_id, mb->folder->id, acl_get_done, cmd);
		return;
	case ACL_CMD_LISTRIGHTS:
		acl_listrights_write(cmd, ctx);
		imap_cmd_ok(cmd, "LISTRIGHTS completed");
		break;
	case ACL_CMD_MYRIGHTS:
		break;
	}
	imap_cmd_finish(cmd);
}

/* An identifier argument: an astring without NUL, not empty; "-name"
 * (negative rights) is refused with NO by the caller. */
static char *
acl_identifier(const struct imap_arg *arg, const char **error_r)
{
	const char *s;
	size_t len;

	if (!imap_arg_astring(arg, &s, &len) || len == 0) {
		*error_r = "Identifier expected";
		return NULL;
	}
	if (memchr(s, '\0', len) != NULL || len > 512) {
		*error_r = "Invalid identifier";
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			*error_r = "Invalid identifier";
			return NULL;
		}
	}
	return xstrndup(s, len);
}

static enum imap_cmd_result
acl_start(struct imap_cmd *cmd, enum acl_cmd kind, size_t nargs, const char *usage)
{
	struct imap_client *c = cmd->client;
	struct acl_ctx *ctx;
	const char *error, *s;
	size_t len;

	if (cmd->count != nargs) {
		imap_cmd_bad(cmd, "Usage: %s", usage);
		return IMAP_CMD_DONE;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->kind = kind;
	cmd->ctx = ctx;
	cmd->cleanup = acl_cleanup;
	if (imap_arg_mailbox(c, &cmd->args[0], &ctx->name, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (nargs >= 2) {
		if ((ctx->identifier = acl_identifier(&cmd->args[1], &error)) == NULL) {
			imap_cmd_bad(cmd, "%s", error);
			return IMAP_CMD_DONE;
		}
		if (ctx->identifier[0] == '-' && kind != ACL_CMD_LISTRIGHTS) {
			imap_cmd_no(cmd, "[CANNOT] Negative rights are not supported");
			return IMAP_CMD_DONE;
		}
	}
	if (kind == ACL_CMD_SET) {
		if (!imap_arg_astring(&cmd->args[2], &s, &len)) {
			imap_cmd_bad(cmd, "Rights expected");
			return IMAP_CMD_DONE;
		}
		if (acl_modify_parse(s, len, &ctx->mode, &ctx->rights, &error) < 0) {
			imap_cmd_bad(cmd, "%s", error);
			return IMAP_CMD_DONE;
		}
	}
	imap_mailbox_lookup_start(&ctx->lookup, c, ctx->name, acl_mailbox_cb, cmd);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result
cmd_setacl(struct imap_cmd *cmd)
{
	return acl_start(cmd, ACL_CMD_SET, 3, "SETACL mailbox identifier rights");
}

enum imap_cmd_result
cmd_deleteacl(struct imap_cmd *cmd)
{
	return acl_start(cmd, ACL_CMD_DELETE, 2, "DELETEACL mailbox identifier");
}

enum imap_cmd_result
cmd_getacl(struct imap_cmd *cmd)
{
	return acl_start(cmd, ACL_CMD_GET, 1, "GETACL mailbox");
}

enum imap_cmd_result
cmd_listrights(struct imap_cmd *cmd)
{
	return acl_start(cmd, ACL_CMD_LISTRIGHTS, 2, "LISTRIGHTS mailbox identifier");
}

enum imap_cmd_result
cmd_myrights(struct imap_cmd *cmd)
{
	return acl_start(cmd, ACL_CMD_MYRIGHTS, 1, "MYRIGHTS mailbox");
}
