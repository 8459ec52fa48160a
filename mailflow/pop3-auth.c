/* POP3 AUTHORIZATION state: USER/PASS (RFC 1939), AUTH PLAIN and LOGIN
 * with or without an initial response (RFC 5034), all refused on a
 * cleartext connection unless [pop3] allow_plaintext_auth; then opening the
 * maildrop: a snapshot of INBOX (UIDs, sizes, blob hashes) that the session
 * keeps until QUIT. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "password.h"
#include "pop3-private.h"
#include "store.h"
#include "xmalloc.h"

#define PRIVACY_REQUIRED "[AUTH] Plaintext authentication is not allowed without TLS; use STLS"

/* ---------------------------------------------------------------------
 * Opening the maildrop
 */

static void
maildrop_failed(struct pop3_session *s, const char *error)
{
	log_warning("pop3 %s: cannot open the INBOX of %s: %s", s->peer, s->address,
	            error != NULL ? error : "unknown error");
	pop3_session_drop_account(s);
	pop3_err(s, "[SYS/TEMP] Cannot open the mailbox; try again later");
	pop3_session_command_done(s);
}

static void
maildrop_opened(struct pop3_session *s)
{
	uint64_t octets = 0;

	for (size_t i = 0; i < s->nmsgs; i++)
		octets += s->msgs[i].size;
	pop3_session_enter_transaction(s);
	log_info("pop3 %s: %s logged in (%zu messages)", s->peer, s->address, s->nmsgs);
	pop3_ok(s, "Logged in; maildrop has %zu messages (%llu octets)", s->nmsgs,
	        (unsigned long long)octets);
	pop3_session_command_done(s);
}

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 64 hex digits into 32 bytes; false when hex is not that. */
static bool
hash_decode(const char *hex, unsigned char out[32])
{
	if (hex == NULL || strlen(hex) != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static void
maildrop_listed(const struct store_fetch_result *res, enum store_err code, const char *error,
                void *ctx)
{
	struct pop3_session *s = ctx;

	s->op = NULL;
	if (res == NULL) {
		maildrop_failed(s, error);
		return;
	}
	s->msgs = xcalloc(res->count + 1, sizeof(*s->msgs));
	s->nmsgs = res->count;
	for (size_t i = 0; i < res->count; i++) {
		const struct store_fetch_row *row = &res->rows[i];
		struct pop3_msg *m = &s->msgs[i];

		m->uid = row->uid;
		m->size = row->size;
		/* Kept in binary: 32 bytes a message rather than 65. A row
		 * without a valid hash fails at RETR, not here. */
		m->has_hash = hash_decode(row->blob_hash, m->hash);
	}
	maildrop_opened(s);
}

static void
maildrop_inbox(const struct store_folder *folder, enum store_err code, const char *error, void *ctx)
{
	struct pop3_session *s = ctx;

	s->op = NULL;
	if (folder == NULL && code == STORE_ERR_NOT_FOUND) {
		/* Nothing to serve, but nothing wrong with the login either. */
		log_warning("pop3 %s: %s has no INBOX; serving an empty maildrop", s->peer,
		            s->address);
		maildrop_opened(s);
		return;
	}
	if (folder == NULL) {
		maildrop_failed(s, error);
		return;
	}
	s->folder_id = folder->id;
	s->uidvalidity = folder->uidvalidity;
	s->op = store_fetch(pop3_server_store(s->server), s->account_id, s->folder_id, NULL,
	                    STORE_FETCH_SIZE, 0, maildrop_listed, s);
}

/* ---------------------------------------------------------------------
 * Authentication
 */

static void
auth_done(enum auth_result result, const struct auth_user *user, const char *error, void *ctx)
{
	struct pop3_session *s = ctx;

	s->auth_req = NULL;
	switch (result) {
	case AUTH_OK:
		if (pop3_server_account_ref(s->server, user->account_id) < 0) {
			log_info("pop3 %s: login of %s refused: too many sessions", s->peer,
			         user->address);
			pop3_err(s, "[IN-USE] Too many POP3 sessions for this account; "
			            "try again later");
			break;
		}
		s->account_counted = true;
		s->account_id = user->account_id;
		s->address = xstrdup(user->address);
		s->op = store_folder_get(pop3_server_store(s->server), s->account_id, "INBOX", 0,
		                         maildrop_inbox, s);
		return;
	case AUTH_FAILED:
		pop3_err(s, "[AUTH] Authentication failed");
		break;
	case AUTH_LOCKED:
		pop3_err(s, "[AUTH] Authentication failed; too many failures, try again later");
		break;
	case AUTH_DISABLED:
		pop3_err(s, "[AUTH] This account may not log in");
		break;
	case AUTH_TEMPFAIL:
	default:
		log_warning("pop3 %s: authentication unavailable: %s", s->peer,
		            error != NULL ? error : "unknown error");
		pop3_err(s,
		         "[SYS/TEMP] Authentication is temporarily unavailable; try again later");
		break;
	}
	pop3_session_command_done(s);
}

static void
auth_start(struct pop3_session *s, const char *login, const char *password)
{
	s->busy = true;
	s->auth_req = auth_password(pop3_server_auth(s->server), login, password,
	                            pop3_session_remote_ip(s), "pop3", auth_done, s);
}

void
pop3_cmd_user(struct pop3_session *s, const char *args)
{
	free(s->user);
	s->user = NULL;
	if (!pop3_session_plaintext_ok(s)) {
		pop3_err(s, PRIVACY_REQUIRED);
		return;
	}
	if (!auth_login_valid(args, strlen(args)) || strchr(args, ' ') != NULL) {
		pop3_bad(s, "Usage: USER name");
		return;
	}
	s->user = xstrdup(args);
	pop3_ok(s, "Send your password");
}

void
pop3_cmd_pass(struct pop3_session *s, const char *args)
{
	char *user = s->user;

	s->user = NULL;
	if (!pop3_session_plaintext_ok(s)) {
		free(user);
		pop3_err(s, PRIVACY_REQUIRED);
		return;
	}
	if (user == NULL) {
		pop3_bad(s, "Send USER first");
		return;
	}
	/* RFC 1939: spaces belong to the password. */
	if (args[0] == '\0' || strlen(args) > PASSWORD_MAX_LENGTH) {
		free(user);
		pop3_bad(s, "Usage: PASS password");
		return;
	}
	auth_start(s, user, args);
	free(user);
}

void
pop3_cmd_apop(struct pop3_session *s, const char *args)
{
	pop3_err(s, "APOP is not supported; use USER/PASS or AUTH PLAIN over TLS");
}

/* ---------------------------------------------------------------------
 * SASL
 */

static void
sasl_plain(struct pop3_session *s, const char *text)
{
	struct auth_credentials creds;
	const char *error;
	bool bad_base64;

	/* RFC 5034 4: "=" is an empty initial response. */
	if (strcmp(text, "=") == 0)
		text = "";
	if (auth_sasl_plain_response(text, strlen(text), &creds, &bad_base64, &error) < 0) {
		if (bad_base64)
			pop3_err(s, "Invalid base64 response: %s", error);
		else
			pop3_err(s, "[AUTH] %s", error);
		return;
	}
	auth_start(s, creds.login, creds.password);
	auth_credentials_clear(&creds);
}

static void
sasl_login_user(struct pop3_session *s, const char *text)
{
	const char *error;
	char *value;

	if (auth_sasl_login_decode(text, strlen(text), AUTH_LOGIN_MAX, &value, &error) < 0) {
		pop3_err(s, "Invalid user name response: %s", error);
		return;
	}
	free(s->sasl_login);
	s->sasl_login = value;
	s->sasl = POP3_SASL_LOGIN_PASS;
	evbuffer_add_printf(pop3_session_output(s), "+ %s\r\n", AUTH_SASL_LOGIN_PASSWORD);
}

static void
sasl_login_pass(struct pop3_session *s, const char *text)
{
	char *login = s->sasl_login, *value;
	const char *error;

	s->sasl_login = NULL;
	if (auth_sasl_login_decode(text, strlen(text), PASSWORD_MAX_LENGTH, &value, &error) < 0) {
		free(login);
		pop3_err(s, "Invalid password response: %s", error);
		return;
	}
	auth_start(s, login, value);
	explicit_bzero(value, strlen(value));
	free(value);
	free(login);
}

void
pop3_sasl_continue(struct pop3_session *s, const char *line)
{
	enum pop3_sasl step = s->sasl;

	s->sasl = POP3_SASL_NONE;
	if (strcmp(line, "*") == 0) {
		free(s->sasl_login);
		s->sasl_login = NULL;
		pop3_err(s, "Authentication cancelled");
		return;
	}
	switch (step) {
	case POP3_SASL_PLAIN:
		sasl_plain(s, line);
		break;
	case POP3_SASL_LOGIN_USER:
		sasl_login_user(s, line);
		break;
	case POP3_SASL_LOGIN_PASS:
		sasl_login_pass(s, line);
		break;
	case POP3_SASL_NONE:
	default:
		break;
	}
}

void
pop3_cmd_auth(struct pop3_session *s, const char *args)
{
	const char *sp = strchr(args, ' ');
	size_t mlen = sp != NULL ? (size_t)(sp - args) : strlen(args);
	const char *ir = sp != NULL ? sp + 1 : NULL;

	free(s->user);
	s->user = NULL;
	if (args[0] == '\0') {
		/* Without a mechanism, list them (what Outlook asks first). */
		pop3_ok(s, "Supported mechanisms follow");
		if (pop3_session_plaintext_ok(s))
			evbuffer_add_printf(pop3_session_output(s), "PLAIN\r\nLOGIN\r\n");
		evbuffer_add_printf(pop3_session_output(s), ".\r\n");
		return;
	}
	if (ir != NULL && (ir[0] == '\0' || strchr(ir, ' ') != NULL)) {
		pop3_bad(s, "Usage: AUTH mechanism [initial-response]");
		return;
	}
	if (mlen == 5 && strncasecmp(args, "PLAIN", 5) == 0) {
		if (!pop3_session_plaintext_ok(s)) {
			pop3_err(s, PRIVACY_REQUIRED);
		} else if (ir != NULL) {
			sasl_plain(s, ir);
		} else {
			s->sasl = POP3_SASL_PLAIN;
			evbuffer_add_printf(pop3_session_output(s), "+ \r\n");
		}
		return;
	}
	if (mlen == 5 && strncasecmp(args, "LOGIN", 5) == 0) {
		if (!pop3_session_plaintext_ok(s)) {
			pop3_err(s, PRIVACY_REQUIRED);
		} else if (ir != NULL && strcmp(ir, "=") != 0) {
			sasl_login_user(s, ir);
		} else {
			s->sasl = POP3_SASL_LOGIN_USER;
			evbuffer_add_printf(pop3_session_output(s), "+ %s\r\n",
			                    AUTH_SASL_LOGIN_USERNAME);
		}
		return;
	}
	pop3_err(s, "Unsupported authentication mechanism");
}
