/* Internet messages as ActiveSync shows them (MS-ASEMAIL, MS-ASAIRS):
 * the decoded header fields of the Email class, the plain-text and HTML
 * bodies (each made from the other when the message has only one), the
 * attachments with their part numbers (for FileReferences), byte-exact
 * truncation on UTF-8 boundaries and previews; and the messages SendMail,
 * SmartReply, SmartForward and draft Adds produce (modules/message-eas-
 * compose.c). Everything works on raw bytes in memory with GMime and
 * never fails on malformed MIME: it shows what it can. */
#ifndef FLOE_MESSAGE_EAS_H
#define FLOE_MESSAGE_EAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Attachment methods (MS-ASAIRS Method). */
#define MESSAGE_EAS_METHOD_NORMAL   1
#define MESSAGE_EAS_METHOD_EMBEDDED 5 /* an attached message (message/rfc822) */

struct message_eas_attachment {
	char *part;              /* IMAP section number: "2", "1.3" */
	char *display_name;      /* decoded file name, or one made up from the type */
	char *content_type;      /* lower-case "type/subtype" */
	char *content_id;        /* without the angle brackets, or NULL */
	char *content_location;  /* or NULL */
	bool is_inline;          /* shown inside the HTML body (cid:) */
	unsigned method;         /* MESSAGE_EAS_METHOD_* */
	uint64_t estimated_size; /* decoded size (estimated from the encoded size) */
};

struct message_eas {
	/* Decoded, valid UTF-8, never NULL ("" when absent). Address lists
	 * are RFC 5322 text ("Name" <a@b>, c@d). */
	char *from, *to, *cc, *reply_to, *subject, *thread_topic, *display_to;
	char *message_id;    /* with angle brackets, "" when absent */
	char *message_class; /* "IPM.Note", "IPM.Note.SMIME", "IPM.Note.SMIME.MultipartSigned" */
	unsigned importance; /* 0 low, 1 normal, 2 high */
	time_t date;         /* Date:, -1 when absent or unparseable */
	/* Bodies: text always (from the HTML part when there is no plain
	 * one), html always (the text escaped when there is no HTML part). */
	char *text;
	char *html;
	unsigned native_type; /* 1 plain text, 2 HTML */
	struct message_eas_attachment *attachments;
	size_t nattachments;
};

/* Parses a raw message. Fails only for empty input (*error_r static). */
int message_eas_parse(const void *data, size_t size, struct message_eas *info_r,
                      const char **error_r);
/* Frees the strings; accepts a zeroed struct. */
void message_eas_clear(struct message_eas *info);

/* The length of the longest prefix of text[0..len) of at most max bytes
 * that ends on a UTF-8 character boundary (len when it fits). */
size_t message_eas_truncate(const char *text, size_t len, size_t max);

/* Up to max_chars characters of text with white space collapsed and
 * control characters removed; newly allocated. */
char *message_eas_preview(const char *text, size_t max_chars);

/* The content of part (a section number from the attachment list) of a
 * raw message, transfer-decoded; a message/rfc822 part is given whole.
 * *data_r is newly allocated (free()), *content_type_r too (may be
 * NULL-ed by passing NULL). Returns 0, or -1 when the part does not
 * exist. */
int message_eas_part(const void *data, size_t size, const char *part, unsigned char **data_r,
                     size_t *len_r, char **content_type_r);

/* ---------------------------------------------------------------------
 * Composing (message-eas-compose.c)
 */

/* The envelope of a message a client submits: the addresses of To, Cc
 * and Bcc (each once, in order), and the From address ("" when absent).
 * Strings are newly allocated; free with message_eas_strv_free. */
int message_eas_envelope(const void *data, size_t size, char ***rcpts_r, size_t *count_r,
                         char **from_r, const char **error_r);
void message_eas_strv_free(char **v, size_t count);

/* The message as it should travel: Bcc removed, From added (from_header,
 * e.g. "\"Name\" <a@b>") when missing, Date and Message-ID added when
 * missing, CRLF line ends. *out_r is newly allocated (free()). */
int message_eas_prepare(const void *data, size_t size, const char *from_header, char **out_r,
                        size_t *len_r, const char **error_r);

/* SmartReply / SmartForward: the client's new message combined with the
 * original. With include_original (ReplaceMime absent) the original's
 * text is appended below the new text, after a header block (From, Sent,
 * To, Cc, Subject), in the plain and the HTML body. With forward, the
 * original's attachments are attached to the new message. The result
 * (CRLF line ends) is newly allocated. */
int message_eas_smart(const void *newmsg, size_t newlen, const void *orig, size_t origlen,
                      bool forward, bool include_original, char **out_r, size_t *len_r,
                      const char **error_r);

/* A draft (Sync Add of an e-mail in Drafts, 16.x): a message built from
 * the Email fields. Any may be NULL; body_type 1 (text) or 2 (HTML). */
struct message_eas_draft {
	const char *from, *to, *cc, *bcc, *subject;
	unsigned importance; /* 0, 1, 2 */
	const char *body;
	unsigned body_type;
	time_t date; /* 0: now */
};
char *message_eas_draft(const struct message_eas_draft *draft, size_t *len_r);

#endif
