/* Password authentication for every protocol (IMAP LOGIN/AUTHENTICATE, EAS
 * Basic, SMTP AUTH): account lookup, Argon2id verification on a small
 * thread pool, failure counting and lockouts shared by all workers and
 * nodes, delayed answers to failures; plus pure SASL decoding helpers.
 *
 * One struct auth per worker, created after fork (it starts threads). The
 * threads only ever verify or hash passwords; every libevent object, the
 * db pool and the store are used on the loop thread alone. */
#ifndef FLOE_AUTH_H
#define FLOE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct db;
struct store;
struct auth;
struct auth_request;

/* Longest login accepted (an address: 64 + 1 + 255). Longer ones fail like
 * an unknown user. */
#define AUTH_LOGIN_MAX 320

/* From [auth] in the configuration (server/config.h: config.auth). */
struct auth_settings {
	unsigned max_failures;      /* failures within the window that lock a key (>= 1) */
	unsigned failure_window_ms; /* how long a failure is remembered */
	unsigned lockout_ms;        /* how long a locked key refuses attempts */
	unsigned failure_delay_ms;  /* no failure is answered sooner after the attempt */
	unsigned threads;           /* password-verification threads (>= 1) */
	/* How long a successful verification is remembered (0: never; see
	 * auth_password). Zero-initialised settings keep the cache off. */
	unsigned cache_ttl_ms;
};

enum auth_result {
	AUTH_OK,
	AUTH_FAILED,   /* unknown login or wrong password: never say which */
	AUTH_DISABLED, /* right password, but the account may not log in */
	AUTH_LOCKED,   /* too many failures for the account or from the address */
	AUTH_TEMPFAIL, /* database unavailable or server busy; error says why */
};

struct auth_user {
	uint64_t account_id;
	const char *address; /* the account's primary address, local@domain */
	const char *display_name;
};

/* The answer to auth_password. user is set only for AUTH_OK and, like
 * error, valid only during the call. error is NULL for AUTH_OK, else a
 * one-line message that may be shown to the client: "authentication
 * failed" (never saying whether the login exists), "account disabled",
 * "too many failed logins; try again later", or for AUTH_TEMPFAIL the cause
 * ("database unavailable: ...", "server busy: ..."). The reasons in detail
 * go to the log. */
typedef void auth_cb(enum auth_result result, const struct auth_user *user, const char *error,
                     void *ctx);

/* Creates the per-worker authenticator over the worker's db pool and store
 * (neither owned; both must outlive it) and starts settings->threads
 * threads. Settings are copied. Aborts (fatal) if threads cannot be
 * started: an environment failure at worker start-up. */
struct auth *auth_create(struct event_base *base, struct db *db, struct store *store,
                         const struct auth_settings *settings);
/* Requests still running get their callback with AUTH_TEMPFAIL, "shutting
 * down" from inside this call. Waits for the threads to finish the
 * verification they are doing (at most one each). Call before destroying
 * the store and the db pool, never from an auth callback. Accepts NULL;
 * sets *auth to NULL. */
void auth_destroy(struct auth **auth);

/* Checks login (a full address, an alias, or a local part where the domain
 * allows it) and password for protocol ("imap", "eas", "smtp": for the log)
 * from remote_ip (text form; NULL or "" for a local socket, which is then
 * throttled by account only). Strings are copied. Returns a handle at once;
 * cb is called exactly once, from the event loop and never from inside
 * this call, unless the handle is abandoned first. The handle is invalid
 * once the callback has started.
 *
 * Order: account lookup, lockout check, password verification on the pool,
 * then the failure count (or the reset of the account's counter after a
 * success). Every answer other than AUTH_OK and AUTH_TEMPFAIL comes no
 * sooner than failure_delay after this call; an unknown login is verified
 * against a dummy hash so that it costs as much as a real one.
 *
 * Cache (settings->cache_ttl_ms > 0): each worker remembers successful
 * verifications, keyed by the login (ASCII case-insensitively) and a keyed
 * BLAKE2b hash of login and password under a per-process random key (the
 * password itself is never kept). A later attempt with the same login and
 * password within the TTL of the verification (not extended by use) skips
 * the account lookup and the Argon2id verification, but still goes
 * through the lockout check (and the counter reset): a locked account or
 * address stays locked. Anything else (other password, expired entry)
 * takes the full path, so a failure never comes from the cache. Hence a
 * password change, a disabled or deleted account takes effect for an
 * entry at the latest cache_ttl after the entry's verification (at once
 * when a full verification of the login sees the change first). */
struct auth_request *auth_password(struct auth *auth, const char *login, const char *password,
                                   const char *remote_ip, const char *protocol, auth_cb *cb,
                                   void *ctx);
/* The caller no longer wants the answer (its client went away): the
 * callback will not be called. Safe in every state, also while the
 * password is being verified on a thread (the result is then dropped).
 * Sets *req to NULL; accepts NULL. */
void auth_request_abandon(struct auth_request **req);

/* Verifies password against an Argon2id hash on the pool, without lookup,
 * counting or delay (e.g. for a credential that is not the account
 * password). cb(true/false, ctx) comes from the event loop, never from
 * inside this call, unless abandoned with auth_request_abandon. */
typedef void auth_verify_cb(bool match, void *ctx);
struct auth_request *auth_verify(struct auth *auth, const char *hash, const char *password,
                                 auth_verify_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Pure helpers (no state, safe anywhere)
 */

/* Whether login is usable as a login: 1..AUTH_LOGIN_MAX bytes of valid
 * UTF-8 (no overlong forms or surrogates) without control characters. */
bool auth_login_valid(const char *login, size_t len);

/* The counter key of a client address: an IPv4 address as it is, an IPv6
 * address by its /64 prefix ("2001:db8:1:2::/64"), since one client
 * usually owns a whole /64; an IPv4-mapped IPv6 address as IPv4. Writes
 * the key into buf (at least 64 bytes). Returns 0, or -1 when ip is not a
 * numeric address (buf then holds ip itself, truncated to size). */
int auth_address_key(const char *ip, char *buf, size_t size);

/* RFC 4648 base64 (standard alphabet, padding required, no whitespace).
 * Returns 0 with *data_r (NUL-terminated, the caller frees) and *len_r, or
 * -1 with *error_r set (static text). "" decodes to an empty buffer. */
int auth_base64_decode(const char *text, size_t len, unsigned char **data_r, size_t *len_r,
                       const char **error_r);
/* Encodes len bytes; returns a newly allocated string. */
char *auth_base64_encode(const void *data, size_t len);

/* A decoded credential: newly allocated strings; release with
 * auth_credentials_clear, which also wipes the password. */
struct auth_credentials {
	char *login;
	char *password;
};
void auth_credentials_clear(struct auth_credentials *creds);

/* RFC 4616 SASL PLAIN: the decoded message authzid NUL authcid NUL passwd.
 * Exactly two NULs; authcid (1..AUTH_LOGIN_MAX bytes, valid UTF-8, no
 * control characters) becomes login; passwd (1..PASSWORD_MAX_LENGTH bytes)
 * the password. authzid must be empty or name the same identity as authcid
 * (ASCII case-insensitively): acting for another user is refused. Returns
 * 0, or -1 with *error_r set (static text, fit for a NO/BAD response) and
 * creds cleared. */
int auth_sasl_plain_decode(const void *data, size_t len, struct auth_credentials *creds,
                           const char **error_r);
/* The same from the client's base64 response (one protocol line). On
 * -1, *bad_base64_r tells a response that is not base64 (a syntax error
 * to the protocol) from a decoded one that is malformed (a failed
 * authentication); the decoded bytes are wiped either way. */
int auth_sasl_plain_response(const char *text, size_t len, struct auth_credentials *creds,
                             bool *bad_base64_r, const char **error_r);

/* SASL LOGIN (draft-murchison-sasl-login): the server's two base64
 * challenges, and the decoder of one base64 answer into a string with no
 * NUL (1..max_len bytes; max_len AUTH_LOGIN_MAX for the user name,
 * PASSWORD_MAX_LENGTH for the password). Returns 0 with *value_r (the
 * caller frees; wipe a password), or -1 with *error_r. */
#define AUTH_SASL_LOGIN_USERNAME "VXNlcm5hbWU6" /* "Username:" */
#define AUTH_SASL_LOGIN_PASSWORD "UGFzc3dvcmQ6" /* "Password:" */
int auth_sasl_login_decode(const char *text, size_t len, size_t max_len, char **value_r,
                           const char **error_r);

/* HTTP Basic (RFC 7617): the base64 part of "Authorization: Basic ...",
 * split at the first ':' into login and password (same limits as SASL
 * PLAIN). Returns 0, or -1 with *error_r and creds cleared. */
int auth_basic_decode(const char *text, size_t len, struct auth_credentials *creds,
                      const char **error_r);

/* Names of results for logs ("ok", "failed", "disabled", "locked",
 * "temporary failure"). */
const char *auth_result_name(enum auth_result result);

#endif
