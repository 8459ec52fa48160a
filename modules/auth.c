/* Password authentication (see auth.h): each request walks lookup ->
 * lockout check -> verification on the thread pool -> failure count or
 * counter reset -> (delayed) answer. The pool's threads only run Argon2;
 * results come back to the loop through a pipe, and every libevent, db and
 * store object is touched on the loop thread alone. */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "log.h"
#include "password.h"
#include "store-auth.h"
#include "store.h"
#include "xmalloc.h"

/* Verifications waiting or running per worker before new logins get
 * AUTH_TEMPFAIL: under a flood, answer "busy" rather than queue minutes of
 * Argon2 work (and its memory) behind every legitimate user. */
#define AUTH_QUEUE_MAX 256
/* How often (on average) a worker deletes passed counters. */
#define AUTH_EXPIRE_INTERVAL_MS (10u * 60u * 1000u)
/* Remembered verifications per worker (the oldest go first) and the
 * buckets of their index (a power of two). */
#define AUTH_CACHE_MAX     8192u
#define AUTH_CACHE_BUCKETS 2048u

/* An Argon2id hash of a random password nobody knows, made with the same
 * costs as password_hash: verifying an unknown login against it costs what
 * a real verification costs. */
static const char auth_dummy_hash[] = "$argon2id$v=19$m=65536,t=2,p=1$QxUvyAJlPJaDqo1YiWjdQw$"
                                      "g6iXCWPSCHzXD7DhD7RMMUPkoiMMYIhKJv6cpWgqrWs";

enum auth_job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,
};

struct auth_job {
	TAILQ_ENTRY(auth_job) entry;
	enum auth_job_state state; /* under auth->mutex */
	/* Loop thread only: the request waiting for this job, NULL once it
	 * was abandoned (the job is then freed when it comes back). */
	struct auth_request *req;
	char *hash;
	char *password;
	bool rehash;    /* on a match, also make a new hash if the old one is outdated */
	bool match;     /* result */
	char *new_hash; /* result */
};
TAILQ_HEAD(auth_job_list, auth_job);

/* A remembered successful verification (see auth_password in auth.h). */
struct auth_cache_entry {
	TAILQ_ENTRY(auth_cache_entry) order; /* oldest, i.e. first to expire, first */
	struct auth_cache_entry *next;       /* in its bucket */
	uint64_t bucket_hash;
	char *login; /* ASCII lower-cased */
	unsigned char mac[crypto_generichash_BYTES];
	unsigned char hash_id[16]; /* digest of the password hash it was verified against */
	uint64_t account_id;
	char *address;
	char *display_name;
	uint64_t expires_ms;
};
TAILQ_HEAD(auth_cache_list, auth_cache_entry);

struct auth {
	struct event_base *base;
	struct db *db;
	struct store *store;
	struct auth_settings set;

	pthread_mutex_t mutex;
	pthread_cond_t cond;
	struct auth_job_list queue; /* waiting for a thread */
	struct auth_job_list done;  /* waiting for the loop */
	unsigned busy;              /* jobs queued or running */
	bool stopping;
	pthread_t *threads;
	unsigned nthreads;
	int wake_fds[2]; /* threads write a byte when done gets its first job */
	struct event *wake;

	struct event *expire_timer;
	struct store_auth_op *expire_op;
	LIST_HEAD(, auth_request) requests;

	/* The verification cache (loop thread only; unused when
	 * set.cache_ttl_ms is 0). */
	unsigned char mac_key[crypto_generichash_KEYBYTES];
	unsigned char bucket_key[crypto_shorthash_KEYBYTES];
	struct auth_cache_entry **buckets;
	struct auth_cache_list cache_order;
	size_t cache_count;
};

enum auth_req_state {
	REQ_LOOKUP,
	REQ_CHECK,
	REQ_VERIFY,
	REQ_RECORD,
	REQ_UPDATE_HASH,
	REQ_RESET,
	REQ_ANSWER,
};

struct auth_request {
	struct auth *auth;
	LIST_ENTRY(auth_request) entry;
	bool unlisted; /* its callback is running */
	enum auth_req_state state;
	auth_cb *cb;
	auth_verify_cb *verify_cb; /* set for auth_verify requests */
	void *ctx;

	char *login; /* NULL when the login was unusable */
	char *password;
	char *protocol;
	char *remote_ip;
	char ip_key[64];
	bool has_ip;
	uint64_t start_ms;
	uint64_t deadline_ms; /* failures are not answered before */
	bool cached;          /* the password matched a cache entry */

	bool found;
	bool enabled;
	bool is_group;
	bool account_row; /* the account key had a counter at check time */
	uint64_t account_id;
	char *address;
	char *display_name;
	char *hash;
	char key_value[AUTH_LOGIN_MAX + 1]; /* account id, or lower-cased login */

	struct store_op *lookup;
	struct store_auth_op *op;
	struct auth_job *job;
	struct event *timer;

	enum auth_result result;
	char *error;
	bool match;
	char *new_hash;
};

static void auth_request_verify(struct auth_request *req);

static uint64_t
auth_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
auth_wipe_free(char **s)
{
	if (*s != NULL) {
		sodium_memzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

const char *
auth_result_name(enum auth_result result)
{
	switch (result) {
	case AUTH_OK:
		return "ok";
	case AUTH_FAILED:
		return "failed";
	case AUTH_DISABLED:
		return "disabled";
	case AUTH_LOCKED:
		return "locked";
	case AUTH_TEMPFAIL:
		return "temporary failure";
	}
	return "?";
}

/* ---------------------------------------------------------------------
 * The verification pool
 */

static void
auth_job_free(struct auth_job *job)
{
	auth_wipe_free(&job->password);
	free(job->hash);
	free(job->new_hash);
	free(job);
}

static void
auth_job_run(struct auth_job *job)
{
	const char *error;

	job->match = password_verify(job->hash, job->password);
	if (job->match && job->rehash && password_needs_rehash(job->hash) &&
	    password_hash(job->password, &job->new_hash, &error) < 0)
		job->new_hash = NULL;
	auth_wipe_free(&job->password);
}

static void *
auth_thread(void *arg)
{
	struct auth *auth = arg;
	struct auth_job *job;
	bool first;

	pthread_mutex_lock(&auth->mutex);
	for (;;) {
		while (!auth->stopping && TAILQ_EMPTY(&auth->queue))
			pthread_cond_wait(&auth->cond, &auth->mutex);
		if (auth->stopping)
			break;
		job = TAILQ_FIRST(&auth->queue);
		TAILQ_REMOVE(&auth->queue, job, entry);
		job->state = JOB_RUNNING;
		pthread_mutex_unlock(&auth->mutex);

		auth_job_run(job);

		pthread_mutex_lock(&auth->mutex);
		job->state = JOB_DONE;
		auth->busy--;
		first = TAILQ_EMPTY(&auth->done);
		TAILQ_INSERT_TAIL(&auth->done, job, entry);
		/* One byte per batch: the loop takes the whole list. A full
		 * pipe (EAGAIN) means the loop has a wake-up coming anyway. */
		if (first && write(auth->wake_fds[1], "", 1) < 0 && errno != EAGAIN)
			log_error("auth: cannot wake the event loop: %s", strerror(errno));
	}
	pthread_mutex_unlock(&auth->mutex);
	return NULL;
}

/* Queues a verification for req; NULL when the pool is saturated. */
static struct auth_job *
auth_job_submit(struct auth *auth, struct auth_request *req, const char *hash, const char *password,
                bool rehash)
{
	struct auth_job *job;

	pthread_mutex_lock(&auth->mutex);
	if (auth->busy >= AUTH_QUEUE_MAX) {
		pthread_mutex_unlock(&auth->mutex);
		return NULL;
	}
	job = xcalloc(1, sizeof(*job));
	job->req = req;
	job->hash = xstrdup(hash);
	job->password = xstrdup(password);
	job->rehash = rehash;
	job->state = JOB_QUEUED;
	TAILQ_INSERT_TAIL(&auth->queue, job, entry);
	auth->busy++;
	pthread_cond_signal(&auth->cond);
	pthread_mutex_unlock(&auth->mutex);
	return job;
}

/* The request no longer wants job: drop it if no thread has it yet, else
 * let the thread finish and free it when it comes back. */
static void
auth_job_detach(struct auth *auth, struct auth_job *job)
{
	pthread_mutex_lock(&auth->mutex);
	if (job->state == JOB_QUEUED) {
		TAILQ_REMOVE(&auth->queue, job, entry);
		auth->busy--;
		pthread_mutex_unlock(&auth->mutex);
		auth_job_free(job);
		return;
	}
	job->req = NULL;
	pthread_mutex_unlock(&auth->mutex);
}

static void auth_request_verified(struct auth_request *req, struct auth_job *job);

static void
auth_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth *auth = arg;
	struct auth_job_list done = TAILQ_HEAD_INITIALIZER(done);
	struct auth_job *job;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&auth->mutex);
	TAILQ_CONCAT(&done, &auth->done, entry);
	pthread_mutex_unlock(&auth->mutex);

	while ((job = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, job, entry);
		if (job->req != NULL) {
			job->req->job = NULL;
			auth_request_verified(job->req, job);
		}
		auth_job_free(job);
	}
}

/* ---------------------------------------------------------------------
 * The verification cache
 */

/* login, ASCII lower-cased, into buf (AUTH_LOGIN_MAX + 1 bytes); login is
 * a valid login (auth_login_valid), so it fits. */
static void
auth_cache_lower(const char *login, char *buf)
{
	size_t i;

	for (i = 0; login[i] != '\0' && i < AUTH_LOGIN_MAX; i++) {
		char c = login[i];

		buf[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	buf[i] = '\0';
}

/* The bucket index: SipHash under a random key, so that clients cannot
 * choose logins that share a bucket. */
static uint64_t
auth_cache_bucket_hash(const struct auth *auth, const char *lower)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, (const unsigned char *)lower, strlen(lower), auth->bucket_key);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* The keyed hash that stands for the password: BLAKE2b over the login and
 * the password under the per-process key, so an entry is useless outside
 * this process and says nothing about passwords. */
static void
auth_cache_mac(const struct auth *auth, const char *lower, const char *password,
               unsigned char mac[crypto_generichash_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, auth->mac_key, sizeof(auth->mac_key),
	                        crypto_generichash_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)lower, strlen(lower) + 1);
	crypto_generichash_update(&st, (const unsigned char *)password, strlen(password));
	crypto_generichash_final(&st, mac, crypto_generichash_BYTES);
}

static void
auth_cache_hash_id(const char *hash, unsigned char id[16])
{
	crypto_generichash(id, 16, (const unsigned char *)(hash != NULL ? hash : ""),
	                   hash != NULL ? strlen(hash) : 0, NULL, 0);
}

static void
auth_cache_remove(struct auth *auth, struct auth_cache_entry *e)
{
	struct auth_cache_entry **pp = &auth->buckets[e->bucket_hash & (AUTH_CACHE_BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	TAILQ_REMOVE(&auth->cache_order, e, order);
	auth->cache_count--;
	free(e->login);
	free(e->address);
	free(e->display_name);
	sodium_memzero(e, sizeof(*e));
	free(e);
}

/* Drops every passed entry: they are in expiry order. */
static void
auth_cache_expire(struct auth *auth, uint64_t now)
{
	struct auth_cache_entry *e;

	while ((e = TAILQ_FIRST(&auth->cache_order)) != NULL && e->expires_ms <= now)
		auth_cache_remove(auth, e);
}

/* The live entry for lower, or NULL. */
static struct auth_cache_entry *
auth_cache_find(struct auth *auth, const char *lower)
{
	uint64_t h, now = auth_now_ms();
	struct auth_cache_entry *e;

	if (auth->buckets == NULL)
		return NULL;
	auth_cache_expire(auth, now);
	h = auth_cache_bucket_hash(auth, lower);
	for (e = auth->buckets[h & (AUTH_CACHE_BUCKETS - 1)]; e != NULL; e = e->next) {
		if (e->bucket_hash != h || strcmp(e->login, lower) != 0)
			continue;
		if (e->expires_ms <= now) {
			auth_cache_remove(auth, e);
			return NULL;
		}
		return e;
	}
	return NULL;
}

/* Whether req's password matches the live entry of its login; on a match,
 * req takes the account from the entry. */
static bool
auth_cache_lookup(struct auth_request *req)
{
	struct auth *auth = req->auth;
	char lower[AUTH_LOGIN_MAX + 1];
	unsigned char mac[crypto_generichash_BYTES];
	struct auth_cache_entry *e;
	bool match;

	auth_cache_lower(req->login, lower);
	e = auth_cache_find(auth, lower);
	if (e == NULL)
		return false;
	auth_cache_mac(auth, lower, req->password, mac);
	match = sodium_memcmp(mac, e->mac, sizeof(mac)) == 0;
	sodium_memzero(mac, sizeof(mac));
	if (!match)
		return false;
	req->cached = true;
	req->found = true;
	req->enabled = true;
	req->account_id = e->account_id;
	req->address = xstrdup(e->address);
	req->display_name = xstrdup(e->display_name);
	snprintf(req->key_value, sizeof(req->key_value), "%" PRIu64, e->account_id);
	return true;
}

/* After a full lookup of req's login: an entry that no longer describes
 * the account (gone, another account, disabled, other password hash) is
 * dropped at once rather than at its expiry. */
static void
auth_cache_reconcile(struct auth_request *req, const struct store_account *account)
{
	char lower[AUTH_LOGIN_MAX + 1];
	unsigned char id[16];
	struct auth_cache_entry *e;

	auth_cache_lower(req->login, lower);
	e = auth_cache_find(req->auth, lower);
	if (e == NULL)
		return;
	if (account != NULL)
		auth_cache_hash_id(account->password_hash, id);
	if (account == NULL || account->id != e->account_id || !account->enabled ||
	    (account->kind != NULL && strcmp(account->kind, "group") == 0) ||
	    memcmp(id, e->hash_id, sizeof(id)) != 0)
		auth_cache_remove(req->auth, e);
}

/* Remembers req's successful full verification (against hash) until
 * cache_ttl after the request started, i.e. after its lookup. */
static void
auth_cache_put(struct auth_request *req, const char *hash)
{
	struct auth *auth = req->auth;
	struct auth_cache_entry *e;
	char lower[AUTH_LOGIN_MAX + 1];

	if (auth->buckets == NULL || req->login == NULL)
		return;
	auth_cache_lower(req->login, lower);
	if ((e = auth_cache_find(auth, lower)) != NULL)
		auth_cache_remove(auth, e);
	while (auth->cache_count >= AUTH_CACHE_MAX)
		auth_cache_remove(auth, TAILQ_FIRST(&auth->cache_order));
	e = xcalloc(1, sizeof(*e));
	e->login = xstrdup(lower);
	e->bucket_hash = auth_cache_bucket_hash(auth, lower);
	auth_cache_mac(auth, lower, req->password, e->mac);
	auth_cache_hash_id(hash, e->hash_id);
	e->account_id = req->account_id;
	e->address = xstrdup(req->address);
	e->display_name = xstrdup(req->display_name != NULL ? req->display_name : "");
	e->expires_ms = req->start_ms + auth->set.cache_ttl_ms;
	e->next = auth->buckets[e->bucket_hash & (AUTH_CACHE_BUCKETS - 1)];
	auth->buckets[e->bucket_hash & (AUTH_CACHE_BUCKETS - 1)] = e;
	/* Every entry has the same TTL, so appending keeps expiry order
	 * nearly: requests verified out of order differ by a verification
	 * time, which only delays an entry's removal by auth_cache_expire;
	 * auth_cache_find checks each entry's own expiry. */
	TAILQ_INSERT_TAIL(&auth->cache_order, e, order);
	auth->cache_count++;
}

static void
auth_cache_destroy(struct auth *auth)
{
	struct auth_cache_entry *e;

	while ((e = TAILQ_FIRST(&auth->cache_order)) != NULL)
		auth_cache_remove(auth, e);
	free(auth->buckets);
	auth->buckets = NULL;
}

/* ---------------------------------------------------------------------
 * Requests
 */

static void
auth_request_free(struct auth_request *req)
{
	store_op_abandon(&req->lookup);
	store_auth_op_abandon(&req->op);
	if (req->job != NULL) {
		auth_job_detach(req->auth, req->job);
		req->job = NULL;
	}
	if (req->timer != NULL)
		event_free(req->timer);
	if (!req->unlisted)
		LIST_REMOVE(req, entry);
	free(req->login);
	auth_wipe_free(&req->password);
	free(req->protocol);
	free(req->remote_ip);
	free(req->address);
	free(req->display_name);
	free(req->hash);
	free(req->error);
	free(req->new_hash);
	free(req);
}

void
auth_request_abandon(struct auth_request **req)
{
	if (*req == NULL)
		return;
	auth_request_free(*req);
	*req = NULL;
}

/* Calls the callback and frees the request. */
static void
auth_request_deliver(struct auth_request *req)
{
	struct auth_user user = {0};

	if (req->verify_cb != NULL) {
		auth_verify_cb *cb = req->verify_cb;
		void *ctx = req->ctx;
		bool match = req->result == AUTH_OK && req->match;

		auth_request_free(req);
		cb(match, ctx);
		return;
	}
	if (req->result == AUTH_OK) {
		user.account_id = req->account_id;
		user.address = req->address;
		user.display_name = req->display_name != NULL ? req->display_name : "";
	}
	/* The strings live in req until the callback returns; the handle is
	 * already dead for the caller, so take it off the list now. */
	LIST_REMOVE(req, entry);
	req->unlisted = true;
	req->cb(req->result, req->result == AUTH_OK ? &user : NULL, req->error, req->ctx);
	auth_request_free(req);
}

static void
auth_answer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth_request *req = arg;

	event_free(req->timer);
	req->timer = NULL;
	auth_request_deliver(req);
}

static const char *
auth_request_who(const struct auth_request *req)
{
	if (req->address != NULL)
		return req->address;
	return req->login != NULL ? req->login : "(invalid login)";
}

static const char *
auth_request_from(const struct auth_request *req)
{
	return req->remote_ip != NULL ? req->remote_ip : "local";
}

/* What the caller may show the client. */
static const char *
auth_result_message(enum auth_result result, const char *reason)
{
	switch (result) {
	case AUTH_OK:
		return NULL;
	case AUTH_FAILED:
		return "authentication failed";
	case AUTH_DISABLED:
		return "account disabled";
	case AUTH_LOCKED:
		return "too many failed logins; try again later";
	case AUTH_TEMPFAIL:
		return reason;
	}
	return "authentication failed";
}

/* Decides the result; the answer follows from a timer: at once for
 * AUTH_OK and AUTH_TEMPFAIL, else at the request's deadline. reason goes
 * to the log (and is the error for AUTH_TEMPFAIL). */
static void
auth_request_finish(struct auth_request *req, enum auth_result result, const char *reason)
{
	struct timeval tv = {0, 0};
	char *error;
	uint64_t now;

	req->state = REQ_ANSWER;
	req->result = result;
	if (req->verify_cb == NULL) {
		if (result == AUTH_OK) {
			if (req->login != NULL && strcasecmp(req->login, req->address) != 0)
				log_info("auth: %s login %s (as %s) from %s", req->protocol,
				         req->address, req->login, auth_request_from(req));
			else
				log_info("auth: %s login %s from %s", req->protocol, req->address,
				         auth_request_from(req));
		} else if (result == AUTH_TEMPFAIL) {
			log_warning("auth: %s login for %s from %s: temporary failure: %s",
			            req->protocol, auth_request_who(req), auth_request_from(req),
			            reason);
		} else {
			log_info("auth: %s login failed for %s from %s: %s", req->protocol,
			         auth_request_who(req), auth_request_from(req), reason);
		}
	}
	/* reason may be req->error itself */
	error = result == AUTH_OK ? NULL : xstrdup(auth_result_message(result, reason));
	free(req->error);
	req->error = error;
	if (result != AUTH_OK && result != AUTH_TEMPFAIL) {
		now = auth_now_ms();
		if (req->deadline_ms > now) {
			tv.tv_sec = (time_t)((req->deadline_ms - now) / 1000u);
			tv.tv_usec = (suseconds_t)((req->deadline_ms - now) % 1000u * 1000u);
		}
	}
	req->timer = evtimer_new(req->auth->base, auth_answer_cb, req);
	evtimer_add(req->timer, &tv);
}

/* The counter keys of req, the address first (store_auth_fail's lock
 * order). */
static size_t
auth_request_keys(const struct auth_request *req, struct store_auth_key *keys)
{
	size_t n = 0;

	if (req->has_ip) {
		keys[n].kind = STORE_AUTH_IP;
		keys[n++].value = req->ip_key;
	}
	if (req->key_value[0] != '\0') {
		keys[n].kind = req->found ? STORE_AUTH_ACCOUNT : STORE_AUTH_LOGIN;
		keys[n++].value = req->key_value;
	}
	return n;
}

static void
auth_request_limits(const struct auth *auth, struct store_auth_limits *limits)
{
	limits->max_failures = auth->set.max_failures;
	limits->window_ms = auth->set.failure_window_ms;
	limits->lockout_ms = auth->set.lockout_ms;
}

static void
auth_log_lockout(const struct auth_request *req, const struct store_auth_state *st)
{
	unsigned long long secs = (st->lock_ms + 999) / 1000;

	if (st->kind == STORE_AUTH_IP)
		log_warning("auth: too many failures from address %s; locked for %llu s", st->value,
		            secs);
	else
		log_warning("auth: too many failures for account %s; locked for %llu s",
		            auth_request_who(req), secs);
}

static void
auth_failure_counted(const struct store_auth_state *states, size_t count, const char *error,
                     void *ctx)
{
	struct auth_request *req = ctx;

	req->op = NULL;
	/* The answer stands (the password was wrong); only the count is lost. */
	if (error != NULL)
		log_warning("auth: cannot count failed login for %s from %s: %s",
		            auth_request_who(req), auth_request_from(req), error);
	for (size_t i = 0; i < count; i++) {
		if (states[i].just_locked && states[i].lock_ms > 0)
			auth_log_lockout(req, &states[i]);
	}
	auth_request_finish(req, req->result, req->error);
}

/* A refused attempt: counted against every key, then answered. */
static void
auth_request_fail(struct auth_request *req, enum auth_result result, const char *reason)
{
	struct store_auth_key keys[STORE_AUTH_MAX_KEYS];
	struct store_auth_limits limits;
	size_t n = auth_request_keys(req, keys);

	if (n == 0) {
		auth_request_finish(req, result, reason);
		return;
	}
	/* Kept for auth_request_finish once the count is in. */
	req->result = result;
	req->error = xstrdup(reason);
	req->state = REQ_RECORD;
	auth_request_limits(req->auth, &limits);
	req->op = store_auth_fail(req->auth->db, keys, n, &limits, auth_failure_counted, req);
}

static void
auth_reset_done(const char *error, void *ctx)
{
	struct auth_request *req = ctx;

	req->op = NULL;
	if (error != NULL)
		log_warning("auth: cannot reset failure count of %s: %s", req->address, error);
	auth_request_finish(req, AUTH_OK, NULL);
}

static void
auth_request_reset(struct auth_request *req)
{
	struct store_auth_key key = {STORE_AUTH_ACCOUNT, req->key_value};

	if (!req->account_row) {
		auth_request_finish(req, AUTH_OK, NULL);
		return;
	}
	req->state = REQ_RESET;
	req->op = store_auth_reset(req->auth->db, &key, auth_reset_done, req);
}

static void
auth_hash_updated(const char *error, void *ctx)
{
	struct auth_request *req = ctx;

	req->op = NULL;
	if (error != NULL)
		log_warning("auth: cannot upgrade the password hash of %s: %s", req->address,
		            error);
	else
		log_info("auth: upgraded the password hash of %s", req->address);
	auth_request_reset(req);
}

static void
auth_request_verified(struct auth_request *req, struct auth_job *job)
{
	req->match = job->match;
	if (req->verify_cb != NULL) {
		auth_request_finish(req, AUTH_OK, NULL);
		return;
	}
	if (!req->found) {
		auth_request_fail(req, AUTH_FAILED, "unknown user");
	} else if (req->is_group) {
		auth_request_fail(req, AUTH_FAILED, "not a user account");
	} else if (req->hash == NULL) {
		auth_request_fail(req, AUTH_FAILED, "no password set");
	} else if (!job->match) {
		auth_request_fail(req, AUTH_FAILED, "wrong password");
	} else if (!req->enabled) {
		auth_request_fail(req, AUTH_DISABLED, "account disabled");
	} else if (job->new_hash != NULL) {
		req->new_hash = job->new_hash;
		job->new_hash = NULL;
		auth_cache_put(req, req->new_hash);
		req->state = REQ_UPDATE_HASH;
		req->op = store_auth_update_hash(req->auth->db, req->account_id, req->hash,
		                                 req->new_hash, auth_hash_updated, req);
	} else {
		auth_cache_put(req, req->hash);
		auth_request_reset(req);
	}
}

static void
auth_request_verify(struct auth_request *req)
{
	bool real = req->found && !req->is_group && req->hash != NULL;

	if (req->cached) {
		/* Verified within the TTL; the lockout check has passed. */
		log_debug("auth: %s password of %s matched the cache", req->protocol, req->address);
		req->match = true;
		auth_request_reset(req);
		return;
	}
	req->state = REQ_VERIFY;
	req->job = auth_job_submit(req->auth, req, real ? req->hash : auth_dummy_hash,
	                           req->password, real && req->enabled);
	if (req->job == NULL)
		auth_request_finish(req, AUTH_TEMPFAIL, "server busy: too many logins in progress");
}

static void
auth_checked(const struct store_auth_state *states, size_t count, const char *error, void *ctx)
{
	struct auth_request *req = ctx;

	req->op = NULL;
	if (error != NULL) {
		auth_request_finish(req, AUTH_TEMPFAIL, error);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		if (states[i].kind == STORE_AUTH_ACCOUNT)
			req->account_row = true;
	}
	/* A locked key refuses the attempt without looking at the password,
	 * and the attempt is not counted again: it taught the client
	 * nothing. */
	for (size_t i = 0; i < count; i++) {
		if (states[i].locked) {
			auth_request_finish(req, AUTH_LOCKED,
			                    states[i].kind == STORE_AUTH_IP
			                        ? "locked (too many failures from the address)"
			                        : "locked (too many failures for the account)");
			return;
		}
	}
	auth_request_verify(req);
}

static void
auth_request_check(struct auth_request *req)
{
	struct store_auth_key keys[STORE_AUTH_MAX_KEYS];
	struct store_auth_limits limits;
	size_t n = auth_request_keys(req, keys);

	if (n == 0) {
		auth_request_verify(req);
		return;
	}
	req->state = REQ_CHECK;
	auth_request_limits(req->auth, &limits);
	req->op = store_auth_check(req->auth->db, keys, n, &limits, auth_checked, req);
}

static void
auth_looked_up(const struct store_account *account, const char *error, void *ctx)
{
	struct auth_request *req = ctx;

	req->lookup = NULL;
	if (error != NULL) {
		auth_request_finish(req, AUTH_TEMPFAIL, error);
		return;
	}
	auth_cache_reconcile(req, account);
	if (account != NULL) {
		req->found = true;
		req->account_id = account->id;
		req->address = xstrdup(account->address != NULL ? account->address : req->login);
		req->display_name =
		    xstrdup(account->display_name != NULL ? account->display_name : "");
		req->enabled = account->enabled;
		req->is_group = account->kind != NULL && strcmp(account->kind, "group") == 0;
		req->hash = account->password_hash != NULL && account->password_hash[0] != '\0'
		                ? xstrdup(account->password_hash)
		                : NULL;
		snprintf(req->key_value, sizeof(req->key_value), "%" PRIu64, account->id);
	} else {
		for (size_t i = 0; req->login[i] != '\0'; i++) {
			char c = req->login[i];

			req->key_value[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
	}
	auth_request_check(req);
}

static struct auth_request *
auth_request_new(struct auth *auth, const char *password, void *ctx)
{
	struct auth_request *req = xcalloc(1, sizeof(*req));

	req->auth = auth;
	req->ctx = ctx;
	req->password = xstrdup(password != NULL ? password : "");
	req->start_ms = auth_now_ms();
	req->deadline_ms = req->start_ms + auth->set.failure_delay_ms;
	LIST_INSERT_HEAD(&auth->requests, req, entry);
	return req;
}

struct auth_request *
auth_password(struct auth *auth, const char *login, const char *password, const char *remote_ip,
              const char *protocol, auth_cb *cb, void *ctx)
{
	struct auth_request *req = auth_request_new(auth, password, ctx);

	req->cb = cb;
	req->protocol = xstrdup(protocol != NULL ? protocol : "?");
	if (remote_ip != NULL && remote_ip[0] != '\0') {
		req->remote_ip = xstrndup(remote_ip, 63);
		(void)auth_address_key(remote_ip, req->ip_key, sizeof(req->ip_key));
		req->has_ip = true;
	}
	if (login != NULL && auth_login_valid(login, strnlen(login, AUTH_LOGIN_MAX + 1))) {
		req->login = xstrdup(login);
		if (auth_cache_lookup(req)) {
			auth_request_check(req);
			return req;
		}
		req->state = REQ_LOOKUP;
		req->lookup = store_account_lookup(auth->store, login, auth_looked_up, req);
	} else {
		/* Cannot name an account: counted against the address only. */
		auth_request_check(req);
	}
	return req;
}

struct auth_request *
auth_verify(struct auth *auth, const char *hash, const char *password, auth_verify_cb *cb,
            void *ctx)
{
	struct auth_request *req = auth_request_new(auth, password, ctx);

	req->verify_cb = cb;
	req->state = REQ_VERIFY;
	req->job =
	    auth_job_submit(auth, req, hash != NULL ? hash : auth_dummy_hash, req->password, false);
	if (req->job == NULL)
		auth_request_finish(req, AUTH_TEMPFAIL, "server busy: too many logins in progress");
	return req;
}

/* ---------------------------------------------------------------------
 * Clean-up of passed counters
 */

static void auth_expire_schedule(struct auth *auth);

static void
auth_expire_done(const char *error, void *ctx)
{
	struct auth *auth = ctx;

	auth->expire_op = NULL;
	if (error != NULL)
		log_debug("auth: cannot delete passed failure counters: %s", error);
	auth_expire_schedule(auth);
}

static void
auth_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth *auth = arg;

	auth->expire_op =
	    store_auth_expire(auth->db, auth->set.failure_window_ms, auth_expire_done, auth);
}

/* A random interval around AUTH_EXPIRE_INTERVAL_MS, so that the workers
 * of all nodes do not clean up in step. */
static void
auth_expire_schedule(struct auth *auth)
{
	uint32_t ms = AUTH_EXPIRE_INTERVAL_MS / 2 + randombytes_uniform(AUTH_EXPIRE_INTERVAL_MS);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(auth->expire_timer, &tv);
}

/* ---------------------------------------------------------------------
 * Life cycle
 */

struct auth *
auth_create(struct event_base *base, struct db *db, struct store *store,
            const struct auth_settings *settings)
{
	struct auth *auth = xcalloc(1, sizeof(*auth));
	sigset_t all, old;
	int err;

	auth->base = base;
	auth->db = db;
	auth->store = store;
	auth->set = *settings;
	if (auth->set.max_failures == 0)
		auth->set.max_failures = 1;
	if (auth->set.threads == 0)
		auth->set.threads = 1;
	TAILQ_INIT(&auth->queue);
	TAILQ_INIT(&auth->done);
	LIST_INIT(&auth->requests);
	pthread_mutex_init(&auth->mutex, NULL);
	pthread_cond_init(&auth->cond, NULL);

	if (pipe(auth->wake_fds) < 0)
		fatal("auth: pipe: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		if (fcntl(auth->wake_fds[i], F_SETFL, O_NONBLOCK) < 0 ||
		    fcntl(auth->wake_fds[i], F_SETFD, FD_CLOEXEC) < 0)
			fatal("auth: fcntl: %s", strerror(errno));
	}
	auth->wake = event_new(base, auth->wake_fds[0], EV_READ | EV_PERSIST, auth_wake_cb, auth);
	event_add(auth->wake, NULL);

	/* libsodium (and password.c's once-flag) is initialised here, on
	 * this thread, before any pool thread can race to do it. */
	(void)password_needs_rehash(auth_dummy_hash);

	/* The threads take no signals: they belong to the loop thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	auth->threads = xcalloc(auth->set.threads, sizeof(*auth->threads));
	for (unsigned i = 0; i < auth->set.threads; i++) {
		err = pthread_create(&auth->threads[i], NULL, auth_thread, auth);
		if (err != 0)
			fatal("auth: cannot start a password thread: %s", strerror(err));
		auth->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	auth->expire_timer = evtimer_new(base, auth_expire_cb, auth);
	if (db != NULL)
		auth_expire_schedule(auth);

	TAILQ_INIT(&auth->cache_order);
	if (auth->set.cache_ttl_ms > 0) {
		randombytes_buf(auth->mac_key, sizeof(auth->mac_key));
		randombytes_buf(auth->bucket_key, sizeof(auth->bucket_key));
		auth->buckets = xcalloc(AUTH_CACHE_BUCKETS, sizeof(*auth->buckets));
	}
	return auth;
}

void
auth_destroy(struct auth **authp)
{
	struct auth *auth = *authp;
	struct auth_request *req;
	struct auth_job *job;

	if (auth == NULL)
		return;
	*authp = NULL;

	/* A callback may abandon other requests: take them one at a time. */
	while ((req = LIST_FIRST(&auth->requests)) != NULL) {
		store_op_abandon(&req->lookup);
		store_auth_op_abandon(&req->op);
		if (req->job != NULL) {
			auth_job_detach(auth, req->job);
			req->job = NULL;
		}
		if (req->timer != NULL) {
			event_free(req->timer);
			req->timer = NULL;
		}
		free(req->error);
		req->error = xstrdup("shutting down");
		req->result = AUTH_TEMPFAIL;
		auth_request_deliver(req);
	}

	pthread_mutex_lock(&auth->mutex);
	auth->stopping = true;
	pthread_cond_broadcast(&auth->cond);
	pthread_mutex_unlock(&auth->mutex);
	for (unsigned i = 0; i < auth->nthreads; i++)
		pthread_join(auth->threads[i], NULL);
	free(auth->threads);

	while ((job = TAILQ_FIRST(&auth->queue)) != NULL) {
		TAILQ_REMOVE(&auth->queue, job, entry);
		auth_job_free(job);
	}
	while ((job = TAILQ_FIRST(&auth->done)) != NULL) {
		TAILQ_REMOVE(&auth->done, job, entry);
		auth_job_free(job);
	}
	store_auth_op_abandon(&auth->expire_op);
	auth_cache_destroy(auth);
	sodium_memzero(auth->mac_key, sizeof(auth->mac_key));
	event_free(auth->expire_timer);
	event_free(auth->wake);
	close(auth->wake_fds[0]);
	close(auth->wake_fds[1]);
	pthread_cond_destroy(&auth->cond);
	pthread_mutex_destroy(&auth->mutex);
	free(auth);
}
