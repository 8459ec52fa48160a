/* vCard 3.0 / 4.0 parser and writer: content lines unfolded and split into
 * group, name, parameters and raw value, kept verbatim so that writing a
 * parsed card gives back the same bytes (folded at 75 octets, CRLF). */
#include "vcard.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmalloc.h"

#define FOLD_OCTETS 75

static char errbuf[256];

static const char *__attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return errbuf;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static bool
is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!is_token_char(*s))
			return false;
	}
	return true;
}

void
vcard_strv_free(char ***strvp)
{
	char **strv = *strvp;

	if (strv == NULL)
		return;
	for (size_t i = 0; strv[i] != NULL; i++)
		free(strv[i]);
	free(strv);
	*strvp = NULL;
}

static void
strv_push(char ***strv, size_t *n, char *s)
{
	*strv = xreallocarray(*strv, *n + 2, sizeof(**strv));
	(*strv)[(*n)++] = s;
	(*strv)[*n] = NULL;
}

static void
prop_clear(struct vcard_prop *p)
{
	free(p->group);
	free(p->name);
	free(p->value);
	for (size_t i = 0; i < p->nparams; i++) {
		free(p->params[i].name);
		free(p->params[i].raw);
		for (size_t k = 0; k < p->params[i].nvalues; k++)
			free(p->params[i].values[k]);
		free(p->params[i].values);
	}
	free(p->params);
}

void
vcard_free(struct vcard **cardp)
{
	struct vcard *card = *cardp;

	if (card == NULL)
		return;
	for (size_t i = 0; i < card->nprops; i++)
		prop_clear(&card->props[i]);
	free(card->props);
	free(card->begin);
	free(card->end);
	free(card);
	*cardp = NULL;
}

static struct vcard_prop *
prop_append(struct vcard *card)
{
	if (card->nprops == card->cap) {
		card->cap = card->cap == 0 ? 16 : card->cap * 2;
		card->props = xreallocarray(card->props, card->cap, sizeof(*card->props));
	}
	memset(&card->props[card->nprops], 0, sizeof(card->props[0]));
	return &card->props[card->nprops++];
}

/* --- Parameter values --- */

/* Decodes one (unquoted) parameter value; RFC 6868 in 4.0. */
static char *
param_value_decode(const char *s, size_t len, enum vcard_version version)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (version == VCARD_V4 && s[i] == '^' && i + 1 < len) {
			if (s[i + 1] == 'n') {
				*o++ = '\n';
				i++;
				continue;
			}
			if (s[i + 1] == '^' || s[i + 1] == '\'') {
				*o++ = s[i + 1] == '^' ? '^' : '"';
				i++;
				continue;
			}
		}
		*o++ = s[i];
	}
	*o = '\0';
	return out;
}

/* Splits raw (as written) into decoded values. */
static void
param_decode(struct vcard_param *param, enum vcard_version version)
{
	const char *s = param->raw, *start;

	if (s == NULL) {
		strv_push(&param->values, &param->nvalues, xstrdup(param->name));
		return;
	}
	for (;;) {
		if (*s == '"') {
			start = ++s;
			while (*s != '"')
				s++;
			strv_push(&param->values, &param->nvalues,
			          param_value_decode(start, (size_t)(s - start), version));
			s++;
		} else {
			start = s;
			while (*s != ',' && *s != '\0')
				s++;
			strv_push(&param->values, &param->nvalues,
			          param_value_decode(start, (size_t)(s - start), version));
		}
		if (*s != ',')
			break;
		s++;
	}
}

/* --- Content lines --- */

/* Parses one unfolded content line into prop; returns NULL or the error. */
static const char *
parse_line(const char *line, unsigned lineno, struct vcard_prop *prop)
{
	const char *s = line, *start;
	struct vcard_param *param;

	prop->line = lineno;
	start = s;
	while (is_token_char(*s))
		s++;
	if (*s == '.') {
		if (s == start)
			return fail("line %u: empty group name", lineno);
		prop->group = xstrndup(start, (size_t)(s - start));
		start = ++s;
		while (is_token_char(*s))
			s++;
	}
	if (s == start)
		return fail("line %u: property name missing or invalid", lineno);
	prop->name = xstrndup(start, (size_t)(s - start));
	while (*s == ';') {
		s++;
		if (prop->nparams == VCARD_MAX_PARAMS)
			return fail("line %u: more than %d parameters", lineno, VCARD_MAX_PARAMS);
		prop->params =
		    xreallocarray(prop->params, prop->nparams + 1, sizeof(*prop->params));
		param = &prop->params[prop->nparams++];
		memset(param, 0, sizeof(*param));
		start = s;
		while (is_token_char(*s))
			s++;
		if (s == start)
			return fail("line %u: parameter name missing or invalid in %s", lineno,
			            prop->name);
		param->name = xstrndup(start, (size_t)(s - start));
		if (*s != '=')
			continue; /* bare value: checked against the version later */
		start = ++s;
		for (;;) {
			if (*s == '"') {
				s++;
				while (*s != '"' && *s != '\0')
					s++;
				if (*s == '\0')
					return fail("line %u: unterminated quoted value of "
					            "parameter %s",
					            lineno, param->name);
				s++;
			} else {
				while (*s != ',' && *s != ';' && *s != ':' && *s != '\0') {
					if (*s == '"')
						return fail("line %u: '\"' inside the unquoted "
						            "value of parameter %s",
						            lineno, param->name);
					s++;
				}
			}
			if (*s != ',')
				break;
			s++;
		}
		if (*s != ';' && *s != ':')
			return fail("line %u: unexpected character after the value of "
			            "parameter %s",
			            lineno, param->name);
		param->raw = xstrndup(start, (size_t)(s - start));
	}
	if (*s != ':')
		return fail("line %u: ':' missing after property name %s", lineno, prop->name);
	prop->value = xstrdup(s + 1);
	return NULL;
}

struct logical_line {
	char *text;
	unsigned lineno;
};

/* Checks the bytes and splits them into unfolded logical lines. */
static const char *
unfold(const char *text, size_t len, struct logical_line **lines_r, size_t *count_r)
{
	struct logical_line *lines = NULL;
	size_t n = 0, cap = 0, i = 0, seq, buflen = 0, bufcap = 0;
	unsigned lineno = 1;
	char *buf = NULL;
	bool have = false;
	const char *why;

	*lines_r = NULL;
	*count_r = 0;
	while (i < len) {
		/* One physical line. */
		size_t start = i, end;

		while (i < len && text[i] != '\n') {
			unsigned char c = (unsigned char)text[i];

			if (c == '\r' && i + 1 < len && text[i + 1] == '\n') {
				i++;
				continue;
			}
			if (c == '\r') {
				why = "bare carriage return";
				goto bad;
			}
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				why = "control character";
				goto bad;
			}
			seq = utf8_seq((const unsigned char *)text + i, len - i);
			if (seq == 0) {
				why = "invalid UTF-8";
				goto bad;
			}
			i += seq;
		}
		end = i;
		if (end > start && text[end - 1] == '\r')
			end--;
		if (i < len)
			i++; /* the LF */
		if (end > start && (text[start] == ' ' || text[start] == '\t')) {
			if (!have) {
				free(buf);
				for (size_t k = 0; k < n; k++)
					free(lines[k].text);
				free(lines);
				return fail("line %u: continuation line without a line to "
				            "continue",
				            lineno);
			}
			start++;
		} else {
			/* lines[n] was made room for when the line began. */
			if (have)
				lines[n++].text = xstrndup(buf, buflen);
			have = false;
			buflen = 0;
			if (end == start) {
				lineno++;
				continue; /* blank line */
			}
			have = true;
			if (n == cap) {
				cap = cap == 0 ? 32 : cap * 2;
				lines = xreallocarray(lines, cap, sizeof(*lines));
			}
			lines[n].lineno = lineno;
		}
		if (buflen + (end - start) + 1 > bufcap) {
			bufcap = (buflen + (end - start) + 1) * 2;
			buf = xrealloc(buf, bufcap);
		}
		memcpy(buf + buflen, text + start, end - start);
		buflen += end - start;
		lineno++;
	}
	if (have)
		lines[n++].text = xstrndup(buf, buflen);
	free(buf);
	*lines_r = lines;
	*count_r = n;
	return NULL;

bad:
	free(buf);
	for (size_t k = 0; k < n; k++)
		free(lines[k].text);
	free(lines);
	return fail("line %u: %s", lineno, why);
}

static bool
prop_is(const struct vcard_prop *p, const char *name)
{
	return strcasecmp(p->name, name) == 0;
}

static const char *
validate(struct vcard *card)
{
	const struct vcard_prop *version = NULL, *fn = NULL, *kind = NULL, *member = NULL;

	for (size_t i = 0; i < card->nprops; i++) {
		const struct vcard_prop *p = &card->props[i];

		if (prop_is(p, "VERSION")) {
			if (version != NULL)
				return fail("line %u: VERSION given twice", p->line);
			version = p;
		} else if (prop_is(p, "FN") && fn == NULL) {
			fn = p;
		} else if ((prop_is(p, "KIND") || prop_is(p, "X-ADDRESSBOOKSERVER-KIND")) &&
		           kind == NULL) {
			kind = p;
		} else if (prop_is(p, "MEMBER") && member == NULL) {
			member = p;
		}
	}
	if (version == NULL)
		return fail("VERSION missing");
	if (strcmp(version->value, "3.0") == 0)
		card->version = VCARD_V3;
	else if (strcmp(version->value, "4.0") == 0)
		card->version = VCARD_V4;
	else
		return fail("line %u: unsupported VERSION \"%.20s\" (3.0 and 4.0 are)",
		            version->line, version->value);
	if (fn == NULL)
		return fail("FN missing (required in vCard %s)",
		            card->version == VCARD_V3 ? "3.0" : "4.0");
	if (member != NULL && (kind == NULL || strcasecmp(kind->value, "group") != 0))
		return fail("line %u: MEMBER in a card whose KIND is not group", member->line);
	for (size_t i = 0; i < card->nprops; i++) {
		struct vcard_prop *p = &card->props[i];

		for (size_t k = 0; k < p->nparams; k++) {
			if (p->params[k].raw == NULL && card->version == VCARD_V4)
				return fail("line %u: parameter %s without a value", p->line,
				            p->params[k].name);
			param_decode(&p->params[k], card->version);
		}
	}
	return NULL;
}

struct vcard *
vcard_parse(const char *text, size_t len, const char **error_r)
{
	struct logical_line *lines;
	struct vcard *card;
	size_t n, i;
	const char *error;

	if (text == NULL || len == 0) {
		*error_r = fail("empty vCard");
		return NULL;
	}
	error = unfold(text, len, &lines, &n);
	if (error != NULL) {
		*error_r = error;
		return NULL;
	}
	card = xcalloc(1, sizeof(*card));
	if (n == 0 || strcasecmp(lines[0].text, "BEGIN:VCARD") != 0) {
		error = fail("line %u: expected BEGIN:VCARD", n > 0 ? lines[0].lineno : 1);
		goto out;
	}
	card->begin = xstrdup(lines[0].text);
	for (i = 1; i < n; i++) {
		struct vcard_prop *p;

		if (card->nprops == VCARD_MAX_PROPS) {
			error = fail("line %u: more than %d properties", lines[i].lineno,
			             VCARD_MAX_PROPS);
			goto out;
		}
		p = prop_append(card);
		error = parse_line(lines[i].text, lines[i].lineno, p);
		if (error != NULL)
			goto out;
		if (prop_is(p, "BEGIN")) {
			error =
			    fail("line %u: nested BEGIN:%.40s inside a vCard", p->line, p->value);
			goto out;
		}
		if (prop_is(p, "END")) {
			if (strcasecmp(p->value, "VCARD") != 0 || p->group != NULL ||
			    p->nparams > 0) {
				error = fail("line %u: END:%.40s does not match BEGIN:VCARD",
				             p->line, p->value);
				goto out;
			}
			card->end = xstrdup(lines[i].text);
			prop_clear(p);
			card->nprops--;
			break;
		}
	}
	if (card->end == NULL) {
		error = fail("END:VCARD missing at the end of the input");
		goto out;
	}
	if (i + 1 < n) {
		error = fail("line %u: content after END:VCARD (one card per object)",
		             lines[i + 1].lineno);
		goto out;
	}
	error = validate(card);
out:
	for (i = 0; i < n; i++)
		free(lines[i].text);
	free(lines);
	if (error != NULL) {
		vcard_free(&card);
		*error_r = error;
		return NULL;
	}
	return card;
}

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
	struct vcard_prop *p = prop_append(card);

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

	if (!is_token(name)) {
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
	param_decode(param, card->version);
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

/* --- Values --- */

char *
vcard_text_unescape(const char *raw, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\\' && i + 1 < len) {
			i++;
			*o++ = (raw[i] == 'n' || raw[i] == 'N') ? '\n' : raw[i];
		} else {
			*o++ = raw[i];
		}
	}
	*o = '\0';
	return out;
}

char *
vcard_text_escape(const char *text)
{
	size_t n = 0;
	char *out, *o;

	for (const char *s = text; *s != '\0'; s++)
		n += (*s == '\\' || *s == ',' || *s == ';' || *s == '\n') ? 2 : 1;
	out = xmalloc(n + 1);
	o = out;
	for (const char *s = text; *s != '\0'; s++) {
		if (*s == '\r' && s[1] == '\n')
			continue;
		if (*s == '\\' || *s == ',' || *s == ';') {
			*o++ = '\\';
			*o++ = *s;
		} else if (*s == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

char **
vcard_split(const char *raw, char sep, size_t *count_r)
{
	char **parts = NULL;
	size_t n = 0;
	const char *start = raw, *s = raw;

	for (;; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
			continue;
		}
		if (*s == sep || *s == '\0') {
			strv_push(&parts, &n, vcard_text_unescape(start, (size_t)(s - start)));
			if (*s == '\0')
				break;
			start = s + 1;
		}
	}
	*count_r = n;
	return parts;
}

const struct vcard_prop *
vcard_find(const struct vcard *card, const char *name)
{
	for (size_t i = 0; i < card->nprops; i++) {
		if (strcasecmp(card->props[i].name, name) == 0)
			return &card->props[i];
	}
	return NULL;
}

const struct vcard_param *
vcard_prop_param(const struct vcard_prop *prop, const char *name)
{
	for (size_t i = 0; i < prop->nparams; i++) {
		if (strcasecmp(prop->params[i].name, name) == 0)
			return &prop->params[i];
	}
	return NULL;
}

bool
vcard_prop_has_type(const struct vcard_prop *prop, const char *value)
{
	for (size_t i = 0; i < prop->nparams; i++) {
		const struct vcard_param *p = &prop->params[i];

		if (p->raw == NULL) {
			if (strcasecmp(p->name, value) == 0)
				return true;
			continue;
		}
		if (strcasecmp(p->name, "TYPE") != 0)
			continue;
		/* TYPE="work,voice" (RFC 6350 5.6) lists types inside quotes too. */
		for (size_t k = 0; k < p->nvalues; k++) {
			const char *v = p->values[k];
			size_t n = strlen(value), len;

			while (*v != '\0') {
				len = strcspn(v, ",");
				if (len == n && strncasecmp(v, value, n) == 0)
					return true;
				v += len;
				if (*v == ',')
					v++;
			}
		}
	}
	return false;
}

/* --- Index --- */

static char *
text_of(const struct vcard_prop *p)
{
	return p != NULL ? vcard_text_unescape(p->value, strlen(p->value)) : NULL;
}

static bool
prop_preferred(const struct vcard_prop *p)
{
	const struct vcard_param *pref = vcard_prop_param(p, "PREF");

	return vcard_prop_has_type(p, "pref") ||
	       (pref != NULL && pref->nvalues > 0 && strcmp(pref->values[0], "1") == 0);
}

static void
collect(const struct vcard *card, const char *name, char ***out, size_t *n, bool strip_tel)
{
	/* Preferred ones first, then the rest in card order. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < card->nprops; i++) {
			const struct vcard_prop *p = &card->props[i];
			char *v;

			if (!prop_is(p, name) || prop_preferred(p) != (pass == 0))
				continue;
			v = text_of(p);
			if (strip_tel && strncasecmp(v, "tel:", 4) == 0)
				memmove(v, v + 4, strlen(v + 4) + 1);
			if (*v == '\0') {
				free(v);
				continue;
			}
			strv_push(out, n, v);
		}
	}
}

static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* BDAY as a date: 19960415, 1996-04-15, --0415, --04-15, with or without a
 * time after 'T'. */
static void
bday_parse(const struct vcard_prop *p, struct vcard_index *idx)
{
	const struct vcard_param *vt = vcard_prop_param(p, "VALUE");
	const char *s = p->value;
	size_t len = strcspn(s, "T");
	int y = 0, m = -1, d = -1;

	if (vt != NULL && vt->nvalues > 0 && strcasecmp(vt->values[0], "text") == 0)
		return;
	if (len == 8) {
		y = digits(s, 4);
		m = digits(s + 4, 2);
		d = digits(s + 6, 2);
	} else if (len == 10 && s[4] == '-' && s[7] == '-') {
		y = digits(s, 4);
		m = digits(s + 5, 2);
		d = digits(s + 8, 2);
	} else if (len == 6 && s[0] == '-' && s[1] == '-') {
		m = digits(s + 2, 2);
		d = digits(s + 4, 2);
	} else if (len == 7 && s[0] == '-' && s[1] == '-' && s[4] == '-') {
		m = digits(s + 2, 2);
		d = digits(s + 5, 2);
	}
	if (y < 0 || m < 1 || m > 12 || d < 1 || d > 31)
		return;
	idx->has_bday = true;
	idx->bday_year = y;
	idx->bday_month = m;
	idx->bday_day = d;
}

void
vcard_index_get(const struct vcard *card, struct vcard_index *idx)
{
	const struct vcard_prop *p;
	char **parts;
	size_t n;

	memset(idx, 0, sizeof(*idx));
	idx->uid = text_of(vcard_find(card, "UID"));
	idx->fn = text_of(vcard_find(card, "FN"));
	idx->klass = text_of(vcard_find(card, "CLASS"));
	p = vcard_find(card, "KIND");
	if (p == NULL)
		p = vcard_find(card, "X-ADDRESSBOOKSERVER-KIND");
	idx->kind = p != NULL ? text_of(p) : xstrdup("individual");
	for (char *c = idx->kind; *c != '\0'; c++) {
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	}
	if ((p = vcard_find(card, "N")) != NULL) {
		parts = vcard_split(p->value, ';', &n);
		char **fields[] = {&idx->n_family, &idx->n_given, &idx->n_additional,
		                   &idx->n_prefix, &idx->n_suffix};
		for (size_t i = 0; i < 5 && i < n; i++) {
			if (parts[i][0] != '\0')
				*fields[i] = xstrdup(parts[i]);
		}
		vcard_strv_free(&parts);
	}
	if ((p = vcard_find(card, "ORG")) != NULL) {
		parts = vcard_split(p->value, ';', &n);
		if (n > 0 && parts[0][0] != '\0')
			idx->org = xstrdup(parts[0]);
		vcard_strv_free(&parts);
	}
	collect(card, "EMAIL", &idx->emails, &idx->nemails, false);
	collect(card, "TEL", &idx->tels, &idx->ntels, true);
	for (size_t i = 0; i < card->nprops; i++) {
		p = &card->props[i];
		if (prop_is(p, "CATEGORIES")) {
			parts = vcard_split(p->value, ',', &n);
			for (size_t k = 0; k < n; k++) {
				if (parts[k][0] != '\0')
					strv_push(&idx->categories, &idx->ncategories,
					          xstrdup(parts[k]));
			}
			vcard_strv_free(&parts);
		} else if (prop_is(p, "MEMBER") || prop_is(p, "X-ADDRESSBOOKSERVER-MEMBER")) {
			strv_push(&idx->members, &idx->nmembers, xstrdup(p->value));
		}
	}
	if ((p = vcard_find(card, "BDAY")) != NULL)
		bday_parse(p, idx);
}

void
vcard_index_clear(struct vcard_index *idx)
{
	free(idx->uid);
	free(idx->fn);
	free(idx->kind);
	free(idx->n_family);
	free(idx->n_given);
	free(idx->n_additional);
	free(idx->n_prefix);
	free(idx->n_suffix);
	free(idx->org);
	free(idx->klass);
	vcard_strv_free(&idx->emails);
	vcard_strv_free(&idx->tels);
	vcard_strv_free(&idx->categories);
	vcard_strv_free(&idx->members);
	memset(idx, 0, sizeof(*idx));
}
