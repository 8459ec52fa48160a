/* Calendar objects of the groupware store: a line-level check of the text
 * (encoding, BEGIN/END nesting, property syntax, with line numbers), then
 * libical for the values and the semantic rules, and the index the store
 * keeps beside each item. */
#include "ical-item.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "recurrence.h"
#include "utf8.h"
#include "xmalloc.h"

static char errbuf[320];

static const char *__attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return errbuf;
}

const char *
ical_item_kind_name(enum ical_item_kind kind)
{
	switch (kind) {
	case ICAL_ITEM_EVENT:
		return "event";
	case ICAL_ITEM_TASK:
		return "task";
	case ICAL_ITEM_JOURNAL:
		return "journal";
	case ICAL_ITEM_NOTE:
		return "note";
	case ICAL_ITEM_ANY:
		break;
	}
	return "any";
}

enum ical_item_kind
ical_item_kind_from_name(const char *name)
{
	static const enum ical_item_kind kinds[] = {ICAL_ITEM_EVENT, ICAL_ITEM_TASK,
	                                            ICAL_ITEM_JOURNAL, ICAL_ITEM_NOTE};

	for (size_t i = 0; name != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(name, ical_item_kind_name(kinds[i])) == 0)
			return kinds[i];
	}
	return ICAL_ITEM_ANY;
}

/* --- The line-level check --- */

struct scan {
	char stack[ICAL_ITEM_MAX_DEPTH][32];
	int depth;
	bool done; /* the VCALENDAR ended */
};

static bool
is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* One unfolded content line. */
static const char *
scan_line(struct scan *sc, const char *line, size_t len, unsigned lineno)
{
	size_t i = 0, name_len;
	const char *value;
	size_t vlen;

	while (i < len && is_name_char(line[i]))
		i++;
	name_len = i;
	if (name_len == 0)
		return fail("line %u: property name missing or invalid", lineno);
	if (sc->done)
		return fail("line %u: content after END:VCALENDAR (one calendar per object)",
		            lineno);
	while (i < len && line[i] == ';') {
		size_t start = ++i;

		while (i < len && is_name_char(line[i]))
			i++;
		if (i == start || i == len || line[i] != '=')
			return fail("line %u: malformed parameter in %.*s", lineno, (int)name_len,
			            line);
		i++;
		for (;;) {
			if (i < len && line[i] == '"') {
				i++;
				while (i < len && line[i] != '"')
					i++;
				if (i == len)
					return fail("line %u: unterminated quoted parameter value "
					            "in %.*s",
					            lineno, (int)name_len, line);
				i++;
			} else {
				while (i < len && line[i] != ',' && line[i] != ';' &&
				       line[i] != ':' && line[i] != '"')
					i++;
				if (i < len && line[i] == '"')
					return fail("line %u: '\"' inside an unquoted parameter "
					            "value in %.*s",
					            lineno, (int)name_len, line);
			}
			if (i < len && line[i] == ',') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i == len || line[i] != ':')
		return fail("line %u: ':' missing after %.*s", lineno, (int)name_len, line);
	value = line + i + 1;
	vlen = len - i - 1;
	if (name_len == 5 && strncasecmp(line, "BEGIN", 5) == 0) {
		if (sc->depth == 0 && (vlen != 9 || strncasecmp(value, "VCALENDAR", 9) != 0))
			return fail("line %u: expected BEGIN:VCALENDAR", lineno);
		if (sc->depth > 0 && vlen == 9 && strncasecmp(value, "VCALENDAR", 9) == 0)
			return fail("line %u: nested BEGIN:VCALENDAR", lineno);
		if (sc->depth == ICAL_ITEM_MAX_DEPTH)
			return fail("line %u: components nested deeper than %d", lineno,
			            ICAL_ITEM_MAX_DEPTH);
		if (vlen == 0 || vlen >= sizeof(sc->stack[0]))
			return fail("line %u: invalid component name", lineno);
		memcpy(sc->stack[sc->depth], value, vlen);
		sc->stack[sc->depth++][vlen] = '\0';
	} else if (name_len == 3 && strncasecmp(line, "END", 3) == 0) {
		if (sc->depth == 0)
			return fail("line %u: END without BEGIN", lineno);
		if (strlen(sc->stack[sc->depth - 1]) != vlen ||
		    strncasecmp(sc->stack[sc->depth - 1], value, vlen) != 0)
			return fail("line %u: END:%.*s does not match BEGIN:%s", lineno,
			            (int)(vlen > 40 ? 40 : vlen), value, sc->stack[sc->depth - 1]);
		if (--sc->depth == 0)
			sc->done = true;
	} else if (sc->depth == 0) {
		return fail("line %u: expected BEGIN:VCALENDAR", lineno);
	}
	return NULL;
}

/* Checks encoding, folding and nesting of the whole text. */
static const char *
scan_text(const char *text, size_t len)
{
	struct scan sc = {.depth = 0};
	char *buf = NULL;
	size_t buflen = 0, bufcap = 0, i = 0, seq;
	unsigned lineno = 1, start_line = 0;
	const char *error = NULL;

	while (i <= len) {
		size_t start = i, end;

		while (i < len && text[i] != '\n') {
			unsigned char c = (unsigned char)text[i];

			if (c == '\r' && i + 1 < len && text[i + 1] == '\n') {
				i++;
				continue;
			}
			if (c == '\r') {
				error = fail("line %u: bare carriage return", lineno);
				goto out;
			}
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				error = fail("line %u: control character", lineno);
				goto out;
			}
			seq = utf8_seq((const unsigned char *)text + i, len - i, NULL);
			if (seq == 0) {
				error = fail("line %u: invalid UTF-8", lineno);
				goto out;
			}
			i += seq;
		}
		end = i;
		if (end > start && text[end - 1] == '\r')
			end--;
		if (end > start && (text[start] == ' ' || text[start] == '\t') && start_line > 0) {
			start++;
		} else {
			if (start_line > 0) {
				error = scan_line(&sc, buf, buflen, start_line);
				if (error != NULL)
					goto out;
			}
			buflen = 0;
			start_line = end > start ? lineno : 0;
			if (end > start && (text[start] == ' ' || text[start] == '\t')) {
				error =
				    fail("line %u: continuation line without a line to continue",
				         lineno);
				goto out;
			}
		}
		if (buflen + (end - start) + 1 > bufcap) {
			bufcap = (buflen + (end - start) + 1) * 2;
			buf = xrealloc(buf, bufcap);
		}
		memcpy(buf + buflen, text + start, end - start);
		buflen += end - start;
		lineno++;
		i++; /* the LF, or past the end */
	}
	if (start_line > 0) {
		error = scan_line(&sc, buf, buflen, start_line);
		if (error != NULL)
			goto out;
	}
	if (!sc.done)
		error = sc.depth == 0 ? fail("expected BEGIN:VCALENDAR")
		                      : fail("END:%s missing at the end of the input",
		                             sc.stack[sc.depth - 1]);
out:
	free(buf);
	return error;
}

/* --- Semantic checks --- */

static const char *
lic_error(icalcomponent *comp)
{
	icalproperty *p;
	icalcomponent *c;
	const char *error;

	for (p = icalcomponent_get_first_property(comp, ICAL_XLICERROR_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(comp, ICAL_XLICERROR_PROPERTY)) {
		const char *text = icalproperty_get_xlicerror(p);

		/* An unregistered (iana-token) property name: kept as given,
		 * RFC 5545 3.7 allows it. */
		if (text != NULL && strncmp(text, "Parse error in property name", 28) == 0)
			continue;
		return fail("%s: %s", icalcomponent_kind_to_string(icalcomponent_isa(comp)),
		            text != NULL ? text : "unparseable value");
	}
	for (c = icalcomponent_get_first_component(comp, ICAL_ANY_COMPONENT); c != NULL;
	     c = icalcomponent_get_next_component(comp, ICAL_ANY_COMPONENT)) {
		if ((error = lic_error(c)) != NULL)
			return error;
	}
	return NULL;
}

static int
prop_count(icalcomponent *comp, icalproperty_kind kind)
{
	return icalcomponent_count_properties(comp, kind);
}

/* The time of the first property of kind in comp, TZID resolved. */
static bool
prop_time(icalcomponent *comp, icalproperty_kind kind, struct icaltimetype *t_r)
{
	icalproperty *p = icalcomponent_get_first_property(comp, kind);

	if (p == NULL)
		return false;
	*t_r = icalproperty_get_datetime_with_component(p, comp);
	return !icaltime_is_null_time(*t_r);
}

time_t
ical_item_utc(struct icaltimetype t, bool *floating_r)
{
	bool floating = t.is_date || (!icaltime_is_utc(t) && t.zone == NULL);

	if (floating_r != NULL)
		*floating_r = floating;
	if (t.is_date) {
		t.hour = t.minute = t.second = 0;
		t.is_date = 0;
	}
	if (floating || icaltime_is_utc(t))
		return icaltime_as_timet(t);
	return icaltime_as_timet_with_zone(t, t.zone);
}

/* Every TZID parameter names a VTIMEZONE of the calendar. */
static const char *
check_tzids(icalcomponent *cal, icalcomponent *comp)
{
	icalproperty *p;
	icalparameter *param;

	for (p = icalcomponent_get_first_property(comp, ICAL_ANY_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(comp, ICAL_ANY_PROPERTY)) {
		param = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
		if (param == NULL)
			continue;
		if (icalcomponent_get_timezone(cal, icalparameter_get_tzid(param)) == NULL)
			return fail("unknown TZID \"%.60s\" in %s (no VTIMEZONE for it)",
			            icalparameter_get_tzid(param),
			            icalproperty_kind_to_string(icalproperty_isa(p)));
	}
	return NULL;
}

/* The rules for one VEVENT, VTODO or VJOURNAL. */
static const char *
check_object(icalcomponent *cal, icalcomponent *comp)
{
	icalcomponent_kind kind = icalcomponent_isa(comp);
	const char *name = icalcomponent_kind_to_string(kind);
	icalproperty_kind end_kind =
	    kind == ICAL_VTODO_COMPONENT ? ICAL_DUE_PROPERTY : ICAL_DTEND_PROPERTY;
	const char *end_name = kind == ICAL_VTODO_COMPONENT ? "DUE" : "DTEND";
	struct icaltimetype start, end;
	bool has_start, has_end;
	const char *error;

	if (prop_count(comp, ICAL_UID_PROPERTY) == 0)
		return fail("%s without UID", name);
	if (prop_count(comp, ICAL_UID_PROPERTY) > 1)
		return fail("%s with more than one UID", name);
	if (prop_count(comp, ICAL_DTSTART_PROPERTY) > 1 || prop_count(comp, end_kind) > 1 ||
	    prop_count(comp, ICAL_DURATION_PROPERTY) > 1 ||
	    prop_count(comp, ICAL_RECURRENCEID_PROPERTY) > 1)
		return fail("%s with a repeated DTSTART, %s, DURATION or RECURRENCE-ID", name,
		            end_name);
	if (prop_count(comp, ICAL_RRULE_PROPERTY) > 1)
		return fail("%s with more than one RRULE", name);
	has_start = prop_time(comp, ICAL_DTSTART_PROPERTY, &start);
	if (kind == ICAL_VEVENT_COMPONENT && !has_start)
		return fail("VEVENT without DTSTART");
	if ((error = check_tzids(cal, comp)) != NULL)
		return error;
	has_end = prop_time(comp, end_kind, &end);
	if (kind == ICAL_VJOURNAL_COMPONENT)
		return NULL;
	if (has_end && prop_count(comp, ICAL_DURATION_PROPERTY) > 0)
		return fail("%s with both %s and DURATION", name, end_name);
	if (prop_count(comp, ICAL_DURATION_PROPERTY) > 0) {
		struct icaldurationtype d = icalproperty_get_duration(
		    icalcomponent_get_first_property(comp, ICAL_DURATION_PROPERTY));

		if (d.is_neg)
			return fail("%s with a negative DURATION", name);
		if (!has_start)
			return fail("%s with DURATION but without DTSTART", name);
	}
	if (has_start && has_end) {
		if (start.is_date != end.is_date)
			return fail("%s: DTSTART and %s mix DATE and DATE-TIME", name, end_name);
		if (ical_item_utc(end, NULL) < ical_item_utc(start, NULL))
			return fail("%s: %s is before DTSTART", name, end_name);
		if (start.is_date && kind == ICAL_VEVENT_COMPONENT &&
		    ical_item_utc(end, NULL) == ical_item_utc(start, NULL))
			return fail("%s: DTEND equals the DATE of DTSTART (it is exclusive)", name);
	}
	if (prop_count(comp, ICAL_RRULE_PROPERTY) > 0 && !has_start)
		return fail("%s with RRULE but without DTSTART", name);
	return NULL;
}

static bool
is_note(icalcomponent *comp)
{
	icalproperty *p;

	for (p = icalcomponent_get_first_property(comp, ICAL_X_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(comp, ICAL_X_PROPERTY)) {
		const char *name = icalproperty_get_x_name(p);
		const char *value = icalproperty_get_value_as_string(p);

		if (name != NULL && strcasecmp(name, "X-FLOE-KIND") == 0 && value != NULL &&
		    strcasecmp(value, "note") == 0)
			return true;
	}
	return false;
}

/* Finds the objects, checks their kinds, UIDs and recurrence ids. */
static const char *
collect_objects(struct ical_item *item, enum ical_item_kind expect)
{
	icalcomponent *cal = item->calendar, *c;
	icalcomponent_kind okind = ICAL_NO_COMPONENT;
	const char *uid = NULL, *error;
	size_t nobjects = 0;

	for (c = icalcomponent_get_first_component(cal, ICAL_ANY_COMPONENT); c != NULL;
	     c = icalcomponent_get_next_component(cal, ICAL_ANY_COMPONENT)) {
		icalcomponent_kind k = icalcomponent_isa(c);

		if (k == ICAL_VTIMEZONE_COMPONENT)
			continue;
		if (k != ICAL_VEVENT_COMPONENT && k != ICAL_VTODO_COMPONENT &&
		    k != ICAL_VJOURNAL_COMPONENT)
			return fail("unsupported component %s in a groupware object",
			            icalcomponent_kind_to_string(k));
		if (okind != ICAL_NO_COMPONENT && k != okind)
			return fail("mixed component types %s and %s",
			            icalcomponent_kind_to_string(okind),
			            icalcomponent_kind_to_string(k));
		okind = k;
		if ((error = check_object(cal, c)) != NULL)
			return error;
		if (uid != NULL && strcmp(uid, icalcomponent_get_uid(c)) != 0)
			return fail("mixed UIDs \"%.60s\" and \"%.60s\"", uid,
			            icalcomponent_get_uid(c));
		uid = icalcomponent_get_uid(c);
		if (++nobjects > ICAL_ITEM_MAX_OVERRIDES + 1)
			return fail("more than %d overrides", ICAL_ITEM_MAX_OVERRIDES);
		if (icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY) == NULL) {
			if (item->master != NULL)
				return fail("two %s without RECURRENCE-ID",
				            icalcomponent_kind_to_string(k));
			item->master = c;
			continue;
		}
		item->overrides =
		    xreallocarray(item->overrides, item->noverrides + 1, sizeof(*item->overrides));
		item->overrides[item->noverrides++] = c;
	}
	if (nobjects == 0)
		return fail("no VEVENT, VTODO or VJOURNAL in the calendar");
	if (uid == NULL || *uid == '\0')
		return fail("empty UID");
	for (size_t i = 0; i < item->noverrides; i++) {
		struct icaltimetype a, b;

		prop_time(item->overrides[i], ICAL_RECURRENCEID_PROPERTY, &a);
		for (size_t k = 0; k < i; k++) {
			prop_time(item->overrides[k], ICAL_RECURRENCEID_PROPERTY, &b);
			if (ical_item_utc(a, NULL) == ical_item_utc(b, NULL))
				return fail("two overrides of RECURRENCE-ID %s",
				            icaltime_as_ical_string(a));
		}
	}
	switch (okind) {
	case ICAL_VEVENT_COMPONENT:
		item->kind = ICAL_ITEM_EVENT;
		break;
	case ICAL_VTODO_COMPONENT:
		item->kind = ICAL_ITEM_TASK;
		break;
	default:
		c = item->master != NULL ? item->master : item->overrides[0];
		item->kind =
		    is_note(c) || expect == ICAL_ITEM_NOTE ? ICAL_ITEM_NOTE : ICAL_ITEM_JOURNAL;
		break;
	}
	if (expect != ICAL_ITEM_ANY && expect != item->kind)
		return fail("the object is a%s %s, the folder holds %ss",
		            item->kind == ICAL_ITEM_EVENT ? "n" : "",
		            ical_item_kind_name(item->kind), ical_item_kind_name(expect));
	return NULL;
}

struct ical_item *
ical_item_parse(const char *text, size_t len, enum ical_item_kind expect, const char **error_r)
{
	struct ical_item *item;
	icalproperty *version;
	const char *error;

	if (text == NULL || len == 0) {
		*error_r = fail("empty calendar object");
		return NULL;
	}
	if (len > ICAL_ITEM_MAX_SIZE) {
		*error_r = fail("calendar object larger than %u bytes", ICAL_ITEM_MAX_SIZE);
		return NULL;
	}
	if ((error = scan_text(text, len)) != NULL) {
		*error_r = error;
		return NULL;
	}
	/* Values libical cannot parse become X-LIC-ERROR properties, checked
	 * below; they must never abort the process. */
	icalerror_set_errors_are_fatal(0);
	item = xcalloc(1, sizeof(*item));
	item->text = xstrndup(text, len);
	item->len = len;
	item->calendar = icalparser_parse_string(item->text);
	icalerror_clear_errno();
	if (item->calendar == NULL ||
	    icalcomponent_isa(item->calendar) != ICAL_VCALENDAR_COMPONENT) {
		error = fail("not an iCalendar object");
		goto fail;
	}
	if ((error = lic_error(item->calendar)) != NULL)
		goto fail;
	version = icalcomponent_get_first_property(item->calendar, ICAL_VERSION_PROPERTY);
	if (version == NULL) {
		error = fail("VERSION missing");
		goto fail;
	}
	if (strcmp(icalproperty_get_version(version), "2.0") != 0) {
		error = fail("unsupported VERSION \"%.20s\" (iCalendar 2.0 is)",
		             icalproperty_get_version(version));
		goto fail;
	}
	if ((error = collect_objects(item, expect)) != NULL)
		goto fail;
	return item;
fail:
	ical_item_free(&item);
	*error_r = error;
	return NULL;
}

void
ical_item_free(struct ical_item **itemp)
{
	struct ical_item *item = *itemp;

	if (item == NULL)
		return;
	if (item->calendar != NULL)
		icalcomponent_free(item->calendar);
	free(item->overrides);
	free(item->text);
	free(item);
	*itemp = NULL;
}

/* --- Index --- */

static char *
dup_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

static char *
upper_dup(const char *s)
{
	char *out = dup_or_null(s);

	for (char *c = out; c != NULL && *c != '\0'; c++) {
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	}
	return out;
}

static char *
address_dup(const char *s)
{
	if (s != NULL && strncasecmp(s, "mailto:", 7) == 0)
		s += 7;
	return dup_or_null(s);
}

static const char *
param_text(icalproperty *p, icalparameter_kind kind)
{
	icalparameter *param = icalproperty_get_first_parameter(p, kind);

	return param != NULL ? icalparameter_as_ical_string(param) : NULL;
}

/* "PARTSTAT=ACCEPTED" -> "ACCEPTED" (upper-cased copy); NULL when absent. */
static char *
param_value_upper(icalproperty *p, icalparameter_kind kind, const char *dflt)
{
	const char *text = param_text(p, kind);
	const char *eq = text != NULL ? strchr(text, '=') : NULL;

	return upper_dup(eq != NULL ? eq + 1 : dflt);
}

static void
add_categories(struct ical_item_index *idx, const char *value)
{
	const char *s = value;

	while (s != NULL && *s != '\0') {
		size_t len = strcspn(s, ",");

		if (len > 0) {
			idx->categories = xreallocarray(idx->categories, idx->ncategories + 2,
			                                sizeof(*idx->categories));
			idx->categories[idx->ncategories++] = xstrndup(s, len);
			idx->categories[idx->ncategories] = NULL;
		}
		s += len;
		if (*s == ',')
			s++;
	}
}

void
ical_item_index_get(const struct ical_item *item, struct ical_item_index *idx)
{
	icalcomponent *c = item->master != NULL ? item->master : item->overrides[0];
	struct icaltimetype t;
	icalproperty *p;
	bool floating;

	memset(idx, 0, sizeof(*idx));
	idx->kind = item->kind;
	idx->percent = -1;
	idx->uid = dup_or_null(icalcomponent_get_uid(c));
	idx->summary = dup_or_null(icalcomponent_get_summary(c));
	idx->location = dup_or_null(icalcomponent_get_location(c));
	idx->description = dup_or_null(icalcomponent_get_description(c));
	if (prop_time(c, ICAL_DTSTART_PROPERTY, &t)) {
		idx->has_start = true;
		idx->start = ical_item_utc(t, &floating);
		idx->all_day = t.is_date;
		idx->floating = floating;
	}
	if (prop_time(c, ICAL_DUE_PROPERTY, &t)) {
		idx->has_due = true;
		idx->due = ical_item_utc(t, &floating);
		if (!idx->has_start)
			idx->floating = floating;
	}
	if (prop_time(c, ICAL_COMPLETED_PROPERTY, &t)) {
		idx->has_completed = true;
		idx->completed = ical_item_utc(t, NULL);
	}
	if (idx->has_start) {
		time_t first = idx->start;

		recurrence_first_end(item, &first, &idx->end);
		idx->has_end = true;
	} else if (idx->has_due) {
		/* A task with only a due date occupies its due instant. */
		idx->has_end = true;
		idx->end = idx->due;
	}
	if ((p = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY)) != NULL)
		idx->rrule = dup_or_null(icalproperty_get_value_as_string(p));
	idx->recurring =
	    idx->rrule != NULL || icalcomponent_get_first_property(c, ICAL_RDATE_PROPERTY) != NULL;
	recurrence_bounds(item, &idx->range_end, &idx->infinite);
	if ((p = icalcomponent_get_first_property(c, ICAL_STATUS_PROPERTY)) != NULL)
		idx->status = upper_dup(icalproperty_get_value_as_string(p));
	if ((p = icalcomponent_get_first_property(c, ICAL_PERCENTCOMPLETE_PROPERTY)) != NULL)
		idx->percent = icalproperty_get_percentcomplete(p);
	if ((p = icalcomponent_get_first_property(c, ICAL_PRIORITY_PROPERTY)) != NULL)
		idx->priority = icalproperty_get_priority(p);
	if ((p = icalcomponent_get_first_property(c, ICAL_CLASS_PROPERTY)) != NULL) {
		idx->klass = upper_dup(icalproperty_get_value_as_string(p));
		idx->is_private = idx->klass != NULL && strcmp(idx->klass, "PRIVATE") == 0;
	}
	for (p = icalcomponent_get_first_property(c, ICAL_CATEGORIES_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(c, ICAL_CATEGORIES_PROPERTY))
		add_categories(idx, icalproperty_get_categories(p));
	if ((p = icalcomponent_get_first_property(c, ICAL_ORGANIZER_PROPERTY)) != NULL)
		idx->organizer = address_dup(icalproperty_get_organizer(p));
	for (p = icalcomponent_get_first_property(c, ICAL_ATTENDEE_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(c, ICAL_ATTENDEE_PROPERTY)) {
		struct ical_attendee *a;
		icalparameter *cn;

		idx->attendees =
		    xreallocarray(idx->attendees, idx->nattendees + 1, sizeof(*idx->attendees));
		a = &idx->attendees[idx->nattendees++];
		a->address = address_dup(icalproperty_get_attendee(p));
		if (a->address == NULL)
			a->address = xstrdup("");
		cn = icalproperty_get_first_parameter(p, ICAL_CN_PARAMETER);
		a->name = cn != NULL ? dup_or_null(icalparameter_get_cn(cn)) : NULL;
		a->partstat = param_value_upper(p, ICAL_PARTSTAT_PARAMETER, "NEEDS-ACTION");
		a->role = param_value_upper(p, ICAL_ROLE_PARAMETER, "REQ-PARTICIPANT");
	}
}

void
ical_item_index_clear(struct ical_item_index *idx)
{
	free(idx->uid);
	free(idx->summary);
	free(idx->location);
	free(idx->description);
	free(idx->rrule);
	free(idx->status);
	free(idx->klass);
	free(idx->organizer);
	for (size_t i = 0; i < idx->ncategories; i++)
		free(idx->categories[i]);
	free(idx->categories);
	for (size_t i = 0; i < idx->nattendees; i++) {
		free(idx->attendees[i].address);
		free(idx->attendees[i].name);
		free(idx->attendees[i].partstat);
		free(idx->attendees[i].role);
	}
	free(idx->attendees);
	memset(idx, 0, sizeof(*idx));
}
