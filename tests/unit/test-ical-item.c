/* Unit tests of modules/ical-item.c: valid events, tasks, journal entries
 * and notes (with overrides and VTIMEZONEs), the text kept byte for byte,
 * the index, and every class of refusal. */
#include <stdlib.h>
#include <string.h>

#include "ical-item.h"
#include "tap.h"

#define CAL(body)                                                                                  \
	"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Floe//test//EN\r\n" body "END:VCALENDAR\r\n"

#define PARIS                                                                                      \
	"BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n"                                                 \
	"BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"              \
	"DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"    \
	"BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"               \
	"DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"   \
	"END:VTIMEZONE\r\n"

static struct ical_item *
parse(const char *text, enum ical_item_kind expect)
{
	const char *error = NULL;
	struct ical_item *item = ical_item_parse(text, strlen(text), expect, &error);

	if (item == NULL)
		printf("# error: %s\n", error);
	return item;
}

static void
refused(const char *text, enum ical_item_kind expect, const char *want, const char *what)
{
	const char *error = NULL;
	struct ical_item *item = ical_item_parse(text, strlen(text), expect, &error);

	ok(item == NULL, "%s: refused", what);
	ok(error != NULL && strstr(error, want) != NULL, "%s: \"%s\" says \"%s\"", what,
	   error != NULL ? error : "(none)", want);
	ical_item_free(&item);
}

static void
test_event(void)
{
	const char *text =
	    CAL(PARIS "BEGIN:VEVENT\r\nUID:ev-1@example.com\r\nDTSTAMP:20240301T120000Z\r\n"
	              "DTSTART;TZID=Europe/Paris:20240325T100000\r\n"
	              "DTEND;TZID=Europe/Paris:20240325T113000\r\n"
	              "SUMMARY:Weekly sync\\, room 4\r\nLOCATION:Room 4\r\nCLASS:private\r\n"
	              "CATEGORIES:Work,Meetings\r\nCATEGORIES:Blue\r\nSTATUS:confirmed\r\n"
	              "ORGANIZER;CN=Ann:mailto:ann@example.com\r\n"
	              "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:bob@example.com\r\n"
	              "ATTENDEE:MAILTO:carl@example.com\r\n"
	              "RRULE:FREQ=WEEKLY;COUNT=4\r\nX-UNKNOWN-PROP;X-P=1:kept\r\n"
	              "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:x\r\n"
	              "END:VALARM\r\nEND:VEVENT\r\n"
	              "BEGIN:VEVENT\r\nUID:ev-1@example.com\r\nDTSTAMP:20240301T120000Z\r\n"
	              "RECURRENCE-ID;TZID=Europe/Paris:20240408T100000\r\n"
	              "DTSTART;TZID=Europe/Paris:20240409T140000\r\n"
	              "DTEND;TZID=Europe/Paris:20240409T150000\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n");
	struct ical_item *item = parse(text, ICAL_ITEM_EVENT);
	struct ical_item_index idx;

	ok(item != NULL, "event with VTIMEZONE, VALARM and an override parses");
	if (item == NULL)
		return;
	is_int(item->kind, ICAL_ITEM_EVENT, "kind event");
	ok(item->len == strlen(text) && strcmp(item->text, text) == 0, "text kept byte for byte");
	ok(item->master != NULL && item->noverrides == 1, "master and one override");
	ical_item_index_get(item, &idx);
	is_str(idx.uid, "ev-1@example.com", "uid");
	is_str(idx.summary, "Weekly sync, room 4", "summary unescaped");
	is_str(idx.location, "Room 4", "location");
	/* 10:00 CET (UTC+1) on 2024-03-25 = 09:00 UTC = 1711357200 */
	ok(idx.has_start && idx.start == 1711357200, "start in UTC: %lld", (long long)idx.start);
	ok(idx.has_end && idx.end == 1711357200 + 5400, "end in UTC");
	ok(!idx.all_day && !idx.floating, "neither all-day nor floating");
	is_str(idx.rrule, "FREQ=WEEKLY;COUNT=4", "rrule text");
	ok(idx.recurring && !idx.infinite, "recurring, finite");
	/* Last: 2024-04-15 10:00 CEST (UTC+2) = 08:00 UTC, +1h30. The override
	 * moved the 04-08 instance to 04-09, which is not later. */
	ok(idx.range_end == 1713168000 + 5400, "range end is the last instance's end: %lld",
	   (long long)idx.range_end);
	is_str(idx.status, "CONFIRMED", "status upper case");
	ok(idx.is_private && strcmp(idx.klass, "PRIVATE") == 0, "CLASS:private is private");
	ok(idx.ncategories == 3 && strcmp(idx.categories[1], "Meetings") == 0 &&
	       strcmp(idx.categories[2], "Blue") == 0,
	   "categories from two properties");
	is_str(idx.organizer, "ann@example.com", "organizer without mailto:");
	ok(idx.nattendees == 2, "two attendees");
	if (idx.nattendees == 2) {
		is_str(idx.attendees[0].address, "bob@example.com", "attendee address");
		is_str(idx.attendees[0].name, "Bob", "attendee CN");
		is_str(idx.attendees[0].partstat, "ACCEPTED", "attendee partstat");
		is_str(idx.attendees[0].role, "CHAIR", "attendee role");
		is_str(idx.attendees[1].address, "carl@example.com", "MAILTO: removed");
		is_str(idx.attendees[1].partstat, "NEEDS-ACTION", "default partstat");
		is_str(idx.attendees[1].role, "REQ-PARTICIPANT", "default role");
	}
	ical_item_index_clear(&idx);
	ical_item_free(&item);
	ok(item == NULL, "free clears the pointer");
}

static void
test_kinds(void)
{
	struct ical_item *item;
	struct ical_item_index idx;

	/* All-day event without DTEND: one day. */
	item = parse(CAL("BEGIN:VEVENT\r\nUID:d1\r\nDTSTART;VALUE=DATE:20240229\r\n"
	                 "SUMMARY:Leap\r\nEND:VEVENT\r\n"),
	             ICAL_ITEM_ANY);
	ok(item != NULL, "all-day event");
	ical_item_index_get(item, &idx);
	ok(idx.all_day && idx.floating && idx.start == 1709164800 && idx.end == 1709251200,
	   "all-day: a UTC day, floating");
	ok(!idx.recurring && idx.range_end == idx.end, "single: range end = end");
	ical_item_index_clear(&idx);
	ical_item_free(&item);

	/* Floating time with DURATION. */
	item = parse(CAL("BEGIN:VEVENT\r\nUID:f1\r\nDTSTART:20240102T090000\r\nDURATION:PT45M\r\n"
	                 "RRULE:FREQ=DAILY\r\nEND:VEVENT\r\n"),
	             ICAL_ITEM_EVENT);
	ical_item_index_get(item, &idx);
	ok(idx.floating && !idx.all_day && idx.end - idx.start == 2700, "floating, 45 minutes");
	ok(idx.infinite, "endless rule");
	ical_item_index_clear(&idx);
	ical_item_free(&item);

	/* Task */
	item = parse(CAL("BEGIN:VTODO\r\nUID:t1\r\nSUMMARY:File taxes\r\nDUE:20240415T220000Z\r\n"
	                 "STATUS:IN-PROCESS\r\nPERCENT-COMPLETE:40\r\nPRIORITY:1\r\n"
	                 "COMPLETED:20240410T080000Z\r\nEND:VTODO\r\n"),
	             ICAL_ITEM_TASK);
	ok(item != NULL && item->kind == ICAL_ITEM_TASK, "task");
	ical_item_index_get(item, &idx);
	ok(!idx.has_start && idx.has_due && idx.due == 1713218400, "due");
	ok(idx.percent == 40 && idx.priority == 1 && idx.has_completed &&
	       idx.completed == 1712736000,
	   "percent, priority, completed");
	is_str(idx.status, "IN-PROCESS", "task status");
	ical_item_index_clear(&idx);
	ical_item_free(&item);

	/* Journal and notes */
	item = parse(CAL("BEGIN:VJOURNAL\r\nUID:j1\r\nDTSTART;VALUE=DATE:20240101\r\n"
	                 "DESCRIPTION:Dear diary\r\nEND:VJOURNAL\r\n"),
	             ICAL_ITEM_ANY);
	ok(item != NULL && item->kind == ICAL_ITEM_JOURNAL, "journal entry");
	ical_item_free(&item);
	item = parse(CAL("BEGIN:VJOURNAL\r\nUID:n1\r\nX-FLOE-KIND:note\r\nSUMMARY:Milk\r\n"
	                 "END:VJOURNAL\r\n"),
	             ICAL_ITEM_ANY);
	ok(item != NULL && item->kind == ICAL_ITEM_NOTE,
	   "VJOURNAL with X-FLOE-KIND:note is a note");
	ical_item_index_get(item, &idx);
	ok(!idx.has_start && !idx.has_end && strcmp(idx.summary, "Milk") == 0, "note index");
	ical_item_index_clear(&idx);
	ical_item_free(&item);
	item = parse(CAL("BEGIN:VJOURNAL\r\nUID:n2\r\nSUMMARY:Eggs\r\nEND:VJOURNAL\r\n"),
	             ICAL_ITEM_NOTE);
	ok(item != NULL && item->kind == ICAL_ITEM_NOTE, "plain VJOURNAL in a note folder");
	ical_item_free(&item);
	refused(CAL("BEGIN:VJOURNAL\r\nUID:n1\r\nX-FLOE-KIND:note\r\nEND:VJOURNAL\r\n"),
	        ICAL_ITEM_JOURNAL, "the object is a note, the folder holds journals",
	        "note into a journal folder");
	refused(CAL("BEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\n"), ICAL_ITEM_EVENT,
	        "the object is a task, the folder holds events", "task into an event folder");

	/* Only overrides, no master (an invitation to one instance). */
	item = parse(CAL("BEGIN:VEVENT\r\nUID:o1\r\nRECURRENCE-ID:20240105T100000Z\r\n"
	                 "DTSTART:20240105T110000Z\r\nEND:VEVENT\r\n"),
	             ICAL_ITEM_EVENT);
	ok(item != NULL && item->master == NULL && item->noverrides == 1, "override only");
	ical_item_index_get(item, &idx);
	is_int(idx.start, 1704452400, "override-only index uses the override");
	ical_item_index_clear(&idx);
	ical_item_free(&item);

	/* An unregistered property name is kept (RFC 5545 3.7). */
	item = parse(CAL("BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20240101T000000Z\r\nFOO:bar\r\n"
	                 "END:VEVENT\r\n"),
	             ICAL_ITEM_EVENT);
	ok(item != NULL && strstr(item->text, "FOO:bar") != NULL, "iana property kept");
	ical_item_free(&item);

	is_str(ical_item_kind_name(ICAL_ITEM_NOTE), "note", "kind name");
	is_int(ical_item_kind_from_name("task"), ICAL_ITEM_TASK, "kind from name");
	is_int(ical_item_kind_from_name("contact"), ICAL_ITEM_ANY, "contact is no calendar kind");
}

static void
test_refusals(void)
{
	const char *error;

	ok(ical_item_parse("", 0, ICAL_ITEM_ANY, &error) == NULL, "empty refused");
	refused("BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n", ICAL_ITEM_ANY,
	        "line 1: expected BEGIN:VCALENDAR", "no VCALENDAR");
	refused("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\n"
	        "DTSTART:20240101T000000Z\r\nEND:VEVENT\r\n",
	        ICAL_ITEM_ANY, "END:VCALENDAR missing", "missing END");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T000000Z\r\nEND:VTODO\r\n"),
	        ICAL_ITEM_ANY, "line 7: END:VTODO does not match BEGIN:VEVENT", "mismatched END");
	refused(CAL("") CAL(""), ICAL_ITEM_ANY, "line 5: content after END:VCALENDAR",
	        "two calendars");
	refused(CAL("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), ICAL_ITEM_ANY,
	        "line 4: nested BEGIN:VCALENDAR", "nested calendar");
	refused(CAL("BEGIN:VEVENT\r\nUID x\r\nEND:VEVENT\r\n"), ICAL_ITEM_ANY,
	        "line 5: ':' missing after UID", "no colon");
	refused(CAL("BEGIN:VEVENT\r\nUID;X-A=\"abc:x\r\nEND:VEVENT\r\n"), ICAL_ITEM_ANY,
	        "line 5: unterminated quoted parameter value", "unterminated quote");
	refused(CAL("BEGIN:VEVENT\r\nSUMMARY:caf\xc3\r\nEND:VEVENT\r\n"), ICAL_ITEM_ANY,
	        "line 5: invalid UTF-8", "bad encoding");
	refused(CAL("BEGIN:VEVENT\r\nSUMMARY:a\001\r\nEND:VEVENT\r\n"), ICAL_ITEM_ANY,
	        "line 5: control character", "control character");
	refused("BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nUID:x\r\n"
	        "DTSTART:20240101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
	        ICAL_ITEM_ANY, "unsupported VERSION \"1.0\"", "vCalendar 1.0");
	refused("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T000000Z\r\n"
	        "END:VEVENT\r\nEND:VCALENDAR\r\n",
	        ICAL_ITEM_ANY, "VERSION missing", "no VERSION");
	refused(CAL(""), ICAL_ITEM_ANY, "no VEVENT, VTODO or VJOURNAL", "empty calendar");
	refused(CAL("BEGIN:VEVENT\r\nDTSTART:20240101T000000Z\r\nEND:VEVENT\r\n"), ICAL_ITEM_ANY,
	        "VEVENT without UID", "missing UID");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nSUMMARY:y\r\nEND:VEVENT\r\n"), ICAL_ITEM_ANY,
	        "VEVENT without DTSTART", "missing DTSTART");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\n"
	            "DTEND:20240101T090000Z\r\nEND:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "VEVENT: DTEND is before DTSTART", "DTEND before DTSTART");
	refused(CAL("BEGIN:VTODO\r\nUID:x\r\nDTSTART:20240101T100000Z\r\n"
	            "DUE:20231231T090000Z\r\nEND:VTODO\r\n"),
	        ICAL_ITEM_ANY, "VTODO: DUE is before DTSTART", "DUE before DTSTART");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART;VALUE=DATE:20240101\r\n"
	            "DTEND:20240102T090000Z\r\nEND:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "mix DATE and DATE-TIME", "DATE with DATE-TIME");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\n"
	            "DTEND:20240101T110000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "both DTEND and DURATION", "DTEND and DURATION");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\nDURATION:-PT1H\r\n"
	            "END:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "negative DURATION", "negative duration");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\n"
	            "BEGIN:VEVENT\r\nUID:y\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "mixed UIDs \"x\" and \"y\"", "mixed UIDs");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\n"
	            "BEGIN:VTODO\r\nUID:x\r\nEND:VTODO\r\n"),
	        ICAL_ITEM_ANY, "mixed component types VEVENT and VTODO", "mixed kinds");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\n"
	            "BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240102T100000Z\r\nEND:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "two VEVENT without RECURRENCE-ID", "two masters");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\nRRULE:FREQ=DAILY\r\n"
	            "END:VEVENT\r\nBEGIN:VEVENT\r\nUID:x\r\nRECURRENCE-ID:20240102T100000Z\r\n"
	            "DTSTART:20240102T110000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:x\r\n"
	            "RECURRENCE-ID:20240102T100000Z\r\nDTSTART:20240102T120000Z\r\nEND:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "two overrides of RECURRENCE-ID", "duplicate override");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART;TZID=Mars/Olympus:20240101T100000\r\n"
	            "END:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "unknown TZID \"Mars/Olympus\" in DTSTART",
	        "TZID without VTIMEZONE");
	refused(CAL(PARIS "BEGIN:VEVENT\r\nUID:x\r\nDTSTART;TZID=Europe/Paris:20240101T100000\r\n"
	                  "EXDATE;TZID=Europe/Berlin:20240102T100000\r\nEND:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "unknown TZID \"Europe/Berlin\" in EXDATE", "EXDATE TZID unknown");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\n"
	            "RRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "RRULE", "invalid RRULE");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\n"
	            "RRULE:FREQ=DAILY;COUNT=3;UNTIL=20240301T000000Z\r\nEND:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "RRULE", "RRULE with COUNT and UNTIL");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:2024010\r\nEND:VEVENT\r\n"), ICAL_ITEM_ANY,
	        "DTSTART", "unparseable DTSTART");
	refused(CAL("BEGIN:VFREEBUSY\r\nUID:x\r\nEND:VFREEBUSY\r\n"), ICAL_ITEM_ANY,
	        "unsupported component VFREEBUSY", "other component");
	refused(CAL("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\n"
	            "RRULE:FREQ=DAILY\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n"),
	        ICAL_ITEM_ANY, "more than one RRULE", "two RRULEs");
}

int
main(void)
{
	test_event();
	test_kinds();
	test_refusals();
	return done_testing();
}
