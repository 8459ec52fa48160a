/* Binding the configured listeners. Sockets are non-blocking, close-on-exec
 * and SO_REUSEADDR; workers accept on them from their own event loops.
 * A Unix socket ([lmtp] listen = unix:/path) replaces a stale socket file
 * and gets [lmtp] socket_mode and socket_group before it listens. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "xmalloc.h"

#define LISTEN_BACKLOG 1024

const char *listen_proto_name(enum listen_proto proto)
{
	switch (proto) {
	case LISTEN_PROTO_HTTP:
		return "http";
	case LISTEN_PROTO_IMAP:
		return "imap";
	case LISTEN_PROTO_LMTP:
		return "lmtp";
	case LISTEN_PROTO_SMTP:
		return "smtp";
	case LISTEN_PROTO_POP3:
		return "pop3";
	}
	return "?";
}

static int listen_find_old(const struct listener_set *old, const struct listener *l)
{
	if (old == NULL)
		return -1;
	for (size_t i = 0; i < old->count; i++) {
		const struct listener *o = &old->items[i];

		if (o->proto == l->proto && o->tls == l->tls && o->addr_len == l->addr_len &&
		    memcmp(&o->addr, &l->addr, l->addr_len) == 0)
			return o->fd;
	}
	return -1;
}

/* Removes a socket file left behind by an earlier run; refuses a path
 * that is not a socket, or one another process still listens on. */
static int listen_unix_clear(const struct listener *l, const char **error_r)
{
	const char *path = ((const struct sockaddr_un *)&l->addr)->sun_path;
	struct stat st;
	int fd, in_use;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = strerror(errno);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		*error_r = "the path exists and is not a socket";
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	/* Refused: nobody listens (stale). Accepted, or a full backlog: in use. */
	in_use = connect(fd, (const struct sockaddr *)&l->addr, l->addr_len) == 0 ||
		 errno == EAGAIN;
	close(fd);
	if (in_use) {
		*error_r = "another process is listening on this socket";
		return -1;
	}
	if (unlink(path) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

/* Gives a freshly bound Unix socket its permissions and group: [lmtp]
 * socket_group, else (as root) the group of [server] user. */
static int listen_unix_perms(const struct floe_config *cfg, const struct listener *l,
			     const char **error_r)
{
	static char why[300];
	const char *path = ((const struct sockaddr_un *)&l->addr)->sun_path;
	gid_t gid = (gid_t)-1;

	if (cfg->lmtp.socket_group[0] != '\0') {
		struct group *gr = getgrnam(cfg->lmtp.socket_group);

		if (gr == NULL) {
			snprintf(why, sizeof(why), "group %s does not exist", cfg->lmtp.socket_group);
			*error_r = why;
			return -1;
		}
		gid = gr->gr_gid;
	} else if (geteuid() == 0 && cfg->server.user[0] != '\0') {
		struct passwd *pw = getpwnam(cfg->server.user);

		if (pw != NULL)
			gid = pw->pw_gid;
	}
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) {
		snprintf(why, sizeof(why), "cannot give the socket to group %u: %s", (unsigned)gid,
			 strerror(errno));
		*error_r = why;
		return -1;
	}
	if (chmod(path, (mode_t)cfg->lmtp.socket_mode) < 0) {
		snprintf(why, sizeof(why), "cannot set the socket's permissions to %04o: %s",
			 cfg->lmtp.socket_mode, strerror(errno));
		*error_r = why;
		return -1;
	}
	return 0;
}

static int listen_socket(const struct floe_config *cfg, const struct listener *l,
			 const char **error_r)
{
	int fd, one = 1;
	bool is_unix = l->addr.ss_family == AF_UNIX;

	if (is_unix && listen_unix_clear(l, error_r) < 0)
		return -1;
	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (!is_unix)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addr_len) < 0) {
		*error_r = strerror(errno);
		close(fd);
		return -1;
	}
	/* Permissions before listen(): nobody can connect in between. */
	if (is_unix && listen_unix_perms(cfg, l, error_r) < 0) {
		unlink(((const struct sockaddr_un *)&l->addr)->sun_path);
		close(fd);
		return -1;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		*error_r = strerror(errno);
		if (is_unix)
			unlink(((const struct sockaddr_un *)&l->addr)->sun_path);
		close(fd);
		return -1;
	}
	return fd;
}

static void listen_add(struct listener_set *set, const struct config_listen_list *list,
		       enum listen_proto proto, bool tls, const char *name)
{
	for (size_t i = 0; i < list->count; i++) {
		struct listener l;

		memset(&l, 0, sizeof(l));
		l.proto = proto;
		l.tls = tls;
		l.name = xstrdup(name);
		l.text = xstrdup(list->items[i].text);
		l.line = list->items[i].line;
		l.addr = list->items[i].addr;
		l.addr_len = list->items[i].addr_len;
		l.fd = -1;
		set->items = xreallocarray(set->items, set->count + 1, sizeof(l));
		set->items[set->count++] = l;
	}
}

int listeners_bind(const struct floe_config *cfg, const struct listener_set *old,
		   struct listener_set *set_r, struct config_errors *errors)
{
	struct listener_set set = {NULL, 0};
	bool failed = false;

	listen_add(&set, &cfg->http.listen, LISTEN_PROTO_HTTP, false, "http.listen");
	listen_add(&set, &cfg->http.listen_tls, LISTEN_PROTO_HTTP, true, "http.listen_tls");
	listen_add(&set, &cfg->imap.listen, LISTEN_PROTO_IMAP, false, "imap.listen");
	listen_add(&set, &cfg->imap.listen_tls, LISTEN_PROTO_IMAP, true, "imap.listen_tls");
	listen_add(&set, &cfg->lmtp.listen, LISTEN_PROTO_LMTP, false, "lmtp.listen");
	listen_add(&set, &cfg->smtp.listen, LISTEN_PROTO_SMTP, false, "smtp.listen");
	listen_add(&set, &cfg->smtp.listen_tls, LISTEN_PROTO_SMTP, true, "smtp.listen_tls");
	listen_add(&set, &cfg->pop3.listen, LISTEN_PROTO_POP3, false, "pop3.listen");
	listen_add(&set, &cfg->pop3.listen_tls, LISTEN_PROTO_POP3, true, "pop3.listen_tls");

	for (size_t i = 0; i < set.count; i++) {
		struct listener *l = &set.items[i];
		int oldfd = listen_find_old(old, l);
		const char *error = NULL;

		if (oldfd >= 0) {
			l->fd = fcntl(oldfd, F_DUPFD_CLOEXEC, 3);
			if (l->fd < 0)
				error = strerror(errno);
		} else {
			l->fd = listen_socket(cfg, l, &error);
		}
		if (l->fd < 0) {
			char *msg = xasprintf("%s:%u: %s = %s: cannot listen: %s", cfg->path,
					      l->line, l->name, l->text, error);

			errors->lines = xreallocarray(errors->lines, errors->count + 1,
						      sizeof(char *));
			errors->lines[errors->count++] = msg;
			failed = true;
		}
	}
	if (failed) {
		listeners_close(&set);
		return -1;
	}
	*set_r = set;
	return 0;
}

void listeners_close(struct listener_set *set)
{
	for (size_t i = 0; i < set->count; i++) {
		if (set->items[i].fd >= 0)
			close(set->items[i].fd);
		free(set->items[i].name);
		free(set->items[i].text);
	}
	free(set->items);
	set->items = NULL;
	set->count = 0;
}
