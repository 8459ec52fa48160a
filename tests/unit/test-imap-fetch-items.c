/* Unit tests for the FETCH item list parser (imapx/fetch-items.c): macros,
 * simple items, body sections with partials, BINARY, RFC822.*, modifiers,
 * and the errors a bad list gets. */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "fetch-items.h"
#include "msg-util.h"
#include "parser.h"

static struct imap_parser *parser;

/* Parses text (an argument list without tag and name) and the FETCH items
 * in it. Returns the parse result; *error_r on failure. */
static int
parse(const char *text, struct imap_fetch_items *items, const char **error_r)
{
	char *line = malloc(strlen(text) + 3);
	size_t consumed;
	enum imap_parser_result res;

	strcpy(line, text);
	strcat(line, "\r\n");
	imap_parser_reset(parser);
	res = imap_parser_parse_data(parser, line, strlen(line), &consumed);
	free(line);
	if (res != IMAP_PARSER_COMMAND) {
		memset(items, 0, sizeof(*items));
		*error_r = "imap parser rejected the text";
		return -2;
	}
	const struct imap_command *cmd = imap_parser_command(parser);
	return imap_fetch_items_parse(cmd->args, cmd->count, items, error_r);
}

static void
test_macros(void)
{
	struct imap_fetch_items it;
	const char *err = NULL;

	is_int(parse("ALL", &it, &err), 0, "ALL parses");
	is_int(it.attrs,
	       IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE |
	           IMAP_FETCH_ENVELOPE,
	       "ALL = FLAGS INTERNALDATE RFC822.SIZE ENVELOPE");
	is_int(it.nbodies, 0, "ALL has no body items");
	imap_fetch_items_clear(&it);

	is_int(parse("fast", &it, &err), 0, "fast (lower case) parses");
	is_int(it.attrs, IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE,
	       "FAST items");
	imap_fetch_items_clear(&it);

	is_int(parse("FULL", &it, &err), 0, "FULL parses");
	ok((it.attrs & IMAP_FETCH_BODY) != 0 && (it.attrs & IMAP_FETCH_ENVELOPE) != 0,
	   "FULL includes BODY and ENVELOPE");
	imap_fetch_items_clear(&it);

	ok(parse("(ALL)", &it, &err) < 0, "macro inside a list is refused");
	imap_fetch_items_clear(&it);
}

static void
test_simple(void)
{
	struct imap_fetch_items it;
	const char *err = NULL;

	is_int(parse("(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY MODSEQ "
	             "EMAILID THREADID PREVIEW)",
	             &it, &err),
	       0, "all simple items parse");
	is_int(it.attrs,
	       IMAP_FETCH_UID | IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
	           IMAP_FETCH_RFC822_SIZE | IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODYSTRUCTURE |
	           IMAP_FETCH_BODY | IMAP_FETCH_MODSEQ | IMAP_FETCH_EMAILID | IMAP_FETCH_THREADID |
	           IMAP_FETCH_PREVIEW,
	       "every attribute bit is set");
	ok(!it.sets_seen, "simple items do not set \\Seen");
	unsigned f = imap_fetch_items_store_fields(&it);
	ok((f & STORE_FETCH_ENVELOPE) && (f & STORE_FETCH_BODYSTRUCTURE) && (f & STORE_FETCH_IDS) &&
	       (f & STORE_FETCH_PREVIEW) && !(f & STORE_FETCH_PARTMAP),
	   "store fields follow the items");
	imap_fetch_items_clear(&it);

	is_int(parse("flags", &it, &err), 0, "a single bare item parses");
	is_int(it.attrs, IMAP_FETCH_FLAGS, "just FLAGS");
	imap_fetch_items_clear(&it);

	is_int(parse("(PREVIEW (LAZY) UID)", &it, &err), 0, "PREVIEW (LAZY) parses");
	ok(it.preview_lazy && (it.attrs & IMAP_FETCH_PREVIEW) && (it.attrs & IMAP_FETCH_UID),
	   "PREVIEW lazy and UID");
	imap_fetch_items_clear(&it);

	ok(parse("(FLAGS FOO)", &it, &err) < 0, "unknown item refused");
	ok(strstr(err, "FOO") != NULL, "error names the item: %s", err);
	imap_fetch_items_clear(&it);
	ok(parse("()", &it, &err) < 0, "empty list refused");
	imap_fetch_items_clear(&it);
	ok(parse("(FLAGS \"UID\")", &it, &err) < 0, "quoted item refused");
	imap_fetch_items_clear(&it);
}

static void
test_sections(void)
{
	struct imap_fetch_items it;
	const char *err = NULL;

	is_int(parse("(BODY[] BODY.PEEK[HEADER] BODY[TEXT] BODY[1.2.MIME] BODY.PEEK[3] "
	             "BODY[2.HEADER] body.peek[4.text])",
	             &it, &err),
	       0, "body sections parse");
	is_int(it.nbodies, 7, "seven body items");
	is_str(it.bodies[0].name, "BODY[]", "BODY[] name");
	is_int(it.bodies[0].section.kind, SECTION_ALL, "BODY[] is the whole message");
	ok(!it.bodies[0].peek, "BODY[] is not peek");
	is_str(it.bodies[1].name, "BODY[HEADER]", "PEEK is not in the response name");
	ok(it.bodies[1].peek, "BODY.PEEK is peek");
	is_int(it.bodies[1].section.kind, SECTION_HEADER, "HEADER kind");
	is_int(it.bodies[2].section.kind, SECTION_TEXT, "TEXT kind");
	is_int(it.bodies[3].section.kind, SECTION_MIME, "MIME kind");
	is_str(it.bodies[3].section.part, "1.2", "MIME part 1.2");
	is_str(it.bodies[3].name, "BODY[1.2.MIME]", "MIME name");
	is_int(it.bodies[4].section.kind, SECTION_BODY, "numbered part kind");
	is_str(it.bodies[4].section.part, "3", "part 3");
	is_int(it.bodies[5].section.kind, SECTION_HEADER, "2.HEADER kind");
	is_str(it.bodies[5].section.part, "2", "2.HEADER part");
	is_str(it.bodies[6].name, "BODY[4.TEXT]", "lower-case spelling canonicalized");
	ok(it.sets_seen, "a non-peek body item sets \\Seen");
	ok(imap_fetch_items_store_fields(&it) & STORE_FETCH_PARTMAP,
	   "body items need the part map");
	imap_fetch_items_clear(&it);

	is_int(parse("(BODY.PEEK[HEADER.FIELDS (From \"To\" x-Mailer)]<0.100>)", &it, &err), 0,
	       "HEADER.FIELDS with partial parses");
	is_int(it.nbodies, 1, "one body item");
	is_int(it.bodies[0].section.kind, SECTION_FIELDS, "FIELDS kind");
	is_int(it.bodies[0].section.nfields, 3, "three names");
	is_str(it.bodies[0].section.fields[0], "FROM", "names upper-cased (1)");
	is_str(it.bodies[0].section.fields[1], "TO", "quoted name unquoted and upper-cased");
	is_str(it.bodies[0].section.fields[2], "X-MAILER", "names upper-cased (3)");
	is_str(it.bodies[0].name, "BODY[HEADER.FIELDS (From To x-Mailer)]",
	       "response name keeps the names as given");
	ok(it.bodies[0].partial && it.bodies[0].offset == 0 && it.bodies[0].length == 100,
	   "partial <0.100>");
	ok(!it.sets_seen, "peek does not set \\Seen");
	imap_fetch_items_clear(&it);

	is_int(parse("BODY[1.HEADER.FIELDS.NOT (Received)]", &it, &err), 0,
	       "HEADER.FIELDS.NOT on a part parses");
	is_int(it.bodies[0].section.kind, SECTION_FIELDS_NOT, "FIELDS_NOT kind");
	is_str(it.bodies[0].section.part, "1", "of part 1");
	is_str(it.bodies[0].name, "BODY[1.HEADER.FIELDS.NOT (Received)]", "FIELDS.NOT name");
	imap_fetch_items_clear(&it);

	is_int(parse("(BODY[HEADER.FIELDS (\"a b\")])", &it, &err), -1,
	       "header name with a space refused");
	imap_fetch_items_clear(&it);

	static const char *const bad[] = {
	    "BODY[0]",
	    "BODY[1.0]",
	    "BODY[01]",
	    "BODY[1.]",
	    "BODY[MIME]",
	    "BODY[FOO]",
	    "BODY[HEADER.FIELDS]",
	    "BODY[HEADER.FIELDS ()]",
	    "BODY[HEADER.FIELDS (A]",
	    "BODY[HEADERX]",
	    "BODY[1X]",
	    "BODY[]<0.0>",
	    "BODY[]<5>",
	    "BODY[]<a.1>",
	    "BODY[]<0.4294967296>",
	    "BODY[]x",
	    "BODY.PEEK",
	    "BODYX[]",
	    "BINARY[HEADER]",
	    "BINARY[1.MIME]",
	    "BINARY.SIZE[1]<0.10>",
	    "BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26.27.28]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &it, &err);
		ok(r != 0, "refused: %s (%s)", bad[i], r == -1 ? err : "by the parser");
		imap_fetch_items_clear(&it);
	}
}

static void
test_rfc822_binary(void)
{
	struct imap_fetch_items it;
	const char *err = NULL;

	is_int(parse("(RFC822 RFC822.HEADER RFC822.TEXT)", &it, &err), 0, "RFC822.* parse");
	is_int(it.nbodies, 3, "three body items");
	is_str(it.bodies[0].name, "RFC822", "RFC822 name");
	is_int(it.bodies[0].section.kind, SECTION_ALL, "RFC822 = BODY[]");
	ok(!it.bodies[0].peek, "RFC822 sets \\Seen");
	is_str(it.bodies[1].name, "RFC822.HEADER", "RFC822.HEADER name");
	ok(it.bodies[1].peek, "RFC822.HEADER is peek");
	is_int(it.bodies[1].section.kind, SECTION_HEADER, "RFC822.HEADER = BODY.PEEK[HEADER]");
	is_str(it.bodies[2].name, "RFC822.TEXT", "RFC822.TEXT name");
	ok(!it.bodies[2].peek, "RFC822.TEXT sets \\Seen");
	imap_fetch_items_clear(&it);

	is_int(parse("(BINARY[1] BINARY.PEEK[2.1]<10.20> BINARY.SIZE[3] BINARY[])", &it, &err), 0,
	       "BINARY items parse");
	is_int(it.nbodies, 4, "four items");
	is_int(it.bodies[0].type, IMAP_FETCH_BODY_BINARY, "BINARY type");
	is_str(it.bodies[0].name, "BINARY[1]", "BINARY name");
	ok(!it.bodies[0].peek, "BINARY sets \\Seen");
	ok(it.bodies[1].peek && it.bodies[1].partial && it.bodies[1].offset == 10 &&
	       it.bodies[1].length == 20,
	   "BINARY.PEEK partial");
	is_str(it.bodies[1].section.part, "2.1", "BINARY part 2.1");
	is_int(it.bodies[2].type, IMAP_FETCH_BODY_BINARY_SIZE, "BINARY.SIZE type");
	is_str(it.bodies[2].name, "BINARY.SIZE[3]", "BINARY.SIZE name");
	ok(it.bodies[2].peek, "BINARY.SIZE does not set \\Seen");
	is_int(it.bodies[3].section.kind, SECTION_ALL, "BINARY[] is the whole message");
	imap_fetch_items_clear(&it);

	is_int(parse("(BODY[] BODY[] FLAGS FLAGS)", &it, &err), 0, "duplicates parse");
	is_int(it.nbodies, 1, "duplicate body items are merged");
	imap_fetch_items_clear(&it);
}

static void
test_modifiers(void)
{
	struct imap_fetch_items it;
	const char *err = NULL;

	is_int(parse("(FLAGS) (CHANGEDSINCE 12345 VANISHED)", &it, &err), 0,
	       "CHANGEDSINCE and VANISHED parse");
	ok(it.changedsince_set && it.changedsince == 12345, "changedsince value");
	ok(it.vanished, "vanished");
	ok(it.attrs & IMAP_FETCH_MODSEQ, "CHANGEDSINCE implies MODSEQ");
	imap_fetch_items_clear(&it);

	is_int(parse("FLAGS (changedsince 9223372036854775807)", &it, &err), 0,
	       "largest mod-sequence value");
	ok(it.changedsince == 9223372036854775807ULL, "value kept");
	imap_fetch_items_clear(&it);

	static const char *const bad[] = {
	    "FLAGS (VANISHED)",
	    "FLAGS (CHANGEDSINCE)",
	    "FLAGS (CHANGEDSINCE x)",
	    "FLAGS (CHANGEDSINCE 9223372036854775808)",
	    "FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)",
	    "FLAGS (FOO 1)",
	    "FLAGS ()",
	    "FLAGS CHANGEDSINCE",
	    "FLAGS (CHANGEDSINCE 1) (VANISHED)",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &it, &err);
		ok(r != 0, "refused: %s (%s)", bad[i], r == -1 ? err : "by the parser");
		imap_fetch_items_clear(&it);
	}
}

static void
test_section_direct(void)
{
	struct message_section sec;
	char *canon;
	const char *err;

	is_int(imap_fetch_section_parse("1.2.3", 5, true, &sec, &canon, &err), 0,
	       "binary part number parses");
	is_int(sec.kind, SECTION_BODY, "kind body");
	is_str(canon, "1.2.3", "canonical spelling");
	free(canon);
	imap_fetch_section_clear(&sec);

	is_int(imap_fetch_section_parse("", 0, false, &sec, &canon, &err), 0, "empty section");
	is_int(sec.kind, SECTION_ALL, "kind all");
	is_str(sec.part, "", "no part");
	free(canon);
	imap_fetch_section_clear(&sec);

	const char *t = "header.fields.not (a \"b\\\"c\")";
	is_int(imap_fetch_section_parse(t, strlen(t), false, &sec, &canon, &err), 0,
	       "escaped quote in a header name");
	is_str(sec.fields[1], "B\"C", "unescaped");
	is_str(canon, "HEADER.FIELDS.NOT (a \"b\\\"c\")", "requoted in the name");
	free(canon);
	imap_fetch_section_clear(&sec);
}

/* msg-util.c: flag lists, date-time values and UIDPLUS sets. */
static void
test_msg_util(void)
{
	struct imap_flag_list flags;
	const char *err;
	time_t t;
	char buf[64];

	const struct imap_command *cmd;
	size_t consumed;
	const char *line = "(\\seen $Label \\SEEN foo \\Draft)\r\n";
	imap_parser_reset(parser);
	imap_parser_parse_data(parser, line, strlen(line), &consumed);
	cmd = imap_parser_command(parser);
	is_int(imap_flag_list_parse(cmd->args, cmd->count, &flags, &err), 0, "flag list parses");
	is_int(flags.count, 4, "duplicates removed case-insensitively");
	is_str(flags.flags[0], "\\Seen", "system flag canonicalized");
	is_str(flags.flags[1], "$Label", "keyword kept as given");
	is_str(flags.flags[3], "\\Draft", "\\Draft");
	imap_flag_list_clear(&flags);

	static const char *const bad_flags[] = {"(\\Recent)\r\n", "(\\Foo)\r\n", "(\"x\")\r\n",
	                                        "((a))\r\n"};
	for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		imap_parser_reset(parser);
		imap_parser_parse_data(parser, bad_flags[i], strlen(bad_flags[i]), &consumed);
		cmd = imap_parser_command(parser);
		ok(cmd == NULL || imap_flag_list_parse(cmd->args, cmd->count, &flags, &err) < 0,
		   "flag list refused: %.*s", (int)strlen(bad_flags[i]) - 2, bad_flags[i]);
		imap_flag_list_clear(&flags);
	}

	is_int(imap_date_time_parse("07-Feb-1994 21:52:25 -0800", 26, &t), 0, "date-time parses");
	is_int(t, 760686745, "UTC value");
	is_int(imap_date_time_parse(" 7-feb-1994 21:52:25 +0000", 26, &t), 0,
	       "space-padded day, lower-case month");
	is_int(t, 760657945, "UTC value");
	ok(imap_date_time_parse("07-Feb-1994 21:52:25 0800", 25, &t) < 0, "zone without sign");
	ok(imap_date_time_parse("30-Feb-1994 21:52:25 +0000", 26, &t) < 0, "no 30 February");
	ok(imap_date_time_parse("07-Feb-1994 24:52:25 +0000", 26, &t) < 0, "hour 24");
	ok(imap_date_time_parse("07-Foo-1994 21:52:25 +0000", 26, &t) < 0, "bad month");
	imap_date_time_format(760686745, buf, sizeof(buf));
	is_str(buf, "08-Feb-1994 05:52:25 +0000", "date-time formatted in UTC");

	uint32_t a[] = {4, 5, 6, 9, 10, 12};
	uint32_t b[] = {20, 21, 23, 24, 25, 26};
	char *s = imap_uid_list_format(a, NULL, 6);
	is_str(s, "4:6,9:10,12", "runs joined");
	free(s);
	s = imap_uid_list_format(a, b, 6);
	is_str(s, "4:5,6,9:10,12", "runs follow the paired list too");
	free(s);
	s = imap_uid_list_format(b, a, 6);
	is_str(s, "20:21,23,24:25,26", "and the other way round");
	free(s);

	struct store_uid_ranges ranges;
	uint32_t(*pairs)[2];
	imap_uid_array_ranges(a, 6, &ranges, &pairs);
	ok(ranges.count == 3 && pairs[0][0] == 4 && pairs[0][1] == 6 && pairs[1][0] == 9 &&
	       pairs[1][1] == 10 && pairs[2][0] == 12 && pairs[2][1] == 12,
	   "UID array to store ranges");
	free(pairs);
}

int
main(void)
{
	struct imap_parser_settings set = {.args_only = true};

	parser = imap_parser_create(&set);
	test_macros();
	test_simple();
	test_sections();
	test_rfc822_binary();
	test_modifiers();
	test_section_direct();
	test_msg_util();
	imap_parser_destroy(&parser);
	return done_testing();
}
