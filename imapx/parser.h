/* Incremental parser for IMAP client commands (RFC 3501 / RFC 9051 syntax):
 * fed bytes as they arrive (plain memory or a libevent evbuffer), it yields a
 * tag, a command name and a tree of arguments, stops at literals so that the
 * session can send "+ OK", refuse them, or stream them to a sink, and
 * recovers from every error by skipping the rest of the bad command. */
#ifndef FLOE_IMAPX_PARSER_H
#define FLOE_IMAPX_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

struct evbuffer;
struct imap_parser;

enum imap_arg_type {
	/* An atom as sent, which may carry section specs with spaces, lists
	 * and quoted strings inside brackets: BODY[HEADER.FIELDS (A B)]<0.100>
	 * is one atom (bracket contents are kept verbatim). Also holds
	 * sequence sets, flags (\Seen) and list wildcards (%, *). */
	IMAP_ARG_ATOM,
	/* A quoted string, unescaped. */
	IMAP_ARG_QUOTED,
	/* A literal {n}, {n+} or literal8 ~{n}. */
	IMAP_ARG_LITERAL,
	/* The atom NIL in any case; str holds it as sent, since an astring
	 * argument such as a mailbox name may legitimately be "NIL". */
	IMAP_ARG_NIL,
	/* A parenthesized list. */
	IMAP_ARG_LIST,
};

/* Flags of IMAP_ARG_LITERAL. */
#define IMAP_ARG_LITERAL_BINARY   0x01 /* literal8 (~{n}, RFC 3516): may contain NUL */
#define IMAP_ARG_LITERAL_NONSYNC  0x02 /* {n+} */
#define IMAP_ARG_LITERAL_STREAMED 0x04 /* bytes went to a sink; str is NULL */
/* A streamed, non-binary literal contained NUL bytes (RFC 3501 forbids them;
 * the command decides whether to refuse). A buffered literal with NUL is a
 * parse error instead. */
#define IMAP_ARG_LITERAL_NUL 0x08

struct imap_arg {
	enum imap_arg_type type;
	unsigned int flags;
	/* ATOM, QUOTED, NIL, LITERAL: the bytes, NUL-terminated (a binary
	 * literal may also contain NULs, so use len). NULL for LIST and for
	 * streamed literals. */
	const char *str;
	/* Length of str; for a streamed literal, its size. */
	size_t len;
	/* LIST: the elements. */
	const struct imap_arg *list;
	size_t count;
};

struct imap_command {
	const char *tag;
	/* The command name as sent ("uid", "FETCH"); compare it
	 * case-insensitively. "UID FETCH" has name "UID" and "FETCH" as first
	 * argument. */
	const char *name;
	const struct imap_arg *args;
	size_t count;
};

/* Limits and modes. A zero numeric field takes the default. */
struct imap_parser_settings {
	/* Bytes of command text (everything except literal data, including
	 * every CRLF) per command. Default 65536. */
	size_t max_line;
	/* Largest literal accepted, checked before any of it is read (the
	 * APPENDLIMIT). Default 64 MiB. */
	uint64_t max_literal;
	/* Arguments per command, counting every list and list element.
	 * Default 10000. */
	unsigned int max_tokens;
	/* Parenthesis nesting depth. Default 32. */
	unsigned int max_depth;
	/* LITERAL- (RFC 7888) instead of LITERAL+: {n+} over 4096 bytes is
	 * refused. */
	bool literal_minus;
	/* UTF8=ACCEPT / IMAP4rev2: quoted strings inside a section spec
	 * ("BODY[HEADER.FIELDS (\"X\")]") may hold 8-bit bytes. Ordinary
	 * quoted strings accept valid UTF-8 in every mode (RFC 9051; IMAP4rev1
	 * clients send SEARCH CHARSET UTF-8 strings so) and refuse invalid
	 * UTF-8, NUL, CR and LF; mailbox names stay modified UTF-7 unless the
	 * command layer enabled UTF-8. */
	bool utf8;
	/* The input is a bare argument list without tag and command name,
	 * ending at CRLF: e.g. to split the bracket contents of a section
	 * spec ("HEADER.FIELDS (From \"To\")") into arguments. Commands then
	 * have tag and name NULL, and empty lines give empty commands. */
	bool args_only;
};

#define IMAP_PARSER_DEFAULT_MAX_LINE    65536
#define IMAP_PARSER_DEFAULT_MAX_LITERAL (64ULL * 1024 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_TOKENS  10000
#define IMAP_PARSER_DEFAULT_MAX_DEPTH   32
#define IMAP_PARSER_LITERAL_MINUS_MAX   4096

enum imap_parser_result {
	/* Every byte given was consumed; the command is not complete. */
	IMAP_PARSER_NEED_MORE,
	/* A command is complete: imap_parser_command(). Bytes after its CRLF
	 * were not consumed, so the session can read raw lines (AUTHENTICATE
	 * responses, IDLE's DONE) or drop pipelined input (STARTTLS) itself. */
	IMAP_PARSER_COMMAND,
	/* A literal header was read: imap_parser_literal() describes it. The
	 * session may call imap_parser_literal_buffer() (the default when it
	 * calls parse again without deciding), imap_parser_literal_stream() or
	 * imap_parser_literal_refuse(). For a synchronizing literal it then
	 * sends "+ ..." unless it refused. Size limits have already been
	 * checked: an oversized literal is reported as an ERROR instead. */
	IMAP_PARSER_LITERAL,
	/* The command is bad: imap_parser_error(), imap_parser_error_kind(),
	 * imap_parser_tag() (NULL when no tag was read: answer "* BAD"). The
	 * parser has switched to discarding the rest of the command, including
	 * the data of non-synchronizing literals it announces; a refused
	 * synchronizing literal ends the command. Keep calling parse. */
	IMAP_PARSER_ERROR,
};

enum imap_parser_error_kind {
	IMAP_PARSER_ERROR_SYNTAX, /* answer BAD */
	IMAP_PARSER_ERROR_TOOBIG, /* line, literal or argument count over the limit: BAD [TOOBIG] */
	IMAP_PARSER_ERROR_SINK,   /* the literal sink failed; its message is the error */
};

struct imap_parser_literal {
	uint64_t size;
	bool sync;   /* the client waits for a continuation request */
	bool binary; /* literal8 */
	/* Parenthesis depth of the literal (0 = a top-level argument). */
	unsigned int depth;
	const char *tag, *name;
	/* The complete top-level arguments before it (an open list is not
	 * included), e.g. the mailbox, flags and date of an APPEND. */
	const struct imap_arg *args;
	size_t count;
};

/* Receives a streamed literal's bytes in order as they arrive; the sum of
 * the sizes is the literal's size, and the next parse result tells that it
 * ended (COMMAND, another LITERAL, or ERROR, in which case the session
 * discards what the sink received). Returns 0, or -1 with a message in
 * *error_r (static or owned by ctx) to abort the command: the rest of the
 * literal and of the command is discarded and parse returns ERROR with kind
 * IMAP_PARSER_ERROR_SINK. */
typedef int imap_parser_sink_fn(const unsigned char *data, size_t size, void *ctx,
                                const char **error_r);

/* settings may be NULL for all defaults; it is copied. */
struct imap_parser *imap_parser_create(const struct imap_parser_settings *settings);
/* Frees *parser and sets it to NULL; accepts NULL. */
void imap_parser_destroy(struct imap_parser **parser);

/* Changes take effect from the next literal header or quoted string;
 * max_literal 0 restores the default. */
void imap_parser_set_utf8(struct imap_parser *parser, bool utf8);
void imap_parser_set_literal_minus(struct imap_parser *parser, bool literal_minus);
void imap_parser_set_max_literal(struct imap_parser *parser, uint64_t max_literal);

/* Feeds data[0..size). *consumed_r tells how many bytes were used; the
 * caller keeps the rest and passes it again (with more) on the next call.
 * Everything returned (command, literal info, tag, error) stays valid until
 * the next call to a parse function or to imap_parser_reset(). */
enum imap_parser_result imap_parser_parse_data(struct imap_parser *parser, const void *data,
                                               size_t size, size_t *consumed_r);
/* The same on an evbuffer: consumed bytes are drained from it. */
enum imap_parser_result imap_parser_parse(struct imap_parser *parser, struct evbuffer *input);

/* After IMAP_PARSER_COMMAND. */
const struct imap_command *imap_parser_command(struct imap_parser *parser);

/* After IMAP_PARSER_LITERAL: the literal and the choice of what to do. */
const struct imap_parser_literal *imap_parser_literal(struct imap_parser *parser);
/* Keep the bytes in memory; they become the argument's str. */
void imap_parser_literal_buffer(struct imap_parser *parser);
/* Hand the bytes to sink as they arrive instead of keeping them. */
void imap_parser_literal_stream(struct imap_parser *parser, imap_parser_sink_fn *sink, void *ctx);
/* Refuse the literal; the session sends its own tagged answer. A
 * synchronizing literal then ends the command (the client will not send
 * it); the bytes of a non-synchronizing one and the rest of its command are
 * discarded, never parsed as commands. */
void imap_parser_literal_refuse(struct imap_parser *parser);

/* After IMAP_PARSER_ERROR. */
const char *imap_parser_error(struct imap_parser *parser);
enum imap_parser_error_kind imap_parser_error_kind(struct imap_parser *parser);
/* The tag of the command being parsed (or just parsed), or NULL. */
const char *imap_parser_tag(struct imap_parser *parser);
/* Literal bytes still to be discarded; after refusing a huge
 * non-synchronizing literal a session may prefer to close the connection. */
uint64_t imap_parser_skip_pending(struct imap_parser *parser);
/* True while a command has been started but not finished (or is being
 * discarded). */
bool imap_parser_in_command(struct imap_parser *parser);
/* Forgets any partial command, e.g. when the session discards its input. */
void imap_parser_reset(struct imap_parser *parser);

/* Argument accessors. Each returns true and sets its outputs if the
 * argument has that shape; len_r may be NULL. */

/* An atom (NIL counts: it is spelled as an atom). */
static inline bool
imap_arg_atom(const struct imap_arg *arg, const char **str_r)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
		return false;
	*str_r = arg->str;
	return true;
}

/* True if the argument is the atom word, compared case-insensitively. */
static inline bool
imap_arg_atom_equals(const struct imap_arg *arg, const char *word)
{
	return (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) &&
	       strcasecmp(arg->str, word) == 0;
}

/* A string (quoted or buffered literal). */
static inline bool
imap_arg_string(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_QUOTED &&
	    (arg->type != IMAP_ARG_LITERAL || (arg->flags & IMAP_ARG_LITERAL_STREAMED) != 0))
		return false;
	*str_r = arg->str;
	if (len_r != NULL)
		*len_r = arg->len;
	return true;
}

/* An astring: an atom (including NIL) or a string. */
static inline bool
imap_arg_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) {
		*str_r = arg->str;
		if (len_r != NULL)
			*len_r = arg->len;
		return true;
	}
	return imap_arg_string(arg, str_r, len_r);
}

/* An nstring: a string, or NIL which gives *str_r = NULL and length 0. */
static inline bool
imap_arg_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		if (len_r != NULL)
			*len_r = 0;
		return true;
	}
	return imap_arg_string(arg, str_r, len_r);
}

static inline bool
imap_arg_list(const struct imap_arg *arg, const struct imap_arg **list_r, size_t *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return false;
	*list_r = arg->list;
	*count_r = arg->count;
	return true;
}

#endif
