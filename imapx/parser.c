/* IMAP command parser, public half: settings, the input loop over plain
 * bytes or an evbuffer, the per-command arena, and error recovery. After an
 * error a small recognizer skips the rest of the command, still honouring
 * the sizes of the non-synchronizing literals it announces, so their bytes
 * are never read as commands. The grammar itself is in parser-syntax.c. */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "parser-private.h"
#include "xmalloc.h"

/* --- arena --- */

static size_t
align_up(size_t n)
{
	size_t a = _Alignof(max_align_t);

	return (n + a - 1) & ~(a - 1);
}

static struct arena_block *
block_new(size_t size)
{
	struct arena_block *b = xmalloc(sizeof(*b) + size);

	b->next = NULL;
	b->used = 0;
	b->size = size;
	return b;
}

void *
imap_parser_alloc(struct imap_parser *p, size_t size)
{
	struct arena_block *b = p->blocks;

	size = align_up(size == 0 ? 1 : size);
	if (b != NULL && b->size - b->used >= size) {
		void *ptr = b->data + b->used;
		b->used += size;
		return ptr;
	}
	if (size > ARENA_BLOCK_SIZE / 4) {
		/* A big piece gets its own block behind the current one, so the
		 * current block's free space is not wasted. */
		b = block_new(size);
		b->used = size;
		if (p->blocks != NULL) {
			b->next = p->blocks->next;
			p->blocks->next = b;
		} else {
			p->blocks = b;
		}
		return b->data;
	}
	if (p->spare != NULL) {
		b = p->spare;
		p->spare = NULL;
		b->used = 0;
	} else {
		b = block_new(ARENA_BLOCK_SIZE);
	}
	b->next = p->blocks;
	p->blocks = b;
	b->used = size;
	return b->data;
}

char *
imap_parser_strndup(struct imap_parser *p, const char *s, size_t len)
{
	char *copy = imap_parser_alloc(p, len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

static void
arena_clear(struct imap_parser *p)
{
	struct arena_block *b = p->blocks, *next;

	for (; b != NULL; b = next) {
		next = b->next;
		if (p->spare == NULL && b->size == ARENA_BLOCK_SIZE)
			p->spare = b;
		else
			free(b);
	}
	p->blocks = NULL;
}

/* --- setup --- */

static void
apply_defaults(struct imap_parser_settings *set)
{
	if (set->max_line == 0)
		set->max_line = IMAP_PARSER_DEFAULT_MAX_LINE;
	if (set->max_literal == 0)
		set->max_literal = IMAP_PARSER_DEFAULT_MAX_LITERAL;
	if (set->max_tokens == 0)
		set->max_tokens = IMAP_PARSER_DEFAULT_MAX_TOKENS;
	if (set->max_depth == 0)
		set->max_depth = IMAP_PARSER_DEFAULT_MAX_DEPTH;
	if (set->max_literal > SIZE_MAX - 1)
		set->max_literal = SIZE_MAX - 1;
}

struct imap_parser *
imap_parser_create(const struct imap_parser_settings *settings)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	if (settings != NULL)
		p->set = *settings;
	apply_defaults(&p->set);
	p->open = xreallocarray(NULL, p->set.max_depth, sizeof(*p->open));
	p->state = ST_LINE_START;
	return p;
}

static void
reset_command(struct imap_parser *p)
{
	arena_clear(p);
	free(p->lit_buf);
	p->lit_buf = NULL;
	p->tag = p->name = NULL;
	p->nargs = 0;
	p->depth = 0;
	p->ntokens = 0;
	p->line_len = 0;
	p->tok_len = 0;
	p->dirty = false;
}

void
imap_parser_destroy(struct imap_parser **parser)
{
	struct imap_parser *p = *parser;

	if (p == NULL)
		return;
	reset_command(p);
	free(p->spare);
	free(p->tok);
	free(p->args);
	free(p->open);
	xfree_ptr(parser);
}

void
imap_parser_set_utf8(struct imap_parser *p, bool utf8)
{
	p->set.utf8 = utf8;
}

void
imap_parser_set_literal_minus(struct imap_parser *p, bool literal_minus)
{
	p->set.literal_minus = literal_minus;
}

void
imap_parser_set_max_literal(struct imap_parser *p, uint64_t max_literal)
{
	p->set.max_literal = max_literal;
	apply_defaults(&p->set);
}

void
imap_parser_reset(struct imap_parser *p)
{
	reset_command(p);
	p->state = ST_LINE_START;
}

/* --- errors and skipping --- */

void
imap_parser_set_error(struct imap_parser *p, enum imap_parser_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	p->error_kind = kind;
	p->result = IMAP_PARSER_ERROR;
}

static void
skip_begin(struct imap_parser *p)
{
	p->sk_quote = p->sk_esc = p->sk_plus = false;
	p->sk_lit = SK_NONE;
	p->sk_size = 0;
	p->state = ST_SKIP;
}

/* Records an error and switches to discarding the rest of the command,
 * carrying over what the state machine knew about the current line. */
void
imap_parser_fail(struct imap_parser *p, enum imap_parser_error_kind kind, const char *fmt, ...)
{
	enum state from = p->state;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	p->error_kind = kind;
	p->result = IMAP_PARSER_ERROR;

	skip_begin(p);
	switch (from) {
	case ST_QUOTED:
	case ST_QUOTED_ESC:
		p->sk_quote = true;
		p->sk_esc = from == ST_QUOTED_ESC;
		break;
	case ST_ATOM:
		p->sk_quote = p->bracket_quote;
		p->sk_esc = p->bracket_esc;
		break;
	case ST_LIT_SIZE:
		p->sk_lit = p->lit_digits ? SK_DIGITS : SK_OPEN;
		p->sk_size = p->lit_size;
		break;
	case ST_LIT_PLUS:
		p->sk_lit = SK_PLUS;
		p->sk_size = p->lit_size;
		p->sk_plus = true;
		break;
	case ST_LIT_CR:
		p->sk_lit = SK_CLOSE;
		p->sk_size = p->lit_size;
		p->sk_plus = p->lit_nonsync;
		break;
	case ST_LIT_LF:
		p->sk_lit = SK_CR;
		p->sk_size = p->lit_size;
		p->sk_plus = p->lit_nonsync;
		break;
	default:
		break;
	}
}

void
imap_parser_end_command(struct imap_parser *p)
{
	p->state = ST_LINE_START;
	p->dirty = true;
}

/* After a refused or oversized literal whose header was fully read. */
void
imap_parser_drop_literal(struct imap_parser *p)
{
	if (p->lit_nonsync) {
		p->skip_remaining = p->lit_size;
		p->state = ST_SKIP_LITERAL;
	} else {
		imap_parser_end_command(p);
	}
}

/* One byte of a command being discarded. */
static void
skip_byte(struct imap_parser *p, unsigned char c)
{
	if (p->sk_quote) {
		if (p->sk_esc) {
			p->sk_esc = false;
			return;
		}
		if (c == '\\') {
			p->sk_esc = true;
			return;
		}
		if (c == '"') {
			p->sk_quote = false;
			return;
		}
		if (c != '\r' && c != '\n')
			return;
		p->sk_quote = false;
	}
	switch (c) {
	case '\n':
		if (p->sk_lit == SK_CLOSE || p->sk_lit == SK_CR) {
			if (p->sk_plus) {
				p->skip_remaining = p->sk_size;
				p->state = ST_SKIP_LITERAL;
				return;
			}
			/* The client waits for a continuation that will not
			 * come: the command ends here. */
		}
		imap_parser_end_command(p);
		return;
	case '\r':
		p->sk_lit = p->sk_lit == SK_CLOSE ? SK_CR : SK_NONE;
		return;
	case '{':
		p->sk_lit = SK_OPEN;
		p->sk_size = 0;
		p->sk_plus = false;
		return;
	case '"':
		p->sk_quote = true;
		p->sk_lit = SK_NONE;
		return;
	case '+':
		p->sk_lit = p->sk_lit == SK_DIGITS ? SK_PLUS : SK_NONE;
		p->sk_plus = true;
		return;
	case '}':
		p->sk_lit = (p->sk_lit == SK_DIGITS || p->sk_lit == SK_PLUS) ? SK_CLOSE : SK_NONE;
		return;
	default:
		if (c >= '0' && c <= '9' && (p->sk_lit == SK_OPEN || p->sk_lit == SK_DIGITS)) {
			p->sk_lit = SK_DIGITS;
			p->sk_size = imap_parser_add_digit(p->sk_size, c);
		} else {
			p->sk_lit = SK_NONE;
		}
		return;
	}
}

enum imap_parser_result
imap_parser_parse_data(struct imap_parser *p, const void *data, size_t size, size_t *consumed_r)
{
	const unsigned char *in = data;
	size_t i = 0;

	for (;;) {
		if (p->state == ST_LINE_START && p->dirty)
			reset_command(p);
		if (p->state == ST_LIT_DECIDE)
			imap_parser_lit_begin(p, false);
		if (p->state == ST_LIT_DATA) {
			if (p->lit_remaining == 0) {
				imap_parser_lit_done(p);
				continue;
			}
			if (i == size)
				break;
			p->result = IMAP_PARSER_NEED_MORE;
			i += imap_parser_lit_data(p, in + i, size - i);
			if (p->result == IMAP_PARSER_ERROR) {
				*consumed_r = i;
				return IMAP_PARSER_ERROR;
			}
			continue;
		}
		if (p->state == ST_SKIP_LITERAL) {
			if (p->skip_remaining == 0) {
				skip_begin(p);
				continue;
			}
			if (i == size)
				break;
			size_t n =
			    size - i < p->skip_remaining ? size - i : (size_t)p->skip_remaining;
			i += n;
			p->skip_remaining -= n;
			continue;
		}
		if (i == size)
			break;

		unsigned char c = in[i];
		if (p->state == ST_SKIP) {
			/* Discarded bytes count against no limit. */
			skip_byte(p, c);
			i++;
			continue;
		}
		/* Empty lines before a command are not part of it. */
		if ((p->state != ST_LINE_START || p->set.args_only || (c != '\r' && c != '\n')) &&
		    ++p->line_len > p->set.max_line) {
			imap_parser_fail(p, IMAP_PARSER_ERROR_TOOBIG,
			                 "command line too long (max %zu bytes)", p->set.max_line);
			*consumed_r = i;
			return IMAP_PARSER_ERROR;
		}
		switch (imap_parser_step(p, c)) {
		case STEP_NEXT:
			i++;
			break;
		case STEP_AGAIN:
			/* Re-examined in the new state: not counted twice. */
			p->line_len--;
			break;
		case STEP_FAIL:
			*consumed_r = i + 1;
			return IMAP_PARSER_ERROR;
		case STEP_FAIL_AGAIN:
			*consumed_r = i;
			return IMAP_PARSER_ERROR;
		case STEP_RETURN:
			*consumed_r = i + 1;
			return p->result;
		}
	}
	*consumed_r = i;
	return IMAP_PARSER_NEED_MORE;
}

enum imap_parser_result
imap_parser_parse(struct imap_parser *p, struct evbuffer *input)
{
	for (;;) {
		struct evbuffer_iovec vec = {NULL, 0};
		enum imap_parser_result r;
		size_t consumed;

		if (evbuffer_peek(input, -1, NULL, &vec, 1) < 1)
			vec.iov_len = 0;
		r = imap_parser_parse_data(p, vec.iov_base, vec.iov_len, &consumed);
		if (consumed > 0)
			evbuffer_drain(input, consumed);
		if (r != IMAP_PARSER_NEED_MORE || vec.iov_len == 0)
			return r;
	}
}

const struct imap_command *
imap_parser_command(struct imap_parser *p)
{
	return &p->cmd;
}

const struct imap_parser_literal *
imap_parser_literal(struct imap_parser *p)
{
	return &p->lit;
}

void
imap_parser_literal_buffer(struct imap_parser *p)
{
	if (p->state == ST_LIT_DECIDE)
		imap_parser_lit_begin(p, false);
}

void
imap_parser_literal_stream(struct imap_parser *p, imap_parser_sink_fn *sink, void *ctx)
{
	if (p->state != ST_LIT_DECIDE)
		return;
	p->sink = sink;
	p->sink_ctx = ctx;
	imap_parser_lit_begin(p, true);
}

void
imap_parser_literal_refuse(struct imap_parser *p)
{
	if (p->state == ST_LIT_DECIDE)
		imap_parser_drop_literal(p);
}

const char *
imap_parser_error(struct imap_parser *p)
{
	return p->error;
}

enum imap_parser_error_kind
imap_parser_error_kind(struct imap_parser *p)
{
	return p->error_kind;
}

const char *
imap_parser_tag(struct imap_parser *p)
{
	return p->tag;
}

uint64_t
imap_parser_skip_pending(struct imap_parser *p)
{
	return p->state == ST_SKIP_LITERAL ? p->skip_remaining : 0;
}

bool
imap_parser_in_command(struct imap_parser *p)
{
	return p->state != ST_LINE_START;
}
