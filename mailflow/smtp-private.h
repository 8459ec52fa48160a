/* Internals of SMTP submission shared by its files: the server
 * (smtp.c), the session with its line reader and message reader
 * (smtp-session.c) and the command table (smtp-cmd.c, smtp-submit.c). */
#ifndef FLOE_SMTP_PRIVATE_H
#define FLOE_SMTP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "smtp.h"

struct auth_request;
struct delivery_op;
struct evbuffer;
struct event;
struct store_queue_op;

/* Longest command line (RFC 4954 allows 12288 for AUTH; ours are far
 * shorter: an AUTH PLAIN response of a 320-byte login and a 1024-byte
 * password is under 2 KiB of base64). */
#define SMTP_LINE_MAX 4096
/* Bad commands in a session before it is closed. */
#define SMTP_MAX_ERRORS 10

enum smtp_state {
	SMTP_CMD,        /* reading commands */
	SMTP_DATA,       /* reading the message after 354 */
	SMTP_AUTH_PLAIN, /* waiting for the PLAIN response after "334 " */
	SMTP_AUTH_USER,  /* LOGIN: waiting for the user name */
	SMTP_AUTH_PASS,  /* LOGIN: waiting for the password */
	SMTP_BUSY,       /* an asynchronous step runs; input waits */
	SMTP_CLOSING,    /* the last reply is being written */
};

struct smtp_session {
	struct smtp_server *server;
	LIST_ENTRY(smtp_session) entry;
	struct bufferevent *bev;
	char peer[64];
	bool tls;
	enum smtp_state state;
	unsigned errors;
	bool skip_line;  /* discarding the rest of an over-long line */
	bool ip_counted; /* counts towards [smtp] max_connections_per_ip */

	char *helo; /* NULL until EHLO/HELO */
	bool esmtp;

	bool authenticated;
	uint64_t account_id;
	char *address;    /* the account's primary address */
	char *auth_login; /* AUTH LOGIN: the user name while waiting for the password */

	/* the transaction */
	bool mail;
	char *mail_from;
	char **rcpts;
	size_t nrcpts;
	struct evbuffer *data;
	size_t data_size; /* bytes received, stored or not */
	bool data_bol;    /* at the start of a message line */

	/* what runs asynchronously (at most one) */
	struct auth_request *auth_req;
	struct delivery_op *dop;
	struct store_queue_op *sop;
	bool save_to_sent;

	struct event *free_ev;
};

/* smtp.c: shared objects for the sessions */
struct event_base *smtp_server_base(const struct smtp_server *server);
const struct floe_config *smtp_server_config(const struct smtp_server *server);
struct db *smtp_server_db(const struct smtp_server *server);
struct auth *smtp_server_auth(const struct smtp_server *server);
struct delivery *smtp_server_delivery(const struct smtp_server *server);
SSL_CTX *smtp_server_ssl(const struct smtp_server *server);
const char *smtp_server_hostname(const struct smtp_server *server);
bool smtp_server_is_stopping(const struct smtp_server *server);
void smtp_server_add(struct smtp_server *server, struct smtp_session *s);
/* Counts one connection from ip unless [smtp] max_connections_per_ip are
 * already open (over every worker). Returns 0, or -1 when over. */
int smtp_server_ip_acquire(struct smtp_server *server, const char *ip);
void smtp_server_ip_release(struct smtp_server *server, const char *ip);
void smtp_server_remove(struct smtp_server *server, struct smtp_session *s);
/* Keeps a delivery operation running after its session ended (a bounce
 * for recipients that failed after the client was told 250); it is
 * abandoned only when the server is destroyed. Returns the slot the
 * callback must pass to smtp_server_detached_done. */
struct smtp_detached;
struct smtp_detached *smtp_server_detach(struct smtp_server *server);
void smtp_server_detached_set(struct smtp_detached *d, struct delivery_op *op);
void smtp_server_detached_done(struct smtp_detached *d);

/* smtp-session.c */
void smtp_session_create(struct smtp_server *server, struct bufferevent *bev,
                         const struct sockaddr *peer, socklen_t peer_len, bool tls);
/* Frees at once (server destroy). */
void smtp_session_destroy_now(struct smtp_session *s);
/* Ends an idle session with 421, or marks a busy one to end after its
 * reply. */
void smtp_session_shutdown(struct smtp_session *s);
/* Writes one reply line (CRLF added). */
void smtp_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Counts a bad command; closes the session after SMTP_MAX_ERRORS. */
void smtp_reply_error(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Ends the session after the pending output (with reply, if not NULL). */
void smtp_session_close(struct smtp_session *s, const char *reply);
/* An asynchronous step has finished: read on (and close now if the
 * server is stopping). */
void smtp_session_resume(struct smtp_session *s);
/* Forgets the transaction (RSET, after a message, after STARTTLS). */
void smtp_session_reset(struct smtp_session *s);
/* STARTTLS after the 220 reply. Returns 0 or -1 with *error_r. */
int smtp_session_starttls(struct smtp_session *s, const char **error_r);

/* smtp-cmd.c: runs one command line */
void smtp_command(struct smtp_session *s, char *line);
/* A line while waiting for an AUTH response */
void smtp_auth_response(struct smtp_session *s, char *line);

/* smtp-submit.c: the message is complete (or was too large); called from
 * the input loop with the session SMTP_BUSY. */
void smtp_submit(struct smtp_session *s, bool too_big);

#endif
