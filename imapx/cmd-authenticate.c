/* AUTHENTICATE (RFC 3501 6.2.2) with the PLAIN (RFC 4616) and LOGIN
 * mechanisms, and SASL-IR (RFC 4959) initial responses. Client responses
 * are raw lines read while the command runs; "*" cancels. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "commands.h"
#include "imap-client-private.h"
#include "password.h"
#include "xmalloc.h"

static void authenticate_line(struct imap_cmd *cmd, const char *line, size_t len);

/* One base64 client response for the mechanism in progress. */
static void
authenticate_response(struct imap_cmd *cmd, const char *text, size_t len)
{
	struct imap_auth_ctx *ctx = cmd->ctx;
	struct auth_credentials creds = {NULL, NULL};
	const char *error;
	char *value;

	if (!ctx->sasl_login) {
		bool bad_base64;

		if (auth_sasl_plain_response(text, len, &creds, &bad_base64, &error) < 0) {
			if (bad_base64)
				imap_cmd_bad(cmd, "Invalid base64 response: %s", error);
			else
				imap_cmd_no(cmd, "[AUTHENTICATIONFAILED] %s", error);
			imap_cmd_finish(cmd);
			return;
		}
		imap_cmd_auth_start(cmd, creds.login, creds.password);
		auth_credentials_clear(&creds);
		return;
	}
	if (ctx->login == NULL) {
		if (auth_sasl_login_decode(text, len, AUTH_LOGIN_MAX, &value, &error) < 0) {
			imap_cmd_bad(cmd, "Invalid user name response: %s", error);
			imap_cmd_finish(cmd);
			return;
		}
		ctx->login = value;
		imap_client_printf(cmd->client, "+ %s\r\n", AUTH_SASL_LOGIN_PASSWORD);
		imap_client_flush(cmd->client);
		imap_client_read_line(cmd->client, authenticate_line);
		return;
	}
	if (auth_sasl_login_decode(text, len, PASSWORD_MAX_LENGTH, &value, &error) < 0) {
		imap_cmd_bad(cmd, "Invalid password response: %s", error);
		imap_cmd_finish(cmd);
		return;
	}
	imap_cmd_auth_start(cmd, ctx->login, value);
	explicit_bzero(value, strlen(value));
	free(value);
}

static void
authenticate_line(struct imap_cmd *cmd, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		imap_cmd_bad(cmd, "Authentication canceled");
		imap_cmd_finish(cmd);
		return;
	}
	authenticate_response(cmd, line, len);
}

static void
authenticate_cleanup(struct imap_cmd *cmd)
{
	struct imap_auth_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	auth_request_abandon(&ctx->req);
	free(ctx->login);
	free(ctx);
	cmd->ctx = NULL;
}

enum imap_cmd_result
cmd_authenticate(struct imap_cmd *cmd)
{
	struct imap_auth_ctx *ctx;
	const char *mech, *ir = NULL;
	size_t ir_len = 0;

	if (cmd->count < 1 || cmd->count > 2 || !imap_arg_atom(&cmd->args[0], &mech) ||
	    (cmd->count == 2 && !imap_arg_astring(&cmd->args[1], &ir, &ir_len))) {
		imap_cmd_bad(cmd, "Usage: AUTHENTICATE mechanism [initial-response]");
		return IMAP_CMD_DONE;
	}
	if (strcasecmp(mech, "PLAIN") != 0 && strcasecmp(mech, "LOGIN") != 0) {
		imap_cmd_no(cmd, "Unsupported authentication mechanism");
		return IMAP_CMD_DONE;
	}
	if (!imap_client_plaintext_ok(cmd->client)) {
		imap_cmd_no(cmd, "[PRIVACYREQUIRED] Plaintext authentication is not allowed "
		                 "without TLS; use STARTTLS");
		return IMAP_CMD_DONE;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->sasl_login = strcasecmp(mech, "LOGIN") == 0;
	cmd->ctx = ctx;
	cmd->cleanup = authenticate_cleanup;
	if (ir != NULL) {
		/* RFC 4959: "=" is an empty initial response. */
		if (ir_len == 1 && ir[0] == '=')
			ir_len = 0;
		authenticate_response(cmd, ir, ir_len);
		return IMAP_CMD_ASYNC;
	}
	imap_client_printf(cmd->client, "+ %s\r\n",
	                   ctx->sasl_login ? AUTH_SASL_LOGIN_USERNAME : "");
	imap_client_flush(cmd->client);
	imap_client_read_line(cmd->client, authenticate_line);
	return IMAP_CMD_ASYNC;
}
