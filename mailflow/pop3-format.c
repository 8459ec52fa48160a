/* POP3 wire formatting without state beyond its arguments: the command line
 * split, numbers, and the multi-line "byte-stuffing" of message data for
 * RETR and TOP (RFC 1939 section 3), fed in chunks as the blob streams. */
#include <ctype.h>
#include <string.h>

#include <event2/buffer.h>

#include "pop3-private.h"

void
pop3_stuffer_init(struct pop3_stuffer *st, bool top, uint64_t max_body_lines)
{
	memset(st, 0, sizeof(*st));
	st->line_start = true;
	st->in_header = true;
	st->header_line_empty = true;
	st->top = top;
	st->body_lines_left = max_body_lines;
}

/* A line ended (its CRLF is out). */
static void
stuffer_end_line(struct pop3_stuffer *st)
{
	if (st->in_header) {
		if (st->header_line_empty) {
			st->in_header = false;
			if (st->top && st->body_lines_left == 0)
				st->done = true;
		}
	} else if (st->top) {
		if (st->body_lines_left > 0)
			st->body_lines_left--;
		if (st->body_lines_left == 0)
			st->done = true;
	}
	st->line_start = true;
	st->after_cr = false;
	st->header_line_empty = true;
}

bool
pop3_stuffer_feed(struct pop3_stuffer *st, const void *data, size_t len, struct evbuffer *out)
{
	const char *p = data, *end = p + len;

	while (p < end && !st->done) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *seg_end = nl != NULL ? nl : end;
		size_t seglen = (size_t)(seg_end - p);

		if (st->line_start && seglen > 0 && *p == '.')
			evbuffer_add(out, ".", 1);
		if (seglen > 0) {
			evbuffer_add(out, p, seglen);
			if (st->in_header && st->header_line_empty) {
				for (size_t i = 0; i < seglen; i++) {
					if (p[i] != '\r') {
						st->header_line_empty = false;
						break;
					}
				}
			}
			st->after_cr = p[seglen - 1] == '\r';
			st->line_start = false;
		}
		if (nl == NULL)
			break;
		/* A bare LF becomes CRLF: POP3 lines end in CRLF. */
		if (st->after_cr)
			evbuffer_add(out, "\n", 1);
		else
			evbuffer_add(out, "\r\n", 2);
		stuffer_end_line(st);
		p = nl + 1;
	}
	return st->done;
}

void
pop3_stuffer_finish(struct pop3_stuffer *st, struct evbuffer *out)
{
	if (!st->line_start)
		evbuffer_add(out, st->after_cr ? "\n" : "\r\n", st->after_cr ? 1 : 2);
	evbuffer_add(out, ".\r\n", 3);
	st->line_start = true;
	st->done = true;
}

int
pop3_parse_command(const char *line, char *name, size_t size, const char **args_r)
{
	size_t n = 0;

	while (line[n] != '\0' && line[n] != ' ') {
		if (n + 1 >= size || !isalpha((unsigned char)line[n]))
			return -1;
		name[n] = (char)toupper((unsigned char)line[n]);
		n++;
	}
	if (n == 0)
		return -1;
	name[n] = '\0';
	*args_r = line[n] == ' ' ? line + n + 1 : line + n;
	return 0;
}

int
pop3_parse_number(const char *text, uint64_t max, uint64_t *value_r)
{
	uint64_t v = 0;
	size_t n = 0;

	for (; isdigit((unsigned char)text[n]); n++) {
		v = v * 10 + (uint64_t)(text[n] - '0');
		if (v > max || n >= 19)
			return -1;
	}
	if (n == 0 || text[n] != '\0')
		return -1;
	*value_r = v;
	return 0;
}
