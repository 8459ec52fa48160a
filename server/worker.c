/* Worker processes. Each runs one event loop with the HTTP and IMAP
 * servers, the database pool, the store, authentication and the
 * change-notice listener, accepting on every inherited listener and handing
 * each connection to its protocol's server. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "auth.h"
#include "db-routes.h"
#include "db.h"
#include "delivery.h"
#include "eas-mail.h"
#include "eas-server.h"
#include "http-test-routes.h"
#include "http.h"
#include "imap-server.h"
#include "lmtp.h"
#include "log.h"
#include "notify.h"
#include "pop3.h"
#include "queue.h"
#include "share-notice.h"
#include "smtp.h"
#include "store-gwtrash.h"
#include "store.h"
#include "tls.h"
#include "worker.h"
#include "xmalloc.h"

struct worker_listener {
	struct worker *worker;
	const struct listener *conf;
	struct evconnlistener *evl;
	struct event *resume; /* re-enables accepting after a failure */
};

struct worker {
	const struct floe_config *cfg;
	struct event_base *base;
	SSL_CTX *ssl;
	struct http_server *http;
	struct db *db;
	struct notify_bus *bus;
	struct store *store;
	struct auth *auth;
	struct imap_server *imap;
	/* services: one field per protocol server (add yours here) */
	struct share_notices *share_notices; /* share notification mail runner */
	struct gwtrash_purger *gwtrash; /* GroupWare Trash expiry timer */
	struct delivery *delivery;
	struct lmtp_server *lmtp;
	struct eas_server *eas;
	struct pop3_server *pop3;
	struct queue *queue;
	struct smtp_server *smtp;
	struct worker_listener *listeners;
	size_t nlisteners;
	struct event *sigterm, *sigint, *sighup, *grace;
	bool stopping;
	unsigned draining; /* services whose shutdown has not finished */
};

static void worker_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *peer,
			  int peer_len, void *ctx)
{
	struct worker_listener *wl = ctx;
	struct worker *w = wl->worker;
	struct bufferevent *bev;

	if (w->stopping) {
		close(fd);
		return;
	}
	if (wl->conf->tls)
		bev = tls_bufferevent_accept(w->base, fd, w->ssl);
	else
		bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_error("%s: cannot set up a connection", wl->conf->name);
		close(fd);
		return;
	}
	switch (wl->conf->proto) {
	case LISTEN_PROTO_HTTP:
		http_server_accept(w->http, bev, peer, (socklen_t)peer_len, wl->conf->tls);
		return;
	case LISTEN_PROTO_IMAP:
		imap_server_accept(w->imap, bev, peer, (socklen_t)peer_len, wl->conf->tls);
		return;
	/* services: hand other protocols' connections to their server here */
	case LISTEN_PROTO_LMTP:
		lmtp_server_accept(w->lmtp, bev, peer, (socklen_t)peer_len);
		return;
	case LISTEN_PROTO_POP3:
		pop3_server_accept(w->pop3, bev, peer, (socklen_t)peer_len, wl->conf->tls);
		return;
	case LISTEN_PROTO_SMTP:
		smtp_server_accept(w->smtp, bev, peer, (socklen_t)peer_len, wl->conf->tls);
		return;
	}
	bufferevent_free(bev);
}

static void worker_accept_resume(evutil_socket_t fd, short what, void *ctx)
{
	struct worker_listener *wl = ctx;

	if (wl->evl != NULL && !wl->worker->stopping)
		evconnlistener_enable(wl->evl);
}

static void worker_accept_error(struct evconnlistener *evl, void *ctx)
{
	struct worker_listener *wl = ctx;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval pause = {1, 0};

	/* EMFILE and friends: keep serving the connections we have, and stop
	 * accepting for a second instead of spinning on a connection that
	 * cannot be taken (and logging it thousands of times a second). */
	log_warning("%s = %s: accept failed: %s; not accepting for 1 s", wl->conf->name,
		    wl->conf->text, evutil_socket_error_to_string(err));
	evconnlistener_disable(evl);
	if (wl->resume == NULL)
		wl->resume = evtimer_new(wl->worker->base, worker_accept_resume, wl);
	evtimer_add(wl->resume, &pause);
}

static void worker_stop_listening(struct worker *w)
{
	for (size_t i = 0; i < w->nlisteners; i++) {
		if (w->listeners[i].evl != NULL) {
			evconnlistener_free(w->listeners[i].evl);
			w->listeners[i].evl = NULL;
		}
		if (w->listeners[i].resume != NULL) {
			event_free(w->listeners[i].resume);
			w->listeners[i].resume = NULL;
		}
	}
}

/* Each service's shutdown calls this once its last connection is gone. */
static void worker_service_drained(void *ctx)
{
	struct worker *w = ctx;

	if (--w->draining > 0)
		return;
	log_info("all connections finished; exiting");
	event_base_loopbreak(w->base);
}

static size_t worker_connection_count(const struct worker *w)
{
	size_t n = http_server_connection_count(w->http) + imap_server_connection_count(w->imap);

	/* services: add each server's connection count */
	n += smtp_server_connection_count(w->smtp);
	n += lmtp_server_connection_count(w->lmtp);
	n += pop3_server_connection_count(w->pop3);
	return n;
}

static void worker_grace_expired(evutil_socket_t fd, short what, void *ctx)
{
	struct worker *w = ctx;

	log_warning("shutdown timeout: closing %zu remaining connection(s)",
		    worker_connection_count(w));
	event_base_loopbreak(w->base);
}

static void worker_on_term(evutil_socket_t sig, short what, void *ctx)
{
	struct worker *w = ctx;
	struct timeval tv;

	if (w->stopping)
		return;
	w->stopping = true;
	log_info("stopping: no new connections, finishing %zu open one(s)",
		 worker_connection_count(w));
	worker_stop_listening(w);
	tv.tv_sec = w->cfg->server.shutdown_timeout_ms / 1000;
	tv.tv_usec = (w->cfg->server.shutdown_timeout_ms % 1000) * 1000;
	w->grace = evtimer_new(w->base, worker_grace_expired, w);
	evtimer_add(w->grace, &tv);
	/* Count every service before starting any: a shutdown may finish at once. */
	w->draining = 2;
	/* services: w->draining++ for each server shut down below */
	w->draining++; /* lmtp */
	w->draining++; /* eas */
	w->draining++; /* pop3 */
	w->draining++; /* smtp */
	w->draining++; /* queue */
	http_server_shutdown(w->http, worker_service_drained, w);
	imap_server_shutdown(w->imap, worker_service_drained, w);
	/* services: xxx_server_shutdown(w->xxx, worker_service_drained, w); */
	lmtp_server_shutdown(w->lmtp, worker_service_drained, w);
	eas_server_shutdown(w->eas, worker_service_drained, w);
	pop3_server_shutdown(w->pop3, worker_service_drained, w);
	smtp_server_shutdown(w->smtp, worker_service_drained, w);
	/* The outgoing queue gives back the leases of unfinished deliveries. */
	queue_shutdown(w->queue, worker_service_drained, w);
}

static void worker_on_hup(evutil_socket_t sig, short what, void *ctx)
{
	/* The master reloads by starting new workers and stopping this one. */
}

void worker_main(const struct floe_config *cfg, const struct listener_set *set, SSL_CTX *ssl,
		 unsigned index)
{
	struct worker w;
	struct http_limits limits;
	struct db_settings dbs;
	struct auth_settings as;
	char role[32], *conninfo;

	memset(&w, 0, sizeof(w));
	snprintf(role, sizeof(role), "worker %u", index);
	log_set_role(role);
	prctl(PR_SET_NAME, "floed-worker");
	/* A worker never outlives its master. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		exit(0);
	signal(SIGPIPE, SIG_IGN);

	w.cfg = cfg;
	w.ssl = ssl;
	w.base = event_base_new();
	if (w.base == NULL)
		fatal("cannot create the event loop");

	limits.max_body_size = cfg->http.max_body_size;
	limits.max_header_size = cfg->http.max_header_size;
	limits.header_timeout_ms = cfg->http.header_timeout_ms;
	limits.body_timeout_ms = cfg->http.body_timeout_ms;
	limits.keepalive_timeout_ms = cfg->http.keepalive_timeout_ms;
	limits.write_timeout_ms = cfg->http.write_timeout_ms;
	w.http = http_server_create(w.base, &limits);

	conninfo = config_db_conninfo(cfg);
	dbs.conninfo = conninfo;
	dbs.pool_size = cfg->db.pool_size;
	dbs.query_timeout_ms = cfg->db.query_timeout_ms;
	dbs.connect_timeout_ms = cfg->db.connect_timeout_ms;
	w.db = db_create(w.base, &dbs);
	w.bus = notify_bus_create(w.base, conninfo, cfg->db.connect_timeout_ms);
	free(conninfo);

	w.store = store_create(w.db);
	as.max_failures = cfg->auth.max_failures;
	as.failure_window_ms = cfg->auth.failure_window_ms;
	as.lockout_ms = cfg->auth.lockout_ms;
	as.failure_delay_ms = cfg->auth.failure_delay_ms;
	as.threads = cfg->auth.threads;
	as.cache_ttl_ms = cfg->auth.cache_ttl_ms;
	w.auth = auth_create(w.base, w.db, w.store, &as);
	w.imap = imap_server_create(w.base, cfg, w.store, w.auth, w.bus, ssl);
	/* services: create each protocol server here (after the shared objects,
	 * before the listeners; HTTP services register their routes on w.http) */
	w.share_notices = share_notices_create(w.base, cfg, w.store, w.bus);
	w.gwtrash = gwtrash_purger_create(w.base, w.store, cfg->groupware.trash_days,
					  cfg->groupware.trash_purge_interval_ms);
	/* The outgoing queue and its runner, before delivery, which queues. */
	w.queue = queue_create(w.base, cfg, w.db);
	/* Local delivery: LMTP, submission, forwarding, auto-replies. */
	w.delivery = delivery_create(w.base, cfg, w.db, w.store, w.queue);
	queue_set_delivery(w.queue, w.delivery);
	w.smtp = smtp_server_create(w.base, cfg, w.db, w.auth, w.delivery, ssl);
	w.lmtp = lmtp_server_create(w.base, cfg, w.delivery);
	w.eas = eas_server_create(w.base, cfg, w.http, w.db, w.store, w.auth, w.bus);
	eas_mail_set_delivery(w.delivery); /* SendMail, SmartReply, SmartForward */
	w.pop3 = pop3_server_create(w.base, cfg, w.store, w.auth, ssl);

	db_routes_register(w.http, w.db, w.bus, cfg->debug.test_endpoints);
	if (cfg->debug.test_endpoints)
		http_test_routes_register(w.http);

	w.listeners = xcalloc(set->count, sizeof(*w.listeners));
	w.nlisteners = set->count;
	for (size_t i = 0; i < set->count; i++) {
		struct worker_listener *wl = &w.listeners[i];

		wl->worker = &w;
		wl->conf = &set->items[i];
		wl->evl = evconnlistener_new(w.base, worker_accept, wl, LEV_OPT_CLOSE_ON_FREE, -1,
					     set->items[i].fd);
		if (wl->evl == NULL)
			fatal("%s = %s: cannot accept on the inherited socket", wl->conf->name,
			      wl->conf->text);
		evconnlistener_set_error_cb(wl->evl, worker_accept_error);
	}

	w.sigterm = evsignal_new(w.base, SIGTERM, worker_on_term, &w);
	w.sigint = evsignal_new(w.base, SIGINT, worker_on_term, &w);
	w.sighup = evsignal_new(w.base, SIGHUP, worker_on_hup, &w);
	evsignal_add(w.sigterm, NULL);
	evsignal_add(w.sigint, NULL);
	evsignal_add(w.sighup, NULL);

	log_info("serving %zu listener(s)", set->count);
	event_base_dispatch(w.base);

	worker_stop_listening(&w);
	http_server_destroy(&w.http);
	/* Sessions first: they hold auth requests, store operations and
	 * notify watches. */
	imap_server_destroy(&w.imap);
	/* services: destroy each protocol server here, before auth and store */
	share_notices_destroy(&w.share_notices);
	gwtrash_purger_destroy(&w.gwtrash);
	lmtp_server_destroy(&w.lmtp);
	eas_server_destroy(&w.eas);
	pop3_server_destroy(&w.pop3);
	smtp_server_destroy(&w.smtp);
	auth_destroy(&w.auth);
	/* After every service that delivers (they abandon their operations). */
	delivery_destroy(&w.delivery);
	/* After delivery, which holds queue operations. */
	queue_destroy(&w.queue);
	store_destroy(&w.store);
	notify_bus_destroy(&w.bus);
	db_destroy(&w.db);
	if (w.grace != NULL)
		event_free(w.grace);
	event_free(w.sigterm);
	event_free(w.sigint);
	event_free(w.sighup);
	free(w.listeners);
	event_base_free(w.base);
	exit(0);
}
