/* The outgoing queue's SQL (see store-queue.h): one statement per
 * operation. Claims lock queue_messages rows FOR UPDATE SKIP LOCKED so
 * that concurrent runners never wait for each other, and the UPDATE of the
 * recipients re-checks "due" on the newest row version, so a recipient
 * another runner has just leased is never leased twice. */
#include "store-queue.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "base64.h"
#include "xmalloc.h"

#define MS " * interval '1 millisecond'"
/* A recipient a runner may take now. */
#define DUE                                                                                        \
	"((r.state IN ('queued', 'deferred', 'bounce_pending') AND r.next_try_at <= now())"        \
	" OR (r.state IN ('delivering', 'bouncing') AND r.lease_until <= now()))"
/* A recipient whose DSN is owed. */
#define OWED "r.state IN ('bounce_pending', 'bouncing')"

enum op_kind {
	OP_ENQUEUE,
	OP_CLAIM,
	OP_LOAD,
	OP_DONE,
	OP_RATE,
	OP_SETTINGS,
};

struct store_queue_op {
	enum op_kind kind;
	struct db_query *query;
	union {
		store_queue_enqueue_cb *enqueue;
		store_queue_claim_cb *claim;
		store_queue_load_cb *load;
		store_queue_done_cb *done;
		store_smtp_rate_cb *rate;
		store_smtp_settings_cb *settings;
	} cb;
	void *ctx;
	uint64_t id;
};

static const char *const state_names[] = {
    [STORE_QUEUE_QUEUED] = "queued",         [STORE_QUEUE_DEFERRED] = "deferred",
    [STORE_QUEUE_DELIVERING] = "delivering", [STORE_QUEUE_DELIVERED] = "delivered",
    [STORE_QUEUE_FAILED] = "failed",         [STORE_QUEUE_BOUNCED] = "bounced",
    [STORE_QUEUE_BOUNCING] = "bouncing",     [STORE_QUEUE_BOUNCE_PENDING] = "bounce_pending",
};

const char *
store_queue_state_name(enum store_queue_state state)
{
	if ((size_t)state >= sizeof(state_names) / sizeof(state_names[0]))
		return "?";
	return state_names[state];
}

int
store_queue_state_parse(const char *name, enum store_queue_state *state_r)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*state_r = (enum store_queue_state)i;
			return 0;
		}
	}
	return -1;
}

void
store_queue_op_abandon(struct store_queue_op **opp)
{
	struct store_queue_op *op = *opp;

	if (op == NULL)
		return;
	db_query_abandon(&op->query);
	free(op);
	*opp = NULL;
}

static struct store_queue_op *
op_new(enum op_kind kind, void *ctx)
{
	struct store_queue_op *op = xcalloc(1, sizeof(*op));

	op->kind = kind;
	op->ctx = ctx;
	return op;
}

/* ---------------------------------------------------------------------
 * Encoding helpers
 */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
store_queue_bytea_decode(const char *text, unsigned char **data_r, size_t *len_r)
{
	size_t n;
	unsigned char *data;

	if (text[0] != '\\' || text[1] != 'x')
		return -1;
	text += 2;
	n = strlen(text);
	if (n % 2 != 0)
		return -1;
	data = xmalloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(data);
			return -1;
		}
		data[i] = (unsigned char)(hi << 4 | lo);
	}
	data[n / 2] = '\0';
	*data_r = data;
	*len_r = n / 2;
	return 0;
}

char *
store_queue_domain(const char *address)
{
	const char *at = strrchr(address, '@');
	char *domain = xstrdup(at != NULL ? at + 1 : "");

	for (char *p = domain; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return domain;
}

/* A PostgreSQL array literal of strings (NULL elements for NULL). */
struct array_lit {
	char *s;
	size_t len, cap;
};

static void
lit_putc(struct array_lit *a, char c)
{
	if (a->len + 2 > a->cap) {
		a->cap = a->cap == 0 ? 256 : a->cap * 2;
		a->s = xrealloc(a->s, a->cap);
	}
	a->s[a->len++] = c;
	a->s[a->len] = '\0';
}

static void
lit_add(struct array_lit *a, const char *value)
{
	lit_putc(a, a->len == 0 ? '{' : ',');
	if (value == NULL) {
		lit_putc(a, 'N');
		lit_putc(a, 'U');
		lit_putc(a, 'L');
		lit_putc(a, 'L');
		return;
	}
	lit_putc(a, '"');
	for (; *value != '\0'; value++) {
		if (*value == '"' || *value == '\\')
			lit_putc(a, '\\');
		lit_putc(a, *value);
	}
	lit_putc(a, '"');
}

static char *
lit_end(struct array_lit *a)
{
	if (a->len == 0)
		lit_putc(a, '{');
	lit_putc(a, '}');
	return a->s;
}

/* ---------------------------------------------------------------------
 * Enqueue
 */

static void
enqueue_result(const struct db_result *res, void *ctx)
{
	struct store_queue_op *op = ctx;

	op->query = NULL;
	if (!db_result_ok(res))
		op->cb.enqueue(0, db_result_error(res), op->ctx);
	else if (db_result_rows(res) != 1)
		op->cb.enqueue(0, "enqueue returned no id", op->ctx);
	else
		op->cb.enqueue(strtoull(db_result_value(res, 0, 0), NULL, 10), NULL, op->ctx);
	free(op);
}

struct store_queue_op *
store_queue_enqueue(struct db *db, uint64_t account_id, const char *mail_from,
                    const char *envelope_id, const void *data, size_t size,
                    const char *const *rcpts, size_t nrcpts, store_queue_enqueue_cb *cb, void *ctx)
{
	static const char sql[] =
	    "WITH m AS (INSERT INTO queue_messages (account_id, mail_from, data, size, envelope_id)"
	    " VALUES (NULLIF($1::bigint, 0), $2, decode($3, 'base64'), $4::bigint, $5)"
	    " RETURNING id),"
	    " r AS (INSERT INTO queue_recipients (message_id, recipient, domain)"
	    "  SELECT DISTINCT m.id, x, lower(substring(x FROM '@([^@]*)$'))"
	    "  FROM m, unnest($6::text[]) AS x RETURNING 1),"
	    " n AS (SELECT pg_notify('floe_queue', m.id::text) FROM m)"
	    " SELECT m.id, (SELECT count(*) FROM r), (SELECT count(*) FROM n) FROM m";
	struct store_queue_op *op = op_new(OP_ENQUEUE, ctx);
	struct array_lit lit = {0};
	char acct[24], sz[24], *b64data, *rcpt_lit;
	const char *params[6];

	op->cb.enqueue = cb;
	snprintf(acct, sizeof(acct), "%" PRIu64, account_id);
	snprintf(sz, sizeof(sz), "%zu", size);
	b64data = base64_encode(data, size);
	for (size_t i = 0; i < nrcpts; i++)
		lit_add(&lit, rcpts[i]);
	rcpt_lit = lit_end(&lit);
	params[0] = acct;
	params[1] = mail_from;
	params[2] = b64data;
	params[3] = sz;
	params[4] = envelope_id;
	params[5] = rcpt_lit;
	op->query = db_query(db, sql, 6, params, enqueue_result, op);
	free(b64data);
	free(rcpt_lit);
	return op;
}

/* ---------------------------------------------------------------------
 * Claim
 */

static void
claim_result(const struct db_result *res, void *ctx)
{
	struct store_queue_op *op = ctx;
	struct store_queue_claimed *msgs = NULL;
	struct store_queue_rcpt *rcpts;
	size_t count = 0;
	int rows;

	op->query = NULL;
	if (!db_result_ok(res)) {
		op->cb.claim(NULL, 0, db_result_error(res), op->ctx);
		free(op);
		return;
	}
	/* Rows come ordered by message: one entry per run of equal ids. */
	rows = db_result_rows(res);
	rcpts = xcalloc((size_t)rows + 1, sizeof(*rcpts));
	msgs = xcalloc((size_t)rows + 1, sizeof(*msgs));
	for (int i = 0; i < rows; i++) {
		uint64_t id = strtoull(db_result_value(res, i, 0), NULL, 10);

		if (count == 0 || msgs[count - 1].message_id != id) {
			msgs[count].message_id = id;
			msgs[count].rcpts = &rcpts[i];
			count++;
		}
		rcpts[i].recipient = db_result_value(res, i, 1);
		rcpts[i].domain = db_result_value(res, i, 2);
		rcpts[i].attempts = (unsigned)strtoul(db_result_value(res, i, 3), NULL, 10);
		rcpts[i].state = strcmp(db_result_value(res, i, 4), "bouncing") == 0
		                     ? STORE_QUEUE_BOUNCING
		                     : STORE_QUEUE_DELIVERING;
		rcpts[i].last_error =
		    db_result_isnull(res, i, 5) ? NULL : db_result_value(res, i, 5);
		rcpts[i].remote = db_result_isnull(res, i, 6) ? NULL : db_result_value(res, i, 6);
		rcpts[i].bounce_attempts = (unsigned)strtoul(db_result_value(res, i, 7), NULL, 10);
		rcpts[i].failed_age_ms = strtoull(db_result_value(res, i, 8), NULL, 10);
		msgs[count - 1].nrcpts++;
	}
	op->cb.claim(count > 0 ? msgs : NULL, count, NULL, op->ctx);
	free(msgs);
	free(rcpts);
	free(op);
}

struct store_queue_op *
store_queue_claim(struct db *db, const char *runner, unsigned max_messages, unsigned lease_ms,
                  store_queue_claim_cb *cb, void *ctx)
{
	static const char sql[] =
	    "WITH m AS (SELECT q.id FROM queue_messages q"
	    "  WHERE q.id IN (SELECT r.message_id FROM queue_recipients r WHERE " DUE ")"
	    "  ORDER BY q.id LIMIT $1 FOR UPDATE OF q SKIP LOCKED),"
	    " u AS (UPDATE queue_recipients r SET"
	    "  state = CASE WHEN " OWED " THEN 'bouncing' ELSE 'delivering' END,"
	    "  attempts = CASE WHEN " OWED " THEN r.attempts ELSE r.attempts + 1 END,"
	    "  bounce_attempts = CASE WHEN " OWED " THEN r.bounce_attempts + 1"
	    "   ELSE r.bounce_attempts END,"
	    "  lease_until = now() + $2::bigint" MS ", leased_by = $3, updated_at = now()"
	    "  FROM m WHERE r.message_id = m.id AND " DUE
	    "  RETURNING r.message_id, r.recipient, r.domain, r.attempts, r.state, r.last_error,"
	    "  r.remote, r.bounce_attempts,"
	    "  greatest(0, floor(extract(epoch FROM now() - coalesce(r.failed_at, now())) * 1000))"
	    "  ::bigint AS failed_age)"
	    " SELECT message_id, recipient, domain, attempts, state, last_error, remote,"
	    " bounce_attempts, failed_age FROM u ORDER BY message_id, domain, recipient";
	struct store_queue_op *op = op_new(OP_CLAIM, ctx);
	char max[16], lease[16];
	const char *params[3];

	op->cb.claim = cb;
	snprintf(max, sizeof(max), "%u", max_messages);
	snprintf(lease, sizeof(lease), "%u", lease_ms);
	params[0] = max;
	params[1] = lease;
	params[2] = runner;
	op->query = db_query(db, sql, 3, params, claim_result, op);
	return op;
}

/* ---------------------------------------------------------------------
 * Load
 */

static void
load_result(const struct db_result *res, void *ctx)
{
	struct store_queue_op *op = ctx;
	struct store_queue_message msg;
	unsigned char *data;
	size_t len;

	op->query = NULL;
	if (!db_result_ok(res)) {
		op->cb.load(NULL, db_result_error(res), op->ctx);
	} else if (db_result_rows(res) != 1) {
		op->cb.load(NULL, "no such message", op->ctx);
	} else if (store_queue_bytea_decode(db_result_value(res, 0, 2), &data, &len) < 0) {
		op->cb.load(NULL, "unexpected bytea format", op->ctx);
	} else {
		memset(&msg, 0, sizeof(msg));
		msg.id = op->id;
		msg.account_id = strtoull(db_result_value(res, 0, 0), NULL, 10);
		msg.mail_from = db_result_value(res, 0, 1);
		msg.data = data;
		msg.size = len;
		msg.envelope_id = db_result_isnull(res, 0, 3) ? NULL : db_result_value(res, 0, 3);
		msg.age_ms = strtoull(db_result_value(res, 0, 4), NULL, 10);
		msg.created_at = strtoll(db_result_value(res, 0, 5), NULL, 10);
		op->cb.load(&msg, NULL, op->ctx);
		free(data);
	}
	free(op);
}

struct store_queue_op *
store_queue_load(struct db *db, uint64_t message_id, store_queue_load_cb *cb, void *ctx)
{
	static const char sql[] =
	    "SELECT coalesce(account_id, 0), mail_from, data, envelope_id,"
	    " greatest(0, floor(extract(epoch FROM now() - created_at) * 1000))::bigint,"
	    " floor(extract(epoch FROM created_at))::bigint"
	    " FROM queue_messages WHERE id = $1";
	struct store_queue_op *op = op_new(OP_LOAD, ctx);
	char id[24];
	const char *params[1] = {id};

	op->cb.load = cb;
	op->id = message_id;
	snprintf(id, sizeof(id), "%" PRIu64, message_id);
	op->query = db_query(db, sql, 1, params, load_result, op);
	return op;
}

/* ---------------------------------------------------------------------
 * Results and purge
 */

static void
done_result(const struct db_result *res, void *ctx)
{
	struct store_queue_op *op = ctx;

	op->query = NULL;
	if (!db_result_ok(res))
		op->cb.done(0, db_result_error(res), op->ctx);
	else
		op->cb.done(db_result_affected(res), NULL, op->ctx);
	free(op);
}

struct store_queue_op *
store_queue_record(struct db *db, uint64_t message_id, const char *runner, unsigned lease_ms,
                   const struct store_queue_result *results, size_t count, store_queue_done_cb *cb,
                   void *ctx)
{
	static const char sql[] =
	    "UPDATE queue_recipients r SET state = u.state,"
	    " last_error = coalesce(u.err, r.last_error), remote = coalesce(u.remote, r.remote),"
	    " next_try_at = CASE WHEN u.state IN ('deferred', 'bounce_pending')"
	    "  THEN now() + u.delay" MS " ELSE r.next_try_at END,"
	    " lease_until = CASE WHEN u.state = 'bouncing' THEN now() + $7::bigint" MS
	    "  ELSE NULL END,"
	    " leased_by = CASE WHEN u.state = 'bouncing' THEN r.leased_by ELSE NULL END,"
	    " failed_at = CASE WHEN u.state IN ('bouncing', 'bounce_pending', 'bounced', 'failed')"
	    "  THEN coalesce(r.failed_at, now()) ELSE NULL END,"
	    " updated_at = now()"
	    " FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $8::text[])"
	    "  AS u(rcpt, state, err, delay, remote)"
	    " WHERE r.message_id = $1 AND r.recipient = u.rcpt"
	    " AND r.state IN ('delivering', 'bouncing') AND r.leased_by = $2";
	struct store_queue_op *op = op_new(OP_DONE, ctx);
	struct array_lit rcpts = {0}, states = {0}, errors = {0}, delays = {0}, remotes = {0};
	char id[24], delay[16], lease[16];
	const char *params[8];

	op->cb.done = cb;
	snprintf(id, sizeof(id), "%" PRIu64, message_id);
	snprintf(lease, sizeof(lease), "%u", lease_ms);
	for (size_t i = 0; i < count; i++) {
		lit_add(&rcpts, results[i].recipient);
		lit_add(&states, store_queue_state_name(results[i].state));
		lit_add(&errors, results[i].error);
		snprintf(delay, sizeof(delay), "%u", results[i].retry_ms);
		lit_add(&delays, delay);
		lit_add(&remotes, results[i].remote);
	}
	params[0] = id;
	params[1] = runner;
	params[2] = lit_end(&rcpts);
	params[3] = lit_end(&states);
	params[4] = lit_end(&errors);
	params[5] = lit_end(&delays);
	params[6] = lease;
	params[7] = lit_end(&remotes);
	op->query = db_query(db, sql, 8, params, done_result, op);
	free(rcpts.s);
	free(states.s);
	free(errors.s);
	free(delays.s);
	free(remotes.s);
	return op;
}

struct store_queue_op *
store_queue_release(struct db *db, const char *runner, store_queue_done_cb *cb, void *ctx)
{
	/* Every expression in SET sees the row as it was. */
	static const char sql[] =
	    "UPDATE queue_recipients SET"
	    " state = CASE WHEN state = 'bouncing' THEN 'bounce_pending'"
	    "  WHEN attempts <= 1 THEN 'queued' ELSE 'deferred' END,"
	    " attempts = CASE WHEN state = 'delivering' THEN greatest(attempts - 1, 0)"
	    "  ELSE attempts END,"
	    " bounce_attempts = CASE WHEN state = 'bouncing' THEN greatest(bounce_attempts - 1, 0)"
	    "  ELSE bounce_attempts END,"
	    " next_try_at = now(), lease_until = NULL, leased_by = NULL, updated_at = now()"
	    " WHERE state IN ('delivering', 'bouncing') AND leased_by = $1";
	struct store_queue_op *op = op_new(OP_DONE, ctx);
	const char *params[1] = {runner};

	op->cb.done = cb;
	op->query = db_query(db, sql, 1, params, done_result, op);
	return op;
}

struct store_queue_op *
store_queue_purge(struct db *db, unsigned keep_ms, store_queue_done_cb *cb, void *ctx)
{
	static const char sql[] =
	    "DELETE FROM queue_messages WHERE id IN (SELECT q.id FROM queue_messages q"
	    " WHERE q.created_at <= now() - $1::bigint" MS
	    " AND NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.message_id = q.id"
	    "  AND (r.state IN ('queued', 'deferred', 'delivering', 'bouncing', 'bounce_pending')"
	    "   OR r.updated_at > now() - $1::bigint" MS "))"
	    " LIMIT 1000 FOR UPDATE SKIP LOCKED)";
	struct store_queue_op *op = op_new(OP_DONE, ctx);
	char keep[16];
	const char *params[1] = {keep};

	op->cb.done = cb;
	snprintf(keep, sizeof(keep), "%u", keep_ms);
	op->query = db_query(db, sql, 1, params, done_result, op);
	return op;
}

/* ---------------------------------------------------------------------
 * Submission state
 */

static void
rate_result(const struct db_result *res, void *ctx)
{
	struct store_queue_op *op = ctx;

	op->query = NULL;
	if (!db_result_ok(res))
		op->cb.rate(false, db_result_error(res), op->ctx);
	else
		op->cb.rate(db_result_rows(res) == 1, NULL, op->ctx);
	free(op);
}

struct store_queue_op *
store_smtp_rate_take(struct db *db, uint64_t account_id, unsigned limit, store_smtp_rate_cb *cb,
                     void *ctx)
{
#define PASSED "s.window_start <= now() - interval '1 hour'"
	static const char sql[] =
	    "INSERT INTO smtp_rate AS s (account_id, window_start, count) VALUES ($1, now(), 1)"
	    " ON CONFLICT (account_id) DO UPDATE SET"
	    " window_start = CASE WHEN " PASSED " THEN now() ELSE s.window_start END,"
	    " count = CASE WHEN " PASSED " THEN 1 ELSE s.count + 1 END"
	    " WHERE " PASSED " OR s.count < $2::int"
	    " RETURNING count";
#undef PASSED
	struct store_queue_op *op = op_new(OP_RATE, ctx);
	char id[24], lim[16];
	const char *params[2] = {id, lim};

	op->cb.rate = cb;
	snprintf(id, sizeof(id), "%" PRIu64, account_id);
	snprintf(lim, sizeof(lim), "%u", limit);
	op->query = db_query(db, sql, 2, params, rate_result, op);
	return op;
}

static void
settings_result(const struct db_result *res, void *ctx)
{
	struct store_queue_op *op = ctx;

	op->query = NULL;
	if (!db_result_ok(res))
		op->cb.settings(false, db_result_error(res), op->ctx);
	else
		op->cb.settings(db_result_rows(res) == 1 &&
		                    strcmp(db_result_value(res, 0, 0), "t") == 0,
		                NULL, op->ctx);
	free(op);
}

struct store_queue_op *
store_smtp_settings_get(struct db *db, uint64_t account_id, store_smtp_settings_cb *cb, void *ctx)
{
	static const char sql[] = "SELECT save_to_sent FROM smtp_settings WHERE account_id = $1";
	struct store_queue_op *op = op_new(OP_SETTINGS, ctx);
	char id[24];
	const char *params[1] = {id};

	op->cb.settings = cb;
	snprintf(id, sizeof(id), "%" PRIu64, account_id);
	op->query = db_query(db, sql, 1, params, settings_result, op);
	return op;
}
