/* WBXML for ActiveSync: the decoder that turns a request body into a tree
 * of struct wbxml_node (strict, bounded, never trusting a length), the tree
 * accessors, and the writer that streams a response into an evbuffer. */
#include "wbxml.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "utf8.h"
#include "xmalloc.h"

/* Global tokens (WBXML 1.3 section 7.1). */
#define WB_SWITCH_PAGE 0x00
#define WB_END         0x01
#define WB_ENTITY      0x02
#define WB_STR_I       0x03
#define WB_LITERAL     0x04
#define WB_EXT_I_0     0x40
#define WB_EXT_I_2     0x42
#define WB_PI          0x43
#define WB_LITERAL_C   0x44
#define WB_EXT_T_0     0x80
#define WB_EXT_T_2     0x82
#define WB_STR_T       0x83
#define WB_LITERAL_A   0x84
#define WB_EXT_0       0xc0
#define WB_EXT_2       0xc2
#define WB_OPAQUE      0xc3
#define WB_LITERAL_AC  0xc4

#define WB_HAS_CONTENT 0x40
#define WB_HAS_ATTRS   0x80

/* Nodes come in blocks: the first one holds a typical request (a Ping
 * has six elements), later ones grow to NODES_PER_BLOCK. Thousands of
 * requests may wait for the database at once, each with its tree. */
#define NODES_FIRST_BLOCK 16
#define NODES_PER_BLOCK   256

struct node_block {
	struct node_block *next;
	unsigned used, size;
	struct wbxml_node nodes[];
};

struct wbxml_doc {
	struct wbxml_node *root;
	struct node_block *blocks;
	unsigned node_count;
};

/* ---------------------------------------------------------------------
 * Decoding
 */

static __thread char decode_error[160];

static const char *__attribute__((format(printf, 1, 2))) set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(decode_error, sizeof(decode_error), fmt, ap);
	va_end(ap);
	return decode_error;
}

struct decoder {
	const unsigned char *p;
	size_t len, pos;
	struct wbxml_doc *doc;
	const char *error;
};

static int __attribute__((format(printf, 2, 3))) fail(struct decoder *d, const char *fmt, ...)
{
	va_list ap;
	char msg[120];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->error = set_error("WBXML: %s", msg);
	return -1;
}

/* mb_u_int32 (WBXML 1.3 section 5.1): at most 5 bytes, value below 2^32. */
static int
read_mb_u_int32(struct decoder *d, uint32_t *value_r)
{
	size_t start = d->pos;
	uint64_t value = 0;

	for (int i = 0; i < 5; i++) {
		if (d->pos >= d->len)
			return fail(d, "truncated multi-byte integer at byte %zu", start);
		unsigned char b = d->p[d->pos++];

		value = (value << 7) | (b & 0x7f);
		if ((b & 0x80) == 0) {
			if (value > UINT32_MAX)
				return fail(d, "multi-byte integer overflow at byte %zu", start);
			*value_r = (uint32_t)value;
			return 0;
		}
	}
	return fail(d, "multi-byte integer longer than 5 bytes at byte %zu", start);
}

static struct wbxml_node *
node_new(struct wbxml_doc *doc)
{
	struct node_block *b = doc->blocks;

	if (b == NULL || b->used == b->size) {
		/* Small documents are the rule: the first block is small. */
		unsigned size = b == NULL ? NODES_FIRST_BLOCK : NODES_PER_BLOCK;

		b = xcalloc(1, sizeof(*b) + size * sizeof(b->nodes[0]));
		b->size = size;
		b->next = doc->blocks;
		doc->blocks = b;
	}
	doc->node_count++;
	return &b->nodes[b->used++];
}

static void
node_append_content(struct wbxml_node *n, const unsigned char *data, size_t len, bool opaque)
{
	unsigned char *buf = xrealloc((void *)n->data, n->len + len + 1);

	if (len > 0)
		memcpy(buf + n->len, data, len);
	n->len += len;
	buf[n->len] = '\0';
	n->data = buf;
	if (opaque)
		n->opaque = true;
}

static int
decode_header(struct decoder *d)
{
	uint32_t public_id, charset, strtbl;

	if (d->len < 1)
		return fail(d, "empty document");
	if (d->p[0] != 0x03)
		return fail(d, "unsupported version 0x%02x (want 0x03, WBXML 1.3)", d->p[0]);
	d->pos = 1;
	if (read_mb_u_int32(d, &public_id) < 0)
		return -1;
	if (public_id != 1)
		return fail(d, "public identifier %" PRIu32 " (want 1, unknown)", public_id);
	if (read_mb_u_int32(d, &charset) < 0)
		return -1;
	if (charset != 106)
		return fail(d, "charset %" PRIu32 " (want 106, UTF-8)", charset);
	if (read_mb_u_int32(d, &strtbl) < 0)
		return -1;
	if (strtbl != 0)
		return fail(d, "string table of %" PRIu32 " bytes (must be empty)", strtbl);
	return 0;
}

/* Rejects the global tokens ActiveSync never uses, each with its name. */
static int
reject_global(struct decoder *d, unsigned char b, size_t at)
{
	switch (b) {
	case WB_ENTITY:
		return fail(d, "entity at byte %zu (not allowed)", at);
	case WB_STR_T:
		return fail(d, "string table reference at byte %zu (not allowed)", at);
	case WB_PI:
		return fail(d, "processing instruction at byte %zu (not allowed)", at);
	case WB_LITERAL:
	case WB_LITERAL_A:
	case WB_LITERAL_C:
	case WB_LITERAL_AC:
		return fail(d, "literal tag 0x%02x at byte %zu (not allowed)", b, at);
	default:
		return fail(d, "extension token 0x%02x at byte %zu (not allowed)", b, at);
	}
}

static int
decode_body(struct decoder *d)
{
	struct wbxml_doc *doc = d->doc;
	struct wbxml_node *cur = NULL; /* innermost open element */
	unsigned depth = 0;
	uint8_t page = 0;
	bool root_done = false;

	while (d->pos < d->len) {
		size_t at = d->pos;
		unsigned char b = d->p[d->pos++];

		if (root_done)
			return fail(d, "data after the root element at byte %zu", at);

		if (b == WB_SWITCH_PAGE) {
			if (d->pos >= d->len)
				return fail(d, "truncated SWITCH_PAGE at byte %zu", at);
			page = d->p[d->pos++];
			if (wbxml_page_name(page) == NULL)
				return fail(d, "unknown code page %u at byte %zu", page, at);
			continue;
		}
		if (b == WB_END) {
			if (cur == NULL)
				return fail(d, "END without an open element at byte %zu", at);
			cur = cur->parent;
			if (--depth == 0)
				root_done = true;
			continue;
		}
		if (b == WB_STR_I) {
			const unsigned char *s = d->p + d->pos;
			const unsigned char *nul = memchr(s, '\0', d->len - d->pos);
			size_t slen, bad;

			if (cur == NULL)
				return fail(d, "text outside an element at byte %zu", at);
			if (nul == NULL)
				return fail(d, "unterminated inline string at byte %zu", at);
			slen = (size_t)(nul - s);
			bad = utf8_valid_prefix(s, slen);
			if (bad != slen)
				return fail(d, "invalid UTF-8 at byte %zu", d->pos + bad);
			node_append_content(cur, s, slen, false);
			d->pos += slen + 1;
			continue;
		}
		if (b == WB_OPAQUE) {
			uint32_t olen;

			if (cur == NULL)
				return fail(d, "opaque data outside an element at byte %zu", at);
			if (read_mb_u_int32(d, &olen) < 0)
				return -1;
			if (olen > d->len - d->pos)
				return fail(
				    d, "opaque length %" PRIu32 " at byte %zu runs past the end",
				    olen, at);
			node_append_content(cur, d->p + d->pos, olen, true);
			d->pos += olen;
			continue;
		}
		if ((b & 0x3f) <= WB_LITERAL)
			return reject_global(d, b, at);
		if (b & WB_HAS_ATTRS)
			return fail(d, "attributes at byte %zu (not allowed)", at);

		uint16_t tag = WBXML_TAG(page, b & 0x3f);

		if (wbxml_tag_name(tag) == NULL)
			return fail(d, "unknown token 0x%02x in code page %u at byte %zu", b & 0x3f,
			            page, at);
		if (cur == NULL && doc->root != NULL)
			return fail(d, "second root element at byte %zu", at);
		if (doc->node_count >= WBXML_MAX_NODES)
			return fail(d, "more than %d elements", WBXML_MAX_NODES);

		struct wbxml_node *n = node_new(doc);

		n->tag = tag;
		n->parent = cur;
		if (cur == NULL) {
			doc->root = n;
		} else {
			if (cur->last_child != NULL)
				cur->last_child->next = n;
			else
				cur->first_child = n;
			cur->last_child = n;
		}
		if (b & WB_HAS_CONTENT) {
			if (depth >= WBXML_MAX_DEPTH)
				return fail(d, "elements nested deeper than %d at byte %zu",
				            WBXML_MAX_DEPTH, at);
			n->has_content = true;
			cur = n;
			depth++;
		} else if (cur == NULL) {
			root_done = true;
		}
	}
	if (doc->root == NULL)
		return fail(d, "no root element");
	if (depth > 0)
		return fail(d, "truncated: %u element(s) not closed", depth);
	return 0;
}

int
wbxml_decode(const void *data, size_t len, struct wbxml_doc **doc_r, const char **error_r)
{
	struct decoder d = {.p = data, .len = len};

	*doc_r = NULL;
	d.doc = xcalloc(1, sizeof(*d.doc));
	if (decode_header(&d) < 0 || decode_body(&d) < 0) {
		wbxml_doc_free(&d.doc);
		*error_r = d.error;
		return -1;
	}
	*doc_r = d.doc;
	return 0;
}

const struct wbxml_node *
wbxml_doc_root(const struct wbxml_doc *doc)
{
	return doc == NULL ? NULL : doc->root;
}

void
wbxml_doc_free(struct wbxml_doc **docp)
{
	struct wbxml_doc *doc = *docp;

	if (doc == NULL)
		return;
	while (doc->blocks != NULL) {
		struct node_block *b = doc->blocks;

		doc->blocks = b->next;
		for (unsigned i = 0; i < b->used; i++)
			free((void *)b->nodes[i].data);
		free(b);
	}
	free(doc);
	*docp = NULL;
}

const struct wbxml_node *
wbxml_child(const struct wbxml_node *n, uint16_t tag)
{
	if (n == NULL)
		return NULL;
	for (const struct wbxml_node *c = n->first_child; c != NULL; c = c->next) {
		if (c->tag == tag)
			return c;
	}
	return NULL;
}

const struct wbxml_node *
wbxml_next(const struct wbxml_node *n, uint16_t tag)
{
	if (n == NULL)
		return NULL;
	for (const struct wbxml_node *c = n->next; c != NULL; c = c->next) {
		if (c->tag == tag)
			return c;
	}
	return NULL;
}

const char *
wbxml_text(const struct wbxml_node *n)
{
	if (n == NULL)
		return NULL;
	return n->data != NULL ? (const char *)n->data : "";
}

const char *
wbxml_child_text(const struct wbxml_node *n, uint16_t tag)
{
	return wbxml_text(wbxml_child(n, tag));
}

int
wbxml_child_uint(const struct wbxml_node *n, uint16_t tag, uint64_t *value_r)
{
	const struct wbxml_node *c = wbxml_child(n, tag);
	uint64_t value = 0;

	if (c == NULL)
		return 1;
	if (c->data == NULL || c->len == 0 || c->len > 20)
		return -1;
	for (size_t i = 0; i < c->len; i++) {
		unsigned char ch = c->data[i];

		if (ch < '0' || ch > '9')
			return -1;
		if (value > (UINT64_MAX - (ch - '0')) / 10)
			return -1;
		value = value * 10 + (ch - '0');
	}
	*value_r = value;
	return 0;
}

/* ---------------------------------------------------------------------
 * Writing
 */

struct wbxml_writer {
	struct evbuffer *out;
	uint8_t page;
	unsigned depth;
	bool root_written;
	bool failed;
	size_t opaque_left; /* bytes still owed to an announced OPAQUE */
};

static void __attribute__((format(printf, 2, 3)))
writer_bug(struct wbxml_writer *w, const char *fmt, ...)
{
	va_list ap;
	char msg[160];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!w->failed)
		log_error("WBXML writer: %s", msg);
	w->failed = true;
}

static void
put_mb_u_int32(struct evbuffer *out, uint32_t v)
{
	unsigned char buf[5];
	int i = (int)sizeof(buf);

	buf[--i] = v & 0x7f;
	while ((v >>= 7) != 0)
		buf[--i] = 0x80 | (v & 0x7f);
	evbuffer_add(out, buf + i, sizeof(buf) - (size_t)i);
}

struct wbxml_writer *
wbxml_writer_new(struct evbuffer *out)
{
	static const unsigned char header[] = {0x03, 0x01, 0x6a, 0x00};
	struct wbxml_writer *w = xcalloc(1, sizeof(*w));

	w->out = out;
	evbuffer_add(out, header, sizeof(header));
	return w;
}

/* Common checks before a tag; writes SWITCH_PAGE when the page changes. */
static bool
begin_tag(struct wbxml_writer *w, uint16_t tag)
{
	if (w->opaque_left > 0) {
		writer_bug(w, "tag 0x%04x inside an unfinished OPAQUE", tag);
		return false;
	}
	if (w->depth == 0 && w->root_written) {
		writer_bug(w, "second root element 0x%04x", tag);
		return false;
	}
	if (wbxml_tag_name(tag) == NULL) {
		writer_bug(w, "unknown tag 0x%04x", tag);
		return false;
	}
	if (WBXML_TAG_PAGE(tag) != w->page) {
		unsigned char sw[2] = {WB_SWITCH_PAGE, WBXML_TAG_PAGE(tag)};

		evbuffer_add(w->out, sw, sizeof(sw));
		w->page = WBXML_TAG_PAGE(tag);
	}
	if (w->depth == 0)
		w->root_written = true;
	return true;
}

void
wbxml_start(struct wbxml_writer *w, uint16_t tag)
{
	unsigned char b = WBXML_TAG_TOKEN(tag) | WB_HAS_CONTENT;

	if (!begin_tag(w, tag))
		return;
	evbuffer_add(w->out, &b, 1);
	w->depth++;
}

void
wbxml_end(struct wbxml_writer *w)
{
	unsigned char b = WB_END;

	if (w->opaque_left > 0) {
		writer_bug(w, "END inside an unfinished OPAQUE (%zu bytes missing)",
		           w->opaque_left);
		return;
	}
	if (w->depth == 0) {
		writer_bug(w, "END without an open element");
		return;
	}
	evbuffer_add(w->out, &b, 1);
	w->depth--;
}

void
wbxml_empty(struct wbxml_writer *w, uint16_t tag)
{
	unsigned char b = WBXML_TAG_TOKEN(tag);

	if (!begin_tag(w, tag))
		return;
	evbuffer_add(w->out, &b, 1);
}

void
wbxml_text_append(struct wbxml_writer *w, const char *text, size_t len)
{
	static const unsigned char str_i = WB_STR_I, nul = 0;

	if (w->depth == 0 || w->opaque_left > 0) {
		writer_bug(w, "text outside an element or inside an OPAQUE");
		return;
	}
	/* A NUL would end the inline string early and corrupt the document:
	 * the text goes out without it, in as many STR_I pieces as needed. */
	while (len > 0) {
		const char *z = memchr(text, '\0', len);
		size_t n = z != NULL ? (size_t)(z - text) : len;

		if (n > 0) {
			evbuffer_add(w->out, &str_i, 1);
			evbuffer_add(w->out, text, n);
			evbuffer_add(w->out, &nul, 1);
		}
		if (z == NULL)
			break;
		text += n + 1;
		len -= n + 1;
	}
}

void
wbxml_stringn(struct wbxml_writer *w, uint16_t tag, const char *text, size_t len)
{
	/* An empty value goes out as an empty element (<Tag/>), which
	 * decoders read as the empty string. */
	if (len == 0 || text == NULL) {
		wbxml_empty(w, tag);
		return;
	}
	unsigned depth = w->depth;

	wbxml_start(w, tag);
	if (w->depth == depth)
		return;
	wbxml_text_append(w, text, len);
	wbxml_end(w);
}

void
wbxml_string(struct wbxml_writer *w, uint16_t tag, const char *text)
{
	wbxml_stringn(w, tag, text, text != NULL ? strlen(text) : 0);
}

void
wbxml_stringf(struct wbxml_writer *w, uint16_t tag, const char *fmt, ...)
{
	va_list ap;
	char buf[256];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0) {
		writer_bug(w, "bad format for tag 0x%04x", tag);
		return;
	}
	if ((size_t)n < sizeof(buf)) {
		wbxml_stringn(w, tag, buf, (size_t)n);
		return;
	}
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	wbxml_stringn(w, tag, s, strlen(s));
	free(s);
}

void
wbxml_uint(struct wbxml_writer *w, uint16_t tag, uint64_t value)
{
	wbxml_stringf(w, tag, "%" PRIu64, value);
}

void
wbxml_opaque_begin(struct wbxml_writer *w, size_t total_len)
{
	unsigned char b = WB_OPAQUE;

	if (w->depth == 0 || w->opaque_left > 0) {
		writer_bug(w, "OPAQUE outside an element or inside another OPAQUE");
		return;
	}
	if (total_len > UINT32_MAX) {
		writer_bug(w, "OPAQUE of %zu bytes is too long", total_len);
		return;
	}
	evbuffer_add(w->out, &b, 1);
	put_mb_u_int32(w->out, (uint32_t)total_len);
	w->opaque_left = total_len;
}

void
wbxml_opaque_data(struct wbxml_writer *w, const void *data, size_t len)
{
	if (len > w->opaque_left) {
		writer_bug(w, "OPAQUE data of %zu bytes where %zu were announced", len,
		           w->opaque_left);
		len = w->opaque_left;
	}
	evbuffer_add(w->out, data, len);
	w->opaque_left -= len;
}

void
wbxml_opaque(struct wbxml_writer *w, uint16_t tag, const void *data, size_t len)
{
	unsigned depth = w->depth;

	wbxml_start(w, tag);
	if (w->depth == depth)
		return;
	wbxml_opaque_begin(w, len);
	wbxml_opaque_data(w, data, len);
	wbxml_end(w);
}

unsigned
wbxml_writer_depth(const struct wbxml_writer *w)
{
	return w->depth;
}

int
wbxml_writer_finish(struct wbxml_writer **wp)
{
	struct wbxml_writer *w = *wp;
	int ret;

	if (w == NULL)
		return -1;
	if (w->opaque_left > 0)
		writer_bug(w, "document ends inside an OPAQUE");
	else if (w->depth > 0)
		writer_bug(w, "document ends with %u element(s) open", w->depth);
	else if (!w->root_written)
		writer_bug(w, "document without a root element");
	ret = w->failed ? -1 : 0;
	free(w);
	*wp = NULL;
	return ret;
}

void
wbxml_writer_abort(struct wbxml_writer **wp)
{
	xfree_ptr(wp);
}
