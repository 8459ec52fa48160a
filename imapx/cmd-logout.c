/* LOGOUT (RFC 3501 6.1.3): BYE, the tagged OK, then the connection closes
 * once both are written. */
#include "commands.h"
#include "imap-client-private.h"

static void
cmd_logout_after(struct imap_cmd *cmd)
{
	imap_client_disconnect(cmd->client, NULL);
}

enum imap_cmd_result
cmd_logout(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "LOGOUT takes no arguments");
		return IMAP_CMD_DONE;
	}
	imap_client_untagged(cmd->client, "BYE Logging out");
	imap_cmd_ok(cmd, "Logout completed");
	imap_cmd_after_reply(cmd, cmd_logout_after);
	return IMAP_CMD_DONE;
}
