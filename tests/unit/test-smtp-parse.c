/* Unit tests for the SMTP/LMTP parsers (mailflow/smtp-parse.c): command
 * splitting, submission and LMTP paths (source routes, quoting, limits),
 * and the MAIL FROM parameters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp-parse.h"
#include "tap.h"

static void
test_split(void)
{
	const char line[] = "MAIL\t FROM:<a@b.test>  \t";
	size_t verb, args_len;
	const char *args = smtp_split_command(line, strlen(line), &verb, &args_len);

	is_int(verb, 4, "verb length");
	is_int(args_len, strlen("FROM:<a@b.test>"), "arguments without blanks around");
	ok(strncmp(args, "FROM:<a@b.test>", args_len) == 0, "arguments");
	args = smtp_split_command("NOOP", 4, &verb, &args_len);
	ok(verb == 4 && args_len == 0, "no arguments");
	args = smtp_split_command("", 0, &verb, &args_len);
	ok(verb == 0 && args_len == 0, "empty line");
}

static char *
path(const char *text, bool allow_empty, const char **rest_r, const char **error_r)
{
	const char *p = text;
	char *addr;

	*error_r = NULL;
	addr = smtp_parse_path(&p, allow_empty, error_r);
	*rest_r = p;
	return addr;
}

static void
test_smtp_path(void)
{
	const char *rest, *error;
	char *a, longpath[300];

	a = path(" <user@example.test> SIZE=10", false, &rest, &error);
	is_str(a, "user@example.test", "address");
	is_str(rest, " SIZE=10", "rest after '>'");
	free(a);
	a = path("<>", true, &rest, &error);
	is_str(a, "", "null sender when allowed");
	free(a);
	ok(path("<>", false, &rest, &error) == NULL && error != NULL, "null path refused");
	a = path("<@relay.test,@b.test:user@example.test>", false, &rest, &error);
	is_str(a, "user@example.test", "source route dropped");
	free(a);
	/* The colon of a source route must come before the closing bracket. */
	ok(path("<@relay.test>x:y@z.test>", false, &rest, &error) == NULL, "colon after '>'");
	is_str(error, "bad source route", "its reason");
	ok(path("user@example.test", false, &rest, &error) == NULL, "brackets required");
	ok(path("<user@example.test", false, &rest, &error) == NULL, "missing '>'");
	ok(path("<\"q\"@example.test>", false, &rest, &error) == NULL, "quotes refused");
	ok(path("<user>", false, &rest, &error) == NULL, "no domain");
	ok(path("<user@>", false, &rest, &error) == NULL, "empty domain");
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '<';
	memcpy(longpath + 250, "@b.test>", 9);
	ok(path(longpath, false, &rest, &error) == NULL, "over 254 octets refused");
	is_str(error, "address too long", "its reason");
}

static void
test_lmtp_path(void)
{
	const char *params, *error;
	char *addr = NULL;

	ok(lmtp_parse_path("from: <\"a b\"@x.test> BODY=8BITMIME", "FROM:", &addr, &params,
	                   &error) == 0,
	   "quoted local part and a space after the colon");
	is_str(addr, "\"a b\"@x.test", "address kept as given");
	is_str(params, "BODY=8BITMIME", "parameters");
	free(addr);
	ok(lmtp_parse_path("TO:<\"a>b\"@x.test>", "TO:", &addr, &params, &error) == 0,
	   "'>' inside quotes");
	is_str(addr, "\"a>b\"@x.test", "whole quoted address");
	free(addr);
	ok(lmtp_parse_path("TO:<>", "TO:", &addr, &params, &error) == 0 && addr[0] == '\0',
	   "empty path parsed (RCPT refuses it later)");
	free(addr);
	ok(lmtp_parse_path("TO:<a@b", "TO:", &addr, &params, &error) < 0, "missing '>'");
	ok(strncmp(error, "501 ", 4) == 0, "a 501 reply");
	ok(lmtp_parse_path("TO:<@x.test>", "TO:", &addr, &params, &error) < 0, "bad route");
	ok(lmtp_parse_path("FROM:<a\x01@b>", "FROM:", &addr, &params, &error) < 0,
	   "control character");
	ok(lmtp_parse_path("TO:<a@b>", "FROM:", &addr, &params, &error) < 0, "wrong keyword");
}

static void
test_mail_params(void)
{
	struct smtp_mail_params p;
	char error[128];

	ok(smtp_parse_mail_params(" SIZE=1234\tbody=8bitmime AUTH=<>", true, &p, error,
	                          sizeof(error)) == 0,
	   "SIZE, BODY, AUTH");
	ok(p.have_size && p.size == 1234, "size parsed");
	ok(smtp_parse_mail_params("", false, &p, error, sizeof(error)) == 0 && !p.have_size,
	   "no parameters");
	ok(smtp_parse_mail_params("SIZE=99999999999999999999999", false, &p, error,
	                          sizeof(error)) == 0 &&
	       p.size == UINT64_MAX,
	   "huge SIZE saturates");
	ok(smtp_parse_mail_params("SIZE=-5", false, &p, error, sizeof(error)) < 0, "signed SIZE");
	is_str(error, "501 5.5.4 Bad SIZE parameter", "its reply");
	ok(smtp_parse_mail_params("SIZE=", false, &p, error, sizeof(error)) < 0, "empty SIZE");
	ok(smtp_parse_mail_params("AUTH=<>", false, &p, error, sizeof(error)) < 0,
	   "AUTH only where allowed");
	is_str(error, "555 5.5.4 Unsupported MAIL FROM parameter AUTH=<>", "its reply");
	ok(smtp_parse_mail_params("BODY=BINARYMIME", true, &p, error, sizeof(error)) < 0,
	   "BINARYMIME refused");
}

int
main(void)
{
	test_split();
	test_smtp_path();
	test_lmtp_path();
	test_mail_params();
	return done_testing();
}
