/* Listening sockets: bound by the master (as root, before dropping
 * privileges) from the configuration, inherited by every worker. */
#ifndef FLOE_LISTEN_H
#define FLOE_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config.h"

enum listen_proto {
	LISTEN_PROTO_HTTP,
	LISTEN_PROTO_IMAP,
	LISTEN_PROTO_LMTP,
	LISTEN_PROTO_SMTP,
	LISTEN_PROTO_POP3,
};

struct listener {
	enum listen_proto proto;
	bool tls;             /* implicit TLS */
	char *name;           /* "imap.listen_tls" */
	char *text;           /* "127.0.0.1:993" */
	unsigned line;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int fd;
};

struct listener_set {
	struct listener *items;
	size_t count;
};

/* Binds every listener of cfg. A listener whose protocol and address are
 * already in old (may be NULL) reuses a duplicate of that socket, so a
 * reload does not drop connections waiting in the accept queue. Returns 0,
 * or -1 with "file:line: reason" errors appended (nothing stays bound). */
int listeners_bind(const struct floe_config *cfg, const struct listener_set *old,
		   struct listener_set *set_r, struct config_errors *errors);
/* Closes the sockets and frees the set. */
void listeners_close(struct listener_set *set);
const char *listen_proto_name(enum listen_proto proto);

#endif
