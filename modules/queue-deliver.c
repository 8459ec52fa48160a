/* Delivering one claimed message (see queue-private.h): load it, split its
 * recipients into routes (one for the relay, else one per domain),
 * resolve each route on the resolver threads (modules/mx.c), hand it to an
 * SMTP session (modules/smtp-client.c), trying the next address or MX
 * host after a connection-level failure. When every route is done the
 * results are recorded; recipients that failed for good are bounced
 * (queue-bounce.c). */
#include "queue-private.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "delivery.h"
#include "log.h"
#include "mx.h"
#include "xmalloc.h"

static void msg_start_routes(struct qmsg *m);
static void route_try(struct qroute *rt);

void
queue_msg_free(struct qmsg *m)
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

void
queue_msg_done(struct qmsg *m)
{
	struct queue *q = m->q;

	queue_msg_free(m);
	queue_msg_finished(q);
}

static bool
msg_has_bounces(const struct qmsg *m)
{
	for (size_t i = 0; i < m->nrcpts; i++) {
		if (m->rcpts[i].state == STORE_QUEUE_BOUNCING)
			return true;
	}
	return false;
}

static void
msg_recorded(unsigned long changed, const char *error, void *ctx)
{
	struct qmsg *m = ctx;

	m->op = NULL;
	if (error != NULL) {
		/* The lease runs out and another runner tries again. */
		log_error("queue: message %" PRIu64 ": cannot record the results: %s", m->id,
		          error);
		queue_msg_done(m);
		return;
	}
	if (changed < m->nrecorded) {
		/* Our lease ran out and another runner took some recipients
		 * over: it delivers or bounces them. Those still ours that
		 * became "bouncing" are bounced once their lease expires. */
		log_warning("queue: message %" PRIu64 ": %zu recipient(s) were taken over by "
		            "another runner",
		            m->id, m->nrecorded - (size_t)changed);
		queue_msg_done(m);
		return;
	}
	if (msg_has_bounces(m)) {
		queue_bounce(m);
		return;
	}
	queue_msg_done(m);
}

/* Every route has finished: turn replies into states and record them. */
static void
msg_finish(struct qmsg *m)
{
	struct queue *q = m->q;
	struct store_queue_result *res = xcalloc(m->nrcpts + 1, sizeof(*res));
	char **errors = xcalloc(m->nrcpts + 1, sizeof(*errors));
	size_t n = 0;

	for (size_t i = 0; i < m->nrcpts; i++) {
		struct qrcpt *r = &m->rcpts[i];
		unsigned delay = queue_retry_delay(q->cfg->queue.retry_min_ms,
		                                   q->cfg->queue.retry_max_ms, r->attempts);

		/* Already failed (only its DSN is due), or given back at
		 * shutdown: nothing to record here. */
		if (r->claimed_bouncing || r->released)
			continue;
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
		errors[i] = xasprintf("%d %s", r->code, r->text != NULL ? r->text : "");
		log_info("queue: message %" PRIu64 " to <%s>: %s%s%s (attempt %u): %s", m->id,
		         r->address, store_queue_state_name(r->state),
		         r->remote != NULL ? " via " : "", r->remote != NULL ? r->remote : "",
		         r->attempts, errors[i]);
		/* Never bounce a bounce (RFC 5321 6.1, RFC 3464 4.1); for the
		 * others the DSN is owed until it has been handed over. */
		if (r->state == STORE_QUEUE_FAILED && m->mail_from[0] != '\0') {
			r->state = STORE_QUEUE_BOUNCING;
			r->bounce_attempts = 1;
		}
		res[n].recipient = r->address;
		res[n].state = r->state;
		res[n].retry_ms = delay;
		/* A delivery keeps the last error of earlier attempts. */
		res[n].error = r->state == STORE_QUEUE_DELIVERED ? NULL : errors[i];
		res[n].remote = r->remote;
		n++;
	}
	m->nrecorded = n;
	if (n > 0)
		m->op = store_queue_record(q->db, m->id, q->runner, q->cfg->queue.lease_ms, res, n,
		                           msg_recorded, m);
	for (size_t i = 0; i < m->nrcpts; i++)
		free(errors[i]);
	free(errors);
	free(res);
	/* Nothing of this run to record (every recipient was only due for its
	 * DSN, or given back): go on at once. */
	if (n == 0)
		msg_recorded(0, NULL, m);
}

static void
route_done(struct qroute *rt)
{
	struct qmsg *m = rt->m;

	rt->done = true;
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

/* Gives every recipient back: they stay leased until store_queue_release
 * (the runner is stopping). */
static void
msg_release_all(struct qmsg *m)
{
	for (size_t i = 0; i < m->nrcpts; i++)
		m->rcpts[i].released = true;
	msg_finish(m);
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
		queue_msg_done(m);
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
	/* Not started yet and the worker is stopping: leave it to the next
	 * runner rather than start a session that may be cut short. */
	if (m->q->stopping) {
		msg_release_all(m);
		return;
	}
	msg_start_routes(m);
}

/* One route for the relay, else one per recipient domain (claimed rows
 * come sorted by domain), for the recipients to deliver. */
static void
msg_start_routes(struct qmsg *m)
{
	struct queue *q = m->q;

	m->routes = xcalloc(m->nrcpts + 1, sizeof(*m->routes));
	for (size_t i = 0; i < m->nrcpts; i++) {
		struct qroute *rt = NULL;

		if (m->rcpts[i].claimed_bouncing)
			continue;
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

/* Splits "550 5.1.1 text" as recorded into the reply code and the rest. */
static void
rcpt_set_last_error(struct qrcpt *r, const char *last_error)
{
	const char *p = last_error != NULL ? last_error : "";
	char *end;
	long code = strtol(p, &end, 10);

	if (end != p && code >= 200 && code <= 599) {
		r->code = (int)code;
		p = end;
		while (*p == ' ')
			p++;
	} else {
		r->code = 550;
	}
	r->text = xstrdup(p[0] != '\0' ? p : "5.0.0 delivery failed");
}

void
queue_msg_start(struct queue *q, const struct store_queue_claimed *claimed)
{
	struct qmsg *m = xcalloc(1, sizeof(*m));

	m->q = q;
	m->id = claimed->message_id;
	m->nrcpts = claimed->nrcpts;
	m->rcpts = xcalloc(m->nrcpts + 1, sizeof(*m->rcpts));
	for (size_t j = 0; j < m->nrcpts; j++) {
		const struct store_queue_rcpt *c = &claimed->rcpts[j];
		struct qrcpt *r = &m->rcpts[j];

		r->address = xstrdup(c->recipient);
		r->domain = xstrdup(c->domain);
		r->attempts = c->attempts;
		r->state = c->state;
		if (c->state == STORE_QUEUE_BOUNCING) {
			r->claimed_bouncing = true;
			r->bounce_attempts = c->bounce_attempts;
			r->failed_age_ms = c->failed_age_ms;
			rcpt_set_last_error(r, c->last_error);
			r->remote = c->remote != NULL ? xstrdup(c->remote) : NULL;
		}
	}
	LIST_INSERT_HEAD(&q->msgs, m, entry);
	q->active++;
	m->op = store_queue_load(q->db, m->id, msg_loaded, m);
}

void
queue_msg_interrupt(struct qmsg *m)
{
	/* Collect first: a route finishing may finish (and free) the message. */
	size_t n = 0, *open = xcalloc(m->nroutes + 1, sizeof(*open));

	for (size_t i = 0; i < m->nroutes; i++) {
		if (!m->routes[i].done && (m->routes[i].dns != NULL || m->routes[i].client != NULL))
			open[n++] = i;
	}
	for (size_t k = 0; k < n; k++) {
		struct qroute *rt = &m->routes[open[k]];

		mx_request_abandon(&rt->dns);
		smtp_client_abandon(&rt->client);
		for (size_t i = 0; i < rt->nidx; i++)
			m->rcpts[rt->idx[i]].released = true;
		log_info("queue: message %" PRIu64 ": delivery to %s interrupted by the shutdown; "
		         "giving it back",
		         m->id, rt->domain);
		/* The last one may free m: touch nothing of m after it. */
		if (k + 1 == n) {
			free(open);
			route_done(rt);
			return;
		}
		route_done(rt);
	}
	free(open);
}
