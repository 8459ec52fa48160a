/* The IMAP command table: one entry per command (imapx/commands.c), each
 * implemented in its own file imapx/cmd-<name>.c. */
#ifndef FLOE_IMAP_COMMANDS_H
#define FLOE_IMAP_COMMANDS_H

#include "imap-client.h"

/* Command flags. */
/* The command may be prefixed with UID ("UID FETCH"). */
#define IMAP_CMD_FLAG_UID 0x01
/* No EXPUNGE, EXISTS or FETCH FLAGS updates may be sent while this command
 * runs or before its tagged reply (RFC 3501 7.4.1: FETCH, STORE, SEARCH). */
#define IMAP_CMD_FLAG_NO_UPDATES 0x02
/* Always ask the store for changes before the tagged reply (NOOP, CHECK),
 * not only when the change-notice bus said something changed. */
#define IMAP_CMD_FLAG_REFRESH 0x04
/* The command reads raw lines after it starts (AUTHENTICATE, IDLE) or
 * replaces the connection (STARTTLS, COMPRESS): nothing pipelined after it
 * is parsed until it ends. (Informational; every command runs alone.) */
#define IMAP_CMD_FLAG_EXCLUSIVE 0x08

struct imap_command_def {
	const char *name; /* upper case */
	imap_cmd_exec_fn *exec;
	imap_cmd_literal_fn *literal; /* NULL: literals are buffered */
	unsigned states;              /* IMAP_STATE_* bits where it is valid */
	unsigned flags;               /* IMAP_CMD_FLAG_* */
	/* Rights (ACL_* of modules/acl.h) a command of the selected state
	 * needs on the selected mailbox: all of rights and, when rights_any
	 * is not 0, at least one of rights_any. The session checks them
	 * before exec against the view's rights, read again first for another
	 * account's folder, and answers NO [NOPERM] when they are missing
	 * (RFC 4314 4). Commands check what depends on their arguments
	 * (STORE's flags, COPY's destination) themselves. */
	unsigned rights;
	unsigned rights_any;
};

/* The definition of name (case-insensitive), NULL when unknown. */
const struct imap_command_def *imap_command_find(const char *name);

/* Session-level commands (this helper). */
imap_cmd_exec_fn cmd_capability, cmd_noop, cmd_check, cmd_logout, cmd_starttls, cmd_authenticate,
    cmd_login, cmd_id, cmd_enable, cmd_namespace, cmd_idle, cmd_select, cmd_examine, cmd_unselect,
    cmd_close, cmd_list, cmd_lsub, cmd_status, cmd_create, cmd_delete, cmd_rename, cmd_subscribe,
    cmd_unsubscribe, cmd_compress;

/* ACL (RFC 4314, imapx/cmd-acl.c) and METADATA (RFC 5464,
 * imapx/cmd-metadata.c). */
imap_cmd_exec_fn cmd_setacl, cmd_deleteacl, cmd_getacl, cmd_listrights, cmd_myrights,
    cmd_getmetadata, cmd_setmetadata;

/* Message commands (imapx/cmd-fetch.c, cmd-store.c, ...). cmd_expunge serves
 * EXPUNGE and UID EXPUNGE (cmd->uid tells), cmd_search SEARCH and UID
 * SEARCH, and so on. APPEND's literal hook is cmd_append_literal. */
imap_cmd_exec_fn cmd_fetch, cmd_store, cmd_search, cmd_sort, cmd_copy, cmd_move, cmd_expunge,
    cmd_append;
imap_cmd_literal_fn cmd_append_literal;

/* IceWarp's X-ICEWARP-SERVER (imapx/cmd-icewarp.c) and multi-mailbox
 * search (RFC 7377 ESEARCH IN (...), IceWarp's MSEARCH;
 * imapx/cmd-msearch.c). */
imap_cmd_exec_fn cmd_x_icewarp_server, cmd_esearch, cmd_msearch;

#endif
