/* vCard building and writing (vcard.h): new cards, properties and
 * parameters added with the escaping and RFC 6868 encoding their version
 * needs, and the canonical text, folded at 75 octets with CRLF. */
#include "vcard.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vcard-private.h"
#include "xmalloc.h"

#define FOLD_OCTETS 75

/* --- Building --- */

struct vcard *
vcard_new(enum vcard_version version)
{
	struct vcard *card = xcalloc(1, sizeof(*card));

	card->version = version;
	card->begin = xstrdup("BEGIN:VCARD");
	card->end = xstrdup("END:VCARD");
	vcard_add(card, NULL, "VERSION", version == VCARD_V4 ? "4.0" : "3.0");
	return card;
}

struct vcard_prop *
vcard_add(struct vcard *card, const char *group, const char *name, const char *value)
{
	struct vcard_prop *p = vcard_prop_append(card);

	p->group = group != NULL ? xstrdup(group) : NULL;
	p->name = xstrdup(name);
	p->value = xstrdup(value);
	return p;
}

struct vcard_prop *
vcard_add_text(struct vcard *card, const char *group, const char *name, const char *text)
{
	char *raw = vcard_text_escape(text);
	struct vcard_prop *p = vcard_add(card, group, name, raw);

	free(raw);
	return p;
}

int
vcard_param_add(const struct vcard *card, struct vcard_prop *prop, const char *name,
                const char *value, const char **error_r)
{
	struct vcard_param *param;
	size_t len = 0;
	bool quote = false;
	char *raw, *o;

	if (!vcard_is_token(name)) {
		*error_r = "invalid parameter name";
		return -1;
	}
	for (const char *s = value; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
			*error_r = "control character in a parameter value";
			return -1;
		}
		if (c == '"' && card->version == VCARD_V3) {
			*error_r = "'\"' cannot appear in a vCard 3.0 parameter value";
			return -1;
		}
		if (c == ',' || c == ';' || c == ':')
			quote = true;
		len += (card->version == VCARD_V4 && (c == '\n' || c == '^' || c == '"')) ? 2 : 1;
	}
	raw = xmalloc(len + 3);
	o = raw;
	if (quote)
		*o++ = '"';
	for (const char *s = value; *s != '\0'; s++) {
		if (card->version == VCARD_V4 && (*s == '\n' || *s == '^' || *s == '"')) {
			*o++ = '^';
			*o++ = *s == '\n' ? 'n' : *s == '^' ? '^' : '\'';
		} else {
			*o++ = *s == '\n' ? ' ' : *s;
		}
	}
	if (quote)
		*o++ = '"';
	*o = '\0';
	prop->params = xreallocarray(prop->params, prop->nparams + 1, sizeof(*prop->params));
	param = &prop->params[prop->nparams++];
	memset(param, 0, sizeof(*param));
	param->name = xstrdup(name);
	param->raw = raw;
	vcard_param_decode(param, card->version);
	return 0;
}

void
vcard_member_add(struct vcard *card, const char *uri)
{
	bool v4 = card->version == VCARD_V4;

	if (vcard_find(card, v4 ? "KIND" : "X-ADDRESSBOOKSERVER-KIND") == NULL)
		vcard_add(card, NULL, v4 ? "KIND" : "X-ADDRESSBOOKSERVER-KIND", "group");
	vcard_add(card, NULL, v4 ? "MEMBER" : "X-ADDRESSBOOKSERVER-MEMBER", uri);
}

/* --- Writing --- */

struct outbuf {
	char *s;
	size_t len, cap;
};

static void
out_add(struct outbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
out_str(struct outbuf *b, const char *s)
{
	out_add(b, s, strlen(s));
}

/* Writes one logical line folded at FOLD_OCTETS, never splitting a UTF-8
 * sequence. */
static void
out_folded(struct outbuf *b, const char *line, size_t len)
{
	size_t pos = 0, room = FOLD_OCTETS, cut;

	while (len - pos > room) {
		cut = pos + room;
		while (cut > pos && ((unsigned char)line[cut] & 0xc0) == 0x80)
			cut--;
		out_add(b, line + pos, cut - pos);
		out_add(b, "\r\n ", 3);
		pos = cut;
		room = FOLD_OCTETS - 1;
	}
	out_add(b, line + pos, len - pos);
	out_add(b, "\r\n", 2);
}

char *
vcard_write(const struct vcard *card, size_t *len_r)
{
	struct outbuf b = {0}, line = {0};

	out_folded(&b, card->begin, strlen(card->begin));
	for (size_t i = 0; i < card->nprops; i++) {
		const struct vcard_prop *p = &card->props[i];

		line.len = 0;
		if (p->group != NULL) {
			out_str(&line, p->group);
			out_str(&line, ".");
		}
		out_str(&line, p->name);
		for (size_t k = 0; k < p->nparams; k++) {
			out_str(&line, ";");
			out_str(&line, p->params[k].name);
			if (p->params[k].raw != NULL) {
				out_str(&line, "=");
				out_str(&line, p->params[k].raw);
			}
		}
		out_str(&line, ":");
		out_str(&line, p->value);
		out_folded(&b, line.s, line.len);
	}
	out_folded(&b, card->end, strlen(card->end));
	free(line.s);
	if (len_r != NULL)
		*len_r = b.len;
	return b.s;
}
