/* Unit test for modules/auth.c: the SASL PLAIN / LOGIN / Basic decoders,
 * base64, address keys, the verification pool on a real event loop, and
 * the whole login flow (delays, lockouts, resets, abandon, shutdown) and
 * the cache of successful verifications.
 *
 * The store and the counter table are replaced at link time by in-memory
 * fakes defined below (this file defines store_account_lookup and the
 * store_auth_* functions, so the archive's versions are never linked);
 * like the real ones they answer from the event loop, never from inside
 * the call. The SQL itself is covered by tests/integration/test_auth.py. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "auth.h"
#include "log.h"
#include "password.h"
#include "store-auth.h"
#include "store.h"
#include "tap.h"
#include "xmalloc.h"

static struct event_base *base;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---------------------------------------------------------------------
 * Fakes: accounts and counters
 */

struct fake_account {
	const char *login[2]; /* names it answers to */
	struct store_account account;
};

static char *hash_secret, *hash_old, *hash_other;
static struct fake_account accounts[] = {
    {{"demo@example.com", "demo"}, {7, "demo@example.com", "Demo User", "user", true, NULL, 0}},
    {{"off@example.com", NULL}, {8, "off@example.com", "Off", "user", false, NULL, 0}},
    {{"grp@example.com", NULL}, {9, "grp@example.com", "Group", "group", true, NULL, 0}},
    {{"old@example.com", NULL}, {10, "old@example.com", "Old", "user", true, NULL, 0}},
};

static bool fake_db_down;
static int fake_lookups, fake_checks, fake_fails, fake_resets, fake_updates;
static char *fake_updated_hash;

struct fake_counter {
	enum store_auth_kind kind;
	char value[400];
	unsigned failures;
	uint64_t window_start, locked_until;
};
static struct fake_counter counters[64];
static size_t ncounters;

enum fake_kind { FAKE_LOOKUP, FAKE_STATE, FAKE_DONE };

struct fake_op {
	struct event *ev;
	enum fake_kind kind;
	const struct store_account *account;
	store_account_cb *account_cb;
	struct store_auth_state states[STORE_AUTH_MAX_KEYS];
	char values[STORE_AUTH_MAX_KEYS][400];
	size_t nstates;
	store_auth_state_cb *state_cb;
	store_auth_done_cb *done_cb;
	void *ctx;
	bool error;
};
struct store_op {
	struct fake_op op;
};
struct store_auth_op {
	struct fake_op op;
};

static void
fake_fire(evutil_socket_t fd, short what, void *arg)
{
	struct fake_op *op = arg;
	const char *error = op->error ? "database unavailable: test" : NULL;

	event_free(op->ev);
	switch (op->kind) {
	case FAKE_LOOKUP:
		op->account_cb(op->error ? NULL : op->account, error, op->ctx);
		break;
	case FAKE_STATE:
		for (size_t i = 0; i < op->nstates; i++)
			op->states[i].value = op->values[i];
		op->state_cb(op->error ? NULL : op->states, op->error ? 0 : op->nstates, error,
		             op->ctx);
		break;
	case FAKE_DONE:
		op->done_cb(error, op->ctx);
		break;
	}
	free(op);
}

static struct fake_op *
fake_start(enum fake_kind kind, void *ctx)
{
	struct fake_op *op = xcalloc(1, sizeof(struct store_auth_op));
	struct timeval tv = {0, 0};

	op->kind = kind;
	op->ctx = ctx;
	op->error = fake_db_down;
	op->ev = evtimer_new(base, fake_fire, op);
	evtimer_add(op->ev, &tv);
	return op;
}

static void
fake_abandon(struct fake_op *op)
{
	event_free(op->ev);
	free(op);
}

struct store_op *
store_account_lookup(struct store *store, const char *login, store_account_cb *cb, void *ctx)
{
	struct fake_op *op = fake_start(FAKE_LOOKUP, ctx);

	fake_lookups++;
	op->account_cb = cb;
	for (size_t i = 0; i < sizeof(accounts) / sizeof(accounts[0]); i++) {
		for (size_t j = 0; j < 2; j++) {
			if (accounts[i].login[j] != NULL &&
			    strcasecmp(accounts[i].login[j], login) == 0)
				op->account = &accounts[i].account;
		}
	}
	return (struct store_op *)op;
}

void
store_op_abandon(struct store_op **op)
{
	if (*op != NULL) {
		fake_abandon(&(*op)->op);
		*op = NULL;
	}
}

static struct fake_counter *
fake_counter(const struct store_auth_key *key, bool create)
{
	for (size_t i = 0; i < ncounters; i++) {
		if (counters[i].kind == key->kind && strcmp(counters[i].value, key->value) == 0)
			return &counters[i];
	}
	if (!create || ncounters == sizeof(counters) / sizeof(counters[0]))
		return NULL;
	memset(&counters[ncounters], 0, sizeof(counters[0]));
	counters[ncounters].kind = key->kind;
	snprintf(counters[ncounters].value, sizeof(counters[0].value), "%s", key->value);
	return &counters[ncounters++];
}

static void
fake_state(struct fake_op *op, const struct fake_counter *c, bool just_locked)
{
	struct store_auth_state *st = &op->states[op->nstates];
	uint64_t now = now_ms();

	st->kind = c->kind;
	snprintf(op->values[op->nstates], sizeof(op->values[0]), "%s", c->value);
	st->failures = c->failures;
	st->locked = c->locked_until > now;
	st->lock_ms = st->locked ? c->locked_until - now : 0;
	st->just_locked = just_locked;
	op->nstates++;
}

const char *
store_auth_kind_name(enum store_auth_kind kind)
{
	return kind == STORE_AUTH_IP ? "ip" : kind == STORE_AUTH_ACCOUNT ? "account" : "login";
}

struct store_auth_op *
store_auth_check(struct db *db, const struct store_auth_key *keys, size_t nkeys,
                 const struct store_auth_limits *limits, store_auth_state_cb *cb, void *ctx)
{
	struct fake_op *op = fake_start(FAKE_STATE, ctx);

	fake_checks++;
	op->state_cb = cb;
	for (size_t i = 0; i < nkeys && !fake_db_down; i++) {
		struct fake_counter *c = fake_counter(&keys[i], false);

		if (c != NULL)
			fake_state(op, c, false);
	}
	return (struct store_auth_op *)op;
}

/* The semantics of sql_fail in db/store-auth.c. */
struct store_auth_op *
store_auth_fail(struct db *db, const struct store_auth_key *keys, size_t nkeys,
                const struct store_auth_limits *limits, store_auth_state_cb *cb, void *ctx)
{
	struct fake_op *op = fake_start(FAKE_STATE, ctx);
	uint64_t now = now_ms();

	fake_fails++;
	op->state_cb = cb;
	for (size_t i = 0; i < nkeys && !fake_db_down; i++) {
		struct fake_counter *c = fake_counter(&keys[i], true);
		bool just = false;

		if (c->locked_until > now) {
			/* stays locked */
		} else if (c->failures == 0 || c->locked_until != 0 ||
		           c->window_start + limits->window_ms <= now) {
			c->failures = 1;
			c->window_start = now;
			c->locked_until = 0;
		} else {
			c->failures++;
		}
		if (c->locked_until <= now && c->failures >= limits->max_failures) {
			c->locked_until = now + limits->lockout_ms;
			just = true;
		}
		fake_state(op, c, just);
	}
	return (struct store_auth_op *)op;
}

struct store_auth_op *
store_auth_reset(struct db *db, const struct store_auth_key *key, store_auth_done_cb *cb, void *ctx)
{
	struct fake_op *op = fake_start(FAKE_DONE, ctx);
	struct fake_counter *c = fake_counter(key, false);

	fake_resets++;
	op->done_cb = cb;
	if (c != NULL && !fake_db_down)
		*c = counters[--ncounters];
	return (struct store_auth_op *)op;
}

struct store_auth_op *
store_auth_expire(struct db *db, unsigned window_ms, store_auth_done_cb *cb, void *ctx)
{
	struct fake_op *op = fake_start(FAKE_DONE, ctx);

	op->done_cb = cb;
	return (struct store_auth_op *)op;
}

struct store_auth_op *
store_auth_update_hash(struct db *db, uint64_t account_id, const char *old_hash,
                       const char *new_hash, store_auth_done_cb *cb, void *ctx)
{
	struct fake_op *op = fake_start(FAKE_DONE, ctx);

	fake_updates++;
	free(fake_updated_hash);
	fake_updated_hash = xstrdup(new_hash);
	op->done_cb = cb;
	return (struct store_auth_op *)op;
}

void
store_auth_op_abandon(struct store_auth_op **op)
{
	if (*op != NULL) {
		fake_abandon(&(*op)->op);
		*op = NULL;
	}
}

/* ---------------------------------------------------------------------
 * Pure helpers
 */

static void
test_base64(void)
{
	unsigned char *data;
	size_t len;
	const char *error;
	char *enc;

	is_int(auth_base64_decode("aGVsbG8=", 8, &data, &len, &error), 0, "base64: decode");
	ok(len == 5 && memcmp(data, "hello", 5) == 0, "base64: hello");
	free(data);
	is_int(auth_base64_decode("", 0, &data, &len, &error), 0, "base64: empty decodes");
	ok(len == 0 && data != NULL, "base64: to nothing");
	free(data);
	is_int(auth_base64_decode("aGk", 3, &data, &len, &error), -1, "base64: bad length");
	is_int(auth_base64_decode("a===", 4, &data, &len, &error), -1, "base64: too much padding");
	is_int(auth_base64_decode("aG=k", 4, &data, &len, &error), -1, "base64: data after '='");
	is_int(auth_base64_decode("aGk=aGk=", 8, &data, &len, &error), -1,
	       "base64: padding in the middle");
	is_int(auth_base64_decode("aG k", 4, &data, &len, &error), -1, "base64: space refused");
	ok(data == NULL, "base64: nothing returned on error");
	enc = auth_base64_encode("\0user\0pass", 10);
	is_str(enc, "AHVzZXIAcGFzcw==", "base64: encode");
	free(enc);
	enc = auth_base64_encode("ab", 2);
	is_str(enc, "YWI=", "base64: encode with one '='");
	free(enc);
	enc = auth_base64_encode("", 0);
	is_str(enc, "", "base64: encode nothing");
	free(enc);
}

static int
plain(const char *msg, size_t len, struct auth_credentials *creds, const char **error)
{
	*error = NULL;
	return auth_sasl_plain_decode(msg, len, creds, error);
}

static void
test_sasl_plain(void)
{
	struct auth_credentials c;
	const char *error;
	char big[2000];

	is_int(plain("\0demo@example.com\0secret", 24, &c, &error), 0, "plain: no authzid");
	is_str(c.login, "demo@example.com", "plain: login");
	is_str(c.password, "secret", "plain: password");
	auth_credentials_clear(&c);
	ok(c.login == NULL && c.password == NULL, "plain: cleared");

	is_int(plain("demo@example.com\0demo@example.com\0pw", 36, &c, &error), 0,
	       "plain: authzid equal to authcid");
	auth_credentials_clear(&c);
	is_int(plain("DEMO@example.com\0demo@example.com\0pw", 36, &c, &error), 0,
	       "plain: authzid differs only in case");
	auth_credentials_clear(&c);
	is_int(plain("admin\0demo\0pw", 13, &c, &error), -1, "plain: other authzid refused");
	ok(error != NULL && strstr(error, "authorization") != NULL, "plain: error %s", error);
	ok(c.login == NULL && c.password == NULL, "plain: nothing returned");
	is_int(plain("\0demo\0p\0w", 9, &c, &error), -1, "plain: NUL in password");
	is_int(plain("\0demo", 5, &c, &error), -1, "plain: one NUL only");
	ok(error != NULL && strstr(error, "malformed") != NULL, "plain: error %s", error);
	is_int(plain("demo secret", 11, &c, &error), -1, "plain: no NUL at all");
	is_int(plain("", 0, &c, &error), -1, "plain: empty message");
	is_int(plain("\0\0secret", 8, &c, &error), -1, "plain: empty authcid");
	is_str(error, "empty user name", "plain: says so");
	is_int(plain("\0demo\0", 6, &c, &error), -1, "plain: empty password");
	is_str(error, "empty password", "plain: says so");
	is_int(plain("\0de\tmo\0pw", 9, &c, &error), -1, "plain: control character in login");
	is_int(plain("\0d\xc3mo\0pw", 8, &c, &error), -1, "plain: invalid UTF-8 in login");
	is_int(plain("\0d\xc3\xa9mo\0p\xff", 9, &c, &error), 0,
	       "plain: UTF-8 login, any bytes in password");
	is_str(c.login, "d\xc3\xa9mo", "plain: UTF-8 login kept");
	auth_credentials_clear(&c);

	memset(big, 'a', sizeof(big));
	big[0] = '\0';
	big[AUTH_LOGIN_MAX + 2] = '\0';
	is_int(plain(big, AUTH_LOGIN_MAX + 2 + 3, &c, &error), -1, "plain: login too long");
	is_str(error, "user name too long", "plain: says so");
	big[AUTH_LOGIN_MAX + 2] = 'a';
	big[AUTH_LOGIN_MAX + 1] = '\0';
	is_int(plain(big, AUTH_LOGIN_MAX + 1 + 1 + 3, &c, &error), 0, "plain: longest login");
	auth_credentials_clear(&c);
	big[AUTH_LOGIN_MAX + 1] = 'a';
	big[5] = '\0';
	is_int(plain(big, 6 + PASSWORD_MAX_LENGTH + 1, &c, &error), -1, "plain: password too long");
	is_int(plain(big, 6 + PASSWORD_MAX_LENGTH, &c, &error), 0, "plain: longest password");
	auth_credentials_clear(&c);
}

static void
test_sasl_login_and_basic(void)
{
	struct auth_credentials c;
	const char *error;
	char *value, *b64;

	b64 = auth_base64_encode("Username:", 9);
	is_str(b64, AUTH_SASL_LOGIN_USERNAME, "login: username prompt");
	free(b64);
	b64 = auth_base64_encode("Password:", 9);
	is_str(b64, AUTH_SASL_LOGIN_PASSWORD, "login: password prompt");
	free(b64);
	is_int(auth_sasl_login_decode("ZGVtbw==", 8, AUTH_LOGIN_MAX, &value, &error), 0,
	       "login: decode");
	is_str(value, "demo", "login: value");
	free(value);
	is_int(auth_sasl_login_decode("", 0, AUTH_LOGIN_MAX, &value, &error), -1, "login: empty");
	is_int(auth_sasl_login_decode("AGE=", 4, AUTH_LOGIN_MAX, &value, &error), -1,
	       "login: NUL refused");
	is_int(auth_sasl_login_decode("ZGVtbw==", 8, 3, &value, &error), -1, "login: too long");
	is_int(auth_sasl_login_decode("!!!!", 4, 3, &value, &error), -1, "login: bad base64");
	ok(value == NULL, "login: nothing returned");

	b64 = auth_base64_encode("demo@example.com:se:cret", 24);
	is_int(auth_basic_decode(b64, strlen(b64), &c, &error), 0, "basic: decode");
	is_str(c.login, "demo@example.com", "basic: login up to the first ':'");
	is_str(c.password, "se:cret", "basic: password may hold ':'");
	auth_credentials_clear(&c);
	free(b64);
	b64 = auth_base64_encode("demo", 4);
	is_int(auth_basic_decode(b64, strlen(b64), &c, &error), -1, "basic: no colon");
	free(b64);
	b64 = auth_base64_encode(":pw", 3);
	is_int(auth_basic_decode(b64, strlen(b64), &c, &error), -1, "basic: empty login");
	free(b64);
	b64 = auth_base64_encode("demo:", 5);
	is_int(auth_basic_decode(b64, strlen(b64), &c, &error), -1, "basic: empty password");
	free(b64);
}

static void
test_login_valid(void)
{
	ok(auth_login_valid("demo@example.com", 16), "valid: address");
	ok(auth_login_valid("j\xc3\xb6rg", 5), "valid: UTF-8");
	ok(auth_login_valid("\xf0\x9f\x98\x80", 4), "valid: 4-byte UTF-8");
	ok(!auth_login_valid("", 0), "invalid: empty");
	ok(!auth_login_valid("a\r\nb", 4), "invalid: CR LF");
	ok(!auth_login_valid("a\x7f", 2), "invalid: DEL");
	ok(!auth_login_valid("\xc2\x85", 2), "invalid: C1 control");
	ok(!auth_login_valid("\xc0\xaf", 2), "invalid: overlong");
	ok(!auth_login_valid("\xed\xa0\x80", 3), "invalid: surrogate");
	ok(!auth_login_valid("\xe2\x82", 2), "invalid: truncated sequence");
	ok(!auth_login_valid("\xf4\x90\x80\x80", 4), "invalid: past U+10FFFF");
}

static void
test_address_key(void)
{
	char buf[64];

	is_int(auth_address_key("192.0.2.7", buf, sizeof(buf)), 0, "key: IPv4");
	is_str(buf, "192.0.2.7", "key: IPv4 as it is");
	is_int(auth_address_key("2001:db8:1:2:3:4:5:6", buf, sizeof(buf)), 0, "key: IPv6");
	is_str(buf, "2001:db8:1:2::/64", "key: IPv6 by /64");
	auth_address_key("2001:DB8:1:2::ffff", buf, sizeof(buf));
	is_str(buf, "2001:db8:1:2::/64", "key: same /64, other spelling");
	auth_address_key("::ffff:192.0.2.9", buf, sizeof(buf));
	is_str(buf, "192.0.2.9", "key: IPv4-mapped as IPv4");
	auth_address_key("::1", buf, sizeof(buf));
	is_str(buf, "::/64", "key: IPv6 loopback");
	is_int(auth_address_key("not-an-address", buf, sizeof(buf)), -1, "key: not numeric");
	is_str(buf, "not-an-address", "key: kept as text");
}

/* ---------------------------------------------------------------------
 * The pool and the login flow on a real loop
 */

struct answer {
	bool done;
	int calls;
	enum auth_result result;
	bool match;
	uint64_t account_id;
	char address[64], display[64], error[128];
	uint64_t elapsed;
	uint64_t started;
	bool stop_loop;
};

static bool in_auth_call;
static int pending;

static void
on_auth(enum auth_result result, const struct auth_user *user, const char *error, void *ctx)
{
	struct answer *a = ctx;

	ok(!in_auth_call, "callback not from inside auth_password");
	a->done = true;
	a->calls++;
	a->result = result;
	a->elapsed = now_ms() - a->started;
	if (user != NULL) {
		a->account_id = user->account_id;
		snprintf(a->address, sizeof(a->address), "%s", user->address);
		snprintf(a->display, sizeof(a->display), "%s", user->display_name);
	}
	snprintf(a->error, sizeof(a->error), "%s", error != NULL ? error : "");
	if (--pending == 0)
		event_base_loopbreak(base);
}

static void
on_verify(bool match, void *ctx)
{
	struct answer *a = ctx;

	a->done = true;
	a->calls++;
	a->match = match;
	if (--pending == 0)
		event_base_loopbreak(base);
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	ok(0, "watchdog: the loop stalled");
	event_base_loopbreak(base);
}

/* Runs the loop until every pending answer came (or ms passed). */
static void
run(unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *dog = evtimer_new(base, on_watchdog, NULL);

	evtimer_add(dog, &tv);
	if (pending > 0)
		event_base_dispatch(base);
	event_free(dog);
}

static void
on_sleep(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

/* Lets the loop run for ms (e.g. while a thread hashes). */
static void
spin(unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *ev = evtimer_new(base, on_sleep, NULL);

	evtimer_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
}

static struct auth_request *
start_login(struct auth *auth, const char *login, const char *pw, const char *ip, struct answer *a)
{
	struct auth_request *req;

	memset(a, 0, sizeof(*a));
	a->started = now_ms();
	pending++;
	in_auth_call = true;
	req = auth_password(auth, login, pw, ip, "imap", on_auth, a);
	in_auth_call = false;
	return req;
}

static enum auth_result
login(struct auth *auth, const char *user, const char *pw, const char *ip, struct answer *a)
{
	start_login(auth, user, pw, ip, a);
	run(10000);
	return a->result;
}

#define DELAY_MS 200
#define LONG_DELAY_MS 20000

static void
test_pool(void)
{
	struct auth_settings set = {3, 60000, 60000, DELAY_MS, 2, 0};
	struct auth *auth = auth_create(base, NULL, NULL, &set);
	struct answer a, b, many[24];
	struct auth_request *req;
	uint64_t t0;
	int right = 0;

	pending = 1;
	memset(&a, 0, sizeof(a));
	auth_verify(auth, hash_secret, "secret", on_verify, &a);
	ok(!a.done, "verify: not answered from inside the call");
	run(10000);
	ok(a.done && a.match, "verify: right password matches on the pool");
	pending = 1;
	memset(&a, 0, sizeof(a));
	auth_verify(auth, hash_secret, "wrong", on_verify, &a);
	run(10000);
	ok(a.done && !a.match, "verify: wrong password does not");
	pending = 1;
	memset(&a, 0, sizeof(a));
	auth_verify(auth, NULL, "secret", on_verify, &a);
	run(10000);
	ok(a.done && !a.match, "verify: no hash never matches");

	/* Abandon while a thread is hashing: the result is dropped. */
	memset(&a, 0, sizeof(a));
	req = auth_verify(auth, hash_secret, "secret", on_verify, &a);
	spin(10);
	auth_request_abandon(&req);
	ok(req == NULL, "abandon clears the handle");
	memset(&b, 0, sizeof(b));
	pending = 1;
	auth_verify(auth, hash_secret, "secret", on_verify, &b);
	run(10000);
	spin(50);
	ok(b.done && b.match && a.calls == 0, "abandoned verification never answers");
	/* Abandon before a thread took it (the queue holds more than two). */
	pending = 0;
	for (int i = 0; i < 4; i++) {
		memset(&many[i], 0, sizeof(many[i]));
		req = auth_verify(auth, hash_secret, "secret", on_verify, &many[i]);
		if (i == 3)
			auth_request_abandon(&req);
		else
			pending++;
	}
	run(10000);
	ok(many[0].match && many[1].match && many[2].match && many[3].calls == 0,
	   "abandon of a queued verification");

	/* Many at once: every one answered, right ones match. */
	t0 = now_ms();
	pending = 24;
	for (int i = 0; i < 24; i++) {
		memset(&many[i], 0, sizeof(many[i]));
		auth_verify(auth, hash_secret, i % 3 == 0 ? "wrong" : "secret", on_verify,
		            &many[i]);
	}
	run(60000);
	for (int i = 0; i < 24; i++)
		right += many[i].calls == 1 && many[i].match == (i % 3 != 0);
	is_int(right, 24, "24 concurrent verifications answered correctly (%" PRIu64 " ms)",
	       now_ms() - t0);

	/* Shutdown with work in flight: callbacks get a temporary failure. */
	pending = 6;
	for (int i = 0; i < 6; i++) {
		memset(&many[i], 0, sizeof(many[i]));
		auth_verify(auth, hash_secret, "secret", on_verify, &many[i]);
	}
	start_login(auth, "demo@example.com", "secret", "192.0.2.50", &a);
	auth_destroy(&auth);
	ok(auth == NULL, "destroy clears the pointer");
	right = 0;
	for (int i = 0; i < 6; i++)
		right += many[i].calls == 1 && !many[i].match;
	is_int(right, 6, "destroy answers pending verifications (no match)");
	ok(a.calls == 1 && a.result == AUTH_TEMPFAIL && strcmp(a.error, "shutting down") == 0,
	   "destroy answers a pending login: %s", a.error);
	pending = 0;
	auth_destroy(&auth);
}

static void
test_login(void)
{
	struct auth_settings set = {3, 60000, 700, DELAY_MS, 2, 0};
	struct auth *auth = auth_create(base, NULL, NULL, &set);
	struct answer a, b;
	struct auth_request *req;
	int fails;

	is_int(login(auth, "demo@example.com", "secret", "192.0.2.1", &a), AUTH_OK, "login ok");
	ok(a.account_id == 7 && strcmp(a.address, "demo@example.com") == 0 &&
	       strcmp(a.display, "Demo User") == 0,
	   "user: %" PRIu64 " %s \"%s\"", a.account_id, a.address, a.display);
	{
		/* With a failure delay far above any hashing time, a success
		 * that arrives before it was not delayed (no timing race). */
		struct auth_settings slow = {3, 60000, 700, LONG_DELAY_MS, 2, 0};
		struct auth *auth2 = auth_create(base, NULL, NULL, &slow);

		is_int(login(auth2, "demo@example.com", "secret", "192.0.2.1", &b), AUTH_OK,
		       "login ok with a long failure delay");
		ok(b.elapsed < LONG_DELAY_MS, "success is not delayed (%" PRIu64 " ms)", b.elapsed);
		fake_db_down = true;
		is_int(login(auth2, "demo@example.com", "secret", "192.0.2.9", &b), AUTH_TEMPFAIL,
		       "database down: temporary failure");
		ok(b.elapsed < LONG_DELAY_MS, "temporary failure not delayed (%" PRIu64 " ms)",
		   b.elapsed);
		fake_db_down = false;
		auth_destroy(&auth2);
	}
	is_str(a.error, "", "no error on success");
	is_int(login(auth, "DEMO", "secret", "192.0.2.1", &a), AUTH_OK, "login by local part");
	is_str(a.address, "demo@example.com", "canonical address returned");

	is_int(login(auth, "demo@example.com", "wrong", "192.0.2.1", &a), AUTH_FAILED,
	       "wrong password fails");
	ok(a.elapsed >= DELAY_MS - 5, "failure delayed (%" PRIu64 " ms)", a.elapsed);
	is_str(a.error, "authentication failed", "error: generic");
	is_int(login(auth, "nobody@example.com", "secret", "192.0.2.2", &a), AUTH_FAILED,
	       "unknown user fails");
	ok(a.elapsed >= DELAY_MS - 5, "unknown user delayed too (%" PRIu64 " ms)", a.elapsed);
	is_str(a.error, "authentication failed", "error: the same");
	is_int(login(auth, "off@example.com", "secret", "192.0.2.3", &a), AUTH_DISABLED,
	       "disabled account, right password");
	ok(a.elapsed >= DELAY_MS - 5, "disabled delayed (%" PRIu64 " ms)", a.elapsed);
	is_int(login(auth, "off@example.com", "wrong", "192.0.2.3", &a), AUTH_FAILED,
	       "disabled account, wrong password: plain failure");
	is_int(login(auth, "grp@example.com", "", "192.0.2.4", &a), AUTH_FAILED,
	       "group account cannot log in");
	is_int(login(auth, "bad\001login", "secret", "192.0.2.5", &a), AUTH_FAILED,
	       "invalid login fails");
	is_int(login(auth, NULL, "secret", "192.0.2.5", &a), AUTH_FAILED, "NULL login fails");
	is_int(login(auth, "demo@example.com", NULL, NULL, &a), AUTH_FAILED,
	       "NULL password, no address");

	/* Account lockout: three failures from three addresses. */
	ncounters = 0;
	login(auth, "demo@example.com", "x1", "198.51.100.1", &a);
	login(auth, "demo@example.com", "x2", "198.51.100.2", &a);
	fails = fake_fails;
	is_int(login(auth, "demo@example.com", "x3", "198.51.100.3", &a), AUTH_FAILED,
	       "third failure still just fails");
	is_int(fake_fails, fails + 1, "and is counted");
	is_int(login(auth, "demo@example.com", "secret", "198.51.100.4", &a), AUTH_LOCKED,
	       "right password on a locked account: locked");
	ok(a.elapsed >= DELAY_MS - 5, "locked answer delayed (%" PRIu64 " ms)", a.elapsed);
	is_int(fake_fails, fails + 1, "locked attempt not counted again");
	is_int(login(auth, "old@example.com", "secret", "198.51.100.4", &a), AUTH_OK,
	       "other account from a fresh address fine");
	ok(fake_updates == 1 && fake_updated_hash != NULL &&
	       password_verify(fake_updated_hash, "secret") &&
	       !password_needs_rehash(fake_updated_hash),
	   "outdated hash replaced by a current one after login");
	spin(800);
	is_int(login(auth, "demo@example.com", "secret", "198.51.100.4", &a), AUTH_OK,
	       "lock passes after lockout");

	/* Address lockout, by unknown users; IPv6 by /64. */
	ncounters = 0;
	login(auth, "u1@example.com", "x", "2001:db8:5:6::1", &a);
	login(auth, "u2@example.com", "x", "2001:db8:5:6::2", &a);
	login(auth, "u3@example.com", "x", "2001:db8:5:6::3", &a);
	is_int(login(auth, "demo@example.com", "secret", "2001:db8:5:6::4", &a), AUTH_LOCKED,
	       "address /64 locked after failures for unknown users");
	is_str(a.error, "too many failed logins; try again later", "error says so");
	is_int(login(auth, "demo@example.com", "secret", "2001:db8:5:7::4", &a), AUTH_OK,
	       "neighbouring /64 not locked");

	/* Success resets the account's counter. */
	ncounters = 0;
	login(auth, "demo@example.com", "x", "203.0.113.1", &a);
	login(auth, "demo@example.com", "x", "203.0.113.2", &a);
	fails = fake_resets;
	is_int(login(auth, "demo@example.com", "secret", "203.0.113.3", &a), AUTH_OK, "ok");
	is_int(fake_resets, fails + 1, "success resets the account counter");
	login(auth, "demo@example.com", "x", "203.0.113.4", &a);
	login(auth, "demo@example.com", "x", "203.0.113.5", &a);
	is_int(login(auth, "demo@example.com", "secret", "203.0.113.6", &a), AUTH_OK,
	       "two more failures after the reset: not locked");
	fails = fake_resets;
	ncounters = 0;
	login(auth, "demo@example.com", "secret", "203.0.113.6", &a);
	is_int(fake_resets, fails, "no reset when there was no counter");

	/* Database down: temporary failure, at once. */
	fake_db_down = true;
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.9", &a), AUTH_TEMPFAIL,
	       "database down: temporary failure");
	ok(strstr(a.error, "database unavailable") != NULL, "error: %s", a.error);

	fake_db_down = false;

	/* Abandon in each state. */
	req = start_login(auth, "demo@example.com", "secret", "192.0.2.10", &a);
	auth_request_abandon(&req);
	pending--;
	ok(req == NULL, "abandon during lookup");
	req = start_login(auth, "demo@example.com", "secret", "192.0.2.10", &a);
	spin(20); /* lookup and check done, hashing */
	auth_request_abandon(&req);
	pending--;
	req = start_login(auth, "demo@example.com", "wrong", "192.0.2.10", &b);
	spin(DELAY_MS / 2 + 60); /* verified and counted, waiting for the delay */
	auth_request_abandon(&req);
	pending--;
	spin(DELAY_MS + 100);
	ok(a.calls == 0 && b.calls == 0, "abandoned logins never answer");

	/* Concurrent logins, mixed. */
	{
		struct answer m[12];
		int right = 0;

		ncounters = 0;
		for (int i = 0; i < 12; i++) {
			char ip[32], user[32];

			snprintf(ip, sizeof(ip), "192.0.2.%d", 100 + i);
			snprintf(user, sizeof(user), "nobody%d@example.com", i);
			start_login(auth, i % 2 ? "demo@example.com" : user, "secret", ip, &m[i]);
		}
		run(60000);
		for (int i = 0; i < 12; i++)
			right += m[i].calls == 1 && m[i].result == (i % 2 ? AUTH_OK : AUTH_FAILED);
		is_int(right, 12, "12 concurrent logins answered correctly");
	}
	auth_destroy(&auth);
}

#define CACHE_TTL_MS 3000

static void
test_cache(void)
{
	struct auth_settings set = {3, 60000, 60000, DELAY_MS, 2, CACHE_TTL_MS};
	struct auth_settings off = {3, 60000, 60000, DELAY_MS, 2, 0};
	struct auth *auth = auth_create(base, NULL, NULL, &set);
	struct answer a;
	int lookups, checks, fails;

	ncounters = 0;
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.1", &a), AUTH_OK,
	       "cache: first login verified in full");
	lookups = fake_lookups;
	checks = fake_checks;
	is_int(login(auth, "Demo@Example.COM", "secret", "192.0.2.1", &a), AUTH_OK,
	       "cache: same login (other case), same password");
	is_int(fake_lookups, lookups, "served from the cache: no lookup, no verification");
	is_int(fake_checks, checks + 1, "the lockout check still runs");
	ok(a.account_id == 7 && strcmp(a.address, "demo@example.com") == 0 &&
	       strcmp(a.display, "Demo User") == 0,
	   "cached user: %" PRIu64 " %s \"%s\"", a.account_id, a.address, a.display);
	is_int(login(auth, "demo", "secret", "192.0.2.1", &a), AUTH_OK, "login by local part");
	is_int(fake_lookups, lookups + 1, "another login is its own entry, verified in full");

	/* A failure never comes from the cache. */
	lookups = fake_lookups;
	fails = fake_fails;
	is_int(login(auth, "demo@example.com", "Secret", "192.0.2.2", &a), AUTH_FAILED,
	       "other password with a cached login fails");
	ok(fake_lookups == lookups + 1 && fake_fails == fails + 1, "verified in full and counted");
	ok(a.elapsed >= DELAY_MS - 5, "and delayed (%" PRIu64 " ms)", a.elapsed);
	is_str(a.error, "authentication failed", "generic error");
	lookups = fake_lookups;
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.2", &a), AUTH_OK,
	       "the entry still serves the right password");
	is_int(fake_lookups, lookups, "from the cache");

	/* Lockouts still apply to cached passwords. */
	ncounters = 0;
	login(auth, "demo@example.com", "x1", "198.51.100.1", &a);
	login(auth, "demo@example.com", "x2", "198.51.100.2", &a);
	login(auth, "demo@example.com", "x3", "198.51.100.3", &a);
	is_int(login(auth, "demo@example.com", "secret", "198.51.100.4", &a), AUTH_LOCKED,
	       "locked account refuses a cached password");
	ok(a.elapsed >= DELAY_MS - 5, "locked answer delayed (%" PRIu64 " ms)", a.elapsed);
	ncounters = 0;
	login(auth, "u1@example.com", "x", "2001:db8:9:9::1", &a);
	login(auth, "u2@example.com", "x", "2001:db8:9:9::2", &a);
	login(auth, "u3@example.com", "x", "2001:db8:9:9::3", &a);
	is_int(login(auth, "demo@example.com", "secret", "2001:db8:9:9::4", &a), AUTH_LOCKED,
	       "locked address refuses a cached password");
	ncounters = 0;
	fails = fake_resets;
	login(auth, "demo@example.com", "x", "203.0.113.1", &a);
	is_int(login(auth, "demo@example.com", "secret", "203.0.113.2", &a), AUTH_OK,
	       "cached login after a failure");
	is_int(fake_resets, fails + 1, "resets the account counter too");
	fake_db_down = true;
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.9", &a), AUTH_TEMPFAIL,
	       "cached login, database down: temporary failure");
	fake_db_down = false;

	/* Disabled: within the TTL the entry stands, until a full lookup
	 * sees the change. */
	ncounters = 0;
	accounts[0].account.enabled = false;
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.3", &a), AUTH_OK,
	       "disabled within the TTL: the cached login passes (documented)");
	is_int(login(auth, "demo@example.com", "wrong", "192.0.2.3", &a), AUTH_FAILED,
	       "a full verification of the login");
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.3", &a), AUTH_DISABLED,
	       "saw the account disabled and dropped the entry");
	accounts[0].account.enabled = true;
	ncounters = 0;

	/* Password change: the old password works until the TTL, measured
	 * from the verification and not extended by use. */
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.4", &a), AUTH_OK,
	       "verified again and cached");
	accounts[0].account.password_hash = hash_other;
	spin(CACHE_TTL_MS / 2);
	lookups = fake_lookups;
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.4", &a), AUTH_OK,
	       "old password within the TTL (documented)");
	is_int(fake_lookups, lookups, "from the cache");
	spin(CACHE_TTL_MS / 2 + 300);
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.4", &a), AUTH_FAILED,
	       "old password fails once the TTL passed, although it was used meanwhile");
	is_int(login(auth, "demo@example.com", "other", "192.0.2.5", &a), AUTH_OK,
	       "new password works");
	lookups = fake_lookups;
	is_int(login(auth, "demo@example.com", "other", "192.0.2.5", &a), AUTH_OK, "and is cached");
	is_int(fake_lookups, lookups, "no lookup");
	accounts[0].account.password_hash = hash_secret;
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.5", &a), AUTH_OK,
	       "another password: full path against the current hash");
	lookups = fake_lookups;
	is_int(login(auth, "demo@example.com", "other", "192.0.2.5", &a), AUTH_FAILED,
	       "the entry of the replaced password is gone");
	is_int(fake_lookups, lookups + 1, "verified in full");
	ncounters = 0;
	auth_destroy(&auth);

	/* cache_ttl 0: every login verified in full. */
	auth = auth_create(base, NULL, NULL, &off);
	lookups = fake_lookups;
	login(auth, "demo@example.com", "secret", "192.0.2.6", &a);
	is_int(login(auth, "demo@example.com", "secret", "192.0.2.6", &a), AUTH_OK,
	       "cache off: ok");
	is_int(fake_lookups, lookups + 2, "cache off: both logins looked up and verified");
	auth_destroy(&auth);
}

int
main(void)
{
	const char *error;
	char old[crypto_pwhash_STRBYTES];

	log_set_level(LOG_LEVEL_WARNING);
	test_base64();
	test_sasl_plain();
	test_sasl_login_and_basic();
	test_login_valid();
	test_address_key();

	if (password_hash("secret", &hash_secret, &error) < 0 ||
	    password_hash("other", &hash_other, &error) < 0 ||
	    crypto_pwhash_str_alg(old, "secret", 6, 3, crypto_pwhash_MEMLIMIT_INTERACTIVE,
	                          crypto_pwhash_ALG_ARGON2ID13) != 0) {
		ok(0, "cannot hash: %s", error);
		return done_testing();
	}
	hash_old = xstrdup(old);
	accounts[0].account.password_hash = hash_secret;
	accounts[1].account.password_hash = hash_secret;
	accounts[3].account.password_hash = hash_old;
	base = event_base_new();
	test_pool();
	test_login();
	test_cache();
	event_base_free(base);
	free(hash_secret);
	free(hash_old);
	free(hash_other);
	free(fake_updated_hash);
	return done_testing();
}
