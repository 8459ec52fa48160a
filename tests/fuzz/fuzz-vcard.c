/* libFuzzer target for modules/vcard: the input is parsed as a card; a
 * card that parses must be written, parse again from what was written and
 * be written back to the same bytes (the canonical form is a fixed point);
 * its index and every value split as structured and list values must not
 * crash. The builder is driven too: each property's value is added again,
 * as text and with a parameter, to a new card that must then parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vcard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_canonical(const struct vcard *card)
{
	size_t len, len2;
	char *text = vcard_write(card, &len), *text2;
	const char *error;
	struct vcard *again = vcard_parse(text, len, &error);

	if (again == NULL || again->nprops != card->nprops || again->version != card->version)
		abort();
	text2 = vcard_write(again, &len2);
	if (len2 != len || memcmp(text, text2, len) != 0)
		abort();
	free(text2);
	free(text);
	vcard_free(&again);
}

static void
check_values(const struct vcard *card)
{
	for (size_t i = 0; i < card->nprops; i++) {
		const char *v = card->props[i].value;
		size_t n;
		char **parts = vcard_split(v, ';', &n);
		char *text = vcard_text_unescape(v, strlen(v)), *escaped;

		if (parts == NULL || n == 0)
			abort();
		vcard_strv_free(&parts);
		parts = vcard_split(v, ',', &n);
		vcard_strv_free(&parts);
		/* Escaping then unescaping gives the text back (CR before LF
		 * is dropped by the escape, as documented). */
		escaped = vcard_text_escape(text);
		if (strchr(text, '\r') == NULL) {
			char *back = vcard_text_unescape(escaped, strlen(escaped));

			if (strcmp(back, text) != 0)
				abort();
			free(back);
		}
		free(escaped);
		free(text);
	}
}

/* A new card from the parsed one's values: built cards must parse. */
static void
check_builder(const struct vcard *card)
{
	struct vcard *built = vcard_new(card->version);
	const char *error;
	struct vcard *parsed;
	size_t len;
	char *text;

	vcard_add_text(built, NULL, "FN", "Fuzz");
	for (size_t i = 0; i < card->nprops && i < 64; i++) {
		const struct vcard_prop *p = &card->props[i];
		char *value = vcard_text_unescape(p->value, strlen(p->value));
		struct vcard_prop *np;

		if (strcasecmp(p->name, "VERSION") == 0 || strcasecmp(p->name, "FN") == 0 ||
		    strcasecmp(p->name, "MEMBER") == 0 || strcasecmp(p->name, "KIND") == 0 ||
		    strpbrk(value, "\r") != NULL) {
			free(value);
			continue;
		}
		np = vcard_add_text(built, p->group, "NOTE", value);
		/* May be refused (control characters, '"' in 3.0): fine. */
		(void)vcard_param_add(built, np, "X-FUZZ", value, &error);
		free(value);
	}
	text = vcard_write(built, &len);
	parsed = vcard_parse(text, len, &error);
	if (parsed == NULL)
		abort();
	vcard_free(&parsed);
	free(text);
	vcard_free(&built);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *error;
	struct vcard *card = vcard_parse((const char *)data, size, &error);
	struct vcard_index idx;

	if (card == NULL) {
		if (error == NULL || *error == '\0')
			abort();
		return 0;
	}
	check_canonical(card);
	check_values(card);
	vcard_index_get(card, &idx);
	if (idx.fn == NULL || idx.kind == NULL)
		abort();
	vcard_index_clear(&idx);
	check_builder(card);
	vcard_free(&card);
	return 0;
}
