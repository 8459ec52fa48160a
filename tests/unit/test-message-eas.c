/* tests/unit/test-message-eas.c: the MIME helpers of ActiveSync: header
 * fields, plain/HTML bodies made from each other, charsets, attachments
 * with part numbers and inline images, part content, UTF-8 truncation,
 * previews, envelopes, Bcc removal, SmartReply/SmartForward and drafts. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "message-eas.h"
#include "tap.h"

static char *
crlf(const char *s)
{
	GString *out = g_string_new(NULL);

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			g_string_append_c(out, '\r');
		g_string_append_c(out, *s);
	}
	return g_string_free(out, FALSE);
}

static const char plain_msg[] = "From: \"Alice Example\" <alice@example.com>\n"
                                "To: Bob <bob@example.com>, carol@example.com\n"
                                "Cc: =?utf-8?q?Ren=C3=A9?= <rene@example.com>\n"
                                "Subject: =?iso-8859-1?q?Caf=E9?= menu\n"
                                "Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
                                "Message-ID: <1234@example.com>\n"
                                "X-Priority: 1\n"
                                "Content-Type: text/plain; charset=iso-8859-1\n"
                                "Content-Transfer-Encoding: quoted-printable\n"
                                "\n"
                                "Caf=E9 au lait & <tea>\n"
                                "second line\n";

static const char mixed_msg[] =
    "From: alice@example.com\n"
    "To: bob@example.com\n"
    "Subject: report\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\n"
    "\n"
    "--alt\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "Plain version\n"
    "--alt\n"
    "Content-Type: multipart/related; boundary=\"rel\"\n"
    "\n"
    "--rel\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<html><body><p>HTML <b>version</b></p><img src=\"cid:logo@x\"></body></html>\n"
    "--rel\n"
    "Content-Type: image/png\n"
    "Content-ID: <logo@x>\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "iVBORw0KGgo=\n"
    "--rel--\n"
    "--alt--\n"
    "--outer\n"
    "Content-Type: application/pdf; name=\"report.pdf\"\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "SGVsbG8gUERGIQ==\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: x@example.com\n"
    "Subject: inner\n"
    "\n"
    "inner body\n"
    "--outer--\n";

static const char html_only[] = "From: a@example.com\n"
                                "To: b@example.com\n"
                                "Subject: html\n"
                                "Importance: low\n"
                                "Content-Type: text/html; charset=utf-8\n"
                                "\n"
                                "<html><body><p>Hello &amp; welcome</p></body></html>\n";

static void
test_plain(void)
{
	char *raw = crlf(plain_msg);
	struct message_eas m;
	const char *error = NULL;

	ok(message_eas_parse(raw, strlen(raw), &m, &error) == 0, "plain message parses");
	ok(strstr(m.from, "alice@example.com") != NULL && strstr(m.from, "Alice Example") != NULL,
	   "From has name and address: %s", m.from);
	ok(strstr(m.to, "bob@example.com") != NULL && strstr(m.to, "carol@example.com") != NULL,
	   "To lists both: %s", m.to);
	ok(strstr(m.cc, "René") != NULL, "Cc decoded: %s", m.cc);
	is_str(m.subject, "Café menu", "subject decoded from ISO-8859-1");
	is_str(m.display_to, "Bob; carol@example.com", "DisplayTo");
	is_str(m.thread_topic, "Café menu", "ThreadTopic from the base subject");
	is_str(m.message_id, "<1234@example.com>", "Message-ID");
	is_int(m.importance, 2, "X-Priority 1 is high importance");
	is_int(m.date, 760686745, "Date");
	is_str(m.message_class, "IPM.Note", "MessageClass");
	is_int(m.native_type, 1, "native type plain");
	ok(strncmp(m.text, "Café au lait & <tea>", strlen("Café au lait & <tea>")) == 0,
	   "text decoded");
	ok(strstr(m.html, "Café au lait &amp; &lt;tea&gt;<br>") != NULL, "HTML made from text");
	is_int(m.nattachments, 0, "no attachments");
	message_eas_clear(&m);
	free(raw);
}

static void
test_mixed(void)
{
	char *raw = crlf(mixed_msg);
	struct message_eas m;
	const char *error = NULL;
	unsigned char *data;
	size_t len;
	char *type;

	ok(message_eas_parse(raw, strlen(raw), &m, &error) == 0, "mixed message parses");
	ok(strncmp(m.text, "Plain version", 13) == 0, "plain body chosen");
	ok(strstr(m.html, "HTML <b>version</b>") != NULL, "html body chosen");
	is_int(m.native_type, 2, "native type HTML");
	is_int(m.nattachments, 3, "three attachments");
	if (m.nattachments == 3) {
		is_str(m.attachments[0].part, "1.2.2", "inline image part number");
		is_str(m.attachments[0].content_id, "logo@x", "content id without brackets");
		ok(m.attachments[0].is_inline, "image is inline");
		is_str(m.attachments[0].content_type, "image/png", "image type");
		ok(strncmp(m.attachments[0].display_name, "attachment-1.2.2", 16) == 0,
		   "made-up name: %s", m.attachments[0].display_name);
		is_str(m.attachments[1].part, "2", "pdf part number");
		is_str(m.attachments[1].display_name, "report.pdf", "pdf name");
		ok(!m.attachments[1].is_inline, "pdf not inline");
		is_int(m.attachments[1].method, MESSAGE_EAS_METHOD_NORMAL, "pdf method 1");
		ok(m.attachments[1].estimated_size >= 8 && m.attachments[1].estimated_size <= 14,
		   "pdf size estimated: %llu", (unsigned long long)m.attachments[1].estimated_size);
		is_str(m.attachments[2].part, "3", "embedded message part");
		is_int(m.attachments[2].method, MESSAGE_EAS_METHOD_EMBEDDED, "method 5");
		is_str(m.attachments[2].display_name, "inner.eml", "embedded message name");
	}
	ok(message_eas_part(raw, strlen(raw), "2", &data, &len, &type) == 0, "part 2 found");
	ok(len == 10 && memcmp(data, "Hello PDF!", 10) == 0, "part 2 decoded");
	is_str(type, "application/pdf", "part 2 type");
	free(data);
	free(type);
	ok(message_eas_part(raw, strlen(raw), "3", &data, &len, NULL) == 0, "part 3 found");
	ok(strstr((char *)data, "Subject: inner") != NULL, "embedded message whole");
	free(data);
	ok(message_eas_part(raw, strlen(raw), "1.2.2", &data, &len, NULL) == 0, "nested part");
	ok(len == 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0, "nested part decoded");
	free(data);
	ok(message_eas_part(raw, strlen(raw), "9", &data, &len, NULL) < 0, "missing part");
	ok(message_eas_part(raw, strlen(raw), "2.x", &data, &len, NULL) < 0, "bad part number");
	ok(message_eas_part(raw, strlen(raw), "", &data, &len, NULL) < 0, "empty part number");
	message_eas_clear(&m);
	free(raw);
}

static void
test_html_only(void)
{
	struct message_eas m;
	const char *error = NULL;

	ok(message_eas_parse(html_only, strlen(html_only), &m, &error) == 0, "html-only parses");
	is_int(m.native_type, 2, "native type HTML");
	ok(strstr(m.text, "Hello & welcome") != NULL, "text from HTML");
	ok(strstr(m.text, "<p>") == NULL, "no tags in text");
	is_int(m.importance, 0, "Importance: low");
	message_eas_clear(&m);

	ok(message_eas_parse("", 0, &m, &error) < 0, "empty input refused");
	ok(message_eas_parse("garbage without header", 22, &m, &error) == 0, "garbage still shown");
	message_eas_clear(&m);
}

static void
test_truncate(void)
{
	const char *s = "aé€😀"; /* 1 + 2 + 3 + 4 bytes */
	size_t len = strlen(s);
	char *p;

	is_int(message_eas_truncate(s, len, 100), len, "fits");
	is_int(message_eas_truncate(s, len, 1), 1, "ascii boundary");
	is_int(message_eas_truncate(s, len, 2), 1, "inside é backs up");
	is_int(message_eas_truncate(s, len, 3), 3, "after é");
	is_int(message_eas_truncate(s, len, 5), 3, "inside €");
	is_int(message_eas_truncate(s, len, 9), 6, "inside emoji");
	is_int(message_eas_truncate(s, len, 0), 0, "zero");
	p = message_eas_preview("  Hello\r\n\tworld  again ", 11);
	is_str(p, "Hello world", "preview collapses space and cuts");
	free(p);
}

static void
test_envelope(void)
{
	const char *msg = "From: Me <me@example.com>\r\n"
	                  "To: a@example.com, B <b@example.com>\r\n"
	                  "Cc: A@example.com, team: c@example.com, d@example.com;\r\n"
	                  "Bcc: secret@example.com\r\n"
	                  "Subject: hi\r\n\r\nbody\r\n";
	char **rcpts, *from, *out;
	size_t n, len;
	const char *error;

	ok(message_eas_envelope(msg, strlen(msg), &rcpts, &n, &from, &error) == 0, "envelope");
	is_int(n, 5, "five unique recipients");
	if (n == 5) {
		is_str(rcpts[0], "a@example.com", "first");
		is_str(rcpts[2], "c@example.com", "group member");
		is_str(rcpts[4], "secret@example.com", "bcc recipient");
	}
	is_str(from, "me@example.com", "from address");
	message_eas_strv_free(rcpts, n);
	free(from);

	ok(message_eas_prepare(msg, strlen(msg), "x@example.com", &out, &len, &error) == 0,
	   "prepare");
	ok(strstr(out, "secret@example.com") == NULL, "Bcc removed");
	ok(strstr(out, "Message-Id:") != NULL || strstr(out, "Message-ID:") != NULL,
	   "Message-ID added");
	ok(strstr(out, "Date:") != NULL, "Date added");
	ok(strstr(out, "From: Me <me@example.com>") != NULL, "From kept");
	ok(strstr(out, "\r\n\r\nbody\r\n") != NULL, "body kept with CRLF");
	ok(strstr(out, "\n\n") == NULL, "no bare LF pairs");
	free(out);
	ok(message_eas_prepare("To: a@b\n\nx\n", 11, "\"Me\" <me@example.com>", &out, &len,
	                       &error) == 0,
	   "prepare without From");
	ok(strstr(out, "From: Me <me@example.com>") != NULL, "From added");
	free(out);
}

static void
test_smart(void)
{
	char *orig = crlf(mixed_msg);
	const char *reply = "From: bob@example.com\r\nTo: alice@example.com\r\n"
	                    "Subject: RE: report\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                    "\r\nThanks!\r\n";
	char *out;
	size_t len;
	const char *error;
	struct message_eas m;

	ok(message_eas_smart(reply, strlen(reply), orig, strlen(orig), false, true, &out, &len,
	                     &error) == 0,
	   "smart reply");
	ok(message_eas_parse(out, len, &m, &error) == 0, "reply parses");
	ok(strstr(m.text, "Thanks!") != NULL, "new text kept");
	ok(strstr(m.text, "-----Original Message-----") != NULL, "separator");
	ok(strstr(m.text, "Plain version") != NULL, "original text appended");
	ok(strstr(m.text, "Subject: report") != NULL, "original header block");
	is_int(m.nattachments, 0, "reply has no attachments");
	message_eas_clear(&m);
	free(out);

	ok(message_eas_smart(reply, strlen(reply), orig, strlen(orig), true, true, &out, &len,
	                     &error) == 0,
	   "smart forward");
	ok(message_eas_parse(out, len, &m, &error) == 0, "forward parses");
	ok(strstr(m.text, "Plain version") != NULL, "original text appended");
	is_int(m.nattachments, 3, "attachments forwarded");
	if (m.nattachments == 3)
		is_str(m.attachments[1].display_name, "report.pdf", "pdf forwarded");
	message_eas_clear(&m);
	free(out);

	ok(message_eas_smart(reply, strlen(reply), orig, strlen(orig), true, false, &out, &len,
	                     &error) == 0,
	   "ReplaceMime forward");
	ok(message_eas_parse(out, len, &m, &error) == 0, "parses");
	ok(strstr(m.text, "Original Message") == NULL, "nothing appended");
	is_int(m.nattachments, 0, "nothing attached");
	message_eas_clear(&m);
	free(out);
	free(orig);

	{
		const char *html_reply = "From: bob@example.com\r\nSubject: RE\r\n"
		                         "Content-Type: text/html; charset=utf-8\r\n\r\n"
		                         "<html><body>Yes</body></html>\r\n";
		char *o2 = crlf(plain_msg);

		ok(message_eas_smart(html_reply, strlen(html_reply), o2, strlen(o2), false, true,
		                     &out, &len, &error) == 0,
		   "html reply");
		ok(message_eas_parse(out, len, &m, &error) == 0, "parses");
		ok(strstr(m.html, "Yes<hr>") != NULL, "original after new html");
		ok(strstr(m.html, "Caf") != NULL && strstr(m.html, "</body>") != NULL,
		   "original html inside body");
		message_eas_clear(&m);
		free(out);
		free(o2);
	}
}

static void
test_draft(void)
{
	struct message_eas_draft d = {
	    .from = "me@example.com",
	    .to = "\"Bob B\" <bob@example.com>",
	    .subject = "Brouillon é",
	    .importance = 2,
	    .body = "draft text",
	    .body_type = 1,
	    .date = 760686745,
	};
	struct message_eas m;
	const char *error;
	size_t len;
	char *raw = message_eas_draft(&d, &len);

	ok(raw != NULL && len > 0, "draft built");
	ok(message_eas_parse(raw, len, &m, &error) == 0, "draft parses");
	is_str(m.subject, "Brouillon é", "subject");
	ok(strstr(m.to, "bob@example.com") != NULL, "to");
	is_int(m.importance, 2, "importance");
	ok(strncmp(m.text, "draft text", 10) == 0, "body");
	is_int(m.date, 760686745, "date");
	message_eas_clear(&m);
	free(raw);
}

int
main(void)
{
	test_plain();
	test_mixed();
	test_html_only();
	test_truncate();
	test_envelope();
	test_smart();
	test_draft();
	return done_testing();
}
