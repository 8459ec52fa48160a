/* COMPRESS DEFLATE (RFC 4978): after the tagged OK both directions are raw
 * deflate streams. */
#include "commands.h"
#include "imap-client-private.h"
#include "log.h"

static void
cmd_compress_after(struct imap_cmd *cmd)
{
	const char *error;

	if (imap_client_start_compress(cmd->client, &error) < 0) {
		log_error("imap %s: COMPRESS failed: %s", imap_client_peer(cmd->client), error);
		imap_client_disconnect(cmd->client, NULL);
	}
}

enum imap_cmd_result
cmd_compress(struct imap_cmd *cmd)
{
	if (cmd->count != 1 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_cmd_bad(cmd, "Usage: COMPRESS DEFLATE");
	} else if (!imap_arg_atom_equals(&cmd->args[0], "DEFLATE")) {
		imap_cmd_no(cmd, "[CANNOT] Unknown compression mechanism");
	} else if (imap_client_is_compressed(cmd->client)) {
		imap_cmd_no(cmd, "[COMPRESSIONACTIVE] DEFLATE is already active");
	} else {
		imap_cmd_ok(cmd, "DEFLATE active");
		imap_cmd_after_reply(cmd, cmd_compress_after);
	}
	return IMAP_CMD_DONE;
}
