/* vCard 3.0 / 4.0 parser: content lines unfolded and split into group,
 * name, parameters and raw value, kept verbatim so that writing a parsed
 * card (vcard-write.c) gives back the same bytes. */
#include "vcard.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vcard-private.h"
#include "utf8.h"
#include "xmalloc.h"

static char errbuf[256];

static const char *__attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return errbuf;
}

static bool
is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

bool
vcard_is_token(const char *s)
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

void
vcard_strv_push(char ***strv, size_t *n, char *s)
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

struct vcard_prop *
vcard_prop_append(struct vcard *card)
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
void
vcard_param_decode(struct vcard_param *param, enum vcard_version version)
{
	const char *s = param->raw, *start;

	if (s == NULL) {
		vcard_strv_push(&param->values, &param->nvalues, xstrdup(param->name));
		return;
	}
	for (;;) {
		if (*s == '"') {
			start = ++s;
			while (*s != '"')
				s++;
			vcard_strv_push(&param->values, &param->nvalues,
			                param_value_decode(start, (size_t)(s - start), version));
			s++;
		} else {
			start = s;
			while (*s != ',' && *s != '\0')
				s++;
			vcard_strv_push(&param->values, &param->nvalues,
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
			seq = utf8_seq((const unsigned char *)text + i, len - i, NULL);
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

bool
vcard_prop_is(const struct vcard_prop *p, const char *name)
{
	return strcasecmp(p->name, name) == 0;
}

static const char *
validate(struct vcard *card)
{
	const struct vcard_prop *version = NULL, *fn = NULL, *kind = NULL, *member = NULL;

	for (size_t i = 0; i < card->nprops; i++) {
		const struct vcard_prop *p = &card->props[i];

		if (vcard_prop_is(p, "VERSION")) {
			if (version != NULL)
				return fail("line %u: VERSION given twice", p->line);
			version = p;
		} else if (vcard_prop_is(p, "FN") && fn == NULL) {
			fn = p;
		} else if ((vcard_prop_is(p, "KIND") ||
		            vcard_prop_is(p, "X-ADDRESSBOOKSERVER-KIND")) &&
		           kind == NULL) {
			kind = p;
		} else if (vcard_prop_is(p, "MEMBER") && member == NULL) {
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
			vcard_param_decode(&p->params[k], card->version);
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
		p = vcard_prop_append(card);
		error = parse_line(lines[i].text, lines[i].lineno, p);
		if (error != NULL)
			goto out;
		if (vcard_prop_is(p, "BEGIN")) {
			error =
			    fail("line %u: nested BEGIN:%.40s inside a vCard", p->line, p->value);
			goto out;
		}
		if (vcard_prop_is(p, "END")) {
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
