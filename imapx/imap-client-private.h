/* Session internals shared by client.c and the session-level commands
 * (LOGIN, SELECT, STARTTLS, IDLE, ...). Message commands use only
 * imap-client.h. */
#ifndef FLOE_IMAP_CLIENT_PRIVATE_H
#define FLOE_IMAP_CLIENT_PRIVATE_H

#include <stdbool.h>
#include <sys/socket.h>

#include "imap-client.h"

struct bufferevent;

/* Takes ownership of bev (plain, or implicit TLS when tls), sends the
 * greeting and starts reading. */
struct imap_client *imap_client_create(struct imap_server *server, struct bufferevent *bev,
                                       const struct sockaddr *peer, socklen_t peer_len, bool tls);
/* Frees the session at once (server destroy only; not from a callback of
 * the session itself). */
void imap_client_destroy_now(struct imap_client *client);
/* Sends "* BYE <text>" (when text is not NULL) and closes the connection
 * once the output is written. The client is freed later from the event
 * loop; the current command's cleanup runs then. */
void imap_client_disconnect(struct imap_client *client, const char *bye_text);
/* Server shutdown: ends the session with "* BYE Server shutting down" as
 * soon as no command is running (at once when idle or in IDLE). */
void imap_client_shutdown(struct imap_client *client);

/* The registry slot (imap-server.c). */
void imap_client_set_slot(struct imap_client *client, size_t slot);

bool imap_client_is_tls(const struct imap_client *client);
bool imap_client_is_compressed(const struct imap_client *client);
/* Plain-text authentication is allowed: TLS is active or the
 * configuration allows it. */
bool imap_client_plaintext_ok(const struct imap_client *client);

/* After a successful authentication: state AUTH. Returns 0, or -1 with
 * *error_r when the per-account connection limit is reached (the caller
 * answers NO [LIMIT] and the session stays unauthenticated). */
int imap_client_login(struct imap_client *client, uint64_t account_id, const char *address,
                      const char **error_r);
/* Replaces the selected mailbox (view may be NULL: state AUTH). The old
 * view is destroyed. */
void imap_client_set_view(struct imap_client *client, struct imap_view *view);

/* Writes the capability list without "* CAPABILITY " (for the greeting
 * code, CAPABILITY, and the post-login code). */
void imap_client_write_capabilities(struct imap_client *client);
/* The same as a newly allocated string. */
char *imap_client_capabilities(const struct imap_client *client);

/* LOGIN and AUTHENTICATE: cmd->ctx is a struct imap_auth_ctx (allocated
 * by imap_cmd_auth_start when NULL, with a cleanup that abandons the
 * request). imap_cmd_auth_start checks login/password (copied) with the
 * auth module and finishes cmd with the answer; the caller returns
 * IMAP_CMD_ASYNC. */
struct auth_request;
struct imap_auth_ctx {
	struct auth_request *req;
	char *login; /* AUTHENTICATE LOGIN: the user name given first */
	bool sasl_login;
};
void imap_cmd_auth_start(struct imap_cmd *cmd, const char *login, const char *password);

/* Delivers the next input line (without CRLF, NUL-terminated, at most
 * [imap] max_line_length) to fn while cmd runs (AUTHENTICATE responses,
 * IDLE's DONE). One line per call: fn asks again if it wants more. */
typedef void imap_client_line_fn(struct imap_cmd *cmd, const char *line, size_t len);
void imap_client_read_line(struct imap_client *client, imap_client_line_fn *fn);

/* Runs fn(cmd) right after cmd's tagged reply has been put into the
 * output and flushed, before the next command is parsed: STARTTLS and
 * COMPRESS change the connection there, LOGOUT closes it. */
typedef void imap_cmd_after_fn(struct imap_cmd *cmd);
void imap_cmd_after_reply(struct imap_cmd *cmd, imap_cmd_after_fn *fn);
/* For the after-reply hooks. Each returns 0, or -1 with *error_r. */
int imap_client_starttls(struct imap_client *client, const char **error_r);
int imap_client_start_compress(struct imap_client *client, const char **error_r);

/* STATUS items (cmd-status.c), shared with LIST-STATUS (cmd-list.c). */
#define IMAP_STATUS_MESSAGES      0x001
#define IMAP_STATUS_UIDNEXT       0x002
#define IMAP_STATUS_UIDVALIDITY   0x004
#define IMAP_STATUS_UNSEEN        0x008
#define IMAP_STATUS_HIGHESTMODSEQ 0x010
#define IMAP_STATUS_SIZE          0x020
#define IMAP_STATUS_DELETED       0x040
#define IMAP_STATUS_RECENT        0x080
#define IMAP_STATUS_MAILBOXID     0x100
struct store_folder;
/* Parses a list of status item names. Returns 0, or -1 with *error_r. */
int imap_status_parse_items(const struct imap_arg *list, size_t count, unsigned *items_r,
                            const char **error_r);
/* Writes "* STATUS <name> (...)" for folder. */
void imap_status_write(struct imap_client *client, const struct store_folder *folder,
                       unsigned items);
/* The items that count messages: a session that may not see a folder's
 * private items (imap_view_restricts) asks store_groupware_visible_counts
 * for them and puts them into the folder with imap_status_apply_counts. */
#define IMAP_STATUS_COUNTS                                                                         \
	(IMAP_STATUS_MESSAGES | IMAP_STATUS_UNSEEN | IMAP_STATUS_SIZE | IMAP_STATUS_DELETED)
struct store_gw_counts;
void imap_status_apply_counts(struct store_folder *folder, const struct store_gw_counts *counts);

/* The tagged status set so far ("OK", "NO", "BAD") or NULL. */
const char *imap_cmd_status(const struct imap_cmd *cmd);

#endif
