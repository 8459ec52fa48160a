/* Internet messages (RFC 5322 / MIME), parsed once with GMime when they
 * enter the store: everything IMAP FETCH, SEARCH, SORT and EAS need later
 * (ENVELOPE, BODYSTRUCTURE, sizes, a part map with byte offsets, decoded
 * header fields, search text, preview) is computed here and stored beside
 * the item, so serving a message never re-parses it.
 *
 * Also the pure helpers FETCH needs to serve BODY[section] and BINARY from
 * the raw bytes and the part map. */
#ifndef FLOE_MESSAGE_H
#define FLOE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

struct evbuffer;

/* The parse result. Strings are allocated; message_info_clear frees them.
 * meta points into the same strings, ready for store_append. */
struct message_info {
	struct store_msg_meta meta;
	/* storage behind meta's const pointers */
	char *envelope, *bodystructure, *body, *partmap;
	char *subject, *base_subject;
	char *from_addr, *to_addr, *cc_addr, *bcc_addr;
	char *sort_from, *sort_to, *sort_cc, *sort_display_from, *sort_display_to;
	char *message_id, *in_reply_to, *references;
	char *preview, *search_text, *headers_text;
};

/* Limits of message_parse: MIME nesting levels and entities (parts). */
#define MESSAGE_MAX_DEPTH 64
#define MESSAGE_MAX_PARTS 10000

/* Parses a raw message (CRLF or LF line ends; 8-bit allowed). Never fails
 * on malformed MIME (it is described as well as it can be, as IMAP
 * servers must); fails only for empty input, more than MESSAGE_MAX_DEPTH
 * levels of nesting or more than MESSAGE_MAX_PARTS parts, with *error_r
 * set (static text).
 *
 * Every string in info_r is non-NULL (empty when the header is absent),
 * valid UTF-8 without NUL bytes, so it can go into a PostgreSQL text
 * column: 8-bit header bytes that are not UTF-8 are converted (GMime's
 * charset guess), in ENVELOPE and BODYSTRUCTURE too. Offsets and sizes
 * are of the raw bytes as given: a message stored with bare LF is served
 * with bare LF (convert to CRLF before parsing if IMAP clients should see
 * CRLF). MIME boundaries follow RFC 2046 exactly: the line break before a
 * delimiter belongs to the delimiter, even when it ends a part's header.
 *
 * meta fields, as IMAP wants them:
 * - envelope: RFC 3501 ENVELOPE list text, e.g.
 *   ("Mon, 7 Feb 1994 21:52:25 -0800" "subject" (("Name" NIL "user" "host")) ...)
 *   with strings quoted ('"' and '\\' escaped) or as literals {n}\r\n...
 *   when they contain 8-bit bytes. Values are raw (encoded words kept),
 *   unfolded; an address without domain gets host "MISSING_DOMAIN" (NIL
 *   marks groups), as Dovecot does.
 * - bodystructure: extended BODYSTRUCTURE; body: the non-extended BODY.
 *   Type, subtype, parameter names, disposition and encoding upper-case
 *   (values as written); text without charset gets ("CHARSET" "US-ASCII");
 *   RFC 2231 continuations are merged (NAME* "utf-8''%E2%82%AC.txt");
 *   line counts are line breaks (Dovecot's count).
 * - partmap: JSON, see message_section_find. Its format (version 1):
 *   {"v":1,"size":N,"parts":{SECTION:{"h":[hs,he],"b":[bs,be],
 *    "t":"type/subtype","e":"encoding"[,"m":[ihs,ihe,ibs,ibe]]}}}
 *   SECTION is "" for the message, "1", "1.2", ...; "h" is the part's MIME
 *   header (for "" the message header) including its blank line, "b" its
 *   content; "m" (message/rfc822 parts) is the inner message's header and
 *   body. A non-multipart message's body is part "1" (same ranges as "").
 * - sent_date: from Date:, -1 when absent or unparseable;
 *   has_attachment: a part with Content-Disposition: attachment, or a
 *   non-text part with a (file) name.
 * - subject/from/to/cc/bcc: decoded (RFC 2047) UTF-8 text for SEARCH;
 *   base_subject per RFC 5256; sort_* per RFC 5256 / RFC 5957 (the
 *   addr-mailbox of the first address, or its display name), lower-cased.
 * - message_id: the first <msg-id> of Message-ID (else the value);
 *   in_reply_to: the first <msg-id> of In-Reply-To; references: the
 *   <msg-id>s of References, space-separated.
 * - search_text: decoded text of all text/plain and text/html parts
 *   (HTML tags stripped), converted to UTF-8, at most 1 MiB; headers_text:
 *   the top-level header block, unfolded, one "Name: value" per line, at
 *   most 1 MiB. base_subject keeps its case. preview: first 200
 *   characters of the first inline text/plain part (else text/html),
 *   whitespace collapsed (RFC 8970).
 */
int message_parse(const void *data, size_t size, struct message_info *info_r,
		  const char **error_r);
void message_info_clear(struct message_info *info);

/* A BODY[section] request, parsed from the text between the brackets:
 * "" (whole message), "HEADER", "TEXT", "HEADER.FIELDS (A B)",
 * "HEADER.FIELDS.NOT (A)", "1.2", "1.2.MIME", "1.2.HEADER", "3.TEXT". */
enum message_section_kind {
	SECTION_ALL,       /* the whole part (or message) */
	SECTION_HEADER,    /* header of the message or message/rfc822 part */
	SECTION_TEXT,      /* body of the message or message/rfc822 part */
	SECTION_MIME,      /* MIME header of a part */
	SECTION_FIELDS,    /* HEADER.FIELDS */
	SECTION_FIELDS_NOT,
	SECTION_BODY,      /* a numbered part's content ("1.2") */
};

struct message_section {
	enum message_section_kind kind;
	char part[64];           /* "1.2", "" for the top level */
	char **fields;           /* HEADER.FIELDS names, upper-cased */
	size_t nfields;
};

/* Parses section text. Returns 0, or -1 with *error_r for syntax errors. */
int message_section_parse(const char *text, struct message_section *section_r,
			  const char **error_r);
void message_section_clear(struct message_section *section);

/* Where a section's bytes are in the raw message, from the part map
 * produced by message_parse. For SECTION_FIELDS/FIELDS_NOT the range is
 * the header block to filter with message_header_filter. A part number
 * that does not exist gives an empty range (IMAP returns "" for it), and
 * so do N.HEADER, N.TEXT and N.HEADER.FIELDS when part N is not
 * message/rfc822. encoding is the part's Content-Transfer-Encoding
 * (lower-case, "7bit" when absent), for BINARY; it is "7bit" for every
 * kind but SECTION_BODY. Returns 0, or -1 if the part map is corrupt. */
struct message_range {
	uint64_t offset;
	uint64_t length;
	char encoding[24];
	bool is_text;            /* text/... (BINARY of text may need no decoding) */
};
int message_section_find(const char *partmap, const struct message_section *section,
			 struct message_range *range_r);

/* Appends to out the header lines of hdr (a header block) whose names are
 * (not_ = false) or are not (not_ = true) in fields, then the blank line,
 * as RFC 3501 HEADER.FIELDS wants. */
void message_header_filter(const char *hdr, size_t len, char *const *fields, size_t nfields,
			   bool not_, struct evbuffer *out);

/* Decodes a part's content for BINARY (RFC 3516): base64 and
 * quoted-printable are decoded, 7bit/8bit/binary copied. Returns 0, or -1
 * for an unknown encoding (IMAP: NO [UNKNOWN-CTE]). */
int message_decode(const char *encoding, const void *data, size_t len, struct evbuffer *out);

/* Size of the decoded content without keeping it (BINARY.SIZE). */
int message_decoded_size(const char *encoding, const void *data, size_t len, uint64_t *size_r);

#endif
