/* IMAP command parser, grammar half: a byte-at-a-time state machine over
 * the command text (tag, name, atoms with section specs, quoted strings,
 * literal headers, lists) that builds the argument tree, and the handling
 * of literal data (buffered in one growing block, or streamed to a sink). */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mutf7.h"
#include "parser-private.h"
#include "xmalloc.h"

/* --- building arguments --- */

static void
tok_append(struct imap_parser *p, char c)
{
	if (p->tok_len + 1 >= p->tok_cap) {
		p->tok_cap = p->tok_cap == 0 ? 256 : p->tok_cap * 2;
		p->tok = xrealloc(p->tok, p->tok_cap);
	}
	p->tok[p->tok_len++] = c;
}

/* Appends an argument at the current level; NULL if there are too many. */
static struct imap_arg *
push_arg(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *arg;

	if (++p->ntokens > p->set.max_tokens) {
		imap_parser_fail(p, IMAP_PARSER_ERROR_TOOBIG, "too many arguments (max %u)",
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

static bool
push_token(struct imap_parser *p, enum imap_arg_type type)
{
	struct imap_arg *arg;

	if (type == IMAP_ARG_ATOM && p->tok_len == 3 && strncasecmp(p->tok, "NIL", 3) == 0)
		type = IMAP_ARG_NIL;
	arg = push_arg(p, type);
	if (arg == NULL)
		return false;
	arg->str = imap_parser_strndup(p, p->tok, p->tok_len);
	arg->len = p->tok_len;
	return true;
}

static enum step
open_list(struct imap_parser *p)
{
	if (p->depth >= p->set.max_depth) {
		imap_parser_fail(p, IMAP_PARSER_ERROR_TOOBIG, "lists nested too deeply (max %u)",
		                 p->set.max_depth);
		return STEP_FAIL;
	}
	if (push_arg(p, IMAP_ARG_LIST) == NULL)
		return STEP_FAIL;
	p->open[p->depth++] = p->nargs - 1;
	p->state = ST_ARG_START;
	return STEP_NEXT;
}

static enum step
close_list(struct imap_parser *p)
{
	size_t idx, n;
	struct imap_arg *children = NULL;

	if (p->depth == 0) {
		imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "unexpected ')'");
		return STEP_FAIL;
	}
	idx = p->open[--p->depth];
	n = p->nargs - idx - 1;
	if (n > 0) {
		children = imap_parser_alloc(p, n * sizeof(*children));
		memcpy(children, &p->args[idx + 1], n * sizeof(*children));
	}
	p->args[idx].list = children;
	p->args[idx].count = n;
	p->nargs = idx + 1;
	p->state = ST_AFTER_ARG;
	return STEP_NEXT;
}

static enum step
finish_command(struct imap_parser *p)
{
	p->cmd.tag = p->tag;
	p->cmd.name = p->name;
	p->cmd.args = p->args;
	p->cmd.count = p->nargs;
	imap_parser_end_command(p);
	p->result = IMAP_PARSER_COMMAND;
	return STEP_RETURN;
}

/* The LF of "{n}\r\n" has been read. */
static enum step
literal_header_done(struct imap_parser *p)
{
	if (++p->ntokens > p->set.max_tokens) {
		imap_parser_set_error(p, IMAP_PARSER_ERROR_TOOBIG, "too many arguments (max %u)",
		                      p->set.max_tokens);
		imap_parser_drop_literal(p);
		return STEP_RETURN;
	}
	if (p->lit_size > p->set.max_literal) {
		imap_parser_set_error(p, IMAP_PARSER_ERROR_TOOBIG,
		                      "literal too large (max %llu bytes)",
		                      (unsigned long long)p->set.max_literal);
		imap_parser_drop_literal(p);
		return STEP_RETURN;
	}
	if (p->lit_nonsync && p->set.literal_minus && p->lit_size > IMAP_PARSER_LITERAL_MINUS_MAX) {
		imap_parser_set_error(
		    p, IMAP_PARSER_ERROR_TOOBIG,
		    "non-synchronizing literal too large (max %d bytes with LITERAL-)",
		    IMAP_PARSER_LITERAL_MINUS_MAX);
		imap_parser_drop_literal(p);
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
void
imap_parser_lit_done(struct imap_parser *p)
{
	struct imap_arg *arg;

	/* The header already counted this argument. */
	p->ntokens--;
	arg = push_arg(p, IMAP_ARG_LITERAL);
	arg->len = (size_t)p->lit_size;
	arg->flags = (p->lit_binary ? IMAP_ARG_LITERAL_BINARY : 0) |
	             (p->lit_nonsync ? IMAP_ARG_LITERAL_NONSYNC : 0);
	if (p->lit_nul)
		arg->flags |= IMAP_ARG_LITERAL_NUL;
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
		arg->str = imap_parser_strndup(p, "", 0);
	}
	p->state = ST_AFTER_ARG;
}

void
imap_parser_lit_begin(struct imap_parser *p, bool stream)
{
	p->lit_streaming = stream;
	p->lit_nul = false;
	p->lit_remaining = p->lit_size;
	p->state = ST_LIT_DATA;
}

/* Consumes literal data from data[0..size); returns bytes used. */
size_t
imap_parser_lit_data(struct imap_parser *p, const unsigned char *data, size_t size)
{
	size_t n = size < p->lit_remaining ? size : (size_t)p->lit_remaining;
	const char *error = NULL;

	/* A buffered literal becomes a C string for the command code, so a
	 * NUL in it is refused; a streamed one (a message being appended) is
	 * passed on and flagged for the command to judge. */
	if (!p->lit_binary && !p->lit_nul && memchr(data, '\0', n) != NULL) {
		if (p->lit_streaming)
			p->lit_nul = true;
		else
			imap_parser_set_error(
			    p, IMAP_PARSER_ERROR_SYNTAX,
			    "NUL byte in literal (only a literal8 ~{n} may contain NUL)");
	}
	if (p->result == IMAP_PARSER_ERROR) {
		/* already failed */
	} else if (p->lit_streaming) {
		if (p->sink(data, n, p->sink_ctx, &error) < 0)
			imap_parser_set_error(p, IMAP_PARSER_ERROR_SINK, "%s",
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

static bool
is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return c != '(' && c != ')' && c != '{' && c != '"';
}

/* ATOM-CHAR / "]", minus "+", per the tag grammar. */
static bool
is_tag_char(unsigned char c)
{
	return is_atom_char(c) && c != '+' && c != '%' && c != '*' && c != '\\';
}

static enum step
bad_char(struct imap_parser *p, unsigned char c, const char *where)
{
	if (c >= 0x80)
		imap_parser_fail(
		    p, IMAP_PARSER_ERROR_SYNTAX,
		    "8-bit character in %s (only allowed in a quoted string or literal)", where);
	else if (c < 0x20 || c == 0x7f)
		imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "control character 0x%02x in %s", c,
		                 where);
	else
		imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "unexpected '%c' in %s", c, where);
	return STEP_FAIL_AGAIN;
}

static enum step
step_atom(struct imap_parser *p, unsigned char c)
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
			imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "nested '[' in section");
			return STEP_FAIL_AGAIN;
		case '{':
			imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX,
			                 "literal not allowed inside '[...]'");
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
	imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing ']' in section");
	return STEP_FAIL_AGAIN;
}

static enum step
step_quoted(struct imap_parser *p, unsigned char c)
{
	const char *error;

	if (p->state == ST_QUOTED_ESC) {
		if (c != '"' && c != '\\') {
			imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX,
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
		/* RFC 9051 and UTF8=ACCEPT allow UTF-8 in quoted strings, and
		 * IMAP4rev1 clients send it before ENABLE too (SEARCH CHARSET
		 * UTF-8); accept it when valid. Mailbox names are checked
		 * against modified UTF-7 by their commands. */
		if (p->quoted_8bit && mutf7_utf8_validate(p->tok, p->tok_len, &error) < 0) {
			imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "%s in quoted string", error);
			return STEP_FAIL;
		}
		return push_token(p, IMAP_ARG_QUOTED) ? STEP_NEXT : STEP_FAIL;
	case '\\':
		p->state = ST_QUOTED_ESC;
		return STEP_NEXT;
	case '\r':
	case '\n':
		imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "unterminated quoted string");
		return STEP_FAIL_AGAIN;
	case '\0':
		imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "NUL byte in quoted string");
		return STEP_FAIL_AGAIN;
	}
	if (c >= 0x80)
		p->quoted_8bit = true;
	tok_append(p, (char)c);
	return STEP_NEXT;
}

static enum step
step_literal_header(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_LIT_SIZE:
		if (c >= '0' && c <= '9') {
			/* Saturate rather than fail, so the size check later
			 * still knows the literal is non-synchronizing. */
			p->lit_size = imap_parser_add_digit(p->lit_size, c);
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
		imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX,
		                 "literal size must be followed by CRLF");
		return STEP_FAIL_AGAIN;
	default:
		if (c == '\n')
			return literal_header_done(p);
		imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "CR not followed by LF");
		return STEP_FAIL_AGAIN;
	}
	imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "invalid literal size");
	return STEP_FAIL_AGAIN;
}

static void
start_literal_header(struct imap_parser *p, bool binary)
{
	p->lit_size = 0;
	p->lit_digits = false;
	p->lit_binary = binary;
	p->lit_nonsync = false;
	p->state = ST_LIT_SIZE;
}

enum step
imap_parser_step(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case ST_LINE_START:
		if (p->set.args_only) {
			p->state = ST_ARG_START;
			return STEP_AGAIN;
		}
		/* Empty lines carry no command; ignore them. */
		if (c == '\r' || c == '\n')
			return STEP_NEXT;
		if (!is_tag_char(c)) {
			if (c == ' ')
				imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing tag");
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
			p->tag = imap_parser_strndup(p, p->tok, p->tok_len);
			p->state = ST_NAME_START;
			return c == ' ' ? STEP_NEXT : STEP_AGAIN;
		}
		return bad_char(p, c, "tag");
	case ST_NAME_START:
		if (c == ' ')
			return STEP_NEXT;
		if (c == '\r' || c == '\n') {
			imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing command name");
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
			p->name = imap_parser_strndup(p, p->tok, p->tok_len);
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
			p->quoted_8bit = false;
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
				imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing ')'");
				return STEP_FAIL_AGAIN;
			}
			if (c == '\n')
				return finish_command(p);
			p->state = ST_CR;
			return STEP_NEXT;
		}
		if (c == '(' || c == '"' || c == '{')
			imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "missing space before '%c'",
			                 c);
		else
			imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX,
			                 "missing space after argument");
		return STEP_FAIL_AGAIN;
	case ST_CR:
		if (c == '\n')
			return finish_command(p);
		imap_parser_fail(p, IMAP_PARSER_ERROR_SYNTAX, "CR not followed by LF");
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
	case ST_LIT_DECIDE:
	case ST_LIT_DATA:
	case ST_SKIP_LITERAL:
		break;
	}
	abort();
}
