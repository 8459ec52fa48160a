/* Unit tests for the IMAP command parser. Each input is fed whole, byte by
 * byte and in odd-sized chunks, and must give the same transcript of
 * commands, literal requests and errors; the error cases check that the
 * parser recovers for the next command and never reads literal bytes it
 * refused as commands. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "imapx/parser.h"
#include "tap.h"
#include "xmalloc.h"

enum policy {
	BUFFER,
	STREAM,
	REFUSE,
};

struct run {
	enum policy policy;
	struct imap_parser_settings set;
	char *log;
	size_t log_len;
	/* what the sink got */
	char *sunk;
	size_t sunk_len;
	long sink_fail_after; /* fail once this many bytes arrived; -1 never */
	const char *last_tag;
};

static void logf_(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
logf_(struct run *r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	r->log = xrealloc(r->log, r->log_len + strlen(s) + 1);
	memcpy(r->log + r->log_len, s, strlen(s) + 1);
	r->log_len += strlen(s);
	free(s);
}

static void
log_args(struct run *r, const struct imap_arg *args, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		if (i > 0)
			logf_(r, " ");
		switch (a->type) {
		case IMAP_ARG_ATOM:
			logf_(r, "%s", a->str);
			break;
		case IMAP_ARG_NIL:
			logf_(r, "<NIL:%s>", a->str);
			break;
		case IMAP_ARG_QUOTED:
			logf_(r, "\"%s\"", a->str);
			break;
		case IMAP_ARG_LITERAL:
			logf_(r, "%s{%zu%s%s%s}", (a->flags & IMAP_ARG_LITERAL_BINARY) ? "~" : "",
			      a->len, (a->flags & IMAP_ARG_LITERAL_NONSYNC) ? "+" : "",
			      (a->flags & IMAP_ARG_LITERAL_STREAMED) ? ",streamed" : "",
			      (a->flags & IMAP_ARG_LITERAL_NUL) ? ",nul" : "");
			if (a->str != NULL) {
				logf_(r, "[");
				for (size_t k = 0; k < a->len; k++)
					logf_(r, a->str[k] == '\0' ? "\\0" : "%c", a->str[k]);
				logf_(r, "]");
			}
			break;
		case IMAP_ARG_LIST:
			logf_(r, "(");
			log_args(r, a->list, a->count);
			logf_(r, ")");
			break;
		}
	}
}

static int
sink(const unsigned char *data, size_t size, void *ctx, const char **error_r)
{
	struct run *r = ctx;

	if (r->sink_fail_after >= 0 && (long)(r->sunk_len + size) > r->sink_fail_after) {
		*error_r = "mailbox is full";
		return -1;
	}
	r->sunk = xrealloc(r->sunk, r->sunk_len + size + 1);
	memcpy(r->sunk + r->sunk_len, data, size);
	r->sunk_len += size;
	return 0;
}

static void
handle(struct run *r, struct imap_parser *p, enum imap_parser_result res)
{
	const struct imap_command *cmd;
	const struct imap_parser_literal *lit;

	switch (res) {
	case IMAP_PARSER_NEED_MORE:
		break;
	case IMAP_PARSER_COMMAND:
		cmd = imap_parser_command(p);
		logf_(r, "C:%s %s", cmd->tag ? cmd->tag : "(null)",
		      cmd->name ? cmd->name : "(null)");
		if (cmd->count > 0)
			logf_(r, " ");
		log_args(r, cmd->args, cmd->count);
		logf_(r, "|");
		break;
	case IMAP_PARSER_LITERAL:
		lit = imap_parser_literal(p);
		logf_(r, "L:%llu%s%s d%u n%zu|", (unsigned long long)lit->size,
		      lit->sync ? "" : "+", lit->binary ? "~" : "", lit->depth, lit->count);
		if (r->policy == STREAM)
			imap_parser_literal_stream(p, sink, r);
		else if (r->policy == REFUSE)
			imap_parser_literal_refuse(p);
		break;
	case IMAP_PARSER_ERROR:
		logf_(r, "E:%s:%s%s|", imap_parser_tag(p) ? imap_parser_tag(p) : "*",
		      imap_parser_error_kind(p) == IMAP_PARSER_ERROR_TOOBIG ? "[TOOBIG] "
		      : imap_parser_error_kind(p) == IMAP_PARSER_ERROR_SINK ? "[SINK] "
		                                                            : "",
		      imap_parser_error(p));
		break;
	}
}

/* Feeds in[0..len) arriving chunk bytes at a time; returns the transcript. */
static char *
run_chunked(struct run *proto, const char *in, size_t len, size_t chunk)
{
	struct run r = *proto;
	struct imap_parser *p = imap_parser_create(&r.set);
	size_t pos = 0, arrived = 0;
	int guard = 0;

	r.log = xstrdup("");
	r.log_len = 0;
	r.sunk = NULL;
	r.sunk_len = 0;
	for (;;) {
		size_t consumed;
		enum imap_parser_result res;

		res = imap_parser_parse_data(p, in + pos, arrived - pos, &consumed);
		pos += consumed;
		handle(&r, p, res);
		if (res == IMAP_PARSER_NEED_MORE) {
			if (arrived == len)
				break;
			arrived = arrived + chunk > len ? len : arrived + chunk;
		}
		if (++guard > 10000000)
			abort();
	}
	if (r.sunk_len > 0) {
		logf_(&r, "S:%.*s|", (int)r.sunk_len, r.sunk);
	}
	if (imap_parser_in_command(p))
		logf_(&r, "PARTIAL|");
	free(r.sunk);
	imap_parser_destroy(&p);
	return r.log;
}

/* Checks that every chunking gives want. */
static void
check_run(struct run *proto, const char *in, size_t len, const char *want, const char *what)
{
	static const size_t chunks[] = {(size_t)-1, 1, 2, 3, 7, 64};
	char *first = NULL;
	bool same = true;

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char *got = run_chunked(proto, in, len, chunks[i] == (size_t)-1 ? len : chunks[i]);

		if (first == NULL) {
			first = got;
			continue;
		}
		if (strcmp(got, first) != 0) {
			same = false;
			printf("#   chunk %zu: %s\n", chunks[i], got);
		}
		free(got);
	}
	is_str(first, want, "%s", what);
	ok(same, "%s: same result in every chunking", what);
	free(first);
}

static void
check_len(const char *in, size_t len, const char *want, const char *what)
{
	struct run r = {.policy = BUFFER, .sink_fail_after = -1};

	check_run(&r, in, len, want, what);
}

/* For string constants, which may contain NUL bytes. */
#define check(in, want, what) check_len(in, sizeof(in) - 1, want, what)

static void
test_basic(void)
{
	check("a1 NOOP\r\n", "C:a1 NOOP|", "simple command");
	check("a1 NOOP\n", "C:a1 NOOP|", "bare LF");
	check("a1 noop\r\na2 CAPABILITY\r\n", "C:a1 noop|C:a2 CAPABILITY|", "pipelined commands");
	check("\r\n\r\na1 NOOP\r\n", "C:a1 NOOP|", "empty lines are ignored");
	check("a1 NOOP \r\n", "C:a1 NOOP|", "trailing space tolerated");
	check("a1  LOGIN  a   b \r\n", "C:a1 LOGIN a b|", "extra spaces tolerated");
	check("a1 LOGIN user \"pa ss\\\"w\\\\d\"\r\n", "C:a1 LOGIN user \"pa ss\"w\\d\"|",
	      "quoted string with escapes");
	check("a1 LOGIN \"\" \"\"\r\n", "C:a1 LOGIN \"\" \"\"|", "empty quoted strings");
	check("a1 X nil NIL Nil \"NIL\"\r\n", "C:a1 X <NIL:nil> <NIL:NIL> <NIL:Nil> \"NIL\"|",
	      "NIL in any case, quoted NIL is a string");
	check("a1 X () ((a) (b (c))) (\"x\" NIL)\r\n", "C:a1 X () ((a) (b (c))) (\"x\" <NIL:NIL>)|",
	      "nested lists");
	check("a1 X ( a )\r\n", "C:a1 X (a)|", "spaces inside list parens tolerated");
	check("a1 STORE 1:* +FLAGS.SILENT (\\Seen \\Deleted $Forwarded)\r\n",
	      "C:a1 STORE 1:* +FLAGS.SILENT (\\Seen \\Deleted $Forwarded)|", "flags");
	check("a1 LIST \"\" %/*\r\n", "C:a1 LIST \"\" %/*|", "list wildcards are atom characters");
	check("a1 SELECT ~user@example.com/INBOX\r\n", "C:a1 SELECT ~user@example.com/INBOX|",
	      "atom starting with '~'");
	check("a1 SELECT foo]bar\r\n", "C:a1 SELECT foo]bar|", "']' in an astring");
	check("a1 LIST \"\" [Gmail]/*\r\n", "C:a1 LIST \"\" [Gmail]/*|", "brackets in a pattern");
	check("a1 SELECT a[b\r\n", "C:a1 SELECT a[b|", "unclosed '[' without spaces is an atom");
	check("]]] NOOP\r\n", "C:]]] NOOP|", "']' in a tag");
	check("a1 ID (\"name\" \"Thunderbird\" \"version\" \"115\")\r\n",
	      "C:a1 ID (\"name\" \"Thunderbird\" \"version\" \"115\")|", "ID list");
	check("a1 LOGOUT\r\n", "C:a1 LOGOUT|", "no arguments");
	check("a1 X \"tab\there\"\r\n", "C:a1 X \"tab\there\"|", "TAB inside quoted string");
}

static void
test_sections(void)
{
	check("a1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100> "
	      "BINARY[1]<0.10>)\r\n",
	      "C:a1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100> "
	      "BINARY[1]<0.10>)|",
	      "FETCH with section specs");
	check("a1 FETCH 1 BODY[]\r\n", "C:a1 FETCH 1 BODY[]|", "empty section");
	check("a1 FETCH 1 (BODY[1.2.MIME] BODY[HEADER.FIELDS.NOT (\"X-A\" \"X-)]\")])\r\n",
	      "C:a1 FETCH 1 (BODY[1.2.MIME] BODY[HEADER.FIELDS.NOT (\"X-A\" \"X-)]\")])|",
	      "quoted header names with brackets and parens inside a section");
	check("a1 FETCH 1 BODY[HEADER.FIELDS (A\r\na2 NOOP\r\n",
	      "E:a1:missing ']' in section|C:a2 NOOP|", "unclosed section");
	check("a1 FETCH 1 BODY[A[B]]\r\na2 NOOP\r\n", "E:a1:nested '[' in section|C:a2 NOOP|",
	      "nested bracket");
	check("a1 FETCH 1 BODY[HEADER.FIELDS ({3}\r\na2 NOOP\r\n",
	      "E:a1:literal not allowed inside '[...]'|C:a2 NOOP|", "literal inside a section");
}

static void
test_literals(void)
{
	check("a1 LOGIN {4}\r\nuser {4}\r\npass\r\n",
	      "L:4 d0 n0|L:4 d0 n1|C:a1 LOGIN {4}[user] {4}[pass]|", "synchronizing literals");
	check("a1 LOGIN {4+}\r\nuser {4+}\r\npass\r\n",
	      "L:4+ d0 n0|L:4+ d0 n1|C:a1 LOGIN {4+}[user] {4+}[pass]|",
	      "non-synchronizing literals");
	check("a1 APPEND INBOX (\\Seen) \"7-Feb-1994 21:52:25 -0800\" {12}\r\nline1\r\nline2\r\n",
	      "L:12 d0 n3|C:a1 APPEND INBOX (\\Seen) \"7-Feb-1994 21:52:25 -0800\" "
	      "{12}[line1\r\nline2]|",
	      "APPEND with flags and date");
	check("a1 APPEND INBOX ~{3}\r\na\0b\r\n", "L:3~ d0 n1|C:a1 APPEND INBOX ~{3}[a\\0b]|",
	      "binary literal may contain NUL");
	check("a1 APPEND INBOX ~{3+}\r\nabc\r\n", "L:3+~ d0 n1|C:a1 APPEND INBOX ~{3+}[abc]|",
	      "non-synchronizing binary literal");
	check("a1 APPEND INBOX CATENATE (URL \"/a\" TEXT {5}\r\nhello)\r\n",
	      "L:5 d1 n2|C:a1 APPEND INBOX CATENATE (URL \"/a\" TEXT {5}[hello])|",
	      "literal inside a list");
	check("a1 X {0}\r\n\r\n", "L:0 d0 n0|C:a1 X {0}[]|", "empty literal");
	check("a1 X {0}\r\n {0+}\r\n\r\n", "L:0 d0 n0|L:0+ d0 n1|C:a1 X {0}[] {0+}[]|",
	      "two empty literals");
	check("a1 X {3}\r\n)(\"\r\n", "L:3 d0 n0|C:a1 X {3}[)(\"]|", "literal data is not parsed");
	check("a1 X {3}\r\nabc{2}\r\n", "L:3 d0 n0|E:a1:missing space before '{'|",
	      "literal followed by junk");
	check("a1 X {003}\nabc\n", "L:3 d0 n0|C:a1 X {3}[abc]|", "leading zeros and bare LF");
	check("a1 X ~user\r\n", "C:a1 X ~user|", "'~' not followed by '{'");

	/* Literal data with NUL needs literal8. */
	check(
	    "a1 APPEND INBOX {3}\r\na\0b x\r\na2 NOOP\r\n",
	    "L:3 d0 n1|E:a1:NUL byte in literal (only a literal8 ~{n} may contain NUL)|C:a2 NOOP|",
	    "NUL in a plain literal");

	/* Header errors. */
	check("a1 X {abc}\r\na2 NOOP\r\n", "E:a1:invalid literal size|C:a2 NOOP|",
	      "non-numeric literal size");
	check("a1 X {}\r\na2 NOOP\r\n", "E:a1:invalid literal size|C:a2 NOOP|", "empty size");
	check("a1 X {+}\r\na2 NOOP\r\n", "E:a1:invalid literal size|C:a2 NOOP|", "size '+'");
	check("a1 X {3} abc\r\na2 NOOP\r\n",
	      "E:a1:literal size must be followed by CRLF|C:a2 NOOP|", "literal not at line end");
	check("a1 X {3}\rabc\r\na2 NOOP\r\n", "E:a1:CR not followed by LF|C:a2 NOOP|",
	      "literal header CR without LF");
	check("a1 X ~{3x}\r\na2 NOOP\r\n", "E:a1:invalid literal size|C:a2 NOOP|",
	      "bad binary literal header");
}

static void
test_literal_limits(void)
{
	struct run r = {.policy = BUFFER, .sink_fail_after = -1};
	const char *in;

	r.set.max_literal = 10;
	check_run(&r, "a1 LOGIN {11}\r\na2 NOOP\r\n", strlen("a1 LOGIN {11}\r\na2 NOOP\r\n"),
	          "E:a1:[TOOBIG] literal too large (max 10 bytes)|C:a2 NOOP|",
	          "oversized synchronizing literal is refused before reading");
	/* The client sent the bytes anyway (LITERAL+): they look like a
	 * command and must be skipped, exactly. */
	in = "a1 APPEND INBOX {20+}\r\nb1 DELETE INBOX\r\nxx\r\na2 NOOP\r\n";
	check_run(&r, in, strlen(in), "E:a1:[TOOBIG] literal too large (max 10 bytes)|C:a2 NOOP|",
	          "oversized non-synchronizing literal is skipped, never parsed");
	in = "a1 APPEND INBOX {5+}\r\n12345 {20+}\r\nb1 DELETE INBOX\r\nxx more {3}\r\na2 NOOP\r\n";
	check_run(&r, in, strlen(in),
	          "L:5+ d0 n1|E:a1:[TOOBIG] literal too large (max 10 bytes)|C:a2 NOOP|",
	          "MULTIAPPEND: second literal too large; the rest of the command is skipped");
	in = "a1 X {10}\r\n0123456789\r\n";
	check_run(&r, in, strlen(in), "L:10 d0 n0|C:a1 X {10}[0123456789]|",
	          "literal at the limit");
	in = "a1 X {99999999999999999999999+}\r\n";
	check_run(&r, in, strlen(in), "E:a1:[TOOBIG] literal too large (max 10 bytes)|PARTIAL|",
	          "absurd size: discarding never ends, the session closes");

	r.set.max_literal = 0;
	r.set.literal_minus = true;
	in = "a1 APPEND INBOX {4097+}\r\n";
	{
		struct imap_parser *p = imap_parser_create(&r.set);
		size_t consumed;

		ok(imap_parser_parse_data(p, in, strlen(in), &consumed) == IMAP_PARSER_ERROR &&
		       imap_parser_error_kind(p) == IMAP_PARSER_ERROR_TOOBIG,
		   "LITERAL-: {4097+} refused");
		is_str(imap_parser_error(p),
		       "non-synchronizing literal too large (max 4096 bytes with LITERAL-)",
		       "LITERAL- error text");
		is_int(imap_parser_skip_pending(p), 4097, "4097 bytes to skip");
		is_int(consumed, strlen(in), "header consumed");
		imap_parser_destroy(&p);
	}
	in = "a1 APPEND INBOX {4097}\r\n";
	check_run(&r, in, strlen(in), "L:4097 d0 n1|PARTIAL|",
	          "LITERAL-: a large synchronizing literal is fine");

	char *big = xmalloc(4200);
	int n = sprintf(big, "a1 X {4096+}\r\n");
	memset(big + n, 'x', 4096);
	strcpy(big + n + 4096, "\r\n");
	r.policy = STREAM;
	char *got = run_chunked(&r, big, strlen(big), 1000);
	ok(strncmp(got, "L:4096+ d0 n0|C:a1 X {4096+,streamed}|S:xxxx", 44) == 0,
	   "LITERAL-: {4096+} accepted");
	free(got);
	free(big);
}

static void
test_refuse_and_stream(void)
{
	struct run r = {.policy = REFUSE, .sink_fail_after = -1};
	const char *in;

	in = "a1 APPEND INBOX {5}\r\na2 NOOP\r\n";
	check_run(&r, in, strlen(in), "L:5 d0 n1|C:a2 NOOP|",
	          "refused synchronizing literal ends the command");
	in = "a1 APPEND INBOX {15+}\r\nb1 DELETE INBOX (x) {3+}\r\nabc\r\na2 NOOP\r\n";
	check_run(&r, in, strlen(in), "L:15+ d0 n1|C:a2 NOOP|",
	          "refused non-synchronizing literal and the rest of its command are skipped");

	r.policy = STREAM;
	in = "a1 APPEND INBOX (\\Seen) {11}\r\nhello world\r\n";
	check_run(&r, in, strlen(in),
	          "L:11 d0 n2|C:a1 APPEND INBOX (\\Seen) {11,streamed}|S:hello world|",
	          "streamed literal");
	in = "a1 APPEND INBOX {3+}\r\nabc {2+}\r\nde\r\n";
	check_run(&r, in, strlen(in),
	          "L:3+ d0 n1|L:2+ d0 n2|C:a1 APPEND INBOX {3+,streamed} {2+,streamed}|S:abcde|",
	          "MULTIAPPEND streamed");
	in = "a1 APPEND INBOX {3}\r\na\0b\r\n";
	check_run(&r, in, 26, "L:3 d0 n1|C:a1 APPEND INBOX {3,streamed,nul}|S:a|",
	          "NUL in a streamed literal is passed on and flagged");
	in = "a1 APPEND INBOX ~{3}\r\na\0b\r\n";
	check_run(&r, in, 27, "L:3~ d0 n1|C:a1 APPEND INBOX ~{3,streamed}|S:a|",
	          "NUL in a streamed literal8 is not flagged");
	r.sink_fail_after = 4;
	in = "a1 APPEND INBOX {10+}\r\n0123456789 {3+}\r\nabc\r\na2 NOOP\r\n";
	char *got = run_chunked(&r, in, strlen(in), 3);
	is_str(got, "L:10+ d0 n1|E:a1:[SINK] mailbox is full|C:a2 NOOP|S:0123|",
	       "sink failure skips the rest of the command");
	free(got);
}

static void
test_errors(void)
{
	check("a1 LOGIN \"abc\r\na2 NOOP\r\n", "E:a1:unterminated quoted string|C:a2 NOOP|",
	      "unterminated quoted string");
	check("a1 LOGIN \"a\\bc\" x\r\na2 NOOP\r\n",
	      "E:a1:invalid escape in quoted string (only \\\" and \\\\)|C:a2 NOOP|", "bad escape");
	check("a1 LOGIN \"caf\xc3\xa9\" x\r\na2 NOOP\r\n",
	      "C:a1 LOGIN \"caf\xc3\xa9\" x|C:a2 NOOP|",
	      "valid UTF-8 in a quoted string before UTF-8 mode");
	check("a1 SEARCH CHARSET UTF-8 SUBJECT \"Z\xc3\xbcrich\"\r\n",
	      "C:a1 SEARCH CHARSET UTF-8 SUBJECT \"Z\xc3\xbcrich\"|",
	      "SEARCH string in UTF-8 before UTF-8 mode");
	check("a1 LOGIN \"caf\xe9\" x\r\na2 NOOP\r\n",
	      "E:a1:invalid UTF-8: truncated sequence in quoted string|C:a2 NOOP|",
	      "Latin-1 in a quoted string is refused");
	check("a1 X \"\xff\"\r\na2 NOOP\r\n",
	      "E:a1:invalid UTF-8: bad lead byte in quoted string|C:a2 NOOP|",
	      "invalid byte in a quoted string is refused");
	check("a1 X \"caf\xc3\xa9\r\na2 NOOP\r\n", "E:a1:unterminated quoted string|C:a2 NOOP|",
	      "CR still ends an unterminated UTF-8 quoted string");
	check("a1 X a)\r\na2 NOOP\r\n", "E:a1:unexpected ')'|C:a2 NOOP|", "unbalanced ')'");
	check("a1 X (a (b)\r\na2 NOOP\r\n", "E:a1:missing ')'|C:a2 NOOP|", "missing ')'");
	check("a1 X \"a\"b\r\na2 NOOP\r\n", "E:a1:missing space after argument|C:a2 NOOP|",
	      "missing space after string");
	check("a1 X (a)(b)\r\na2 NOOP\r\n", "E:a1:missing space before '('|C:a2 NOOP|",
	      "missing space between lists");
	check("a1 X a(b\r\na2 NOOP\r\n", "E:a1:unexpected '(' in atom|C:a2 NOOP|",
	      "'(' inside an atom");
	check("a1 X a\"b\r\na2 NOOP\r\n", "E:a1:unexpected '\"' in atom|C:a2 NOOP|",
	      "'\"' inside an atom");
	check(
	    "a1 X caf\xc3\xa9\r\na2 NOOP\r\n",
	    "E:a1:8-bit character in atom (only allowed in a quoted string or literal)|C:a2 NOOP|",
	    "8-bit atom");
	check("a1 X a\x01 b\r\na2 NOOP\r\n", "E:a1:control character 0x01 in atom|C:a2 NOOP|",
	      "control character");
	check("a1 X \"a\0b\"\r\na2 NOOP\r\n", "E:a1:NUL byte in quoted string|C:a2 NOOP|",
	      "NUL in quoted string");
	check("a1\r\na2 NOOP\r\n", "E:a1:missing command name|C:a2 NOOP|", "tag only");
	check("a1 \r\na2 NOOP\r\n", "E:a1:missing command name|C:a2 NOOP|", "tag and space");
	check(" NOOP\r\na2 NOOP\r\n", "E:*:missing tag|C:a2 NOOP|", "missing tag");
	check("* NOOP\r\na2 NOOP\r\n", "E:*:unexpected '*' in tag|C:a2 NOOP|", "'*' tag");
	check("+ NOOP\r\na2 NOOP\r\n", "E:*:unexpected '+' in tag|C:a2 NOOP|", "'+' tag");
	check("a+1 NOOP\r\na2 NOOP\r\n", "E:*:unexpected '+' in tag|C:a2 NOOP|", "'+' inside tag");
	check("(a NOOP\r\na2 NOOP\r\n", "E:*:unexpected '(' in tag|C:a2 NOOP|", "'(' tag");
	check("a1 NO[OP\r\na2 NOOP\r\n", "E:a1:unexpected '[' in command name|C:a2 NOOP|",
	      "bad command name");
	check("a1 NOOP\rx\r\na2 NOOP\r\n", "E:a1:CR not followed by LF|C:a2 NOOP|",
	      "CR without LF");
	check("a1 NOOP\r\nPARTIAL", "C:a1 NOOP|PARTIAL|", "incomplete command stays pending");

	/* After an error in the middle of a line, a literal announced at its
	 * end is still honoured while skipping. */
	check("a1 X \"\x80\" {5+}\r\nb1 NO\r\na2 NOOP\r\n",
	      "E:a1:invalid UTF-8: bad lead byte in quoted string|C:a2 NOOP|",
	      "skip honours a non-synchronizing literal after the error");
	check("a1 X \x01 {7+}\r\nb1 NOOP a {3+}\r\nabc\r\na2 NOOP\r\n",
	      "E:a1:control character 0x01 in atom|C:a2 NOOP|", "skip follows chained literals");
	check("a1 X \x01 {5}\r\na2 NOOP\r\n", "E:a1:control character 0x01 in atom|C:a2 NOOP|",
	      "skip ends the command at a synchronizing literal");
	check("a1 X \x01 \"{5+}\"\r\na2 NOOP\r\n", "E:a1:control character 0x01 in atom|C:a2 NOOP|",
	      "a literal header inside a quoted string is not a literal");
	check("a1 X \"\\q {5+}\r\nabcde\r\na2 NOOP\r\n",
	      "E:a1:invalid escape in quoted string (only \\\" and \\\\)|"
	      "E:abcde:missing command name|C:a2 NOOP|",
	      "an unterminated quoted string hides the literal: the client's bytes are a new "
	      "line");
}

static void
test_utf8(void)
{
	struct run r = {.policy = BUFFER, .sink_fail_after = -1};
	const char *in;

	r.set.utf8 = true;
	in = "a1 SELECT \"Entw\xc3\xbcrfe\"\r\n";
	check_run(&r, in, strlen(in), "C:a1 SELECT \"Entw\xc3\xbcrfe\"|",
	          "UTF-8 in quoted string in UTF-8 mode");
	in = "a1 SELECT \"a\xc3\"\r\na2 NOOP\r\n";
	check_run(&r, in, strlen(in),
	          "E:a1:invalid UTF-8: truncated sequence in quoted string|C:a2 NOOP|",
	          "invalid UTF-8 in quoted string");
	in = "a1 SELECT \"\xed\xa0\x80\"\r\n";
	check_run(&r, in, strlen(in), "E:a1:invalid UTF-8: encoded surrogate in quoted string|",
	          "surrogate in quoted string");
	in = "a1 SELECT Entw\xc3\xbcrfe\r\n";
	check_run(&r, in, strlen(in),
	          "E:a1:8-bit character in atom (only allowed in a quoted string or literal)|",
	          "atoms stay ASCII in UTF-8 mode");
}

static void
test_limits(void)
{
	struct run r = {.policy = BUFFER, .sink_fail_after = -1};
	char line[200];

	/* "a1 X " + atom + "\r\n" is exactly max_line bytes. */
	r.set.max_line = 40;
	snprintf(line, sizeof(line), "a1 X %.*s\r\n", 33,
	         "0123456789012345678901234567890123456789");
	check_run(&r, line, strlen(line), "C:a1 X 012345678901234567890123456789012|",
	          "line at the limit");
	snprintf(line, sizeof(line), "a1 X %.*s\r\na2 NOOP\r\n", 34,
	         "0123456789012345678901234567890123456789");
	check_run(&r, line, strlen(line),
	          "E:a1:[TOOBIG] command line too long (max 40 bytes)|C:a2 NOOP|",
	          "line one byte over");
	/* Literal data does not count, but every header line does. */
	const char *in = "a1 X {30}\r\n012345678901234567890123456789 {3}\r\nabc\r\n";
	check_run(&r, in, strlen(in),
	          "L:30 d0 n0|L:3 d0 n1|C:a1 X {30}[012345678901234567890123456789] {3}[abc]|",
	          "literal data excluded from the line length");
	in = "a1 X {3}\r\nabc 0123456789012345678901234567890123456789\r\na2 NOOP\r\n";
	check_run(&r, in, strlen(in),
	          "L:3 d0 n0|E:a1:[TOOBIG] command line too long (max 40 bytes)|C:a2 NOOP|",
	          "the limit covers the whole command");
	in = "a1 X 0123456789012345678901234567890123456789 {5+}\r\nb1 NO\r\na2 NOOP\r\n";
	check_run(&r, in, strlen(in),
	          "E:a1:[TOOBIG] command line too long (max 40 bytes)|C:a2 NOOP|",
	          "a too-long line ending in a literal skips the literal");
	in = "a1 X 012345678901234567890123456789012 {5+}\r\nb1 NO\r\na2 NOOP\r\n";
	check_run(&r, in, strlen(in),
	          "E:a1:[TOOBIG] command line too long (max 40 bytes)|C:a2 NOOP|",
	          "the limit is reached inside the literal header");
	in = "a1 X \"0123456789012345678901234567890123456789 {5+}\"\r\na2 NOOP\r\n";
	check_run(&r, in, strlen(in),
	          "E:a1:[TOOBIG] command line too long (max 40 bytes)|C:a2 NOOP|",
	          "limit reached in a quoted string; its contents stay quoted while skipping");

	r.set.max_line = 0;
	r.set.max_tokens = 5;
	check_run(&r, "a1 X a b c d e\r\n", 16, "C:a1 X a b c d e|", "five arguments");
	check_run(&r, "a1 X a b c d e f\r\na2 NOOP\r\n", 27,
	          "E:a1:[TOOBIG] too many arguments (max 5)|C:a2 NOOP|", "six arguments");
	check_run(&r, "a1 X (a b c d e)\r\na2 NOOP\r\n", 27,
	          "E:a1:[TOOBIG] too many arguments (max 5)|C:a2 NOOP|", "lists count");
	in = "a1 X a b c d e {3+}\r\nabc\r\na2 NOOP\r\n";
	check_run(&r, in, strlen(in), "E:a1:[TOOBIG] too many arguments (max 5)|C:a2 NOOP|",
	          "a literal over the argument limit is skipped");

	r.set.max_tokens = 0;
	r.set.max_depth = 3;
	check_run(&r, "a1 X (((a)))\r\n", 14, "C:a1 X (((a)))|", "depth 3");
	check_run(&r, "a1 X ((((a))))\r\na2 NOOP\r\n", 25,
	          "E:a1:[TOOBIG] lists nested too deeply (max 3)|C:a2 NOOP|", "depth 4");

	/* 100 000 UIDs as one atom (about 650 KB, so with a raised line
	 * limit): one token, parsed in one pass. */
	r.set.max_depth = 0;
	size_t cap = 700000;
	char *big = xmalloc(cap), *p = big;
	p += sprintf(p, "a1 UID STORE ");
	for (unsigned i = 0; i < 100000; i++)
		p += sprintf(p, "%s%u", i == 0 ? "" : ",", 2 * i + 1);
	p += sprintf(p, " +FLAGS (\\Seen)\r\n");
	r.set.max_line = (size_t)(p - big);
	struct imap_parser *parser = imap_parser_create(&r.set);
	size_t consumed;
	ok(imap_parser_parse_data(parser, big, (size_t)(p - big), &consumed) ==
	           IMAP_PARSER_COMMAND &&
	       imap_parser_command(parser)->count == 4 &&
	       imap_parser_command(parser)->args[1].len == (size_t)(p - big) - 30,
	   "100 000-number UID set in one atom");
	imap_parser_destroy(&parser);
	free(big);
}

static void
test_evbuffer(void)
{
	struct evbuffer *in = evbuffer_new();
	struct imap_parser *p = imap_parser_create(NULL);
	char rest[32];

	evbuffer_add_printf(in, "a1 IDLE\r\nDONE\r\n");
	ok(imap_parser_parse(p, in) == IMAP_PARSER_COMMAND, "IDLE parsed from an evbuffer");
	is_str(imap_parser_command(p)->name, "IDLE", "name");
	is_int(evbuffer_get_length(in), 6, "bytes after the command stay in the buffer");
	evbuffer_remove(in, rest, 6);
	rest[6] = '\0';
	is_str(rest, "DONE\r\n", "the session reads DONE itself");

	/* Data in several evbuffer chunks, literal across them. */
	evbuffer_add_printf(in, "a2 LOGIN {4}\r\n");
	ok(imap_parser_parse(p, in) == IMAP_PARSER_LITERAL, "literal from evbuffer");
	ok(imap_parser_in_command(p), "in a command");
	imap_parser_literal_buffer(p);
	ok(imap_parser_parse(p, in) == IMAP_PARSER_NEED_MORE, "waits for literal data");
	evbuffer_add(in, "fr", 2);
	ok(imap_parser_parse(p, in) == IMAP_PARSER_NEED_MORE, "partial literal");
	struct evbuffer *tail = evbuffer_new();
	evbuffer_add_printf(tail, "ed \"secret\"\r\na3 NOOP\r\n");
	evbuffer_add_buffer(in, tail);
	evbuffer_free(tail);
	ok(imap_parser_parse(p, in) == IMAP_PARSER_COMMAND, "command completes");
	const struct imap_command *cmd = imap_parser_command(p);
	const char *s;
	size_t len;
	ok(cmd->count == 2 && imap_arg_astring(&cmd->args[0], &s, &len) && strcmp(s, "fred") == 0 &&
	       len == 4,
	   "literal astring");
	ok(imap_arg_string(&cmd->args[1], &s, NULL) && strcmp(s, "secret") == 0, "quoted string");
	ok(!imap_arg_atom(&cmd->args[1], &s), "a quoted string is not an atom");
	is_str(imap_parser_tag(p), "a2", "tag while the command is current");
	ok(imap_parser_parse(p, in) == IMAP_PARSER_COMMAND, "pipelined command");
	is_str(imap_parser_command(p)->tag, "a3", "second tag");
	ok(!imap_parser_in_command(p), "between commands");
	ok(imap_parser_parse(p, in) == IMAP_PARSER_NEED_MORE && evbuffer_get_length(in) == 0,
	   "buffer drained");

	/* Reset forgets a partial command. */
	evbuffer_add_printf(in, "a4 LOGIN \"par");
	ok(imap_parser_parse(p, in) == IMAP_PARSER_NEED_MORE && imap_parser_in_command(p),
	   "partial");
	imap_parser_reset(p);
	ok(!imap_parser_in_command(p) && imap_parser_tag(p) == NULL, "reset");
	evbuffer_add_printf(in, "a5 NOOP\r\n");
	ok(imap_parser_parse(p, in) == IMAP_PARSER_COMMAND &&
	       strcmp(imap_parser_command(p)->tag, "a5") == 0,
	   "parses after reset");

	evbuffer_free(in);
	imap_parser_destroy(&p);
	imap_parser_destroy(&p);
	ok(p == NULL, "destroy sets NULL and accepts NULL");
}

static void
test_accessors(void)
{
	struct imap_parser *p = imap_parser_create(NULL);
	const char *in = "t X NIL atom \"q\" (a b) {2}\r\nxy\r\n";
	size_t consumed;
	const char *s;
	size_t len;
	const struct imap_arg *list;
	size_t count;

	ok(imap_parser_parse_data(p, in, strlen(in), &consumed) == IMAP_PARSER_LITERAL,
	   "literal first");
	ok(imap_parser_parse_data(p, in + consumed, strlen(in) - consumed, &consumed) ==
	       IMAP_PARSER_COMMAND,
	   "then the command");
	const struct imap_arg *a = imap_parser_command(p)->args;
	ok(imap_arg_nstring(&a[0], &s, &len) && s == NULL && len == 0, "NIL nstring");
	ok(imap_arg_astring(&a[0], &s, NULL) && strcmp(s, "NIL") == 0, "NIL astring is \"NIL\"");
	ok(imap_arg_atom_equals(&a[1], "ATOM"), "atom_equals ignores case");
	ok(!imap_arg_string(&a[1], &s, NULL), "atom is not a string");
	ok(imap_arg_nstring(&a[2], &s, NULL) && strcmp(s, "q") == 0, "quoted nstring");
	ok(!imap_arg_atom_equals(&a[2], "q"), "quoted is not an atom");
	ok(imap_arg_list(&a[3], &list, &count) && count == 2 && imap_arg_atom_equals(&list[1], "b"),
	   "list");
	ok(!imap_arg_list(&a[1], &list, &count), "atom is not a list");
	ok(imap_arg_string(&a[4], &s, &len) && len == 2 && memcmp(s, "xy", 2) == 0,
	   "literal string");
	imap_parser_destroy(&p);
}

static void
test_args_only(void)
{
	struct run r = {.policy = BUFFER, .sink_fail_after = -1};
	const char *in;

	r.set.args_only = true;
	in = "HEADER.FIELDS (From \"To\" {2}\r\nCc)\r\n";
	check_run(&r, in, strlen(in),
	          "L:2 d1 n1|C:(null) (null) HEADER.FIELDS (From \"To\" {2}[Cc])|",
	          "bare argument list");
	in = "\r\n1.2.MIME\r\n";
	check_run(&r, in, strlen(in), "C:(null) (null)|C:(null) (null) 1.2.MIME|",
	          "empty line is an empty argument list");
	in = "a)\r\nTEXT\r\n";
	check_run(&r, in, strlen(in), "E:*:unexpected ')'|C:(null) (null) TEXT|",
	          "errors recover in args-only mode");
}

static void
test_big_literal(void)
{
	/* 3 MiB buffered literal fed in 64 KiB pieces. */
	size_t size = 3 * 1024 * 1024;
	char header[64];
	int hlen = snprintf(header, sizeof(header), "a1 APPEND INBOX {%zu+}\r\n", size);
	size_t total = (size_t)hlen + size + 2;
	char *in = xmalloc(total);
	struct imap_parser *p = imap_parser_create(NULL);
	size_t pos = 0, consumed;
	enum imap_parser_result res = IMAP_PARSER_NEED_MORE;

	memcpy(in, header, (size_t)hlen);
	for (size_t i = 0; i < size; i++)
		in[hlen + i] = (char)('a' + i % 26);
	memcpy(in + hlen + size, "\r\n", 2);
	while (pos < total) {
		size_t n = total - pos < 65536 ? total - pos : 65536;

		res = imap_parser_parse_data(p, in + pos, n, &consumed);
		pos += consumed;
		if (res == IMAP_PARSER_COMMAND)
			break;
	}
	ok(res == IMAP_PARSER_COMMAND && pos == total, "3 MiB literal parsed");
	const struct imap_arg *a = &imap_parser_command(p)->args[1];
	ok(a->len == size && memcmp(a->str, in + hlen, size) == 0 && a->str[size] == '\0',
	   "3 MiB literal intact and NUL-terminated");
	imap_parser_destroy(&p);
	free(in);
}

int
main(void)
{
	test_basic();
	test_sections();
	test_literals();
	test_literal_limits();
	test_refuse_and_stream();
	test_errors();
	test_utf8();
	test_limits();
	test_evbuffer();
	test_accessors();
	test_args_only();
	test_big_literal();
	return done_testing();
}
