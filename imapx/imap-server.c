/* The per-worker IMAP server: shared objects, the session registry, the
 * per-address and per-account connection counters, and graceful shutdown
 * (sessions end with "* BYE Server shutting down"). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "imap-client-private.h"
#include "conn-limits.h"
#include "imap-server.h"
#include "log.h"
#include "msg-cache.h"
#include "xmalloc.h"

/* A string-keyed counter: connections per address or per account. */
struct counter {
	struct counter *next;
	unsigned count;
	char key[];
};

#define COUNTER_BUCKETS 1024

struct imap_server {
	struct event_base *base;
	const struct floe_config *cfg;
	struct store *store;
	struct auth *auth;
	struct notify_bus *bus;
	SSL_CTX *ssl;
	struct imap_cache *cache;

	struct imap_client **clients;
	size_t nclients, clients_alloc;
	struct counter *counters[COUNTER_BUCKETS];

	bool stopping;
	void (*drained)(void *ctx);
	void *drained_ctx;
	struct event *drained_ev;
};

static unsigned
counter_hash(const char *key)
{
	unsigned h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % COUNTER_BUCKETS;
}

static struct counter **
counter_find(struct imap_server *server, const char *key)
{
	struct counter **p = &server->counters[counter_hash(key)];

	while (*p != NULL && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

/* Adds one unless the count is already limit (0: no limit). */
static int
counter_ref(struct imap_server *server, const char *key, unsigned limit)
{
	struct conn_limits *shared = conn_limits_worker();
	struct counter **p;
	size_t len;

	/* In floed the counts are shared by every worker. */
	if (shared != NULL)
		return conn_limits_acquire(shared, key, limit > 0 ? limit : UINT_MAX);
	p = counter_find(server, key);

	if (*p == NULL) {
		len = strlen(key);
		*p = xcalloc(1, sizeof(**p) + len + 1);
		memcpy((*p)->key, key, len + 1);
	}
	if (limit > 0 && (*p)->count >= limit)
		return -1;
	(*p)->count++;
	return 0;
}

static void
counter_unref(struct imap_server *server, const char *key)
{
	struct conn_limits *shared = conn_limits_worker();
	struct counter **p;
	struct counter *c;

	if (shared != NULL) {
		conn_limits_release(shared, key);
		return;
	}
	p = counter_find(server, key);
	c = *p;

	if (c == NULL)
		return;
	if (--c->count == 0) {
		*p = c->next;
		free(c);
	}
}

struct imap_server *
imap_server_create(struct event_base *base, const struct floe_config *cfg, struct store *store,
                   struct auth *auth, struct notify_bus *bus, SSL_CTX *ssl)
{
	struct imap_server *server = xcalloc(1, sizeof(*server));

	server->base = base;
	server->cfg = cfg;
	server->store = store;
	server->auth = auth;
	server->bus = bus;
	server->ssl = ssl;
	server->cache = imap_cache_create(cfg != NULL ? cfg->imap.cache_size : 0);
	return server;
}

void
imap_server_destroy(struct imap_server **serverp)
{
	struct imap_server *server = *serverp;

	if (server == NULL)
		return;
	/* Each destroy removes the client from the array (swap-remove). */
	while (server->nclients > 0)
		imap_client_destroy_now(server->clients[server->nclients - 1]);
	for (size_t i = 0; i < COUNTER_BUCKETS; i++) {
		while (server->counters[i] != NULL) {
			struct counter *c = server->counters[i];

			server->counters[i] = c->next;
			free(c);
		}
	}
	if (server->drained_ev != NULL)
		event_free(server->drained_ev);
	free(server->clients);
	imap_cache_destroy(&server->cache);
	free(server);
	*serverp = NULL;
}

static void
imap_server_bye_written(struct bufferevent *bev, void *ctx)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
imap_server_bye_event(struct bufferevent *bev, short what, void *ctx)
{
	bufferevent_free(bev);
}

void
imap_server_accept(struct imap_server *server, struct bufferevent *bev, const struct sockaddr *peer,
                   socklen_t peer_len, bool tls)
{
	if (server->stopping) {
		static const char bye[] = "* BYE [UNAVAILABLE] Server shutting down\r\n";
		struct timeval tv = {5, 0};

		/* Not worth a session: the worker is going away. */
		bufferevent_setcb(bev, NULL, imap_server_bye_written, imap_server_bye_event, NULL);
		bufferevent_set_timeouts(bev, &tv, &tv);
		bufferevent_enable(bev, EV_WRITE);
		bufferevent_write(bev, bye, sizeof(bye) - 1);
		return;
	}
	imap_client_create(server, bev, peer, peer_len, tls);
}

static void
imap_server_drained_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct imap_server *server = ctx;

	if (server->drained != NULL) {
		void (*done)(void *) = server->drained;

		server->drained = NULL;
		done(server->drained_ctx);
	}
}

static void
imap_server_check_drained(struct imap_server *server)
{
	if (!server->stopping || server->nclients > 0 || server->drained == NULL)
		return;
	if (server->drained_ev == NULL)
		server->drained_ev = evtimer_new(server->base, imap_server_drained_cb, server);
	event_active(server->drained_ev, EV_TIMEOUT, 0);
}

void
imap_server_shutdown(struct imap_server *server, void (*done)(void *ctx), void *ctx)
{
	server->stopping = true;
	server->drained = done;
	server->drained_ctx = ctx;
	/* imap_client_shutdown may end a session at once, which removes it from
	 * the array; walk backwards so that swap-removal skips nobody. */
	for (size_t i = server->nclients; i > 0; i--) {
		if (i <= server->nclients)
			imap_client_shutdown(server->clients[i - 1]);
	}
	imap_server_check_drained(server);
}

size_t
imap_server_connection_count(const struct imap_server *server)
{
	return server->nclients;
}

struct event_base *
imap_server_base(const struct imap_server *server)
{
	return server->base;
}

const struct floe_config *
imap_server_config(const struct imap_server *server)
{
	return server->cfg;
}

struct store *
imap_server_store(const struct imap_server *server)
{
	return server->store;
}

struct auth *
imap_server_auth(const struct imap_server *server)
{
	return server->auth;
}

struct notify_bus *
imap_server_bus(const struct imap_server *server)
{
	return server->bus;
}

SSL_CTX *
imap_server_ssl(const struct imap_server *server)
{
	return server->ssl;
}

struct imap_cache *
imap_server_cache(const struct imap_server *server)
{
	return server->cache;
}

bool
imap_server_is_stopping(const struct imap_server *server)
{
	return server->stopping;
}

int
imap_server_client_add(struct imap_server *server, struct imap_client *client, const char *ip,
                       size_t *slot_r)
{
	char key[80];

	snprintf(key, sizeof(key), "ip:%s", ip);
	if (counter_ref(server, key, server->cfg->imap.max_connections_per_ip) < 0)
		return -1;
	if (server->nclients == server->clients_alloc) {
		server->clients_alloc = server->clients_alloc == 0 ? 64 : server->clients_alloc * 2;
		server->clients =
		    xreallocarray(server->clients, server->clients_alloc, sizeof(*server->clients));
	}
	*slot_r = server->nclients;
	server->clients[server->nclients++] = client;
	return 0;
}

void
imap_server_client_remove(struct imap_server *server, size_t slot, const char *ip)
{
	char key[80];

	snprintf(key, sizeof(key), "ip:%s", ip);
	counter_unref(server, key);
	if (slot >= server->nclients)
		return;
	server->nclients--;
	if (slot != server->nclients) {
		server->clients[slot] = server->clients[server->nclients];
		imap_client_set_slot(server->clients[slot], slot);
	}
	imap_server_check_drained(server);
}

int
imap_server_account_ref(struct imap_server *server, uint64_t account_id)
{
	char key[32];

	snprintf(key, sizeof(key), "acct:%llu", (unsigned long long)account_id);
	return counter_ref(server, key, server->cfg->imap.max_connections_per_account);
}

void
imap_server_account_unref(struct imap_server *server, uint64_t account_id)
{
	char key[32];

	snprintf(key, sizeof(key), "acct:%llu", (unsigned long long)account_id);
	counter_unref(server, key);
}
