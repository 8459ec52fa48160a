/* IMAP command parser: a byte-at-a-time state machine over the command text
 * and bulk copies over literal data. Arguments live in a per-command arena
 * released when the next command starts; after an error a small recognizer
 * skips the rest of the command, still honouring the sizes of the
 * non-synchronizing literals it announces so their bytes are never read as
 * commands. */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "mutf7.h"
#include "parser.h"
#include "xmalloc.h"

#define ARENA_BLOCK_SIZE 8192

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	_Alignas(max_align_t) char data[];
};

enum state {
	ST_LINE_START,
	ST_TAG,
	ST_NAME_START,
	ST_NAME,
	ST_ARG_START,
	ST_AFTER_ARG,
	ST_CR,
	ST_ATOM,
	ST_TILDE,
	ST_QUOTED,
	ST_QUOTED_ESC,
	ST_LIT_SIZE,
	ST_LIT_PLUS,
	ST_LIT_CR,
	ST_LIT_LF,
	ST_LIT_DECIDE,
	ST_LIT_DATA,
	ST_SKIP,
	ST_SKIP_LITERAL,
};

/* What the skip recognizer has seen of a literal header at the end of a
 * discarded line. */
enum skip_lit {
	SK_NONE,
	SK_OPEN,   /* "{" */
	SK_DIGITS, /* "{12" */
	SK_PLUS,   /* "{12+" */
	SK_CLOSE,  /* "{12+}" */
	SK_CR,     /* "{12+}\r" */
};

/* How one byte was handled. */
enum step {
	STEP_NEXT,        /* consumed, go on */
	STEP_AGAIN,       /* not consumed, state changed: look at it again */
	STEP_FAIL,        /* consumed, error set */
	STEP_FAIL_AGAIN,  /* not consumed, error set */
	STEP_RETURN,      /* consumed, return p->result */
};

struct imap_parser {
	struct imap_parser_settings set;
	enum state state;
	bool dirty; /* a finished command still owns the arena */

	/* The token being read. */
	char *tok;
	size_t tok_len, tok_cap;
	bool in_bracket, bracket_quote, bracket_esc, bracket_complex;

	/* The command being built. */
	struct arena_block *blocks, *spare;
	const char *tag, *name;
	struct imap_arg *args;
	size_t nargs, args_cap;
	size_t *open;
	unsigned int depth, ntokens;
	size_t line_len;
	struct imap_command cmd;

	/* Literal header and data. */
	uint64_t lit_size, lit_remaining;
	bool lit_digits, lit_binary, lit_nonsync, lit_streaming;
	struct imap_parser_literal lit;
	struct arena_block *lit_buf;
	imap_parser_sink_fn *sink;
	void *sink_ctx;

	/* Discarding a bad command. */
	bool sk_quote, sk_esc, sk_plus;
	enum skip_lit sk_lit;
	uint64_t sk_size, skip_remaining;

	enum imap_parser_result result;
	enum imap_parser_error_kind error_kind;
	char error[192];
};

/* --- arena --- */

static size_t align_up(size_t n)
{
	size_t a = _Alignof(max_align_t);

	return (n + a - 1) & ~(a - 1);
}

static struct arena_block *block_new(size_t size)
{
	struct arena_block *b = xmalloc(sizeof(*b) + size);

	b->next = NULL;
	b->used = 0;
	b->size = size;
	return b;
}

static void *arena_alloc(struct imap_parser *p, size_t size)
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

static char *arena_strndup(struct imap_parser *p, const char *s, size_t len)
{
	char *copy = arena_alloc(p, len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

static void arena_clear(struct imap_parser *p)
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

static void apply_defaults(struct imap_parser_settings *set)
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

struct imap_parser *imap_parser_create(const struct imap_parser_settings *settings)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	if (settings != NULL)
		p->set = *settings;
	apply_defaults(&p->set);
	p->open = xreallocarray(NULL, p->set.max_depth, sizeof(*p->open));
	p->state = ST_LINE_START;
	return p;
}

static void reset_command(struct imap_parser *p)
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

void imap_parser_destroy(struct imap_parser **parser)
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

void imap_parser_set_utf8(struct imap_parser *p, bool utf8)
{
	p->set.utf8 = utf8;
}

void imap_parser_set_literal_minus(struct imap_parser *p, bool literal_minus)
{
	p->set.literal_minus = literal_minus;
}

void imap_parser_set_max_literal(struct imap_parser *p, uint64_t max_literal)
{
	p->set.max_literal = max_literal;
	apply_defaults(&p->set);
}

void imap_parser_reset(struct imap_parser *p)
{
	reset_command(p);
	p->state = ST_LINE_START;
}

/* --- errors and skipping --- */

static void __attribute__((format(printf, 3, 4)))
set_error(struct imap_parser *p, enum imap_parser_error_kind kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	p->error_kind = kind;
	p->result = IMAP_PARSER_ERROR;
}

static void skip_begin(struct imap_parser *p)
{
	p->sk_quote = p->sk_esc = p->sk_plus = false;
	p->sk_lit = SK_NONE;
	p->sk_size = 0;
	p->state = ST_SKIP;
}

/* Records an error and switches to discarding the rest of the command,
 * carrying over what the state machine knew about the current line. */
static void __attribute__((format(printf, 3, 4)))
fail(struct imap_parser *p, enum imap_parser_error_kind kind, const char *fmt, ...)
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

static void end_command(struct imap_parser *p)
{
	p->state = ST_LINE_START;
	p->dirty = true;
}

/* After a refused or oversized literal whose header was fully read. */
static void drop_literal(struct imap_parser *p)
{
	if (p->lit_nonsync) {
		p->skip_remaining = p->lit_size;
		p->state = ST_SKIP_LITERAL;
	} else {
		end_command(p);
	}
}

static uint64_t add_digit(uint64_t n, unsigned char c)
{
	if (n > (UINT64_MAX - 9) / 10)
		return UINT64_MAX;
	return n * 10 + (uint64_t)(c - '0');
}

/* One byte of a command being discarded. */
static void skip_byte(struct imap_parser *p, unsigned char c)
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
		end_command(p);
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
			p->sk_size = add_digit(p->sk_size, c);
		} else {
			p->sk_lit = SK_NONE;
		}
		return;
	}
}

/* --- building arguments --- */

static void tok_append(struct imap_parser *p, char c)
{
	if (p->tok_len + 1 >= p->tok_cap) {
		p->tok_cap = p->tok_cap == 0 ? 256 : p->tok_cap * 2;
		p->tok = xrealloc(p->tok, p->tok_cap);
	}
	p->tok[p->tok_len++] = c;
}

/* Appends an argument at the current level; NULL if there are too many. */
static struct imap_arg *push_arg(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *arg;

	if (++p->ntokens > p->set.max_tokens) {
		fail(p, IMAP_PARSER_ERROR_TOOBIG, "too many arguments (max %u)",
		     p->set.max_tokens);
		return NULL;
	}
	if (p->nargs == p->args_cap) {
		p->args_cap = p->args_cap == 0 ? 16 : p->args_cap * 2;
		p->args = xreallocarray(p->args, p->args_cap, sizeof(*p->args));
	}
	arg = &p->args[p->nargs++];
	memset(arg, 0, sizeof(*arg));
	arg->type = type;
	return arg;
}

static bool push_token(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *arg;

	if (type == IMAP_ARG_ATOM && p->tok_len == 3 && strncasecmp(p->tok, "NIL", 3) == 0)
		type = IMAP_ARG_NIL;
	arg = push_arg(p, type);
	if (arg == NULL)
		return false;
	arg->str = arena_strndup(p, p->tok, p->tok_len);
	arg->len = p->tok_len;
	return true;
}

static enum step open_list(struct imap_parser *p)
{
	if (p->depth >= p->set.max_depth) {
		fail(p, IMAP_PARSER_ERROR_TOOBIG, "lists nested too deeply (max %u)",
		     p->set.max_depth);
		return STEP_FAIL;
	}
	if (push_arg(p, IMAP_ARG_LIST) == NULL)
		return STEP_FAIL;
	p->open[p->depth++] = p->nargs - 1;
	p->state = ST_ARG_START;
	return STEP_NEXT;
}

static enum step close_list(struct imap_parser *p)
{
	size_t idx, n;
	struct imap_arg *children = NULL;

	if (p->depth == 0) {
		fail(p, IMAP_PARSER_ERROR_SYNTAX, "unexpected ')'");
		return STEP_FAIL;
	}
	idx = p->open[--p->depth];
	n = p->nargs - idx - 1;
	if (n > 0) {
		children = arena_alloc(p, n * sizeof(*children));
		memcpy(children, &p->args[idx + 1], n * sizeof(*children));
	}
	p->args[idx].list = children;
	p->args[idx].count = n;
	p->nargs = idx + 1;
	p->state = ST_AFTER_ARG;
	return STEP_NEXT;
}

static enum step finish_command(struct imap_parser *p)
{
	p->cmd.tag = p->tag;
	p->cmd.name = p->name;
	p->cmd.args = p->args;
	p->cmd.count = p->nargs;
	end_command(p);
	p->result = IMAP_PARSER_COMMAND;
	return STEP_RETURN;
}

/* The LF of "{n}\r\n" has been read. */
static enum step literal_header_done(struct imap_parser *p)
{
	if (++p->ntokens > p->set.max_tokens) {
		set_error(p, IMAP_PARSER_ERROR_TOOBIG, "too many arguments (max %u)",
			  p->set.max_tokens);
		drop_literal(p);
		return STEP_RETURN;
	}
	if (p->lit_size > p->set.max_literal) {
		set_error(p, IMAP_PARSER_ERROR_TOOBIG, "literal too large (max %llu bytes)",
			  (unsigned long long)p->set.max_literal);
		drop_literal(p);
		return STEP_RETURN;
	}
	if (p->lit_nonsync && p->set.literal_minus && p->lit_size > IMAP_PARSER_LITERAL_MINUS_MAX) {
		set_error(p, IMAP_PARSER_ERROR_TOOBIG,
			  "non-synchronizing literal too large (max %d bytes with LITERAL-)",
			  IMAP_PARSER_LITERAL_MINUS_MAX);
		drop_literal(p);
		return STEP_RETURN;
	}
	p->lit.size = p->lit_size;
	p->lit.sync = !p->lit_nonsync;
	p->lit.binary = p->lit_binary;
	p->lit.depth = p->depth;
	p->lit.tag = p->tag;
	p->lit.name = p->name;
	p->lit.args = p->args;
	p->lit.count = p->depth > 0 ? p->open[0] : p->nargs;
	p->state = ST_LIT_DECIDE;
	p->result = IMAP_PARSER_LITERAL;
	return STEP_RETURN;
}

/* All of a literal's data has been read. */
static void literal_done(struct imap_parser *p)
{
	struct imap_arg *arg;

	/* The header already counted this argument. */
	p->ntokens--;
	arg = push_arg(p, IMAP_ARG_LITERAL);
	arg->len = (size_t)p->lit_size;
	arg->flags = (p->lit_binary ? IMAP_ARG_LITERAL_BINARY : 0) |
		     (p->lit_nonsync ? IMAP_ARG_LITERAL_NONSYNC : 0);
	if (p->lit_streaming) {
		arg->flags |= IMAP_ARG_LITERAL_STREAMED;
	} else if (p->lit_buf != NULL) {
		struct arena_block *b = p->lit_buf;

		b->data[p->lit_size] = '\0';
		b->used = b->size;
		if (p->blocks != NULL) {
			b->next = p->blocks->next;
			p->blocks->next = b;
		} else {
			p->blocks = b;
		}
		p->lit_buf = NULL;
		arg->str = b->data;
	} else {
		arg->str = arena_strndup(p, "", 0);
	}
	p->state = ST_AFTER_ARG;
}

static void literal_begin(struct imap_parser *p, bool stream)
{
	p->lit_streaming = stream;
	p->lit_remaining = p->lit_size;
	p->state = ST_LIT_DATA;
}

/* Consumes literal data from data[0..size); returns bytes used. */
static size_t literal_data(struct imap_parser *p, const unsigned char *data, size_t size)
{
	size_t n = size < p->lit_remaining ? size : (size_t)p->lit_remaining;
	const char *error = NULL;

	if (!p->lit_binary && memchr(data, '\0', n) != NULL) {
		set_error(p, IMAP_PARSER_ERROR_SYNTAX,
			  "NUL byte in literal (only a literal8 ~{n} may contain NUL)");
	} else if (p->lit_streaming) {
		if (p->sink(data, n, p->sink_ctx, &error) < 0)
			set_error(p, IMAP_PARSER_ERROR_SINK, "%s",
				  error != NULL ? error : "literal refused");
	} else {
		size_t have = (size_t)(p->lit_size - p->lit_remaining);
		struct arena_block *b = p->lit_buf;

		/* Grow with the data, not with the announced size, so a
		 * header alone cannot make us allocate max_literal. */
		if (b == NULL || b->size < have + n + 1) {
			size_t cap = b == NULL ? 4096 : b->size;

			while (cap < have + n + 1)
				cap *= 2;
			if (cap > p->lit_size + 1)
				cap = (size_t)p->lit_size + 1;
			b = xrealloc(b, sizeof(*b) + cap);
			if (p->lit_buf == NULL)
				b->next = NULL;
			b->size = cap;
			p->lit_buf = b;
		}
		memcpy(b->data + have, data, n);
	}
	p->lit_remaining -= n;
	if (p->result == IMAP_PARSER_ERROR) {
		p->skip_remaining = p->lit_remaining;
		p->state = ST_SKIP_LITERAL;
	}
	return n;
}

/* --- the state machine --- */

static bool is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return c != '(' && c != ')' && c != '{' && c != '"';
}

/* ATOM-CHAR / "]", minus "+", per the tag grammar. */
static bool is_tag_char(unsigned char c)
{
	return is_atom_char(c) && c != '+' && c != '%' && c != '*' && c != '\\';
}

static enum step bad_char(struct imap_parser *p, unsigned char c, const char *where)
{
	if (c >= 0x80)
		fail(p, IMAP_PARSER_ERROR_SYNTAX,
		     "8-bit character in %s (only allowed in a quoted string or literal)", where);
	else if (c < 0x20 || c == 0x7f)
		fail(p, IMAP_PARSER_ERROR_SYNTAX, "control character 0x%02x in %s", c, where);
	else
		fail(p, IMAP_PARSER_ERROR_SYNTAX, "unexpected '%c' in %s", c, where);
	return STEP_FAIL_AGAIN;
}

static enum step step_atom(struct imap_parser *p, unsigned char c)
{
	if (p->in_bracket) {
		if (p->bracket_quote) {
			if (p->bracket_esc)
				p->bracket_esc = false;
			else if (c == '\\')
				p->bracket_esc = true;
			else if (c == '"')
				p->bracket_quote = false;
			else if (c == '\r' || c == '\n')
				goto unclosed;
			else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !p->set.utf8))
				return bad_char(p, c, "quoted string");
			tok_append(p, (char)c);
			return STEP_NEXT;
		}
		switch (c) {
		case ']':
			p->in_bracket = false;
			break;
		case '"':
			p->bracket_quote = true;
			p->bracket_complex = true;
			break;
		case ' ':
		case '(':
		case ')':
			p->bracket_complex = true;
			break;
		case '[':
			fail(p, IMAP_PARSER_ERROR_SYNTAX, "nested '[' in section");
			return STEP_FAIL_AGAIN;
		case '{':
			fail(p, IMAP_PARSER_ERROR_SYNTAX, "literal not allowed inside '[...]'");
			return STEP_FAIL_AGAIN;
		case '\r':
		case '\n':
			/* "a[b" is a valid atom; only a section with
			 * spaces, lists or strings needs its ']'. */
			if (p->bracket_complex)
				goto unclosed;
			p->in_bracket = false;
			return STEP_AGAIN;
		default:
			if (c < 0x20 || c >= 0x7f)
				return bad_char(p, c, "section");
		}
		tok_append(p, (char)c);
		return STEP_NEXT;
	}
	if (c == '[') {
		p->in_bracket = true;
		p->bracket_quote = p->bracket_esc = p->bracket_complex = false;
		tok_append(p, (char)c);
		return STEP_NEXT;
	}
	if (is_atom_char(c)) {
		tok_append(p, (char)c);
		return STEP_NEXT;
	}
	if (c == ' ' || c == '\r' || c == '\n' || c == ')') {
		if (!push_token(p, IMAP_ARG_ATOM))
			return STEP_FAIL_AGAIN;
		p->state = ST_AFTER_ARG;
		return STEP_AGAIN;
	}
	return bad_char(p, c, "atom");
unclosed:
	fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing ']' in section");
	return STEP_FAIL_AGAIN;
}

static enum step step_quoted(struct imap_parser *p, unsigned char c)
{
	const char *error;

	if (p->state == ST_QUOTED_ESC) {
		if (c != '"' && c != '\\') {
			fail(p, IMAP_PARSER_ERROR_SYNTAX,
			     "invalid escape in quoted string (only \\\" and \\\\)");
			return STEP_FAIL_AGAIN;
		}
		tok_append(p, (char)c);
		p->state = ST_QUOTED;
		return STEP_NEXT;
	}
	switch (c) {
	case '"':
		p->state = ST_AFTER_ARG;
		if (p->set.utf8 && mutf7_utf8_validate(p->tok, p->tok_len, &error) < 0) {
			fail(p, IMAP_PARSER_ERROR_SYNTAX, "%s in quoted string", error);
			return STEP_FAIL;
		}
		return push_token(p, IMAP_ARG_QUOTED) ? STEP_NEXT : STEP_FAIL;
	case '\\':
		p->state = ST_QUOTED_ESC;
		return STEP_NEXT;
	case '\r':
	case '\n':
		fail(p, IMAP_PARSER_ERROR_SYNTAX, "unterminated quoted string");
		return STEP_FAIL_AGAIN;
	case '\0':
		fail(p, IMAP_PARSER_ERROR_SYNTAX, "NUL byte in quoted string");
		return STEP_FAIL_AGAIN;
	}
	if (c >= 0x80 && !p->set.utf8) {
		fail(p, IMAP_PARSER_ERROR_SYNTAX,
		     "8-bit character in quoted string (send it as a literal)");
		return STEP_FAIL_AGAIN;
	}
	tok_append(p, (char)c);
	return STEP_NEXT;
}

static enum step step_literal_header(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_LIT_SIZE:
		if (c >= '0' && c <= '9') {
			/* Saturate rather than fail, so the size check later
			 * still knows the literal is non-synchronizing. */
			p->lit_size = add_digit(p->lit_size, c);
			p->lit_digits = true;
			return STEP_NEXT;
		}
		if ((c == '+' || c == '}') && p->lit_digits) {
			p->lit_nonsync = c == '+';
			p->state = c == '+' ? ST_LIT_PLUS : ST_LIT_CR;
			return STEP_NEXT;
		}
		break;
	case ST_LIT_PLUS:
		if (c == '}') {
			p->state = ST_LIT_CR;
			return STEP_NEXT;
		}
		break;
	case ST_LIT_CR:
		if (c == '\r') {
			p->state = ST_LIT_LF;
			return STEP_NEXT;
		}
		if (c == '\n')
			return literal_header_done(p);
		fail(p, IMAP_PARSER_ERROR_SYNTAX, "literal size must be followed by CRLF");
		return STEP_FAIL_AGAIN;
	default:
		if (c == '\n')
			return literal_header_done(p);
		fail(p, IMAP_PARSER_ERROR_SYNTAX, "CR not followed by LF");
		return STEP_FAIL_AGAIN;
	}
	fail(p, IMAP_PARSER_ERROR_SYNTAX, "invalid literal size");
	return STEP_FAIL_AGAIN;
}

static void start_literal_header(struct imap_parser *p, bool binary)
{
	p->lit_size = 0;
	p->lit_digits = false;
	p->lit_binary = binary;
	p->lit_nonsync = false;
	p->state = ST_LIT_SIZE;
}

static enum step step(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_LINE_START:
		/* Empty lines carry no command; ignore them. */
		if (c == '\r' || c == '\n')
			return STEP_NEXT;
		if (!is_tag_char(c)) {
			if (c == ' ')
				fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing tag");
			else
				return bad_char(p, c, "tag");
			return STEP_FAIL_AGAIN;
		}
		p->tok_len = 0;
		p->state = ST_TAG;
		return STEP_AGAIN;
	case ST_TAG:
		if (is_tag_char(c)) {
			tok_append(p, (char)c);
			return STEP_NEXT;
		}
		if (c == ' ' || c == '\r' || c == '\n') {
			p->tag = arena_strndup(p, p->tok, p->tok_len);
			p->state = ST_NAME_START;
			return c == ' ' ? STEP_NEXT : STEP_AGAIN;
		}
		return bad_char(p, c, "tag");
	case ST_NAME_START:
		if (c == ' ')
			return STEP_NEXT;
		if (c == '\r' || c == '\n') {
			fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing command name");
			return STEP_FAIL_AGAIN;
		}
		p->tok_len = 0;
		p->state = ST_NAME;
		return STEP_AGAIN;
	case ST_NAME:
		if (is_atom_char(c) && c != '[' && c != ']' && c != '%' && c != '*' && c != '\\') {
			tok_append(p, (char)c);
			return STEP_NEXT;
		}
		if (c == ' ' || c == '\r' || c == '\n') {
			p->name = arena_strndup(p, p->tok, p->tok_len);
			p->state = c == ' ' ? ST_ARG_START : ST_AFTER_ARG;
			return c == ' ' ? STEP_NEXT : STEP_AGAIN;
		}
		return bad_char(p, c, "command name");
	case ST_ARG_START:
		switch (c) {
		case ' ':
			return STEP_NEXT;
		case '\r':
		case '\n':
		case ')':
			p->state = ST_AFTER_ARG;
			return STEP_AGAIN;
		case '(':
			return open_list(p);
		case '"':
			p->tok_len = 0;
			p->state = ST_QUOTED;
			return STEP_NEXT;
		case '{':
			start_literal_header(p, false);
			return STEP_NEXT;
		case '~':
			p->state = ST_TILDE;
			return STEP_NEXT;
		}
		if (!is_atom_char(c))
			return bad_char(p, c, "atom");
		p->tok_len = 0;
		p->in_bracket = p->bracket_quote = p->bracket_esc = false;
		p->state = ST_ATOM;
		return STEP_AGAIN;
	case ST_TILDE:
		if (c == '{') {
			start_literal_header(p, true);
			return STEP_NEXT;
		}
		/* "~user@domain/INBOX": an atom that starts with '~'. */
		p->tok_len = 0;
		p->in_bracket = p->bracket_quote = p->bracket_esc = false;
		tok_append(p, '~');
		p->state = ST_ATOM;
		return STEP_AGAIN;
	case ST_AFTER_ARG:
		switch (c) {
		case ' ':
			p->state = ST_ARG_START;
			return STEP_NEXT;
		case ')':
			return close_list(p);
		case '\r':
		case '\n':
			if (p->depth > 0) {
				fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing ')'");
				return STEP_FAIL_AGAIN;
			}
			if (c == '\n')
				return finish_command(p);
			p->state = ST_CR;
			return STEP_NEXT;
		}
		if (c == '(' || c == '"' || c == '{')
			fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing space before '%c'", c);
		else
			fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing space after argument");
		return STEP_FAIL_AGAIN;
	case ST_CR:
		if (c == '\n')
			return finish_command(p);
		fail(p, IMAP_PARSER_ERROR_SYNTAX, "CR not followed by LF");
		return STEP_FAIL_AGAIN;
	case ST_ATOM:
		return step_atom(p, c);
	case ST_QUOTED:
	case ST_QUOTED_ESC:
		return step_quoted(p, c);
	case ST_LIT_SIZE:
	case ST_LIT_PLUS:
	case ST_LIT_CR:
	case ST_LIT_LF:
		return step_literal_header(p, c);
	case ST_SKIP:
		skip_byte(p, c);
		return STEP_NEXT;
	case ST_LIT_DECIDE:
	case ST_LIT_DATA:
	case ST_SKIP_LITERAL:
		break;
	}
	abort();
}

enum imap_parser_result imap_parser_parse_data(struct imap_parser *p, const void *data, size_t size,
					       size_t *consumed_r)
{
	const unsigned char *in = data;
	size_t i = 0;

	for (;;) {
		if (p->state == ST_LINE_START && p->dirty)
			reset_command(p);
		if (p->state == ST_LIT_DECIDE)
			literal_begin(p, false);
		if (p->state == ST_LIT_DATA) {
			if (p->lit_remaining == 0) {
				literal_done(p);
				continue;
			}
			if (i == size)
				break;
			p->result = IMAP_PARSER_NEED_MORE;
			i += literal_data(p, in + i, size - i);
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
			size_t n = size - i < p->skip_remaining ? size - i : (size_t)p->skip_remaining;
			i += n;
			p->skip_remaining -= n;
			continue;
		}
		if (i == size)
			break;

		unsigned char c = in[i];
		if (p->state != ST_SKIP && (p->state != ST_LINE_START || (c != '\r' && c != '\n')) &&
		    ++p->line_len > p->set.max_line) {
			fail(p, IMAP_PARSER_ERROR_TOOBIG, "command line too long (max %zu bytes)",
			     p->set.max_line);
			*consumed_r = i;
			return IMAP_PARSER_ERROR;
		}
		switch (step(p, c)) {
		case STEP_NEXT:
			i++;
			break;
		case STEP_AGAIN:
			/* Re-examined in the new state: not counted twice. */
			if (p->state != ST_SKIP)
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

enum imap_parser_result imap_parser_parse(struct imap_parser *p, struct evbuffer *input)
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

const struct imap_command *imap_parser_command(struct imap_parser *p)
{
	return &p->cmd;
}

const struct imap_parser_literal *imap_parser_literal(struct imap_parser *p)
{
	return &p->lit;
}

void imap_parser_literal_buffer(struct imap_parser *p)
{
	if (p->state == ST_LIT_DECIDE)
		literal_begin(p, false);
}

void imap_parser_literal_stream(struct imap_parser *p, imap_parser_sink_fn *sink, void *ctx)
{
	if (p->state != ST_LIT_DECIDE)
		return;
	p->sink = sink;
	p->sink_ctx = ctx;
	literal_begin(p, true);
}

void imap_parser_literal_refuse(struct imap_parser *p)
{
	if (p->state == ST_LIT_DECIDE)
		drop_literal(p);
}

const char *imap_parser_error(struct imap_parser *p)
{
	return p->error;
}

enum imap_parser_error_kind imap_parser_error_kind(struct imap_parser *p)
{
	return p->error_kind;
}

const char *imap_parser_tag(struct imap_parser *p)
{
	return p->tag;
}

uint64_t imap_parser_skip_pending(struct imap_parser *p)
{
	return p->state == ST_SKIP_LITERAL ? p->skip_remaining : 0;
}

bool imap_parser_in_command(struct imap_parser *p)
{
	return p->state != ST_LINE_START;
}
