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
 * the Subject is not checked against the UID. */
#ifndef FLOE_GROUPWARE_ITEM_H
#define FLOE_GROUPWARE_ITEM_H

#include <stdbool.h>
#include <stddef.h>
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
};

/* "application/x-vnd.kolab.event", ... ".distribution-list". */
const char *groupware_type_kolab(enum groupware_type type);
/* The folder type that holds it: event, task, note, journal, contact. */
const char *groupware_type_folder(enum groupware_type type);
/* The index kind: event, task, note, journal, contact, distlist. */
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
 * is malformed or a name or address holds control characters. */
char *groupware_item_build(const struct groupware_build *build, size_t *len_r,
                           const char **error_r);

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
	char *object; /* the object part's decoded bytes, NUL-terminated */
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
};

/* Limits of groupware_item_parse. */
#define GROUPWARE_MAX_ATTACHMENTS 100

/* Parses a message (e.g. from IMAP APPEND) and validates its object.
 * folder_type is the type of the folder it goes to ("event", ...,
 * "contact"), or NULL to accept any type. Returns NULL with *error_r
 * (static or valid until the next call) when there is no object part,
 * X-Kolab-Type is unknown or disagrees with the object or the folder, the
 * object part's charset is not UTF-8, the object is invalid (the parser's
 * reason), or there are more than GROUPWARE_MAX_ATTACHMENTS attachments. */
struct groupware_item *groupware_item_parse(const void *data, size_t len, const char *folder_type,
                                            const char **error_r);
void groupware_item_free(struct groupware_item **item);

#endif
