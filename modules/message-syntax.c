/* modules/message-syntax.c: the raw header syntax ENVELOPE and
 * BODYSTRUCTURE need: RFC 5322 address lists (groups, routes, comments)
 * and RFC 2045 Content-Type/Disposition parameters with RFC 2231
 * continuations. Values stay raw: encoded words are not decoded, as IMAP
 * clients expect. */
#include <string.h>

#include "message-private.h"

/* Content-Type/Disposition parameters read from one header, at most. */
#define MAX_PARAMS 256

/* ---------------------------------------------------------------------
 * RFC 5322 address lists
 */

enum atok_type {
	ATOK_ATOM,
	ATOK_QUOTED,
	ATOK_DLITERAL,
	ATOK_COMMENT,
	ATOK_SPECIAL, /* < > @ , ; : . */
};

struct atok {
	enum atok_type type;
	char c;     /* ATOK_SPECIAL */
	char *text; /* others: atom, unquoted string, literal, comment */
	bool space; /* white space or a comment came before it */
};

struct alex {
	struct atok *toks;
	size_t n, cap, i;
};

static void
alex_push(struct alex *lx, enum atok_type type, char c, char *text, bool space)
{
	if (lx->n == lx->cap) {
		lx->cap = lx->cap == 0 ? 16 : lx->cap * 2;
		lx->toks = g_renew(struct atok, lx->toks, lx->cap);
	}
	lx->toks[lx->n++] = (struct atok){.type = type, .c = c, .text = text, .space = space};
}

/* Reads a comment at p (after its '('); returns the position after it. */
static const char *
read_comment(const char *p, GString *out)
{
	int level = 1;

	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
		} else if (*p == '(') {
			level++;
		} else if (*p == ')') {
			if (--level == 0)
				return p + 1;
		}
		if (out != NULL)
			g_string_append_c(out, *p);
	}
	return p;
}

static void
alex_tokenize(struct alex *lx, const char *p)
{
	bool space = false;

	while (*p != '\0') {
		if (*p == ' ' || *p == '\t') {
			space = true;
			p++;
		} else if (*p == '(') {
			GString *s = g_string_new(NULL);

			p = read_comment(p + 1, s);
			alex_push(lx, ATOK_COMMENT, 0, g_string_free(s, FALSE), space);
			space = true;
		} else if (*p == '"') {
			GString *s = g_string_new(NULL);

			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				g_string_append_c(s, *p);
			}
			if (*p == '"')
				p++;
			alex_push(lx, ATOK_QUOTED, 0, g_string_free(s, FALSE), space);
			space = false;
		} else if (*p == '[') {
			const char *start = p;

			while (*p != '\0' && *p != ']')
				p += (*p == '\\' && p[1] != '\0') ? 2 : 1;
			if (*p == ']')
				p++;
			alex_push(lx, ATOK_DLITERAL, 0, g_strndup(start, p - start), space);
			space = false;
		} else if (strchr("<>@,;:.", *p) != NULL) {
			alex_push(lx, ATOK_SPECIAL, *p, NULL, space);
			space = false;
			p++;
		} else {
			const char *start = p;

			while (*p != '\0' && *p != ' ' && *p != '\t' &&
			       strchr("()<>@,;:.\"[", *p) == NULL)
				p++;
			if (p == start) /* a stray ')' or similar */
				p++;
			alex_push(lx, ATOK_ATOM, 0, g_strndup(start, p - start), space);
			space = false;
		}
	}
}

/* The next token that is not a comment, or NULL at the end. */
static const struct atok *
alex_peek(struct alex *lx)
{
	while (lx->i < lx->n && lx->toks[lx->i].type == ATOK_COMMENT)
		lx->i++;
	return lx->i < lx->n ? &lx->toks[lx->i] : NULL;
}

static bool
is_special(const struct atok *t, char c)
{
	return t != NULL && t->type == ATOK_SPECIAL && t->c == c;
}

struct alist {
	struct maddr *a;
	size_t n, cap;
};

static struct maddr *
alist_add(struct alist *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 4 : l->cap * 2;
		l->a = g_renew(struct maddr, l->a, l->cap);
	}
	memset(&l->a[l->n], 0, sizeof(l->a[0]));
	return &l->a[l->n++];
}

static char *
nonempty(GString *s)
{
	if (s->len == 0) {
		g_string_free(s, TRUE);
		return NULL;
	}
	return g_string_free(s, FALSE);
}

/* Reads a domain (atoms, dots, domain literals) up to a special other
 * than '.'. */
static char *
read_domain(struct alex *lx)
{
	GString *s = g_string_new(NULL);
	const struct atok *t;
	size_t save;

	for (;;) {
		/* stop before a comment so the caller can see it */
		save = lx->i;
		t = alex_peek(lx);
		if (t == NULL || (t->type == ATOK_SPECIAL && t->c != '.')) {
			lx->i = save;
			break;
		}
		g_string_append(s, t->type == ATOK_SPECIAL ? "." : t->text);
		lx->i++;
	}
	return nonempty(s);
}

/* <[route:]local@domain> after the '<'. */
static void
read_angle_addr(struct alex *lx, struct maddr *a)
{
	GString *adl = g_string_new(NULL), *local = g_string_new(NULL);
	const struct atok *t;

	while (is_special(alex_peek(lx), '@')) {
		char *dom;

		lx->i++;
		dom = read_domain(lx);
		if (adl->len > 0)
			g_string_append_c(adl, ',');
		g_string_append_printf(adl, "@%s", dom != NULL ? dom : "");
		g_free(dom);
		while (is_special(alex_peek(lx), ','))
			lx->i++;
		if (is_special(alex_peek(lx), ':')) {
			lx->i++;
			break;
		}
	}
	while ((t = alex_peek(lx)) != NULL && !is_special(t, '@') && !is_special(t, '>')) {
		if (t->type == ATOK_SPECIAL && t->c != '.')
			break;
		g_string_append(local, t->type == ATOK_SPECIAL ? "." : t->text);
		lx->i++;
	}
	if (is_special(alex_peek(lx), '@')) {
		lx->i++;
		a->host = read_domain(lx);
	}
	/* anything up to the '>' is dropped */
	while ((t = alex_peek(lx)) != NULL && !is_special(t, '>') && !is_special(t, ',') &&
	       !is_special(t, ';'))
		lx->i++;
	if (is_special(alex_peek(lx), '>'))
		lx->i++;
	a->adl = nonempty(adl);
	a->mailbox = nonempty(local);
}

static void
fill_missing(struct maddr *a)
{
	/* NIL host marks groups in ENVELOPE, so a missing one is spelled out
	 * as Dovecot does */
	if (a->mailbox == NULL)
		a->mailbox = g_strdup("MISSING_MAILBOX");
	if (a->host == NULL)
		a->host = g_strdup("MISSING_DOMAIN");
}

static void read_list(struct alex *lx, struct alist *l, bool in_group);

/* One mailbox or group. */
static void
read_address(struct alex *lx, struct alist *l, bool in_group)
{
	GString *phrase = g_string_new(NULL), *local = g_string_new(NULL);
	const struct atok *t;
	struct maddr *a;

	while ((t = alex_peek(lx)) != NULL) {
		if (t->type == ATOK_ATOM || t->type == ATOK_QUOTED || t->type == ATOK_DLITERAL ||
		    is_special(t, '.')) {
			const char *text = t->type == ATOK_SPECIAL ? "." : t->text;

			if (t->space && phrase->len > 0)
				g_string_append_c(phrase, ' ');
			g_string_append(phrase, text);
			g_string_append(local, text);
			lx->i++;
		} else if (is_special(t, '<')) {
			lx->i++;
			a = alist_add(l);
			read_angle_addr(lx, a);
			a->name = nonempty(phrase);
			fill_missing(a);
			g_string_free(local, TRUE);
			return;
		} else if (is_special(t, ':') && !in_group) {
			lx->i++;
			a = alist_add(l);
			a->group_start = true;
			a->mailbox = g_strdup(phrase->str);
			read_list(lx, l, true);
			if (is_special(alex_peek(lx), ';'))
				lx->i++;
			alist_add(l)->group_end = true;
			g_string_free(phrase, TRUE);
			g_string_free(local, TRUE);
			return;
		} else if (is_special(t, '@')) {
			size_t after;

			lx->i++;
			a = alist_add(l);
			a->mailbox = nonempty(local);
			a->host = read_domain(lx);
			/* "user@host (Real Name)": the comment names it */
			after = lx->i;
			if (after < lx->n && lx->toks[after].type == ATOK_COMMENT &&
			    *lx->toks[after].text != '\0')
				a->name = g_strdup(lx->toks[after].text);
			fill_missing(a);
			g_string_free(phrase, TRUE);
			return;
		} else if (is_special(t, ',') || is_special(t, ';')) {
			break;
		} else {
			lx->i++; /* stray '>' or ':' */
		}
	}
	if (local->len > 0) {
		a = alist_add(l);
		a->mailbox = nonempty(local);
		local = NULL;
		fill_missing(a);
	}
	if (local != NULL)
		g_string_free(local, TRUE);
	g_string_free(phrase, TRUE);
}

static void
read_list(struct alex *lx, struct alist *l, bool in_group)
{
	const struct atok *t;

	while ((t = alex_peek(lx)) != NULL) {
		if (is_special(t, ',')) {
			lx->i++;
		} else if (is_special(t, ';')) {
			if (in_group)
				return;
			lx->i++;
		} else {
			size_t before = lx->i;

			read_address(lx, l, in_group);
			/* read_address stops only at ',' or ';' or after consuming */
			if (lx->i == before && !is_special(alex_peek(lx), ',') &&
			    !is_special(alex_peek(lx), ';'))
				lx->i++;
		}
	}
}

struct maddr *
message_addr_parse(const char *value, size_t *count_r)
{
	struct alex lx = {0};
	struct alist l = {0};

	alex_tokenize(&lx, value);
	read_list(&lx, &l, false);
	for (size_t i = 0; i < lx.n; i++)
		g_free(lx.toks[i].text);
	g_free(lx.toks);
	*count_r = l.n;
	return l.a;
}

void
message_addr_free(struct maddr *addrs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		g_free(addrs[i].name);
		g_free(addrs[i].adl);
		g_free(addrs[i].mailbox);
		g_free(addrs[i].host);
	}
	g_free(addrs);
}

/* ---------------------------------------------------------------------
 * RFC 2045 Content-Type / Content-Disposition
 */

static bool
is_token_char(char c)
{
	return (unsigned char)c > ' ' && (unsigned char)c < 127 &&
	       strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

const char *
message_skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '(')
			return p;
		p = read_comment(p + 1, NULL);
	}
}

static char *
read_token(const char **pp)
{
	const char *p = message_skip_cfws(*pp), *start = p;

	while (is_token_char(*p))
		p++;
	*pp = p;
	return p == start ? NULL : g_ascii_strdown(start, p - start);
}

struct rawparam {
	char *name; /* lower-case, as written */
	char *value;
};

static void
read_raw_params(const char *p, struct rawparam *raw, size_t *nraw_r)
{
	size_t n = 0;

	while (n < MAX_PARAMS) {
		char *name;
		GString *value;

		p = message_skip_cfws(p);
		if (*p != ';') {
			p = strchr(p, ';');
			if (p == NULL)
				break;
		}
		p++;
		name = read_token(&p);
		p = message_skip_cfws(p);
		if (name == NULL || *p != '=') {
			g_free(name);
			continue;
		}
		p = message_skip_cfws(p + 1);
		value = g_string_new(NULL);
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				g_string_append_c(value, *p);
			}
			if (*p == '"')
				p++;
		} else {
			/* lenient: real mail has unquoted values with tspecials */
			while (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t' && *p != '"')
				g_string_append_c(value, *p++);
		}
		raw[n].name = name;
		raw[n].value = g_string_free(value, FALSE);
		n++;
	}
	*nraw_r = n;
}

/* name*N or name*N*: the section number (-1 for none) and whether the
 * segment is extended (charset'lang'%xx). */
static size_t
split_2231(const char *name, int *section_r, bool *ext_r)
{
	const char *star = strchr(name, '*'), *p;
	int section = 0;

	*section_r = -1;
	*ext_r = false;
	if (star == NULL)
		return strlen(name);
	if (star[1] == '\0') {
		*ext_r = true;
		return star - name;
	}
	for (p = star + 1; *p >= '0' && *p <= '9' && section < 10000; p++)
		section = section * 10 + (*p - '0');
	if (p == star + 1 || (*p != '\0' && strcmp(p, "*") != 0))
		return strlen(name); /* not RFC 2231: keep the name whole */
	*section_r = section;
	*ext_r = *p == '*';
	return star - name;
}

static void
append_pct(GString *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (is_token_char(c) && c != '*' && c != '\'' && c != '%')
			g_string_append_c(out, c);
		else
			g_string_append_printf(out, "%%%02X", c);
	}
}

static void
param_add(struct mparam **params, size_t *n, const char *name, size_t name_len, bool star,
          char *value)
{
	char *up = g_ascii_strup(name, name_len);

	if (star) {
		char *tmp = g_strconcat(up, "*", NULL);

		g_free(up);
		up = tmp;
	}
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*params)[i].name, up) == 0) {
			g_free(up);
			g_free(value);
			return;
		}
	}
	*params = g_renew(struct mparam, *params, *n + 1);
	(*params)[*n].name = up;
	(*params)[*n].value = message_clean_utf8(value, strlen(value));
	g_free(value);
	(*n)++;
}

/* Parameters after the type, RFC 2231 continuations merged the way
 * Dovecot shows them: NAME* = "charset'lang'pct-encoded" when the first
 * segment is extended, plain NAME otherwise. */
static void
parse_params(const char *p, struct mparam **params_r, size_t *n_r)
{
	struct rawparam raw[MAX_PARAMS];
	size_t nraw, i, j, len;
	int section, s2;
	bool ext, e2;

	read_raw_params(p, raw, &nraw);
	for (i = 0; i < nraw; i++) {
		if (raw[i].name == NULL)
			continue;
		len = split_2231(raw[i].name, &section, &ext);
		if (section < 0) {
			param_add(params_r, n_r, raw[i].name, len, ext, g_strdup(raw[i].value));
			continue;
		}
		/* gather the segments of this name, in order 0, 1, ... */
		GString *value = g_string_new(NULL);
		bool first_ext = false, found = true;
		char *base = g_strndup(raw[i].name, len);

		for (int want = 0; found; want++) {
			found = false;
			for (j = i; j < nraw; j++) {
				if (raw[j].name == NULL ||
				    split_2231(raw[j].name, &s2, &e2) != len ||
				    strncmp(raw[j].name, base, len) != 0 || s2 != want)
					continue;
				if (want == 0)
					first_ext = e2;
				if (first_ext && !e2)
					append_pct(value, raw[j].value);
				else
					g_string_append(value, raw[j].value);
				found = true;
				break;
			}
			if (want == 0 && !found) {
				/* no segment 0: keep this one as it is */
				g_string_append(value, raw[i].value);
				first_ext = ext;
			}
		}
		param_add(params_r, n_r, base, len, first_ext, g_string_free(value, FALSE));
		/* the other segments of this name are consumed */
		for (j = i; j < nraw; j++) {
			if (raw[j].name != NULL && j != i &&
			    split_2231(raw[j].name, &s2, &e2) == len &&
			    strncmp(raw[j].name, base, len) == 0 && s2 >= 0) {
				g_free(raw[j].name);
				g_free(raw[j].value);
				raw[j].name = raw[j].value = NULL;
			}
		}
		g_free(base);
	}
	for (i = 0; i < nraw; i++) {
		g_free(raw[i].name);
		g_free(raw[i].value);
	}
}

void
message_content_type_parse(struct mnode *node, const char *value, bool digest_parent)
{
	const char *p = value;
	char *type = NULL, *subtype = NULL;

	if (p != NULL) {
		type = read_token(&p);
		p = message_skip_cfws(p);
		if (type != NULL && *p == '/') {
			p++;
			subtype = read_token(&p);
		}
	}
	if (type == NULL || subtype == NULL) {
		/* RFC 2045 5.2: a missing or invalid type is the default */
		g_free(type);
		g_free(subtype);
		node->type = g_strdup(digest_parent ? "message" : "text");
		node->subtype = g_strdup(digest_parent ? "rfc822" : "plain");
		return;
	}
	node->type = type;
	node->subtype = subtype;
	parse_params(p, &node->params, &node->nparams);
}

void
message_disposition_parse(struct mnode *node, const char *value)
{
	const char *p = value;

	if (p == NULL)
		return;
	node->disposition = read_token(&p);
	if (node->disposition != NULL)
		parse_params(p, &node->disp_params, &node->ndisp_params);
}

const char *
message_param_get(const struct mparam *params, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (g_ascii_strcasecmp(params[i].name, name) == 0)
			return params[i].value;
	}
	return NULL;
}
