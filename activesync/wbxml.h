/* WBXML (MS-ASWBXML) for ActiveSync: a decoder that turns a request body
 * into a small tree, a writer that streams a response into an evbuffer, the
 * 26 code pages with their tag names, and an XML rendering for the
 * protocol log and the tests.
 *
 * Tags are 16-bit numbers: code page in the high byte, token (0x05..0x3F)
 * in the low byte. activesync/wbxml-tags.h names every tag of every page
 * as EAS_<PAGE>_<TAG> in upper case without separators inside names, e.g.
 * EAS_AIRSYNC_SYNCKEY (page 0, 0x0B), EAS_FOLDERHIERARCHY_FOLDERSYNC,
 * EAS_AIRSYNCBASE_BODYPREFERENCE, EAS_EMAIL_SUBJECT, EAS_PING_HEARTBEATINTERVAL;
 * pages are EAS_PAGE_<PAGE> (EAS_PAGE_AIRSYNC = 0 ... EAS_PAGE_FIND = 25). */
#ifndef FLOE_WBXML_H
#define FLOE_WBXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wbxml-tags.h"

struct evbuffer;

#define WBXML_TAG(page, token) ((uint16_t)(((page) << 8) | (token)))
#define WBXML_TAG_PAGE(tag) ((uint8_t)((tag) >> 8))
#define WBXML_TAG_TOKEN(tag) ((uint8_t)((tag) & 0xff))

/* Limits the decoder enforces (a request over them is malformed). */
#define WBXML_MAX_DEPTH 64
#define WBXML_MAX_NODES 200000

/* ---------------------------------------------------------------------
 * Decoding
 */

struct wbxml_node {
	uint16_t tag;
	struct wbxml_node *parent, *first_child, *last_child, *next;
	/* Content: the STR_I strings and OPAQUE data directly inside the
	 * element, concatenated, with a NUL after the last byte (so text is
	 * usable as a C string; opaque data may contain NULs: use len). NULL
	 * and 0 for an element without content or with element children only. */
	const unsigned char *data;
	size_t len;
	bool opaque;   /* some content came as OPAQUE */
	bool has_content; /* the tag had the content bit (0x40) */
};

struct wbxml_doc;

/* Decodes a whole document (version 1.3, public id 1 (unknown), charset
 * UTF-8 (106), empty string table, as MS-ASWBXML requires). Rejects: a
 * wrong header, an unknown code page or token, attributes, an
 * unbalanced END, truncated data, a string table reference, entities,
 * processing instructions, nesting over WBXML_MAX_DEPTH, more than
 * WBXML_MAX_NODES elements, text that is not valid UTF-8 inside STR_I.
 * Returns 0 and *doc_r, or -1 with *error_r (a static or doc-independent
 * message naming the offset, e.g. "WBXML: unknown token 0x3e in code page
 * 13 at byte 42"; the pointer stays valid until the next call in this
 * thread). */
int wbxml_decode(const void *data, size_t len, struct wbxml_doc **doc_r, const char **error_r);
const struct wbxml_node *wbxml_doc_root(const struct wbxml_doc *doc);
void wbxml_doc_free(struct wbxml_doc **doc);

/* The first child of n with tag, or NULL (n may be NULL). */
const struct wbxml_node *wbxml_child(const struct wbxml_node *n, uint16_t tag);
/* The next sibling of n with tag (iterating children of one tag). */
const struct wbxml_node *wbxml_next(const struct wbxml_node *n, uint16_t tag);
/* The text content of n ("" for an element without content), or NULL when
 * n is NULL. */
const char *wbxml_text(const struct wbxml_node *n);
/* wbxml_text(wbxml_child(n, tag)). */
const char *wbxml_child_text(const struct wbxml_node *n, uint16_t tag);
/* Parses the child's text as a decimal unsigned number. Returns 0, 1 when
 * the child is absent (*value_r untouched), -1 when it is not a number. */
int wbxml_child_uint(const struct wbxml_node *n, uint16_t tag, uint64_t *value_r);

/* ---------------------------------------------------------------------
 * Writing (streamed: every call appends to the evbuffer at once)
 */

struct wbxml_writer;

/* Starts a document in out (writes the header 03 01 6A 00). */
struct wbxml_writer *wbxml_writer_new(struct evbuffer *out);
/* Opens an element that will have content; close it with wbxml_end. */
void wbxml_start(struct wbxml_writer *w, uint16_t tag);
void wbxml_end(struct wbxml_writer *w);
/* An element without content (<Tag/>). */
void wbxml_empty(struct wbxml_writer *w, uint16_t tag);
/* <tag>text</tag> as STR_I (text must not contain NUL). */
void wbxml_string(struct wbxml_writer *w, uint16_t tag, const char *text);
void wbxml_stringn(struct wbxml_writer *w, uint16_t tag, const char *text, size_t len);
void wbxml_stringf(struct wbxml_writer *w, uint16_t tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void wbxml_uint(struct wbxml_writer *w, uint16_t tag, uint64_t value);
/* <tag>OPAQUE(data)</tag> */
void wbxml_opaque(struct wbxml_writer *w, uint16_t tag, const void *data, size_t len);
/* For content written in pieces: inside an open element, appends STR_I
 * text or OPAQUE data (e.g. a body streamed from a blob in chunks; one
 * OPAQUE needs its length first, so opaque_begin announces it). */
void wbxml_text_append(struct wbxml_writer *w, const char *text, size_t len);
void wbxml_opaque_begin(struct wbxml_writer *w, size_t total_len);
void wbxml_opaque_data(struct wbxml_writer *w, const void *data, size_t len);
/* Current nesting depth (0 at top level). */
unsigned wbxml_writer_depth(const struct wbxml_writer *w);
/* Frees the writer; returns 0 when every element was closed and the
 * calls were well-formed, else -1 (a programming error, logged). Sets *w
 * to NULL. */
int wbxml_writer_finish(struct wbxml_writer **w);
/* Frees the writer of a document that is being thrown away after an error
 * (what it wrote stays in the evbuffer: discard that too). Accepts NULL;
 * sets *w to NULL. */
void wbxml_writer_abort(struct wbxml_writer **w);

/* ---------------------------------------------------------------------
 * Names and XML
 */

/* "AirSync", ..., or NULL for a page that does not exist. */
const char *wbxml_page_name(uint8_t page);
/* The tag's name ("SyncKey"), or NULL when unknown. */
const char *wbxml_tag_name(uint16_t tag);
/* Looks a tag up by page and name (case-sensitive). Returns the tag or 0
 * when unknown (no real tag is 0: tokens start at 0x05). */
uint16_t wbxml_tag_lookup(const char *page_name, const char *tag_name);

enum wbxml_xml_flags {
	WBXML_XML_INDENT = 1 << 0,
	/* Replace the content of secrets (Provision/Settings passwords,
	 * Settings:Password, ComposeMail:Mime, AirSyncBase:Data, Email:Body,
	 * ItemOperations:Data, opaque data) with "[elided N bytes]". */
	WBXML_XML_ELIDE = 1 << 1,
};

/* Renders the tree as XML text (namespaces as xmlns:page attributes on
 * the root like libwbxml2, text escaped, opaque data base64-encoded).
 * Appends to out. */
void wbxml_to_xml(const struct wbxml_node *root, unsigned flags, struct evbuffer *out);

/* Parses XML in the shape wbxml_to_xml writes (elements named by their
 * page's namespace prefix or a default xmlns) and writes WBXML into out.
 * For tests and tools only. Returns 0 or -1 with *error_r (static). */
int wbxml_from_xml(const char *xml, size_t len, struct evbuffer *out, const char **error_r);

#endif
