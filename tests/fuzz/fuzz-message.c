/* libFuzzer target for modules/message: the input is parsed as a message;
 * when it parses, the part map must be sound (every range inside the
 * message, header before body) and every section it lists is fetched,
 * filtered and decoded. The first line of the input also goes through
 * the BODY[section] syntax parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_range(json_t *arr, size_t i, size_t size)
{
	json_t *a = json_array_get(arr, i), *b = json_array_get(arr, i + 1);

	if (!json_is_integer(a) || !json_is_integer(b) || json_integer_value(a) < 0 ||
	    json_integer_value(a) > json_integer_value(b) || (uint64_t)json_integer_value(b) > size)
		abort();
}

static void
fetch_all(const uint8_t *data, size_t size, const struct message_info *info)
{
	static const char *const suffixes[] = {"",
	                                       ".MIME",
	                                       ".HEADER",
	                                       ".TEXT",
	                                       ".HEADER.FIELDS (SUBJECT From)",
	                                       ".HEADER.FIELDS.NOT (content-type)"};
	json_t *map = json_loads(info->partmap, 0, NULL), *parts, *e;
	const char *key;
	struct evbuffer *out = evbuffer_new();

	parts = json_object_get(map, "parts");
	if (!json_is_object(parts) || json_object_get(parts, "1") == NULL)
		abort();
	json_object_foreach(parts, key, e)
	{
		check_range(json_object_get(e, "h"), 0, size);
		check_range(json_object_get(e, "b"), 0, size);
		if (json_integer_value(json_array_get(json_object_get(e, "h"), 1)) !=
		    json_integer_value(json_array_get(json_object_get(e, "b"), 0)))
			abort();
		if (json_object_get(e, "m") != NULL) {
			check_range(json_object_get(e, "m"), 0, size);
			check_range(json_object_get(e, "m"), 2, size);
		}
		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
			char text[128];
			struct message_section sec;
			struct message_range r;
			const char *error;
			uint64_t dsize;

			if (*key == '\0' && i == 1)
				continue;
			snprintf(text, sizeof(text), "%s%s", key,
			         *key == '\0' ? suffixes[i] + (i > 0) : suffixes[i]);
			if (message_section_parse(text, &sec, &error) < 0)
				continue;
			if (message_section_find(info->partmap, &sec, &r) < 0 ||
			    r.offset + r.length > size)
				abort();
			if (sec.kind == SECTION_FIELDS || sec.kind == SECTION_FIELDS_NOT)
				message_header_filter((const char *)data + r.offset, r.length,
				                      sec.fields, sec.nfields,
				                      sec.kind == SECTION_FIELDS_NOT, out);
			if (sec.kind == SECTION_BODY &&
			    message_decode(r.encoding, data + r.offset, r.length, out) == 0 &&
			    message_decoded_size(r.encoding, data + r.offset, r.length, &dsize) !=
			        0)
				abort();
			evbuffer_drain(out, evbuffer_get_length(out));
			message_section_clear(&sec);
		}
	}
	evbuffer_free(out);
	json_decref(map);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message_info info;
	struct message_section sec;
	const char *error;
	char line[256];
	size_t n = 0;

	while (n < size && n < sizeof(line) - 1 && data[n] != '\n' && data[n] != '\0') {
		line[n] = (char)data[n];
		n++;
	}
	line[n] = '\0';
	if (message_section_parse(line, &sec, &error) == 0)
		message_section_clear(&sec);

	if (message_parse(data, size, &info, &error) == 0) {
		if (info.meta.size != size || info.envelope == NULL || info.bodystructure == NULL ||
		    info.search_text == NULL || info.preview == NULL)
			abort();
		fetch_all(data, size, &info);
		message_info_clear(&info);
	}
	return 0;
}
