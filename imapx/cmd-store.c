/* STORE and UID STORE (RFC 3501 6.4.6, RFC 9051 6.4.6) with the CONDSTORE
 * modifier UNCHANGEDSINCE (RFC 7162 3.1.3): FLAGS, +FLAGS, -FLAGS and their
 * .SILENT forms, one store_flags transaction, then the untagged FETCH
 * responses and [MODIFIED set] for the messages the condition kept.
 * Rights (RFC 4314 4): \Seen needs s, \Deleted t, other flags w. +FLAGS
 * and -FLAGS change the flags the session may change and leave the others
 * (NO [NOPERM] only when none is left); FLAGS, which replaces every flag,
 * needs all three rights. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "imap-acl.h"
#include "msg-util.h"
#include "xmalloc.h"

struct store_ctx {
	struct imap_cmd *cmd;
	struct imap_view *view;
	struct store_op *op;
	struct seqset *uids;
	struct imap_uid_ranges ranges;
	struct imap_flag_list flags;
	bool silent, condstore, with_uid, unchangedsince_set;
};

static void
store_cleanup(struct imap_cmd *cmd)
{
	struct store_ctx *c = cmd->ctx;

	if (c == NULL)
		return;
	store_op_abandon(&c->op);
	seqset_destroy(&c->uids);
	imap_uid_ranges_clear(&c->ranges);
	imap_flag_list_clear(&c->flags);
	free(c);
	cmd->ctx = NULL;
}

/* "* seq FETCH (FLAGS (...) UID u MODSEQ (m))" for a message whose flags
 * the STORE left as they were: RFC 3501 still reports them. */
static void
write_unchanged(struct store_ctx *c, uint32_t seq, uint32_t uid)
{
	struct imap_client *cl = c->cmd->client;

	imap_client_printf(cl, "* %u FETCH (FLAGS ", seq);
	imap_view_write_msg_flags(c->view, seq);
	if (c->with_uid)
		imap_client_printf(cl, " UID %u", uid);
	if (c->condstore)
		imap_client_printf(cl, " MODSEQ (%llu)",
		                   (unsigned long long)imap_view_modseq(c->view, seq));
	imap_client_write(cl, ")\r\n", 3);
}

static void
flags_cb(const struct store_flags_result *res, enum store_err code, const char *error, void *ctx)
{
	struct store_ctx *c = ctx;
	struct imap_cmd *cmd = c->cmd;

	c->op = NULL;
	if (res == NULL) {
		imap_cmd_store_error(cmd, "Store failed", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	imap_view_apply_flags(cmd, res, !c->silent, c->silent && c->condstore);
	imap_view_own_write(cmd, res->highestmodseq);

	struct seqset *modified = seqset_create();
	for (size_t i = 0; i < res->nmodified; i++)
		seqset_add(modified, res->modified[i]);
	if (!c->silent) {
		struct seqset *changed = seqset_create();
		struct seqset_iter it;
		uint32_t uid;

		for (size_t i = 0; i < res->count; i++)
			seqset_add(changed, res->changed[i].uid);
		seqset_iter_init(&it, c->uids);
		while (seqset_iter_next(&it, &uid)) {
			uint32_t seq = imap_view_uid_to_seq(c->view, uid);

			if (seq != 0 && !seqset_contains(changed, uid) &&
			    !seqset_contains(modified, uid))
				write_unchanged(c, seq, uid);
		}
		seqset_destroy(&changed);
	}

	if (!seqset_is_empty(modified)) {
		struct seqset *report = modified;
		struct seqset *seqs = NULL;

		if (!cmd->uid) {
			struct seqset_iter it;
			uint32_t uid;

			seqs = seqset_create();
			seqset_iter_init(&it, modified);
			while (seqset_iter_next(&it, &uid)) {
				uint32_t seq = imap_view_uid_to_seq(c->view, uid);
				if (seq != 0)
					seqset_add(seqs, seq);
			}
			report = seqs;
		}
		if (seqset_is_empty(report)) {
			imap_cmd_ok(cmd, "Store completed");
		} else {
			char *s = seqset_format(report);
			imap_cmd_ok(cmd, "[MODIFIED %s] Conditional STORE failed", s);
			free(s);
		}
		seqset_destroy(&seqs);
	} else {
		imap_cmd_ok(cmd, "Store completed");
	}
	seqset_destroy(&modified);
	imap_cmd_finish(cmd);
}

/* Parses "(UNCHANGEDSINCE n)". */
static int
parse_modifiers(const struct imap_arg *arg, bool *set_r, uint64_t *since_r, const char **error_r)
{
	const struct imap_arg *list;
	size_t count;

	if (!imap_arg_list(arg, &list, &count) || count == 0) {
		*error_r = "STORE modifiers must be a non-empty list";
		return -1;
	}
	for (size_t i = 0; i < count; i += 2) {
		const char *num;
		uint64_t n = 0;

		if (!imap_arg_atom_equals(&list[i], "UNCHANGEDSINCE")) {
			*error_r = "unknown STORE modifier";
			return -1;
		}
		if (*set_r || i + 1 >= count || !imap_arg_atom(&list[i + 1], &num) ||
		    num[0] == '\0' || strlen(num) > 19) {
			*error_r = "UNCHANGEDSINCE needs one mod-sequence value";
			return -1;
		}
		for (const char *p = num; *p != '\0'; p++) {
			if (*p < '0' || *p > '9') {
				*error_r = "UNCHANGEDSINCE needs one mod-sequence value";
				return -1;
			}
			n = n * 10 + (uint64_t)(*p - '0');
		}
		if (n > INT64_MAX) {
			*error_r = "mod-sequence value too large";
			return -1;
		}
		*set_r = true;
		*since_r = n;
	}
	return 0;
}

enum imap_cmd_result
cmd_store(struct imap_cmd *cmd)
{
	struct imap_view *view = imap_client_view(cmd->client);
	struct store_ctx *c;
	const char *error, *item;
	size_t pos = 1;
	uint64_t unchangedsince = 0;
	enum store_flag_op op;

	if (cmd->count < 3) {
		imap_cmd_bad(cmd, "STORE needs a sequence set, an item and flags");
		return IMAP_CMD_DONE;
	}
	c = xcalloc(1, sizeof(*c));
	c->cmd = cmd;
	c->view = view;
	cmd->ctx = c;
	cmd->cleanup = store_cleanup;

	if (cmd->args[1].type == IMAP_ARG_LIST) {
		if (parse_modifiers(&cmd->args[1], &c->unchangedsince_set, &unchangedsince,
		                    &error) < 0) {
			imap_cmd_bad(cmd, "%s", error);
			return IMAP_CMD_DONE;
		}
		pos = 2;
	}
	if (pos >= cmd->count) {
		imap_cmd_bad(cmd, "STORE needs an item and flags");
		return IMAP_CMD_DONE;
	}
	if (!imap_arg_atom(&cmd->args[pos], &item)) {
		imap_cmd_bad(cmd, "STORE item must be FLAGS, +FLAGS or -FLAGS");
		return IMAP_CMD_DONE;
	}
	const char *base = item;
	if (*base == '+' || *base == '-')
		base++;
	if (strcasecmp(base, "FLAGS") == 0)
		c->silent = false;
	else if (strcasecmp(base, "FLAGS.SILENT") == 0)
		c->silent = true;
	else {
		imap_cmd_bad(cmd, "STORE item must be FLAGS, +FLAGS or -FLAGS");
		return IMAP_CMD_DONE;
	}
	op = item[0] == '+'   ? STORE_FLAGS_ADD
	     : item[0] == '-' ? STORE_FLAGS_REMOVE
	                      : STORE_FLAGS_SET;
	pos++;
	if (pos >= cmd->count) {
		imap_cmd_bad(cmd, "STORE needs flags");
		return IMAP_CMD_DONE;
	}
	if (imap_flag_list_parse(&cmd->args[pos], cmd->count - pos, &c->flags, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (imap_cmd_seqset(cmd, &cmd->args[0], cmd->uid, &c->uids, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (imap_view_readonly(view)) {
		imap_cmd_no(cmd, "[READ-ONLY] Mailbox is read-only");
		return IMAP_CMD_DONE;
	}
	if (op == STORE_FLAGS_SET &&
	    !acl_has(imap_view_rights(view), ACL_SEEN | ACL_WRITE | ACL_DELETE_MSGS)) {
		imap_cmd_no(cmd, "[NOPERM] Replacing every flag needs the s, w and t rights; "
		                 "use +FLAGS or -FLAGS");
		return IMAP_CMD_DONE;
	}
	if (op != STORE_FLAGS_SET && c->flags.count > 0 &&
	    imap_flag_list_filter(&c->flags, imap_view_rights(view)) > 0 && c->flags.count == 0) {
		imap_cmd_no(cmd, "[NOPERM] You may not change these flags in this mailbox");
		return IMAP_CMD_DONE;
	}
	if (c->unchangedsince_set)
		imap_client_enable(cmd->client, IMAP_ENABLED_CONDSTORE);
	c->condstore = imap_client_has(cmd->client, IMAP_ENABLED_CONDSTORE);
	c->with_uid = cmd->uid || imap_client_has(cmd->client, IMAP_ENABLED_QRESYNC);

	if (seqset_is_empty(c->uids)) {
		imap_cmd_ok(cmd, "Store completed");
		return IMAP_CMD_DONE;
	}
	if (c->unchangedsince_set && unchangedsince == 0) {
		/* Every message has a modseq above 0: none may change. */
		struct seqset *seqs = seqset_create();
		struct seqset_iter it;
		uint32_t uid;

		seqset_iter_init(&it, c->uids);
		while (seqset_iter_next(&it, &uid)) {
			uint32_t seq = imap_view_uid_to_seq(view, uid);
			if (seq != 0)
				seqset_add(seqs, cmd->uid ? uid : seq);
		}
		if (seqset_is_empty(seqs)) {
			imap_cmd_ok(cmd, "Store completed");
		} else {
			char *set = seqset_format(seqs);
			imap_cmd_ok(cmd, "[MODIFIED %s] Conditional STORE failed", set);
			free(set);
		}
		seqset_destroy(&seqs);
		return IMAP_CMD_DONE;
	}
	imap_uid_ranges_init(&c->ranges, c->uids);
	c->op = store_flags(imap_client_store(cmd->client), imap_view_owner_id(view),
	                    imap_view_folder_id(view), &c->ranges.ranges, op,
	                    (const char *const *)c->flags.flags, c->flags.count,
	                    c->unchangedsince_set ? unchangedsince : 0, flags_cb, c);
	return IMAP_CMD_ASYNC;
}
