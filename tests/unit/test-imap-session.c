/* The IMAP session core without a database: the command loop over a
 * bufferevent pair (greeting, CAPABILITY, BAD answers, refused literals,
 * the bad-command limit), IMAP string output, mailbox-name arguments,
 * sequence-set resolution against a view, and the view's flag and expunge
 * updates (EXPUNGE and VANISHED). */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "imap-client-private.h"
#include "imap-server.h"
#include "notify.h"
#include "tap.h"
#include "xmalloc.h"

static struct event_base *base;

/* Everything the session has put into its output buffer, as a string. */
static char *
take_output(struct imap_client *c)
{
	struct evbuffer *out = imap_client_output(c);
	size_t len = evbuffer_get_length(out);
	char *s = xmalloc(len + 1);

	evbuffer_remove(out, s, len);
	s[len] = '\0';
	return s;
}

/* Runs the loop until the peer has received something ending in "\r\n"
 * (or a few rounds passed) and returns it. */
static char *
exchange(struct bufferevent *peer, const char *send)
{
	struct evbuffer *in = bufferevent_get_input(peer);
	size_t len;
	char *s;

	if (send != NULL)
		bufferevent_write(peer, send, strlen(send));
	for (int i = 0; i < 50; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	len = evbuffer_get_length(in);
	s = xmalloc(len + 1);
	evbuffer_remove(in, s, len);
	s[len] = '\0';
	return s;
}

static void
test_loop(struct imap_server *server)
{
	struct bufferevent *pair[2];
	char *s;

	bufferevent_pair_new(base, 0, pair);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	imap_client_create(server, pair[0], NULL, 0, false);

	s = exchange(pair[1], NULL);
	ok(strncmp(s, "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ", 37) == 0, "greeting");
	ok(strstr(s, " LOGINDISABLED") != NULL && strstr(s, "AUTH=PLAIN") == NULL,
	   "LOGINDISABLED without TLS");
	ok(strstr(s, "] Floe ready\r\n") != NULL, "greeting text");
	free(s);

	s = exchange(pair[1], "a1 CAPABILITY\r\n");
	ok(strncmp(s, "* CAPABILITY IMAP4rev1", 22) == 0 && strstr(s, "\r\na1 OK ") != NULL,
	   "CAPABILITY");
	free(s);

	s = exchange(pair[1], "a2 NAMESPACE\r\na3 FROB\r\na4 UID NOOP\r\n");
	is_str(s,
	       "a2 BAD Please authenticate first\r\na3 BAD Unknown command\r\n"
	       "a4 BAD This command takes no UID prefix\r\n",
	       "state, unknown command, UID prefix");
	free(s);

	s = exchange(pair[1], "a5 LOGIN \"unterminated\r\n");
	ok(strncmp(s, "a5 BAD ", 7) == 0, "syntax error");
	free(s);

	/* Over max_line_length (8k here): refused before it is read, and the
	 * discarded bytes of a non-synchronizing one are never run. */
	s = exchange(pair[1], "a6 LOGIN {9000}\r\n");
	ok(strncmp(s, "a6 BAD [TOOBIG]", 15) == 0, "sync literal refused");
	free(s);
	{
		struct evbuffer *b = evbuffer_new();

		evbuffer_add_printf(b, "a7 LOGIN {9000+}\r\n");
		/* 1000 x 9 bytes */
		for (int i = 0; i < 1000; i++)
			evbuffer_add_printf(b, "z NOOP\r\n\r");
		evbuffer_add_printf(b, "\r\na8 NOOP\r\n");
		bufferevent_write_buffer(pair[1], b);
		evbuffer_free(b);
	}
	s = exchange(pair[1], NULL);
	ok(strncmp(s, "a7 BAD [TOOBIG]", 15) == 0 && strstr(s, "\r\na8 OK ") != NULL &&
	       strstr(s, "z OK") == NULL,
	   "non-sync literal discarded");
	free(s);

	s = exchange(pair[1], "a9 APPEND INBOX {99999999}\r\n");
	ok(strncmp(s, "a9 BAD Please authenticate first", 32) == 0,
	   "APPEND literal before login refused unread");
	free(s);

	{
		struct evbuffer *b = evbuffer_new();

		for (int i = 0; i < 25; i++)
			evbuffer_add_printf(b, "b%d BOGUS\r\n", i);
		bufferevent_write_buffer(pair[1], b);
		evbuffer_free(b);
	}
	s = exchange(pair[1], NULL);
	/* a9 was the first of the 20 in a row. */
	ok(strstr(s, "b18 BAD") != NULL && strstr(s, "b19 BAD") == NULL &&
	       strstr(s, "* BYE Too many invalid commands\r\n") != NULL,
	   "BYE after 20 bad commands in a row");
	free(s);
	is_int((int)imap_server_connection_count(server), 0, "session freed");
	bufferevent_free(pair[1]);
}

static void
test_strings(struct imap_client *c)
{
	char *s;

	imap_write_astring(c, "INBOX", 5);
	imap_client_write(c, " ", 1);
	imap_write_astring(c, "nil", 3);
	imap_client_write(c, " ", 1);
	imap_write_astring(c, "a b\"c\\", 6);
	imap_client_write(c, " ", 1);
	imap_write_astring(c, "", 0);
	imap_client_write(c, " ", 1);
	imap_write_quoted(c, "two\r\nlines", 10);
	imap_client_write(c, " ", 1);
	imap_write_nstring(c, NULL, 0);
	imap_client_write(c, " ", 1);
	imap_write_quoted(c, "\xc3\xa9", 2);
	s = take_output(c);
	is_str(s, "INBOX \"nil\" \"a b\\\"c\\\\\" \"\" {10}\r\ntwo\r\nlines NIL {2}\r\n\xc3\xa9",
	       "astring, quoted, literal, nstring");
	free(s);

	imap_write_mailbox(c, "Entw\xc3\xbcrfe/x");
	imap_client_write(c, " ", 1);
	imap_write_literal_header(c, 5, true);
	s = take_output(c);
	is_str(s, "Entw&APw-rfe/x ~{5}\r\n", "mailbox in modified UTF-7, literal8 header");
	free(s);
}

static void
test_mailbox_args(struct imap_client *c)
{
	struct imap_arg arg = {.type = IMAP_ARG_QUOTED};
	const char *error;
	char *name;

	arg.str = "inbox/Sub";
	arg.len = strlen(arg.str);
	ok(imap_arg_mailbox(c, &arg, &name, &error) == 0 && strcmp(name, "INBOX/Sub") == 0,
	   "INBOX normalised");
	free(name);
	arg.str = "&AMk-t&AOk-";
	arg.len = strlen(arg.str);
	ok(imap_arg_mailbox(c, &arg, &name, &error) == 0 && strcmp(name, "\xc3\x89t\xc3\xa9") == 0,
	   "modified UTF-7 decoded");
	free(name);
	arg.str = "&Jjo";
	arg.len = strlen(arg.str);
	ok(imap_arg_mailbox(c, &arg, &name, &error) < 0, "malformed UTF-7 refused");
	arg.str = "";
	arg.len = 0;
	ok(imap_arg_mailbox(c, &arg, &name, &error) < 0, "empty name refused");
}

static struct imap_view *
make_view(struct imap_client *c)
{
	static const char *const seen[] = {"\\Seen"};
	static const char *const none[] = {NULL};
	static const struct store_msg msgs[] = {
	    {.uid = 3, .modseq = 5, .flags = seen, .nflags = 1},
	    {.uid = 5, .modseq = 6, .flags = none, .nflags = 0},
	    {.uid = 9, .modseq = 7, .flags = seen, .nflags = 1},
	    {.uid = 10, .modseq = 8, .flags = none, .nflags = 0},
	};
	static const struct store_folder folder = {
	    .id = 42,
	    .owner_id = 7,
	    .path = "INBOX",
	    .uidvalidity = 1234,
	    .uidnext = 11,
	    .highestmodseq = 8,
	    .messages = 4,
	};
	struct store_msg_list list = {.folder = &folder, .msgs = msgs, .count = 4};

	return imap_view_create(c, folder.path, &list, false);
}

static char *
resolve(struct imap_cmd *cmd, const char *set, bool uid)
{
	struct imap_arg arg = {.type = IMAP_ARG_ATOM, .str = set, .len = strlen(set)};
	struct seqset *uids;
	const char *error;
	char *s;

	if (imap_cmd_seqset(cmd, &arg, uid, &uids, &error) < 0)
		return xstrdup("error");
	s = seqset_format(uids);
	seqset_destroy(&uids);
	return s;
}

static void
test_view(struct imap_client *c)
{
	struct imap_cmd cmd = {.client = c, .name = "TEST"};
	struct imap_view *v;
	const char *error;
	char *s;

	ok(imap_client_login(c, 7, "user@example.com", &error) == 0, "login");
	v = make_view(c);
	imap_client_set_view(c, v);
	ok(imap_client_state(c) == IMAP_STATE_SELECTED, "selected");
	is_int(imap_view_count(v), 4, "count");
	is_int(imap_view_uid_to_seq(v, 9), 3, "uid to seq");
	is_int(imap_view_uid_to_seq(v, 4), 0, "missing uid");
	is_int(imap_view_seq_to_uid(v, 2), 5, "seq to uid");
	is_int(imap_view_first_unseen(v), 2, "first unseen");
	ok(imap_view_has_flag(v, 1, "\\seen"), "flag lookup is case-insensitive");

	struct {
		const char *set;
		bool uid;
		const char *want;
	} cases[] = {
	    {"1:*", false, "3:10"}, {"2", false, "5"},    {"2,4", false, "5,10"},
	    {"5", false, "error"},  {"4:9", true, "5:9"}, {"11:*", true, "10"},
	    {"20", true, ""},       {"1:2", true, ""},    {"$", true, ""},
	    {"*", true, "10"},      {"x", true, "error"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		s = resolve(&cmd, cases[i].set, cases[i].uid);
		is_str(s, cases[i].want, "%s %s", cases[i].uid ? "UID" : "seq", cases[i].set);
		free(s);
	}

	/* STORE's own result: a FETCH per changed message; a new keyword makes
	 * the FLAGS responses go out first. */
	{
		static const char *const fl[] = {"\\Seen", "$Label1"};
		struct store_msg changed[] = {{.uid = 5, .modseq = 9, .flags = fl, .nflags = 2},
		                              {.uid = 77, .modseq = 9, .flags = fl, .nflags = 1}};
		struct store_flags_result res = {.changed = changed, .count = 2};

		imap_view_apply_flags(&cmd, &res, true, false);
		s = take_output(c);
		ok(strncmp(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)\r\n",
		           59) == 0,
		   "FLAGS with the new keyword");
		ok(strstr(s, "* 2 FETCH (FLAGS ($Label1 \\Seen))\r\n") != NULL, "FETCH FLAGS");
		ok(strstr(s, "77") == NULL, "unknown uid ignored");
		free(s);
		cmd.uid = true;
		imap_client_enable(c, IMAP_ENABLED_CONDSTORE);
		free(take_output(c));
		imap_view_apply_flags(&cmd, &res, false, true);
		s = take_output(c);
		is_str(s, "* 2 FETCH (UID 5 MODSEQ (9))\r\n", ".SILENT with CONDSTORE");
		free(s);
	}

	/* Expunges: highest first, renumbered; then VANISHED with QRESYNC. */
	{
		uint32_t gone[] = {5, 9, 100};
		uint32_t last[] = {10};

		imap_view_set_saved(v, seqset_create());
		seqset_add_range((struct seqset *)imap_view_saved(v), 3, 10);
		imap_view_apply_expunge(&cmd, gone, 3, true);
		s = take_output(c);
		is_str(s, "* 3 EXPUNGE\r\n* 2 EXPUNGE\r\n", "EXPUNGE responses");
		free(s);
		is_int(imap_view_count(v), 2, "two left");
		is_int(imap_view_uid_to_seq(v, 10), 2, "renumbered");
		s = seqset_format(imap_view_saved(v));
		is_str(s, "3:4,6:8,10", "saved result loses expunged UIDs");
		free(s);
		imap_client_enable(c, IMAP_ENABLED_QRESYNC);
		imap_view_apply_expunge(&cmd, last, 1, true);
		s = take_output(c);
		is_str(s, "* VANISHED 10\r\n", "VANISHED with QRESYNC");
		free(s);
		imap_view_apply_expunge(&cmd, last, 1, true);
		s = take_output(c);
		is_str(s, "", "already gone: nothing");
		free(s);
	}
	imap_client_set_view(c, NULL);
	ok(imap_client_state(c) == IMAP_STATE_AUTH, "unselected");
}

int
main(void)
{
	struct config_errors errors = {NULL, 0};
	struct floe_config *cfg;
	struct notify_bus *bus;
	struct imap_server *server;
	struct bufferevent *pair[2];
	struct imap_client *c;

	cfg = config_parse("test.conf",
	                   "[imap]\nlisten_tls =\nmax_line_length = 8k\nmax_literal_size = 1M\n"
	                   "commands_per_second = 0\n[http]\nlisten_tls =\n[smtp]\nlisten_tls =\n"
	                   "[pop3]\nlisten_tls =\n",
	                   &errors);
	ok(cfg != NULL, "configuration");
	for (size_t i = 0; i < errors.count; i++)
		printf("# %s\n", errors.lines[i]);
	if (cfg == NULL)
		return done_testing();
	base = event_base_new();
	bus = notify_bus_create(base, "host=/nonexistent-floe-test port=1", 100);
	server = imap_server_create(base, cfg, NULL, NULL, bus, NULL);

	ok(imap_command_find("fetch") != NULL && imap_command_find("Uid") == NULL &&
	       imap_command_find("IDLE")->exec == cmd_idle,
	   "command table lookup");

	test_loop(server);

	bufferevent_pair_new(base, 0, pair);
	c = imap_client_create(server, pair[0], NULL, 0, false);
	free(take_output(c));
	test_strings(c);
	test_mailbox_args(c);
	test_view(c);

	imap_server_destroy(&server);
	bufferevent_free(pair[1]);
	notify_bus_destroy(&bus);
	event_base_free(base);
	config_free(&cfg);
	config_errors_clear(&errors);
	return done_testing();
}
