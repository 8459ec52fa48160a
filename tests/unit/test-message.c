/* tests/unit/test-message.c: message_parse (ENVELOPE, BODYSTRUCTURE, the
 * part map and the decoded fields), BODY[section] slicing for every
 * section form, HEADER.FIELDS, BINARY decoding, and malformed input. Leaf
 * ranges are cross-checked against GMime's own parser. */
#include <event2/buffer.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "tap.h"

/* The samples are written with \n; most tests use them with CRLF. */
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

static bool
parse(const char *raw, size_t len, struct message_info *info)
{
	const char *error = NULL;

	if (message_parse(raw, len, info, &error) < 0) {
		printf("# parse failed: %s\n", error);
		return false;
	}
	return true;
}

/* BODY[section] the way FETCH serves it: the range, filtered for
 * HEADER.FIELDS. NULL if the section does not parse. */
static char *
fetch(const char *raw, const struct message_info *info, const char *spec)
{
	struct message_section sec;
	struct message_range r;
	const char *error;
	char *ret;

	if (message_section_parse(spec, &sec, &error) < 0)
		return NULL;
	if (message_section_find(info->partmap, &sec, &r) < 0) {
		message_section_clear(&sec);
		return g_strdup("<corrupt map>");
	}
	if (sec.kind == SECTION_FIELDS || sec.kind == SECTION_FIELDS_NOT) {
		struct evbuffer *buf = evbuffer_new();
		size_t n;

		message_header_filter(raw + r.offset, r.length, sec.fields, sec.nfields,
		                      sec.kind == SECTION_FIELDS_NOT, buf);
		n = evbuffer_get_length(buf);
		ret = g_malloc(n + 1);
		evbuffer_remove(buf, ret, n);
		ret[n] = '\0';
		evbuffer_free(buf);
	} else {
		ret = g_strndup(raw + r.offset, r.length);
	}
	message_section_clear(&sec);
	return ret;
}

#define is_fetch(raw, info, spec, want)                                                            \
	do {                                                                                       \
		char *got_ = fetch(raw, info, spec);                                               \
		is_str(got_, want, "BODY[%s]", spec);                                              \
		g_free(got_);                                                                      \
	} while (0)

static const char *
part_encoding(const struct message_info *info, const char *spec, struct message_range *r)
{
	struct message_section sec;
	const char *error;

	if (message_section_parse(spec, &sec, &error) < 0 ||
	    message_section_find(info->partmap, &sec, r) < 0)
		return NULL;
	message_section_clear(&sec);
	return r->encoding;
}

/* ---------------------------------------------------------------------
 * Invariants every parse result must keep, whatever the input
 */

static bool
range_ok(json_t *arr, size_t i, uint64_t size, uint64_t *a_r, uint64_t *b_r)
{
	json_t *a = json_array_get(arr, i), *b = json_array_get(arr, i + 1);

	if (!json_is_integer(a) || !json_is_integer(b))
		return false;
	*a_r = (uint64_t)json_integer_value(a);
	*b_r = (uint64_t)json_integer_value(b);
	return json_integer_value(a) >= 0 && *a_r <= *b_r && *b_r <= size;
}

static const char *
check_invariants(const struct message_info *info, size_t size)
{
	json_t *map = json_loads(info->partmap, 0, NULL), *parts, *e;
	const char *key, *problem = NULL;
	uint64_t h0, h1, b0, b1, m0, m1, m2, m3;
	const char *strs[] = {
	    info->envelope,          info->bodystructure,   info->body,        info->subject,
	    info->base_subject,      info->from_addr,       info->to_addr,     info->cc_addr,
	    info->bcc_addr,          info->sort_from,       info->sort_to,     info->sort_cc,
	    info->sort_display_from, info->sort_display_to, info->message_id,  info->in_reply_to,
	    info->references,        info->preview,         info->search_text, info->headers_text};

	for (size_t i = 0; i < G_N_ELEMENTS(strs); i++) {
		if (strs[i] == NULL || !g_utf8_validate(strs[i], -1, NULL))
			return "a text field is NULL or not UTF-8";
	}
	if (info->meta.size != size || info->meta.envelope != info->envelope ||
	    info->meta.partmap != info->partmap)
		return "meta does not match";
	parts = json_object_get(map, "parts");
	if (!json_is_object(parts) || json_object_get(parts, "") == NULL ||
	    json_object_get(parts, "1") == NULL)
		problem = "part map lacks the top level or part 1";
	json_object_foreach(parts, key, e)
	{
		if (problem != NULL)
			break;
		if (!range_ok(json_object_get(e, "h"), 0, size, &h0, &h1) ||
		    !range_ok(json_object_get(e, "b"), 0, size, &b0, &b1) || h1 != b0)
			problem = "bad h/b range";
		else if (!json_is_string(json_object_get(e, "t")) ||
		         !json_is_string(json_object_get(e, "e")))
			problem = "part without type or encoding";
		else if (json_object_get(e, "m") != NULL &&
		         (!range_ok(json_object_get(e, "m"), 0, size, &m0, &m1) ||
		          !range_ok(json_object_get(e, "m"), 2, size, &m2, &m3) || m1 != m2 ||
		          m0 != b0 || m3 != b1))
			problem = "bad message/rfc822 ranges";
	}
	json_decref(map);
	return problem;
}

/* ---------------------------------------------------------------------
 * GMime cross-check: every leaf's content range must be where GMime's
 * own parser puts it.
 */

struct gm_walk {
	json_t *parts;
	int leaves, mismatches;
};

static void gm_object(struct gm_walk *w, GMimeObject *obj, const char *section);

static void
gm_children(struct gm_walk *w, GMimeMultipart *mp, const char *prefix)
{
	int n = g_mime_multipart_get_count(mp);

	for (int i = 0; i < n; i++) {
		char *sub = *prefix == '\0' ? g_strdup_printf("%d", i + 1)
		                            : g_strdup_printf("%s.%d", prefix, i + 1);

		gm_object(w, g_mime_multipart_get_part(mp, i), sub);
		g_free(sub);
	}
}

static void
gm_object(struct gm_walk *w, GMimeObject *obj, const char *section)
{
	if (GMIME_IS_MULTIPART(obj)) {
		gm_children(w, GMIME_MULTIPART(obj), section);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *msg = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		GMimeObject *inner = msg != NULL ? g_mime_message_get_mime_part(msg) : NULL;

		if (inner != NULL && GMIME_IS_MULTIPART(inner)) {
			gm_children(w, GMIME_MULTIPART(inner), section);
		} else if (inner != NULL) {
			char *sub = g_strconcat(section, ".1", NULL);

			gm_object(w, inner, sub);
			g_free(sub);
		}
	} else if (GMIME_IS_PART(obj)) {
		GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(obj));
		GMimeStream *st = dw != NULL ? g_mime_data_wrapper_get_stream(dw) : NULL;
		json_t *b = json_object_get(json_object_get(w->parts, section), "b");

		w->leaves++;
		if (st == NULL || !json_is_array(b) ||
		    json_integer_value(json_array_get(b, 0)) != st->bound_start ||
		    json_integer_value(json_array_get(b, 1)) != st->bound_end) {
			w->mismatches++;
			printf("# part %s: ours %s, GMime %ld-%ld\n", section,
			       b != NULL ? json_dumps(b, JSON_COMPACT) : "none",
			       st != NULL ? (long)st->bound_start : -1L,
			       st != NULL ? (long)st->bound_end : -1L);
		}
	}
}

static void
gmime_crosscheck(const char *name, const char *raw, size_t len, const struct message_info *info)
{
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(raw, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *msg;
	GMimeObject *top;
	json_t *map = json_loads(info->partmap, 0, NULL);
	struct gm_walk w = {.parts = json_object_get(map, "parts")};

	g_mime_parser_set_persist_stream(parser, TRUE);
	msg = g_mime_parser_construct_message(parser, NULL);
	top = msg != NULL ? g_mime_message_get_mime_part(msg) : NULL;
	if (top != NULL && GMIME_IS_MULTIPART(top))
		gm_children(&w, GMIME_MULTIPART(top), "");
	else if (top != NULL)
		gm_object(&w, top, "1");
	ok(w.leaves > 0 && w.mismatches == 0, "%s: %d leaf ranges agree with GMime", name,
	   w.leaves);
	json_decref(map);
	if (msg != NULL)
		g_object_unref(msg);
	g_object_unref(parser);
	g_object_unref(stream);
}

/* ---------------------------------------------------------------------
 * Samples
 */

static const char rfc3501_msg[] = "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
                                  "From: Terry Gray <gray@cac.washington.edu>\n"
                                  "Subject: IMAP4rev1 WG mtg summary and minutes\n"
                                  "To: imap@cac.washington.edu\n"
                                  "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\n"
                                  "Message-Id: <B27397-0100000@cac.washington.edu>\n"
                                  "MIME-Version: 1.0\n"
                                  "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n"
                                  "\n"
                                  "Hello\n"
                                  "world\n";

static const char alt_msg[] =
    "From: \"Doe, Jane\" <jane@example.com>\n"
    "To: bob@example.org\n"
    "Subject: Re: [list] Fwd: hello (fwd)\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
    "Message-ID: <1@x>\n"
    "In-Reply-To: <0@x>\n"
    "References: <a@x>\n"
    " <0@x>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=alt1\n"
    "\n"
    "--alt1\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Caf=C3=A9 au lait =\n"
    "is nice.\n"
    "--alt1\n"
    "Content-Type: text/html; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "<html><head><style>p {color:red}</style></head><body><p>Caf=E9 &amp; "
    "<b>lait</b>&#x263A;</p></body></html>\n"
    "--alt1--\n";

static const char nested_msg[] =
    "From: outer@example.com\n"
    "To: x@example.com\n"
    "Subject: fwd\n"
    "Date: Fri, 1 Mar 2024 10:00:00 +0000\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "preamble\n"
    "--outer\n"
    "Content-Type: text/plain\n"
    "\n"
    "See attached.\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "Content-Disposition: attachment; filename=\"fwd.eml\"\n"
    "\n"
    "From: inner@example.com\n"
    "To: y@example.com\n"
    "Subject: inner subject\n"
    "X-Folded: one\n"
    "\ttwo\n"
    "Date: Thu, 29 Feb 2024 09:00:00 +0100\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "inner text\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>inner html</p>\n"
    "--inner--\n"
    "\n"
    "--outer\n"
    "Content-Type: application/pdf; name=\"doc.pdf\"\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20doc.pdf\n"
    "Content-Language: en, de\n"
    "Content-Location: http://example.com/doc.pdf\n"
    "\n"
    "JVBERi0xLjQK\n"
    "--outer--\n"
    "epilogue\n";

static const char encoded_msg[] =
    "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>, second@example.de\n"
    "To: Undisclosed recipients:;, friends: a@b.c, \"Bee\" <b@b.c>;, loose@x.y\n"
    "Sender: \n"
    "Subject: =?iso-8859-1?q?Gr=FC=DFe?= aus =?utf-8?b?TcO8bmNoZW4=?=\n"
    "Message-ID: <abc@def>\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Gr\xc3\xbc\xc3\x9f\x65 aus M\xc3\xbcnchen.\n";

static const char digest_msg[] = "From: x@y.z\n"
                                 "Subject: digest\n"
                                 "Content-Type: multipart/digest; boundary=d\n"
                                 "\n"
                                 "--d\n"
                                 "\n"
                                 "From: one@y.z\n"
                                 "Subject: one\n"
                                 "\n"
                                 "body one\n"
                                 "--d\n"
                                 "Content-Type: text/plain\n"
                                 "\n"
                                 "explicit text\n"
                                 "--d--\n";

static const char rfc822_top_msg[] = "From: top@x.y\n"
                                     "Subject: message at top\n"
                                     "Content-Type: message/rfc822\n"
                                     "\n"
                                     "From: in@x.y\n"
                                     "Subject: inside\n"
                                     "Content-Type: multipart/mixed; boundary=q\n"
                                     "\n"
                                     "--q\n"
                                     "\n"
                                     "first\n"
                                     "--q\n"
                                     "Content-Type: message/rfc822\n"
                                     "\n"
                                     "Subject: deepest\n"
                                     "\n"
                                     "deep body\n"
                                     "--q--\n";

/* RFC 3501 7.4.2's BODY example: parts of 1152 octets / 23 lines and
 * 4554 octets / 73 lines. */
static char *
rfc3501_body_msg(void)
{
	GString *s = g_string_new("From: a@example.com\r\n"
	                          "Subject: diff\r\n"
	                          "MIME-Version: 1.0\r\n"
	                          "Content-Type: MULTIPART/MIXED; BOUNDARY=\"--=_0001\"\r\n"
	                          "\r\n"
	                          "----=_0001\r\n"
	                          "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
	                          "\r\n");
	int i;

	for (i = 0; i < 23; i++) {
		for (int j = 0; j < (i == 22 ? 50 : 48); j++)
			g_string_append_c(s, 'a' + (j % 26));
		g_string_append(s, "\r\n");
	}
	g_string_append(s, "\r\n----=_0001\r\n"
	                   "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=\"cc.diff\"\r\n"
	                   "Content-ID: <960723163407.20117h@cac.washington.edu>\r\n"
	                   "Content-Description: Compiler diff\r\n"
	                   "Content-Transfer-Encoding: BASE64\r\n"
	                   "\r\n");
	for (i = 0; i < 73; i++) {
		for (int j = 0; j < (i < 28 ? 61 : 60); j++)
			g_string_append_c(s, 'A' + (j % 26));
		g_string_append(s, "\r\n");
	}
	g_string_append(s, "\r\n----=_0001--\r\n");
	return g_string_free(s, FALSE);
}

/* ---------------------------------------------------------------------
 * Tests
 */

static void
test_rfc3501(void)
{
	char *raw = crlf(rfc3501_msg), *raw2;
	struct message_info info;

	if (!parse(raw, strlen(raw), &info))
		return;
	is_str(info.envelope,
	       "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and "
	       "minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry "
	       "Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" "
	       "\"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL "
	       "\"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" "
	       "\"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\")",
	       "RFC 3501 ENVELOPE example");
	is_str(
	    info.bodystructure,
	    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2 NIL NIL NIL NIL)",
	    "single part BODYSTRUCTURE");
	is_str(info.body, "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2)",
	       "single part BODY");
	is_int(info.meta.sent_date, 837595405, "sent_date from Date:");
	is_str(info.sort_from, "gray", "sort_from is the addr-mailbox");
	is_str(info.sort_display_from, "terry gray", "sort_display_from is the display name");
	is_str(info.sort_cc, "minutes", "sort_cc");
	is_str(info.sort_display_to, "imap@cac.washington.edu", "display falls back to address");
	is_str(info.cc_addr, "minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>",
	       "cc_addr decoded list");
	is_str(info.message_id, "<B27397-0100000@cac.washington.edu>", "message_id");
	is_str(info.preview, "Hello world", "preview collapses white space");
	ok(!info.meta.has_attachment, "no attachment");
	ok(strstr(info.headers_text, "Subject: IMAP4rev1 WG mtg summary and minutes\n") != NULL,
	   "headers_text has the header");
	/* a non-multipart message's body is part 1, its header 1.MIME */
	is_fetch(raw, &info, "1", "Hello\r\nworld\r\n");
	is_fetch(raw, &info, "TEXT", "Hello\r\nworld\r\n");
	{
		char *hdr = fetch(raw, &info, "HEADER"), *mime = fetch(raw, &info, "1.MIME");

		is_str(mime, hdr, "BODY[1.MIME] of a single part message is its header");
		ok(hdr != NULL && g_str_has_suffix(hdr, "US-ASCII\r\n\r\n"),
		   "BODY[HEADER] includes the blank line");
		g_free(hdr);
		g_free(mime);
	}
	is_fetch(raw, &info, "1.HEADER", "");
	is_fetch(raw, &info, "2", "");
	is_fetch(raw, &info, "", raw);
	gmime_crosscheck("rfc3501", raw, strlen(raw), &info);
	message_info_clear(&info);
	ok(info.envelope == NULL && info.meta.envelope == NULL, "message_info_clear frees");

	raw2 = rfc3501_body_msg();
	if (parse(raw2, strlen(raw2), &info)) {
		is_str(info.body,
		       "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 "
		       "23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
		       "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" "
		       "4554 73) \"MIXED\")",
		       "RFC 3501 BODY example");
		is_str(info.bodystructure,
		       "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23 "
		       "NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" "
		       "\"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" \"Compiler "
		       "diff\" \"BASE64\" 4554 73 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" "
		       "\"--=_0001\") NIL NIL NIL)",
		       "RFC 3501 example as BODYSTRUCTURE");
		is_str(info.envelope,
		       "(NIL \"diff\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" "
		       "\"example.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL)",
		       "no Date, To or Message-ID: NIL");
		is_int(info.meta.sent_date, -1, "no Date: sent_date -1");
		gmime_crosscheck("rfc3501 body", raw2, strlen(raw2), &info);
		message_info_clear(&info);
	}
	g_free(raw2);
	g_free(raw);
}

static void
test_alternative(void)
{
	char *raw = crlf(alt_msg);
	struct message_info info;

	if (!parse(raw, strlen(raw), &info))
		return;
	is_str(info.bodystructure,
	       "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 29 1 NIL "
	       "NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"iso-8859-1\") NIL NIL "
	       "\"QUOTED-PRINTABLE\" 106 0 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" "
	       "\"alt1\") NIL NIL NIL)",
	       "multipart/alternative BODYSTRUCTURE");
	is_str(info.envelope,
	       "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"Re: [list] Fwd: hello (fwd)\" ((\"Doe, "
	       "Jane\" NIL \"jane\" \"example.com\")) ((\"Doe, Jane\" NIL \"jane\" "
	       "\"example.com\")) ((\"Doe, Jane\" NIL \"jane\" \"example.com\")) ((NIL NIL "
	       "\"bob\" \"example.org\")) NIL NIL \"<0@x>\" \"<1@x>\")",
	       "ENVELOPE with quoted display name and In-Reply-To");
	is_str(info.base_subject, "hello", "base subject strips Re:, blobs, Fwd:, (fwd)");
	is_str(info.in_reply_to, "<0@x>", "in_reply_to");
	is_str(info.references, "<a@x> <0@x>", "references over a folded line");
	is_str(info.sort_display_from, "doe, jane", "display sort key");
	is_str(info.from_addr, "Doe, Jane <jane@example.com>", "from_addr");
	is_int(info.meta.sent_date, 760686745, "sent_date");
	ok(strstr(info.search_text, "Caf\xc3\xa9 au lait is nice.") != NULL,
	   "search_text: quoted-printable decoded, soft break joined");
	ok(strstr(info.search_text, "Caf\xc3\xa9 & lait\xe2\x98\xba") != NULL,
	   "search_text: HTML stripped, entities and Latin-1 converted");
	ok(strstr(info.search_text, "color") == NULL && strstr(info.search_text, "<b>") == NULL,
	   "search_text: no style or tags");
	is_str(info.preview, "Caf\xc3\xa9 au lait is nice.", "preview from text/plain");
	is_fetch(raw, &info, "1", "Caf=C3=A9 au lait =\r\nis nice.");
	is_fetch(raw, &info, "1.MIME",
	         "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
	         "quoted-printable\r\n\r\n");
	is_fetch(raw, &info, "HEADER.FIELDS (REFERENCES subject)",
	         "Subject: Re: [list] Fwd: hello (fwd)\r\nReferences: <a@x>\r\n <0@x>\r\n\r\n");
	{
		struct message_range r;
		struct evbuffer *buf = evbuffer_new();
		uint64_t size = 0;
		const char *enc = part_encoding(&info, "1", &r);

		is_str(enc, "quoted-printable", "part 1 encoding for BINARY");
		ok(r.is_text, "part 1 is text");
		message_decode(enc, raw + r.offset, r.length, buf);
		is_int(message_decoded_size(enc, raw + r.offset, r.length, &size), 0,
		       "decoded size");
		is_int(size, evbuffer_get_length(buf), "decoded size matches the decoding");
		ok(evbuffer_get_length(buf) == strlen("Caf\xc3\xa9 au lait is nice.") &&
		       memcmp(evbuffer_pullup(buf, -1), "Caf\xc3\xa9 au lait is nice.",
		              evbuffer_get_length(buf)) == 0,
		   "BINARY[1] decodes quoted-printable");
		evbuffer_free(buf);
	}
	gmime_crosscheck("alternative", raw, strlen(raw), &info);
	message_info_clear(&info);
	g_free(raw);
}

static void
test_nested(void)
{
	char *raw = crlf(nested_msg), *hdr, *text, *whole, *joined;
	struct message_info info;
	struct message_range r;

	if (!parse(raw, strlen(raw), &info))
		return;
	is_str(info.bodystructure,
	       "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 13 0 NIL NIL NIL "
	       "NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 337 (\"Thu, 29 Feb 2024 09:00:00 "
	       "+0100\" \"inner subject\" ((NIL NIL \"inner\" \"example.com\")) ((NIL NIL "
	       "\"inner\" \"example.com\")) ((NIL NIL \"inner\" \"example.com\")) ((NIL NIL \"y\" "
	       "\"example.com\")) NIL NIL NIL NIL) ((\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	       "\"us-ascii\") NIL NIL \"7BIT\" 10 0 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" "
	       "(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 17 0 NIL NIL NIL NIL) "
	       "\"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL) 18 NIL (\"ATTACHMENT\" "
	       "(\"FILENAME\" \"fwd.eml\")) NIL NIL)(\"APPLICATION\" \"PDF\" (\"NAME\" "
	       "\"doc.pdf\") NIL NIL \"BASE64\" 12 NIL (\"ATTACHMENT\" (\"FILENAME*\" "
	       "\"utf-8''%E2%82%AC%20doc.pdf\")) (\"en\" \"de\") "
	       "\"http://example.com/doc.pdf\") \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)",
	       "nested BODYSTRUCTURE");
	is_str(info.body,
	       "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
	       "13 0)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 337 (\"Thu, 29 Feb 2024 09:00:00 "
	       "+0100\" \"inner subject\" ((NIL NIL \"inner\" \"example.com\")) ((NIL NIL "
	       "\"inner\" \"example.com\")) ((NIL NIL \"inner\" \"example.com\")) ((NIL NIL \"y\" "
	       "\"example.com\")) NIL NIL NIL NIL) ((\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	       "\"us-ascii\") NIL NIL \"7BIT\" 10 0)(\"TEXT\" \"HTML\" (\"CHARSET\" "
	       "\"US-ASCII\") NIL NIL \"7BIT\" 17 0) \"ALTERNATIVE\") 18)(\"APPLICATION\" \"PDF\" "
	       "(\"NAME\" \"doc.pdf\") NIL NIL \"BASE64\" 12) \"MIXED\")",
	       "nested BODY");
	ok(info.meta.has_attachment, "has_attachment");
	is_str(info.search_text, "See attached.\ninner text\n\ninner html\n",
	       "search_text takes the inner message's text too");

	/* every section form */
	hdr = fetch(raw, &info, "HEADER");
	text = fetch(raw, &info, "TEXT");
	joined = g_strconcat(hdr, text, NULL);
	is_str(joined, raw, "BODY[HEADER] + BODY[TEXT] is the message");
	ok(g_str_has_suffix(hdr, "boundary=\"outer\"\r\n\r\n"),
	   "BODY[HEADER] ends with blank line");
	ok(g_str_has_prefix(text, "preamble\r\n--outer\r\n"), "BODY[TEXT] starts after it");
	g_free(hdr);
	g_free(text);
	g_free(joined);
	is_fetch(raw, &info, "1", "See attached.");
	is_fetch(raw, &info, "1.MIME", "Content-Type: text/plain\r\n\r\n");
	is_fetch(raw, &info, "1.HEADER", "");
	is_fetch(raw, &info, "1.TEXT", "");
	is_fetch(raw, &info, "2.MIME",
	         "Content-Type: message/rfc822\r\nContent-Disposition: attachment; "
	         "filename=\"fwd.eml\"\r\n\r\n");
	whole = fetch(raw, &info, "2");
	hdr = fetch(raw, &info, "2.HEADER");
	text = fetch(raw, &info, "2.TEXT");
	joined = g_strconcat(hdr, text, NULL);
	is_str(joined, whole, "BODY[2.HEADER] + BODY[2.TEXT] is BODY[2]");
	ok(g_str_has_prefix(whole, "From: inner@example.com\r\n") &&
	       g_str_has_suffix(whole, "--inner--\r\n"),
	   "BODY[2] is the whole encapsulated message, without the delimiter's CRLF");
	ok(g_str_has_suffix(hdr, "boundary=\"inner\"\r\n\r\n"), "BODY[2.HEADER] ends with blank");
	ok(g_str_has_prefix(text, "--inner\r\n"), "BODY[2.TEXT] is the inner body");
	g_free(whole);
	g_free(hdr);
	g_free(text);
	g_free(joined);
	is_fetch(raw, &info, "2.1", "inner text");
	is_fetch(raw, &info, "2.1.MIME", "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	is_fetch(raw, &info, "2.2", "<p>inner html</p>");
	is_fetch(raw, &info, "2.2.MIME", "Content-Type: text/html\r\n\r\n");
	is_fetch(raw, &info, "2.3", "");
	is_fetch(raw, &info, "2.HEADER.FIELDS (Subject X-FOLDED)",
	         "Subject: inner subject\r\nX-Folded: one\r\n\ttwo\r\n\r\n");
	is_fetch(raw, &info,
	         "2.HEADER.FIELDS.NOT (FROM TO DATE MIME-VERSION CONTENT-TYPE "
	         "X-FOLDED)",
	         "Subject: inner subject\r\n\r\n");
	is_fetch(raw, &info, "3", "JVBERi0xLjQK");
	is_fetch(raw, &info, "3.MIME",
	         "Content-Type: application/pdf; name=\"doc.pdf\"\r\n"
	         "Content-Transfer-Encoding: base64\r\n"
	         "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20doc.pdf\r\n"
	         "Content-Language: en, de\r\n"
	         "Content-Location: http://example.com/doc.pdf\r\n\r\n");
	is_fetch(raw, &info, "4", "");
	is_fetch(raw, &info, "4.MIME", "");
	is_fetch(raw, &info, "1.2.3", "");
	is_fetch(raw, &info, "HEADER.FIELDS (subject)", "Subject: fwd\r\n\r\n");
	is_fetch(raw, &info, "HEADER.FIELDS (X-NONE)", "\r\n");
	is_str(part_encoding(&info, "3", &r), "base64", "part 3 is base64");
	ok(!r.is_text, "part 3 is not text");
	{
		struct evbuffer *buf = evbuffer_new();

		is_int(message_decode(r.encoding, raw + r.offset, r.length, buf), 0, "BINARY[3]");
		ok(evbuffer_get_length(buf) == 9 &&
		       memcmp(evbuffer_pullup(buf, -1), "%PDF-1.4\n", 9) == 0,
		   "BINARY[3] is the decoded PDF header");
		evbuffer_free(buf);
	}
	is_str(part_encoding(&info, "2", &r), "7bit", "message/rfc822 part encoding");
	gmime_crosscheck("nested", raw, strlen(raw), &info);
	message_info_clear(&info);
	g_free(raw);
}

static void
test_encoded(void)
{
	char *raw = crlf(encoded_msg), *raw2;
	struct message_info info;

	if (!parse(raw, strlen(raw), &info))
		return;
	is_str(info.envelope,
	       "(NIL \"=?iso-8859-1?q?Gr=FC=DFe?= aus =?utf-8?b?TcO8bmNoZW4=?=\" "
	       "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\")(NIL NIL \"second\" "
	       "\"example.de\")) ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" \"example.de\")(NIL "
	       "NIL \"second\" \"example.de\")) ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"joerg\" "
	       "\"example.de\")(NIL NIL \"second\" \"example.de\")) ((NIL NIL \"Undisclosed "
	       "recipients\" NIL)(NIL NIL NIL NIL)(NIL NIL \"friends\" NIL)(NIL NIL \"a\" "
	       "\"b.c\")(\"Bee\" NIL \"b\" \"b.c\")(NIL NIL NIL NIL)(NIL NIL \"loose\" \"x.y\")) "
	       "NIL NIL NIL \"<abc@def>\")",
	       "encoded words stay raw; groups; empty Sender: is From");
	is_str(info.subject, "Gr\xc3\xbc\xc3\x9f\x65 aus M\xc3\xbcnchen", "subject decoded");
	is_str(info.from_addr, "J\xc3\xb6rg <joerg@example.de>, second@example.de",
	       "from_addr decoded");
	is_str(info.sort_display_from, "j\xc3\xb6rg", "display sort key decoded and lower-cased");
	is_str(info.sort_to, "a", "sort_to skips group markers");
	ok(strstr(info.to_addr, "Bee <b@b.c>") != NULL, "to_addr has group members");
	is_int(info.meta.sent_date, -1, "no Date");
	is_str(info.bodystructure,
	       "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"8BIT\" 23 1 NIL NIL NIL NIL)",
	       "8bit BODYSTRUCTURE");
	is_str(info.preview, "Gr\xc3\xbc\xc3\x9f\x65 aus M\xc3\xbcnchen.", "8bit preview");
	message_info_clear(&info);
	g_free(raw);

	/* raw 8-bit headers: UTF-8 goes out as a literal, Latin-1 becomes UTF-8 */
	raw2 = crlf("Subject: Gr\xc3\xbc\xc3\x9f\x65\nFrom: \"Ren\xe9\" <r@x.y>\n"
	            "To: \"a\\\\b\" <q@x.y>\n\nx\n");
	if (parse(raw2, strlen(raw2), &info)) {
		ok(g_str_has_prefix(info.envelope, "(NIL {7}\r\nGr\xc3\xbc\xc3\x9f\x65 "),
		   "8-bit subject as a literal");
		ok(strstr(info.envelope, "(({5}\r\nRen\xc3\xa9 NIL \"r\" \"x.y\"))") != NULL,
		   "Latin-1 name converted to UTF-8, as a literal");
		ok(strstr(info.envelope, "((\"a\\\\b\" NIL \"q\" \"x.y\"))") != NULL,
		   "backslash escaped in a quoted string");
		is_str(info.subject, "Gr\xc3\xbc\xc3\x9f\x65", "8-bit subject");
		message_info_clear(&info);
	}
	g_free(raw2);
}

static void
test_structures(void)
{
	struct {
		const char *name, *msg, *bs;
		const char *sections[8][2];
	} cases[] = {
	    {"digest",
	     digest_msg,
	     "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 39 (NIL \"one\" ((NIL NIL \"one\" "
	     "\"y.z\")) ((NIL NIL \"one\" \"y.z\")) ((NIL NIL \"one\" \"y.z\")) NIL NIL NIL NIL "
	     "NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 8 0 NIL NIL "
	     "NIL NIL) 3 NIL NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	     "\"7BIT\" 13 0 NIL NIL NIL NIL) \"DIGEST\" (\"BOUNDARY\" \"d\") NIL NIL NIL)",
	     {{"1", "From: one@y.z\r\nSubject: one\r\n\r\nbody one"},
	      {"1.MIME", "\r\n"},
	      {"1.1", "body one"},
	      {"1.1.MIME", "From: one@y.z\r\nSubject: one\r\n\r\n"},
	      {"1.TEXT", "body one"},
	      {"2", "explicit text"}}},
	    {"message/rfc822 at the top",
	     rfc822_top_msg,
	     "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 165 (NIL \"inside\" ((NIL NIL \"in\" "
	     "\"x.y\")) ((NIL NIL \"in\" \"x.y\")) ((NIL NIL \"in\" \"x.y\")) NIL NIL NIL NIL "
	     "NIL) ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 0 NIL NIL "
	     "NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 29 (NIL \"deepest\" NIL NIL "
	     "NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
	     "\"7BIT\" 9 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"q\") NIL "
	     "NIL NIL) 14 NIL NIL NIL NIL)",
	     {{"1.HEADER", "From: in@x.y\r\nSubject: inside\r\nContent-Type: multipart/mixed; "
	                   "boundary=q\r\n\r\n"},
	      {"1.1", "first"},
	      {"1.2.HEADER", "Subject: deepest\r\n\r\n"},
	      {"1.2.TEXT", "deep body"},
	      {"1.2.1", "deep body"},
	      {"1.2.1.MIME", "Subject: deepest\r\n\r\n"},
	      {"1.3", ""}}},
	    {"multipart without boundary",
	     "From: x@y.z\nContent-Type: multipart/mixed\n\njust text\n",
	     "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL "
	     "NIL) \"MIXED\" NIL NIL NIL NIL)",
	     {{"1", ""}, {"TEXT", "just text\r\n"}}},
	    {"empty parts: a delimiter's CRLF is never the part's",
	     "From: e@x.y\nContent-Type: multipart/mixed; boundary=e\n\n--e\n--e\n\n--e\n"
	     "Content-Type: text/plain\n\n--e--",
	     "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL "
	     "NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL "
	     "NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL "
	     "NIL) \"MIXED\" (\"BOUNDARY\" \"e\") NIL NIL NIL)",
	     {{"1.MIME", ""}, {"2.MIME", ""}, {"3.MIME", "Content-Type: text/plain\r\n"}}},
	    {"outer delimiter ends an unclosed inner multipart",
	     "From: e@x.y\nContent-Type: multipart/mixed; boundary=A\n\n--A\n"
	     "Content-Type: multipart/mixed; boundary=B\n\n--B\n\nb1\n--B\n\nb2 open\n--A\n"
	     "Content-Type: text/plain\n\na2\n--A--\n",
	     "(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 2 0 NIL NIL NIL "
	     "NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 7 0 NIL NIL NIL "
	     "NIL) \"MIXED\" (\"BOUNDARY\" \"B\") NIL NIL NIL)(\"TEXT\" \"PLAIN\" (\"CHARSET\" "
	     "\"US-ASCII\") NIL NIL \"7BIT\" 2 0 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"A\") "
	     "NIL NIL NIL)",
	     {{"1.2", "b2 open"}, {"2", "a2"}, {"1", "--B\r\n\r\nb1\r\n--B\r\n\r\nb2 open"}}},
	    {"padding after delimiters, boundary-like lines in the epilogue",
	     "From: e@x.y\nContent-Type: multipart/mixed; boundary=\"p\"\n\n--p \t\n\nfirst\n"
	     "--pq\n--p--  \n--p\n",
	     "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 11 1 NIL NIL NIL "
	     "NIL) \"MIXED\" (\"BOUNDARY\" \"p\") NIL NIL NIL)",
	     {{"1", "first\r\n--pq"},
	      {"TEXT", "--p \t\r\n\r\nfirst\r\n--pq\r\n--p--  \r\n--p\r\n"}}},
	    {"header only",
	     "From: x@y.z\nSubject: header only\n",
	     "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)",
	     {{"HEADER", "From: x@y.z\r\nSubject: header only\r\n"}, {"TEXT", ""}, {"1", ""}}},
	    {"RFC 2231 parameters, Content-MD5, inline",
	     "From: x@y.z\nContent-Type: application/octet-stream; name*0*=utf-8''%E2%82%AC;\n"
	     " name*1=\" rate.txt\"; x-unquoted=a/b=c\nContent-Disposition: inline\n"
	     "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\ndata\n",
	     "(\"APPLICATION\" \"OCTET-STREAM\" (\"NAME*\" \"utf-8''%E2%82%AC%20rate.txt\" "
	     "\"X-UNQUOTED\" \"a/b=c\") NIL NIL \"7BIT\" 6 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" "
	     "(\"INLINE\" NIL) NIL NIL)",
	     {{"1", "data\r\n"}}},
	    {"comments, routes, domain literals, broken addresses",
	     "From: gray@cac.washington.edu (Terry Gray), <@r1,@r2:user@host>\n"
	     "To: \"odd@name\" <x@[127.0.0.1]>, group:;, broken <\n"
	     "Content-Type: text/plain; charset=\"ISO-8859-1\"; format=flowed (comment)\n\nplain\n",
	     "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"ISO-8859-1\" \"FORMAT\" \"flowed\") NIL NIL "
	     "\"7BIT\" 7 1 NIL NIL NIL NIL)",
	     {{"1", "plain\r\n"}}},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *raw = crlf(cases[i].msg);
		struct message_info info;

		if (!parse(raw, strlen(raw), &info)) {
			ok(0, "%s parses", cases[i].name);
			g_free(raw);
			continue;
		}
		is_str(info.bodystructure, cases[i].bs, "%s: BODYSTRUCTURE", cases[i].name);
		for (size_t j = 0; j < 8 && cases[i].sections[j][0] != NULL; j++)
			is_fetch(raw, &info, cases[i].sections[j][0], cases[i].sections[j][1]);
		ok(check_invariants(&info, strlen(raw)) == NULL, "%s: invariants", cases[i].name);
		message_info_clear(&info);
		g_free(raw);
	}
	{
		char *raw = crlf(cases[8].msg);
		struct message_info info;

		if (parse(raw, strlen(raw), &info)) {
			is_str(
			    info.envelope,
			    "(NIL NIL ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")(NIL "
			    "\"@r1,@r2\" \"user\" \"host\")) ((\"Terry Gray\" NIL \"gray\" "
			    "\"cac.washington.edu\")(NIL \"@r1,@r2\" \"user\" \"host\")) "
			    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")(NIL \"@r1,@r2\" "
			    "\"user\" \"host\")) ((\"odd@name\" NIL \"x\" \"[127.0.0.1]\")(NIL NIL "
			    "\"group\" NIL)(NIL NIL NIL NIL)(\"broken\" NIL \"MISSING_MAILBOX\" "
			    "\"MISSING_DOMAIN\")) NIL NIL NIL NIL)",
			    "address syntax corners");
			message_info_clear(&info);
		}
		g_free(raw);
	}
	{
		/* bare LF messages are described in their own bytes */
		const char *raw = "From: lf@x.y\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
		                  "Content-Type: text/plain\n\none\n--b\n\nno header\n--b--\n";
		struct message_info info;

		if (parse(raw, strlen(raw), &info)) {
			is_fetch(raw, &info, "1", "one");
			is_fetch(raw, &info, "1.MIME", "Content-Type: text/plain\n\n");
			is_fetch(raw, &info, "2.MIME", "\n");
			is_fetch(raw, &info, "2", "no header");
			is_fetch(raw, &info, "HEADER.FIELDS (FROM)", "From: lf@x.y\n\r\n");
			gmime_crosscheck("bare LF", raw, strlen(raw), &info);
			message_info_clear(&info);
		}
	}
	{
		char *raw = crlf(digest_msg);
		struct message_info info;

		if (parse(raw, strlen(raw), &info)) {
			gmime_crosscheck("digest", raw, strlen(raw), &info);
			message_info_clear(&info);
		}
		g_free(raw);
		raw = crlf(rfc822_top_msg);
		if (parse(raw, strlen(raw), &info)) {
			gmime_crosscheck("message/rfc822 at the top", raw, strlen(raw), &info);
			message_info_clear(&info);
		}
		g_free(raw);
	}
}

static void
test_sections(void)
{
	const char *good[][3] = {
	    {"", "0", ""},
	    {"HEADER", "1", ""},
	    {"text", "2", ""},
	    {"1", "6", "1"},
	    {"1.2.3", "6", "1.2.3"},
	    {"1.MIME", "3", "1"},
	    {"4.2.HEADER", "1", "4.2"},
	    {"3.TEXT", "2", "3"},
	    {"HEADER.FIELDS (From To)", "4", ""},
	    {"header.fields.not (\"X-A\" B)", "5", ""},
	    {"2.HEADER.FIELDS (DATE)", "4", "2"},
	    {"4294967295", "6", "4294967295"},
	};
	const char *bad[] = {
	    "MIME",
	    "0",
	    "01",
	    "1.",
	    "1..2",
	    "1.0",
	    "HEADERS",
	    "HEADER.FIELDS",
	    "HEADER.FIELDS ()",
	    "HEADER.FIELDS (A",
	    "TEXT.X",
	    "1.MIMEX",
	    "4294967296",
	    "1.FOO",
	    "HEADER.FIELDS (A:B)",
	    "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26.27.28.29",
	    " 1",
	    "HEADER.FIELDS  (A)",
	};
	struct message_section sec;
	const char *error;

	for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
		int r = message_section_parse(good[i][0], &sec, &error);

		ok(r == 0 && (int)sec.kind == atoi(good[i][1]) && strcmp(sec.part, good[i][2]) == 0,
		   "section \"%s\" parses", good[i][0]);
		if (r == 0)
			message_section_clear(&sec);
	}
	if (message_section_parse("1.HEADER.FIELDS.NOT (from \"x-b\" Subject)", &sec, &error) ==
	    0) {
		ok(sec.kind == SECTION_FIELDS_NOT && sec.nfields == 3 &&
		       strcmp(sec.fields[0], "FROM") == 0 && strcmp(sec.fields[1], "X-B") == 0 &&
		       strcmp(sec.fields[2], "SUBJECT") == 0,
		   "HEADER.FIELDS names upper-cased");
		message_section_clear(&sec);
		ok(sec.fields == NULL && sec.nfields == 0, "message_section_clear");
	} else {
		ok(0, "HEADER.FIELDS.NOT list parses");
	}
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		error = NULL;
		ok(message_section_parse(bad[i], &sec, &error) < 0 && error != NULL,
		   "section \"%s\" refused", bad[i]);
	}
	{
		struct message_range r;

		ok(message_section_find("not json", &sec, &r) < 0, "corrupt part map: -1");
		ok(message_section_find(
		       "{\"size\":5,\"parts\":{\"1\":{\"h\":[0,9],\"b\":[9,9],"
		       "\"t\":\"text/plain\",\"e\":\"7bit\"}}}",
		       &(struct message_section){.kind = SECTION_BODY, .part = "1"}, &r) < 0,
		   "part map range past the end: -1");
	}
}

static void
test_header_filter(void)
{
	const char hdr[] = "From: a@b\r\nSubject: one\r\n two\r\nX-Empty:\r\nsubject : again\r\n"
	                   "no colon line\r\nTo: c@d\r\n\r\nbody: not a header\r\n";
	char *fields[] = {"SUBJECT", "x-empty"};
	struct evbuffer *buf = evbuffer_new();
	char *got;
	size_t n;

	message_header_filter(hdr, sizeof(hdr) - 1, fields, 2, false, buf);
	n = evbuffer_get_length(buf);
	got = g_strndup((char *)evbuffer_pullup(buf, -1), n);
	is_str(got, "Subject: one\r\n two\r\nX-Empty:\r\nsubject : again\r\n\r\n",
	       "HEADER.FIELDS keeps folded lines whole, case-insensitive");
	g_free(got);
	evbuffer_drain(buf, n);
	message_header_filter(hdr, sizeof(hdr) - 1, fields, 2, true, buf);
	n = evbuffer_get_length(buf);
	got = g_strndup((char *)evbuffer_pullup(buf, -1), n);
	is_str(got, "From: a@b\r\nno colon line\r\nTo: c@d\r\n\r\n",
	       "HEADER.FIELDS.NOT stops at the blank line");
	g_free(got);
	evbuffer_drain(buf, n);
	message_header_filter("Subject: x", 10, fields, 1, false, buf);
	n = evbuffer_get_length(buf);
	got = g_strndup((char *)evbuffer_pullup(buf, -1), n);
	is_str(got, "Subject: x\r\n\r\n", "an unterminated last line gets its CRLF");
	g_free(got);
	evbuffer_free(buf);
}

static void
decode_case(const char *enc, const char *in, const char *want, int want_ret)
{
	struct evbuffer *buf = evbuffer_new();
	uint64_t size = 99;
	int r = message_decode(enc, in, strlen(in), buf);
	int r2 = message_decoded_size(enc, in, strlen(in), &size);
	size_t n = evbuffer_get_length(buf);
	char *got = g_strndup((char *)evbuffer_pullup(buf, -1), n);

	char *shown = g_strescape(strlen(in) > 40 ? "(long input)" : in, NULL);

	if (want_ret < 0) {
		ok(r < 0 && r2 < 0, "encoding \"%s\" is unknown", enc);
	} else {
		ok(r == 0 && r2 == 0 && strcmp(got, want) == 0 && size == strlen(want),
		   "%s decode of \"%s\"", enc, shown);
		if (strcmp(got, want) != 0) {
			char *esc = g_strescape(got, NULL);

			printf("#   got \"%s\"\n", esc);
			g_free(esc);
		}
	}
	g_free(shown);
	g_free(got);
	evbuffer_free(buf);
}

static void
test_decoders(void)
{
	GString *big = g_string_new(NULL), *want = g_string_new(NULL);

	decode_case("base64", "SGVsbG8sIHdvcmxkIQ==", "Hello, world!", 0);
	decode_case("BASE64", "SGVs\r\nbG8s\r\n IHdv cmxk\r\nIQ==\r\n", "Hello, world!", 0);
	decode_case("base64", "SGVsbG8", "Hello", 0);
	decode_case("base64", "SGVsbA", "Hell", 0);
	decode_case("quoted-printable", "a=3Db=\r\nc=C3=A9\r\nd", "a=bc\xc3\xa9\r\nd", 0);
	decode_case("Quoted-Printable", "soft=\nbreak", "softbreak", 0);
	decode_case("quoted-printable", "pad \t\r\nx=\t\r\ny =ZZ=4", "pad\r\nxy =ZZ=4", 0);
	decode_case("7bit", "as is=3D", "as is=3D", 0);
	decode_case("8bit", "\xc3\xa9", "\xc3\xa9", 0);
	decode_case("binary", "x", "x", 0);
	decode_case("", "x", "x", 0);
	decode_case("x-uuencode", "x", NULL, -1);
	decode_case("base65", "x", NULL, -1);
	/* larger than one internal chunk */
	for (int i = 0; i < 10000; i++) {
		g_string_append(big, "QUJDRA==");
		g_string_append(want, "ABCD");
	}
	{
		gchar *enc = g_base64_encode((const guchar *)want->str, want->len);

		decode_case("base64", enc, want->str, 0);
		g_free(enc);
	}
	g_string_free(big, TRUE);
	g_string_free(want, TRUE);
}

static void
test_base_subject(void)
{
	const char *cases[][2] = {
	    {"Re: Fwd: [list] Subject (fwd)", "Subject"},
	    {"[fwd: Re: hi]", "hi"},
	    {"RE:  re: FW: x", "x"},
	    {"Re: [PATCH] foo", "foo"},
	    {"[only blob]", "[only blob]"},
	    {"Ref: x", "Ref: x"},
	    {"Re[2]: x", "x"},
	    {"  spaced \t out  ", "spaced out"},
	    {"", ""},
	    {"(fwd)", ""},
	    {"Re:", ""},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *raw = g_strdup_printf("Subject: %s\r\n\r\n.", cases[i][0]);
		struct message_info info;

		if (parse(raw, strlen(raw), &info)) {
			is_str(info.base_subject, cases[i][1], "base subject of \"%s\"",
			       cases[i][0]);
			message_info_clear(&info);
		}
		g_free(raw);
	}
}

static void
test_text_extraction(void)
{
	char *raw = crlf(
	    "From: x@y.z\nContent-Type: multipart/mixed; boundary=m\n\n--m\n"
	    "Content-Type: text/html; charset=windows-1252\nContent-Transfer-Encoding: base64\n\n"
	    "PGh0bWw+PHNjcmlwdD52YXIgeDwvc2NyaXB0PjxwPkZpcnN0Jm5ic3A7cGFyYWdyYXBo\n"
	    "PC9wPjwhLS0gaGlkZGVuIC0tPjxwPlNlY29uZCCAPC9wPjwvaHRtbD4=\n"
	    "--m\n"
	    "Content-Type: text/plain; charset=koi8-r\nContent-Disposition: attachment; "
	    "filename=a.txt\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n"
	    "--m\n"
	    "Content-Type: image/png; name=x.png\nContent-Transfer-Encoding: base64\n\niVBORw0K\n"
	    "--m--\n");
	struct message_info info;

	if (!parse(raw, strlen(raw), &info)) {
		g_free(raw);
		return;
	}
	ok(strstr(info.search_text, "First paragraph") != NULL &&
	       strstr(info.search_text, "Second \xe2\x82\xac") != NULL,
	   "base64 HTML in windows-1252: decoded, converted, stripped");
	ok(strstr(info.search_text, "var x") == NULL && strstr(info.search_text, "hidden") == NULL,
	   "scripts and comments dropped");
	ok(strstr(info.search_text, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82") != NULL,
	   "KOI8-R text attachment converted");
	is_str(info.preview, "First paragraph Second \xe2\x82\xac",
	       "preview from HTML when no inline plain text");
	ok(info.meta.has_attachment, "attachment found");
	message_info_clear(&info);
	g_free(raw);

	raw = crlf("From: x@y.z\nContent-Type: multipart/mixed; boundary=m\n\n--m\n\nhi\n--m\n"
	           "Content-Type: image/png\n\nxx\n--m--\n");
	if (parse(raw, strlen(raw), &info)) {
		ok(!info.meta.has_attachment, "an inline image without a name is no attachment");
		message_info_clear(&info);
	}
	g_free(raw);

	{
		GString *s = g_string_new("Subject: long\r\n\r\n");

		for (int i = 0; i < 300; i++)
			g_string_append(s, "\xc3\xa9  \r\n");
		if (parse(s->str, s->len, &info)) {
			ok(g_utf8_strlen(info.preview, -1) >= 199 &&
			       g_utf8_strlen(info.preview, -1) <= 200 &&
			       g_str_has_prefix(info.preview, "\xc3\xa9 \xc3\xa9 "),
			   "preview is 200 characters at most");
			ok(strstr(info.preview, "  ") == NULL, "preview white space collapsed");
			message_info_clear(&info);
		}
		g_string_free(s, TRUE);
	}
	{
		/* the search text is capped */
		GString *s = g_string_new("Subject: big\r\n\r\n");

		while (s->len < 3 * 1024 * 1024)
			g_string_append(s, "abcdefghij \xc3\xa9\r\n");
		if (parse(s->str, s->len, &info)) {
			ok(strlen(info.search_text) <= 1024 * 1024 &&
			       strlen(info.search_text) > 1000 * 1000,
			   "search_text capped at 1 MiB");
			message_info_clear(&info);
		}
		g_string_free(s, TRUE);
	}
}

static GString *
nest_multipart(int depth)
{
	GString *s = g_string_new("Subject: deep\r\n");

	for (int i = 0; i < depth; i++)
		g_string_append_printf(
		    s, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	g_string_append(s, "Content-Type: text/plain\r\n\r\nleaf\r\n");
	for (int i = depth - 1; i >= 0; i--)
		g_string_append_printf(s, "--b%d--\r\n", i);
	return s;
}

static void
test_limits(void)
{
	struct message_info info;
	const char *error = NULL;
	GString *s;

	ok(message_parse("", 0, &info, &error) < 0 && error != NULL, "empty message refused");
	s = nest_multipart(60);
	if (message_parse(s->str, s->len, &info, &error) == 0) {
		char *part =
		    fetch(s->str, &info, "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1");

		ok(part != NULL && g_str_has_prefix(part, "--b26\r\n"),
		   "60 levels of multipart parse; a deep section fetches");
		g_free(part);
		message_info_clear(&info);
	} else {
		ok(0, "60 levels of multipart parse: %s", error);
	}
	g_string_free(s, TRUE);
	s = nest_multipart(70);
	error = NULL;
	ok(message_parse(s->str, s->len, &info, &error) < 0 && error != NULL,
	   "70 levels of multipart refused: %s", error ? error : "");
	g_string_free(s, TRUE);

	s = g_string_new(NULL);
	for (int i = 0; i < 100; i++)
		g_string_append(s, "Content-Type: message/rfc822\r\n\r\n");
	g_string_append(s, "x");
	error = NULL;
	ok(message_parse(s->str, s->len, &info, &error) < 0 && error != NULL,
	   "100 nested message/rfc822 refused");
	g_string_free(s, TRUE);

	s = g_string_new("Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (int i = 0; i < 20000; i++)
		g_string_append(s, "--x\r\n\r\n.\r\n");
	error = NULL;
	ok(message_parse(s->str, s->len, &info, &error) < 0 && error != NULL,
	   "20000 parts refused");
	g_string_free(s, TRUE);
}

static void
test_malformed(void)
{
#define S(x)                                                                                       \
	{                                                                                          \
		x, sizeof(x) - 1                                                                   \
	}
	static const struct {
		const char *s;
		size_t len;
	} inputs[] = {
	    S("x"),
	    S("\n"),
	    S("\r\n\r\n"),
	    S(":"),
	    S("Subject"),
	    S(" folded first line\r\nSubject: x\r\n\r\nb"),
	    S("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\nx\r\n----\r\n"),
	    S("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x"),
	    S("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x--"),
	    S("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"),
	    S("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: "
	      "multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\n--x--\r\n"),
	    S("Content-Type: message/rfc822\r\n"),
	    S("Content-Type: message/rfc822\r\n\r\n"),
	    S("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nZm9v\r\n"),
	    S("Content-Type: /\r\n\r\n"),
	    S("Content-Type: text/\r\n\r\n"),
	    S("Content-Type: ;;;=;\"\r\n\r\n"),
	    S("Content-Type: a/b; p*0*=x; p*1*=y; p*3=z; p*=w; q*99999999999=1\r\n\r\n"),
	    S("Content-Type: text/plain; charset=no-such-charset\r\n\r\n\xff\xfe\x80"),
	    S("Content-Type: text/plain; charset=utf-16\r\n\r\n\xff\xfe\x41\x00"),
	    S("Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!"),
	    S("Content-Type: text/html\r\n\r\n<script><!--<style"),
	    S("Content-Type: text/html\r\n\r\n&#xFFFFFFFF;&#0;&#55296;&"),
	    S("From: ,,,;;;<<<>>>@@@:::...\"\r\nTo: (((\r\nCc: \"\\\r\nBcc: [\r\n\r\n"),
	    S("From: a:b:c:d;;;e@f\r\nSender: <>\r\nReply-To: @\r\n\r\n"),
	    S("Date: Mon, 99 Foo 99999 99:99:99 +9999\r\nSubject: =?x?q?=?=\r\n\r\n"),
	    S("Subject: =?utf-8?b?////?= =?utf-8?q?=FF=FE?=\r\n\r\n"),
	    S("Subject: \0nul\0\r\nFrom: a\0b@c\r\n\r\nbody\0with\0nul"),
	    S("Subject: bare\rcr\r\n\r\nbody\rcr"),
	    S("Content-Type: multipart/alternative; boundary=\"a\"\n\n--a\nContent-Type: "
	      "multipart/mixed; boundary=\"a-b\"\n\n--a-b\n\nx\n--a\n\ny\n--a--"),
	    S("Content-Language: ,,, , (c)\r\nContent-Location: \r\nContent-ID: \r\n\r\n"),
	    S("Content-Disposition: ; filename=x\r\nContent-Type: image/gif\r\n\r\n"),
	};
#undef S
	size_t failures = 0, parsed = 0;
	GRand *rand = g_rand_new_with_seed(20240301);

	for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++) {
		size_t len = inputs[i].len;
		struct message_info info;
		const char *error, *problem;

		if (message_parse(inputs[i].s, len, &info, &error) < 0) {
			printf("# input %zu refused: %s\n", i, error);
			failures++;
			continue;
		}
		problem = check_invariants(&info, len);
		if (problem != NULL) {
			printf("# input %zu: %s\n", i, problem);
			failures++;
		}
		message_info_clear(&info);
	}
	ok(failures == 0, "%zu malformed inputs parse and keep the invariants",
	   G_N_ELEMENTS(inputs));

	/* mutations of the realistic samples */
	failures = 0;
	{
		const char *seeds[] = {alt_msg, nested_msg, encoded_msg, digest_msg,
		                       rfc822_top_msg};
		const char *tokens[] = {"\r\n", "\n",       "--", "--outer", "--inner--", "--alt1",
		                        ":",    "\r\n\r\n", "=?", "\"",      "(",         "<",
		                        ";",    "=",        "\0", "\x80"};

		for (int iter = 0; iter < 3000; iter++) {
			char *base = crlf(seeds[iter % G_N_ELEMENTS(seeds)]);
			GString *s = g_string_new(base);
			int edits = g_rand_int_range(rand, 1, 8);
			struct message_info info;
			const char *error, *problem;

			for (int e = 0; e < edits && s->len > 0; e++) {
				gsize pos = g_rand_int_range(rand, 0, (gint32)s->len);
				const char *tok =
				    tokens[g_rand_int_range(rand, 0, G_N_ELEMENTS(tokens))];
				size_t tlen = *tok == '\0' ? 1 : strlen(tok);

				switch (g_rand_int_range(rand, 0, 3)) {
				case 0:
					g_string_insert_len(s, (gssize)pos, tok, (gssize)tlen);
					break;
				case 1: {
					gssize n = g_rand_int_range(rand, 1, 40);

					g_string_erase(s, (gssize)pos,
					               MIN(n, (gssize)(s->len - pos)));
					break;
				}
				default:
					s->str[pos] = (char)g_rand_int_range(rand, 0, 256);
					break;
				}
			}
			if (s->len > 0 && message_parse(s->str, s->len, &info, &error) == 0) {
				parsed++;
				problem = check_invariants(&info, s->len);
				if (problem != NULL) {
					printf("# mutation %d: %s\n", iter, problem);
					failures++;
				}
				message_info_clear(&info);
			}
			g_string_free(s, TRUE);
			g_free(base);
		}
	}
	ok(failures == 0 && parsed > 2900, "3000 mutated messages: %zu parsed, invariants hold",
	   parsed);
	g_rand_free(rand);

	{
		/* a huge header line and a long run of tiny lines */
		GString *s = g_string_new("Subject: ");
		struct message_info info;
		const char *error;

		for (int i = 0; i < 2 * 1024 * 1024; i++)
			g_string_append_c(s, 'a' + i % 26);
		g_string_append(s, "\r\nTo: ");
		for (int i = 0; i < 20000; i++)
			g_string_append_printf(s, "u%d@x.y, ", i);
		g_string_append(s, "\r\n\r\n");
		for (int i = 0; i < 100000; i++)
			g_string_append(s, "\r\n");
		ok(message_parse(s->str, s->len, &info, &error) == 0 &&
		       check_invariants(&info, s->len) == NULL,
		   "2 MiB header line and 20000 addresses");
		if (info.partmap != NULL)
			message_info_clear(&info);
		g_string_free(s, TRUE);
	}
}

int
main(void)
{
	test_rfc3501();
	test_alternative();
	test_nested();
	test_encoded();
	test_structures();
	test_sections();
	test_header_filter();
	test_decoders();
	test_base_subject();
	test_text_extraction();
	test_limits();
	test_malformed();
	return done_testing();
}
