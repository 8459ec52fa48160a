/* Unit tests of modules/responder.c: the header scan, the RFC 3834
 * decision, the never-answer list, %%Variable%% expansion and the reply. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "responder.h"
#include "tap.h"

static const char plain_msg[] = "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                                "Received: from c\r\n by d; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                                "Delivered-To: Bob@Example.ORG\r\n"
                                "Delivered-To: <carol@example.org>\r\n"
                                "From: Alice <alice@example.net>\r\n"
                                "Subject: hello\r\n"
                                "\r\n"
                                "List-Id: not a header, in the body\r\n";

static struct store_responder
responder(enum store_responder_mode mode)
{
	struct store_responder r = {
	    .mode = mode, .subject = "", .body = "", .reply_external = true};

	return r;
}

static void
test_scan(void)
{
	struct responder_msg m;

	responder_scan(plain_msg, strlen(plain_msg), &m);
	is_int(m.received, 2, "two Received fields (one folded)");
	is_int(m.ndelivered_to, 2, "two Delivered-To fields");
	ok(responder_delivered_to(&m, "bob@example.org"), "Delivered-To lower-cased");
	ok(responder_delivered_to(&m, "CAROL@example.org"), "Delivered-To in angle brackets");
	ok(!responder_delivered_to(&m, "alice@example.net"), "not delivered to alice");
	ok(!m.list && !m.bulk && !m.auto_submitted && !m.suppress, "a person's message");
	responder_msg_clear(&m);

	static const char list_msg[] = "From: l@x\nList-Unsubscribe: <mailto:u@x>\n\nbody\n";
	responder_scan(list_msg, strlen(list_msg), &m);
	ok(m.list, "List-Unsubscribe marks a list (LF line ends)");
	responder_msg_clear(&m);

	static const char bulk_msg[] = "Precedence:  Bulk \r\n\r\n";
	responder_scan(bulk_msg, strlen(bulk_msg), &m);
	ok(m.bulk, "Precedence: bulk");
	responder_msg_clear(&m);

	static const char junk_msg[] = "Precedence: first-class\r\n\r\n";
	responder_scan(junk_msg, strlen(junk_msg), &m);
	ok(!m.bulk, "Precedence: first-class is not bulk");
	responder_msg_clear(&m);

	static const char auto_msg[] = "Auto-Submitted: auto-replied\r\n\r\n";
	responder_scan(auto_msg, strlen(auto_msg), &m);
	ok(m.auto_submitted, "Auto-Submitted: auto-replied");
	responder_msg_clear(&m);

	static const char no_msg[] = "Auto-Submitted: no (a person)\r\n\r\n";
	responder_scan(no_msg, strlen(no_msg), &m);
	ok(!m.auto_submitted, "Auto-Submitted: no is a person");
	responder_msg_clear(&m);

	static const char sup_msg[] = "X-Auto-Response-Suppress: DR, OOF\r\n\r\n";
	responder_scan(sup_msg, strlen(sup_msg), &m);
	ok(m.suppress, "X-Auto-Response-Suppress: OOF");
	responder_msg_clear(&m);

	static const char sup2_msg[] = "X-Auto-Response-Suppress: DR, RN\r\n\r\n";
	responder_scan(sup2_msg, strlen(sup2_msg), &m);
	ok(!m.suppress, "X-Auto-Response-Suppress: DR, RN does not stop replies");
	responder_msg_clear(&m);

	responder_scan("", 0, &m);
	ok(m.received == 0 && !m.list, "empty input");
	responder_msg_clear(&m);

	static const char odd[] = "no colon here\r\n: empty name\r\nList-Id";
	responder_scan(odd, strlen(odd), &m);
	ok(!m.list, "broken lines are not fields");
	responder_msg_clear(&m);
}

static void
test_decide(void)
{
	struct responder_msg m = {0}, list = {.list = true}, bulk = {.bulk = true},
	                     autos = {.auto_submitted = true}, sup = {.suppress = true};
	struct store_responder r = responder(STORE_RESPONDER_ALWAYS);
	const char *never[] = {"Boss@Example.net", "@spam.example", "other.example"};
	time_t now = 1700000000;

	is_int(responder_decide(&r, now, "a@x.example", false, "me@example.org", &m),
	       RESPONDER_REPLY, "always answers a person");
	r.mode = STORE_RESPONDER_OFF;
	is_int(responder_decide(&r, now, "a@x.example", false, "me@example.org", &m), RESPONDER_OFF,
	       "off");
	r.mode = STORE_RESPONDER_ONCE;
	r.starts_at = now + 10;
	is_int(responder_decide(&r, now, "a@x.example", false, "me@example.org", &m),
	       RESPONDER_NOT_NOW, "before the window");
	r.starts_at = now - 10;
	r.ends_at = now - 5;
	is_int(responder_decide(&r, now, "a@x.example", false, "me@example.org", &m),
	       RESPONDER_NOT_NOW, "after the window");
	r.ends_at = now + 5;
	is_int(responder_decide(&r, now, "a@x.example", false, "me@example.org", &m),
	       RESPONDER_REPLY, "inside the window");
	is_int(responder_decide(&r, now, "", false, "me@example.org", &m), RESPONDER_NULL_SENDER,
	       "null sender");
	is_int(responder_decide(&r, now, "MAILER-DAEMON@x.example", false, "me@example.org", &m),
	       RESPONDER_DAEMON, "MAILER-DAEMON");
	is_int(responder_decide(&r, now, "owner-list@x.example", false, "me@example.org", &m),
	       RESPONDER_DAEMON, "owner-*");
	is_int(responder_decide(&r, now, "list-request@x.example", false, "me@example.org", &m),
	       RESPONDER_DAEMON, "*-request");
	is_int(responder_decide(&r, now, "a@x.example", false, "me@example.org", &list),
	       RESPONDER_LIST, "List-*");
	is_int(responder_decide(&r, now, "a@x.example", false, "me@example.org", &bulk),
	       RESPONDER_LIST, "Precedence bulk");
	is_int(responder_decide(&r, now, "a@x.example", false, "me@example.org", &autos),
	       RESPONDER_AUTOMATIC, "Auto-Submitted");
	is_int(responder_decide(&r, now, "a@x.example", false, "me@example.org", &sup),
	       RESPONDER_AUTOMATIC, "X-Auto-Response-Suppress");
	is_int(responder_decide(&r, now, "Me@Example.org", true, "me@example.org", &m),
	       RESPONDER_SELF, "own message");
	r.never_reply = never;
	r.nnever_reply = 3;
	is_int(responder_decide(&r, now, "boss@example.net", false, "me@example.org", &m),
	       RESPONDER_NEVER, "never list: address, any case");
	is_int(responder_decide(&r, now, "x@SPAM.example", false, "me@example.org", &m),
	       RESPONDER_NEVER, "never list: @domain");
	is_int(responder_decide(&r, now, "y@other.example", false, "me@example.org", &m),
	       RESPONDER_NEVER, "never list: bare domain");
	is_int(responder_decide(&r, now, "y@sub.other.example", false, "me@example.org", &m),
	       RESPONDER_REPLY, "a subdomain is not the domain");
	r.reply_external = false;
	is_int(responder_decide(&r, now, "y@far.example", false, "me@example.org", &m),
	       RESPONDER_EXTERNAL, "outside sender without reply_external");
	is_int(responder_decide(&r, now, "y@example.org", true, "me@example.org", &m),
	       RESPONDER_REPLY, "local sender without reply_external");
	ok(strcmp(responder_verdict_text(RESPONDER_LIST), "mailing list or bulk mail") == 0,
	   "verdict text");
}

static void
test_expand(void)
{
	struct responder_vars v = {.subject = "Lunch?",
	                           .from = "\"Alice Smith\" <alice@example.net>",
	                           .to = "bob@example.org",
	                           .now = 1700000000};
	char *s, *name, *email;

	s = responder_expand("Re: %%Subject%%", &v);
	is_str(s, "Re: Lunch?", "%%Subject%%");
	free(s);
	s = responder_expand(
	    "Dear %%from_name%% <%%From_Email%%>, %%To%% is away. %%Unknown%% 100%", &v);
	is_str(s, "Dear Alice Smith <alice@example.net>, bob@example.org is away. %%Unknown%% 100%",
	       "names in any case, unknown variables kept");
	free(s);
	s = responder_expand("%%From%%|%%Email%%", &v);
	is_str(s, "\"Alice Smith\" <alice@example.net>|bob@example.org", "%%From%% and %%Email%%");
	free(s);
	s = responder_expand("%%%%Subject%%%%", &v);
	is_str(s, "%%Lunch?%%", "percent runs");
	free(s);
	v.from = "carol@example.net";
	s = responder_expand("Hi %%From_Name%%", &v);
	is_str(s, "Hi carol@example.net", "From_Name falls back to the address");
	free(s);
	s = responder_expand("%%Date%% %%Time%%", &v);
	ok(strlen(s) == 16 && s[4] == '-' && s[13] == ':', "date and time: %s", s);
	free(s);
	s = responder_expand(NULL, &v);
	is_str(s, "", "NULL text");
	free(s);
	responder_split_from("  Bob   <bob@x> ", &name, &email);
	is_str(name, "Bob", "split name");
	is_str(email, "bob@x", "split address");
	free(name);
	free(email);
}

static void
test_build(void)
{
	struct responder_reply rep = {.from = "bob@example.org",
	                              .to = "alice@example.net",
	                              .subject = "Re: Déjà vu",
	                              .body = "Back on Monday.\nCafé = 5€\n",
	                              .in_reply_to = "<m1@example.net>",
	                              .references = "<m0@example.net>",
	                              .hostname = "mx.example.org",
	                              .now = 1700000000};
	size_t size;
	char *msg = responder_build(&rep, &size);

	ok(strlen(msg) == size, "size");
	ok(strstr(msg, "From: <bob@example.org>\r\n") != NULL, "From");
	ok(strstr(msg, "To: <alice@example.net>\r\n") != NULL, "To");
	ok(strstr(msg, "Auto-Submitted: auto-replied\r\n") != NULL, "Auto-Submitted");
	ok(strstr(msg, "In-Reply-To: <m1@example.net>\r\n") != NULL, "In-Reply-To");
	ok(strstr(msg, "References: <m0@example.net> <m1@example.net>\r\n") != NULL, "References");
	ok(strstr(msg, "Subject: =?UTF-8?B?UmU6IETDqWrDoCB2dQ==?=\r\n") != NULL,
	   "RFC 2047 subject");
	ok(strstr(msg, "@mx.example.org>\r\n") != NULL, "Message-ID");
	ok(strstr(msg, "\r\n\r\nBack on Monday.\r\nCaf=C3=A9 =3D 5=E2=82=AC\r\n") != NULL,
	   "quoted-printable body");
	ok(strstr(msg, "\n\n") == NULL || strstr(msg, "\n\n") > strstr(msg, "\r\n\r\n"),
	   "CRLF line ends");
	free(msg);

	rep.subject = "plain";
	rep.in_reply_to = NULL;
	rep.references = NULL;
	msg = responder_build(&rep, &size);
	ok(strstr(msg, "Subject: plain\r\n") != NULL, "ASCII subject as is");
	ok(strstr(msg, "In-Reply-To") == NULL && strstr(msg, "References") == NULL,
	   "no In-Reply-To without a Message-ID");
	free(msg);

	char long_subject[300];

	memset(long_subject, 0, sizeof(long_subject));
	for (size_t i = 0; i + 2 < 200; i += 2)
		memcpy(long_subject + i, "\xc3\xa9", 2);
	rep.subject = long_subject;
	msg = responder_build(&rep, &size);
	ok(strstr(msg, "?=\r\n =?UTF-8?B?") != NULL, "long subjects are folded into words");
	free(msg);
}

int
main(void)
{
	test_scan();
	test_decide();
	test_expand();
	test_build();
	return done_testing();
}
