/* Internals shared by the parser (groupware-item.c) and the builder
 * (groupware-item-build.c) of the Kolab-style item form. Not for other
 * modules. */
#ifndef FLOE_GROUPWARE_ITEM_PRIVATE_H
#define FLOE_GROUPWARE_ITEM_PRIVATE_H

#include <stdbool.h>

#include <gmime/gmime.h>

#include "groupware-item.h"

#define GROUPWARE_NTYPES 7

/* Per type: the X-Kolab-Type value, the folder type that holds it, the
 * index kind, and the name used in texts. */
struct groupware_type_info {
	const char *kolab, *folder, *kind, *label;
};

extern const struct groupware_type_info groupware_types[GROUPWARE_NTYPES];

/* Formats an error message into a static buffer (valid until the next
 * call) and returns it. */
const char *groupware_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Events, tasks, notes and journal entries (iCalendar), not cards. */
bool groupware_is_calendar(enum groupware_type type);
/* The ical-item kind of a calendar type (ICAL_ITEM_ANY for cards). */
enum ical_item_kind groupware_ical_kind(enum groupware_type type);

/* GMime, initialized once per process. */
void groupware_gmime_init(void);
/* Parses data (not copied: it must outlive the message) as a MIME message;
 * NULL when it is not one. */
GMimeMessage *groupware_mime_open(const void *data, size_t len);
/* A part with Content-Disposition attachment or a file name. */
bool groupware_is_attachment(GMimePart *part);
/* The file item behind msg (groupware-item-file.c): fills item->type,
 * item->index and item->file, or returns the reason it is refused.
 * folder_type as for groupware_item_parse. */
const char *groupware_file_parse_msg(struct groupware_item *item, GMimeMessage *msg,
                                     const char *folder_type);
/* "a" or "an" before a type's label. */
const char *groupware_article(enum groupware_type type);

#endif
