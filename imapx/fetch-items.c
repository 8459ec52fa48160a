/* Parsing of the FETCH item list (see fetch-items.h). Section specs are
 * checked against the RFC 3501 grammar here, so that a bad one is a BAD
 * before anything is read from the store. */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch-items.h"
#include "parser.h"
#include "store.h"
#include "xmalloc.h"

/* Growable string for building response names. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void
sbuf_addn(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 64 : b->cap;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->s = xrealloc(b->s, cap);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sbuf_add(struct sbuf *b, const char *s)
{
	sbuf_addn(b, s, strlen(s));
}

static char *
sbuf_steal(struct sbuf *b)
{
	if (b->s == NULL)
		return xstrdup("");
	char *s = b->s;
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

/* RFC 3501 ATOM-CHAR for header names (no specials, no controls). */
static bool
is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* Parses a decimal number of at most max (no sign, no leading '+'). */
static bool
parse_number(const char *s, size_t len, uint64_t max, uint64_t *n_r)
{
	uint64_t n = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*n_r = n;
	return true;
}

void
imap_fetch_section_clear(struct message_section *section)
{
	for (size_t i = 0; i < section->nfields; i++)
		free(section->fields[i]);
	free(section->fields);
	section->fields = NULL;
	section->nfields = 0;
}

/* Parses header-list "(" astring *(SP astring) ")" at s[0..len) (the whole
 * rest of the section text). Names go upper-cased into section, and as
 * given into the canonical spelling. */
static int
parse_header_list(const char *s, size_t len, struct message_section *section, struct sbuf *canon,
                  const char **error_r)
{
	size_t i = 0;

	if (len < 2 || s[0] != '(' || s[len - 1] != ')') {
		*error_r = "HEADER.FIELDS needs a parenthesized list of header names";
		return -1;
	}
	sbuf_add(canon, "(");
	i = 1;
	len--; /* the closing ')' */
	while (i < len) {
		char name[256];
		size_t nlen = 0;
		bool quoted = false;

		if (section->nfields > 0) {
			if (s[i] != ' ') {
				*error_r = "header names must be separated by one space";
				return -1;
			}
			i++;
		}
		if (i < len && s[i] == '"') {
			quoted = true;
			i++;
			while (i < len && s[i] != '"') {
				char c = s[i];
				if (c == '\\') {
					if (++i >= len) {
						break;
					}
					c = s[i];
				}
				if (nlen + 1 >= sizeof(name)) {
					*error_r = "header name too long";
					return -1;
				}
				name[nlen++] = c;
				i++;
			}
			if (i >= len) {
				*error_r = "unterminated quoted header name";
				return -1;
			}
			i++; /* closing quote */
		} else {
			while (i < len && s[i] != ' ') {
				if (!is_atom_char((unsigned char)s[i])) {
					*error_r = "invalid character in header name";
					return -1;
				}
				if (nlen + 1 >= sizeof(name)) {
					*error_r = "header name too long";
					return -1;
				}
				name[nlen++] = s[i++];
			}
		}
		name[nlen] = '\0';
		/* A header field name is printable US-ASCII without ':'. */
		bool valid = nlen > 0;
		for (size_t k = 0; k < nlen; k++) {
			unsigned char c = (unsigned char)name[k];
			if (c <= 0x20 || c >= 0x7f || c == ':')
				valid = false;
		}
		if (!valid) {
			*error_r = quoted ? "invalid header name" : "empty header name";
			return -1;
		}
		if (section->nfields > 0)
			sbuf_add(canon, " ");
		bool atom = true;
		for (size_t k = 0; k < nlen; k++)
			if (!is_atom_char((unsigned char)name[k]))
				atom = false;
		if (atom) {
			sbuf_addn(canon, name, nlen);
		} else {
			sbuf_add(canon, "\"");
			for (size_t k = 0; k < nlen; k++) {
				if (name[k] == '"' || name[k] == '\\')
					sbuf_add(canon, "\\");
				sbuf_addn(canon, &name[k], 1);
			}
			sbuf_add(canon, "\"");
		}
		for (size_t k = 0; k < nlen; k++)
			name[k] = (char)toupper((unsigned char)name[k]);
		section->fields =
		    xreallocarray(section->fields, section->nfields + 1, sizeof(char *));
		section->fields[section->nfields++] = xstrdup(name);
	}
	if (section->nfields == 0) {
		*error_r = "HEADER.FIELDS needs at least one header name";
		return -1;
	}
	sbuf_add(canon, ")");
	return 0;
}

static bool
word_at(const char *s, size_t len, const char *word)
{
	size_t wl = strlen(word);
	return len >= wl && strncasecmp(s, word, wl) == 0;
}

int
imap_fetch_section_parse(const char *text, size_t len, bool binary,
                         struct message_section *section_r, char **canon_r, const char **error_r)
{
	struct sbuf canon = {0};
	size_t i = 0, plen = 0;

	memset(section_r, 0, sizeof(*section_r));
	*canon_r = NULL;

	/* section-part = nz-number *("." nz-number) */
	while (i < len && text[i] >= '0' && text[i] <= '9') {
		size_t start = i;
		uint64_t n;

		while (i < len && text[i] >= '0' && text[i] <= '9')
			i++;
		if (!parse_number(text + start, i - start, 4294967295u, &n) || n == 0 ||
		    text[start] == '0') {
			*error_r = "invalid section part number";
			goto fail;
		}
		if (plen + (i - start) + 2 > sizeof(section_r->part)) {
			*error_r = "section part nested too deeply";
			goto fail;
		}
		if (plen > 0)
			section_r->part[plen++] = '.';
		memcpy(section_r->part + plen, text + start, i - start);
		plen += i - start;
		section_r->part[plen] = '\0';
		if (i < len && text[i] == '.') {
			if (i + 1 < len && text[i + 1] >= '0' && text[i + 1] <= '9') {
				i++;
				continue;
			}
			if (i + 1 >= len) {
				*error_r = "section ends with '.'";
				goto fail;
			}
			break;
		}
		break;
	}
	sbuf_add(&canon, section_r->part);

	if (i == len) {
		section_r->kind = plen > 0 ? SECTION_BODY : SECTION_ALL;
		*canon_r = sbuf_steal(&canon);
		return 0;
	}
	if (binary) {
		*error_r = "BINARY takes only a part number as section";
		goto fail;
	}
	if (plen > 0) {
		if (text[i] != '.') {
			*error_r = "invalid section part number";
			goto fail;
		}
		/* i points at the '.' before section-text */
		i++;
		sbuf_add(&canon, ".");
	}

	const char *rest = text + i;
	size_t rlen = len - i;

	if (word_at(rest, rlen, "HEADER.FIELDS.NOT") && (rlen == 17 || rest[17] == ' ')) {
		section_r->kind = SECTION_FIELDS_NOT;
		sbuf_add(&canon, "HEADER.FIELDS.NOT ");
		if (rlen < 18) {
			*error_r = "HEADER.FIELDS.NOT needs a list of header names";
			goto fail;
		}
		if (parse_header_list(rest + 18, rlen - 18, section_r, &canon, error_r) < 0)
			goto fail;
	} else if (word_at(rest, rlen, "HEADER.FIELDS") && (rlen == 13 || rest[13] == ' ')) {
		section_r->kind = SECTION_FIELDS;
		sbuf_add(&canon, "HEADER.FIELDS ");
		if (rlen < 14) {
			*error_r = "HEADER.FIELDS needs a list of header names";
			goto fail;
		}
		if (parse_header_list(rest + 14, rlen - 14, section_r, &canon, error_r) < 0)
			goto fail;
	} else if (rlen == 6 && word_at(rest, rlen, "HEADER")) {
		section_r->kind = SECTION_HEADER;
		sbuf_add(&canon, "HEADER");
	} else if (rlen == 4 && word_at(rest, rlen, "TEXT")) {
		section_r->kind = SECTION_TEXT;
		sbuf_add(&canon, "TEXT");
	} else if (rlen == 4 && word_at(rest, rlen, "MIME")) {
		if (plen == 0) {
			*error_r = "MIME needs a part number";
			goto fail;
		}
		section_r->kind = SECTION_MIME;
		sbuf_add(&canon, "MIME");
	} else {
		*error_r = "unknown section text";
		goto fail;
	}
	*canon_r = sbuf_steal(&canon);
	return 0;
fail:
	free(canon.s);
	imap_fetch_section_clear(section_r);
	return -1;
}

/* "<offset.length>" at s[0..len). */
static int
parse_partial(const char *s, size_t len, struct imap_fetch_body *body, const char **error_r)
{
	const char *dot;
	uint64_t off, n;

	if (len < 5 || s[0] != '<' || s[len - 1] != '>' || (dot = memchr(s, '.', len)) == NULL ||
	    !parse_number(s + 1, (size_t)(dot - s - 1), 4294967295u, &off) ||
	    !parse_number(dot + 1, (size_t)(s + len - 1 - dot - 1), 4294967295u, &n)) {
		*error_r = "invalid partial <offset.length>";
		return -1;
	}
	if (n == 0) {
		*error_r = "partial length must not be 0";
		return -1;
	}
	body->partial = true;
	body->offset = (uint32_t)off;
	body->length = (uint32_t)n;
	return 0;
}

static bool
same_body(const struct imap_fetch_body *a, const struct imap_fetch_body *b)
{
	return a->type == b->type && a->peek == b->peek && a->partial == b->partial &&
	       a->offset == b->offset && a->length == b->length && strcmp(a->name, b->name) == 0;
}

static void
add_body(struct imap_fetch_items *items, struct imap_fetch_body *body)
{
	for (size_t i = 0; i < items->nbodies; i++) {
		if (same_body(&items->bodies[i], body)) {
			free(body->name);
			imap_fetch_section_clear(&body->section);
			return;
		}
	}
	items->bodies = xreallocarray(items->bodies, items->nbodies + 1, sizeof(*items->bodies));
	items->bodies[items->nbodies++] = *body;
	if (!body->peek)
		items->sets_seen = true;
}

/* The RFC822.* items and bare BODY[]-less spellings. */
static int
add_rfc822(struct imap_fetch_items *items, const char *name, enum message_section_kind kind,
           bool peek)
{
	struct imap_fetch_body body = {0};

	body.type = IMAP_FETCH_BODY_SECTION;
	body.name = xstrdup(name);
	body.section.kind = kind;
	body.peek = peek;
	add_body(items, &body);
	return 0;
}

/* BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...], BINARY.SIZE[...]
 * (with optional <partial>); s is the whole atom, bracket at s[prefix]. */
static int
parse_body_item(struct imap_fetch_items *items, const char *s, size_t len, size_t prefix,
                enum imap_fetch_body_type type, bool peek, const char **error_r)
{
	struct imap_fetch_body body = {0};
	const char *open = s + prefix;
	const char *close = NULL;
	bool quote = false, esc = false;
	char *canon;

	/* The closing bracket: the first ']' outside a quoted string. */
	for (const char *p = open + 1; p < s + len; p++) {
		if (quote) {
			if (esc)
				esc = false;
			else if (*p == '\\')
				esc = true;
			else if (*p == '"')
				quote = false;
		} else if (*p == '"') {
			quote = true;
		} else if (*p == ']') {
			close = p;
			break;
		}
	}
	if (close == NULL) {
		*error_r = "missing ']' in section";
		return -1;
	}
	body.type = type;
	body.peek = peek || type == IMAP_FETCH_BODY_BINARY_SIZE;
	if (imap_fetch_section_parse(open + 1, (size_t)(close - open - 1),
	                             type != IMAP_FETCH_BODY_SECTION, &body.section, &canon,
	                             error_r) < 0)
		return -1;

	size_t after = (size_t)(s + len - (close + 1));
	if (after > 0) {
		if (type == IMAP_FETCH_BODY_BINARY_SIZE) {
			*error_r = "BINARY.SIZE takes no partial";
			goto fail;
		}
		if (parse_partial(close + 1, after, &body, error_r) < 0)
			goto fail;
	}
	const char *label = type == IMAP_FETCH_BODY_SECTION  ? "BODY"
	                    : type == IMAP_FETCH_BODY_BINARY ? "BINARY"
	                                                     : "BINARY.SIZE";
	body.name = xasprintf("%s[%s]", label, canon);
	free(canon);
	add_body(items, &body);
	return 0;
fail:
	free(canon);
	imap_fetch_section_clear(&body.section);
	return -1;
}

struct simple_item {
	const char *name;
	unsigned int attrs;
};

static const struct simple_item simple_items[] = {
    {"UID", IMAP_FETCH_UID},
    {"FLAGS", IMAP_FETCH_FLAGS},
    {"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
    {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE},
    {"ENVELOPE", IMAP_FETCH_ENVELOPE},
    {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE},
    {"BODY", IMAP_FETCH_BODY},
    {"MODSEQ", IMAP_FETCH_MODSEQ},
    {"EMAILID", IMAP_FETCH_EMAILID},
    {"THREADID", IMAP_FETCH_THREADID},
    {"PREVIEW", IMAP_FETCH_PREVIEW},
};

static int
bad_item(struct imap_fetch_items *items, const char *what, const char *s, size_t len,
         const char **error_r)
{
	snprintf(items->errbuf, sizeof(items->errbuf), "%s: %.*s", what, (int)(len > 60 ? 60 : len),
	         s);
	*error_r = items->errbuf;
	return -1;
}

/* One item of the list (not a macro). */
static int
parse_item(struct imap_fetch_items *items, const struct imap_arg *arg, const char **error_r)
{
	const char *s;
	const char *err = NULL;

	if (arg->type != IMAP_ARG_ATOM) {
		*error_r = "FETCH items must be atoms";
		return -1;
	}
	s = arg->str;
	size_t len = arg->len;
	const char *bracket = memchr(s, '[', len);

	if (bracket != NULL) {
		size_t prefix = (size_t)(bracket - s);
		enum imap_fetch_body_type type;
		bool peek = false;

		if (prefix == 4 && strncasecmp(s, "BODY", 4) == 0) {
			type = IMAP_FETCH_BODY_SECTION;
		} else if (prefix == 9 && strncasecmp(s, "BODY.PEEK", 9) == 0) {
			type = IMAP_FETCH_BODY_SECTION;
			peek = true;
		} else if (prefix == 6 && strncasecmp(s, "BINARY", 6) == 0) {
			type = IMAP_FETCH_BODY_BINARY;
		} else if (prefix == 11 && strncasecmp(s, "BINARY.PEEK", 11) == 0) {
			type = IMAP_FETCH_BODY_BINARY;
			peek = true;
		} else if (prefix == 11 && strncasecmp(s, "BINARY.SIZE", 11) == 0) {
			type = IMAP_FETCH_BODY_BINARY_SIZE;
		} else {
			return bad_item(items, "unknown FETCH item", s, len, error_r);
		}
		if (parse_body_item(items, s, len, prefix, type, peek, &err) < 0) {
			snprintf(items->errbuf, sizeof(items->errbuf), "%s in %.*s", err,
			         (int)(len > 60 ? 60 : len), s);
			*error_r = items->errbuf;
			return -1;
		}
		return 0;
	}
	if (strcasecmp(s, "RFC822") == 0)
		return add_rfc822(items, "RFC822", SECTION_ALL, false);
	if (strcasecmp(s, "RFC822.HEADER") == 0)
		return add_rfc822(items, "RFC822.HEADER", SECTION_HEADER, true);
	if (strcasecmp(s, "RFC822.TEXT") == 0)
		return add_rfc822(items, "RFC822.TEXT", SECTION_TEXT, false);
	for (size_t i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]); i++) {
		if (strcasecmp(s, simple_items[i].name) == 0) {
			items->attrs |= simple_items[i].attrs;
			return 0;
		}
	}
	return bad_item(items, "unknown FETCH item", s, len, error_r);
}

static int
parse_modifiers(struct imap_fetch_items *items, const struct imap_arg *arg, const char **error_r)
{
	const struct imap_arg *list;
	size_t count;

	if (!imap_arg_list(arg, &list, &count) || count == 0) {
		*error_r = "FETCH modifiers must be a non-empty list";
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const char *name;

		if (!imap_arg_atom(&list[i], &name)) {
			*error_r = "FETCH modifier must be an atom";
			return -1;
		}
		if (strcasecmp(name, "CHANGEDSINCE") == 0) {
			const char *num;
			uint64_t n;

			if (items->changedsince_set) {
				*error_r = "CHANGEDSINCE given twice";
				return -1;
			}
			if (i + 1 >= count || !imap_arg_atom(&list[i + 1], &num) ||
			    !parse_number(num, strlen(num), INT64_MAX, &n)) {
				*error_r = "CHANGEDSINCE needs a mod-sequence value";
				return -1;
			}
			i++;
			items->changedsince_set = true;
			items->changedsince = n;
			items->attrs |= IMAP_FETCH_MODSEQ;
		} else if (strcasecmp(name, "VANISHED") == 0) {
			if (items->vanished) {
				*error_r = "VANISHED given twice";
				return -1;
			}
			items->vanished = true;
		} else {
			return bad_item(items, "unknown FETCH modifier", name, strlen(name),
			                error_r);
		}
	}
	if (items->vanished && !items->changedsince_set) {
		*error_r = "VANISHED needs CHANGEDSINCE";
		return -1;
	}
	return 0;
}

/* PREVIEW may be followed by its modifier list "(LAZY)" (RFC 8970). */
static int
parse_preview_mods(struct imap_fetch_items *items, const struct imap_arg *arg, const char **error_r)
{
	const struct imap_arg *list;
	size_t count;

	imap_arg_list(arg, &list, &count);
	for (size_t i = 0; i < count; i++) {
		if (!imap_arg_atom_equals(&list[i], "LAZY")) {
			*error_r = "unknown PREVIEW modifier";
			return -1;
		}
		items->preview_lazy = true;
	}
	return 0;
}

int
imap_fetch_items_parse(const struct imap_arg *args, size_t count, struct imap_fetch_items *items_r,
                       const char **error_r)
{
	const struct imap_arg *list;
	size_t n;

	memset(items_r, 0, sizeof(*items_r));
	if (count == 0) {
		*error_r = "FETCH needs data items";
		return -1;
	}
	if (count > 2) {
		*error_r = "too many FETCH arguments";
		return -1;
	}
	if (imap_arg_list(&args[0], &list, &n)) {
		if (n == 0) {
			*error_r = "empty FETCH item list";
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			if (list[i].type == IMAP_ARG_LIST && i > 0 &&
			    imap_arg_atom_equals(&list[i - 1], "PREVIEW")) {
				if (parse_preview_mods(items_r, &list[i], error_r) < 0)
					return -1;
				continue;
			}
			if (parse_item(items_r, &list[i], error_r) < 0)
				return -1;
		}
	} else if (imap_arg_atom_equals(&args[0], "ALL")) {
		items_r->attrs = IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
		                 IMAP_FETCH_RFC822_SIZE | IMAP_FETCH_ENVELOPE;
	} else if (imap_arg_atom_equals(&args[0], "FAST")) {
		items_r->attrs =
		    IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE;
	} else if (imap_arg_atom_equals(&args[0], "FULL")) {
		items_r->attrs = IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
		                 IMAP_FETCH_RFC822_SIZE | IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY;
	} else if (parse_item(items_r, &args[0], error_r) < 0) {
		return -1;
	}
	if (count == 2 && parse_modifiers(items_r, &args[1], error_r) < 0)
		return -1;
	return 0;
}

void
imap_fetch_items_clear(struct imap_fetch_items *items)
{
	for (size_t i = 0; i < items->nbodies; i++) {
		free(items->bodies[i].name);
		imap_fetch_section_clear(&items->bodies[i].section);
	}
	free(items->bodies);
	items->bodies = NULL;
	items->nbodies = 0;
}

unsigned int
imap_fetch_items_store_fields(const struct imap_fetch_items *items)
{
	unsigned int f = 0;

	if ((items->attrs & IMAP_FETCH_FLAGS) != 0)
		f |= STORE_FETCH_FLAGS;
	if ((items->attrs & IMAP_FETCH_INTERNALDATE) != 0)
		f |= STORE_FETCH_INTERNALDATE;
	if ((items->attrs & IMAP_FETCH_RFC822_SIZE) != 0)
		f |= STORE_FETCH_SIZE;
	if ((items->attrs & IMAP_FETCH_ENVELOPE) != 0)
		f |= STORE_FETCH_ENVELOPE;
	if ((items->attrs & (IMAP_FETCH_BODYSTRUCTURE | IMAP_FETCH_BODY)) != 0)
		f |= STORE_FETCH_BODYSTRUCTURE;
	if ((items->attrs & IMAP_FETCH_PREVIEW) != 0)
		f |= STORE_FETCH_PREVIEW;
	if ((items->attrs & (IMAP_FETCH_EMAILID | IMAP_FETCH_THREADID)) != 0)
		f |= STORE_FETCH_IDS;
	if (items->nbodies > 0)
		f |= STORE_FETCH_PARTMAP | STORE_FETCH_SIZE;
	/* The top-level header (RFC822.HEADER, BODY[HEADER], the
	 * HEADER.FIELDS lists of mail clients) comes with the metadata. */
	for (size_t i = 0; i < items->nbodies; i++) {
		const struct imap_fetch_body *b = &items->bodies[i];

		if (b->type == IMAP_FETCH_BODY_SECTION && b->section.part[0] == '\0' &&
		    (b->section.kind == SECTION_HEADER || b->section.kind == SECTION_FIELDS ||
		     b->section.kind == SECTION_FIELDS_NOT))
			f |= STORE_FETCH_HEADER;
	}
	return f;
}
