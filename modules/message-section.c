/* modules/message-section.c: serving BODY[section] and BINARY from the raw
 * bytes: section syntax (RFC 3501 6.4.5), lookups in the part map that
 * message_parse stored, HEADER.FIELDS filtering and transfer decoding. */
#include "message.h"

#include <event2/buffer.h>
#include <glib.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "message-private.h"
#include "xmalloc.h"

/* ---------------------------------------------------------------------
 * Section syntax
 */

static bool
kw(const char **pp, const char *word)
{
	size_t n = strlen(word);

	if (g_ascii_strncasecmp(*pp, word, n) != 0)
		return false;
	*pp += n;
	return true;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")", names as
 * atoms or quoted strings. */
static int
parse_fields(const char *p, struct message_section *sec, const char **error_r)
{
	GPtrArray *names = g_ptr_array_new();

	if (*p++ != ' ' || *p++ != '(') {
		*error_r = "HEADER.FIELDS needs a list of names";
		goto fail;
	}
	for (;;) {
		GString *name = g_string_new(NULL);

		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				g_string_append_c(name, *p);
			}
			if (*p++ != '"') {
				g_string_free(name, TRUE);
				*error_r = "unterminated quoted string in HEADER.FIELDS";
				goto fail;
			}
		} else {
			while (*p > ' ' && *p < 127 && strchr("(){%*\"\\]", *p) == NULL)
				g_string_append_c(name, *p++);
		}
		for (size_t i = 0; i < name->len; i++) {
			unsigned char c = (unsigned char)name->str[i];

			if (c <= ' ' || c >= 127 || c == ':') {
				g_string_truncate(name, 0);
				break;
			}
		}
		if (name->len == 0) {
			g_string_free(name, TRUE);
			*error_r = "invalid header field name in HEADER.FIELDS";
			goto fail;
		}
		g_ptr_array_add(names, g_string_free(name, FALSE));
		if (*p == ' ') {
			p++;
			continue;
		}
		if (*p == ')' && p[1] == '\0')
			break;
		*error_r = "invalid HEADER.FIELDS list";
		goto fail;
	}
	sec->nfields = names->len;
	sec->fields = xcalloc(names->len, sizeof(char *));
	for (guint i = 0; i < names->len; i++) {
		char *up = g_ascii_strup(names->pdata[i], -1);

		sec->fields[i] = xstrdup(up);
		g_free(up);
		g_free(names->pdata[i]);
	}
	g_ptr_array_free(names, TRUE);
	return 0;
fail:
	for (guint i = 0; i < names->len; i++)
		g_free(names->pdata[i]);
	g_ptr_array_free(names, TRUE);
	return -1;
}

int
message_section_parse(const char *text, struct message_section *section_r, const char **error_r)
{
	const char *p = text;
	size_t len = 0;

	memset(section_r, 0, sizeof(*section_r));
	/* section-part = nz-number *("." nz-number) */
	while (*p >= '0' && *p <= '9') {
		const char *start = p;
		uint64_t n = 0;

		while (*p >= '0' && *p <= '9' && n <= UINT32_MAX)
			n = n * 10 + (uint64_t)(*p++ - '0');
		if (*start == '0' || n > UINT32_MAX) {
			*error_r = "invalid part number in section";
			return -1;
		}
		if (len + (p - start) + 2 > sizeof(section_r->part)) {
			*error_r = "section part number too long";
			return -1;
		}
		if (len > 0)
			section_r->part[len++] = '.';
		memcpy(section_r->part + len, start, p - start);
		len += p - start;
		section_r->part[len] = '\0';
		if (*p != '.')
			break;
		p++;
		if (*p < '0' || *p > '9')
			break; /* section-text follows */
	}
	if (len > 0 && *p == '\0' && p[-1] != '.') {
		section_r->kind = SECTION_BODY;
		return 0;
	}
	if (len == 0 && *p == '\0') {
		section_r->kind = SECTION_ALL;
		return 0;
	}
	if (kw(&p, "HEADER.FIELDS.NOT")) {
		section_r->kind = SECTION_FIELDS_NOT;
		return parse_fields(p, section_r, error_r);
	}
	if (kw(&p, "HEADER.FIELDS")) {
		section_r->kind = SECTION_FIELDS;
		return parse_fields(p, section_r, error_r);
	}
	if (kw(&p, "HEADER"))
		section_r->kind = SECTION_HEADER;
	else if (kw(&p, "TEXT"))
		section_r->kind = SECTION_TEXT;
	else if (len > 0 && kw(&p, "MIME"))
		section_r->kind = SECTION_MIME;
	else
		p = "?";
	if (*p != '\0') {
		*error_r = "invalid section";
		return -1;
	}
	return 0;
}

void
message_section_clear(struct message_section *section)
{
	for (size_t i = 0; i < section->nfields; i++)
		free(section->fields[i]);
	xfree_ptr(&section->fields);
	section->nfields = 0;
}

/* ---------------------------------------------------------------------
 * Part map lookups
 */

static bool
get_range(json_t *entry, const char *key, size_t index, uint64_t size, uint64_t *start_r,
          uint64_t *end_r)
{
	json_t *arr = json_object_get(entry, key), *a, *b;

	if (!json_is_array(arr))
		return false;
	a = json_array_get(arr, index);
	b = json_array_get(arr, index + 1);
	if (!json_is_integer(a) || !json_is_integer(b))
		return false;
	if (json_integer_value(a) < 0 || json_integer_value(b) < json_integer_value(a) ||
	    (uint64_t)json_integer_value(b) > size)
		return false;
	*start_r = (uint64_t)json_integer_value(a);
	*end_r = (uint64_t)json_integer_value(b);
	return true;
}

int
message_section_find(const char *partmap, const struct message_section *section,
                     struct message_range *range_r)
{
	json_t *map, *parts, *entry, *jsize;
	uint64_t size, start = 0, end = 0;
	const char *type, *enc;
	int ret = -1;

	memset(range_r, 0, sizeof(*range_r));
	strcpy(range_r->encoding, "7bit");
	map = json_loads(partmap, 0, NULL);
	parts = json_object_get(map, "parts");
	jsize = json_object_get(map, "size");
	if (!json_is_object(parts) || !json_is_integer(jsize) || json_integer_value(jsize) < 0)
		goto out;
	size = (uint64_t)json_integer_value(jsize);
	if (section->part[0] == '\0' && section->kind == SECTION_ALL) {
		range_r->length = size;
		ret = 0;
		goto out;
	}
	entry = json_object_get(parts, section->part);
	if (entry == NULL) {
		ret = 0; /* no such part: empty */
		goto out;
	}
	if (!json_is_object(entry))
		goto out;
	type = json_string_value(json_object_get(entry, "t"));
	enc = json_string_value(json_object_get(entry, "e"));
	if (type == NULL || enc == NULL)
		goto out;

	if (section->part[0] == '\0' || section->kind == SECTION_MIME ||
	    section->kind == SECTION_BODY || section->kind == SECTION_ALL) {
		/* the top level's own header and body, or a part's */
		bool header = section->kind == SECTION_MIME || section->kind == SECTION_HEADER ||
		              section->kind == SECTION_FIELDS ||
		              section->kind == SECTION_FIELDS_NOT;

		if (!get_range(entry, header ? "h" : "b", 0, size, &start, &end))
			goto out;
	} else if (json_object_get(entry, "m") != NULL) {
		/* HEADER, TEXT, HEADER.FIELDS of a message/rfc822 part */
		bool header = section->kind != SECTION_TEXT;

		if (!get_range(entry, "m", header ? 0 : 2, size, &start, &end))
			goto out;
	} else {
		/* not a message/rfc822 part: nothing there */
		ret = 0;
		goto out;
	}
	range_r->offset = start;
	range_r->length = end - start;
	if (section->kind == SECTION_BODY) {
		if (strlen(enc) < sizeof(range_r->encoding))
			strcpy(range_r->encoding, enc);
		else
			strcpy(range_r->encoding, "x-unknown");
		range_r->is_text = strncmp(type, "text/", 5) == 0;
	}
	ret = 0;
out:
	json_decref(map);
	return ret;
}

/* ---------------------------------------------------------------------
 * HEADER.FIELDS
 */

void
message_header_filter(const char *hdr, size_t len, char *const *fields, size_t nfields, bool not_,
                      struct evbuffer *out)
{
	size_t pos = 0;
	struct mfield f;

	while (message_field_next(hdr, &pos, len, &f)) {
		bool listed = false;

		for (size_t i = 0; i < nfields && f.name_len > 0; i++) {
			if (strlen(fields[i]) == f.name_len &&
			    g_ascii_strncasecmp(hdr + f.start, fields[i], f.name_len) == 0) {
				listed = true;
				break;
			}
		}
		if (listed == not_)
			continue;
		evbuffer_add(out, hdr + f.start, f.end - f.start);
		if (hdr[f.end - 1] != '\n')
			evbuffer_add(out, "\r\n", 2);
	}
	evbuffer_add(out, "\r\n", 2);
}

/* ---------------------------------------------------------------------
 * BINARY
 */

static void
emit_evbuffer(void *ctx, const char *buf, size_t n)
{
	evbuffer_add(ctx, buf, n);
}

static void
emit_count(void *ctx, const char *buf, size_t n)
{
	*(uint64_t *)ctx += n;
}

int
message_decode(const char *encoding, const void *data, size_t len, struct evbuffer *out)
{
	return message_decode_chunks(encoding, data, len, emit_evbuffer, out);
}

int
message_decoded_size(const char *encoding, const void *data, size_t len, uint64_t *size_r)
{
	*size_r = 0;
	return message_decode_chunks(encoding, data, len, emit_count, size_r);
}
