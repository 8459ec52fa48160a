/* modules/message-private.h: the MIME tree that message_parse builds over
 * the raw bytes, shared by message.c (scanner, part map, decoded fields),
 * message-imap.c (ENVELOPE, BODYSTRUCTURE) and message-text.c (text). */
#ifndef FLOE_MESSAGE_PRIVATE_H
#define FLOE_MESSAGE_PRIVATE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message.h"

enum mnode_kind {
	MNODE_LEAF,
	MNODE_MULTIPART,
	MNODE_MESSAGE, /* message/rfc822: children[0] is the inner message */
};

/* The header fields the tree keeps (first occurrence of each). */
enum mhdr {
	MH_CONTENT_TYPE,
	MH_CONTENT_TRANSFER_ENCODING,
	MH_CONTENT_ID,
	MH_CONTENT_DESCRIPTION,
	MH_CONTENT_MD5,
	MH_CONTENT_DISPOSITION,
	MH_CONTENT_LANGUAGE,
	MH_CONTENT_LOCATION,
	MH_DATE,
	MH_SUBJECT,
	MH_FROM,
	MH_SENDER,
	MH_REPLY_TO,
	MH_TO,
	MH_CC,
	MH_BCC,
	MH_IN_REPLY_TO,
	MH_MESSAGE_ID,
	MH_REFERENCES,
	MH_COUNT
};

struct mparam {
	char *name;  /* upper-cased; RFC 2231 continuations merged */
	char *value; /* quotes removed, valid UTF-8 */
};

/* One entity: the whole message, a part, or the message inside a
 * message/rfc822 part. Offsets are into the raw message; [hdr_start,
 * hdr_end) includes the blank line, body_start == hdr_end. All strings
 * are g_malloc'd, valid UTF-8 without NUL or line breaks. */
struct mnode {
	enum mnode_kind kind;
	uint64_t hdr_start, hdr_end, body_start, body_end;
	char *hdr[MH_COUNT];  /* unfolded values, NULL when absent */
	char *type, *subtype; /* lower-case */
	struct mparam *params;
	size_t nparams;
	char *encoding;    /* lower-case token, "7bit" when absent */
	char *disposition; /* lower-case, NULL when absent */
	struct mparam *disp_params;
	size_t ndisp_params;
	struct mnode **children;
	size_t nchildren;
};

/* An address from an address-list header, raw (encoded words kept), as
 * IMAP ENVELOPE wants it. group_start: name is NULL, mailbox is the group
 * name, host NULL; group_end: everything NULL. */
struct maddr {
	char *name, *adl, *mailbox, *host;
	bool group_start, group_end;
};

/* One header field in a header block: [start, end) is the whole field
 * with its continuation lines and final line break; the name is
 * [start, start + name_len) (0 for a line without a colon), the raw value
 * [value_start, value_end) without the final line break. */
struct mfield {
	size_t start, name_len, value_start, value_end, end;
};

/* message.c */
void message_gmime_init(void);
/* GMime's parse of a whole message held in memory (GMime initialised on
 * first use); NULL when GMime finds no message. The caller unrefs. */
struct _GMimeMessage *message_gmime_parse(const void *data, size_t size);
/* Reads the field at *pos (a line start) of the header block ending at
 * end and advances *pos; false at the end or at the blank line. */
bool message_field_next(const char *d, size_t *pos, size_t end, struct mfield *f);
/* The value unfolded (line breaks and NULs removed, outer white space
 * trimmed), as valid UTF-8. */
char *message_field_value(const char *d, const struct mfield *f);

/* message-syntax.c */
struct maddr *message_addr_parse(const char *value, size_t *count_r);
void message_addr_free(struct maddr *addrs, size_t count);
void message_content_type_parse(struct mnode *node, const char *value, bool digest_parent);
void message_disposition_parse(struct mnode *node, const char *value);
const char *message_param_get(const struct mparam *params, size_t n, const char *name);
/* Skips white space and comments. */
const char *message_skip_cfws(const char *p);

/* message-imap.c */
void message_imap_string(GString *out, const char *s);
void message_imap_envelope(GString *out, const struct mnode *msg);
void message_imap_body(GString *out, const char *data, const struct mnode *node, bool extended);
uint64_t message_count_lines(const char *data, uint64_t start, uint64_t end);

/* message-text.c */
/* Decodes a Content-Transfer-Encoding (base64, quoted-printable; 7bit,
 * 8bit, binary and "" are copied), handing the output to emit in pieces.
 * Returns -1 for any other encoding. */
int message_decode_chunks(const char *encoding, const char *data, size_t len,
                          void (*emit)(void *ctx, const char *buf, size_t n), void *ctx);
char *message_clean_utf8(const char *s, size_t len);
char *message_base_subject(const char *subject);
void message_html_to_text(GString *out, const char *html, size_t len);
/* Appends the decoded text of the text/plain and text/html leaves below
 * node to out (capped at max bytes); *preview_r gets a newly allocated
 * copy of the first body text (plain preferred), or stays NULL. */
void message_collect_text(GString *out, size_t max, const char *data, const struct mnode *node,
                          char **preview_r);
char *message_preview(const char *text, size_t max_chars);
/* The fields message_parse derives from the header (see message.h); the
 * strings are malloc'd (xstrdup), never NULL. */
char *message_addr_text(const char *raw);
void message_sort_keys(const char *raw, char **sort_r, char **display_r);
char *message_msgids(const char *raw, bool first_only, bool keep_raw);
char *message_headers_text(const char *d, const struct mnode *root);
bool message_has_attachment(const struct mnode *node);

/* search_text and headers_text are capped at this many bytes. */
#define MESSAGE_TEXT_MAX (1024 * 1024)

#endif
