/* LOGIN (RFC 3501 6.2.3): user name and password as astrings, refused on a
 * cleartext connection unless [imap] allow_plaintext_auth. Also the
 * completion shared with AUTHENTICATE: the auth module's answer becomes
 * the tagged reply (failures come delayed by the auth module). */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "commands.h"
#include "imap-client-private.h"
#include "imap-server.h"
#include "log.h"
#include "xmalloc.h"

static void
imap_auth_cleanup(struct imap_cmd *cmd)
{
	struct imap_auth_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	auth_request_abandon(&ctx->req);
	free(ctx->login);
	free(ctx);
	cmd->ctx = NULL;
}

static void
imap_auth_done(enum auth_result result, const struct auth_user *user, const char *error,
               void *context)
{
	struct imap_cmd *cmd = context;
	struct imap_auth_ctx *ctx = cmd->ctx;
	struct imap_client *c = cmd->client;
	const char *limit_error;
	char *caps;

	ctx->req = NULL;
	switch (result) {
	case AUTH_OK:
		if (imap_client_login(c, user->account_id, user->address, &limit_error) < 0) {
			log_info("imap %s: login of %s refused: connection limit",
			         imap_client_peer(c), user->address);
			imap_cmd_no(cmd, "%s", limit_error);
			break;
		}
		log_info("imap %s: %s logged in", imap_client_peer(c), user->address);
		caps = imap_client_capabilities(c);
		imap_cmd_ok(cmd, "[CAPABILITY %s] Logged in", caps);
		free(caps);
		break;
	case AUTH_FAILED:
		imap_cmd_no(cmd, "[AUTHENTICATIONFAILED] Authentication failed");
		break;
	case AUTH_LOCKED:
		imap_cmd_no(cmd, "[AUTHENTICATIONFAILED] Authentication failed; too many failures, "
		                 "try again later");
		break;
	case AUTH_DISABLED:
		imap_cmd_no(cmd, "[CONTACTADMIN] This account may not log in");
		break;
	case AUTH_TEMPFAIL:
	default:
		log_warning("imap %s: authentication unavailable: %s", imap_client_peer(c),
		            error != NULL ? error : "unknown error");
		imap_cmd_no(cmd, "[UNAVAILABLE] Authentication is temporarily unavailable");
		break;
	}
	imap_cmd_finish(cmd);
}

void
imap_cmd_auth_start(struct imap_cmd *cmd, const char *login, const char *password)
{
	struct imap_client *c = cmd->client;
	struct imap_auth_ctx *ctx = cmd->ctx;

	if (ctx == NULL) {
		ctx = xcalloc(1, sizeof(*ctx));
		cmd->ctx = ctx;
		cmd->cleanup = imap_auth_cleanup;
	}
	ctx->req =
	    auth_password(imap_server_auth(imap_client_server(c)), login, password,
	                  strcmp(imap_client_peer(c), "local") == 0 ? NULL : imap_client_peer(c),
	                  "imap", imap_auth_done, cmd);
}

enum imap_cmd_result
cmd_login(struct imap_cmd *cmd)
{
	const char *user, *pass;
	size_t user_len, pass_len;

	if (cmd->count != 2 || !imap_arg_astring(&cmd->args[0], &user, &user_len) ||
	    !imap_arg_astring(&cmd->args[1], &pass, &pass_len)) {
		imap_cmd_bad(cmd, "Usage: LOGIN user password");
		return IMAP_CMD_DONE;
	}
	if (!imap_client_plaintext_ok(cmd->client)) {
		imap_cmd_no(cmd, "[PRIVACYREQUIRED] Plaintext authentication is not allowed "
		                 "without TLS; use STARTTLS");
		return IMAP_CMD_DONE;
	}
	if (memchr(user, '\0', user_len) != NULL || memchr(pass, '\0', pass_len) != NULL) {
		imap_cmd_no(cmd, "[AUTHENTICATIONFAILED] Authentication failed");
		return IMAP_CMD_DONE;
	}
	imap_cmd_auth_start(cmd, user, pass);
	return IMAP_CMD_ASYNC;
}
