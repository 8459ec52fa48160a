/* APPEND and MULTIAPPEND (RFC 3501 6.3.11, RFC 3502, UIDPLUS RFC 4315,
 * APPENDLIMIT RFC 7889). Literal sizes are judged before their bytes are
 * read; the messages are parsed once (modules/message.c) and stored with
 * one store_append transaction, so an APPEND is stored completely or not
 * at all: a client that disconnects mid-literal never reaches exec, and a
 * worker killed mid-transaction leaves nothing behind. Another account's
 * mailbox ("~owner@domain/...") needs the i right; flags the user may not
 * set there (\Seen without s, \Deleted without t, others without w) are
 * dropped, not refused (RFC 4314 4). */

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "groupware-imap.h"
#include "imap-acl.h"
#include "message.h"
#include "msg-util.h"
#include "xmalloc.h"

/* MULTIAPPEND keeps every message in memory until the one transaction;
 * together they may not exceed this (or the APPENDLIMIT, if larger). */
#define APPEND_MAX_TOTAL (256ULL * 1024 * 1024)

struct append_msg {
	const char *data;
	size_t size;
	struct imap_flag_list flags;
	time_t date;
	struct message_info info;
	bool parsed;
};

struct append_ctx {
	struct imap_cmd *cmd;
	struct store_op *op;
	uint64_t literal_total;
	char *mailbox;
	struct imap_mailbox_lookup lookup;
	uint64_t folder_id;
	struct append_msg *msgs;
	size_t nmsgs;
	struct store_append_item *items; /* kept until the store answers */
	struct imap_gw_append *gw;       /* APPEND into a typed folder */
};

static void
append_cleanup(struct imap_cmd *cmd)
{
	struct append_ctx *c = cmd->ctx;

	if (c == NULL)
		return;
	store_op_abandon(&c->op);
	imap_gw_append_free(&c->gw);
	imap_mailbox_lookup_abandon(&c->lookup);
	for (size_t i = 0; i < c->nmsgs; i++) {
		imap_flag_list_clear(&c->msgs[i].flags);
		if (c->msgs[i].parsed)
			message_info_clear(&c->msgs[i].info);
	}
	free(c->msgs);
	free(c->items);
	free(c->mailbox);
	free(c);
	cmd->ctx = NULL;
}

static struct append_ctx *
append_ctx_get(struct imap_cmd *cmd)
{
	if (cmd->ctx == NULL) {
		struct append_ctx *c = xcalloc(1, sizeof(*c));

		c->cmd = cmd;
		cmd->ctx = c;
		cmd->cleanup = append_cleanup;
	}
	return cmd->ctx;
}

static uint64_t
append_limit(struct imap_cmd *cmd)
{
	const struct floe_config *cfg = imap_client_config(cmd->client);

	return cfg != NULL && cfg->imap.max_literal_size > 0 ? cfg->imap.max_literal_size
	                                                     : 64ULL * 1024 * 1024;
}

enum imap_literal_action
cmd_append_literal(struct imap_cmd *cmd, const struct imap_parser_literal *lit)
{
	struct append_ctx *c = append_ctx_get(cmd);
	uint64_t limit = append_limit(cmd);
	uint64_t total_max = limit > APPEND_MAX_TOTAL ? limit : APPEND_MAX_TOTAL;
	const char *error;

	if (lit->depth > 0)
		return IMAP_LITERAL_BUFFER; /* a literal inside a list: exec refuses it */
	if (lit->count == 0) {
		/* The mailbox name itself is a literal. */
		if (lit->size > 4096) {
			imap_cmd_bad(cmd, "Mailbox name too long");
			return IMAP_LITERAL_REFUSE;
		}
		return IMAP_LITERAL_BUFFER;
	}
	if (c->mailbox == NULL) {
		if (imap_arg_mailbox(cmd->client, &lit->args[0], &c->mailbox, &error) < 0) {
			imap_cmd_bad(cmd, "%s", error);
			return IMAP_LITERAL_REFUSE;
		}
	}
	if (lit->size > limit) {
		imap_cmd_no(cmd, "[TOOBIG] Message larger than the APPENDLIMIT %llu",
		            (unsigned long long)limit);
		return IMAP_LITERAL_REFUSE;
	}
	c->literal_total += lit->size;
	if (c->literal_total > total_max) {
		imap_cmd_no(cmd, "[TOOBIG] MULTIAPPEND larger than %llu bytes in all",
		            (unsigned long long)total_max);
		return IMAP_LITERAL_REFUSE;
	}
	return IMAP_LITERAL_BUFFER;
}

static void
append_cb(const struct store_append_result *res, enum store_err code, const char *error, void *ctx)
{
	struct append_ctx *c = ctx;
	struct imap_cmd *cmd = c->cmd;

	c->op = NULL;
	if (res == NULL) {
		if (code == STORE_ERR_NOT_FOUND)
			imap_cmd_no(cmd, "[TRYCREATE] Mailbox does not exist");
		else
			imap_cmd_store_error(cmd, "Append failed", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	char *uids = imap_uid_list_format(res->uids, NULL, res->count);
	imap_cmd_ok(cmd, "[APPENDUID %u %s] Append completed", res->uidvalidity, uids);
	free(uids);
	imap_client_changed(cmd->client, c->folder_id);
	imap_cmd_finish(cmd);
}

static void
folder_cb(const struct imap_mailbox *mb, enum store_err code, const char *error, void *ctx)
{
	struct append_ctx *c = ctx;
	struct imap_cmd *cmd = c->cmd;
	const struct store_folder *folder = mb != NULL ? mb->folder : NULL;

	if (mb == NULL) {
		imap_cmd_store_error(cmd, "Cannot open the mailbox", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	/* A mailbox the user may not see looks missing. */
	if (folder == NULL || (!acl_has(mb->rights, ACL_INSERT) && !acl_visible(mb->rights))) {
		imap_cmd_no(cmd, "[TRYCREATE] Mailbox does not exist");
		imap_cmd_finish(cmd);
		return;
	}
	if (!acl_has(mb->rights, ACL_INSERT)) {
		imap_cmd_no(cmd, "[NOPERM] You may not add messages to this mailbox");
		imap_cmd_finish(cmd);
		return;
	}
	for (size_t i = 0; i < c->nmsgs; i++)
		imap_flag_list_filter(&c->msgs[i].flags, mb->rights);
	if (folder->noselect) {
		imap_cmd_no(cmd, "[CANNOT] Mailbox cannot hold messages");
		imap_cmd_finish(cmd);
		return;
	}
	c->folder_id = folder->id;
	if (strcmp(folder->type, "mail") != 0) {
		struct imap_gw_append_msg *gm = xcalloc(c->nmsgs, sizeof(*gm));

		for (size_t i = 0; i < c->nmsgs; i++)
			gm[i] = (struct imap_gw_append_msg){
			    .data = c->msgs[i].data,
			    .size = c->msgs[i].size,
			    .flags = (const char *const *)c->msgs[i].flags.flags,
			    .nflags = c->msgs[i].flags.count,
			    .date = c->msgs[i].date,
			};
		/* May finish the command (and free c) before it returns. */
		imap_gw_append_start(&c->gw, cmd, mb, gm, c->nmsgs);
		free(gm);
		return;
	}

	struct store_append_item *items = xcalloc(c->nmsgs, sizeof(*items));

	c->items = items;
	for (size_t i = 0; i < c->nmsgs; i++) {
		struct append_msg *m = &c->msgs[i];
		const char *perr;

		if (message_parse(m->data, m->size, &m->info, &perr) < 0) {
			imap_cmd_no(cmd, "Message %zu cannot be stored: %s", i + 1, perr);
			imap_cmd_finish(cmd);
			return;
		}
		m->parsed = true;
		items[i].data = m->data;
		items[i].size = m->size;
		items[i].flags = (const char *const *)m->flags.flags;
		items[i].nflags = m->flags.count;
		items[i].internal_date = m->date;
		items[i].meta = &m->info.meta;
	}
	c->op = store_append(imap_client_store(cmd->client), mb->owner_id, folder->id, items,
	                     c->nmsgs, append_cb, c);
}

/* Parses "[flags] [date-time] literal" groups from args[pos..count). */
static int
parse_messages(struct append_ctx *c, const struct imap_arg *args, size_t count,
               const char **error_r)
{
	size_t pos = 1;

	while (pos < count) {
		struct append_msg m;
		const char *s;
		size_t len;

		memset(&m, 0, sizeof(m));
		if (args[pos].type == IMAP_ARG_LIST) {
			if (imap_flag_list_parse(&args[pos], 1, &m.flags, error_r) < 0)
				return -1;
			pos++;
		}
		if (pos < count && args[pos].type == IMAP_ARG_QUOTED) {
			if (imap_date_time_parse(args[pos].str, args[pos].len, &m.date) < 0) {
				imap_flag_list_clear(&m.flags);
				*error_r = "invalid date-time (dd-Mon-yyyy hh:mm:ss +zzzz)";
				return -1;
			}
			pos++;
		}
		if (pos >= count || args[pos].type != IMAP_ARG_LITERAL ||
		    !imap_arg_string(&args[pos], &s, &len)) {
			imap_flag_list_clear(&m.flags);
			*error_r = "APPEND needs the message as a literal";
			return -1;
		}
		if ((args[pos].flags & IMAP_ARG_LITERAL_BINARY) == 0 &&
		    memchr(s, '\0', len) != NULL) {
			imap_flag_list_clear(&m.flags);
			*error_r = "NUL in a literal (use literal8)";
			return -1;
		}
		m.data = s;
		m.size = len;
		pos++;
		c->msgs = xreallocarray(c->msgs, c->nmsgs + 1, sizeof(*c->msgs));
		c->msgs[c->nmsgs++] = m;
	}
	if (c->nmsgs == 0) {
		*error_r = "APPEND needs a message";
		return -1;
	}
	return 0;
}

enum imap_cmd_result
cmd_append(struct imap_cmd *cmd)
{
	struct append_ctx *c = append_ctx_get(cmd);
	const char *error;

	if (cmd->count < 2) {
		imap_cmd_bad(cmd, "APPEND needs a mailbox and a message");
		return IMAP_CMD_DONE;
	}
	free(c->mailbox);
	c->mailbox = NULL;
	if (imap_arg_mailbox(cmd->client, &cmd->args[0], &c->mailbox, &error) < 0 ||
	    parse_messages(c, cmd->args, cmd->count, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	for (size_t i = 0; i < c->nmsgs; i++) {
		if (c->msgs[i].size == 0) {
			imap_cmd_no(cmd, "Empty message refused");
			return IMAP_CMD_DONE;
		}
	}
	imap_mailbox_lookup_start(&c->lookup, cmd->client, c->mailbox, folder_cb, c);
	return IMAP_CMD_ASYNC;
}
