/* modules/message-text.c: the decoded text SEARCH, SORT and previews
 * work on: transfer decoding, charset conversion to UTF-8, HTML to text,
 * decoded addresses and sort keys, msg-ids, the RFC 5256 base subject and
 * the RFC 8970 preview. */
#include <gmime/gmime.h>
#include <string.h>

#include "message-private.h"
#include "xmalloc.h"

/* Encoded input read per text part for search_text, at most. */
#define TEXT_PART_INPUT_MAX (4 * 1024 * 1024)

char *
message_clean_utf8(const char *s, size_t len)
{
	GString *t = g_string_sized_new(len + 1);
	char *dec;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\0')
			g_string_append_c(t, s[i]);
	}
	if (g_utf8_validate(t->str, (gssize)t->len, NULL))
		return g_string_free(t, FALSE);
	/* 8-bit text in an unknown charset: let GMime guess (UTF-8, then
	 * its fallback charsets), and never let invalid bytes through */
	dec = g_mime_utils_decode_8bit(NULL, t->str, t->len);
	if (dec != NULL && g_utf8_validate(dec, -1, NULL)) {
		g_string_free(t, TRUE);
		return dec;
	}
	g_free(dec);
	dec = g_utf8_make_valid(t->str, (gssize)t->len);
	g_string_free(t, TRUE);
	return dec;
}

/* ---------------------------------------------------------------------
 * Transfer encodings
 */

struct outbuf {
	char buf[16384];
	size_t len;
	void (*emit)(void *ctx, const char *buf, size_t n);
	void *ctx;
};

static void
out_byte(struct outbuf *o, char c)
{
	if (o->len == sizeof(o->buf)) {
		o->emit(o->ctx, o->buf, o->len);
		o->len = 0;
	}
	o->buf[o->len++] = c;
}

static int
hexval(char c)
{
	return g_ascii_isxdigit(c) ? g_ascii_xdigit_value(c) : -1;
}

/* RFC 2045 6.7: trailing white space on a line is transport padding and
 * goes; "=" at the end of a line is a soft break; "=XX" a byte; any
 * other "=" is kept as it is. */
static void
decode_qp(const char *data, size_t len, struct outbuf *o)
{
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *le = nl != NULL ? nl : end, *ce = le;
		bool soft = false;

		if (ce > p && ce[-1] == '\r')
			ce--;
		while (ce > p && (ce[-1] == ' ' || ce[-1] == '\t'))
			ce--;
		for (const char *q = p; q < ce; q++) {
			if (*q != '=') {
				out_byte(o, *q);
			} else if (q + 1 == ce) {
				soft = true;
			} else if (ce - q >= 3 && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
				out_byte(o, (char)(hexval(q[1]) * 16 + hexval(q[2])));
				q += 2;
			} else {
				out_byte(o, '=');
			}
		}
		if (nl == NULL)
			break;
		if (!soft) {
			for (const char *q = ce; q <= nl; q++) {
				if (*q == '\r' || *q == '\n')
					out_byte(o, *q);
			}
		}
		p = nl + 1;
	}
}

int
message_decode_chunks(const char *encoding, const char *data, size_t len,
                      void (*emit)(void *ctx, const char *buf, size_t n), void *ctx)
{
	struct outbuf *o;
	GMimeEncoding state;
	size_t off, chunk, n;

	if (encoding == NULL || *encoding == '\0' || g_ascii_strcasecmp(encoding, "7bit") == 0 ||
	    g_ascii_strcasecmp(encoding, "8bit") == 0 ||
	    g_ascii_strcasecmp(encoding, "binary") == 0) {
		if (len > 0)
			emit(ctx, data, len);
		return 0;
	}
	if (g_ascii_strcasecmp(encoding, "base64") != 0 &&
	    g_ascii_strcasecmp(encoding, "quoted-printable") != 0)
		return -1;
	o = g_new(struct outbuf, 1);
	o->len = 0;
	o->emit = emit;
	o->ctx = ctx;
	if (g_ascii_tolower(*encoding) == 'q') {
		decode_qp(data, len, o);
	} else {
		g_mime_encoding_init_decode(&state, GMIME_CONTENT_ENCODING_BASE64);
		/* base64 never grows the data: 12 KiB in fits the buffer */
		for (off = 0; off < len; off += chunk) {
			chunk = len - off < 12288 ? len - off : 12288;
			n = g_mime_encoding_step(&state, data + off, chunk, o->buf);
			if (n > 0)
				emit(ctx, o->buf, n);
		}
		/* a last group without its padding still counts */
		if (state.state == 2 || state.state == 3) {
			n = g_mime_encoding_step(&state, "==", state.state == 2 ? 2 : 1, o->buf);
			if (n > 0)
				emit(ctx, o->buf, n);
		}
	}
	if (o->len > 0)
		emit(ctx, o->buf, o->len);
	g_free(o);
	return 0;
}

static void
emit_gstring(void *ctx, const char *buf, size_t n)
{
	g_string_append_len(ctx, buf, (gssize)n);
}

/* ---------------------------------------------------------------------
 * HTML to text
 */

static bool
starts_ci(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(end - p) >= n && g_ascii_strncasecmp(p, word, n) == 0;
}

static const char *
find_ci(const char *p, const char *end, const char *word)
{
	for (; p < end; p++) {
		if (starts_ci(p, end, word))
			return p;
	}
	return NULL;
}

static const char *const block_tags[] = {
    "br", "p",  "div", "tr", "li", "h1",    "h2",         "h3",    "h4",  "h5",      "h6",
    "hr", "ul", "ol",  "td", "th", "table", "blockquote", "title", "pre", "address",
};

static void
html_entity(GString *out, const char **pp, const char *end)
{
	static const struct {
		const char *name;
		const char *text;
	} named[] = {
	    {"amp;", "&"},   {"lt;", "<"},   {"gt;", ">"},
	    {"quot;", "\""}, {"apos;", "'"}, {"nbsp;", " "},
	};
	const char *p = *pp + 1;

	if (p < end && *p == '#') {
		gunichar c = 0;
		const char *q = p + 1;
		bool hex = q < end && (*q == 'x' || *q == 'X');
		int digits = 0;

		if (hex)
			q++;
		for (; q < end && digits < 8 && g_ascii_isxdigit(*q); q++, digits++) {
			if (!hex && !g_ascii_isdigit(*q))
				break;
			c = c * (hex ? 16 : 10) + (gunichar)g_ascii_xdigit_value(*q);
		}
		if (digits > 0 && q < end && *q == ';') {
			char buf[8];

			if (c == 0 || !g_unichar_validate(c))
				c = 0xFFFD;
			g_string_append_len(out, buf, g_unichar_to_utf8(c, buf));
			*pp = q + 1;
			return;
		}
	}
	for (size_t i = 0; i < G_N_ELEMENTS(named); i++) {
		if (starts_ci(p, end, named[i].name)) {
			g_string_append(out, named[i].text);
			*pp = p + strlen(named[i].name);
			return;
		}
	}
	g_string_append_c(out, '&');
	*pp = p;
}

void
message_html_to_text(GString *out, const char *html, size_t len)
{
	const char *p = html, *end = html + len, *gt;

	while (p < end) {
		if (*p == '&') {
			html_entity(out, &p, end);
			continue;
		}
		if (*p != '<') {
			g_string_append_c(out, *p++);
			continue;
		}
		if (starts_ci(p, end, "<!--")) {
			const char *c = find_ci(p + 4, end, "-->");

			p = c != NULL ? c + 3 : end;
			continue;
		}
		gt = memchr(p, '>', end - p);
		if (gt == NULL)
			break;
		{
			const char *n = p + 1, *nstart;
			bool closing = n < end && *n == '/';
			size_t nlen;

			if (closing)
				n++;
			nstart = n;
			while (n < gt && g_ascii_isalnum(*n))
				n++;
			nlen = n - nstart;
			p = gt + 1;
			if (!closing &&
			    ((nlen == 6 && g_ascii_strncasecmp(nstart, "script", 6) == 0) ||
			     (nlen == 5 && g_ascii_strncasecmp(nstart, "style", 5) == 0))) {
				char close[9] = "</";
				const char *c;

				memcpy(close + 2, nstart, nlen);
				close[2 + nlen] = '\0';
				c = find_ci(p, end, close);
				gt = c != NULL ? memchr(c, '>', end - c) : NULL;
				p = gt != NULL ? gt + 1 : end;
				continue;
			}
			for (size_t i = 0; i < G_N_ELEMENTS(block_tags); i++) {
				if (strlen(block_tags[i]) == nlen &&
				    g_ascii_strncasecmp(nstart, block_tags[i], nlen) == 0) {
					g_string_append_c(out, '\n');
					break;
				}
			}
		}
	}
}

/* ---------------------------------------------------------------------
 * Body text
 */

struct collect {
	GString *out;
	size_t max;
	const char *data;
	char *plain, *html; /* preview candidates */
};

static char *
part_text(const char *data, const struct mnode *node, bool html)
{
	GString *raw = g_string_new(NULL);
	uint64_t len = node->body_end - node->body_start;
	const char *charset = message_param_get(node->params, node->nparams, "CHARSET");
	char *conv = NULL, *ret;

	if (len > TEXT_PART_INPUT_MAX)
		len = TEXT_PART_INPUT_MAX;
	if (message_decode_chunks(node->encoding, data + node->body_start, len, emit_gstring, raw) <
	    0)
		g_string_append_len(raw, data + node->body_start, (gssize)len);
	if (charset != NULL && g_ascii_strcasecmp(charset, "us-ascii") != 0 &&
	    g_ascii_strcasecmp(charset, "utf-8") != 0) {
		iconv_t cd = g_mime_iconv_open("UTF-8", charset);

		if (cd != (iconv_t)-1) {
			conv = g_mime_iconv_strndup(cd, raw->str, raw->len);
			g_mime_iconv_close(cd);
		}
	}
	if (conv != NULL) {
		ret = message_clean_utf8(conv, strlen(conv));
		g_free(conv);
	} else {
		ret = message_clean_utf8(raw->str, raw->len);
	}
	g_string_free(raw, TRUE);
	if (html) {
		GString *t = g_string_new(NULL);

		message_html_to_text(t, ret, strlen(ret));
		g_free(ret);
		ret = g_string_free(t, FALSE);
	}
	return ret;
}

static void
collect(struct collect *c, const struct mnode *node)
{
	bool html;
	char *text;

	if (node->kind != MNODE_LEAF) {
		for (size_t i = 0; i < node->nchildren; i++)
			collect(c, node->children[i]);
		return;
	}
	if (strcmp(node->type, "text") != 0 ||
	    (strcmp(node->subtype, "plain") != 0 && strcmp(node->subtype, "html") != 0))
		return;
	html = strcmp(node->subtype, "html") == 0;
	if (c->out->len >= c->max && (c->plain != NULL || html))
		return;
	text = part_text(c->data, node, html);
	if (c->out->len < c->max) {
		size_t room = c->max - c->out->len, n = strlen(text);

		if (c->out->len > 0 && room > 1) {
			g_string_append_c(c->out, '\n');
			room--;
		}
		if (n > room) {
			/* cut at a character boundary */
			const char *cut = g_utf8_find_prev_char(text, text + room + 1);

			n = cut != NULL ? (size_t)(cut - text) : 0;
		}
		g_string_append_len(c->out, text, (gssize)n);
	}
	if (node->disposition == NULL || strcmp(node->disposition, "attachment") != 0) {
		char **slot = html ? &c->html : &c->plain;

		if (*slot == NULL) {
			*slot = text;
			text = NULL;
		}
	}
	g_free(text);
}

void
message_collect_text(GString *out, size_t max, const char *data, const struct mnode *node,
                     char **preview_r)
{
	struct collect c = {.out = out, .max = max, .data = data};

	collect(&c, node);
	if (c.plain != NULL) {
		*preview_r = c.plain;
		g_free(c.html);
	} else {
		*preview_r = c.html;
	}
}

char *
message_preview(const char *text, size_t max_chars)
{
	GString *s = g_string_new(NULL);
	size_t chars = 0;
	const char *p = text;

	while (*p != '\0' && chars < max_chars) {
		gunichar c = g_utf8_get_char(p);
		const char *next = g_utf8_next_char(p);

		if (g_unichar_isspace(c) || c == 0xA0) {
			if (s->len > 0 && s->str[s->len - 1] != ' ') {
				g_string_append_c(s, ' ');
				chars++;
			}
		} else if (!g_unichar_iscntrl(c)) {
			g_string_append_len(s, p, next - p);
			chars++;
		}
		p = next;
	}
	while (s->len > 0 && s->str[s->len - 1] == ' ')
		g_string_truncate(s, s->len - 1);
	return g_string_free(s, FALSE);
}

/* ---------------------------------------------------------------------
 * RFC 5256 base subject
 */

/* subj-blob = "[" *BLOBCHAR "]" *WSP; returns the end or -1. */
static long
skip_blob(const char *s, long q, long e)
{
	if (q >= e || s[q] != '[')
		return -1;
	for (long i = q + 1; i < e; i++) {
		if (s[i] == '[')
			return -1;
		if (s[i] == ']') {
			for (i++; i < e && s[i] == ' '; i++)
				;
			return i;
		}
	}
	return -1;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" */
static long
skip_refwd(const char *s, long q, long e)
{
	long r;

	if (e - q >= 3 && g_ascii_strncasecmp(s + q, "fwd", 3) == 0)
		q += 3;
	else if (e - q >= 2 && (g_ascii_strncasecmp(s + q, "fw", 2) == 0 ||
	                        g_ascii_strncasecmp(s + q, "re", 2) == 0))
		q += 2;
	else
		return -1;
	while (q < e && s[q] == ' ')
		q++;
	r = skip_blob(s, q, e);
	if (r >= 0)
		q = r;
	return q < e && s[q] == ':' ? q + 1 : -1;
}

char *
message_base_subject(const char *subject)
{
	GString *norm = g_string_new(NULL);
	const char *s;
	long b = 0, e, q, r;
	char *ret;

	/* (1) white space runs become one space */
	for (const char *p = subject; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			if (norm->len == 0 || norm->str[norm->len - 1] != ' ')
				g_string_append_c(norm, ' ');
		} else {
			g_string_append_c(norm, *p);
		}
	}
	s = norm->str;
	e = (long)norm->len;
	for (;;) {
		/* (2) subj-trailer: "(fwd)" / WSP */
		for (;;) {
			if (e > b && s[e - 1] == ' ')
				e--;
			else if (e - b >= 5 && g_ascii_strncasecmp(s + e - 5, "(fwd)", 5) == 0)
				e -= 5;
			else
				break;
		}
		/* (3)-(5) subj-leader and leading blobs */
		for (;;) {
			if (b < e && s[b] == ' ') {
				b++;
				continue;
			}
			for (q = b; (r = skip_blob(s, q, e)) >= 0; q = r)
				;
			r = skip_refwd(s, q, e);
			if (r >= 0) {
				b = r;
				continue;
			}
			r = skip_blob(s, b, e);
			if (r >= 0 && r < e) {
				b = r;
				continue;
			}
			break;
		}
		/* (6) "[fwd:" ... "]" */
		if (e - b >= 6 && g_ascii_strncasecmp(s + b, "[fwd:", 5) == 0 && s[e - 1] == ']') {
			b += 5;
			e--;
			continue;
		}
		break;
	}
	ret = g_strndup(s + b, e - b);
	g_string_free(norm, TRUE);
	return ret;
}

/* ---------------------------------------------------------------------
 * Decoded fields
 */

static void
addr_list_text(GString *out, InternetAddressList *list)
{
	int n = internet_address_list_length(list);

	for (int i = 0; i < n; i++) {
		InternetAddress *ia = internet_address_list_get_address(list, i);
		const char *name = internet_address_get_name(ia);

		if (out->len > 0 && out->str[out->len - 1] != ' ')
			g_string_append(out, ", ");
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			if (name != NULL && *name != '\0')
				g_string_append_printf(out, "%s: ", name);
			addr_list_text(
			    out, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)));
			g_string_append(out, ";");
		} else {
			const char *addr =
			    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));

			if (name != NULL && *name != '\0')
				g_string_append_printf(out, "%s <%s>", name, addr ? addr : "");
			else
				g_string_append(out, addr ? addr : "");
		}
	}
}

/* "Name <addr>, ..." decoded, for SEARCH FROM/TO/CC/BCC. */
char *
message_addr_text(const char *raw)
{
	InternetAddressList *list;
	GString *s;
	char *clean, *ret;

	if (raw == NULL)
		return xstrdup("");
	list = internet_address_list_parse(NULL, raw);
	if (list == NULL)
		return xstrdup(raw);
	s = g_string_new(NULL);
	addr_list_text(s, list);
	g_object_unref(list);
	clean = message_clean_utf8(s->str, s->len);
	g_string_free(s, TRUE);
	ret = xstrdup(clean);
	g_free(clean);
	return ret;
}

static char *
lower_dup(const char *s)
{
	char *low = g_utf8_strdown(s, -1), *ret = xstrdup(low);

	g_free(low);
	return ret;
}

/* RFC 5256 sort key (the addr-mailbox of the first address) and RFC 5957
 * display key (its display name, decoded, or else the address). */
void
message_sort_keys(const char *raw, char **sort_r, char **display_r)
{
	struct maddr *addrs;
	size_t n, i;

	*sort_r = NULL;
	if (display_r != NULL)
		*display_r = NULL;
	addrs = raw != NULL ? message_addr_parse(raw, &n) : NULL;
	for (i = 0; addrs != NULL && i < n; i++) {
		const struct maddr *a = &addrs[i];

		if (a->group_start || a->group_end || a->mailbox == NULL)
			continue;
		*sort_r = lower_dup(a->mailbox);
		if (display_r != NULL) {
			char *name = a->name != NULL
			                 ? g_mime_utils_header_decode_phrase(NULL, a->name)
			                 : NULL;
			char *clean = name != NULL ? message_clean_utf8(name, strlen(name)) : NULL;

			if (clean != NULL && *g_strstrip(clean) != '\0') {
				*display_r = lower_dup(clean);
			} else {
				char *spec = a->host != NULL
				                 ? g_strconcat(a->mailbox, "@", a->host, NULL)
				                 : g_strdup(a->mailbox);

				*display_r = lower_dup(spec);
				g_free(spec);
			}
			g_free(clean);
			g_free(name);
		}
		break;
	}
	if (addrs != NULL)
		message_addr_free(addrs, n);
	if (*sort_r == NULL)
		*sort_r = xstrdup("");
	if (display_r != NULL && *display_r == NULL)
		*display_r = xstrdup("");
}

/* The msg-ids ("<...>") in a Message-ID, In-Reply-To or References value,
 * space-separated; only the first when first_only. A value without any
 * is kept as it is (trimmed) for Message-ID. */
char *
message_msgids(const char *raw, bool first_only, bool keep_raw)
{
	GString *s = g_string_new(NULL);
	const char *p = raw, *end;
	char *ret;

	while (p != NULL && (p = strchr(p, '<')) != NULL) {
		end = strchr(p, '>');
		if (end == NULL)
			break;
		if (s->len > 0)
			g_string_append_c(s, ' ');
		for (; p <= end; p++) {
			if (*p != ' ' && *p != '\t')
				g_string_append_c(s, *p);
		}
		if (first_only)
			break;
	}
	if (s->len == 0 && keep_raw && raw != NULL)
		g_string_append(s, raw);
	ret = xstrdup(s->str);
	g_string_free(s, TRUE);
	return ret;
}

char *
message_headers_text(const char *d, const struct mnode *root)
{
	GString *s = g_string_new(NULL);
	size_t pos = root->hdr_start;
	struct mfield f;
	char *clean, *ret;

	while (s->len < MESSAGE_TEXT_MAX && message_field_next(d, &pos, root->hdr_end, &f)) {
		char *value = message_field_value(d, &f);

		if (f.name_len > 0) {
			g_string_append_len(s, d + f.start, f.name_len);
			g_string_append(s, ": ");
		}
		g_string_append(s, value);
		g_string_append_c(s, '\n');
		g_free(value);
	}
	if (s->len > MESSAGE_TEXT_MAX)
		g_string_truncate(s, MESSAGE_TEXT_MAX);
	/* the name bytes were not cleaned yet; truncation may cut a character */
	clean = message_clean_utf8(s->str, s->len);
	ret = xstrdup(clean);
	g_free(clean);
	g_string_free(s, TRUE);
	return ret;
}

bool
message_has_attachment(const struct mnode *node)
{
	if (node->kind == MNODE_MULTIPART) {
		for (size_t i = 0; i < node->nchildren; i++) {
			if (message_has_attachment(node->children[i]))
				return true;
		}
		return false;
	}
	if (node->disposition != NULL && strcmp(node->disposition, "attachment") == 0)
		return true;
	if (strcmp(node->type, "text") != 0 &&
	    (message_param_get(node->params, node->nparams, "NAME") != NULL ||
	     message_param_get(node->params, node->nparams, "NAME*") != NULL ||
	     message_param_get(node->disp_params, node->ndisp_params, "FILENAME") != NULL ||
	     message_param_get(node->disp_params, node->ndisp_params, "FILENAME*") != NULL))
		return true;
	return node->kind == MNODE_MESSAGE && message_has_attachment(node->children[0]);
}
