/* Recurrence expansion of a calendar item (modules/ical-item.h): the
 * master's DTSTART, RRULE and RDATEs minus its EXDATEs, in the master's
 * VTIMEZONE (wall-clock times kept across DST changes), with overrides
 * (RECURRENCE-ID) replacing the instances they name, over a window, for
 * free/busy, EAS filters and the index's last occurrence.
 *
 * Times are UTC instants; dates and floating times count as UTC
 * (ical_item_utc). Durations: DTEND/DUE give an exact length for every
 * instance (RFC 5545 3.8.5.3), a DURATION in days or weeks is added in
 * wall-clock time, no end means a day for a DATE and zero otherwise.
 * Overrides with STATUS:CANCELLED remove their instance; RANGE=
 * THISANDFUTURE is treated as an override of the one instance. */
#ifndef FLOE_RECURRENCE_H
#define FLOE_RECURRENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "ical-item.h"

/* At most this many occurrences per call; the rule iterator gives up
 * after RECURRENCE_MAX_STEPS instances (then the result is truncated).
 * libical spends some 20-30 microseconds per instance (its calendar
 * arithmetic goes through ICU), so these bound the time one call can hold
 * a worker: about half a second for an expansion, some 50 milliseconds
 * for the bounds an index needs at every write. */
#define RECURRENCE_MAX_OCCURRENCES 10000
#define RECURRENCE_MAX_STEPS       20000
#define RECURRENCE_BOUNDS_STEPS    2000

struct recurrence_occurrence {
	time_t start, end;
	time_t recurrence_id;     /* the instance's original start */
	icalcomponent *component; /* the master, or the override that replaces it */
	bool is_override;
};

/* The occurrences that overlap [from, to) (start < to and end > from; a
 * zero-length one when from <= start < to), sorted by start, at most max
 * (0 or more than RECURRENCE_MAX_OCCURRENCES: RECURRENCE_MAX_OCCURRENCES).
 * *occ_r is allocated (the caller frees; NULL when none); *truncated_r
 * (may be NULL) says whether more occurrences exist in the window. */
void recurrence_expand(const struct ical_item *item, time_t from, time_t to, size_t max,
                       struct recurrence_occurrence **occ_r, size_t *count_r, bool *truncated_r);

/* The end of the last occurrence, overrides included (*infinite_r when
 * the rule has neither COUNT nor UNTIL, or COUNT and more than
 * RECURRENCE_BOUNDS_STEPS instances; *end_r is then the end of the first
 * occurrence). A rule with UNTIL and more instances than that gives an
 * upper bound instead: a day after the instance that would start at
 * UNTIL ends (or the last override's end, if later). */
void recurrence_bounds(const struct ical_item *item, time_t *end_r, bool *infinite_r);

/* The start and end of the first occurrence: the master's (or, without
 * one, the first override's) DTSTART and its DTEND, DUE or DURATION.
 * Without DTSTART, *start_r is left alone and *end_r set to it. */
void recurrence_first_end(const struct ical_item *item, time_t *start_r, time_t *end_r);

#endif
