/* Internals of the LMTP server shared by mailflow/lmtp.c (sessions, I/O,
 * DATA reader, shutdown) and mailflow/lmtp-commands.c (the commands). */
#ifndef FLOE_LMTP_PRIVATE_H
#define FLOE_LMTP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "lmtp.h"

struct delivery_op;
struct evbuffer;
struct event;

/* A session with this many bad commands is disconnected. */
#define LMTP_MAX_ERRORS 20

enum lmtp_state {
	LMTP_CMD,     /* reading commands */
	LMTP_DATA,    /* reading the message after 354 */
	LMTP_BUSY,    /* waiting for the store; input paused */
	LMTP_CLOSING, /* flushing the last reply */
	LMTP_DEAD,    /* being freed */
};

struct lmtp_server {
	struct event_base *base;
	const struct floe_config *cfg;
	struct delivery *delivery;
	size_t max_size, max_line;
	char hostname[256];
	LIST_HEAD(, lmtp_session) sessions;
	size_t nsessions;
	bool stopping;
	void (*drained)(void *ctx);
	void *drained_ctx;
	struct event *drained_ev;
};

struct lmtp_session {
	struct lmtp_server *server;
	LIST_ENTRY(lmtp_session) entry;
	struct bufferevent *bev;
	char peer[64];
	char *lhlo; /* the client's name, NULL before LHLO */
	enum lmtp_state state, resume_state;
	unsigned errors;
	bool cmd_skip; /* dropping the rest of an over-long command line */

	/* The transaction. */
	bool have_mail;
	char *mail_from; /* "" for <> */
	char **rcpts;    /* accepted recipients, as given */
	size_t nrcpts;
	char *pending_rcpt; /* being resolved */
	struct evbuffer *data;
	bool data_too_big, data_line_too_long, data_skip;

	struct delivery_op *op;
	struct event *free_ev;
};

/* lmtp.c */
/* Queues one reply line (CRLF added). */
void lmtp_reply(struct lmtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lmtp_transaction_reset(struct lmtp_session *s);
/* Ends the session once the replies so far are sent. */
void lmtp_session_close(struct lmtp_session *s);
/* Counts a bad command; too many close the session. */
void lmtp_error(struct lmtp_session *s);
/* Pauses input until lmtp_session_resume, which continues in state after. */
void lmtp_session_wait(struct lmtp_session *s, enum lmtp_state after);
void lmtp_session_resume(struct lmtp_session *s);
void lmtp_session_process(struct lmtp_session *s);
bool lmtp_session_stop_if_asked(struct lmtp_session *s);

/* lmtp-commands.c */
/* Runs one command line (without its line end; NUL-terminated, len bytes). */
void lmtp_command(struct lmtp_session *s, const char *line, size_t len);
/* The final "." of DATA was read: deliver, or refuse what was too big. */
void lmtp_data_done(struct lmtp_session *s);

#endif
