/* modules/message-eas.c: a raw message as the ActiveSync Email class
 * shows it: decoded header fields, the plain and HTML bodies, the
 * attachment list with IMAP part numbers, truncation on UTF-8 boundaries,
 * previews, and the decoded content of one part (attachment fetches). */
#include "message-eas.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

#include "message-private.h"
#include "xmalloc.h"

/* ---------------------------------------------------------------------
 * Small helpers
 */

static char *
dup_clean(const char *s)
{
	char *c, *ret;

	if (s == NULL)
		return xstrdup("");
	c = message_clean_utf8(s, strlen(s));
	ret = xstrdup(c);
	g_free(c);
	return ret;
}

static char *
addr_list(InternetAddressList *list)
{
	char *s, *ret;

	if (list == NULL || internet_address_list_length(list) == 0)
		return xstrdup("");
	s = internet_address_list_to_string(list, NULL, FALSE);
	ret = dup_clean(s);
	g_free(s);
	return ret;
}

/* The display names (else the addresses) of a list, "; "-separated. */
static char *
display_names(InternetAddressList *list)
{
	GString *out = g_string_new(NULL);
	char *ret;
	int n = list != NULL ? internet_address_list_length(list) : 0;

	for (int i = 0; i < n; i++) {
		InternetAddress *a = internet_address_list_get_address(list, i);
		const char *name = internet_address_get_name(a);

		if (out->len > 0)
			g_string_append(out, "; ");
		if (name != NULL && *name != '\0')
			g_string_append(out, name);
		else if (INTERNET_ADDRESS_IS_MAILBOX(a))
			g_string_append(
			    out, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
	}
	ret = dup_clean(out->str);
	g_string_free(out, TRUE);
	return ret;
}

static unsigned
importance_of(GMimeObject *msg)
{
	const char *v = g_mime_object_get_header(msg, "Importance");

	if (v != NULL) {
		while (*v == ' ' || *v == '\t')
			v++;
		if (g_ascii_strncasecmp(v, "high", 4) == 0)
			return 2;
		if (g_ascii_strncasecmp(v, "low", 3) == 0)
			return 0;
		return 1;
	}
	v = g_mime_object_get_header(msg, "X-Priority");
	if (v != NULL) {
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '1' || *v == '2')
			return 2;
		if (*v == '4' || *v == '5')
			return 0;
	}
	return 1;
}

static bool
is_type(GMimeObject *o, const char *type, const char *subtype)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);

	return ct != NULL && g_mime_content_type_is_type(ct, type, subtype);
}

static bool
is_attachment_disposition(GMimeObject *o)
{
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(o);

	return d != NULL && g_mime_content_disposition_is_attachment(d);
}

static bool
is_inline_disposition(GMimeObject *o)
{
	GMimeContentDisposition *d = g_mime_object_get_content_disposition(o);
	const char *v = d != NULL ? g_mime_content_disposition_get_disposition(d) : NULL;

	return v != NULL && g_ascii_strcasecmp(v, "inline") == 0;
}

/* The encoded size of a part's content, and an estimate of its decoded size. */
static uint64_t
decoded_size(GMimePart *part)
{
	GMimeDataWrapper *w = g_mime_part_get_content(part);
	GMimeStream *s = w != NULL ? g_mime_data_wrapper_get_stream(w) : NULL;
	gint64 len = s != NULL ? g_mime_stream_length(s) : 0;

	if (len < 0)
		len = 0;
	switch (w != NULL ? g_mime_data_wrapper_get_encoding(w) : GMIME_CONTENT_ENCODING_DEFAULT) {
	case GMIME_CONTENT_ENCODING_BASE64:
		/* 4 characters a 3 bytes, lines of 76 + CRLF */
		return (uint64_t)len * 57 / 78;
	case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
		return (uint64_t)len * 9 / 10;
	default:
		return (uint64_t)len;
	}
}

/* A part's text converted to UTF-8 (valid, without NULs). */
static char *
part_text(GMimePart *part)
{
	char *t, *ret;

	if (GMIME_IS_TEXT_PART(part)) {
		t = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	} else {
		GMimeDataWrapper *w = g_mime_part_get_content(part);
		GMimeStream *mem = g_mime_stream_mem_new();
		GByteArray *arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));

		if (w != NULL)
			g_mime_data_wrapper_write_to_stream(w, mem);
		t = g_strndup((const char *)arr->data, arr->len);
		g_object_unref(mem);
	}
	if (t == NULL)
		return xstrdup("");
	ret = message_clean_utf8(t, strlen(t));
	g_free(t);
	t = xstrdup(ret);
	g_free(ret);
	return t;
}

static const char *
ext_for(const char *type, const char *subtype)
{
	static const struct {
		const char *type, *ext;
	} map[] = {
	    {"text/plain", "txt"},      {"text/html", "html"},     {"text/calendar", "ics"},
	    {"image/jpeg", "jpg"},      {"image/png", "png"},      {"image/gif", "gif"},
	    {"application/pdf", "pdf"}, {"message/rfc822", "eml"}, {"text/csv", "csv"},
	};
	char full[128];

	g_snprintf(full, sizeof(full), "%s/%s", type, subtype);
	for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
		if (g_ascii_strcasecmp(full, map[i].type) == 0)
			return map[i].ext;
	}
	return "dat";
}

/* ---------------------------------------------------------------------
 * The walk: bodies and attachments
 */

struct walk {
	struct message_eas *info;
	GPtrArray *atts;
	char *text, *html;
	bool in_related;
};

static void
add_attachment(struct walk *w, GMimeObject *o, const char *section)
{
	struct message_eas_attachment *a = xcalloc(1, sizeof(*a));
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	const char *type = ct != NULL ? g_mime_content_type_get_media_type(ct) : "application";
	const char *subtype =
	    ct != NULL ? g_mime_content_type_get_media_subtype(ct) : "octet-stream";
	const char *name = NULL, *cid = NULL, *loc = NULL;

	a->part = xstrdup(section);
	{
		char *full = g_strdup_printf("%s/%s", type != NULL ? type : "application",
		                             subtype != NULL ? subtype : "octet-stream");
		char *low = g_ascii_strdown(full, -1);

		a->content_type = xstrdup(low);
		g_free(low);
		g_free(full);
	}
	if (GMIME_IS_PART(o)) {
		GMimePart *p = GMIME_PART(o);

		name = g_mime_part_get_filename(p);
		cid = g_mime_part_get_content_id(p);
		loc = g_mime_part_get_content_location(p);
		a->estimated_size = decoded_size(p);
		a->method = MESSAGE_EAS_METHOD_NORMAL;
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		char *s = inner != NULL ? g_mime_object_to_string(GMIME_OBJECT(inner), NULL) : NULL;

		a->estimated_size = s != NULL ? strlen(s) : 0;
		g_free(s);
		a->method = MESSAGE_EAS_METHOD_EMBEDDED;
		name = g_mime_object_get_content_disposition_parameter(o, "filename");
		if (name == NULL && inner != NULL && g_mime_message_get_subject(inner) != NULL) {
			char *n = g_strdup_printf("%s.eml", g_mime_message_get_subject(inner));

			a->display_name = dup_clean(n);
			g_free(n);
		}
	}
	if (a->display_name == NULL) {
		if (name != NULL && *name != '\0') {
			a->display_name = dup_clean(name);
		} else {
			char *n = g_strdup_printf(
			    "attachment-%s.%s", section,
			    ext_for(type != NULL ? type : "", subtype != NULL ? subtype : ""));

			a->display_name = xstrdup(n);
			g_free(n);
		}
	}
	if (cid != NULL && *cid != '\0') {
		size_t l = strlen(cid);

		if (cid[0] == '<' && l >= 2 && cid[l - 1] == '>')
			a->content_id = xstrndup(cid + 1, l - 2);
		else
			a->content_id = xstrdup(cid);
	}
	if (loc != NULL && *loc != '\0')
		a->content_location = dup_clean(loc);
	/* Inline: shown within the HTML body (a multipart/related part with
	 * a Content-ID, or explicitly inline with a Content-ID). */
	a->is_inline = a->content_id != NULL && (w->in_related || is_inline_disposition(o));
	g_ptr_array_add(w->atts, a);
}

static void walk_object(struct walk *w, GMimeObject *o, const char *section);

static void
walk_multipart(struct walk *w, GMimeMultipart *mp, const char *section)
{
	int n = g_mime_multipart_get_count(mp);
	bool related = is_type(GMIME_OBJECT(mp), "multipart", "related");
	bool saved = w->in_related;

	if (related)
		w->in_related = true;
	for (int i = 0; i < n; i++) {
		char *sub = *section != '\0' ? g_strdup_printf("%s.%d", section, i + 1)
		                             : g_strdup_printf("%d", i + 1);

		walk_object(w, g_mime_multipart_get_part(mp, i), sub);
		g_free(sub);
	}
	w->in_related = saved;
}

static void
walk_object(struct walk *w, GMimeObject *o, const char *section)
{
	bool attach;

	if (GMIME_IS_MULTIPART(o)) {
		/* A signed message shows its content; the signature is an
		 * attachment (smime.p7s) as Exchange lists it. */
		walk_multipart(w, GMIME_MULTIPART(o), section);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		add_attachment(w, o, section);
		return;
	}
	if (!GMIME_IS_PART(o))
		return;
	attach = is_attachment_disposition(o);
	if (!attach && is_type(o, "text", "plain") && w->text == NULL) {
		w->text = part_text(GMIME_PART(o));
		return;
	}
	if (!attach && is_type(o, "text", "html") && w->html == NULL) {
		w->html = part_text(GMIME_PART(o));
		return;
	}
	add_attachment(w, o, section);
}

static char *
text_to_html(const char *text)
{
	GString *out = g_string_new("<html><head><meta http-equiv=\"Content-Type\" "
	                            "content=\"text/html; charset=utf-8\"></head><body>");
	char *ret;

	for (const char *p = text; *p != '\0'; p++) {
		/* Plain runs in one go. */
		size_t run = strcspn(p, "&<>\"\r\n");

		g_string_append_len(out, p, (gssize)run);
		p += run;
		switch (*p) {
		case '\0':
			p--; /* the loop ends */
			break;
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
		case '\r':
			break;
		case '\n':
			g_string_append(out, "<br>\r\n");
			break;
		}
	}
	g_string_append(out, "</body></html>");
	ret = xstrdup(out->str);
	g_string_free(out, TRUE);
	return ret;
}

static char *
html_to_text(const char *html)
{
	GString *t = g_string_new(NULL);
	char *ret;

	message_html_to_text(t, html, strlen(html));
	ret = dup_clean(t->str);
	g_string_free(t, TRUE);
	return ret;
}

int
message_eas_parse(const void *data, size_t size, struct message_eas *info_r, const char **error_r)
{
	struct walk w = {.info = info_r};
	GMimeMessage *m;
	GMimeObject *body;
	GDateTime *dt;
	const char *v;

	memset(info_r, 0, sizeof(*info_r));
	if (data == NULL || size == 0) {
		*error_r = "empty message";
		return -1;
	}
	m = message_gmime_parse(data, size);
	if (m == NULL) {
		/* Not even a header: show the bytes as text. */
		info_r->from = xstrdup("");
		info_r->to = xstrdup("");
		info_r->cc = xstrdup("");
		info_r->reply_to = xstrdup("");
		info_r->subject = xstrdup("");
		info_r->thread_topic = xstrdup("");
		info_r->display_to = xstrdup("");
		info_r->message_id = xstrdup("");
		info_r->message_class = xstrdup("IPM.Note");
		info_r->importance = 1;
		info_r->date = -1;
		{
			char *t = message_clean_utf8(data, size);

			info_r->text = xstrdup(t);
			g_free(t);
		}
		info_r->html = text_to_html(info_r->text);
		info_r->native_type = 1;
		return 0;
	}
	info_r->from = addr_list(g_mime_message_get_from(m));
	info_r->to = addr_list(g_mime_message_get_to(m));
	info_r->cc = addr_list(g_mime_message_get_cc(m));
	info_r->reply_to = addr_list(g_mime_message_get_reply_to(m));
	info_r->display_to = display_names(g_mime_message_get_to(m));
	info_r->subject = dup_clean(g_mime_message_get_subject(m));
	v = g_mime_object_get_header(GMIME_OBJECT(m), "Thread-Topic");
	if (v != NULL) {
		char *dec = g_mime_utils_header_decode_text(NULL, v);

		info_r->thread_topic = dup_clean(dec);
		g_free(dec);
	} else {
		char *base = message_base_subject(info_r->subject);

		info_r->thread_topic = dup_clean(base);
		g_free(base);
	}
	v = g_mime_message_get_message_id(m);
	if (v != NULL && *v != '\0') {
		char *id = g_strdup_printf("<%s>", v);

		info_r->message_id = dup_clean(id);
		g_free(id);
	} else {
		info_r->message_id = xstrdup("");
	}
	info_r->importance = importance_of(GMIME_OBJECT(m));
	dt = g_mime_message_get_date(m);
	info_r->date = dt != NULL ? (time_t)g_date_time_to_unix(dt) : -1;

	body = g_mime_message_get_mime_part(m);
	if (body != NULL && is_type(body, "multipart", "signed"))
		info_r->message_class = xstrdup("IPM.Note.SMIME.MultipartSigned");
	else if (body != NULL && (is_type(body, "application", "pkcs7-mime") ||
	                          is_type(body, "application", "x-pkcs7-mime")))
		info_r->message_class = xstrdup("IPM.Note.SMIME");
	else
		info_r->message_class = xstrdup("IPM.Note");

	w.atts = g_ptr_array_new();
	if (body != NULL) {
		if (GMIME_IS_MULTIPART(body))
			walk_multipart(&w, GMIME_MULTIPART(body), "");
		else
			walk_object(&w, body, "1");
	}
	info_r->native_type = w.html != NULL ? 2 : 1;
	if (w.text == NULL && w.html != NULL)
		w.text = html_to_text(w.html);
	if (w.text == NULL)
		w.text = xstrdup("");
	if (w.html == NULL)
		w.html = text_to_html(w.text);
	info_r->text = w.text;
	info_r->html = w.html;
	info_r->nattachments = w.atts->len;
	if (w.atts->len > 0) {
		info_r->attachments = xcalloc(w.atts->len, sizeof(*info_r->attachments));
		for (guint i = 0; i < w.atts->len; i++) {
			struct message_eas_attachment *a = g_ptr_array_index(w.atts, i);

			info_r->attachments[i] = *a;
			free(a);
		}
	}
	g_ptr_array_free(w.atts, TRUE);
	g_object_unref(m);
	return 0;
}

void
message_eas_clear(struct message_eas *info)
{
	if (info == NULL)
		return;
	free(info->from);
	free(info->to);
	free(info->cc);
	free(info->reply_to);
	free(info->subject);
	free(info->thread_topic);
	free(info->display_to);
	free(info->message_id);
	free(info->message_class);
	free(info->text);
	free(info->html);
	for (size_t i = 0; i < info->nattachments; i++) {
		struct message_eas_attachment *a = &info->attachments[i];

		free(a->part);
		free(a->display_name);
		free(a->content_type);
		free(a->content_id);
		free(a->content_location);
	}
	free(info->attachments);
	memset(info, 0, sizeof(*info));
}

size_t
message_eas_truncate(const char *text, size_t len, size_t max)
{
	size_t n;

	if (len <= max)
		return len;
	n = max;
	/* Back up over continuation bytes to the start of the character
	 * that does not fit. */
	while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
		n--;
	return n;
}

char *
message_eas_preview(const char *text, size_t max_chars)
{
	char *p = message_preview(text != NULL ? text : "", max_chars);
	char *ret = xstrdup(p);

	g_free(p);
	return ret;
}

/* ---------------------------------------------------------------------
 * One part's content
 */

static GMimeObject *
find_part(GMimeObject *o, const char *section)
{
	char *end;
	long n;

	while (*section != '\0') {
		n = strtol(section, &end, 10);
		if (end == section || n <= 0 || (*end != '.' && *end != '\0'))
			return NULL;
		if (GMIME_IS_MULTIPART(o)) {
			if (n > g_mime_multipart_get_count(GMIME_MULTIPART(o)))
				return NULL;
			o = g_mime_multipart_get_part(GMIME_MULTIPART(o), (int)n - 1);
		} else if (n != 1) {
			return NULL;
		}
		section = *end == '.' ? end + 1 : end;
		if (*section != '\0' && GMIME_IS_MESSAGE_PART(o)) {
			GMimeMessage *inner =
			    g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

			o = inner != NULL ? g_mime_message_get_mime_part(inner) : NULL;
			if (o == NULL)
				return NULL;
		}
	}
	return o;
}

int
message_eas_part(const void *data, size_t size, const char *part, unsigned char **data_r,
                 size_t *len_r, char **content_type_r)
{
	GMimeMessage *m;
	GMimeObject *o;
	GMimeStream *mem;
	GByteArray *arr;
	int ret = -1;

	*data_r = NULL;
	*len_r = 0;
	if (content_type_r != NULL)
		*content_type_r = NULL;
	if (data == NULL || size == 0 || part == NULL || *part == '\0')
		return -1;
	m = message_gmime_parse(data, size);
	if (m == NULL)
		return -1;
	o = g_mime_message_get_mime_part(m);
	o = o != NULL ? find_part(o, part) : NULL;
	if (o != NULL && (GMIME_IS_PART(o) || GMIME_IS_MESSAGE_PART(o))) {
		mem = g_mime_stream_mem_new();
		if (GMIME_IS_PART(o)) {
			GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));

			if (w != NULL)
				g_mime_data_wrapper_write_to_stream(w, mem);
		} else {
			GMimeMessage *inner =
			    g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

			if (inner != NULL)
				g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
		}
		arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
		*data_r = xmalloc(arr->len + 1);
		memcpy(*data_r, arr->data, arr->len);
		(*data_r)[arr->len] = '\0';
		*len_r = arr->len;
		g_object_unref(mem);
		if (content_type_r != NULL) {
			GMimeContentType *ct = g_mime_object_get_content_type(o);
			char *mt = ct != NULL ? g_mime_content_type_get_mime_type(ct) : NULL;

			*content_type_r = xstrdup(mt != NULL ? mt : "application/octet-stream");
			g_free(mt);
		}
		ret = 0;
	}
	g_object_unref(m);
	return ret;
}
