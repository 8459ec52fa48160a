/* Test driver for db/store-auth.c and the whole login flow of
 * modules/auth.c against a real PostgreSQL (used by
 * tests/integration/test_auth.py): applies the migrations (unless
 * --no-migrate), then runs one command per line of standard input on the
 * asynchronous pool and prints the results, each command's output ending
 * with a line "done".
 *
 *   fail MAX WINDOW_MS LOCKOUT_MS KEY...    count a failure against the keys
 *   check WINDOW_MS KEY...                  the keys' counters
 *   reset KEY                               forget a counter
 *   expire WINDOW_MS                        delete passed counters
 *   update-hash ACCOUNT_ID OLD NEW          replace a password hash
 *   failmany N MAX WINDOW_MS LOCKOUT_MS KEY...
 *                                           N concurrent failures
 *   settings MAX WINDOW_MS LOCKOUT_MS DELAY_MS
 *                                           (re)create the authenticator
 *   login LOGIN PASSWORD IP|-               auth_password, prints "result=R
 *                                           account=ID address=A elapsed_ms=MS
 *                                           error=E"
 *   hash PASSWORD [OPSLIMIT]                an Argon2id hash (other costs
 *                                           with OPSLIMIT)
 * KEY is ip:VALUE, account:VALUE or login:VALUE. A state prints as
 * "KIND VALUE failures=F locked=0|1 lock_ms=MS just_locked=0|1". */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "auth.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "password.h"
#include "store-auth.h"
#include "store.h"
#include "xmalloc.h"

#define MAX_WORDS 16

static struct event_base *base;
static struct store *store;
static struct auth *auth;
static struct auth_settings auth_settings = {10, 300000, 300000, 200, 2, 0};
static int outstanding;
static unsigned many_just, many_locked, many_errors, many_max;

static int
parse_key(const char *word, struct store_auth_key *key)
{
	const char *colon = strchr(word, ':');

	if (colon == NULL)
		return -1;
	if (strncmp(word, "ip:", 3) == 0)
		key->kind = STORE_AUTH_IP;
	else if (strncmp(word, "account:", 8) == 0)
		key->kind = STORE_AUTH_ACCOUNT;
	else if (strncmp(word, "login:", 6) == 0)
		key->kind = STORE_AUTH_LOGIN;
	else
		return -1;
	key->value = colon + 1;
	return 0;
}

static int
cmp_state(const void *a, const void *b)
{
	const struct store_auth_state *x = a, *y = b;

	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	return strcmp(x->value, y->value);
}

static void
finish_one(void)
{
	if (--outstanding == 0)
		event_base_loopbreak(base);
}

static void
on_states(const struct store_auth_state *states, size_t count, const char *error, void *ctx)
{
	struct store_auth_state sorted[STORE_AUTH_MAX_KEYS];

	if (error != NULL) {
		printf("error: %s\n", error);
	} else {
		memcpy(sorted, states, count * sizeof(*states));
		qsort(sorted, count, sizeof(*sorted), cmp_state);
		for (size_t i = 0; i < count; i++)
			printf("%s %s failures=%u locked=%d lock_ms=%llu just_locked=%d\n",
			       store_auth_kind_name(sorted[i].kind), sorted[i].value,
			       sorted[i].failures, sorted[i].locked,
			       (unsigned long long)sorted[i].lock_ms, sorted[i].just_locked);
	}
	finish_one();
}

static void
on_many(const struct store_auth_state *states, size_t count, const char *error, void *ctx)
{
	if (error != NULL) {
		many_errors++;
		fprintf(stderr, "failmany: %s\n", error);
	}
	for (size_t i = 0; i < count; i++) {
		many_just += states[i].just_locked;
		many_locked += states[i].locked;
		if (states[i].failures > many_max)
			many_max = states[i].failures;
	}
	finish_one();
}

static void
on_done(const char *error, void *ctx)
{
	if (error != NULL)
		printf("error: %s\n", error);
	finish_one();
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
on_login(enum auth_result result, const struct auth_user *user, const char *error, void *ctx)
{
	uint64_t *started = ctx;

	printf("result=%s account=%llu address=%s elapsed_ms=%llu error=%s\n",
	       result == AUTH_TEMPFAIL ? "tempfail" : auth_result_name(result),
	       user != NULL ? (unsigned long long)user->account_id : 0ULL,
	       user != NULL ? user->address : "-", (unsigned long long)(now_ms() - *started),
	       error != NULL ? error : "-");
	finish_one();
}

/* The whole flow through modules/auth.c and the real store. */
static int
run_auth_command(struct db *db, char **w, int n)
{
	if (strcmp(w[0], "settings") == 0) {
		if (n != 5)
			return -1;
		auth_settings.max_failures = (unsigned)strtoul(w[1], NULL, 10);
		auth_settings.failure_window_ms = (unsigned)strtoul(w[2], NULL, 10);
		auth_settings.lockout_ms = (unsigned)strtoul(w[3], NULL, 10);
		auth_settings.failure_delay_ms = (unsigned)strtoul(w[4], NULL, 10);
		auth_destroy(&auth);
		return 0;
	}
	if (strcmp(w[0], "login") == 0) {
		uint64_t started = now_ms();

		if (n != 4)
			return -1;
		if (store == NULL)
			store = store_create(db);
		if (auth == NULL)
			auth = auth_create(base, db, store, &auth_settings);
		outstanding++;
		auth_password(auth, w[1], w[2], strcmp(w[3], "-") == 0 ? NULL : w[3], "test",
		              on_login, &started);
		event_base_dispatch(base);
		return 0;
	}
	if (strcmp(w[0], "hash") == 0) {
		char out[crypto_pwhash_STRBYTES];
		const char *error;
		char *hash;

		if (n == 2 && password_hash(w[1], &hash, &error) == 0) {
			printf("%s\n", hash);
			free(hash);
			return 0;
		}
		if (n == 3 &&
		    crypto_pwhash_str_alg(out, w[1], strlen(w[1]), strtoull(w[2], NULL, 10),
		                          crypto_pwhash_MEMLIMIT_INTERACTIVE,
		                          crypto_pwhash_ALG_ARGON2ID13) == 0) {
			printf("%s\n", out);
			return 0;
		}
		return -1;
	}
	return 1;
}

static int
run_command(struct db *db, char **w, int n)
{
	int ret = run_auth_command(db, w, n);

	if (ret <= 0)
		return ret;
	struct store_auth_key keys[STORE_AUTH_MAX_KEYS];
	struct store_auth_limits limits;
	size_t nkeys = 0;
	int first_key;

	if (strcmp(w[0], "fail") == 0 || strcmp(w[0], "failmany") == 0) {
		int many = strcmp(w[0], "failmany") == 0, count = 1;

		if (n < 5 + many)
			return -1;
		if (many)
			count = atoi(w[1]);
		limits.max_failures = (unsigned)strtoul(w[1 + many], NULL, 10);
		limits.window_ms = (unsigned)strtoul(w[2 + many], NULL, 10);
		limits.lockout_ms = (unsigned)strtoul(w[3 + many], NULL, 10);
		first_key = 4 + many;
		for (int i = first_key; i < n && nkeys < STORE_AUTH_MAX_KEYS; i++) {
			if (parse_key(w[i], &keys[nkeys++]) < 0)
				return -1;
		}
		many_just = many_locked = many_errors = many_max = 0;
		for (int i = 0; i < count; i++) {
			outstanding++;
			store_auth_fail(db, keys, nkeys, &limits, many ? on_many : on_states, NULL);
		}
		event_base_dispatch(base);
		if (many)
			printf("just_locked=%u locked=%u max_failures=%u errors=%u\n", many_just,
			       many_locked, many_max, many_errors);
		return 0;
	}
	if (strcmp(w[0], "check") == 0) {
		if (n < 3)
			return -1;
		limits.window_ms = (unsigned)strtoul(w[1], NULL, 10);
		limits.max_failures = 1;
		limits.lockout_ms = 0;
		for (int i = 2; i < n && nkeys < STORE_AUTH_MAX_KEYS; i++) {
			if (parse_key(w[i], &keys[nkeys++]) < 0)
				return -1;
		}
		outstanding++;
		store_auth_check(db, keys, nkeys, &limits, on_states, NULL);
		event_base_dispatch(base);
		return 0;
	}
	if (strcmp(w[0], "reset") == 0) {
		if (n != 2 || parse_key(w[1], &keys[0]) < 0)
			return -1;
		outstanding++;
		store_auth_reset(db, &keys[0], on_done, NULL);
		event_base_dispatch(base);
		return 0;
	}
	if (strcmp(w[0], "expire") == 0) {
		if (n != 2)
			return -1;
		outstanding++;
		store_auth_expire(db, (unsigned)strtoul(w[1], NULL, 10), on_done, NULL);
		event_base_dispatch(base);
		return 0;
	}
	if (strcmp(w[0], "update-hash") == 0) {
		if (n != 4)
			return -1;
		outstanding++;
		store_auth_update_hash(db, strtoull(w[1], NULL, 10), w[2], w[3], on_done, NULL);
		event_base_dispatch(base);
		return 0;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct db_settings settings = {0};
	struct db *db;
	const char *error, *url;
	char line[4096];
	bool migrate = true;
	PGconn *conn;

	if (argc == 3 && strcmp(argv[1], "--no-migrate") == 0) {
		migrate = false;
		url = argv[2];
	} else if (argc == 2) {
		url = argv[1];
	} else {
		fprintf(stderr, "usage: auth-driver [--no-migrate] POSTGRESQL-URL < commands\n");
		return 2;
	}
	/* Logs (auth's lines among them) go to standard error. */
	log_set_level(LOG_LEVEL_INFO);
	if (migrate) {
		conn = PQconnectdb(url);
		if (PQstatus(conn) != CONNECTION_OK) {
			fprintf(stderr, "auth-driver: %s", PQerrorMessage(conn));
			return 1;
		}
		if (db_migrate(conn, &error) < 0) {
			fprintf(stderr, "auth-driver: %s\n", error);
			return 1;
		}
		PQfinish(conn);
	}

	base = event_base_new();
	settings.conninfo = url;
	settings.pool_size = 4;
	settings.query_timeout_ms = 5000;
	settings.connect_timeout_ms = 2000;
	db = db_create(base, &settings);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *w[MAX_WORDS], *save = NULL, *tok;
		int n = 0;

		for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL && n < MAX_WORDS;
		     tok = strtok_r(NULL, " \t\r\n", &save))
			w[n++] = tok;
		if (n == 0)
			continue;
		if (run_command(db, w, n) < 0)
			printf("usage error: %s\n", w[0]);
		printf("done\n");
		fflush(stdout);
	}
	auth_destroy(&auth);
	store_destroy(&store);
	db_destroy(&db);
	event_base_free(base);
	return 0;
}
