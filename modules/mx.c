/* Resolver threads for outgoing mail (see mx.h): each job is a MX query
 * with res_nquery plus getaddrinfo for every exchanger, or getaddrinfo for
 * one relay host. Finished jobs go on a list and the loop is woken with one
 * byte on a pipe, as modules/auth.c does for password hashing. */
#include "mx.h"

#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "xmalloc.h"

enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,
};

struct mx_job {
	TAILQ_ENTRY(mx_job) entry;
	enum job_state state;   /* under r->mutex */
	struct mx_request *req; /* loop thread only; NULL once abandoned */
	bool want_mx;
	char name[MX_NAME_MAX];
	uint16_t port;
	/* results */
	enum mx_status status;
	char error[600];
	struct mx_host hosts[MX_MAX_HOSTS];
	size_t nhosts;
};
TAILQ_HEAD(mx_job_list, mx_job);

struct mx_request {
	struct mx_resolver *r;
	struct mx_job *job;
	mx_cb *cb;
	void *ctx;
};

struct mx_resolver {
	struct event_base *base;
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	struct mx_job_list queue, done;
	bool stopping;
	pthread_t *threads;
	unsigned nthreads;
	int wake_fds[2];
	struct event *wake;
};

/* ---------------------------------------------------------------------
 * Pure helpers
 */

static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The DNS message format of RFC 1035 4.1, read by hand: glibc keeps the
 * ns_* parser in libresolv, while res_nquery, dn_expand and dn_skipname
 * are in libc itself. */
int
mx_parse_answer(const unsigned char *packet, int len, struct mx_record *records, size_t max,
                const char **error_r)
{
	const unsigned char *p = packet, *end = packet + (len > 0 ? len : 0);
	unsigned qdcount, ancount;
	int count = 0;

	if (len < 12) {
		*error_r = "malformed DNS answer";
		return -1;
	}
	qdcount = get16(packet + 4);
	ancount = get16(packet + 6);
	p += 12;
	for (unsigned i = 0; i < qdcount; i++) {
		int n = dn_skipname(p, end);

		if (n < 0 || end - (p + n) < 4) {
			*error_r = "malformed DNS question";
			return -1;
		}
		p += n + 4;
	}
	for (unsigned i = 0; i < ancount; i++) {
		char name[MX_NAME_MAX];
		unsigned type, class, rdlen;
		int n = dn_skipname(p, end);

		if (n < 0 || end - (p + n) < 10) {
			*error_r = "malformed DNS answer record";
			return -1;
		}
		p += n;
		type = get16(p);
		class = get16(p + 2);
		rdlen = get16(p + 8);
		p += 10;
		if ((size_t)(end - p) < rdlen) {
			*error_r = "malformed DNS answer record";
			return -1;
		}
		if (type == 15 /* MX */ && class == 1 /* IN */) {
			if (rdlen < 3 || dn_expand(packet, end, p + 2, name, sizeof(name)) < 0) {
				*error_r = "malformed MX record";
				return -1;
			}
			if ((size_t)count < max) {
				records[count].preference = get16(p);
				/* dn_expand writes the root as "" (or "."). */
				snprintf(records[count].name, sizeof(records[count].name), "%s",
				         strcmp(name, ".") == 0 ? "" : name);
				count++;
			}
		}
		p += rdlen;
	}
	return count;
}

void
mx_sort(struct mx_record *records, size_t count)
{
	/* Insertion sort: stable, and count is small. */
	for (size_t i = 1; i < count; i++) {
		struct mx_record tmp = records[i];
		size_t j = i;

		while (j > 0 && records[j - 1].preference > tmp.preference) {
			records[j] = records[j - 1];
			j--;
		}
		records[j] = tmp;
	}
}

int
mx_split_hostport(const char *text, char *host, size_t size, uint16_t default_port,
                  uint16_t *port_r)
{
	const char *end, *port = NULL;
	size_t hlen;
	unsigned long p;
	char *stop;

	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -1;
		hlen = (size_t)(end - text - 1);
		text++;
		if (end[1] == ':')
			port = end + 2;
	} else {
		end = strchr(text, ':');
		if (end != NULL && strchr(end + 1, ':') != NULL)
			return -1; /* a bare IPv6 address needs brackets */
		hlen = end != NULL ? (size_t)(end - text) : strlen(text);
		if (end != NULL)
			port = end + 1;
	}
	if (hlen == 0 || hlen >= size)
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	for (size_t i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)host[i];

		if (!isalnum(c) && c != '.' && c != '-' && c != ':' && c != '_')
			return -1;
	}
	if (port == NULL) {
		*port_r = default_port;
		return 0;
	}
	if (!isdigit((unsigned char)*port))
		return -1;
	errno = 0;
	p = strtoul(port, &stop, 10);
	if (errno != 0 || *stop != '\0' || p == 0 || p > 65535)
		return -1;
	*port_r = (uint16_t)p;
	return 0;
}

/* ---------------------------------------------------------------------
 * The threads
 */

/* Fills host's addresses; returns 0 or an EAI_* code. */
static int
job_addresses(struct mx_host *host, uint16_t port, bool addrconfig)
{
	struct addrinfo hints, *res, *ai;
	char service[8];
	int err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* For MX hosts, only address families this machine can reach; a
	 * configured relay (often loopback) is taken as written. */
	hints.ai_flags = AI_NUMERICSERV | (addrconfig ? AI_ADDRCONFIG : 0);
	snprintf(service, sizeof(service), "%u", port);
	err = getaddrinfo(host->name, service, &hints, &res);
	if (err != 0)
		return err;
	host->naddrs = 0;
	for (ai = res; ai != NULL && host->naddrs < MX_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(host->addrs[0]))
			continue;
		memcpy(&host->addrs[host->naddrs], ai->ai_addr, ai->ai_addrlen);
		host->addrlens[host->naddrs] = ai->ai_addrlen;
		host->naddrs++;
	}
	freeaddrinfo(res);
	return host->naddrs > 0 ? 0 : EAI_NONAME;
}

/* Sets the failure "<what> <name><rest>". */
static void
job_fail(struct mx_job *job, enum mx_status status, const char *what, const char *rest)
{
	job->status = status;
	snprintf(job->error, sizeof(job->error), "%s%s%s", what, job->name, rest);
}

static void
job_run_host(struct mx_job *job)
{
	struct mx_host *h = &job->hosts[0];
	int err;

	snprintf(h->name, sizeof(h->name), "%s", job->name);
	err = job_addresses(h, job->port, false);
	if (err != 0) {
		/* A relay that does not resolve is our problem, not the
		 * sender's: the message waits. */
		job->status = MX_TEMPFAIL;
		snprintf(job->error, sizeof(job->error), "cannot resolve %s: %s", job->name,
		         gai_strerror(err));
		return;
	}
	job->nhosts = 1;
	job->status = MX_OK;
}

static void
job_run_mx(struct mx_job *job, struct __res_state *res, unsigned *seed)
{
	unsigned char *answer = xmalloc(NS_MAXMSG);
	struct mx_record records[MX_MAX_HOSTS];
	const char *error;
	int n, count;
	bool implicit = false;

	n = res_nquery(res, job->name, C_IN, T_MX, answer, NS_MAXMSG);
	if (n < 0) {
		switch (res->res_h_errno) {
		case HOST_NOT_FOUND:
			free(answer);
			job_fail(job, MX_PERMFAIL, "domain ", " does not exist");
			return;
		case NO_DATA:
			implicit = true;
			break;
		default:
			free(answer);
			job_fail(job, MX_TEMPFAIL, "DNS lookup of the MX of ", " failed");
			return;
		}
	}
	if (implicit) {
		/* RFC 5321 5.1: no MX, so the domain itself is the exchanger. */
		count = 1;
		records[0].preference = 0;
		snprintf(records[0].name, sizeof(records[0].name), "%s", job->name);
	} else {
		count = mx_parse_answer(answer, n, records, MX_MAX_HOSTS, &error);
		if (count < 0) {
			free(answer);
			job->status = MX_TEMPFAIL;
			snprintf(job->error, sizeof(job->error), "%s", error);
			return;
		}
		if (count == 0) {
			count = 1;
			records[0].preference = 0;
			snprintf(records[0].name, sizeof(records[0].name), "%s", job->name);
		}
	}
	free(answer);
	if (count == 1 && records[0].name[0] == '\0') {
		job_fail(job, MX_PERMFAIL, "domain ", " accepts no mail (null MX)");
		return;
	}
	mx_sort(records, (size_t)count);
	/* Equal preferences in random order (RFC 5321 5.1). */
	for (int i = 0; i < count;) {
		int j = i;

		while (j < count && records[j].preference == records[i].preference)
			j++;
		for (int k = j - 1; k > i; k--) {
			int m = i + (int)(rand_r(seed) % (unsigned)(k - i + 1));
			struct mx_record tmp = records[k];

			records[k] = records[m];
			records[m] = tmp;
		}
		i = j;
	}
	job->nhosts = 0;
	for (int i = 0; i < count; i++) {
		struct mx_host *h = &job->hosts[job->nhosts];

		if (records[i].name[0] == '\0')
			continue;
		memset(h, 0, sizeof(*h));
		snprintf(h->name, sizeof(h->name), "%s", records[i].name);
		h->preference = records[i].preference;
		if (job_addresses(h, job->port, true) == 0)
			job->nhosts++;
	}
	if (job->nhosts == 0) {
		job_fail(job, MX_TEMPFAIL, "no mail exchanger of ", " has an address");
		return;
	}
	job->status = MX_OK;
}

static void *
mx_thread(void *arg)
{
	struct mx_resolver *r = arg;
	struct __res_state res;
	struct mx_job *job;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&res;
	bool first, res_ok;

	memset(&res, 0, sizeof(res));
	res_ok = res_ninit(&res) == 0;
	pthread_mutex_lock(&r->mutex);
	for (;;) {
		while (!r->stopping && TAILQ_EMPTY(&r->queue))
			pthread_cond_wait(&r->cond, &r->mutex);
		if (r->stopping)
			break;
		job = TAILQ_FIRST(&r->queue);
		TAILQ_REMOVE(&r->queue, job, entry);
		job->state = JOB_RUNNING;
		pthread_mutex_unlock(&r->mutex);

		if (!job->want_mx)
			job_run_host(job);
		else if (!res_ok) {
			job->status = MX_TEMPFAIL;
			snprintf(job->error, sizeof(job->error),
			         "the DNS resolver could not be initialised");
		} else
			job_run_mx(job, &res, &seed);

		pthread_mutex_lock(&r->mutex);
		job->state = JOB_DONE;
		first = TAILQ_EMPTY(&r->done);
		TAILQ_INSERT_TAIL(&r->done, job, entry);
		if (first && write(r->wake_fds[1], "", 1) < 0 && errno != EAGAIN)
			log_error("mx: cannot wake the event loop: %s", strerror(errno));
	}
	pthread_mutex_unlock(&r->mutex);
	if (res_ok)
		res_nclose(&res);
	return NULL;
}

static void
mx_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mx_resolver *r = arg;
	struct mx_job_list done = TAILQ_HEAD_INITIALIZER(done);
	struct mx_job *job;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&r->mutex);
	TAILQ_CONCAT(&done, &r->done, entry);
	pthread_mutex_unlock(&r->mutex);

	while ((job = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, job, entry);
		if (job->req != NULL) {
			struct mx_request *req = job->req;
			struct mx_answer answer = {
			    .status = job->status,
			    .error = job->status == MX_OK ? NULL : job->error,
			    .hosts = job->hosts,
			    .nhosts = job->nhosts,
			};

			mx_cb *cb = req->cb;
			void *ctx = req->ctx;

			free(req);
			job->req = NULL;
			cb(&answer, ctx);
		}
		free(job);
	}
}

/* ---------------------------------------------------------------------
 * API
 */

struct mx_resolver *
mx_resolver_create(struct event_base *base, unsigned threads)
{
	struct mx_resolver *r = xcalloc(1, sizeof(*r));
	sigset_t all, old;
	int err;

	r->base = base;
	TAILQ_INIT(&r->queue);
	TAILQ_INIT(&r->done);
	pthread_mutex_init(&r->mutex, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (pipe(r->wake_fds) < 0)
		fatal("mx: pipe: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		if (fcntl(r->wake_fds[i], F_SETFL, O_NONBLOCK) < 0 ||
		    fcntl(r->wake_fds[i], F_SETFD, FD_CLOEXEC) < 0)
			fatal("mx: fcntl: %s", strerror(errno));
	}
	r->wake = event_new(base, r->wake_fds[0], EV_READ | EV_PERSIST, mx_wake_cb, r);
	event_add(r->wake, NULL);

	if (threads == 0)
		threads = 1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r->threads = xcalloc(threads, sizeof(*r->threads));
	for (unsigned i = 0; i < threads; i++) {
		err = pthread_create(&r->threads[i], NULL, mx_thread, r);
		if (err != 0)
			fatal("mx: cannot start a resolver thread: %s", strerror(err));
		r->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

void
mx_resolver_destroy(struct mx_resolver **rp)
{
	struct mx_resolver *r = *rp;
	struct mx_job *job;

	if (r == NULL)
		return;
	*rp = NULL;
	pthread_mutex_lock(&r->mutex);
	r->stopping = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mutex);
	for (unsigned i = 0; i < r->nthreads; i++)
		pthread_join(r->threads[i], NULL);
	free(r->threads);
	while ((job = TAILQ_FIRST(&r->queue)) != NULL) {
		TAILQ_REMOVE(&r->queue, job, entry);
		if (job->req != NULL)
			job->req->job = NULL;
		free(job);
	}
	while ((job = TAILQ_FIRST(&r->done)) != NULL) {
		TAILQ_REMOVE(&r->done, job, entry);
		if (job->req != NULL)
			job->req->job = NULL;
		free(job);
	}
	event_free(r->wake);
	close(r->wake_fds[0]);
	close(r->wake_fds[1]);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mutex);
	free(r);
}

static struct mx_request *
mx_submit(struct mx_resolver *r, const char *name, bool want_mx, uint16_t port, mx_cb *cb,
          void *ctx)
{
	struct mx_request *req = xcalloc(1, sizeof(*req));
	struct mx_job *job = xcalloc(1, sizeof(*job));

	req->r = r;
	req->cb = cb;
	req->ctx = ctx;
	req->job = job;
	job->req = req;
	job->want_mx = want_mx;
	job->port = port;
	snprintf(job->name, sizeof(job->name), "%s", name);
	pthread_mutex_lock(&r->mutex);
	if (strlen(name) >= sizeof(job->name) || name[0] == '\0') {
		/* Answered through the done list, so still from the loop. */
		job->status = MX_PERMFAIL;
		snprintf(job->error, sizeof(job->error), "invalid domain name");
		job->state = JOB_DONE;
		if (TAILQ_EMPTY(&r->done) && write(r->wake_fds[1], "", 1) < 0 && errno != EAGAIN)
			log_error("mx: cannot wake the event loop: %s", strerror(errno));
		TAILQ_INSERT_TAIL(&r->done, job, entry);
	} else {
		job->state = JOB_QUEUED;
		TAILQ_INSERT_TAIL(&r->queue, job, entry);
		pthread_cond_signal(&r->cond);
	}
	pthread_mutex_unlock(&r->mutex);
	return req;
}

struct mx_request *
mx_lookup(struct mx_resolver *r, const char *domain, uint16_t port, mx_cb *cb, void *ctx)
{
	return mx_submit(r, domain, true, port, cb, ctx);
}

struct mx_request *
mx_lookup_host(struct mx_resolver *r, const char *host, uint16_t port, mx_cb *cb, void *ctx)
{
	return mx_submit(r, host, false, port, cb, ctx);
}

void
mx_request_abandon(struct mx_request **reqp)
{
	struct mx_request *req = *reqp;
	struct mx_resolver *r;

	if (req == NULL)
		return;
	*reqp = NULL;
	r = req->r;
	if (req->job != NULL) {
		pthread_mutex_lock(&r->mutex);
		if (req->job->state == JOB_QUEUED) {
			TAILQ_REMOVE(&r->queue, req->job, entry);
			free(req->job);
		} else {
			/* Running or done: the loop frees it when it comes by. */
			req->job->req = NULL;
		}
		pthread_mutex_unlock(&r->mutex);
	}
	free(req);
}
