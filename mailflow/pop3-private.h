/* Internals shared by the POP3 files: the server's registry and shared
 * objects (pop3.c), the session and its I/O (pop3-session.c), the command
 * table and commands (pop3-commands.c, pop3-auth.c, pop3-retr.c) and the
 * pure output formatting (pop3-format.c). */
#ifndef FLOE_POP3_PRIVATE_H
#define FLOE_POP3_PRIVATE_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3.h"

struct auth_request;
struct evbuffer;
struct event;
struct store_op;

/* Output buffered beyond HIGH stops reading commands and message data
 * until it is back under LOW. */
#define POP3_OUTPUT_HIGH (256 * 1024)
#define POP3_OUTPUT_LOW  (64 * 1024)
/* Message data is read from the blob this much at a time. */
#define POP3_CHUNK (256 * 1024)
/* Unknown or malformed commands in a row before the session is closed. */
#define POP3_MAX_BAD 20
/* Before login the inactivity limit is at most this. */
#define POP3_PREAUTH_TIMEOUT_MS 60000

/* ---------------------------------------------------------------------
 * Server (pop3.c)
 */

struct event_base *pop3_server_base(const struct pop3_server *server);
const struct floe_config *pop3_server_config(const struct pop3_server *server);
struct store *pop3_server_store(const struct pop3_server *server);
struct auth *pop3_server_auth(const struct pop3_server *server);
SSL_CTX *pop3_server_ssl(const struct pop3_server *server);

struct pop3_session;
/* Registers a session; returns 0 with its slot, or -1 when ip already has
 * max_connections_per_ip sessions (counted over every worker). remove may
 * move another session to the freed slot (pop3_session_set_slot). */
int pop3_server_session_add(struct pop3_server *server, struct pop3_session *s, const char *ip,
                            size_t *slot_r);
void pop3_server_session_remove(struct pop3_server *server, size_t slot, const char *ip);
/* Per-account limit: 0 and counted, or -1 at max_connections_per_account. */
int pop3_server_account_ref(struct pop3_server *server, uint64_t account_id);
void pop3_server_account_unref(struct pop3_server *server, uint64_t account_id);

/* ---------------------------------------------------------------------
 * Session (pop3-session.c)
 */

enum pop3_state {
	POP3_STATE_AUTHORIZATION = 1 << 0,
	POP3_STATE_TRANSACTION = 1 << 1,
	POP3_STATE_UPDATE = 1 << 2,
};

/* One message of the session's snapshot of INBOX, numbered from 1 in UID
 * order. */
struct pop3_msg {
	uint32_t uid;
	bool deleted;   /* DELE in this session */
	bool retrieved; /* RETR in this session: \Seen at QUIT */
	uint64_t size;
	bool has_hash;
	unsigned char hash[32]; /* SHA-256 of the blob */
};

/* SASL exchange waiting for the client's next line. */
enum pop3_sasl {
	POP3_SASL_NONE,
	POP3_SASL_PLAIN,
	POP3_SASL_LOGIN_USER,
	POP3_SASL_LOGIN_PASS,
};

struct pop3_transfer;

struct pop3_session {
	struct pop3_server *server;
	const struct floe_config *cfg;
	struct event_base *base;
	struct bufferevent *bev;
	size_t slot;
	char peer[INET6_ADDRSTRLEN];
	enum pop3_state state;
	bool tls;
	bool registered, account_counted;

	/* AUTHORIZATION */
	char *user; /* USER given, waiting for PASS */
	enum pop3_sasl sasl;
	char *sasl_login; /* AUTH LOGIN: the user name */
	struct auth_request *auth_req;

	/* TRANSACTION */
	uint64_t account_id;
	char *address;
	uint64_t folder_id;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;
	size_t nmsgs;
	size_t nremoved; /* UPDATE: messages expunged */

	/* A command waiting for the database or for output; no other line is
	 * read meanwhile (pipelined commands wait in the input buffer). */
	bool busy;
	struct store_op *op;
	struct pop3_transfer *xfer;
	/* Output over POP3_OUTPUT_HIGH: reading resumes below LOW. */
	bool blocked_on_output;
	unsigned bad_in_row;
	bool skipping; /* discarding the rest of an over-long line */

	bool closing, freeing, close_after_flush, shutdown_pending;
	bool free_when_idle; /* the connection is gone; UPDATE finishes first */
	struct event *resume_ev, *free_ev, *linger_ev;
};

struct pop3_session *pop3_session_create(struct pop3_server *server, struct bufferevent *bev,
                                         const struct sockaddr *peer, socklen_t peer_len, bool tls);
/* Frees at once (server destroy). */
void pop3_session_destroy_now(struct pop3_session *s);
void pop3_session_set_slot(struct pop3_session *s, size_t slot);
/* Graceful shutdown of one session (see pop3_server_shutdown). */
void pop3_session_shutdown(struct pop3_session *s);

/* Writes "+OK text\r\n" / "-ERR text\r\n". */
void pop3_ok(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop3_err(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same for malformed or unknown commands: counts towards POP3_MAX_BAD. */
void pop3_bad(struct pop3_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Raw output (multi-line responses). */
struct evbuffer *pop3_session_output(struct pop3_session *s);
/* Bytes written and not yet with the kernel. */
size_t pop3_session_output_pending(const struct pop3_session *s);
/* The running asynchronous command is done: read the next line. */
void pop3_session_command_done(struct pop3_session *s);
/* Whether USER/PASS and AUTH are allowed on this connection now. */
bool pop3_session_plaintext_ok(const struct pop3_session *s);
/* Writes the reply (may be NULL), then closes once it is sent. */
void pop3_session_disconnect(struct pop3_session *s, const char *reply);
/* STLS after "+OK": 0, or -1 with *error_r. */
int pop3_session_starttls(struct pop3_session *s, const char **error_r);
/* Enters TRANSACTION once s->msgs holds the snapshot (autologout applies). */
void pop3_session_enter_transaction(struct pop3_session *s);
/* Leaves a failed login: drops the account reference and the snapshot. */
void pop3_session_drop_account(struct pop3_session *s);
/* The remote address for auth_password (NULL for a local socket). */
const char *pop3_session_remote_ip(const struct pop3_session *s);

/* ---------------------------------------------------------------------
 * Commands (pop3-commands.c, pop3-auth.c, pop3-retr.c)
 */

struct pop3_command {
	const char *name;
	unsigned states; /* enum pop3_state bits where it is allowed */
	/* args: the rest of the line after the keyword and one space ("" when
	 * none). The command answers before returning, or sets s->busy and
	 * calls pop3_session_command_done once it has answered. */
	void (*exec)(struct pop3_session *s, const char *args);
};

const struct pop3_command *pop3_command_find(const char *name);
/* A line that continues a SASL exchange (s->sasl != POP3_SASL_NONE). */
void pop3_sasl_continue(struct pop3_session *s, const char *line);

void pop3_cmd_capa(struct pop3_session *s, const char *args);
void pop3_cmd_stls(struct pop3_session *s, const char *args);
void pop3_cmd_user(struct pop3_session *s, const char *args);
void pop3_cmd_pass(struct pop3_session *s, const char *args);
void pop3_cmd_auth(struct pop3_session *s, const char *args);
void pop3_cmd_apop(struct pop3_session *s, const char *args);
void pop3_cmd_retr(struct pop3_session *s, const char *args);
void pop3_cmd_top(struct pop3_session *s, const char *args);
/* Abandons a RETR/TOP in progress (session going away). */
void pop3_transfer_free(struct pop3_session *s);
/* Output went under POP3_OUTPUT_LOW: a waiting transfer reads on. */
void pop3_transfer_resume(struct pop3_session *s);

/* Parses a message number argument ("1".."nmsgs", not deleted): 0 with
 * *index_r (0-based), or -1 after answering -ERR. */
int pop3_msg_arg(struct pop3_session *s, const char *text, size_t *index_r);

/* ---------------------------------------------------------------------
 * Formatting (pop3-format.c; pure, unit-tested)
 */

/* Turns message bytes into the body of a multi-line response: lines end in
 * CRLF (a bare LF becomes CRLF), a line starting with '.' gets another
 * '.', and with TOP only the header, the blank line and max_body_lines
 * lines of the body pass. Feed the message in any pieces; then finish. */
struct pop3_stuffer {
	bool line_start;        /* the next byte starts a line */
	bool after_cr;          /* the last byte was CR */
	bool in_header;         /* before the blank line ending the header */
	bool header_line_empty; /* the header line so far is empty */
	bool top;               /* TOP: count body lines */
	uint64_t body_lines_left;
	bool done; /* TOP's lines are all out: ignore the rest */
};

void pop3_stuffer_init(struct pop3_stuffer *st, bool top, uint64_t max_body_lines);
/* Appends the transformed bytes of data to out. Returns true once done
 * (TOP has written all it wants; further input is ignored). */
bool pop3_stuffer_feed(struct pop3_stuffer *st, const void *data, size_t len, struct evbuffer *out);
/* Ends the response: a CRLF if the last line was unterminated, then
 * ".\r\n". */
void pop3_stuffer_finish(struct pop3_stuffer *st, struct evbuffer *out);

/* Splits a command line into the keyword (upper-cased into name, at most
 * size - 1 bytes) and the arguments after one space. Returns 0, or -1 when
 * the keyword is empty, too long or not alphabetic. */
int pop3_parse_command(const char *line, char *name, size_t size, const char **args_r);
/* A message number or line count: decimal digits only, no sign or
 * leading spaces, within max. Returns 0, or -1. */
int pop3_parse_number(const char *text, uint64_t max, uint64_t *value_r);

#endif
