/* CAPABILITY (RFC 3501 6.1.1): the capability list, which depends on the
 * session's state (STARTTLS, LOGINDISABLED and AUTH= only before login). */
#include "commands.h"
#include "imap-client-private.h"

enum imap_cmd_result
cmd_capability(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "CAPABILITY takes no arguments");
		return IMAP_CMD_DONE;
	}
	imap_client_printf(cmd->client, "* CAPABILITY ");
	imap_client_write_capabilities(cmd->client);
	imap_client_printf(cmd->client, "\r\n");
	imap_cmd_ok(cmd, "Capability completed");
	return IMAP_CMD_DONE;
}
