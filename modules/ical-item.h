/* Groupware calendar objects: one VCALENDAR holding one event (VEVENT),
 * task (VTODO), journal entry or note (VJOURNAL) with its overrides (same
 * UID, RECURRENCE-ID) and the VTIMEZONEs it uses. Parsed with libical,
 * validated, and kept exactly as given: the stored text is the client's
 * bytes, never a re-serialisation.
 *
 * Notes: iCalendar has no note component. Floe stores a note as a
 * VJOURNAL; notes Floe creates carry "X-FLOE-KIND:note" so that they stay
 * notes wherever they are copied. A VJOURNAL parsed for a note folder
 * (ICAL_ITEM_NOTE expected) is a note with or without the marker; one
 * carrying the marker is refused where a journal entry is expected. */
#ifndef FLOE_ICAL_ITEM_H
#define FLOE_ICAL_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <libical/ical.h>

enum ical_item_kind {
	ICAL_ITEM_ANY = 0, /* only as the expected kind */
	ICAL_ITEM_EVENT,
	ICAL_ITEM_TASK,
	ICAL_ITEM_JOURNAL,
	ICAL_ITEM_NOTE,
};

/* Limits of ical_item_parse. */
#define ICAL_ITEM_MAX_SIZE      (4u * 1024 * 1024)
#define ICAL_ITEM_MAX_OVERRIDES 1000
#define ICAL_ITEM_MAX_DEPTH     8

struct ical_item {
	enum ical_item_kind kind;
	char *text; /* the object exactly as given, NUL-terminated */
	size_t len;
	icalcomponent *calendar;   /* the VCALENDAR (owned) */
	icalcomponent *master;     /* the component without RECURRENCE-ID, or NULL */
	icalcomponent **overrides; /* components with RECURRENCE-ID, in text order */
	size_t noverrides;
};

/* Parses and validates a VCALENDAR of len bytes. expect is the kind the
 * caller's folder holds (ICAL_ITEM_ANY: whatever it is). Returns the item,
 * or NULL with *error_r saying why (static buffer, valid until the next
 * call): bytes that are not UTF-8, control characters, BEGIN/END not
 * nested or not matching (with the line), anything outside the one
 * VCALENDAR, VERSION other than 2.0, no object or objects of different
 * kinds or UIDs, a component other than VTIMEZONE and the object's, a
 * missing UID, a missing DTSTART (events), DTEND or DUE before DTSTART,
 * DTEND/DUE together with DURATION, a negative DURATION, DATE mixed with
 * DATE-TIME, two masters or two overrides of one RECURRENCE-ID, a TZID
 * without its VTIMEZONE, an invalid RRULE or any value libical cannot
 * parse, the wrong kind, or more than the limits above. */
struct ical_item *ical_item_parse(const char *text, size_t len, enum ical_item_kind expect,
                                  const char **error_r);
void ical_item_free(struct ical_item **item);

/* "event", "task", "journal", "note" (the Kolab folder type names). */
const char *ical_item_kind_name(enum ical_item_kind kind);
/* The kind for a folder type name, ICAL_ITEM_ANY when none. */
enum ical_item_kind ical_item_kind_from_name(const char *name);

/* A DATE or DATE-TIME as a UTC instant: UTC and TZID times exactly (TZID
 * resolved against the item's VTIMEZONEs), dates and floating times as if
 * they were UTC (*floating_r true; may be NULL). */
time_t ical_item_utc(struct icaltimetype t, bool *floating_r);

struct ical_attendee {
	char *address;  /* "mailto:" removed */
	char *name;     /* CN, NULL when absent */
	char *partstat; /* upper case; NEEDS-ACTION when absent */
	char *role;     /* upper case; REQ-PARTICIPANT when absent */
};

/* What the store indexes. Times are UTC instants (see ical_item_utc). */
struct ical_item_index {
	enum ical_item_kind kind;
	char *uid, *summary, *location, *description;
	bool has_start, has_end;
	time_t start, end; /* first occurrence; end = start when none given */
	bool all_day;      /* DTSTART is a DATE */
	bool floating;     /* no time zone: a date or a floating time */
	char *rrule;       /* RRULE text of the master, NULL when none */
	bool recurring;    /* RRULE or RDATE */
	bool infinite;     /* recurs without end */
	time_t range_end;  /* end of the last occurrence, overrides included (if !infinite) */
	char *status;      /* upper case, NULL when absent */
	int percent;       /* PERCENT-COMPLETE, -1 when absent */
	bool has_completed, has_due;
	time_t completed, due;
	int priority;      /* 0 when absent */
	char *klass;       /* CLASS upper case, NULL when absent */
	bool is_private;   /* CLASS:PRIVATE */
	char **categories; /* NULL-terminated */
	size_t ncategories;
	char *organizer; /* "mailto:" removed */
	struct ical_attendee *attendees;
	size_t nattendees;
};

/* Fills idx_r from the master (or, without one, the first override). The
 * last occurrence comes from recurrence_bounds (modules/recurrence.h). */
void ical_item_index_get(const struct ical_item *item, struct ical_item_index *idx_r);
void ical_item_index_clear(struct ical_item_index *idx);

#endif
