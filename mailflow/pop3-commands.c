/* The POP3 command table and the commands that work on the session's
 * snapshot alone (CAPA, STLS, NOOP, STAT, LIST, UIDL, DELE, RSET), plus
 * QUIT with the UPDATE state: the messages marked by DELE are flagged
 * \Deleted and expunged by UID (never other \Deleted messages), and the
 * ones retrieved whole are flagged \Seen. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pop3-private.h"
#include "store.h"
#include "xmalloc.h"

#define ANY (POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION)

/* Nothing but spaces. */
static bool
no_args(const char *args)
{
	return args[strspn(args, " ")] == '\0';
}

int
pop3_msg_arg(struct pop3_session *s, const char *text, size_t *index_r)
{
	uint64_t n;

	if (pop3_parse_number(text, UINT32_MAX, &n) < 0) {
		pop3_bad(s, "Invalid message number");
		return -1;
	}
	if (n == 0 || n > s->nmsgs) {
		pop3_err(s, "No such message");
		return -1;
	}
	if (s->msgs[n - 1].deleted) {
		pop3_err(s, "Message %llu is deleted", (unsigned long long)n);
		return -1;
	}
	*index_r = (size_t)(n - 1);
	return 0;
}

/* Messages and octets not marked deleted. */
static void
maildrop_totals(const struct pop3_session *s, size_t *count_r, uint64_t *octets_r)
{
	*count_r = 0;
	*octets_r = 0;
	for (size_t i = 0; i < s->nmsgs; i++) {
		if (!s->msgs[i].deleted) {
			(*count_r)++;
			*octets_r += s->msgs[i].size;
		}
	}
}

static void
cmd_capa(struct pop3_session *s, const char *args)
{
	struct evbuffer *out = pop3_session_output(s);

	if (!no_args(args)) {
		pop3_bad(s, "CAPA takes no arguments");
		return;
	}
	pop3_ok(s, "Capability list follows");
	evbuffer_add_printf(out, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (s->state == POP3_STATE_AUTHORIZATION) {
		if (pop3_session_plaintext_ok(s))
			evbuffer_add_printf(out, "USER\r\nSASL PLAIN LOGIN\r\n");
		if (!s->tls && pop3_server_ssl(s->server) != NULL)
			evbuffer_add_printf(out, "STLS\r\n");
	}
	evbuffer_add_printf(out, "IMPLEMENTATION Floe\r\n.\r\n");
}

static void
cmd_stls(struct pop3_session *s, const char *args)
{
	const char *error;

	if (!no_args(args)) {
		pop3_bad(s, "STLS takes no arguments");
		return;
	}
	if (s->tls) {
		pop3_err(s, "TLS is already active");
		return;
	}
	if (pop3_server_ssl(s->server) == NULL) {
		pop3_err(s, "[SYS/PERM] TLS is not configured on this server");
		return;
	}
	pop3_ok(s, "Begin TLS negotiation");
	if (pop3_session_starttls(s, &error) < 0) {
		log_warning("pop3 %s: STLS failed: %s", s->peer, error);
		pop3_session_disconnect(s, NULL);
	}
}

static void
cmd_noop(struct pop3_session *s, const char *args)
{
	pop3_ok(s, "Nothing to do");
}

static void
cmd_stat(struct pop3_session *s, const char *args)
{
	uint64_t octets;
	size_t count;

	if (!no_args(args)) {
		pop3_bad(s, "STAT takes no arguments");
		return;
	}
	maildrop_totals(s, &count, &octets);
	pop3_ok(s, "%zu %llu", count, (unsigned long long)octets);
}

static void
cmd_list(struct pop3_session *s, const char *args)
{
	struct evbuffer *out = pop3_session_output(s);
	uint64_t octets;
	size_t count, i;

	if (!no_args(args)) {
		if (pop3_msg_arg(s, args, &i) == 0)
			pop3_ok(s, "%zu %llu", i + 1, (unsigned long long)s->msgs[i].size);
		return;
	}
	maildrop_totals(s, &count, &octets);
	pop3_ok(s, "%zu messages (%llu octets)", count, (unsigned long long)octets);
	for (i = 0; i < s->nmsgs; i++) {
		if (!s->msgs[i].deleted)
			evbuffer_add_printf(out, "%zu %llu\r\n", i + 1,
			                    (unsigned long long)s->msgs[i].size);
	}
	evbuffer_add(out, ".\r\n", 3);
}

/* The unique id: "<uidvalidity>.<uid>", stable for as long as the message
 * stays in INBOX (RFC 1939 section 7). */
static void
cmd_uidl(struct pop3_session *s, const char *args)
{
	struct evbuffer *out = pop3_session_output(s);
	size_t i;

	if (!no_args(args)) {
		if (pop3_msg_arg(s, args, &i) == 0)
			pop3_ok(s, "%zu %u.%u", i + 1, s->uidvalidity, s->msgs[i].uid);
		return;
	}
	pop3_ok(s, "Unique-id listing follows");
	for (i = 0; i < s->nmsgs; i++) {
		if (!s->msgs[i].deleted)
			evbuffer_add_printf(out, "%zu %u.%u\r\n", i + 1, s->uidvalidity,
			                    s->msgs[i].uid);
	}
	evbuffer_add(out, ".\r\n", 3);
}

static void
cmd_dele(struct pop3_session *s, const char *args)
{
	size_t i;

	if (pop3_msg_arg(s, args, &i) < 0)
		return;
	s->msgs[i].deleted = true;
	pop3_ok(s, "Message %zu deleted", i + 1);
}

static void
cmd_rset(struct pop3_session *s, const char *args)
{
	uint64_t octets;
	size_t count;

	if (!no_args(args)) {
		pop3_bad(s, "RSET takes no arguments");
		return;
	}
	for (size_t i = 0; i < s->nmsgs; i++)
		s->msgs[i].deleted = false;
	maildrop_totals(s, &count, &octets);
	pop3_ok(s, "Maildrop has %zu messages (%llu octets)", count, (unsigned long long)octets);
}

/* ---------------------------------------------------------------------
 * QUIT and the UPDATE state
 */

/* The UIDs of the messages whose deleted mark is want_deleted (and, with
 * only_retrieved, that were retrieved), as ranges in *uids (free
 * uids->ranges); returns how many messages. */
static size_t
update_ranges(const struct pop3_session *s, bool want_deleted, bool only_retrieved,
              struct store_uid_ranges *uids)
{
	uint32_t(*ranges)[2] = xcalloc(s->nmsgs + 1, sizeof(*ranges));
	size_t n = 0, count = 0;

	for (size_t i = 0; i < s->nmsgs; i++) {
		const struct pop3_msg *m = &s->msgs[i];

		if (m->deleted != want_deleted || (only_retrieved && !m->retrieved))
			continue;
		count++;
		/* The snapshot is in UID order, so runs are consecutive. */
		if (n > 0 && ranges[n - 1][1] + 1 == m->uid) {
			ranges[n - 1][1] = m->uid;
		} else {
			ranges[n][0] = ranges[n][1] = m->uid;
			n++;
		}
	}
	uids->ranges = (const uint32_t(*)[2])ranges;
	uids->count = n;
	return count;
}

static void
update_sign_off(struct pop3_session *s, size_t removed)
{
	log_info("pop3 %s: %s logged out (%zu messages deleted)", s->peer, s->address, removed);
	pop3_ok(s, "Floe POP3 server signing off (%zu messages deleted)", removed);
	pop3_session_disconnect(s, NULL);
	pop3_session_command_done(s);
}

static void
update_failed(struct pop3_session *s, const char *what, const char *error)
{
	log_warning("pop3 %s: QUIT of %s: %s failed: %s", s->peer, s->address, what,
	            error != NULL ? error : "unknown error");
	pop3_session_disconnect(s, "-ERR [SYS/TEMP] Deleted messages were not removed; "
	                           "try again later");
	pop3_session_command_done(s);
}

static void
update_seen_done(const struct store_flags_result *res, enum store_err code, const char *error,
                 void *ctx)
{
	struct pop3_session *s = ctx;

	s->op = NULL;
	/* The deletions are done; a missing \Seen is not worth an -ERR. */
	if (res == NULL)
		log_warning("pop3 %s: QUIT of %s: marking retrieved messages \\Seen failed: %s",
		            s->peer, s->address, error != NULL ? error : "unknown error");
	update_sign_off(s, s->nremoved);
}

static void
update_mark_seen(struct pop3_session *s)
{
	static const char *const seen[] = {"\\Seen"};
	struct store_uid_ranges uids;

	if (update_ranges(s, false, true, &uids) == 0) {
		free((void *)uids.ranges);
		update_sign_off(s, s->nremoved);
		return;
	}
	s->op = store_flags(pop3_server_store(s->server), s->account_id, s->folder_id, &uids,
	                    STORE_FLAGS_ADD, seen, 1, 0, update_seen_done, s);
	free((void *)uids.ranges);
}

static void
update_expunged(const struct store_expunge_result *res, enum store_err code, const char *error,
                void *ctx)
{
	struct pop3_session *s = ctx;

	s->op = NULL;
	if (res == NULL) {
		update_failed(s, "expunge", error);
		return;
	}
	s->nremoved = res->count;
	update_mark_seen(s);
}

static void
update_flagged(const struct store_flags_result *res, enum store_err code, const char *error,
               void *ctx)
{
	struct pop3_session *s = ctx;
	struct store_uid_ranges uids;

	s->op = NULL;
	if (res == NULL) {
		update_failed(s, "flagging \\Deleted", error);
		return;
	}
	update_ranges(s, true, false, &uids);
	/* UID EXPUNGE semantics: other \Deleted messages stay. */
	s->op = store_expunge(pop3_server_store(s->server), s->account_id, s->folder_id, &uids,
	                      update_expunged, s);
	free((void *)uids.ranges);
}

static void
cmd_quit(struct pop3_session *s, const char *args)
{
	static const char *const deleted[] = {"\\Deleted"};
	struct store_uid_ranges uids;

	if (s->state == POP3_STATE_AUTHORIZATION) {
		pop3_ok(s, "Floe POP3 server signing off");
		pop3_session_disconnect(s, NULL);
		return;
	}
	s->state = POP3_STATE_UPDATE;
	s->busy = true;
	s->nremoved = 0;
	if (update_ranges(s, true, false, &uids) == 0) {
		free((void *)uids.ranges);
		update_mark_seen(s);
		return;
	}
	s->op = store_flags(pop3_server_store(s->server), s->account_id, s->folder_id, &uids,
	                    STORE_FLAGS_ADD, deleted, 1, 0, update_flagged, s);
	free((void *)uids.ranges);
}

/* ---------------------------------------------------------------------
 * The table
 */

static const struct pop3_command pop3_commands[] = {
    {.name = "CAPA", .states = ANY, .exec = cmd_capa},
    {.name = "QUIT", .states = ANY, .exec = cmd_quit},
    {.name = "STLS", .states = POP3_STATE_AUTHORIZATION, .exec = cmd_stls},
    {.name = "USER", .states = POP3_STATE_AUTHORIZATION, .exec = pop3_cmd_user},
    {.name = "PASS", .states = POP3_STATE_AUTHORIZATION, .exec = pop3_cmd_pass},
    {.name = "AUTH", .states = POP3_STATE_AUTHORIZATION, .exec = pop3_cmd_auth},
    {.name = "APOP", .states = POP3_STATE_AUTHORIZATION, .exec = pop3_cmd_apop},
    {.name = "NOOP", .states = POP3_STATE_TRANSACTION, .exec = cmd_noop},
    {.name = "STAT", .states = POP3_STATE_TRANSACTION, .exec = cmd_stat},
    {.name = "LIST", .states = POP3_STATE_TRANSACTION, .exec = cmd_list},
    {.name = "UIDL", .states = POP3_STATE_TRANSACTION, .exec = cmd_uidl},
    {.name = "RETR", .states = POP3_STATE_TRANSACTION, .exec = pop3_cmd_retr},
    {.name = "TOP", .states = POP3_STATE_TRANSACTION, .exec = pop3_cmd_top},
    {.name = "DELE", .states = POP3_STATE_TRANSACTION, .exec = cmd_dele},
    {.name = "RSET", .states = POP3_STATE_TRANSACTION, .exec = cmd_rset},
};

const struct pop3_command *
pop3_command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(pop3_commands) / sizeof(pop3_commands[0]); i++) {
		if (strcmp(pop3_commands[i].name, name) == 0)
			return &pop3_commands[i];
	}
	return NULL;
}
