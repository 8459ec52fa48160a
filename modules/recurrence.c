/* Recurrence expansion over libical's rule iterator: instances of the
 * master (RRULE from DTSTART in its time zone, RDATEs) minus EXDATEs and
 * the instances overrides replace, plus the overrides themselves. */
#include "recurrence.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xmalloc.h"

#define DAY 86400

/* How long each instance of a component lasts. */
struct span {
	bool has_start;
	struct icaltimetype dtstart;
	enum { END_EXACT, END_DURATION, END_NONE } how;
	time_t exact;
	struct icaldurationtype dur;
};

static bool
comp_time(icalcomponent *comp, icalproperty_kind kind, struct icaltimetype *t_r)
{
	icalproperty *p = icalcomponent_get_first_property(comp, kind);

	if (p == NULL)
		return false;
	*t_r = icalproperty_get_datetime_with_component(p, comp);
	return !icaltime_is_null_time(*t_r);
}

/* fallback: the master's span, for an override that gives no end. */
static void
span_init(struct span *s, icalcomponent *comp, const struct span *fallback)
{
	struct icaltimetype end;
	icalproperty *p;
	icalproperty_kind end_kind = icalcomponent_isa(comp) == ICAL_VTODO_COMPONENT
	                                 ? ICAL_DUE_PROPERTY
	                                 : ICAL_DTEND_PROPERTY;

	memset(s, 0, sizeof(*s));
	s->how = END_NONE;
	s->has_start = comp_time(comp, ICAL_DTSTART_PROPERTY, &s->dtstart);
	if (s->has_start && comp_time(comp, end_kind, &end)) {
		s->how = END_EXACT;
		s->exact = ical_item_utc(end, NULL) - ical_item_utc(s->dtstart, NULL);
		if (s->exact < 0)
			s->exact = 0;
	} else if ((p = icalcomponent_get_first_property(comp, ICAL_DURATION_PROPERTY)) != NULL) {
		s->how = END_DURATION;
		s->dur = icalproperty_get_duration(p);
	} else if (fallback != NULL && fallback->how != END_NONE) {
		s->how = fallback->how;
		s->exact = fallback->exact;
		s->dur = fallback->dur;
	}
}

static time_t
span_end(const struct span *s, struct icaltimetype local, time_t start)
{
	switch (s->how) {
	case END_EXACT:
		return start + s->exact;
	case END_DURATION: {
		/* Days and weeks are nominal: added to the wall-clock time. */
		struct icaltimetype end = icaltime_add(local, s->dur);

		end.zone = local.zone;
		return ical_item_utc(end, NULL);
	}
	case END_NONE:
		break;
	}
	return local.is_date ? start + DAY : start;
}

struct exdates {
	struct icaltimetype *t;
	time_t *utc;
	size_t n;
};

static void
exdates_init(struct exdates *x, icalcomponent *comp)
{
	icalproperty *p;

	memset(x, 0, sizeof(*x));
	for (p = icalcomponent_get_first_property(comp, ICAL_EXDATE_PROPERTY); p != NULL;
	     p = icalcomponent_get_next_property(comp, ICAL_EXDATE_PROPERTY)) {
		struct icaltimetype t = icalproperty_get_datetime_with_component(p, comp);

		if (icaltime_is_null_time(t))
			continue;
		x->t = xreallocarray(x->t, x->n + 1, sizeof(*x->t));
		x->utc = xreallocarray(x->utc, x->n + 1, sizeof(*x->utc));
		x->t[x->n] = t;
		x->utc[x->n++] = ical_item_utc(t, NULL);
	}
}

static void
exdates_clear(struct exdates *x)
{
	free(x->t);
	free(x->utc);
}

static bool
excluded(const struct exdates *x, struct icaltimetype local, time_t utc)
{
	for (size_t i = 0; i < x->n; i++) {
		if (x->t[i].is_date && !local.is_date) {
			/* A DATE excludes the instance on that day. */
			if (x->t[i].year == local.year && x->t[i].month == local.month &&
			    x->t[i].day == local.day)
				return true;
		} else if (x->utc[i] == utc) {
			return true;
		}
	}
	return false;
}

struct overrides {
	time_t *rid;
	size_t n;
};

static void
overrides_init(struct overrides *o, const struct ical_item *item)
{
	struct icaltimetype t;

	o->n = item->noverrides;
	o->rid = xcalloc(o->n + 1, sizeof(*o->rid));
	for (size_t i = 0; i < o->n; i++) {
		if (comp_time(item->overrides[i], ICAL_RECURRENCEID_PROPERTY, &t))
			o->rid[i] = ical_item_utc(t, NULL);
	}
}

static bool
overridden(const struct overrides *o, time_t utc)
{
	for (size_t i = 0; i < o->n; i++) {
		if (o->rid[i] == utc)
			return true;
	}
	return false;
}

static bool
cancelled(icalcomponent *comp)
{
	icalproperty *p = icalcomponent_get_first_property(comp, ICAL_STATUS_PROPERTY);

	return p != NULL && icalproperty_get_status(p) == ICAL_STATUS_CANCELLED;
}

static bool
overlaps(time_t start, time_t end, time_t from, time_t to)
{
	if (start >= to)
		return false;
	return end > from || (end == start && start >= from);
}

/* Receives each occurrence in the window; returns false to stop the
 * rule's iteration. */
typedef bool sink_fn(void *ctx, const struct recurrence_occurrence *occ, bool from_rule);

struct walk {
	size_t limit; /* instances of the rule walked at most */
	bool capped;  /* the rule had more than limit instances */
	bool stopped; /* the sink stopped the rule */
};

/* Instances of the master's RRULE, in order. */
static void
walk_rule(const struct ical_item *item, const struct span *ms, const struct exdates *ex,
          const struct overrides *ov, time_t from, time_t to, sink_fn *sink, void *ctx,
          struct walk *w)
{
	icalproperty *p = icalcomponent_get_first_property(item->master, ICAL_RRULE_PROPERTY);
	struct icalrecurrencetype rule = icalproperty_get_rrule(p);
	icalrecur_iterator *it = icalrecur_iterator_new(rule, ms->dtstart);
	struct icaltimetype next;
	time_t first = ical_item_utc(ms->dtstart, NULL);
	size_t steps = 0;

	if (it == NULL)
		return;
	/* Far into an endless rule: start near the window (a counted rule
	 * must be walked from its start). */
	if (rule.count == 0 && from > first + 8 * DAY) {
		time_t span = span_end(ms, ms->dtstart, first) - first;
		struct icaltimetype at = icaltime_from_timet_with_zone(
		    from - span - 2 * DAY, ms->dtstart.is_date,
		    (icaltimezone *)(ms->dtstart.zone != NULL ? ms->dtstart.zone
		                                              : icaltimezone_get_utc_timezone()));

		if (ms->dtstart.zone == NULL && !icaltime_is_utc(ms->dtstart))
			at.zone = NULL;
		if (at.is_date)
			at.hour = at.minute = at.second = 0;
		else {
			at.hour = ms->dtstart.hour;
			at.minute = ms->dtstart.minute;
			at.second = ms->dtstart.second;
		}
		icalrecur_iterator_set_start(it, at);
	}
	while (!icaltime_is_null_time(next = icalrecur_iterator_next(it))) {
		struct recurrence_occurrence occ;

		if (++steps > w->limit) {
			w->capped = true;
			break;
		}
		next.zone = ms->dtstart.zone;
		occ.start = ical_item_utc(next, NULL);
		if (occ.start >= to)
			break;
		if (excluded(ex, next, occ.start) || overridden(ov, occ.start))
			continue;
		occ.end = span_end(ms, next, occ.start);
		if (!overlaps(occ.start, occ.end, from, to))
			continue;
		occ.recurrence_id = occ.start;
		occ.component = item->master;
		occ.is_override = false;
		if (!sink(ctx, &occ, true)) {
			w->stopped = true;
			break;
		}
	}
	icalrecur_iterator_free(it);
}

static void
walk(const struct ical_item *item, time_t from, time_t to, sink_fn *sink, void *ctx, struct walk *w)
{
	struct span ms = {.has_start = false}, os;
	struct exdates ex = {0};
	struct overrides ov;
	struct recurrence_occurrence occ;
	icalproperty *p;
	size_t limit = w->limit;

	memset(w, 0, sizeof(*w));
	w->limit = limit;
	overrides_init(&ov, item);
	if (item->master != NULL) {
		span_init(&ms, item->master, NULL);
		exdates_init(&ex, item->master);
	}
	if (item->master != NULL && ms.has_start) {
		if (icalcomponent_get_first_property(item->master, ICAL_RRULE_PROPERTY) != NULL) {
			walk_rule(item, &ms, &ex, &ov, from, to, sink, ctx, w);
		} else {
			occ.start = ical_item_utc(ms.dtstart, NULL);
			occ.end = span_end(&ms, ms.dtstart, occ.start);
			occ.recurrence_id = occ.start;
			occ.component = item->master;
			occ.is_override = false;
			if (!excluded(&ex, ms.dtstart, occ.start) && !overridden(&ov, occ.start) &&
			    overlaps(occ.start, occ.end, from, to))
				sink(ctx, &occ, false);
		}
		for (p = icalcomponent_get_first_property(item->master, ICAL_RDATE_PROPERTY);
		     p != NULL;
		     p = icalcomponent_get_next_property(item->master, ICAL_RDATE_PROPERTY)) {
			struct icaldatetimeperiodtype dp = icalproperty_get_rdate(p);
			struct icaltimetype t;
			icalparameter *tzid =
			    icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);

			t = !icaltime_is_null_time(dp.time) ? dp.time : dp.period.start;
			if (icaltime_is_null_time(t))
				continue;
			if (tzid != NULL && !icaltime_is_utc(t))
				t.zone = icalcomponent_get_timezone(item->calendar,
				                                    icalparameter_get_tzid(tzid));
			occ.start = ical_item_utc(t, NULL);
			if (icaltime_is_null_time(dp.time) &&
			    !icaltime_is_null_time(dp.period.end)) {
				struct icaltimetype e = dp.period.end;

				e.zone = t.zone;
				occ.end = ical_item_utc(e, NULL);
			} else if (icaltime_is_null_time(dp.time)) {
				occ.end = occ.start + icaldurationtype_as_int(dp.period.duration);
			} else {
				occ.end = span_end(&ms, t, occ.start);
			}
			occ.recurrence_id = occ.start;
			occ.component = item->master;
			occ.is_override = false;
			if (!excluded(&ex, t, occ.start) && !overridden(&ov, occ.start) &&
			    overlaps(occ.start, occ.end, from, to))
				sink(ctx, &occ, false);
		}
	}
	for (size_t i = 0; i < item->noverrides; i++) {
		icalcomponent *c = item->overrides[i];

		if (cancelled(c))
			continue;
		span_init(&os, c, item->master != NULL ? &ms : NULL);
		if (os.has_start) {
			occ.start = ical_item_utc(os.dtstart, NULL);
			occ.end = span_end(&os, os.dtstart, occ.start);
		} else {
			occ.start = occ.end = ov.rid[i];
		}
		occ.recurrence_id = ov.rid[i];
		occ.component = c;
		occ.is_override = true;
		if (overlaps(occ.start, occ.end, from, to))
			sink(ctx, &occ, false);
	}
	exdates_clear(&ex);
	free(ov.rid);
}

/* --- Expansion --- */

struct collect {
	struct recurrence_occurrence *occ;
	size_t n, cap, from_rule, max;
};

static bool
collect_sink(void *ctx, const struct recurrence_occurrence *occ, bool from_rule)
{
	struct collect *c = ctx;

	if (c->n == c->cap) {
		c->cap = c->cap == 0 ? 64 : c->cap * 2;
		c->occ = xreallocarray(c->occ, c->cap, sizeof(*c->occ));
	}
	c->occ[c->n++] = *occ;
	/* One more than asked for tells that the result is truncated. */
	return !from_rule || ++c->from_rule <= c->max;
}

static int
occ_cmp(const void *a, const void *b)
{
	const struct recurrence_occurrence *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->recurrence_id != y->recurrence_id)
		return x->recurrence_id < y->recurrence_id ? -1 : 1;
	return (int)y->is_override - (int)x->is_override;
}

void
recurrence_expand(const struct ical_item *item, time_t from, time_t to, size_t max,
                  struct recurrence_occurrence **occ_r, size_t *count_r, bool *truncated_r)
{
	struct collect c = {.max = max};
	struct walk w = {.limit = RECURRENCE_MAX_STEPS};
	size_t n = 0;

	if (c.max == 0 || c.max > RECURRENCE_MAX_OCCURRENCES)
		c.max = RECURRENCE_MAX_OCCURRENCES;
	walk(item, from, to, collect_sink, &c, &w);
	if (c.n > 1)
		qsort(c.occ, c.n, sizeof(*c.occ), occ_cmp);
	/* An RDATE that repeats a rule instance is one occurrence. */
	for (size_t i = 0; i < c.n; i++) {
		if (n > 0 && !c.occ[i].is_override && !c.occ[n - 1].is_override &&
		    c.occ[n - 1].recurrence_id == c.occ[i].recurrence_id)
			continue;
		c.occ[n++] = c.occ[i];
	}
	if (truncated_r != NULL)
		*truncated_r = n > c.max || w.capped;
	if (n > c.max)
		n = c.max;
	if (n == 0) {
		free(c.occ);
		c.occ = NULL;
	}
	*occ_r = c.occ;
	*count_r = n;
}

/* --- Bounds --- */

struct last {
	bool any;
	time_t end;
};

static bool
last_sink(void *ctx, const struct recurrence_occurrence *occ, bool from_rule)
{
	struct last *l = ctx;

	(void)from_rule;
	if (!l->any || occ->end > l->end)
		l->end = occ->end;
	l->any = true;
	return true;
}

void
recurrence_first_end(const struct ical_item *item, time_t *start_r, time_t *end_r)
{
	icalcomponent *c = item->master != NULL ? item->master : item->overrides[0];
	struct span s;
	time_t start;

	span_init(&s, c, NULL);
	if (!s.has_start) {
		*end_r = *start_r;
		return;
	}
	start = ical_item_utc(s.dtstart, NULL);
	*start_r = start;
	*end_r = span_end(&s, s.dtstart, start);
}

void
recurrence_bounds(const struct ical_item *item, time_t *end_r, bool *infinite_r)
{
	struct last l = {.any = false};
	struct walk w = {.limit = RECURRENCE_BOUNDS_STEPS};
	icalproperty *p = item->master != NULL
	                      ? icalcomponent_get_first_property(item->master, ICAL_RRULE_PROPERTY)
	                      : NULL;
	struct icalrecurrencetype rule;
	time_t start = 0, end = 0;

	memset(&rule, 0, sizeof(rule));

	recurrence_first_end(item, &start, &end);
	*end_r = end;
	*infinite_r = false;
	if (p != NULL) {
		rule = icalproperty_get_rrule(p);
		if (rule.count == 0 && icaltime_is_null_time(rule.until)) {
			*infinite_r = true;
			return;
		}
	}
	walk(item, INT64_MIN / 4, INT64_MAX / 4, last_sink, &l, &w);
	if (w.capped && rule.count != 0) {
		*infinite_r = true;
		return;
	}
	if (w.capped) {
		/* Too many instances to walk at every write: no instance starts
		 * after UNTIL, and none lasts longer than the first one plus a
		 * day (a DATE UNTIL, time zone shifts, nominal durations). */
		struct icaltimetype until = rule.until;
		time_t bound;

		if (!icaltime_is_utc(until))
			until.zone = item->master != NULL
			                 ? icalcomponent_get_dtstart(item->master).zone
			                 : NULL;
		bound = ical_item_utc(until, NULL) + (end - start) + 2 * DAY;
		if (bound > *end_r)
			*end_r = bound;
	}
	if (l.any && l.end > *end_r)
		*end_r = l.end;
}
