/* Unit tests for the RFC 3464 DSN builder (modules/dsn.c): structure,
 * fields, sanitising of network input, status codes from replies, the
 * returned header section. */
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "tap.h"

static const char original[] = "Return-Path: <a@x.test>\n"
                               "From: Alice <a@x.test>\r\n"
                               "Subject: Quarterly\r\n"
                               "\tfigures\r\n"
                               "Message-ID: <m1@x.test>\r\n"
                               "\r\n"
                               "Body text that must not be returned.\r\n";

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void
test_build(void)
{
	struct dsn_recipient rcpts[] = {
	    {.address = "bob@far.test",
	     .action = "failed",
	     .status = "5.1.1",
	     .diagnostic = "550 5.1.1 No such user",
	     .remote_mta = "mx.far.test"},
	    {.address = "carol@far.test",
	     .action = "failed",
	     .status = "4.4.1",
	     .diagnostic = "451 4.4.1 connection refused (gave up after 9 attempts)"},
	};
	struct dsn_params p = {
	    .reporting_mta = "mail.floe.test",
	    .mail_from = "a@x.test",
	    .envelope_id = "ENV42",
	    .arrival_date = 1700000000,
	    .now = 1700003600,
	    .unique = "u123",
	    .rcpts = rcpts,
	    .nrcpts = 2,
	    .original = original,
	    .original_size = sizeof(original) - 1,
	};
	size_t size;
	char *dsn = dsn_build(&p, &size);
	char *report, *headers;

	ok(dsn != NULL && size == strlen(dsn), "built, size matches");
	ok(strncmp(dsn, "From: Mail Delivery System <MAILER-DAEMON@mail.floe.test>\r\n", 59) == 0,
	   "from MAILER-DAEMON at the reporting host");
	ok(strstr(dsn, "\r\nTo: <a@x.test>\r\n") != NULL, "to the original sender");
	ok(strstr(dsn, "\r\nAuto-Submitted: auto-replied\r\n") != NULL, "Auto-Submitted");
	ok(strstr(dsn, "\r\nMessage-ID: <dsn.u123@mail.floe.test>\r\n") != NULL, "Message-ID");
	ok(strstr(dsn, "\r\nDate: Tue, 14 Nov 2023 23:13:20 +0000\r\n") != NULL, "Date in UTC");
	ok(strstr(dsn, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	               "\tboundary=\"=_dsn_u123\"\r\n") != NULL,
	   "multipart/report with report-type");
	is_int(count(dsn, "\r\n--=_dsn_u123\r\n"), 3, "three parts");
	ok(strstr(dsn, "\r\n--=_dsn_u123--\r\n") != NULL, "closing boundary");
	ok(strstr(dsn, "Content-Type: text/plain; charset=us-ascii\r\n") != NULL, "human part");
	ok(strstr(dsn, "<bob@far.test>: 550 5.1.1 No such user\r\n") != NULL,
	   "human part names the recipient and reason");

	report = strstr(dsn, "Content-Type: message/delivery-status\r\n");
	ok(report != NULL, "message/delivery-status part");
	if (report == NULL)
		report = dsn;
	ok(strstr(report, "\r\n\r\nReporting-MTA: dns; mail.floe.test\r\n") != NULL,
	   "Reporting-MTA");
	ok(strstr(report, "\r\nOriginal-Envelope-Id: ENV42\r\n") != NULL, "Original-Envelope-Id");
	ok(strstr(report, "\r\nArrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n") != NULL,
	   "Arrival-Date");
	ok(strstr(report, "\r\n\r\nFinal-Recipient: rfc822; bob@far.test\r\nAction: failed\r\n"
	                  "Status: 5.1.1\r\nRemote-MTA: dns; mx.far.test\r\n"
	                  "Diagnostic-Code: smtp; 550 5.1.1 No such user\r\n") != NULL,
	   "per-recipient fields, first recipient");
	ok(strstr(report,
	          "\r\n\r\nFinal-Recipient: rfc822; carol@far.test\r\nAction: failed\r\n"
	          "Status: 4.4.1\r\nDiagnostic-Code: smtp; 451 4.4.1 connection refused") != NULL,
	   "second recipient without Remote-MTA");
	ok(strstr(dsn, "Subject: Undelivered Mail Returned to Sender\r\n") != NULL, "subject");

	headers = strstr(dsn, "Content-Type: text/rfc822-headers\r\n");
	ok(headers != NULL, "text/rfc822-headers part");
	if (headers == NULL)
		headers = dsn;
	ok(strstr(headers,
	          "\r\n\r\nReturn-Path: <a@x.test>\r\nFrom: Alice <a@x.test>\r\n"
	          "Subject: Quarterly\r\n\tfigures\r\nMessage-ID: <m1@x.test>\r\n\r\n") != NULL,
	   "original headers returned with CRLF, folding kept");
	ok(strstr(dsn, "Body text") == NULL, "the original body is not returned");
	free(dsn);
}

static void
test_hostile_input(void)
{
	struct dsn_recipient rcpt = {
	    .address = "x@y.test\r\nBcc: victim@z.test",
	    .action = "failed",
	    .status = "5.0.0",
	    .diagnostic = "550 bad\r\n\r\n--=_dsn_u\r\nContent-Type: text/html\r\n\xff\xfe",
	    .remote_mta = "evil\nhost",
	};
	struct dsn_params p = {
	    .reporting_mta = "h.test",
	    .mail_from = "s@h.test>\r\nX-Injected: 1",
	    .now = 0,
	    .arrival_date = 0,
	    .rcpts = &rcpt,
	    .nrcpts = 1,
	    .original = "",
	    .original_size = 0,
	};
	size_t size;
	char *dsn = dsn_build(&p, &size);

	ok(strstr(dsn, "\r\nBcc:") == NULL && strstr(dsn, "\nBcc:") == NULL,
	   "no header injected through the address");
	ok(strstr(dsn, "\r\nX-Injected") == NULL, "none through the sender");
	ok(strstr(dsn, "\r\nContent-Type: text/html") == NULL, "no MIME part injected");
	ok(strstr(dsn, "Remote-MTA: dns; evil host\r\n") != NULL, "line breaks become spaces");
	ok(strstr(dsn, "??") != NULL && memchr(dsn, 0xff, size) == NULL, "8-bit bytes become '?'");
	ok(strstr(dsn, "Message-ID: <dsn.") != NULL, "a random unique part without one given");
	for (size_t i = 0; i < size; i++) {
		if ((unsigned char)dsn[i] >= 0x80 ||
		    (dsn[i] == '\n' && (i == 0 || dsn[i - 1] != '\r'))) {
			ok(0, "7-bit with CRLF only (byte %zu)", i);
			break;
		}
		if (i + 1 == size)
			ok(1, "7-bit with CRLF only");
	}
	free(dsn);
}

static void
test_status(void)
{
	char buf[16];

	is_str(dsn_status_of_reply(550, "5.1.1 No such user", buf, sizeof(buf)), "5.1.1",
	       "enhanced code taken from the reply");
	is_str(dsn_status_of_reply(550, "No such user", buf, sizeof(buf)), "5.0.0",
	       "derived from the basic code");
	is_str(dsn_status_of_reply(451, "5.1.1 contradicts", buf, sizeof(buf)), "4.0.0",
	       "a class that contradicts the code is ignored");
	is_str(dsn_status_of_reply(452, "4.2.2 Mailbox full", buf, sizeof(buf)), "4.2.2",
	       "temporary enhanced code");
	is_str(dsn_status_of_reply(554, "5.7.1", buf, sizeof(buf)), "5.7.1", "code alone");
	is_str(dsn_status_of_reply(550, "5.1.1x", buf, sizeof(buf)), "5.0.0",
	       "junk after the code");
	is_str(dsn_status_of_reply(0, NULL, buf, sizeof(buf)), "4.0.0",
	       "no reply at all: temporary");
	is_str(dsn_sanitize("a\tb\r\nc  ", buf, sizeof(buf)), "a b  c", "sanitize");
	is_str(dsn_sanitize("0123456789abcdefXYZ", buf, 8), "0123456", "sanitize truncates");
}

int
main(void)
{
	test_build();
	test_hostile_input();
	test_status();
	return done_testing();
}
