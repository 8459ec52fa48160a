/* NOOP and CHECK (RFC 3501 6.1.2, 6.4.1): nothing to do but report what
 * changed in the selected mailbox, which the session does before the
 * tagged reply (both commands carry IMAP_CMD_FLAG_REFRESH). */
#include "commands.h"

enum imap_cmd_result
cmd_noop(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "NOOP takes no arguments");
		return IMAP_CMD_DONE;
	}
	imap_cmd_ok(cmd, "NOOP completed");
	return IMAP_CMD_DONE;
}

enum imap_cmd_result
cmd_check(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "CHECK takes no arguments");
		return IMAP_CMD_DONE;
	}
	/* Every change is committed when its command ends: nothing to flush. */
	imap_cmd_ok(cmd, "CHECK completed");
	return IMAP_CMD_DONE;
}
