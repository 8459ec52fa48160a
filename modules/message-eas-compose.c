/* modules/message-eas-compose.c: the messages ActiveSync clients make the
 * server send or store: the envelope of a submitted message, the message
 * as it travels (no Bcc, From/Date/Message-ID present, CRLF), SmartReply
 * and SmartForward (the original's text appended, its attachments
 * forwarded) and drafts built from Email fields. */
#include "message-eas.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

#include "message-private.h"
#include "xmalloc.h"

/* The message as bytes with CRLF line ends. */
static char *
serialize(GMimeMessage *m, size_t *len_r)
{
	GMimeFormatOptions *fo = g_mime_format_options_new();
	GMimeStream *mem = g_mime_stream_mem_new();
	GMimeStream *fs = g_mime_stream_filter_new(mem);
	GMimeFilter *crlf = g_mime_filter_dos2unix_new(FALSE);
	GMimeFilter *dos = g_mime_filter_unix2dos_new(FALSE);
	GByteArray *arr;
	char *out;

	/* Written with LF, then every line end made CRLF exactly once. */
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_UNIX);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), crlf);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), dos);
	g_mime_object_write_to_stream(GMIME_OBJECT(m), fo, fs);
	g_mime_stream_flush(fs);
	arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	out = xmalloc(arr->len + 1);
	memcpy(out, arr->data, arr->len);
	out[arr->len] = '\0';
	*len_r = arr->len;
	g_object_unref(crlf);
	g_object_unref(dos);
	g_object_unref(fs);
	g_object_unref(mem);
	g_mime_format_options_free(fo);
	return out;
}

/* ---------------------------------------------------------------------
 * Envelope and preparation
 */

static void
add_unique(GPtrArray *out, const char *addr)
{
	if (addr == NULL || *addr == '\0')
		return;
	for (guint i = 0; i < out->len; i++) {
		if (g_ascii_strcasecmp(g_ptr_array_index(out, i), addr) == 0)
			return;
	}
	g_ptr_array_add(out, xstrdup(addr));
}

static void
collect_addrs(GPtrArray *out, InternetAddressList *list)
{
	int n = list != NULL ? internet_address_list_length(list) : 0;

	for (int i = 0; i < n; i++) {
		InternetAddress *a = internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_MAILBOX(a))
			add_unique(out, internet_address_mailbox_get_idn_addr(
			                    INTERNET_ADDRESS_MAILBOX(a)));
		else if (INTERNET_ADDRESS_IS_GROUP(a))
			collect_addrs(
			    out, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)));
	}
}

int
message_eas_envelope(const void *data, size_t size, char ***rcpts_r, size_t *count_r, char **from_r,
                     const char **error_r)
{
	GMimeMessage *m;
	GPtrArray *out;
	GPtrArray *from;

	*rcpts_r = NULL;
	*count_r = 0;
	*from_r = NULL;
	if (data == NULL || size == 0) {
		*error_r = "empty message";
		return -1;
	}
	m = message_gmime_parse(data, size);
	if (m == NULL) {
		*error_r = "the message has no header";
		return -1;
	}
	out = g_ptr_array_new();
	collect_addrs(out, g_mime_message_get_to(m));
	collect_addrs(out, g_mime_message_get_cc(m));
	collect_addrs(out, g_mime_message_get_bcc(m));
	from = g_ptr_array_new();
	collect_addrs(from, g_mime_message_get_from(m));
	*from_r = from->len > 0 ? xstrdup(g_ptr_array_index(from, 0)) : xstrdup("");
	for (guint i = 0; i < from->len; i++)
		free(g_ptr_array_index(from, i));
	g_ptr_array_free(from, TRUE);
	*count_r = out->len;
	*rcpts_r = xcalloc(out->len + 1, sizeof(char *));
	for (guint i = 0; i < out->len; i++)
		(*rcpts_r)[i] = g_ptr_array_index(out, i);
	g_ptr_array_free(out, TRUE);
	g_object_unref(m);
	return 0;
}

void
message_eas_strv_free(char **v, size_t count)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free(v[i]);
	free(v);
}

static void
complete_headers(GMimeMessage *m, const char *from_header)
{
	InternetAddressList *from = g_mime_message_get_from(m);

	g_mime_object_remove_header(GMIME_OBJECT(m), "Bcc");
	if ((from == NULL || internet_address_list_length(from) == 0) && from_header != NULL &&
	    *from_header != '\0') {
		InternetAddressList *l = internet_address_list_parse(NULL, from_header);

		if (l != NULL) {
			internet_address_list_append(g_mime_message_get_from(m), l);
			g_object_unref(l);
		}
	}
	if (g_mime_message_get_date(m) == NULL) {
		GDateTime *now = g_date_time_new_now_local();

		g_mime_message_set_date(m, now);
		g_date_time_unref(now);
	}
	if (g_mime_message_get_message_id(m) == NULL) {
		char *id = g_mime_utils_generate_message_id("floe.invalid");

		g_mime_message_set_message_id(m, id);
		g_free(id);
	}
	if (g_mime_object_get_header(GMIME_OBJECT(m), "MIME-Version") == NULL)
		g_mime_object_set_header(GMIME_OBJECT(m), "MIME-Version", "1.0", NULL);
}

int
message_eas_prepare(const void *data, size_t size, const char *from_header, char **out_r,
                    size_t *len_r, const char **error_r)
{
	GMimeMessage *m;

	*out_r = NULL;
	*len_r = 0;
	if (data == NULL || size == 0) {
		*error_r = "empty message";
		return -1;
	}
	m = message_gmime_parse(data, size);
	if (m == NULL) {
		*error_r = "the message has no header";
		return -1;
	}
	complete_headers(m, from_header);
	*out_r = serialize(m, len_r);
	g_object_unref(m);
	return 0;
}

/* ---------------------------------------------------------------------
 * SmartReply / SmartForward
 */

struct body_parts {
	GMimeTextPart *plain, *html;
};

static bool
is_attachment(GMimeObject *o)
{
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(o);

	return d != NULL && g_mime_content_disposition_is_attachment(d);
}

static void
find_bodies(GMimeObject *o, struct body_parts *b)
{
	GMimeContentType *ct;

	if (GMIME_IS_MULTIPART(o)) {
		int n = g_mime_multipart_get_count(GMIME_MULTIPART(o));

		for (int i = 0; i < n; i++)
			find_bodies(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), b);
		return;
	}
	if (!GMIME_IS_TEXT_PART(o) || is_attachment(o))
		return;
	ct = g_mime_object_get_content_type(o);
	if (g_mime_content_type_is_type(ct, "text", "plain") && b->plain == NULL)
		b->plain = GMIME_TEXT_PART(o);
	else if (g_mime_content_type_is_type(ct, "text", "html") && b->html == NULL)
		b->html = GMIME_TEXT_PART(o);
}

/* The original's attachments (what message_eas_parse lists). */
static void
find_attachments(GMimeObject *o, GPtrArray *out, bool *have_plain, bool *have_html)
{
	GMimeContentType *ct;

	if (GMIME_IS_MULTIPART(o)) {
		int n = g_mime_multipart_get_count(GMIME_MULTIPART(o));

		for (int i = 0; i < n; i++)
			find_attachments(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), out,
			                 have_plain, have_html);
		return;
	}
	ct = g_mime_object_get_content_type(o);
	if (GMIME_IS_PART(o) && !is_attachment(o)) {
		if (g_mime_content_type_is_type(ct, "text", "plain") && !*have_plain) {
			*have_plain = true;
			return;
		}
		if (g_mime_content_type_is_type(ct, "text", "html") && !*have_html) {
			*have_html = true;
			return;
		}
	}
	if (GMIME_IS_PART(o) || GMIME_IS_MESSAGE_PART(o))
		g_ptr_array_add(out, o);
}

static char *
date_text(time_t t)
{
	GDateTime *dt;
	char *s, *ret;

	if (t < 0)
		return xstrdup("");
	dt = g_date_time_new_from_unix_utc((gint64)t);
	if (dt == NULL)
		return xstrdup("");
	s = g_date_time_format(dt, "%a, %d %b %Y %H:%M:%S +0000");
	ret = xstrdup(s != NULL ? s : "");
	g_free(s);
	g_date_time_unref(dt);
	return ret;
}

static void
html_escape(GString *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			g_string_append(out, "&amp;");
			break;
		case '<':
			g_string_append(out, "&lt;");
			break;
		case '>':
			g_string_append(out, "&gt;");
			break;
		case '"':
			g_string_append(out, "&quot;");
			break;
		default:
			g_string_append_c(out, *s);
			break;
		}
	}
}

/* The inside of <body>...</body> (the whole text when there is none). */
static void
html_inner(GString *out, const char *html)
{
	const char *start = html, *end = html + strlen(html), *p;

	for (p = html; *p != '\0'; p++) {
		if (g_ascii_strncasecmp(p, "<body", 5) == 0) {
			const char *gt = strchr(p, '>');

			if (gt != NULL)
				start = gt + 1;
			break;
		}
	}
	for (p = start; *p != '\0'; p++) {
		if (g_ascii_strncasecmp(p, "</body", 6) == 0) {
			end = p;
			break;
		}
	}
	g_string_append_len(out, start, end - start);
}

static void
set_text(GMimeTextPart *part, const char *text)
{
	g_mime_text_part_set_text(part, text);
	g_mime_part_set_content_encoding(GMIME_PART(part), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
}

static void
append_original(struct body_parts *b, const struct message_eas *orig)
{
	char *sent = date_text(orig->date);

	if (b->plain != NULL) {
		char *cur = g_mime_text_part_get_text(b->plain);
		GString *t = g_string_new(cur != NULL ? cur : "");

		g_free(cur);
		g_string_append(t, "\r\n\r\n-----Original Message-----\r\n");
		g_string_append_printf(t, "From: %s\r\nSent: %s\r\nTo: %s\r\n", orig->from, sent,
		                       orig->to);
		if (*orig->cc != '\0')
			g_string_append_printf(t, "Cc: %s\r\n", orig->cc);
		g_string_append_printf(t, "Subject: %s\r\n\r\n", orig->subject);
		g_string_append(t, orig->text);
		set_text(b->plain, t->str);
		g_string_free(t, TRUE);
	}
	if (b->html != NULL) {
		char *cur = g_mime_text_part_get_text(b->html);
		GString *block = g_string_new("<hr><div><b>From:</b> ");
		GString *t = g_string_new(NULL);
		const char *close = NULL;

		html_escape(block, orig->from);
		g_string_append(block, "<br><b>Sent:</b> ");
		html_escape(block, sent);
		g_string_append(block, "<br><b>To:</b> ");
		html_escape(block, orig->to);
		if (*orig->cc != '\0') {
			g_string_append(block, "<br><b>Cc:</b> ");
			html_escape(block, orig->cc);
		}
		g_string_append(block, "<br><b>Subject:</b> ");
		html_escape(block, orig->subject);
		g_string_append(block, "</div><br>");
		html_inner(block, orig->html);
		if (cur != NULL) {
			for (const char *p = cur; *p != '\0'; p++) {
				if (g_ascii_strncasecmp(p, "</body", 6) == 0)
					close = p;
			}
		}
		if (close != NULL) {
			g_string_append_len(t, cur, close - cur);
			g_string_append(t, block->str);
			g_string_append(t, close);
		} else {
			g_string_append(t, cur != NULL ? cur : "");
			g_string_append(t, block->str);
		}
		set_text(b->html, t->str);
		g_free(cur);
		g_string_free(block, TRUE);
		g_string_free(t, TRUE);
	}
	free(sent);
}

int
message_eas_smart(const void *newmsg, size_t newlen, const void *orig, size_t origlen, bool forward,
                  bool include_original, char **out_r, size_t *len_r, const char **error_r)
{
	GMimeMessage *nm, *om = NULL;
	struct message_eas oinfo;
	struct body_parts b = {0};

	*out_r = NULL;
	*len_r = 0;
	if (newmsg == NULL || newlen == 0) {
		*error_r = "empty message";
		return -1;
	}
	nm = message_gmime_parse(newmsg, newlen);
	if (nm == NULL) {
		*error_r = "the message has no header";
		return -1;
	}
	if (include_original && orig != NULL && origlen > 0 &&
	    message_eas_parse(orig, origlen, &oinfo, error_r) == 0) {
		GMimeObject *top = g_mime_message_get_mime_part(nm);

		if (top != NULL)
			find_bodies(top, &b);
		if (b.plain == NULL && b.html == NULL) {
			/* Nothing to append to: the new text becomes a part. */
			GMimeTextPart *tp = g_mime_text_part_new_with_subtype("plain");

			set_text(tp, "");
			if (top == NULL) {
				g_mime_message_set_mime_part(nm, GMIME_OBJECT(tp));
			} else {
				GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");

				g_mime_multipart_add(mixed, GMIME_OBJECT(tp));
				g_mime_multipart_add(mixed, top);
				g_mime_message_set_mime_part(nm, GMIME_OBJECT(mixed));
				g_object_unref(mixed);
			}
			b.plain = tp;
			g_object_unref(tp);
		}
		append_original(&b, &oinfo);
		message_eas_clear(&oinfo);
		if (forward) {
			GPtrArray *atts = g_ptr_array_new();
			bool hp = false, hh = false;

			om = message_gmime_parse(orig, origlen);
			if (om != NULL && g_mime_message_get_mime_part(om) != NULL)
				find_attachments(g_mime_message_get_mime_part(om), atts, &hp, &hh);
			if (atts->len > 0) {
				GMimeObject *cur = g_mime_message_get_mime_part(nm);
				GMimeMultipart *mixed;

				if (cur != NULL && GMIME_IS_MULTIPART(cur) &&
				    g_mime_content_type_is_type(g_mime_object_get_content_type(cur),
				                                "multipart", "mixed")) {
					mixed = GMIME_MULTIPART(cur);
					g_object_ref(mixed);
				} else {
					mixed = g_mime_multipart_new_with_subtype("mixed");
					if (cur != NULL)
						g_mime_multipart_add(mixed, cur);
					g_mime_message_set_mime_part(nm, GMIME_OBJECT(mixed));
				}
				for (guint i = 0; i < atts->len; i++)
					g_mime_multipart_add(mixed, g_ptr_array_index(atts, i));
				g_object_unref(mixed);
			}
			g_ptr_array_free(atts, TRUE);
		}
	}
	*out_r = serialize(nm, len_r);
	g_object_unref(nm);
	if (om != NULL)
		g_object_unref(om);
	return 0;
}

/* ---------------------------------------------------------------------
 * Drafts
 */

static void
add_list(GMimeMessage *m, GMimeAddressType type, const char *text)
{
	InternetAddressList *l;

	if (text == NULL || *text == '\0')
		return;
	l = internet_address_list_parse(NULL, text);
	if (l != NULL) {
		internet_address_list_append(g_mime_message_get_addresses(m, type), l);
		g_object_unref(l);
	}
}

char *
message_eas_draft(const struct message_eas_draft *d, size_t *len_r)
{
	GMimeMessage *m;
	GMimeTextPart *tp;
	GDateTime *dt;
	char *out, *id;

	message_gmime_init();
	m = g_mime_message_new(TRUE);
	add_list(m, GMIME_ADDRESS_TYPE_FROM, d->from);
	add_list(m, GMIME_ADDRESS_TYPE_TO, d->to);
	add_list(m, GMIME_ADDRESS_TYPE_CC, d->cc);
	add_list(m, GMIME_ADDRESS_TYPE_BCC, d->bcc);
	if (d->subject != NULL)
		g_mime_message_set_subject(m, d->subject, "utf-8");
	if (d->importance == 0)
		g_mime_object_set_header(GMIME_OBJECT(m), "Importance", "low", NULL);
	else if (d->importance == 2)
		g_mime_object_set_header(GMIME_OBJECT(m), "Importance", "high", NULL);
	dt = d->date > 0 ? g_date_time_new_from_unix_utc((gint64)d->date)
	                 : g_date_time_new_now_utc();
	g_mime_message_set_date(m, dt);
	g_date_time_unref(dt);
	id = g_mime_utils_generate_message_id("floe.invalid");
	g_mime_message_set_message_id(m, id);
	g_free(id);
	tp = g_mime_text_part_new_with_subtype(d->body_type == 2 ? "html" : "plain");
	set_text(tp, d->body != NULL ? d->body : "");
	g_mime_message_set_mime_part(m, GMIME_OBJECT(tp));
	g_object_unref(tp);
	out = serialize(m, len_r);
	g_object_unref(m);
	return out;
}
