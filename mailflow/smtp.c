/* The per-worker submission server: shared objects, the list of sessions,
 * connections per client address ([smtp] max_connections_per_ip, counted
 * across workers), operations that outlive their session (bounces), and
 * graceful shutdown (sessions end with "421 4.3.2"). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "conn-limits.h"
#include "delivery.h"
#include "log.h"
#include "smtp-private.h"
#include "xmalloc.h"

struct smtp_detached {
	LIST_ENTRY(smtp_detached) entry;
	struct delivery_op *op;
};

/* Connections per address in this worker alone, used when the shared
 * counters are not available. */
#define SMTP_IP_BUCKETS 64
struct smtp_ip_count {
	struct smtp_ip_count *next;
	unsigned count;
	char ip[64];
};

struct smtp_server {
	struct event_base *base;
	const struct floe_config *cfg;
	struct db *db;
	struct auth *auth;
	struct delivery *delivery;
	SSL_CTX *ssl;
	char hostname[256];

	LIST_HEAD(, smtp_session) sessions;
	size_t nsessions;
	LIST_HEAD(, smtp_detached) detached;
	struct smtp_ip_count *ips[SMTP_IP_BUCKETS];

	bool stopping;
	void (*drained)(void *ctx);
	void *drained_ctx;
	struct event *drained_ev;
};

struct smtp_server *
smtp_server_create(struct event_base *base, const struct floe_config *cfg, struct db *db,
                   struct auth *auth, struct delivery *delivery, SSL_CTX *ssl)
{
	struct smtp_server *server = xcalloc(1, sizeof(*server));

	server->base = base;
	server->cfg = cfg;
	server->db = db;
	server->auth = auth;
	server->delivery = delivery;
	server->ssl = ssl;
	/* The name submission announces is the one the queue uses in EHLO. */
	if (cfg->queue.hostname[0] != '\0')
		snprintf(server->hostname, sizeof(server->hostname), "%s", cfg->queue.hostname);
	else if (gethostname(server->hostname, sizeof(server->hostname)) < 0 ||
	         server->hostname[0] == '\0')
		snprintf(server->hostname, sizeof(server->hostname), "localhost");
	server->hostname[sizeof(server->hostname) - 1] = '\0';
	LIST_INIT(&server->sessions);
	LIST_INIT(&server->detached);
	return server;
}

void
smtp_server_destroy(struct smtp_server **serverp)
{
	struct smtp_server *server = *serverp;
	struct smtp_detached *d;

	if (server == NULL)
		return;
	while (!LIST_EMPTY(&server->sessions))
		smtp_session_destroy_now(LIST_FIRST(&server->sessions));
	while ((d = LIST_FIRST(&server->detached)) != NULL) {
		LIST_REMOVE(d, entry);
		delivery_op_abandon(&d->op);
		free(d);
	}
	for (size_t i = 0; i < SMTP_IP_BUCKETS; i++) {
		while (server->ips[i] != NULL) {
			struct smtp_ip_count *c = server->ips[i];

			server->ips[i] = c->next;
			free(c);
		}
	}
	if (server->drained_ev != NULL)
		event_free(server->drained_ev);
	free(server);
	*serverp = NULL;
}

static struct smtp_ip_count **
smtp_ip_find(struct smtp_server *server, const char *ip)
{
	unsigned h = 2166136261u;
	struct smtp_ip_count **p;

	for (const char *c = ip; *c != '\0'; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	p = &server->ips[h % SMTP_IP_BUCKETS];
	while (*p != NULL && strcmp((*p)->ip, ip) != 0)
		p = &(*p)->next;
	return p;
}

int
smtp_server_ip_acquire(struct smtp_server *server, const char *ip)
{
	struct conn_limits *shared = conn_limits_worker();
	unsigned limit = server->cfg->smtp.max_connections_per_ip;
	struct smtp_ip_count **p;
	char key[80];

	if (shared != NULL) {
		snprintf(key, sizeof(key), "smtp-ip:%s", ip);
		return conn_limits_acquire(shared, key, limit > 0 ? limit : UINT_MAX);
	}
	p = smtp_ip_find(server, ip);
	if (*p == NULL) {
		*p = xcalloc(1, sizeof(**p));
		snprintf((*p)->ip, sizeof((*p)->ip), "%s", ip);
	}
	if (limit > 0 && (*p)->count >= limit)
		return -1;
	(*p)->count++;
	return 0;
}

void
smtp_server_ip_release(struct smtp_server *server, const char *ip)
{
	struct conn_limits *shared = conn_limits_worker();
	struct smtp_ip_count **p, *c;
	char key[80];

	if (shared != NULL) {
		snprintf(key, sizeof(key), "smtp-ip:%s", ip);
		conn_limits_release(shared, key);
		return;
	}
	p = smtp_ip_find(server, ip);
	c = *p;
	if (c == NULL)
		return;
	if (c->count > 0)
		c->count--;
	if (c->count == 0) {
		*p = c->next;
		free(c);
	}
}

static void
smtp_server_bye_written(struct bufferevent *bev, void *ctx)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
smtp_server_bye_event(struct bufferevent *bev, short what, void *ctx)
{
	bufferevent_free(bev);
}

void
smtp_server_accept(struct smtp_server *server, struct bufferevent *bev, const struct sockaddr *peer,
                   socklen_t peer_len, bool tls)
{
	if (server->stopping) {
		static const char bye[] = "421 4.3.2 Service shutting down\r\n";
		struct timeval tv = {5, 0};

		bufferevent_setcb(bev, NULL, smtp_server_bye_written, smtp_server_bye_event, NULL);
		bufferevent_set_timeouts(bev, &tv, &tv);
		bufferevent_enable(bev, EV_WRITE);
		bufferevent_write(bev, bye, sizeof(bye) - 1);
		return;
	}
	smtp_session_create(server, bev, peer, peer_len, tls);
}

static void
smtp_server_drained_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct smtp_server *server = ctx;

	if (server->drained != NULL) {
		void (*done)(void *) = server->drained;

		server->drained = NULL;
		done(server->drained_ctx);
	}
}

static void
smtp_server_check_drained(struct smtp_server *server)
{
	if (!server->stopping || server->nsessions > 0 || server->drained == NULL)
		return;
	if (server->drained_ev == NULL)
		server->drained_ev = evtimer_new(server->base, smtp_server_drained_cb, server);
	event_active(server->drained_ev, EV_TIMEOUT, 0);
}

void
smtp_server_shutdown(struct smtp_server *server, void (*done)(void *ctx), void *ctx)
{
	struct smtp_session *s, *next;

	server->stopping = true;
	server->drained = done;
	server->drained_ctx = ctx;
	/* A session ends through a zero-timeout event, never inside this
	 * loop, so the list stays intact while it is walked. */
	for (s = LIST_FIRST(&server->sessions); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		smtp_session_shutdown(s);
	}
	smtp_server_check_drained(server);
}

size_t
smtp_server_connection_count(const struct smtp_server *server)
{
	return server->nsessions;
}

void
smtp_server_add(struct smtp_server *server, struct smtp_session *s)
{
	LIST_INSERT_HEAD(&server->sessions, s, entry);
	server->nsessions++;
}

void
smtp_server_remove(struct smtp_server *server, struct smtp_session *s)
{
	LIST_REMOVE(s, entry);
	server->nsessions--;
	smtp_server_check_drained(server);
}

struct smtp_detached *
smtp_server_detach(struct smtp_server *server)
{
	struct smtp_detached *d = xcalloc(1, sizeof(*d));

	LIST_INSERT_HEAD(&server->detached, d, entry);
	return d;
}

void
smtp_server_detached_set(struct smtp_detached *d, struct delivery_op *op)
{
	d->op = op;
}

void
smtp_server_detached_done(struct smtp_detached *d)
{
	LIST_REMOVE(d, entry);
	free(d);
}

struct event_base *
smtp_server_base(const struct smtp_server *server)
{
	return server->base;
}

const struct floe_config *
smtp_server_config(const struct smtp_server *server)
{
	return server->cfg;
}

struct db *
smtp_server_db(const struct smtp_server *server)
{
	return server->db;
}

struct auth *
smtp_server_auth(const struct smtp_server *server)
{
	return server->auth;
}

struct delivery *
smtp_server_delivery(const struct smtp_server *server)
{
	return server->delivery;
}

SSL_CTX *
smtp_server_ssl(const struct smtp_server *server)
{
	return server->ssl;
}

const char *
smtp_server_hostname(const struct smtp_server *server)
{
	return server->hostname;
}

bool
smtp_server_is_stopping(const struct smtp_server *server)
{
	return server->stopping;
}
