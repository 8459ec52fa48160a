/* The IMAP session as command implementations see it: who is logged in,
 * which extensions are enabled, the selected mailbox view, how a command
 * answers (tagged and untagged responses, IMAP string quoting, literals of
 * any size streamed with flow control) and how it tells the session that it
 * has finished.
 *
 * Model: the session runs one command at a time, in the order received.
 * While a command waits for the store, further pipelined input waits. The
 * session keeps reading the socket, so a disconnect is noticed at once: the
 * command's cleanup hook runs (from the event loop, never inside one of the
 * command's own callbacks) and must abandon its store operations. */
#ifndef FLOE_IMAP_CLIENT_H
#define FLOE_IMAP_CLIENT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailbox-view.h"
#include "parser.h"
#include "seqset.h"
#include "store.h"

struct evbuffer;
struct event_base;
struct floe_config;
struct imap_client;
struct imap_command_def;
struct imap_server;

/* Session states, as bits so that a command can list where it is valid. */
enum imap_client_state {
	IMAP_STATE_NOT_AUTH = 0x01,
	IMAP_STATE_AUTH = 0x02,
	IMAP_STATE_SELECTED = 0x04,
	IMAP_STATE_LOGOUT = 0x08,
};

/* Extensions enabled in this session (ENABLE, or implicitly: CONDSTORE by
 * SELECT (CONDSTORE), FETCH MODSEQ, SEARCH MODSEQ, ...; QRESYNC implies
 * CONDSTORE). */
#define IMAP_ENABLED_CONDSTORE 0x01
#define IMAP_ENABLED_QRESYNC   0x02
#define IMAP_ENABLED_UTF8      0x04 /* UTF8=ACCEPT: UTF-8 mailbox names and strings */
#define IMAP_ENABLED_REV2      0x08 /* IMAP4rev2 (RFC 9051) semantics */

/* ---------------------------------------------------------------------
 * The session
 */

enum imap_client_state imap_client_state(const struct imap_client *client);
/* 0 before authentication. */
uint64_t imap_client_account_id(const struct imap_client *client);
/* The authenticated account's address ("user@domain"), NULL before. */
const char *imap_client_address(const struct imap_client *client);
/* IMAP_ENABLED_* bits. */
unsigned imap_client_enabled(const struct imap_client *client);
static inline bool
imap_client_has(const struct imap_client *client, unsigned enabled_bit)
{
	return (imap_client_enabled(client) & enabled_bit) != 0;
}
/* Enables extensions implicitly (e.g. CONDSTORE when FETCH asks for MODSEQ).
 * Enabling CONDSTORE with a mailbox selected sends the untagged
 * "OK [HIGHESTMODSEQ n]" RFC 7162 asks for. */
void imap_client_enable(struct imap_client *client, unsigned enabled_bits);
/* The worker's store, event loop, configuration ([imap] limits:
 * cfg->imap.max_literal_size is the APPENDLIMIT) and IMAP server. */
struct store *imap_client_store(const struct imap_client *client);
struct event_base *imap_client_base(const struct imap_client *client);
const struct floe_config *imap_client_config(const struct imap_client *client);
struct imap_server *imap_client_server(const struct imap_client *client);
/* The selected mailbox, NULL unless state is IMAP_STATE_SELECTED. */
struct imap_view *imap_client_view(const struct imap_client *client);
/* The peer's address as text ("127.0.0.1"), for logs. */
const char *imap_client_peer(const struct imap_client *client);
/* The client program the session announced (IceWarp's connector version
 * from X-ICEWARP-SERVER), NULL when none; set replaces it (len bytes). */
const char *imap_client_agent(const struct imap_client *client);
void imap_client_set_agent(struct imap_client *client, const char *agent, size_t len);

/* ---------------------------------------------------------------------
 * Output. Everything written goes into the session's output buffer; it is
 * sent (compressed with COMPRESS=DEFLATE when active) when the command
 * finishes, when a command calls imap_client_flush(), and whenever the
 * session returns to the event loop.
 */

/* Raw bytes and printf-style text, written as given (no CRLF added). */
void imap_client_write(struct imap_client *client, const void *data, size_t len);
void imap_client_printf(struct imap_client *client, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void imap_client_vprintf(struct imap_client *client, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* One untagged line: "* " fmt "\r\n". */
void imap_client_untagged(struct imap_client *client, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Direct access to the output buffer (for evbuffer_add_buffer and the
 * like); the same rules apply. */
struct evbuffer *imap_client_output(struct imap_client *client);

/* IMAP strings. Each writes one value:
 * - astring: an atom when s is a non-empty atom that is not "NIL"
 *   (case-insensitive), else as quoted;
 * - quoted: "..." with \ and " escaped when s holds no CR, LF or NUL and
 *   (unless UTF8=ACCEPT/IMAP4rev2 is enabled) no 8-bit byte; else a literal;
 * - literal: {len}\r\n followed by the bytes;
 * - nstring: NIL when s is NULL, else quoted. */
void imap_write_astring(struct imap_client *client, const char *s, size_t len);
void imap_write_quoted(struct imap_client *client, const char *s, size_t len);
void imap_write_literal(struct imap_client *client, const void *s, size_t len);
void imap_write_nstring(struct imap_client *client, const char *s, size_t len);
/* A mailbox name given in UTF-8 as the store keeps it: modified UTF-7 on
 * the wire, or UTF-8 after ENABLE UTF8=ACCEPT; quoted as an astring. */
void imap_write_mailbox(struct imap_client *client, const char *utf8_name);

/* Streaming a literal too big for memory (FETCH BODY[] of a 50 MB message):
 * write the header with imap_write_literal_header ("{size}\r\n", or
 * "~{size}\r\n" for a BINARY literal8), then exactly size bytes with
 * imap_client_write in chunks. After each chunk, if imap_client_output_busy
 * says so, call imap_client_wait_output and continue from its callback. */
void imap_write_literal_header(struct imap_client *client, uint64_t size, bool binary);
/* Sends what is buffered now. */
void imap_client_flush(struct imap_client *client);
/* True when more than about 256 KiB of output is waiting for the client. */
bool imap_client_output_busy(const struct imap_client *client);
/* Calls cb(ctx) once, from the event loop, when the output waiting for the
 * client has fallen below about 64 KiB (at once if it already has). Only one
 * wait at a time. If the client disconnects, cb is never called: the
 * command's cleanup hook runs instead. */
typedef void imap_client_output_fn(void *ctx);
void imap_client_wait_output(struct imap_client *client, imap_client_output_fn *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Commands
 */

struct imap_cmd {
	struct imap_client *client;
	const struct imap_command_def *def;
	const char *tag;
	/* The command's name, upper-cased, without the UID prefix ("FETCH"). */
	const char *name;
	/* The arguments after the name (after "UID FETCH"), as parsed. They stay
	 * valid until the command finishes (the session parses nothing else
	 * meanwhile). NULL/0 in the literal hook (the command is not complete). */
	const struct imap_arg *args;
	size_t count;
	/* The command came with the UID prefix. */
	bool uid;

	/* For the command's own state: set by exec or the literal hook, kept
	 * until the command ends. */
	void *ctx;
	/* Called exactly once when the command ends for any reason (finished,
	 * failed to parse after the literal hook ran, or client disconnected
	 * while the command was asynchronous). It must abandon the command's
	 * store operations and free ctx. May be NULL. */
	void (*cleanup)(struct imap_cmd *cmd);
};

/* What an exec function returns. */
enum imap_cmd_result {
	/* Finished: the tagged reply has been set with imap_cmd_ok/no/bad. */
	IMAP_CMD_DONE,
	/* Still running: the command calls imap_cmd_finish() later (once), from a
	 * callback, after setting its tagged reply. */
	IMAP_CMD_ASYNC,
};
typedef enum imap_cmd_result imap_cmd_exec_fn(struct imap_cmd *cmd);

/* A command that takes literals it wants to stream or judge itself (APPEND)
 * has a literal hook, called for each literal header of the command before
 * its data is read (cmd->args is NULL then; lit->args has the top-level
 * arguments so far). Literal sizes above [imap] max_literal_size have
 * already been refused by the session with NO [TOOBIG] when the command is
 * APPEND (the hook is not called). Return:
 *   IMAP_LITERAL_BUFFER: keep the bytes in memory (they become the arg's str);
 *   IMAP_LITERAL_STREAM: after calling imap_cmd_literal_stream(cmd, ...);
 *   IMAP_LITERAL_REFUSE: after setting the tagged reply (e.g. "NO [TOOBIG]");
 *     the rest of the command is discarded, never parsed as commands, and the
 *     command ends (cleanup runs; exec is not called). */
enum imap_literal_action {
	IMAP_LITERAL_BUFFER,
	IMAP_LITERAL_STREAM,
	IMAP_LITERAL_REFUSE,
};
typedef enum imap_literal_action imap_cmd_literal_fn(struct imap_cmd *cmd,
                                                     const struct imap_parser_literal *lit);
/* From a literal hook: hand the literal's bytes to sink (parser.h) as they
 * arrive. If the command then fails to parse, the session sends BAD and
 * runs cleanup, which discards what the sink received. */
void imap_cmd_literal_stream(struct imap_cmd *cmd, imap_parser_sink_fn *sink, void *ctx);

/* The tagged reply: "<tag> OK|NO|BAD <text>\r\n". text may begin with a
 * response code ("[TRYCREATE] No such mailbox"). It is written when the
 * command finishes, after any untagged updates the session still owes
 * (EXPUNGE, EXISTS, FETCH FLAGS) where RFC 3501/7162 allow them. Setting it
 * again replaces the previous text. */
void imap_cmd_reply(struct imap_cmd *cmd, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define imap_cmd_ok(cmd, ...)  imap_cmd_reply((cmd), "OK", __VA_ARGS__)
#define imap_cmd_no(cmd, ...)  imap_cmd_reply((cmd), "NO", __VA_ARGS__)
#define imap_cmd_bad(cmd, ...) imap_cmd_reply((cmd), "BAD", __VA_ARGS__)
/* A NO for a failed store call with the right response code:
 * NOT_FOUND [NONEXISTENT], EXISTS [ALREADYEXISTS], OVER_QUOTA [OVERQUOTA],
 * INVALID and NOT_EMPTY [CANNOT], database unavailable or timed out
 * [UNAVAILABLE], anything else [SERVERBUG] (MODIFIED is for STORE to
 * handle itself; here it gets no code). Internal errors are logged. The
 * text is "<prefix>: <error>" ("Cannot create mailbox: ..."). */
void imap_cmd_store_error(struct imap_cmd *cmd, const char *prefix, enum store_err code,
                          const char *error);
/* Ends an IMAP_CMD_ASYNC command. The session then writes pending updates
 * and the tagged reply, runs cleanup, frees cmd and moves on to the next
 * command. Without a tagged reply set, "NO [SERVERBUG]" is sent. Call it
 * once, from a callback (not from exec, which returns IMAP_CMD_DONE
 * instead). */
void imap_cmd_finish(struct imap_cmd *cmd);

/* ---------------------------------------------------------------------
 * Arguments
 */

/* A mailbox name argument (astring): modified UTF-7 decoded to UTF-8, or
 * UTF-8 validated after ENABLE UTF8=ACCEPT; "INBOX" in any case becomes
 * "INBOX", also as the first component of a path ("inbox/x" -> "INBOX/x").
 * Returns 0 with *utf8_r newly allocated (the caller frees it), or -1 with
 * *error_r set to a static message (answer BAD with it). */
int imap_arg_mailbox(struct imap_client *client, const struct imap_arg *arg, char **utf8_r,
                     const char **error_r);

/* Resolves a sequence-set argument (sequence numbers, or UIDs when uid is
 * true; "*" and "$" (SEARCHRES) included) against the selected mailbox.
 * Returns 0 with *uids_r a new set of UIDs (the caller destroys it), or -1
 * with *error_r a static message (syntax, or a sequence number beyond the
 * mailbox: answer BAD). The set is made of whole ranges of the view's UIDs:
 * it may also hold UIDs the view no longer has (expunged meanwhile), which
 * the store ignores and imap_view_uid_to_seq() reports as 0. UIDs above the
 * last message the view knows are dropped, so a command never touches a
 * message the client has not been told about yet. */
int imap_cmd_seqset(struct imap_cmd *cmd, const struct imap_arg *arg, bool uid,
                    struct seqset **uids_r, const char **error_r);

/* A seqset turned into the store's range form. */
struct imap_uid_ranges {
	struct store_uid_ranges ranges; /* pass &r.ranges to the store */
	uint32_t (*pairs)[2];
};
void imap_uid_ranges_init(struct imap_uid_ranges *r, const struct seqset *uids);
void imap_uid_ranges_clear(struct imap_uid_ranges *r);

/* ---------------------------------------------------------------------
 * Reporting writes to the selected mailbox (see mailbox-view.h for the
 * view's read accessors)
 */

/* After store_flags on the selected mailbox: updates the view's flags and
 * modseqs and, with send_fetch (STORE without .SILENT), writes
 * "* seq FETCH (FLAGS (...) UID u MODSEQ (m))" for each changed message the
 * view has (UID when the command is a UID command or QRESYNC is enabled,
 * MODSEQ when CONDSTORE is enabled). With .SILENT and CONDSTORE enabled
 * RFC 7162 still wants the MODSEQ: pass send_fetch = false and
 * send_modseq = true to get "* seq FETCH (MODSEQ (m))" (plus UID). */
void imap_view_apply_flags(struct imap_cmd *cmd, const struct store_flags_result *res,
                           bool send_fetch, bool send_modseq);
/* After an expunge of the selected mailbox (EXPUNGE, UID EXPUNGE, MOVE):
 * removes uids from the view and writes "* seq EXPUNGE" for each (highest
 * first), or one "* VANISHED uid-set" with QRESYNC enabled. With send
 * false (CLOSE) nothing is written. UIDs the view does not have are
 * ignored. */
void imap_view_apply_expunge(struct imap_cmd *cmd, const uint32_t *uids, size_t count, bool send);
/* After one of the two above: the write left the folder at highestmodseq.
 * When that is the view's HIGHESTMODSEQ + 1, nothing else changed the
 * folder since the view was last brought up to date (every write takes
 * the next modseq, one per write), so the view is complete up to it: it
 * takes it, and the write's own change notice then asks for no refresh. */
void imap_view_own_write(struct imap_cmd *cmd, uint64_t highestmodseq);
/* This session changed folder_id (APPEND or COPY into it, ...): if it is
 * the selected mailbox, the view is refreshed before the tagged reply so
 * that the client sees EXISTS at once. */
void imap_client_changed(struct imap_client *client, uint64_t folder_id);

#endif
