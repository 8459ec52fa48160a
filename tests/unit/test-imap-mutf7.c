/* Unit tests for modified UTF-7 mailbox names and the UTF-8 validator:
 * RFC 3501 examples, round trips over many code points, and every kind of
 * malformed or non-canonical input. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imapx/mutf7.h"
#include "tap.h"

static void
decode_ok(const char *in, const char *want)
{
	char *out = NULL;
	const char *error = NULL;
	int ret = mutf7_decode(in, strlen(in), &out, &error);

	if (!ok(ret == 0, "decode \"%s\"", in))
		printf("#   error: %s\n", error);
	if (ret == 0)
		is_str(out, want, "decode \"%s\" value", in);
	ok(mutf7_is_valid(in, strlen(in)), "\"%s\" is valid", in);
	free(out);
}

static void
decode_bad(const char *in, size_t len, const char *want_error)
{
	char *out = NULL;
	const char *error = NULL;
	int ret = mutf7_decode(in, len, &out, &error);

	ok(ret == -1 && out == NULL, "decode rejects \"%.*s\"", (int)len, in);
	if (ret == -1)
		ok(error != NULL && strstr(error, want_error) != NULL,
		   "error for \"%.*s\" mentions \"%s\" (got \"%s\")", (int)len, in, want_error,
		   error != NULL ? error : "(null)");
	ok(!mutf7_is_valid(in, len), "\"%.*s\" is not valid", (int)len, in);
	free(out);
}

static void
encode_ok(const char *in, size_t len, const char *want)
{
	char *out = NULL, *back = NULL;
	const char *error = NULL;
	int ret = mutf7_encode(in, len, &out, &error);

	if (!ok(ret == 0, "encode \"%s\"", want))
		printf("#   error: %s\n", error);
	if (ret != 0)
		return;
	is_str(out, want, "encode to \"%s\"", want);
	ok(mutf7_decode(out, strlen(out), &back, &error) == 0 && strlen(back) == len &&
	       memcmp(back, in, len) == 0,
	   "\"%s\" decodes back", want);
	free(out);
	free(back);
}

static void
encode_bad(const char *in, size_t len, const char *want_error, const char *what)
{
	char *out = NULL;
	const char *error = NULL;

	ok(mutf7_encode(in, len, &out, &error) == -1 && out == NULL, "encode rejects %s", what);
	ok(error != NULL && strstr(error, want_error) != NULL, "error for %s: \"%s\"", what,
	   error != NULL ? error : "(null)");
}

static void
test_rfc_examples(void)
{
	decode_ok("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語");
	decode_ok("&-", "&");
	decode_ok("Entw&APw-rfe", "Entwürfe");
	decode_ok("&AOQ-", "ä");
	decode_ok("&2D3eAA-", "\xF0\x9F\x98\x80");
	decode_ok("&ZeVnLIqe2D3eAA-x", "日本語\xF0\x9F\x98\x80x");
	decode_ok("&BB8EQAQ4BDIENQRC-", "Привет");
	decode_ok("a&AAE-b", "a\x01"
	                     "b");
	decode_ok("&AH8-", "\x7f");
	decode_ok("", "");
	decode_ok("INBOX", "INBOX");
	decode_ok("a&-b&-&-", "a&b&&");
	decode_ok("&AOk-&-", "é&");
	decode_ok("&-&AOk-", "&é");
	decode_ok("&AOk-x&AOk-", "éxé");
	decode_ok("[Gmail]/Sent Mail", "[Gmail]/Sent Mail");
	decode_ok("~user@example.com/INBOX", "~user@example.com/INBOX");
}

static void
test_decode_errors(void)
{
	decode_bad("&", 1, "not closed");
	decode_bad("&U,BTFw", 7, "not closed");
	decode_bad("abc&AOk", 7, "not closed");
	decode_bad("&AGE-", 5, "printable ASCII");
	decode_bad("&ACY-", 5, "printable ASCII"); /* '&' itself must be "&-" */
	decode_bad("&AC0-", 5, "printable ASCII"); /* '-' */
	decode_bad("&AOk-&AOk-", 10, "adjacent");
	decode_bad("&AOl-", 5, "padding");
	decode_bad("&AOkA-", 6, "incomplete");
	decode_bad("&A-", 3, "incomplete");
	decode_bad("&2D0-", 5, "surrogate");
	decode_bad("&3gA-", 5, "surrogate");
	decode_bad("&2D3YPQ-", 8, "surrogate"); /* high followed by high */
	decode_bad("&AAA-", 5, "NUL");
	decode_bad("\xc3\xa9", 2, "8-bit");
	decode_bad("a\x01"
	           "b",
	           3, "control");
	decode_bad("a\x7f", 2, "control");
	decode_bad("a\0b", 3, "control");
	decode_bad("&A/k-", 5, "bad character");
	decode_bad("&AOk=-", 6, "bad character");
	decode_bad("&AO k-", 6, "bad character");
}

static void
test_encode(void)
{
	encode_ok("é", 2, "&AOk-");
	encode_ok("&", 1, "&-");
	encode_ok("台北", 6, "&U,BTFw-");
	encode_ok("~peter/mail/台北/日本語", strlen("~peter/mail/台北/日本語"),
	          "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	encode_ok("Entwürfe", strlen("Entwürfe"), "Entw&APw-rfe");
	encode_ok("\xF0\x9F\x98\x80", 4, "&2D3eAA-");
	encode_ok("a\x01"
	          "b",
	          3, "a&AAE-b");
	encode_ok("ÿ/", 3, "&AP8-/");
	encode_ok("", 0, "");
	encode_ok("Sent Items", 10, "Sent Items");
	encode_ok("a&b", 3, "a&-b");

	encode_bad("\xc3", 1, "truncated", "a truncated sequence");
	encode_bad("\xc0\xaf", 2, "overlong", "an overlong '/'");
	encode_bad("\xe0\x80\xaf", 3, "overlong", "a 3-byte overlong");
	encode_bad("\xed\xa0\x80", 3, "surrogate", "an encoded surrogate");
	encode_bad("\xf4\x90\x80\x80", 4, "U+10FFFF", "a code point above U+10FFFF");
	encode_bad("\xff", 1, "lead byte", "byte 0xff");
	encode_bad("\x80", 1, "lead byte", "a lone continuation byte");
	encode_bad("a\0b", 3, "NUL", "NUL");
}

static void
append_utf8(char *buf, size_t *len, unsigned int cp)
{
	if (cp < 0x80) {
		buf[(*len)++] = (char)cp;
	} else if (cp < 0x800) {
		buf[(*len)++] = (char)(0xc0 | (cp >> 6));
		buf[(*len)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		buf[(*len)++] = (char)(0xe0 | (cp >> 12));
		buf[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[(*len)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		buf[(*len)++] = (char)(0xf0 | (cp >> 18));
		buf[(*len)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		buf[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[(*len)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* Random names over mixed ranges: encode, check validity and canonical
 * re-encoding, decode back. */
static void
test_round_trips(void)
{
	static const unsigned int ranges[][2] = {
	    {0x01, 0x7f}, {0x80, 0x7ff}, {0x800, 0xd7ff}, {0xe000, 0xfffd}, {0x10000, 0x10ffff},
	};
	unsigned int seed = 12345;
	int failures = 0;

	for (int round = 0; round < 2000; round++) {
		char name[256], *enc = NULL, *dec = NULL, *again = NULL;
		size_t len = 0;
		const char *error;
		int n = 1 + round % 20;

		for (int k = 0; k < n; k++) {
			seed = seed * 1103515245 + 12345;
			const unsigned int *r = ranges[(seed >> 16) % 5];
			seed = seed * 1103515245 + 12345;
			append_utf8(name, &len, r[0] + (seed >> 8) % (r[1] - r[0] + 1));
		}
		if (mutf7_encode(name, len, &enc, &error) < 0 ||
		    !mutf7_is_valid(enc, strlen(enc)) ||
		    mutf7_decode(enc, strlen(enc), &dec, &error) < 0 || strlen(dec) != len ||
		    memcmp(dec, name, len) != 0 ||
		    mutf7_encode(dec, strlen(dec), &again, &error) < 0 || strcmp(again, enc) != 0)
			failures++;
		free(enc);
		free(dec);
		free(again);
	}
	is_int(failures, 0, "2000 random names round-trip canonically");

	/* Every BMP character alone, and one per plane boundary. */
	failures = 0;
	for (unsigned int cp = 1; cp <= 0x10ffff; cp += cp < 0x10000 ? 1 : 0x3ff) {
		char name[8], *enc = NULL, *dec = NULL;
		size_t len = 0;
		const char *error;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		append_utf8(name, &len, cp);
		if (mutf7_encode(name, len, &enc, &error) < 0 ||
		    mutf7_decode(enc, strlen(enc), &dec, &error) < 0 || strlen(dec) != len ||
		    memcmp(dec, name, len) != 0)
			failures++;
		free(enc);
		free(dec);
	}
	is_int(failures, 0, "every BMP character and a sample of the planes round-trips");
}

static void
test_utf8_validate(void)
{
	const char *error = NULL;

	ok(mutf7_utf8_validate("", 0, &error) == 0, "empty UTF-8");
	ok(mutf7_utf8_validate("plain", 5, &error) == 0, "ASCII");
	ok(mutf7_utf8_validate("Grüße 日本 \xF0\x9F\x98\x80", strlen("Grüße 日本 \xF0\x9F\x98\x80"),
	                       &error) == 0,
	   "mixed UTF-8");
	ok(mutf7_utf8_validate("\xef\xbf\xbf", 3, &error) == 0, "U+FFFF");
	ok(mutf7_utf8_validate("\xf4\x8f\xbf\xbf", 4, &error) == 0, "U+10FFFF");
	ok(mutf7_utf8_validate("a\0b", 3, &error) == 0, "NUL is left to the caller");
	ok(mutf7_utf8_validate("\xc3", 1, &error) == -1 && strstr(error, "truncated"),
	   "truncated at end");
	ok(mutf7_utf8_validate("\xe6\x97x", 3, &error) == -1 && strstr(error, "truncated"),
	   "bad continuation");
	ok(mutf7_utf8_validate("\xc1\xbf", 2, &error) == -1 && strstr(error, "overlong"),
	   "overlong 2-byte");
	ok(mutf7_utf8_validate("\xf0\x8f\xbf\xbf", 4, &error) == -1 && strstr(error, "overlong"),
	   "overlong 4-byte");
	ok(mutf7_utf8_validate("\xed\xbf\xbf", 3, &error) == -1 && strstr(error, "surrogate"),
	   "encoded low surrogate");
	ok(mutf7_utf8_validate("\xf5\x80\x80\x80", 4, &error) == -1, "lead byte 0xf5");
	ok(mutf7_utf8_validate("\xfe", 1, &error) == -1, "byte 0xfe");
	ok(mutf7_is_plain("INBOX/Sent", 10), "plain name");
	ok(!mutf7_is_plain("a&b", 3), "'&' is not plain");
	ok(!mutf7_is_plain("\xc3\xa9", 2), "8-bit is not plain");
}

int
main(void)
{
	test_rfc_examples();
	test_decode_errors();
	test_encode();
	test_round_trips();
	test_utf8_validate();
	return done_testing();
}
