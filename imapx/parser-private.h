/* Internals shared by the IMAP command parser's two halves: parser.c (the
 * public API, the input loop, the arena, error recovery) and
 * parser-syntax.c (the per-byte state machine that builds arguments). */
#ifndef FLOE_IMAPX_PARSER_PRIVATE_H
#define FLOE_IMAPX_PARSER_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "parser.h"

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
	STEP_NEXT,       /* consumed, go on */
	STEP_AGAIN,      /* not consumed, state changed: look at it again */
	STEP_FAIL,       /* consumed, error set */
	STEP_FAIL_AGAIN, /* not consumed, error set */
	STEP_RETURN,     /* consumed, return p->result */
};

struct imap_parser {
	struct imap_parser_settings set;
	enum state state;
	bool dirty; /* a finished command still owns the arena */

	/* The token being read. */
	char *tok;
	size_t tok_len, tok_cap;
	bool in_bracket, bracket_quote, bracket_esc, bracket_complex;
	bool quoted_8bit; /* the quoted string being read has 8-bit bytes */

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
	bool lit_digits, lit_binary, lit_nonsync, lit_streaming, lit_nul;
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

/* Arena memory released when the next command starts. */
void *imap_parser_alloc(struct imap_parser *p, size_t size);
char *imap_parser_strndup(struct imap_parser *p, const char *s, size_t len);

/* Records an error for the current command without changing state. */
void imap_parser_set_error(struct imap_parser *p, enum imap_parser_error_kind kind, const char *fmt,
                           ...) __attribute__((format(printf, 3, 4)));
/* Records an error and switches to discarding the rest of the command. */
void imap_parser_fail(struct imap_parser *p, enum imap_parser_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The command is over; its arena is released on the next parse call. */
void imap_parser_end_command(struct imap_parser *p);
/* Discards a literal whose header was read: skips its bytes if the client
 * sends them without waiting, else ends the command. */
void imap_parser_drop_literal(struct imap_parser *p);

/* Handles one byte of command text (any state but literal data). */
enum step imap_parser_step(struct imap_parser *p, unsigned char c);
/* Starts reading the data of the literal just announced. */
void imap_parser_lit_begin(struct imap_parser *p, bool stream);
/* Consumes literal data from data[0..size); returns the bytes used. */
size_t imap_parser_lit_data(struct imap_parser *p, const unsigned char *data, size_t size);
/* All of a literal's data has been read: it becomes an argument. */
void imap_parser_lit_done(struct imap_parser *p);

/* n * 10 + digit, saturating at UINT64_MAX. */
static inline uint64_t
imap_parser_add_digit(uint64_t n, unsigned char c)
{
	if (n > (UINT64_MAX - 9) / 10)
		return UINT64_MAX;
	return n * 10 + (uint64_t)(c - '0');
}

#endif
