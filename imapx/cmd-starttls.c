/* STARTTLS (RFC 3501 6.2.1, RFC 9051 6.2.1): after the tagged OK the
 * connection becomes TLS; anything the client sent in clear after the
 * command is discarded, never parsed. */
#include "commands.h"
#include "imap-client-private.h"
#include "imap-server.h"
#include "log.h"

static void
cmd_starttls_after(struct imap_cmd *cmd)
{
	const char *error;

	if (imap_client_starttls(cmd->client, &error) < 0) {
		log_warning("imap %s: STARTTLS failed: %s", imap_client_peer(cmd->client), error);
		imap_client_disconnect(cmd->client, NULL);
	}
}

enum imap_cmd_result
cmd_starttls(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;

	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "STARTTLS takes no arguments");
	} else if (imap_client_is_tls(c)) {
		imap_cmd_bad(cmd, "TLS is already active");
	} else if (imap_client_is_compressed(c)) {
		imap_cmd_bad(cmd, "STARTTLS is not possible after COMPRESS");
	} else if (imap_server_ssl(imap_client_server(c)) == NULL) {
		imap_cmd_no(cmd, "[UNAVAILABLE] TLS is not configured on this server");
	} else {
		imap_cmd_ok(cmd, "Begin TLS negotiation now");
		imap_cmd_after_reply(cmd, cmd_starttls_after);
	}
	return IMAP_CMD_DONE;
}
