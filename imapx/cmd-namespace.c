/* NAMESPACE (RFC 2342): the personal namespace is the root with "/" as
 * delimiter, as IceWarp clients expect; other users' folders are under
 * "~owner@domain/" (IceWarp's form: "~bob@example.com/INBOX"). Public
 * folders come with group accounts (issue 4). */
#include "commands.h"

enum imap_cmd_result
cmd_namespace(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "NAMESPACE takes no arguments");
		return IMAP_CMD_DONE;
	}
	imap_client_untagged(cmd->client, "NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) NIL");
	imap_cmd_ok(cmd, "NAMESPACE completed");
	return IMAP_CMD_DONE;
}
