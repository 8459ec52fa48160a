/* The per-worker POP3 server: shared objects, the session registry, the
 * per-address and per-account connection counters (shared by all workers
 * through server/conn-limits.h when floed set them up) and graceful
 * shutdown. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn-limits.h"
#include "log.h"
#include "pop3-private.h"
#include "xmalloc.h"

/* A string-keyed counter, when the counts are not shared between workers
 * (unit tests, a master without shared memory). */
struct pop3_counter {
	struct pop3_counter *next;
	unsigned count;
	char key[];
};

#define POP3_COUNTER_BUCKETS 256

struct pop3_server {
	struct event_base *base;
	const struct floe_config *cfg;
	struct store *store;
	struct auth *auth;
	SSL_CTX *ssl;

	struct pop3_session **sessions;
	size_t nsessions, sessions_alloc;
	struct pop3_counter *counters[POP3_COUNTER_BUCKETS];

	bool stopping;
	void (*drained)(void *ctx);
	void *drained_ctx;
	struct event *drained_ev;
};

static struct pop3_counter **
counter_find(struct pop3_server *server, const char *key)
{
	unsigned h = 2166136261u;
	struct pop3_counter **p;

	for (const char *k = key; *k != '\0'; k++)
		h = (h ^ (unsigned char)*k) * 16777619u;
	p = &server->counters[h % POP3_COUNTER_BUCKETS];
	while (*p != NULL && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

static int
counter_ref(struct pop3_server *server, const char *key, unsigned limit)
{
	struct conn_limits *shared = conn_limits_worker();
	struct pop3_counter **p;

	if (shared != NULL)
		return conn_limits_acquire(shared, key, limit > 0 ? limit : UINT_MAX);
	p = counter_find(server, key);
	if (*p == NULL) {
		size_t len = strlen(key);

		*p = xcalloc(1, sizeof(**p) + len + 1);
		memcpy((*p)->key, key, len + 1);
	}
	if (limit > 0 && (*p)->count >= limit)
		return -1;
	(*p)->count++;
	return 0;
}

static void
counter_unref(struct pop3_server *server, const char *key)
{
	struct conn_limits *shared = conn_limits_worker();
	struct pop3_counter **p, *c;

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

struct pop3_server *
pop3_server_create(struct event_base *base, const struct floe_config *cfg, struct store *store,
                   struct auth *auth, SSL_CTX *ssl)
{
	struct pop3_server *server = xcalloc(1, sizeof(*server));

	server->base = base;
	server->cfg = cfg;
	server->store = store;
	server->auth = auth;
	server->ssl = ssl;
	return server;
}

void
pop3_server_destroy(struct pop3_server **serverp)
{
	struct pop3_server *server = *serverp;

	if (server == NULL)
		return;
	/* Each destroy removes its session from the array (swap-remove). */
	while (server->nsessions > 0)
		pop3_session_destroy_now(server->sessions[server->nsessions - 1]);
	for (size_t i = 0; i < POP3_COUNTER_BUCKETS; i++) {
		while (server->counters[i] != NULL) {
			struct pop3_counter *c = server->counters[i];

			server->counters[i] = c->next;
			free(c);
		}
	}
	if (server->drained_ev != NULL)
		event_free(server->drained_ev);
	free(server->sessions);
	free(server);
	*serverp = NULL;
}

static void
refuse_written(struct bufferevent *bev, void *ctx)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void
refuse_event(struct bufferevent *bev, short what, void *ctx)
{
	bufferevent_free(bev);
}

void
pop3_server_accept(struct pop3_server *server, struct bufferevent *bev, const struct sockaddr *peer,
                   socklen_t peer_len, bool tls)
{
	if (server->stopping) {
		static const char reply[] = "-ERR [SYS/TEMP] Server shutting down\r\n";
		struct timeval tv = {5, 0};

		bufferevent_setcb(bev, NULL, refuse_written, refuse_event, NULL);
		bufferevent_set_timeouts(bev, &tv, &tv);
		bufferevent_enable(bev, EV_WRITE);
		bufferevent_write(bev, reply, sizeof(reply) - 1);
		return;
	}
	pop3_session_create(server, bev, peer, peer_len, tls);
}

static void
drained_cb(evutil_socket_t fd, short what, void *ctx)
{
	struct pop3_server *server = ctx;
	void (*done)(void *) = server->drained;

	if (done != NULL) {
		server->drained = NULL;
		done(server->drained_ctx);
	}
}

static void
check_drained(struct pop3_server *server)
{
	if (!server->stopping || server->nsessions > 0 || server->drained == NULL)
		return;
	if (server->drained_ev == NULL)
		server->drained_ev = evtimer_new(server->base, drained_cb, server);
	event_active(server->drained_ev, EV_TIMEOUT, 0);
}

void
pop3_server_shutdown(struct pop3_server *server, void (*done)(void *ctx), void *ctx)
{
	server->stopping = true;
	server->drained = done;
	server->drained_ctx = ctx;
	/* A session may end at once and leave the array: walk backwards. */
	for (size_t i = server->nsessions; i > 0; i--) {
		if (i <= server->nsessions)
			pop3_session_shutdown(server->sessions[i - 1]);
	}
	check_drained(server);
}

size_t
pop3_server_connection_count(const struct pop3_server *server)
{
	return server->nsessions;
}

struct event_base *
pop3_server_base(const struct pop3_server *server)
{
	return server->base;
}

const struct floe_config *
pop3_server_config(const struct pop3_server *server)
{
	return server->cfg;
}

struct store *
pop3_server_store(const struct pop3_server *server)
{
	return server->store;
}

struct auth *
pop3_server_auth(const struct pop3_server *server)
{
	return server->auth;
}

SSL_CTX *
pop3_server_ssl(const struct pop3_server *server)
{
	return server->ssl;
}

int
pop3_server_session_add(struct pop3_server *server, struct pop3_session *s, const char *ip,
                        size_t *slot_r)
{
	char key[80];

	snprintf(key, sizeof(key), "pop3-ip:%s", ip);
	if (counter_ref(server, key, server->cfg->pop3.max_connections_per_ip) < 0)
		return -1;
	if (server->nsessions == server->sessions_alloc) {
		server->sessions_alloc =
		    server->sessions_alloc == 0 ? 16 : server->sessions_alloc * 2;
		server->sessions = xreallocarray(server->sessions, server->sessions_alloc,
		                                 sizeof(*server->sessions));
	}
	*slot_r = server->nsessions;
	server->sessions[server->nsessions++] = s;
	return 0;
}

void
pop3_server_session_remove(struct pop3_server *server, size_t slot, const char *ip)
{
	char key[80];

	snprintf(key, sizeof(key), "pop3-ip:%s", ip);
	counter_unref(server, key);
	if (slot >= server->nsessions)
		return;
	server->nsessions--;
	if (slot != server->nsessions) {
		server->sessions[slot] = server->sessions[server->nsessions];
		pop3_session_set_slot(server->sessions[slot], slot);
	}
	check_drained(server);
}

int
pop3_server_account_ref(struct pop3_server *server, uint64_t account_id)
{
	char key[40];

	snprintf(key, sizeof(key), "pop3-acct:%llu", (unsigned long long)account_id);
	return counter_ref(server, key, server->cfg->pop3.max_connections_per_account);
}

void
pop3_server_account_unref(struct pop3_server *server, uint64_t account_id)
{
	char key[40];

	snprintf(key, sizeof(key), "pop3-acct:%llu", (unsigned long long)account_id);
	counter_unref(server, key);
}
