/* The queue runner (see queue.h). Every poll_interval, and at once after
 * this worker queued something or finished a message, it claims due
 * messages (leased rows, db/store-queue.c), loads each, splits its
 * recipients into routes (one for the relay, else one per domain),
 * resolves each route on the resolver threads (modules/mx.c), and hands
 * it to an SMTP session (modules/smtp-client.c), trying the next address
 * or MX host after a connection-level failure. When every route is done
 * the results are recorded; recipients that failed for good are bounced
 * with a DSN (modules/dsn.c). */
#include "queue.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "delivery.h"
#include "dsn.h"
#include "log.h"
#include "mx.h"
#include "smtp-client.h"
#include "store-queue.h"
#include "xmalloc.h"

/* Purge finished messages about this often. */
#define PURGE_INTERVAL_S 600

/* One recipient of a message being delivered. */
struct qrcpt {
	char *address;
	char *domain;
	unsigned attempts; /* including this one */
	int code;          /* the reply (0: none yet) */
	char *text;        /* "5.1.1 No such user" */
	char *remote;      /* the server that answered, or NULL */
	enum store_queue_state state;
};

struct qmsg;

/* One destination of a message: the relay, or one recipient domain. */
struct qroute {
	struct qmsg *m;
	const char *domain;
	size_t *idx; /* recipients of the message on this route */
	size_t nidx;
	struct mx_request *dns;
	struct mx_host *hosts;
	size_t nhosts, host_i, addr_i;
	struct smtp_client *client;
	char last_error[512];
};

/* A claimed message. */
struct qmsg {
	struct queue *q;
	LIST_ENTRY(qmsg) entry;
	uint64_t id;
	struct qrcpt *rcpts;
	size_t nrcpts;
	struct qroute *routes;
	size_t nroutes, pending_routes;
	struct store_queue_op *op;
	unsigned char *data;
	size_t size;
	char *mail_from;
	char *envelope_id;
	uint64_t age_ms;
	int64_t created_at;
	uint64_t account_id;
	/* the bounce */
	char *dsn;
	size_t dsn_size;
	struct delivery_op *bounce_op;
	struct store_queue_op *bounce_qop;
};

struct queue {
	struct event_base *base;
	const struct floe_config *cfg;
	struct db *db;
	struct delivery *delivery;
	struct mx_resolver *mx;
	SSL_CTX *ssl;
	char hostname[256];
	char runner[300];                        /* "host:pid": who holds a lease */
	struct smtp_client_settings client;      /* towards the relay */
	struct smtp_client_settings mx_settings; /* towards MX hosts */
	bool use_relay;
	char relay_host[256];
	uint16_t relay_port;
	char relay_error[300]; /* a bad relay setting: everything waits */
	struct event *timer, *kick;
	struct store_queue_op *claim_op, *purge_op;
	time_t last_purge;
	unsigned active; /* claimed messages in progress */
	bool claim_failing;
	bool stopping;
	LIST_HEAD(, qmsg) msgs;
	LIST_HEAD(, queue_op) ops;
};

struct queue_op {
	struct queue *q;
	LIST_ENTRY(queue_op) entry;
	struct store_queue_op *op;
	queue_enqueue_cb *cb;
	void *ctx;
};

static void queue_kick(struct queue *q);
static void msg_start_routes(struct qmsg *m);
static void route_try(struct qroute *rt);

/* ---------------------------------------------------------------------
 * Settings
 */

static const char *
queue_hostname_default(char *buf, size_t size)
{
	if (gethostname(buf, size) < 0 || buf[0] == '\0')
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
	return buf;
}

static void
queue_settings(struct queue *q, const struct floe_config *cfg)
{
	const char *tls = cfg->queue.relay_tls;

	if (cfg->queue.hostname[0] != '\0')
		snprintf(q->hostname, sizeof(q->hostname), "%s", cfg->queue.hostname);
	else
		queue_hostname_default(q->hostname, sizeof(q->hostname));
	snprintf(q->runner, sizeof(q->runner), "%s:%ld", q->hostname, (long)getpid());

	q->client.helo = q->hostname;
	q->client.tls_verify = cfg->queue.relay_tls_verify;
	q->client.user = NULL;
	q->client.password = NULL;
	q->client.connect_timeout_ms = cfg->queue.connect_timeout_ms;
	q->client.command_timeout_ms = cfg->queue.command_timeout_ms;
	q->client.data_block_timeout_ms = cfg->queue.data_block_timeout_ms;
	q->client.data_end_timeout_ms = cfg->queue.data_end_timeout_ms;
	q->mx_settings = q->client;
	q->mx_settings.tls = SMTP_CLIENT_TLS_OPPORTUNISTIC;
	q->mx_settings.tls_verify = false;

	if (cfg->queue.relay[0] == '\0')
		return;
	q->use_relay = true;
	if (mx_split_hostport(cfg->queue.relay, q->relay_host, sizeof(q->relay_host), 25,
	                      &q->relay_port) < 0) {
		snprintf(q->relay_error, sizeof(q->relay_error),
		         "4.3.5 [queue] relay = %s is not host:port", cfg->queue.relay);
	}
	if (strcasecmp(tls, "off") == 0) {
		q->client.tls = SMTP_CLIENT_TLS_OFF;
	} else if (strcasecmp(tls, "opportunistic") == 0) {
		q->client.tls = SMTP_CLIENT_TLS_OPPORTUNISTIC;
	} else if (strcasecmp(tls, "required") == 0) {
		q->client.tls = SMTP_CLIENT_TLS_REQUIRED;
	} else if (strcasecmp(tls, "implicit") == 0) {
		q->client.tls = SMTP_CLIENT_TLS_IMPLICIT;
	} else {
		snprintf(
		    q->relay_error, sizeof(q->relay_error),
		    "4.3.5 [queue] relay_tls = %s is not off, opportunistic, required or implicit",
		    tls);
	}
	if (cfg->queue.relay_user[0] != '\0') {
		q->client.user = cfg->queue.relay_user;
		q->client.password = cfg->queue.relay_password;
	}
	if (q->relay_error[0] != '\0')
		log_error("%s: %s; outgoing mail waits until it is fixed", cfg->path,
		          q->relay_error + 6);
}

/* The delay before retry number attempts + 1: retry_min doubled per
 * attempt, at most retry_max. */
unsigned
queue_retry_delay(unsigned retry_min_ms, unsigned retry_max_ms, unsigned attempts)
{
	uint64_t d = retry_min_ms > 0 ? retry_min_ms : 1000;

	for (unsigned i = 1; i < attempts && d < retry_max_ms; i++)
		d *= 2;
	if (d > retry_max_ms && retry_max_ms > 0)
		d = retry_max_ms;
	return (unsigned)d;
}

/* ---------------------------------------------------------------------
 * Messages
 */

static void
msg_free(struct qmsg *m)
{
	struct queue *q = m->q;

	LIST_REMOVE(m, entry);
	store_queue_op_abandon(&m->op);
	delivery_op_abandon(&m->bounce_op);
	store_queue_op_abandon(&m->bounce_qop);
	for (size_t i = 0; i < m->nroutes; i++) {
		struct qroute *rt = &m->routes[i];

		mx_request_abandon(&rt->dns);
		smtp_client_abandon(&rt->client);
		free(rt->hosts);
		free(rt->idx);
	}
	for (size_t i = 0; i < m->nrcpts; i++) {
		free(m->rcpts[i].address);
		free(m->rcpts[i].domain);
		free(m->rcpts[i].text);
		free(m->rcpts[i].remote);
	}
	free(m->routes);
	free(m->rcpts);
	free(m->data);
	free(m->mail_from);
	free(m->envelope_id);
	free(m->dsn);
	free(m);
	q->active--;
}

/* The message is finished here (results recorded, bounce handed over):
 * free it and look for more work. */
static void
msg_done(struct qmsg *m)
{
	struct queue *q = m->q;

	msg_free(m);
	queue_kick(q);
}

static void
msg_bounced_recorded(unsigned long changed, const char *error, void *ctx)
{
	struct qmsg *m = ctx;

	m->op = NULL;
	if (error != NULL)
		log_error("queue: message %" PRIu64 ": cannot mark recipients bounced: %s", m->id,
		          error);
	msg_done(m);
}

/* The DSN is on its way: mark the failed recipients "bounced". */
static void
msg_bounce_sent(struct qmsg *m)
{
	struct store_queue_result *res = xcalloc(m->nrcpts + 1, sizeof(*res));
	size_t n = 0;

	for (size_t i = 0; i < m->nrcpts; i++) {
		if (m->rcpts[i].state == STORE_QUEUE_FAILED) {
			res[n].recipient = m->rcpts[i].address;
			res[n].state = STORE_QUEUE_BOUNCED;
			n++;
		}
	}
	m->op = store_queue_record(m->q->db, m->id, m->q->runner, res, n, msg_bounced_recorded, m);
	free(res);
}

static void
msg_bounce_local_done(const struct delivery_rcpt_result *results, size_t count, void *ctx)
{
	struct qmsg *m = ctx;

	m->bounce_op = NULL;
	if (count == 1 && results[0].code >= 200 && results[0].code < 300) {
		log_info("queue: message %" PRIu64 ": bounce delivered to <%s>", m->id,
		         m->mail_from);
		msg_bounce_sent(m);
		return;
	}
	log_error("queue: message %" PRIu64 ": bounce to <%s> not delivered: %d %s", m->id,
	          m->mail_from, count > 0 ? results[0].code : 0,
	          count > 0 && results[0].text != NULL ? results[0].text : "no result");
	msg_done(m);
}

static void
msg_bounce_queued(uint64_t id, const char *error, void *ctx)
{
	struct qmsg *m = ctx;

	m->bounce_qop = NULL;
	if (error != NULL) {
		log_error("queue: message %" PRIu64 ": cannot queue the bounce to <%s>: %s", m->id,
		          m->mail_from, error);
		msg_done(m);
		return;
	}
	log_info("queue: message %" PRIu64 ": bounce to <%s> queued as %" PRIu64, m->id,
	         m->mail_from, id);
	msg_bounce_sent(m);
}

static void
msg_bounce_resolved(const struct delivery_addr *addr, const char *error, void *ctx)
{
	struct qmsg *m = ctx;
	const char *rcpt = m->mail_from;
	struct delivery_message dm;

	m->bounce_op = NULL;
	if (addr != NULL &&
	    (addr->kind == DELIVERY_ADDR_LOCAL || addr->kind == DELIVERY_ADDR_GROUP)) {
		memset(&dm, 0, sizeof(dm));
		dm.data = m->dsn;
		dm.size = m->dsn_size;
		dm.mail_from = "";
		dm.helo = m->q->hostname;
		dm.protocol = "LOCAL";
		m->bounce_op = delivery_local(m->q->delivery, &dm, &rcpt, 1, DELIVERY_NO_RULES,
		                              msg_bounce_local_done, m);
		return;
	}
	if (error != NULL)
		log_warning("queue: message %" PRIu64
		            ": cannot resolve <%s> (%s); queueing the bounce",
		            m->id, m->mail_from, error);
	m->bounce_qop = store_queue_enqueue(m->q->db, 0, "", NULL, m->dsn, m->dsn_size, &rcpt, 1,
	                                    msg_bounce_queued, m);
}

/* Sends the DSN for the recipients that failed for good. */
static void
msg_bounce(struct qmsg *m)
{
	struct dsn_recipient *dr = xcalloc(m->nrcpts + 1, sizeof(*dr));
	char(*status)[16] = xcalloc(m->nrcpts + 1, sizeof(*status));
	char(*diag)[600] = xcalloc(m->nrcpts + 1, sizeof(*diag));
	struct dsn_params p;
	char unique[64];
	size_t n = 0;

	for (size_t i = 0; i < m->nrcpts; i++) {
		struct qrcpt *r = &m->rcpts[i];

		if (r->state != STORE_QUEUE_FAILED)
			continue;
		dsn_status_of_reply(r->code, r->text, status[n], sizeof(status[n]));
		snprintf(diag[n], sizeof(diag[n]), "%d %s", r->code,
		         r->text != NULL ? r->text : "");
		dr[n].address = r->address;
		dr[n].action = "failed";
		dr[n].status = status[n];
		dr[n].diagnostic = diag[n];
		dr[n].remote_mta = r->remote;
		n++;
	}
	memset(&p, 0, sizeof(p));
	snprintf(unique, sizeof(unique), "%" PRIu64 ".%ld.%ld", m->id, (long)time(NULL),
	         (long)getpid());
	p.reporting_mta = m->q->hostname;
	p.mail_from = m->mail_from;
	p.envelope_id = m->envelope_id;
	p.arrival_date = m->created_at;
	p.now = time(NULL);
	p.unique = unique;
	p.rcpts = dr;
	p.nrcpts = n;
	p.original = m->data;
	p.original_size = m->size;
	m->dsn = dsn_build(&p, &m->dsn_size);
	free(dr);
	free(status);
	free(diag);

	if (m->q->delivery != NULL) {
		m->bounce_op =
		    delivery_resolve(m->q->delivery, m->mail_from, msg_bounce_resolved, m);
		return;
	}
	msg_bounce_resolved(NULL, NULL, m);
}

static void
msg_recorded(unsigned long changed, const char *error, void *ctx)
{
	struct qmsg *m = ctx;
	bool bounce = false;

	m->op = NULL;
	if (error != NULL) {
		/* The lease runs out and another runner tries again. */
		log_error("queue: message %" PRIu64 ": cannot record the results: %s", m->id,
		          error);
		msg_done(m);
		return;
	}
	for (size_t i = 0; i < m->nrcpts; i++) {
		if (m->rcpts[i].state == STORE_QUEUE_FAILED)
			bounce = true;
	}
	/* Never bounce a bounce (RFC 5321 6.1, RFC 3464 4.1). */
	if (bounce && m->mail_from[0] != '\0' && changed > 0) {
		msg_bounce(m);
		return;
	}
	msg_done(m);
}

/* Every route has finished: turn replies into states and record them. */
static void
msg_finish(struct qmsg *m)
{
	struct queue *q = m->q;
	struct store_queue_result *res = xcalloc(m->nrcpts + 1, sizeof(*res));
	char **errors = xcalloc(m->nrcpts + 1, sizeof(*errors));

	for (size_t i = 0; i < m->nrcpts; i++) {
		struct qrcpt *r = &m->rcpts[i];
		unsigned delay = queue_retry_delay(q->cfg->queue.retry_min_ms,
		                                   q->cfg->queue.retry_max_ms, r->attempts);

		if (r->code >= 200 && r->code < 300) {
			r->state = STORE_QUEUE_DELIVERED;
		} else if (r->code >= 500) {
			r->state = STORE_QUEUE_FAILED;
		} else if (m->age_ms + delay > q->cfg->queue.max_age_ms) {
			/* Out of time: the last temporary failure becomes final. */
			char *text = xasprintf("%s (gave up after %u attempts)",
			                       r->text != NULL ? r->text : "", r->attempts);

			r->state = STORE_QUEUE_FAILED;
			free(r->text);
			r->text = text;
		} else {
			r->state = STORE_QUEUE_DEFERRED;
		}
		if (errors[i] == NULL)
			errors[i] = xasprintf("%d %s", r->code, r->text != NULL ? r->text : "");
		res[i].recipient = r->address;
		res[i].state = r->state;
		res[i].retry_ms = delay;
		/* A delivery keeps the last error of earlier attempts. */
		res[i].error = r->state == STORE_QUEUE_DELIVERED ? NULL : errors[i];
		log_info("queue: message %" PRIu64 " to <%s>: %s%s%s (attempt %u): %s", m->id,
		         r->address, store_queue_state_name(r->state),
		         r->remote != NULL ? " via " : "", r->remote != NULL ? r->remote : "",
		         r->attempts, errors[i]);
	}
	m->op = store_queue_record(q->db, m->id, q->runner, res, m->nrcpts, msg_recorded, m);
	for (size_t i = 0; i < m->nrcpts; i++)
		free(errors[i]);
	free(errors);
	free(res);
}

static void
route_done(struct qroute *rt)
{
	struct qmsg *m = rt->m;

	if (--m->pending_routes == 0)
		msg_finish(m);
}

/* Sets the outcome of every recipient of the route. */
static void
route_fail_all(struct qroute *rt, int code, const char *text)
{
	for (size_t i = 0; i < rt->nidx; i++) {
		struct qrcpt *r = &rt->m->rcpts[rt->idx[i]];

		free(r->text);
		r->code = code;
		r->text = xstrdup(text);
	}
	route_done(rt);
}

static void
route_client_done(const struct smtp_client_result *res, void *ctx)
{
	struct qroute *rt = ctx;
	struct qmsg *m = rt->m;

	rt->client = NULL;
	if (res->session_failed && res->try_next) {
		snprintf(rt->last_error, sizeof(rt->last_error), "%s",
		         res->nrcpts > 0 && res->texts[0] != NULL ? res->texts[0] : "");
		rt->addr_i++;
		route_try(rt);
		return;
	}
	for (size_t i = 0; i < rt->nidx && i < res->nrcpts; i++) {
		struct qrcpt *r = &m->rcpts[rt->idx[i]];

		free(r->text);
		free(r->remote);
		r->code = res->codes[i];
		r->text = xstrdup(res->texts[i] != NULL ? res->texts[i] : "");
		r->remote = xstrdup(res->server_name);
	}
	route_done(rt);
}

/* Starts a session with the current address, moving on to the next host
 * when a host's addresses are used up. */
static void
route_try(struct qroute *rt)
{
	struct qmsg *m = rt->m;
	struct queue *q = m->q;
	const char **rcpts;

	while (rt->host_i < rt->nhosts && rt->addr_i >= rt->hosts[rt->host_i].naddrs) {
		rt->host_i++;
		rt->addr_i = 0;
	}
	if (rt->host_i >= rt->nhosts) {
		char text[700];

		/* Every host failed at the connection level: try later. */
		snprintf(text, sizeof(text), "%s",
		         rt->last_error[0] != '\0' ? rt->last_error : "4.4.1 no server reachable");
		if (text[0] != '4')
			snprintf(text, sizeof(text), "4.4.1 %s", rt->last_error);
		route_fail_all(rt, 451, text);
		return;
	}
	rcpts = xcalloc(rt->nidx + 1, sizeof(*rcpts));
	for (size_t i = 0; i < rt->nidx; i++)
		rcpts[i] = m->rcpts[rt->idx[i]].address;
	rt->client =
	    smtp_client_start(q->base, q->ssl, q->use_relay ? &q->client : &q->mx_settings,
	                      rt->hosts[rt->host_i].name,
	                      (const struct sockaddr *)&rt->hosts[rt->host_i].addrs[rt->addr_i],
	                      rt->hosts[rt->host_i].addrlens[rt->addr_i], m->mail_from, rcpts,
	                      rt->nidx, m->data, m->size, route_client_done, rt);
	free(rcpts);
}

static void
route_resolved(const struct mx_answer *answer, void *ctx)
{
	struct qroute *rt = ctx;
	char text[400];

	rt->dns = NULL;
	if (answer->status != MX_OK) {
		if (answer->status == MX_PERMFAIL && !rt->m->q->use_relay) {
			snprintf(text, sizeof(text), "5.1.2 %s", answer->error);
			route_fail_all(rt, 550, text);
		} else {
			snprintf(text, sizeof(text), "4.4.3 %s", answer->error);
			route_fail_all(rt, 451, text);
		}
		return;
	}
	rt->hosts = xcalloc(answer->nhosts, sizeof(*rt->hosts));
	memcpy(rt->hosts, answer->hosts, answer->nhosts * sizeof(*rt->hosts));
	rt->nhosts = answer->nhosts;
	route_try(rt);
}

static void
msg_loaded(const struct store_queue_message *msg, const char *error, void *ctx)
{
	struct qmsg *m = ctx;

	m->op = NULL;
	if (msg == NULL) {
		/* Removed meanwhile (floectl queue remove), or database trouble:
		 * then the lease expires and someone tries again. */
		if (strcmp(error, "no such message") != 0)
			log_error("queue: message %" PRIu64 ": cannot load it: %s", m->id, error);
		msg_done(m);
		return;
	}
	m->data = xmalloc(msg->size + 1);
	memcpy(m->data, msg->data, msg->size);
	m->size = msg->size;
	m->mail_from = xstrdup(msg->mail_from);
	m->envelope_id = msg->envelope_id != NULL ? xstrdup(msg->envelope_id) : NULL;
	m->age_ms = msg->age_ms;
	m->created_at = msg->created_at;
	m->account_id = msg->account_id;
	msg_start_routes(m);
}

/* One route for the relay, else one per recipient domain (claimed rows
 * come sorted by domain). */
static void
msg_start_routes(struct qmsg *m)
{
	struct queue *q = m->q;

	m->routes = xcalloc(m->nrcpts + 1, sizeof(*m->routes));
	for (size_t i = 0; i < m->nrcpts; i++) {
		struct qroute *rt = NULL;

		if (m->nroutes > 0 && (q->use_relay || strcmp(m->routes[m->nroutes - 1].domain,
		                                              m->rcpts[i].domain) == 0))
			rt = &m->routes[m->nroutes - 1];
		if (rt == NULL) {
			rt = &m->routes[m->nroutes++];
			rt->m = m;
			rt->domain = m->rcpts[i].domain;
			rt->idx = xcalloc(m->nrcpts, sizeof(*rt->idx));
		}
		rt->idx[rt->nidx++] = i;
	}
	m->pending_routes = m->nroutes;
	/* Routes may finish at once (a bad relay setting); count them all
	 * before starting any. */
	m->pending_routes++;
	for (size_t i = 0; i < m->nroutes; i++) {
		struct qroute *rt = &m->routes[i];

		if (q->relay_error[0] != '\0')
			route_fail_all(rt, 451, q->relay_error);
		else if (q->use_relay)
			rt->dns =
			    mx_lookup_host(q->mx, q->relay_host, q->relay_port, route_resolved, rt);
		else if (rt->domain[0] == '\0')
			route_fail_all(rt, 550, "5.1.3 recipient address has no domain");
		else
			rt->dns = mx_lookup(q->mx, rt->domain, 25, route_resolved, rt);
	}
	if (--m->pending_routes == 0)
		msg_finish(m);
}

/* ---------------------------------------------------------------------
 * The runner
 */

static void
queue_claimed(const struct store_queue_claimed *msgs, size_t count, const char *error, void *ctx)
{
	struct queue *q = ctx;

	q->claim_op = NULL;
	if (error != NULL) {
		/* Once per outage, not at every poll. */
		if (!q->claim_failing)
			log_warning("queue: cannot look for due messages: %s", error);
		q->claim_failing = true;
		return;
	}
	if (q->claim_failing)
		log_info("queue: looking for due messages again");
	q->claim_failing = false;
	for (size_t i = 0; i < count; i++) {
		struct qmsg *m = xcalloc(1, sizeof(*m));

		m->q = q;
		m->id = msgs[i].message_id;
		m->nrcpts = msgs[i].nrcpts;
		m->rcpts = xcalloc(m->nrcpts + 1, sizeof(*m->rcpts));
		for (size_t j = 0; j < m->nrcpts; j++) {
			m->rcpts[j].address = xstrdup(msgs[i].rcpts[j].recipient);
			m->rcpts[j].domain = xstrdup(msgs[i].rcpts[j].domain);
			m->rcpts[j].attempts = msgs[i].rcpts[j].attempts;
		}
		LIST_INSERT_HEAD(&q->msgs, m, entry);
		q->active++;
		m->op = store_queue_load(q->db, m->id, msg_loaded, m);
	}
	/* A full batch: there may be more right away. */
	if (count > 0 && q->active < q->cfg->queue.max_parallel)
		queue_kick(q);
}

static void
queue_purged(unsigned long changed, const char *error, void *ctx)
{
	struct queue *q = ctx;

	q->purge_op = NULL;
	if (error != NULL)
		log_warning("queue: cannot purge finished messages: %s", error);
	else if (changed > 0)
		log_info("queue: purged %lu finished message(s)", changed);
}

static void
queue_run(struct queue *q)
{
	time_t now = time(NULL);

	if (q->stopping || q->claim_op != NULL)
		return;
	if (q->purge_op == NULL && now - q->last_purge >= PURGE_INTERVAL_S) {
		q->last_purge = now;
		q->purge_op = store_queue_purge(q->db, q->cfg->queue.keep_done_ms, queue_purged, q);
	}
	if (q->active >= q->cfg->queue.max_parallel)
		return;
	q->claim_op = store_queue_claim(q->db, q->runner, q->cfg->queue.max_parallel - q->active,
	                                q->cfg->queue.lease_ms, queue_claimed, q);
}

static void
queue_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	unsigned ms = q->cfg->queue.poll_interval_ms > 0 ? q->cfg->queue.poll_interval_ms : 5000;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(q->timer, &tv);
	queue_run(q);
}

static void
queue_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	queue_run(arg);
}

/* Runs the runner from a fresh loop iteration. */
static void
queue_kick(struct queue *q)
{
	if (!q->stopping)
		event_active(q->kick, EV_TIMEOUT, 0);
}

struct queue *
queue_create(struct event_base *base, const struct floe_config *cfg, struct db *db)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	struct timeval first = {0, 200 * 1000};

	q->base = base;
	q->cfg = cfg;
	q->db = db;
	LIST_INIT(&q->msgs);
	LIST_INIT(&q->ops);
	queue_settings(q, cfg);
	q->ssl = smtp_client_ssl_ctx();
	if (q->ssl == NULL)
		log_error("queue: cannot create a TLS client context; delivering without TLS");
	q->mx = mx_resolver_create(base, cfg->queue.resolver_threads);
	q->timer = evtimer_new(base, queue_timer_cb, q);
	q->kick = evtimer_new(base, queue_kick_cb, q);
	/* The first look shortly after start, once the pool is connected. */
	evtimer_add(q->timer, &first);
	return q;
}

void
queue_set_delivery(struct queue *q, struct delivery *d)
{
	q->delivery = d;
}

void
queue_destroy(struct queue **qp)
{
	struct queue *q = *qp;
	struct queue_op *op;

	if (q == NULL)
		return;
	*qp = NULL;
	q->stopping = true;
	while (!LIST_EMPTY(&q->msgs))
		msg_free(LIST_FIRST(&q->msgs));
	while ((op = LIST_FIRST(&q->ops)) != NULL) {
		LIST_REMOVE(op, entry);
		store_queue_op_abandon(&op->op);
		op->cb(0, "shutting down", op->ctx);
		free(op);
	}
	store_queue_op_abandon(&q->claim_op);
	store_queue_op_abandon(&q->purge_op);
	mx_resolver_destroy(&q->mx);
	if (q->ssl != NULL)
		SSL_CTX_free(q->ssl);
	event_free(q->timer);
	event_free(q->kick);
	free(q);
}

/* ---------------------------------------------------------------------
 * Enqueue
 */

static void
queue_enqueued(uint64_t id, const char *error, void *ctx)
{
	struct queue_op *op = ctx;
	struct queue *q = op->q;

	op->op = NULL;
	LIST_REMOVE(op, entry);
	if (error == NULL) {
		log_info("queue: message %" PRIu64 " queued", id);
		queue_kick(q);
	} else {
		log_error("queue: cannot queue a message: %s", error);
	}
	op->cb(id, error, op->ctx);
	free(op);
}

struct queue_op *
queue_enqueue(struct queue *q, uint64_t account_id, const char *mail_from, const void *data,
              size_t size, const char *const *rcpts, size_t nrcpts, queue_enqueue_cb *cb, void *ctx)
{
	struct queue_op *op = xcalloc(1, sizeof(*op));

	op->q = q;
	op->cb = cb;
	op->ctx = ctx;
	LIST_INSERT_HEAD(&q->ops, op, entry);
	op->op = store_queue_enqueue(q->db, account_id, mail_from, NULL, data, size, rcpts, nrcpts,
	                             queue_enqueued, op);
	return op;
}

void
queue_op_abandon(struct queue_op **opp)
{
	struct queue_op *op = *opp;

	if (op == NULL)
		return;
	*opp = NULL;
	LIST_REMOVE(op, entry);
	store_queue_op_abandon(&op->op);
	free(op);
}
