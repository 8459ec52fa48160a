/* libFuzzer target for the POP3 wire code: the input is split into command
 * lines for the keyword/number parsers, and also byte-stuffed as message
 * data (RETR and TOP with a line count from the first byte) in pieces of
 * random size, checking that the output is a well-formed multi-line
 * response: CRLF lines only, every line starting with '.' doubled, and the
 * terminator only at the end. */

#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailflow/pop3-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_lines(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *line, *save = NULL;

	memcpy(copy, data, size);
	copy[size] = '\0';
	for (line = strtok_r(copy, "\r\n", &save); line != NULL;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char name[8];
		const char *args;
		uint64_t v;

		if (pop3_parse_command(line, name, sizeof(name), &args) == 0) {
			if (strlen(name) == 0 || strlen(name) > 7 || args < line ||
			    args > line + strlen(line))
				abort();
			if (pop3_parse_number(args, 1000, &v) == 0 && v > 1000)
				abort();
		}
	}
	free(copy);
}

static void
check_stuffed(const uint8_t *data, size_t size)
{
	struct evbuffer *out = evbuffer_new();
	struct pop3_stuffer st;
	uint32_t rng = size > 0 ? data[0] : 1;
	size_t off = 0, n;
	unsigned char *text;

	pop3_stuffer_init(&st, size > 1 && (data[1] & 1) != 0, size > 0 ? data[0] % 8 : 0);
	while (off < size) {
		size_t piece;

		rng = rng * 1103515245u + 12345u;
		piece = 1 + (rng >> 8) % 64;
		if (piece > size - off)
			piece = size - off;
		if (pop3_stuffer_feed(&st, data + off, piece, out))
			break;
		off += piece;
	}
	pop3_stuffer_finish(&st, out);
	n = evbuffer_get_length(out);
	text = evbuffer_pullup(out, -1);
	/* Ends with the terminator, which appears nowhere before. */
	if (n < 3 || memcmp(text + n - 3, ".\r\n", 3) != 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		bool line_start = i == 0 || text[i - 1] == '\n';

		if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			abort();
		if (line_start && text[i] == '.' && i != n - 3 && text[i + 1] != '.')
			abort();
		if (line_start && text[i] == '.' && text[i + 1] == '.')
			i++;
	}
	evbuffer_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_lines(data, size);
	check_stuffed(data, size);
	return 0;
}
