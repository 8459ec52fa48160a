/* modules/message-imap.c: IMAP's view of a parsed message (RFC 3501
 * 7.4.2, RFC 9051): ENVELOPE and BODYSTRUCTURE/BODY text. */
#include <string.h>

#include "message-private.h"

/* ---------------------------------------------------------------------
 * IMAP output
 */

void
message_imap_string(GString *out, const char *s)
{
	const char *p;

	if (s == NULL) {
		g_string_append(out, "NIL");
		return;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n' || (unsigned char)*p >= 0x80) {
			g_string_append_printf(out, "{%zu}\r\n%s", strlen(s), s);
			return;
		}
	}
	g_string_append_c(out, '"');
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *p);
	}
	g_string_append_c(out, '"');
}

static void
imap_upper(GString *out, const char *s)
{
	char *up = g_ascii_strup(s, -1);

	message_imap_string(out, up);
	g_free(up);
}

/* Returns the number of addresses written. */
static size_t
write_addrs(GString *out, const char *value)
{
	struct maddr *a;
	size_t n = 0;

	a = value != NULL ? message_addr_parse(value, &n) : NULL;
	if (n == 0) {
		g_string_append(out, "NIL");
	} else {
		g_string_append_c(out, '(');
		for (size_t i = 0; i < n; i++) {
			g_string_append_c(out, '(');
			message_imap_string(out, a[i].name);
			g_string_append_c(out, ' ');
			message_imap_string(out, a[i].adl);
			g_string_append_c(out, ' ');
			message_imap_string(out, a[i].mailbox);
			g_string_append_c(out, ' ');
			message_imap_string(out, a[i].host);
			g_string_append_c(out, ')');
		}
		g_string_append_c(out, ')');
	}
	if (a != NULL)
		message_addr_free(a, n);
	return n;
}

/* Sender and Reply-To default to From when absent or empty. */
static void
write_addrs_or_from(GString *out, const char *value, const char *from)
{
	size_t mark = out->len;

	if (write_addrs(out, value) == 0) {
		g_string_truncate(out, mark);
		write_addrs(out, from);
	}
}

void
message_imap_envelope(GString *out, const struct mnode *msg)
{
	const char *const *h = (const char *const *)msg->hdr;

	g_string_append_c(out, '(');
	message_imap_string(out, h[MH_DATE]);
	g_string_append_c(out, ' ');
	message_imap_string(out, h[MH_SUBJECT]);
	g_string_append_c(out, ' ');
	write_addrs(out, h[MH_FROM]);
	g_string_append_c(out, ' ');
	write_addrs_or_from(out, h[MH_SENDER], h[MH_FROM]);
	g_string_append_c(out, ' ');
	write_addrs_or_from(out, h[MH_REPLY_TO], h[MH_FROM]);
	g_string_append_c(out, ' ');
	write_addrs(out, h[MH_TO]);
	g_string_append_c(out, ' ');
	write_addrs(out, h[MH_CC]);
	g_string_append_c(out, ' ');
	write_addrs(out, h[MH_BCC]);
	g_string_append_c(out, ' ');
	message_imap_string(out, h[MH_IN_REPLY_TO]);
	g_string_append_c(out, ' ');
	message_imap_string(out, h[MH_MESSAGE_ID]);
	g_string_append_c(out, ')');
}

uint64_t
message_count_lines(const char *data, uint64_t start, uint64_t end)
{
	uint64_t lines = 0;
	const char *p = data + start, *e = data + end, *nl;

	/* line breaks, as Dovecot counts: in a multipart the last line's
	 * break belongs to the boundary, so that line does not count */
	while (p < e && (nl = memchr(p, '\n', e - p)) != NULL) {
		lines++;
		p = nl + 1;
	}
	return lines;
}

static void
write_params(GString *out, const struct mparam *params, size_t n, bool default_charset)
{
	if (n == 0 && !default_charset) {
		g_string_append(out, "NIL");
		return;
	}
	g_string_append_c(out, '(');
	if (default_charset)
		g_string_append(out, "\"CHARSET\" \"US-ASCII\"");
	for (size_t i = 0; i < n; i++) {
		if (i > 0 || default_charset)
			g_string_append_c(out, ' ');
		message_imap_string(out, params[i].name);
		g_string_append_c(out, ' ');
		message_imap_string(out, params[i].value);
	}
	g_string_append_c(out, ')');
}

static void
write_language(GString *out, const char *value)
{
	GPtrArray *langs = g_ptr_array_new_with_free_func(g_free);
	const char *p = value;

	while (p != NULL && *p != '\0') {
		const char *start;

		p = message_skip_cfws(p);
		start = p;
		while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t' && *p != '(')
			p++;
		if (p > start)
			g_ptr_array_add(langs, g_strndup(start, p - start));
		else if (*p != '\0')
			p++;
	}
	if (langs->len == 0) {
		g_string_append(out, "NIL");
	} else if (langs->len == 1) {
		message_imap_string(out, langs->pdata[0]);
	} else {
		g_string_append_c(out, '(');
		for (guint i = 0; i < langs->len; i++) {
			if (i > 0)
				g_string_append_c(out, ' ');
			message_imap_string(out, langs->pdata[i]);
		}
		g_string_append_c(out, ')');
	}
	g_ptr_array_free(langs, TRUE);
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void
write_ext_common(GString *out, const struct mnode *node)
{
	g_string_append_c(out, ' ');
	if (node->disposition != NULL) {
		g_string_append_c(out, '(');
		imap_upper(out, node->disposition);
		g_string_append_c(out, ' ');
		write_params(out, node->disp_params, node->ndisp_params, false);
		g_string_append_c(out, ')');
	} else {
		g_string_append(out, "NIL");
	}
	g_string_append_c(out, ' ');
	write_language(out, node->hdr[MH_CONTENT_LANGUAGE]);
	g_string_append_c(out, ' ');
	message_imap_string(out, node->hdr[MH_CONTENT_LOCATION]);
}

void
message_imap_body(GString *out, const char *data, const struct mnode *node, bool extended)
{
	bool text = strcmp(node->type, "text") == 0;

	g_string_append_c(out, '(');
	if (node->kind == MNODE_MULTIPART) {
		for (size_t i = 0; i < node->nchildren; i++)
			message_imap_body(out, data, node->children[i], extended);
		g_string_append_c(out, ' ');
		imap_upper(out, node->subtype);
		if (extended) {
			g_string_append_c(out, ' ');
			write_params(out, node->params, node->nparams, false);
			write_ext_common(out, node);
		}
		g_string_append_c(out, ')');
		return;
	}
	imap_upper(out, node->type);
	g_string_append_c(out, ' ');
	imap_upper(out, node->subtype);
	g_string_append_c(out, ' ');
	write_params(out, node->params, node->nparams,
	             text && message_param_get(node->params, node->nparams, "CHARSET") == NULL);
	g_string_append_c(out, ' ');
	message_imap_string(out, node->hdr[MH_CONTENT_ID]);
	g_string_append_c(out, ' ');
	message_imap_string(out, node->hdr[MH_CONTENT_DESCRIPTION]);
	g_string_append_c(out, ' ');
	imap_upper(out, node->encoding);
	g_string_append_printf(out, " %" G_GUINT64_FORMAT, node->body_end - node->body_start);
	if (node->kind == MNODE_MESSAGE) {
		const struct mnode *inner = node->children[0];

		g_string_append_c(out, ' ');
		message_imap_envelope(out, inner);
		g_string_append_c(out, ' ');
		message_imap_body(out, data, inner, extended);
		g_string_append_printf(out, " %" G_GUINT64_FORMAT,
		                       message_count_lines(data, node->body_start, node->body_end));
	} else if (text) {
		g_string_append_printf(out, " %" G_GUINT64_FORMAT,
		                       message_count_lines(data, node->body_start, node->body_end));
	}
	if (extended) {
		g_string_append_c(out, ' ');
		message_imap_string(out, node->hdr[MH_CONTENT_MD5]);
		write_ext_common(out, node);
	}
	g_string_append_c(out, ')');
}
