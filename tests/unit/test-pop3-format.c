/* Unit tests of the POP3 wire formatting: byte-stuffing of RETR and TOP
 * output fed in pieces of every size, line endings, command splitting and
 * number parsing. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "pop3-private.h"
#include "tap.h"

/* Runs the stuffer over msg in pieces of step bytes; returns the output
 * (the caller frees). */
static char *
stuff(const char *msg, size_t step, bool top, uint64_t lines)
{
	struct evbuffer *out = evbuffer_new();
	struct pop3_stuffer st;
	size_t len = strlen(msg), n;
	char *text;

	pop3_stuffer_init(&st, top, lines);
	for (size_t off = 0; off < len; off += step) {
		if (pop3_stuffer_feed(&st, msg + off, len - off < step ? len - off : step, out))
			break;
	}
	pop3_stuffer_finish(&st, out);
	n = evbuffer_get_length(out);
	text = malloc(n + 1);
	evbuffer_remove(out, text, n);
	text[n] = '\0';
	evbuffer_free(out);
	return text;
}

/* Checks msg gives want whatever the piece size. */
static void
check(const char *what, const char *msg, bool top, uint64_t lines, const char *want)
{
	size_t steps[] = {1, 2, 3, 7, 1000};
	bool all = true;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char *got = stuff(msg, steps[i], top, lines);

		if (strcmp(got, want) != 0) {
			printf("#   %s, pieces of %zu: got \"%s\"\n", what, steps[i], got);
			all = false;
		}
		free(got);
	}
	ok(all, "%s", what);
}

static void
test_retr(void)
{
	check("plain message", "A: b\r\n\r\nHello\r\n", false, 0, "A: b\r\n\r\nHello\r\n.\r\n");
	check("dot lines stuffed", "A: b\r\n\r\n.\r\n..x\r\n.end", false, 0,
	      "A: b\r\n\r\n..\r\n...x\r\n..end\r\n.\r\n");
	check("dot inside a line untouched", "A: b\r\n\r\nx.y\r\n", false, 0,
	      "A: b\r\n\r\nx.y\r\n.\r\n");
	check("bare LF becomes CRLF", "A: b\n\nbody\n.x\n", false, 0,
	      "A: b\r\n\r\nbody\r\n..x\r\n.\r\n");
	check("unterminated last line gets CRLF", "A: b\r\n\r\nlast", false, 0,
	      "A: b\r\n\r\nlast\r\n.\r\n");
	check("bare CR kept inside a line", "A: b\r\n\r\na\rb\r\n", false, 0,
	      "A: b\r\n\r\na\rb\r\n.\r\n");
	check("empty message", "", false, 0, ".\r\n");
	check("message ending in CR", "A: b\r", false, 0, "A: b\r\n.\r\n");
}

static void
test_top(void)
{
	const char *msg = "From: a\r\nSubject: s\r\n\r\nl1\r\n.l2\r\nl3\r\n";

	check("TOP 0: header and blank line", msg, true, 0, "From: a\r\nSubject: s\r\n\r\n.\r\n");
	check("TOP 2", msg, true, 2, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\n.\r\n");
	check("TOP beyond the end", msg, true, 10,
	      "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	check("TOP of a header-only message", "From: a\r\nX: y", true, 3,
	      "From: a\r\nX: y\r\n.\r\n");
	check("TOP with bare LF", "From: a\n\nl1\nl2\n", true, 1, "From: a\r\n\r\nl1\r\n.\r\n");
	check("TOP: CR-only blank line ends header", "A: b\r\n\r\nx\r\ny\r\n", true, 1,
	      "A: b\r\n\r\nx\r\n.\r\n");
}

static void
test_parse(void)
{
	char name[8];
	const char *args;
	uint64_t v;

	ok(pop3_parse_command("retr 1", name, sizeof(name), &args) == 0 &&
	       strcmp(name, "RETR") == 0 && strcmp(args, "1") == 0,
	   "command upper-cased, arguments split");
	ok(pop3_parse_command("PASS  two spaces ", name, sizeof(name), &args) == 0 &&
	       strcmp(args, " two spaces ") == 0,
	   "only one separator space is removed");
	ok(pop3_parse_command("STAT", name, sizeof(name), &args) == 0 && args[0] == '\0',
	   "no arguments");
	ok(pop3_parse_command("", name, sizeof(name), &args) < 0, "empty line refused");
	ok(pop3_parse_command(" STAT", name, sizeof(name), &args) < 0, "leading space refused");
	ok(pop3_parse_command("TOOLONGCMD", name, sizeof(name), &args) < 0, "long keyword refused");
	ok(pop3_parse_command("R3TR 1", name, sizeof(name), &args) < 0, "digit in keyword refused");

	ok(pop3_parse_number("42", 100, &v) == 0 && v == 42, "number parsed");
	ok(pop3_parse_number("101", 100, &v) < 0, "number over max refused");
	ok(pop3_parse_number("", 100, &v) < 0, "empty number refused");
	ok(pop3_parse_number("-1", 100, &v) < 0, "sign refused");
	ok(pop3_parse_number("1 ", 100, &v) < 0, "trailing space refused");
	ok(pop3_parse_number("99999999999999999999999", UINT64_MAX, &v) < 0, "overflow refused");
	ok(pop3_parse_number("0", 100, &v) == 0 && v == 0, "zero parsed");
}

int
main(void)
{
	test_retr();
	test_top();
	test_parse();
	return done_testing();
}
