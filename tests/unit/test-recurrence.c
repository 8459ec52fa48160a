/* Unit tests of modules/recurrence.c: expansion across DST changes
 * (Europe/Paris and America/New_York VTIMEZONEs), all-day events,
 * COUNT/UNTIL, EXDATE/RDATE, overrides moved and cancelled, windows,
 * bounds and the occurrence limit. */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recurrence.h"
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

#define NEW_YORK                                                                                   \
	"BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\n"                                             \
	"BEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\n"               \
	"DTSTART:20070311T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\n"     \
	"BEGIN:STANDARD\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\n"               \
	"DTSTART:20071104T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\n"    \
	"END:VTIMEZONE\r\n"

/* "20240329T080000" (UTC) as a time_t. */
static time_t
utc(const char *s)
{
	struct tm tm = {0};

	sscanf(s, "%4d%2d%2dT%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	       &tm.tm_min, &tm.tm_sec);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static struct ical_item *
parse(const char *text)
{
	const char *error = NULL;
	struct ical_item *item = ical_item_parse(text, strlen(text), ICAL_ITEM_ANY, &error);

	if (item == NULL)
		printf("# error: %s\n", error);
	return item;
}

/* Expands and compares the starts (UTC strings, NULL-terminated). */
static void
expect_starts(const struct ical_item *item, const char *from, const char *to,
              const char *const *want, const char *what)
{
	struct recurrence_occurrence *occ;
	size_t n, nwant = 0;
	bool truncated, same = true;

	while (want[nwant] != NULL)
		nwant++;
	recurrence_expand(item, utc(from), utc(to), 0, &occ, &n, &truncated);
	same = n == nwant && !truncated;
	for (size_t i = 0; same && i < n; i++)
		same = occ[i].start == utc(want[i]);
	ok(same, "%s", what);
	if (!same) {
		for (size_t i = 0; i < n; i++)
			printf("#   got %lld\n", (long long)occ[i].start);
		for (size_t i = 0; i < nwant; i++)
			printf("#   want %lld\n", (long long)utc(want[i]));
	}
	free(occ);
}

static void
test_dst(void)
{
	struct ical_item *item;
	struct recurrence_occurrence *occ;
	size_t n;

	/* 09:00 in Paris every day across the change to summer time. */
	item = parse(CAL(PARIS "BEGIN:VEVENT\r\nUID:p\r\n"
	                       "DTSTART;TZID=Europe/Paris:20240329T090000\r\n"
	                       "DTEND;TZID=Europe/Paris:20240329T100000\r\n"
	                       "RRULE:FREQ=DAILY\r\nEND:VEVENT\r\n"));
	expect_starts(item, "20240329T000000", "20240402T000000",
	              (const char *[]){"20240329T080000", "20240330T080000", "20240331T070000",
	                               "20240401T070000", NULL},
	              "Paris: 09:00 local is 08:00 UTC, then 07:00 UTC after the change");
	recurrence_expand(item, utc("20240331T000000"), utc("20240331T235959"), 0, &occ, &n, NULL);
	ok(n == 1 && occ[0].end - occ[0].start == 3600 && !occ[0].is_override &&
	       occ[0].recurrence_id == occ[0].start && occ[0].component == item->master,
	   "one hour, the master's instance");
	free(occ);
	/* Back to winter time in October. */
	expect_starts(item, "20241026T000000", "20241028T000000",
	              (const char *[]){"20241026T070000", "20241027T080000", NULL},
	              "Paris: back to 08:00 UTC on the last Sunday of October");
	ical_item_free(&item);

	/* Weekly in New York across the end of daylight saving time. */
	item = parse(CAL(NEW_YORK "BEGIN:VEVENT\r\nUID:ny\r\n"
	                          "DTSTART;TZID=America/New_York:20241021T100000\r\n"
	                          "DURATION:PT30M\r\nRRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4\r\n"
	                          "END:VEVENT\r\n"));
	expect_starts(item, "20241001T000000", "20250101T000000",
	              (const char *[]){"20241021T140000", "20241028T140000", "20241104T150000",
	                               "20241111T150000", NULL},
	              "New York: 10:00 EDT then 10:00 EST, COUNT=4");
	ical_item_free(&item);

	/* A nominal DURATION of one day spans 23 hours on the change day. */
	item = parse(CAL(PARIS "BEGIN:VEVENT\r\nUID:d\r\n"
	                       "DTSTART;TZID=Europe/Paris:20240330T120000\r\nDURATION:P1D\r\n"
	                       "END:VEVENT\r\n"));
	recurrence_expand(item, utc("20240301T000000"), utc("20240501T000000"), 0, &occ, &n, NULL);
	ok(n == 1 && occ[0].end - occ[0].start == 23 * 3600, "P1D is a calendar day (23 h)");
	free(occ);
	ical_item_free(&item);
}

static void
test_all_day_and_limits(void)
{
	struct ical_item *item;
	struct recurrence_occurrence *occ;
	size_t n;
	bool truncated;
	time_t end;
	bool infinite;

	/* A birthday every year, COUNT=3. */
	item = parse(CAL("BEGIN:VEVENT\r\nUID:b\r\nDTSTART;VALUE=DATE:20240229\r\n"
	                 "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1;COUNT=3\r\nEND:VEVENT\r\n"));
	expect_starts(
	    item, "20200101T000000", "20300101T000000",
	    (const char *[]){"20240229T000000", "20250228T000000", "20260228T000000", NULL},
	    "all-day yearly on the last day of February, COUNT=3");
	recurrence_expand(item, utc("20250228T120000"), utc("20250228T130000"), 0, &occ, &n, NULL);
	ok(n == 1 && occ[0].end - occ[0].start == 86400, "an all-day instance covers its day");
	free(occ);
	recurrence_bounds(item, &end, &infinite);
	ok(!infinite && end == utc("20260301T000000"), "bounds: end of the third instance");
	ical_item_free(&item);

	/* UNTIL (inclusive) */
	item = parse(CAL("BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20240101T100000Z\r\n"
	                 "RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20240107T100000Z\r\nEND:VEVENT\r\n"));
	expect_starts(item, "20231201T000000", "20240201T000000",
	              (const char *[]){"20240101T100000", "20240103T100000", "20240105T100000",
	                               "20240107T100000", NULL},
	              "UNTIL is inclusive");
	recurrence_bounds(item, &end, &infinite);
	ok(!infinite && end == utc("20240107T100000"), "bounds with UNTIL (zero length)");
	ical_item_free(&item);

	/* Window edges: overlap, not containment. */
	item = parse(CAL("BEGIN:VEVENT\r\nUID:w\r\nDTSTART:20240101T100000Z\r\n"
	                 "DTEND:20240101T120000Z\r\nEND:VEVENT\r\n"));
	expect_starts(item, "20240101T110000", "20240101T113000",
	              (const char *[]){"20240101T100000", NULL}, "overlapping the window's start");
	expect_starts(item, "20240101T120000", "20240101T130000", (const char *[]){NULL},
	              "ending at the window's start: outside");
	expect_starts(item, "20240101T090000", "20240101T100000", (const char *[]){NULL},
	              "starting at the window's end: outside");
	ical_item_free(&item);

	/* The occurrence limit, and an endless rule. */
	item = parse(CAL("BEGIN:VEVENT\r\nUID:l\r\nDTSTART:20240101T100000Z\r\n"
	                 "RRULE:FREQ=DAILY\r\nEND:VEVENT\r\n"));
	recurrence_expand(item, utc("20240101T000000"), utc("20250101T000000"), 5, &occ, &n,
	                  &truncated);
	ok(n == 5 && truncated && occ[4].start == utc("20240105T100000"), "max 5: truncated");
	free(occ);
	recurrence_expand(item, utc("19000101T000000"), utc("21000101T000000"), 0, &occ, &n,
	                  &truncated);
	ok(n == RECURRENCE_MAX_OCCURRENCES && truncated, "at most %d per call",
	   RECURRENCE_MAX_OCCURRENCES);
	free(occ);
	recurrence_bounds(item, &end, &infinite);
	ok(infinite, "endless rule: infinite");
	ical_item_free(&item);

	/* Floating time: as if UTC. */
	item = parse(CAL("BEGIN:VEVENT\r\nUID:f\r\nDTSTART:20240101T100000\r\n"
	                 "RRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT\r\n"));
	expect_starts(item, "20240101T000000", "20240201T000000",
	              (const char *[]){"20240101T100000", "20240102T100000", NULL},
	              "floating times count as UTC");
	ical_item_free(&item);
}

static void
test_exceptions(void)
{
	struct ical_item *item;
	struct recurrence_occurrence *occ;
	size_t n;
	time_t end;
	bool infinite;

	/* Daily x6 in Paris: 2nd cancelled by EXDATE, 3rd moved to the next
	 * week, 4th cancelled by a STATUS:CANCELLED override, an RDATE added
	 * (and one RDATE repeating an instance). */
	item = parse(
	    CAL(PARIS
	        "BEGIN:VEVENT\r\nUID:x\r\nDTSTART;TZID=Europe/Paris:20240603T090000\r\n"
	        "DTEND;TZID=Europe/Paris:20240603T100000\r\nRRULE:FREQ=DAILY;COUNT=6\r\n"
	        "EXDATE;TZID=Europe/Paris:20240604T090000\r\n"
	        "RDATE;TZID=Europe/Paris:20240610T180000,20240608T090000\r\nEND:VEVENT\r\n"
	        "BEGIN:VEVENT\r\nUID:x\r\nRECURRENCE-ID;TZID=Europe/Paris:20240605T090000\r\n"
	        "DTSTART;TZID=Europe/Paris:20240612T150000\r\n"
	        "DTEND;TZID=Europe/Paris:20240612T170000\r\nSUMMARY:moved\r\nEND:VEVENT\r\n"
	        "BEGIN:VEVENT\r\nUID:x\r\nRECURRENCE-ID;TZID=Europe/Paris:20240606T090000\r\n"
	        "DTSTART;TZID=Europe/Paris:20240606T090000\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n"));
	ok(item != NULL, "event with EXDATE, RDATE and overrides");
	expect_starts(item, "20240601T000000", "20240701T000000",
	              (const char *[]){"20240603T070000", "20240607T070000", "20240608T070000",
	                               "20240610T160000", "20240612T130000", NULL},
	              "exdate, moved, cancelled, rdate, duplicate rdate merged");
	recurrence_expand(item, utc("20240612T000000"), utc("20240613T000000"), 0, &occ, &n, NULL);
	ok(n == 1 && occ[0].is_override && occ[0].recurrence_id == utc("20240605T070000") &&
	       occ[0].end - occ[0].start == 7200 && occ[0].component == item->overrides[0],
	   "the moved instance: override, its recurrence id and length");
	free(occ);
	expect_starts(item, "20240605T000000", "20240606T000000", (const char *[]){NULL},
	              "nothing left at the moved instance's original time");
	recurrence_bounds(item, &end, &infinite);
	ok(!infinite && end == utc("20240612T150000"), "bounds include the moved override");
	ical_item_free(&item);

	/* EXDATE as a DATE excludes that day's instance. */
	item =
	    parse(CAL("BEGIN:VEVENT\r\nUID:e\r\nDTSTART:20240101T100000Z\r\n"
	              "RRULE:FREQ=DAILY;COUNT=3\r\nEXDATE;VALUE=DATE:20240102\r\nEND:VEVENT\r\n"));
	expect_starts(item, "20240101T000000", "20240201T000000",
	              (const char *[]){"20240101T100000", "20240103T100000", NULL},
	              "DATE exdate on a DATE-TIME rule");
	ical_item_free(&item);

	/* RDATE as a PERIOD. */
	item = parse(CAL("BEGIN:VEVENT\r\nUID:r\r\nDTSTART:20240101T100000Z\r\n"
	                 "DTEND:20240101T110000Z\r\n"
	                 "RDATE;VALUE=PERIOD:20240105T080000Z/PT3H\r\nEND:VEVENT\r\n"));
	recurrence_expand(item, utc("20240105T000000"), utc("20240106T000000"), 0, &occ, &n, NULL);
	ok(n == 1 && occ[0].start == utc("20240105T080000") && occ[0].end == utc("20240105T110000"),
	   "RDATE period with its own length");
	free(occ);
	ical_item_free(&item);
}

static void
test_far_window(void)
{
	/* Starting the rule near a far window must give what walking from
	 * DTSTART gives. */
	static const char *const rules[] = {
	    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH",
	    "FREQ=MONTHLY;BYDAY=-1FR",
	    "FREQ=DAILY;INTERVAL=3",
	    "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
	};
	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
		char text[2048];
		struct ical_item *item;
		struct recurrence_occurrence *all, *far;
		size_t nall, nfar, k = 0;
		time_t from = utc("20300105T000000"), to = utc("20310301T000000");
		bool same = true;

		snprintf(text, sizeof(text),
		         CAL(NEW_YORK "BEGIN:VEVENT\r\nUID:far\r\n"
		                      "DTSTART;TZID=America/New_York:20200107T083000\r\n"
		                      "DTEND;TZID=America/New_York:20200107T093000\r\nRRULE:%s\r\n"
		                      "END:VEVENT\r\n"),
		         rules[r]);
		item = parse(text);
		recurrence_expand(item, utc("20200101T000000"), to, 0, &all, &nall, NULL);
		recurrence_expand(item, from, to, 0, &far, &nfar, NULL);
		while (k < nall && all[k].start < from)
			k++;
		same = nfar > 0 && nall - k == nfar;
		for (size_t i = 0; same && i < nfar; i++)
			same = far[i].start == all[k + i].start;
		ok(same, "far window of %s: %zu occurrences as from DTSTART", rules[r], nfar);
		free(all);
		free(far);
		ical_item_free(&item);
	}
}

/* Rules with very many instances: the bounds an index computes at every
 * write stop after RECURRENCE_BOUNDS_STEPS instances (UNTIL: an upper
 * bound; COUNT: endless), and an expansion after RECURRENCE_MAX_STEPS. */
static void
test_step_limits(void)
{
	struct recurrence_occurrence *occ;
	struct ical_item *item;
	bool infinite, truncated;
	time_t end;
	size_t n;

	item = parse(CAL("BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20240101T000000Z\r\n"
	                 "DTEND:20240101T000010Z\r\nRRULE:FREQ=SECONDLY;UNTIL=20991231T000000Z\r\n"
	                 "END:VEVENT\r\n"));
	recurrence_bounds(item, &end, &infinite);
	ok(!infinite && end >= utc("20991231T000010") && end <= utc("21000105T000000"),
	   "UNTIL rule past the step limit: an upper bound near UNTIL");
	ical_item_free(&item);

	item = parse(CAL("BEGIN:VEVENT\r\nUID:c\r\nDTSTART:20240101T000000Z\r\n"
	                 "RRULE:FREQ=SECONDLY;COUNT=999999\r\nEND:VEVENT\r\n"));
	recurrence_bounds(item, &end, &infinite);
	ok(infinite, "COUNT rule past the step limit: endless for the index");
	recurrence_expand(item, utc("20240201T000000"), utc("20240202T000000"), 0, &occ, &n,
	                  &truncated);
	ok(n == 0 && truncated && occ == NULL, "expansion gives up after %d instances and says so",
	   RECURRENCE_MAX_STEPS);
	free(occ);
	recurrence_expand(item, utc("20240101T000000"), utc("20240101T000100"), 0, &occ, &n,
	                  &truncated);
	ok(n == 60 && !truncated && occ[59].start == utc("20240101T000059"),
	   "the first minute is complete");
	free(occ);
	ical_item_free(&item);

	item = parse(CAL("BEGIN:VEVENT\r\nUID:d\r\nDTSTART:20240101T100000Z\r\n"
	                 "RRULE:FREQ=DAILY;COUNT=1500\r\nEND:VEVENT\r\n"));
	recurrence_bounds(item, &end, &infinite);
	ok(!infinite && end == utc("20280208T100000"), "COUNT=1500 daily: exact last instance");
	ical_item_free(&item);
}

int
main(void)
{
	test_dst();
	test_all_day_and_limits();
	test_exceptions();
	test_far_window();
	test_step_limits();
	return done_testing();
}
