/* Internals of the session, shared by client.c (connection, output,
 * compression, life cycle) and client-cmd.c (the input loop and command
 * dispatch). Nothing outside those two files includes it. */
#ifndef FLOE_IMAP_CLIENT_INTERNAL_H
#define FLOE_IMAP_CLIENT_INTERNAL_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/time.h>
#include <zlib.h>

#include "imap-client-private.h"

/* Bad commands in a row before the session is ended. */
#define CLIENT_MAX_BAD 20
/* Output levels for flow control (imap_client_output_busy/wait_output). */
#define CLIENT_OUTPUT_HIGH (256 * 1024)
#define CLIENT_OUTPUT_LOW  (64 * 1024)
/* Raw input read ahead while a command runs, and inflated input kept. */
#define CLIENT_INPUT_MAX   (1024 * 1024)
#define CLIENT_INFLATE_MAX (64 * 1024)
/* A refused non-synchronizing literal bigger than this ends the session
 * rather than being read and thrown away. */
#define CLIENT_SKIP_MAX (16 * 1024 * 1024)
/* Autologout before authentication is at most this. */
#define CLIENT_PREAUTH_TIMEOUT_MS 60000

struct client_cmd {
	struct imap_cmd pub;
	char *tag;
	char name[32];
	char *status, *text;
	imap_cmd_after_fn *after;
};

struct imap_client {
	struct imap_server *server;
	const struct floe_config *cfg;
	struct event_base *base;
	struct bufferevent *bev;
	size_t slot;
	bool registered;
	char peer[INET6_ADDRSTRLEN];
	bool tls;

	enum imap_client_state state;
	uint64_t account_id;
	char *address;
	char *agent; /* IceWarp connector version (X-ICEWARP-SERVER), or NULL */
	bool account_counted;
	unsigned enabled;

	struct imap_parser *parser;
	struct evbuffer *out;
	z_stream *zin, *zout;
	struct evbuffer *inflated;

	struct client_cmd *cmd;
	bool cmd_parsing; /* created by a literal hook; not complete yet */
	imap_client_line_fn *line_fn;
	bool processing;
	bool blocked_on_output;

	struct imap_view *view;
	bool selected_changed;

	unsigned bad_count;
	double tokens;
	struct timeval token_time;

	imap_client_output_fn *wait_cb;
	void *wait_ctx;

	struct event *resume_ev, *rate_ev, *output_ev, *free_ev, *linger_ev;
	bool closing; /* no more input is processed */
	bool freeing; /* the free event is scheduled */
	bool close_after_flush;
	bool shutdown_pending;
};

static inline struct client_cmd *
client_cmd_of(struct imap_cmd *cmd)
{
	return (struct client_cmd *)((char *)cmd - offsetof(struct client_cmd, pub));
}

/* client.c */
/* Output not yet handed to the kernel (session buffer included). */
size_t imap_client_output_pending(const struct imap_client *c);
/* Inflates compressed input; 0, or -1 for corrupt data. */
int imap_client_inflate(struct imap_client *c);
/* Where the parser reads from (the socket, or the inflated input). */
struct evbuffer *imap_client_input(struct imap_client *c);

/* client-cmd.c */
/* Parses and runs what the client sent, as far as the session may. */
void imap_client_process(struct imap_client *c);
/* Runs a command's cleanup and frees it. */
void imap_client_cmd_free(struct client_cmd *cc);

#endif
