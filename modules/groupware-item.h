/* Groupware items in their IMAP form (IceWarp's reuse of the Kolab item
 * shape): one MIME message per object, Subject = the object's UID, a short
 * human-readable text part, the object as a text/calendar (events, tasks,
 * notes, journal entries) or text/vcard (contacts, distribution lists)
 * part, X-Kolab-Type naming the type (in the message header and on the
 * object part), and the object's attachments as further parts.
 *
 * Built messages are deterministic (same input, same bytes) and keep the
 * object byte for byte: the object part is 8bit when its lines are CRLF
 * and at most 998 octets, else base64. Parsing takes whatever a client
 * sends in that spirit: the object part is the text/calendar or text/vcard
 * (text/x-vcard, text/directory) part, preferably one with X-Kolab-Type;
 * the Subject is not checked against the UID.
 *
 * Files (folder type file) have the same shape without an object part:
 * Subject = the file's UID, X-Kolab-Type: application/x-vnd.kolab.file (in
 * the message header, required), a short text part, and the file itself
 * as exactly one attachment part (Content-Disposition attachment with a
 * filename; RFC 2231 and encoded-word names are decoded to UTF-8; any
 * Content-Transfer-Encoding of RFC 2045). Parts of type
 * application/vnd.kolab+xml (Kolab's own description of a file) are not
 * the file and are ignored. */
#ifndef FLOE_GROUPWARE_ITEM_H
#define FLOE_GROUPWARE_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ical-item.h"
#include "store-groupware.h"
#include "vcard.h"

enum groupware_type {
	GROUPWARE_EVENT,
	GROUPWARE_TASK,
	GROUPWARE_NOTE,
	GROUPWARE_JOURNAL,
	GROUPWARE_CONTACT,
	GROUPWARE_DISTLIST,
	GROUPWARE_FILE,
};

/* "application/x-vnd.kolab.event", ... ".distribution-list". */
const char *groupware_type_kolab(enum groupware_type type);
/* The folder type that holds it: event, task, note, journal, contact,
 * file. */
const char *groupware_type_folder(enum groupware_type type);
/* The index kind: event, task, note, journal, contact, distlist, file. */
const char *groupware_type_kind(enum groupware_type type);
/* Parses an X-Kolab-Type value (case-insensitive); -1 when unknown. */
int groupware_type_from_kolab(const char *value, enum groupware_type *type_r);

struct groupware_attachment {
	const char *filename;     /* UTF-8; NULL: none */
	const char *content_type; /* "type/subtype"; NULL: application/octet-stream */
	const void *data;
	size_t size;
};

struct groupware_build {
	enum groupware_type type;
	const char *object; /* iCalendar or vCard text, validated here */
	size_t object_len;
	const char *from; /* the owner's address for From:, NULL to leave out */
	time_t date;      /* Date:, 0 for now */
	const struct groupware_attachment *attachments;
	size_t nattachments;
};

/* Builds the MIME message (CRLF line ends). Returns it (NUL-terminated,
 * *len_r bytes; the caller frees) or NULL with *error_r when the object is
 * invalid for the type (the parser's reason), an attachment's content type
 * is malformed or a name or address holds control characters. Not for
 * files (GROUPWARE_FILE is refused): see groupware_file_build. */
char *groupware_item_build(const struct groupware_build *build, size_t *len_r,
                           const char **error_r);

/* Limits of file items: the UID (Subject) and the file name, in bytes. */
#define GROUPWARE_FILE_UID_MAX  255
#define GROUPWARE_FILE_NAME_MAX 255

struct groupware_file_build {
	const char *uid;        /* the item's UID (Subject) */
	const char *filename;   /* UTF-8 */
	const char *media_type; /* "type/subtype"; NULL: application/octet-stream */
	const void *data;       /* the file's bytes */
	size_t size;
	const char *from; /* the owner's address for From:, NULL to leave out */
	time_t date;      /* Date:, 0 for now */
};

/* Builds a file item (the form described at the top; the file part is
 * base64). Deterministic like groupware_item_build. Returns the message
 * (NUL-terminated, *len_r bytes; the caller frees) or NULL with *error_r
 * when the UID or the file name breaks the rules groupware_item_parse
 * applies, the media type is malformed or From holds control or non-ASCII
 * characters. */
char *groupware_file_build(const struct groupware_file_build *build, size_t *len_r,
                           const char **error_r);

/* Checks a file name: 1 to GROUPWARE_FILE_NAME_MAX bytes of UTF-8, no '/',
 * no control character (C0, DEL, C1), not "." or "..". Returns 0, or -1
 * with *error_r (static text). */
int groupware_file_name_check(const char *name, const char **error_r);

/* What a file item's index holds besides its UID. */
struct groupware_file_info {
	char *uid;        /* the Subject, decoded and trimmed */
	char *filename;   /* decoded, UTF-8 */
	char *media_type; /* lower case type/subtype of the file part */
	uint64_t size;    /* decoded size */
	char sha256[65];  /* SHA-256 of the decoded bytes, lower-case hex */
};

/* Called with the decoded file, in pieces; returns 0, or -1 to stop. */
typedef int groupware_file_write_fn(const void *data, size_t len, void *ctx);

/* Parses and validates a file item (as groupware_item_parse with folder
 * type file) and passes its decoded bytes to write in pieces, without
 * holding the file in memory. Returns 0 with *info_r filled (free with
 * groupware_file_info_clear), or -1 with *error_r (static or valid until
 * the next call). On a decoding error or when write stops, write may
 * already have seen part of the file. */
int groupware_file_decode(const void *data, size_t len, groupware_file_write_fn *write, void *ctx,
                          struct groupware_file_info *info_r, const char **error_r);
void groupware_file_info_clear(struct groupware_file_info *info);

struct groupware_part {
	char *filename;      /* NULL when none */
	char *content_type;  /* lower case type/subtype */
	unsigned char *data; /* decoded */
	size_t size;
};

/* A parsed item. index points into the item and is ready for
 * store_groupware_append. */
struct groupware_item {
	enum groupware_type type;
	/* the object part's decoded bytes, NUL-terminated; NULL for files,
	 * whose bytes are not kept (see file and groupware_file_decode) */
	char *object;
	size_t object_len;
	struct ical_item *ical; /* calendar types */
	struct vcard *card;     /* contacts and distribution lists */
	struct groupware_part *attachments;
	size_t nattachments;
	struct store_gw_index index;
	/* storage behind index */
	struct ical_item_index ical_index;
	struct vcard_index card_index;
	struct store_gw_attendee *attendees;
	struct groupware_file_info file; /* files */
};

/* Limits of groupware_item_parse. */
#define GROUPWARE_MAX_ATTACHMENTS 100

/* Parses a message (e.g. from IMAP APPEND) and validates its object.
 * folder_type is the type of the folder it goes to ("event", ...,
 * "contact", "file"), or NULL to accept any type. Returns NULL with
 * *error_r (static or valid until the next call) when there is no object
 * part, X-Kolab-Type is unknown or disagrees with the object or the
 * folder, the object part's charset is not UTF-8, the object is invalid
 * (the parser's reason), or there are more than GROUPWARE_MAX_ATTACHMENTS
 * attachments.
 *
 * A file item (folder type file, or X-Kolab-Type naming a file) is
 * refused when X-Kolab-Type is missing or names another type, the Subject
 * (its UID) is missing, empty, longer than GROUPWARE_FILE_UID_MAX bytes or
 * holds control characters, there is no file part or more than one, the
 * file part has no name or its name breaks groupware_file_name_check, the
 * transfer encoding is unknown or the body does not decode. The file is
 * decoded once to measure and hash it; only item->file is kept. */
struct groupware_item *groupware_item_parse(const void *data, size_t len, const char *folder_type,
                                            const char **error_r);
void groupware_item_free(struct groupware_item **item);

#endif
