/* vCard values and the index (vcard.h): text escapes, structured and
 * list values, property and parameter lookup, and what the groupware index
 * takes from a card (names, addresses, numbers, categories, members,
 * birthday). */
#include "vcard.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vcard-private.h"
#include "xmalloc.h"

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
			vcard_strv_push(&parts, &n,
			                vcard_text_unescape(start, (size_t)(s - start)));
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

			if (!vcard_prop_is(p, name) || prop_preferred(p) != (pass == 0))
				continue;
			v = text_of(p);
			if (strip_tel && strncasecmp(v, "tel:", 4) == 0)
				memmove(v, v + 4, strlen(v + 4) + 1);
			if (*v == '\0') {
				free(v);
				continue;
			}
			vcard_strv_push(out, n, v);
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
		if (vcard_prop_is(p, "CATEGORIES")) {
			parts = vcard_split(p->value, ',', &n);
			for (size_t k = 0; k < n; k++) {
				if (parts[k][0] != '\0')
					vcard_strv_push(&idx->categories, &idx->ncategories,
					                xstrdup(parts[k]));
			}
			vcard_strv_free(&parts);
		} else if (vcard_prop_is(p, "MEMBER") ||
		           vcard_prop_is(p, "X-ADDRESSBOOKSERVER-MEMBER")) {
			vcard_strv_push(&idx->members, &idx->nmembers, xstrdup(p->value));
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
