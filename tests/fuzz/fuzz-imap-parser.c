/* libFuzzer target for the IMAP command parser: the input's first bytes
 * choose the parser settings and a chunking seed, the rest is fed in
 * random-sized pieces; literals are buffered, streamed or refused by turns,
 * and every parsed argument is also run through the sequence-set and
 * modified UTF-7 code, checking their round-trip invariants. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imapx/mutf7.h"
#include "imapx/parser.h"
#include "imapx/seqset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
	uint32_t rng;
	uint64_t sunk;
};

static uint32_t
next_rand(struct state *st)
{
	st->rng = st->rng * 1103515245u + 12345u;
	return st->rng >> 8;
}

static int
sink(const unsigned char *data, size_t size, void *ctx, const char **error_r)
{
	struct state *st = ctx;

	st->sunk += size;
	if (size > 0 && data[0] == '!') {
		*error_r = "sink refuses '!'";
		return -1;
	}
	return 0;
}

static void
check_seqset(const char *str, size_t len)
{
	struct seqset *set = seqset_create(), *back = seqset_create();
	const char *error;

	if (seqset_parse(set, str, len, 1000, SEQSET_PARSE_SAVED, &error) == 0 &&
	    !seqset_is_empty(set)) {
		char *text = seqset_format(set);

		/* The canonical spelling parses to the same set. */
		if (seqset_parse(back, text, strlen(text), 1000, 0, &error) != 0 ||
		    !seqset_equal(set, back))
			abort();
		free(text);
		(void)seqset_contains(set, 500);
		(void)seqset_count(set);
	}
	seqset_destroy(&set);
	seqset_destroy(&back);
}

static void
check_mutf7(const char *str, size_t len)
{
	char *utf8 = NULL, *again = NULL;
	const char *error;

	if (mutf7_decode(str, len, &utf8, &error) == 0) {
		/* A valid name is canonical: encoding its UTF-8 gives it back. */
		if (mutf7_encode(utf8, strlen(utf8), &again, &error) != 0 || strlen(again) != len ||
		    memcmp(again, str, len) != 0)
			abort();
		free(again);
		free(utf8);
	} else if (mutf7_is_valid(str, len)) {
		abort();
	}
	if (mutf7_utf8_validate(str, len, &error) == 0 && memchr(str, '\0', len) == NULL) {
		if (mutf7_encode(str, len, &again, &error) != 0 ||
		    mutf7_decode(again, strlen(again), &utf8, &error) != 0 || strlen(utf8) != len ||
		    memcmp(utf8, str, len) != 0)
			abort();
		free(again);
		free(utf8);
	}
}

static void
walk(const struct imap_arg *args, size_t count, unsigned int depth)
{
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		if (a->type == IMAP_ARG_LIST) {
			if (depth > 64)
				abort();
			walk(a->list, a->count, depth + 1);
		} else if (a->str != NULL) {
			if (a->str[a->len] != '\0')
				abort();
			check_seqset(a->str, a->len);
			check_mutf7(a->str, a->len);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_settings set = {0};
	struct state st = {0, 0};
	struct imap_parser *p;
	size_t pos = 0, arrived = 0;
	unsigned int literals = 0;

	if (size < 3)
		return 0;
	set.max_line = 64 + (size_t)data[0] * 16;
	set.max_literal = (data[1] & 0x0f) * 512 + 1;
	set.max_tokens = 4 + (data[1] >> 4) * 8;
	set.max_depth = 2 + (data[2] & 0x07);
	set.literal_minus = (data[2] & 0x08) != 0;
	set.utf8 = (data[2] & 0x10) != 0;
	set.args_only = (data[2] & 0xe0) == 0xe0;
	st.rng = data[2];
	data += 3;
	size -= 3;

	p = imap_parser_create(&set);
	for (int guard = 0;; guard++) {
		size_t consumed;
		enum imap_parser_result res;

		if (guard > 1000000)
			abort();
		res = imap_parser_parse_data(p, data + pos, arrived - pos, &consumed);
		if (consumed > arrived - pos)
			abort();
		pos += consumed;
		switch (res) {
		case IMAP_PARSER_NEED_MORE:
			if (pos != arrived)
				abort();
			if (arrived == size)
				goto done;
			arrived += 1 + next_rand(&st) % 97;
			if (arrived > size)
				arrived = size;
			break;
		case IMAP_PARSER_COMMAND: {
			const struct imap_command *cmd = imap_parser_command(p);

			if (!set.args_only &&
			    (cmd->tag == NULL || cmd->name == NULL || cmd->tag[0] == '\0'))
				abort();
			walk(cmd->args, cmd->count, 0);
			break;
		}
		case IMAP_PARSER_LITERAL: {
			const struct imap_parser_literal *lit = imap_parser_literal(p);

			if (lit->size > set.max_literal || (lit->tag == NULL) != set.args_only)
				abort();
			walk(lit->args, lit->count, 0);
			switch (literals++ % 3) {
			case 0:
				imap_parser_literal_buffer(p);
				break;
			case 1:
				imap_parser_literal_stream(p, sink, &st);
				break;
			default:
				imap_parser_literal_refuse(p);
				break;
			}
			break;
		}
		case IMAP_PARSER_ERROR:
			if (imap_parser_error(p)[0] == '\0')
				abort();
			break;
		}
	}
done:
	imap_parser_destroy(&p);
	return 0;
}
