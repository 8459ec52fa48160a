/* Unit tests for SEARCH/SORT criteria parsing (imapx/search-parse.c): every
 * RFC 3501 key, MODSEQ, WITHIN, OBJECTID, charsets, ESEARCH RETURN, saved
 * results, translation into the store's tree, and SORT criteria. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "parser.h"
#include "search-parse.h"
#include "seqset.h"

static struct imap_parser *parser;

static const struct imap_command *
args_of(const char *text)
{
	char line[4096];
	size_t consumed, pos = 0, len;

	snprintf(line, sizeof(line), "%s\r\n", text);
	len = strlen(line);
	imap_parser_reset(parser);
	for (;;) {
		enum imap_parser_result r =
		    imap_parser_parse_data(parser, line + pos, len - pos, &consumed);
		pos += consumed;
		if (r == IMAP_PARSER_COMMAND)
			return imap_parser_command(parser);
		if (r != IMAP_PARSER_LITERAL)
			return NULL;
		imap_parser_literal_buffer(parser);
	}
}

static int
parse(const char *text, struct imap_search_query *q, const char **error_r)
{
	const struct imap_command *cmd = args_of(text);

	if (cmd == NULL) {
		memset(q, 0, sizeof(*q));
		*error_r = "imap parser rejected the text";
		return -2;
	}
	return imap_search_parse(cmd->args, cmd->count, q, error_r);
}

/* A compact rendering of a tree, for comparisons. */
static void
render(const struct imap_search_node *n, char *buf, size_t size)
{
	static const char *const names[] = {
	    "ALL",     "AND",    "OR",      "NOT",        "UID",     "FLAG",      "NOFLAG",
	    "BEFORE",  "ON",     "SINCE",   "SENTBEFORE", "SENTON",  "SENTSINCE", "LARGER",
	    "SMALLER", "HEADER", "SUBJECT", "FROM",       "TO",      "CC",        "BCC",
	    "BODY",    "TEXT",   "MODSEQ",  "OLDER",      "YOUNGER", "EMAILID",   "THREADID",
	};
	size_t len = strlen(buf);

	if (n->type == IMAP_SEARCH_SEQSET) {
		snprintf(buf + len, size - len, "SEQ:%s", n->set);
		return;
	}
	if (n->type == IMAP_SEARCH_UIDSET) {
		snprintf(buf + len, size - len, "UID:%s", n->set);
		return;
	}
	snprintf(buf + len, size - len, "%s", names[n->key]);
	len = strlen(buf);
	if (n->field != NULL)
		snprintf(buf + len, size - len, "[%s]", n->field);
	len = strlen(buf);
	if (n->text != NULL)
		snprintf(buf + len, size - len, "\"%s\"", n->text);
	len = strlen(buf);
	switch (n->key) {
	case SK_LARGER:
	case SK_SMALLER:
	case SK_MODSEQ:
	case SK_OLDER:
	case SK_YOUNGER:
		snprintf(buf + len, size - len, "=%llu", (unsigned long long)n->number);
		break;
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		snprintf(buf + len, size - len, "@%lld", (long long)n->date);
		break;
	default:
		break;
	}
	if (n->nchildren > 0) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "(");
		for (size_t i = 0; i < n->nchildren; i++) {
			if (i > 0) {
				len = strlen(buf);
				snprintf(buf + len, size - len, " ");
			}
			render(&n->children[i], buf, size);
		}
		len = strlen(buf);
		snprintf(buf + len, size - len, ")");
	}
}

/* The text for a test name: CR and LF and 8-bit bytes would break TAP. */
static const char *
printable(const char *text)
{
	static char buf[512];
	size_t i;

	for (i = 0; text[i] != '\0' && i + 1 < sizeof(buf); i++)
		buf[i] =
		    (unsigned char)text[i] < 0x20 || (unsigned char)text[i] >= 0x7f ? '.' : text[i];
	buf[i] = '\0';
	return buf;
}

static void
check(const char *text, const char *want)
{
	struct imap_search_query q;
	const char *err = NULL;
	char buf[2048] = "";

	int r = parse(text, &q, &err);
	if (r == 0)
		render(&q.root, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "error: %s", err);
	is_str(buf, want, "%s", printable(text));
	imap_search_query_clear(&q);
}

static void
check_bad(const char *text)
{
	struct imap_search_query q;
	const char *err = NULL;

	int r = parse(text, &q, &err);
	ok(r != 0 && !q.badcharset, "refused: %s (%s)", printable(text),
	   r == -1 ? printable(err) : "by the parser");
	imap_search_query_clear(&q);
}

static void
test_keys(void)
{
	check("ALL", "AND(ALL)");
	check("ANSWERED DELETED DRAFT FLAGGED SEEN RECENT",
	      "AND(FLAG\"\\Answered\" FLAG\"\\Deleted\" FLAG\"\\Draft\" FLAG\"\\Flagged\" "
	      "FLAG\"\\Seen\" FLAG\"\\Recent\")");
	check("unanswered undeleted undraft unflagged unseen old",
	      "AND(NOFLAG\"\\Answered\" NOFLAG\"\\Deleted\" NOFLAG\"\\Draft\" "
	      "NOFLAG\"\\Flagged\" NOFLAG\"\\Seen\" NOFLAG\"\\Recent\")");
	check("NEW", "AND(AND(FLAG\"\\Recent\" NOFLAG\"\\Seen\"))");
	check("KEYWORD $Forwarded UNKEYWORD Junk", "AND(FLAG\"$Forwarded\" NOFLAG\"Junk\")");
	check("KEYWORD \\seen", "AND(FLAG\"\\Seen\")");
	check("FROM alice TO \"Bob Smith\" CC carol BCC dave SUBJECT hello",
	      "AND(FROM\"alice\" TO\"Bob Smith\" CC\"carol\" BCC\"dave\" SUBJECT\"hello\")");
	check("BODY word TEXT {5}\r\nhello", "AND(BODY\"word\" TEXT\"hello\")");
	check("HEADER X-Spam yes HEADER List-Id \"\"",
	      "AND(HEADER[X-Spam]\"yes\" HEADER[List-Id]\"\")");
	check("LARGER 100 SMALLER 5000", "AND(LARGER=100 SMALLER=5000)");
	check("BEFORE 1-Feb-1994", "AND(BEFORE@760060800)");
	check("ON \"01-Jan-1970\" SINCE 31-Dec-2023", "AND(ON@0 SINCE@1703980800)");
	check("SENTBEFORE 29-Feb-2024 SENTON 1-mar-2024 SENTSINCE 2-MAR-2024",
	      "AND(SENTBEFORE@1709164800 SENTON@1709251200 SENTSINCE@1709337600)");
	check("OLDER 3600 YOUNGER 60", "AND(OLDER=3600 YOUNGER=60)");
	check("EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9",
	      "AND(EMAILID\"M6d99ac3275bb4e\" THREADID\"T64b478a75b7ea9\")");
	check("1:5,7 UID 10:*", "AND(SEQ:1:5,7 UID:10:*)");
	check("*", "AND(SEQ:*)");
}

static void
test_structure(void)
{
	check("NOT SEEN", "AND(NOT(FLAG\"\\Seen\"))");
	check("OR SEEN FLAGGED", "AND(OR(FLAG\"\\Seen\" FLAG\"\\Flagged\"))");
	check("OR (SEEN FROM a) NOT (TO b)",
	      "AND(OR(AND(FLAG\"\\Seen\" FROM\"a\") NOT(AND(TO\"b\"))))");
	check("OR OR 1 2 3", "AND(OR(OR(SEQ:1 SEQ:2) SEQ:3))");
	check("NOT NOT UNSEEN", "AND(NOT(NOT(NOFLAG\"\\Seen\")))");
	check("(((ALL)))", "AND(AND(AND(AND(ALL))))");

	check_bad("");
	check_bad("OR SEEN");
	check_bad("NOT");
	check_bad("()");
	check_bad("FOO");
	check_bad("FROM");
	check_bad("BEFORE 32-Jan-2020");
	check_bad("BEFORE 29-Feb-2023");
	check_bad("BEFORE 1-Foo-2020");
	check_bad("BEFORE 2020-01-01");
	check_bad("LARGER x");
	check_bad("LARGER -1");
	check_bad("OLDER 0");
	check_bad("UID");
	check_bad("UID abc");
	check_bad("0");
	check_bad("1:0x");
	check_bad("HEADER \"\" x");
	check_bad("HEADER \"A:B\" x");
	check_bad("KEYWORD");
	check_bad("KEYWORD \"quoted\"");
	check_bad("EMAILID \"\"");
	check_bad("\"ALL\"");

	/* NOT chains deeper than any client needs */
	char deep[1024] = "";
	for (int i = 0; i < 100; i++)
		strcat(deep, "NOT ");
	strcat(deep, "ALL");
	check_bad(deep);
}

static void
test_modseq_charset_return(void)
{
	struct imap_search_query q;
	const char *err;

	check("MODSEQ 720162338", "AND(MODSEQ=720162338)");
	is_int(parse("MODSEQ \"/flags/\\\\draft\" all 620162338", &q, &err), 0,
	       "MODSEQ with entry name and type");
	ok(q.uses_modseq, "uses_modseq set");
	is_int(q.root.children[0].number, 620162338, "modseq value");
	imap_search_query_clear(&q);
	check_bad("MODSEQ \"/flags/\\\\draft\" sometimes 1");
	check_bad("MODSEQ");

	/* RFC 9051: valid UTF-8 in a quoted string, in every mode. */
	check("CHARSET UTF-8 SUBJECT \"caf\xc3\xa9\"", "AND(SUBJECT\"caf\xc3\xa9\")");
	is_int(parse("CHARSET UTF-8 SUBJECT \"caf\xe9\"", &q, &err), -2,
	       "invalid UTF-8 in a quoted string is refused by the parser");
	imap_search_query_clear(&q);
	check("CHARSET UTF-8 SUBJECT {5}\r\ncaf\xc3\xa9", "AND(SUBJECT\"caf\xc3\xa9\")");
	check("CHARSET utf-8 TEXT {6}\r\n\xd0\x9c\xd0\xb8\xd1\x80",
	      "AND(TEXT\"\xd0\x9c\xd0\xb8\xd1\x80\")");
	check("CHARSET US-ASCII FROM x", "AND(FROM\"x\")");
	check_bad("CHARSET US-ASCII FROM {2}\r\n\xc3\xa9");
	check_bad("CHARSET UTF-8 FROM {2}\r\n\xc3\x28");
	check_bad("CHARSET UTF-8 FROM {3}\r\n\xed\xa0\x80");
	check_bad("CHARSET UTF-8 FROM {2}\r\n\xc0\x80");
	check_bad("CHARSET UTF-8 FROM {1}\r\n\xe2");
	check_bad("CHARSET");

	is_int(parse("CHARSET ISO-8859-1 FROM x", &q, &err), -1, "unknown charset refused");
	ok(q.badcharset, "as BADCHARSET");
	imap_search_query_clear(&q);

	is_int(parse("RETURN (MIN MAX COUNT) UNSEEN", &q, &err), 0, "RETURN parses");
	ok(q.esearch, "esearch");
	is_int(q.returns,
	       IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX | IMAP_SEARCH_RETURN_COUNT,
	       "return options");
	imap_search_query_clear(&q);

	is_int(parse("RETURN () CHARSET UTF-8 ALL", &q, &err), 0, "RETURN () parses");
	is_int(q.returns, IMAP_SEARCH_RETURN_ALL, "RETURN () means ALL");
	imap_search_query_clear(&q);

	is_int(parse("RETURN (SAVE ALL) FLAGGED", &q, &err), 0, "RETURN SAVE parses");
	is_int(q.returns, IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_ALL, "save and all");
	imap_search_query_clear(&q);
	check_bad("RETURN (FOO) ALL");
	check_bad("RETURN ALL");

	is_int(parse("UID $ OR $ 1", &q, &err), 0, "saved result parses");
	ok(q.uses_saved, "uses_saved");
	imap_search_query_clear(&q);
	is_int(parse("SEEN", &q, &err), 0, "plain parse");
	ok(!q.uses_saved && !q.esearch && !q.uses_modseq, "no flags set");
	imap_search_query_clear(&q);
}

/* The resolver maps sequence numbers n to UID 10n and "*" to 50 (a
 * five-message mailbox), and "$" to UIDs 20 and 40. */
static int
resolve(const char *set, bool uid, struct seqset *uids_r, void *ctx, const char **error_r)
{
	int *calls = ctx;
	struct seqset *tmp;

	(*calls)++;
	if (strcmp(set, "$") == 0) {
		seqset_add(uids_r, 20);
		seqset_add(uids_r, 40);
		return 0;
	}
	if (uid) {
		if (seqset_parse(uids_r, set, strlen(set), 50, 0, error_r) < 0)
			return -1;
		return 0;
	}
	tmp = seqset_create();
	if (seqset_parse(tmp, set, strlen(set), 5, 0, error_r) < 0) {
		seqset_destroy(&tmp);
		return -1;
	}
	struct seqset_iter it;
	uint32_t n;
	seqset_iter_init(&it, tmp);
	while (seqset_iter_next(&it, &n))
		if (n <= 5)
			seqset_add(uids_r, n * 10);
	seqset_destroy(&tmp);
	return 0;
}

static void
test_to_store(void)
{
	struct imap_search_query q;
	struct store_search tree;
	const char *err;
	int calls = 0;

	is_int(parse("FROM x", &q, &err), 0, "single key");
	is_int(imap_search_to_store(&q.root, resolve, &calls, &tree, &err), 0, "translates");
	is_int(tree.key, SK_FROM, "a one-key AND collapses to the key");
	is_str(tree.text, "x", "text kept");
	imap_search_store_free(&tree);
	imap_search_query_clear(&q);

	is_int(parse("2:3 OR UID 40:* NOT $ HEADER X-A b", &q, &err), 0, "mixed criteria");
	is_int(imap_search_to_store(&q.root, resolve, &calls, &tree, &err), 0, "translates");
	is_int(calls, 3, "resolver called for each set");
	is_int(tree.key, SK_AND, "top AND");
	is_int(tree.nchildren, 3, "three children");
	is_int(tree.children[0].key, SK_UID, "seqset becomes SK_UID");
	is_int(tree.children[0].uids.count, 2, "two ranges (20 and 30 are not adjacent)");
	ok(tree.children[0].uids.ranges[0][0] == 20 && tree.children[0].uids.ranges[1][0] == 30,
	   "seq 2:3 -> uid 20,30");
	is_int(tree.children[1].key, SK_OR, "OR");
	const struct store_search *uidk = &tree.children[1].children[0];
	ok(uidk->key == SK_UID && uidk->uids.count == 1 && uidk->uids.ranges[0][0] == 40 &&
	       uidk->uids.ranges[0][1] == 50,
	   "UID 40:* -> 40:50");
	const struct store_search *notk = &tree.children[1].children[1];
	ok(notk->key == SK_NOT && notk->nchildren == 1 && notk->children[0].key == SK_UID &&
	       notk->children[0].uids.count == 2,
	   "NOT $ -> NOT UID 20,40");
	ok(tree.children[2].key == SK_HEADER && strcmp(tree.children[2].field, "X-A") == 0 &&
	       strcmp(tree.children[2].text, "b") == 0,
	   "HEADER field and value");
	imap_search_store_free(&tree);
	imap_search_query_clear(&q);

	is_int(parse("7", &q, &err), 0, "seq beyond the mailbox parses");
	is_int(imap_search_to_store(&q.root, resolve, &calls, &tree, &err), 0, "translates");
	ok(tree.key == SK_UID && tree.uids.count == 0, "to an empty UID set (matches nothing)");
	imap_search_store_free(&tree);
	imap_search_query_clear(&q);
}

static void
test_sort(void)
{
	const struct imap_command *cmd;
	struct store_sort *keys;
	size_t n;
	const char *err;

	cmd =
	    args_of("(REVERSE DATE subject REVERSE ARRIVAL SIZE FROM TO CC DISPLAYFROM DISPLAYTO)");
	is_int(imap_sort_parse_criteria(&cmd->args[0], &keys, &n, &err), 0, "sort criteria parse");
	is_int(n, 9, "nine keys");
	ok(keys[0].key == SORT_DATE && keys[0].reverse, "REVERSE DATE");
	ok(keys[1].key == SORT_SUBJECT && !keys[1].reverse, "SUBJECT");
	ok(keys[2].key == SORT_ARRIVAL && keys[2].reverse, "REVERSE ARRIVAL");
	ok(keys[3].key == SORT_SIZE && keys[4].key == SORT_FROM && keys[5].key == SORT_TO &&
	       keys[6].key == SORT_CC && keys[7].key == SORT_DISPLAYFROM &&
	       keys[8].key == SORT_DISPLAYTO,
	   "the rest in order");
	free(keys);

	static const char *const bad[] = {
	    "()",    "(REVERSE)", "(DATE REVERSE)", "(REVERSE REVERSE DATE)",
	    "(FOO)", "DATE",      "(\"DATE\")"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd = args_of(bad[i]);
		ok(cmd != NULL && imap_sort_parse_criteria(&cmd->args[0], &keys, &n, &err) < 0,
		   "sort refused: %s", bad[i]);
	}

	struct imap_search_query q;
	cmd = args_of("SEEN FROM x");
	is_int(imap_search_parse_criteria(cmd->args, cmd->count, "UTF-8", &q, &err), 0,
	       "criteria with a known charset");
	is_int(q.root.nchildren, 2, "two keys");
	imap_search_query_clear(&q);
	is_int(imap_search_parse_criteria(cmd->args, cmd->count, "KOI8-R", &q, &err), -1,
	       "criteria with an unknown charset");
	ok(q.badcharset, "BADCHARSET");
	imap_search_query_clear(&q);
}

int
main(void)
{
	struct imap_parser_settings set = {.args_only = true};

	parser = imap_parser_create(&set);
	test_keys();
	test_structure();
	test_modseq_charset_return();
	test_to_store();
	test_sort();
	imap_parser_destroy(&parser);
	return done_testing();
}
