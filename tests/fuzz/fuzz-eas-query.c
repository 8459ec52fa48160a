/* libFuzzer target for the ActiveSync request URI parser: every input is
 * parsed as a query string (plain or base64 form) and the strings it hands
 * out are read back and freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eas-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct kept {
	char **items;
	size_t count;
};

static char *
keep(void *ctx, const char *s)
{
	struct kept *k = ctx;
	char *copy = strdup(s);

	k->items = realloc(k->items, (k->count + 1) * sizeof(*k->items));
	k->items[k->count++] = copy;
	return copy;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kept k = {NULL, 0};
	const struct eas_query_alloc alloc = {keep, &k};
	struct eas_query q;
	const char *error;
	char *text = malloc(size + 1);
	size_t total = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	if (eas_query_parse(&alloc, text, &q, &error) == 0) {
		total += strlen(q.cmd) + strlen(q.device_id) + strlen(q.device_type);
		for (size_t i = 0; i < q.nparams; i++)
			total += strlen(q.names[i]) + strlen(q.values[i]);
	}
	for (size_t i = 0; i < k.count; i++)
		free(k.items[i]);
	free(k.items);
	free(text);
	return total == (size_t)-1;
}
