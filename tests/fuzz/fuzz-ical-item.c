/* libFuzzer target for modules/ical-item and modules/recurrence: the first
 * byte picks the kind the folder expects, the rest is parsed as a
 * VCALENDAR. An item that parses must keep its text byte for byte, have
 * the kind asked for, give an index, and expand over a window around its
 * first occurrence into at most the requested number of occurrences,
 * sorted, each overlapping the window and ending no earlier than it
 * starts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ical-item.h"
#include "recurrence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_expand(const struct ical_item *item, const struct ical_item_index *idx)
{
	time_t base = idx->has_start ? idx->start : 0, from, to, end;
	struct recurrence_occurrence *occ;
	size_t count;
	bool truncated, infinite;

	/* A window of about two years around the first occurrence (clamped
	 * so that the arithmetic cannot overflow). */
	if (base < -(time_t)1099511627776 || base > (time_t)1099511627776)
		base = 0;
	from = base - 366 * 86400;
	to = base + 2 * 366 * 86400;
	recurrence_expand(item, from, to, 50, &occ, &count, &truncated);
	if (count > 50 || (count == 0 && occ != NULL))
		abort();
	for (size_t i = 0; i < count; i++) {
		if (occ[i].end < occ[i].start || occ[i].component == NULL)
			abort();
		if (occ[i].start >= to || (occ[i].end <= from && occ[i].start < from))
			abort();
		if (i > 0 && occ[i].start < occ[i - 1].start)
			abort();
	}
	free(occ);
	recurrence_bounds(item, &end, &infinite);
	recurrence_first_end(item, &from, &to);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum ical_item_kind kinds[] = {ICAL_ITEM_ANY, ICAL_ITEM_EVENT, ICAL_ITEM_TASK,
	                                            ICAL_ITEM_JOURNAL, ICAL_ITEM_NOTE};
	struct ical_item_index idx;
	struct ical_item *item;
	enum ical_item_kind expect;
	const char *error;

	if (size == 0)
		return 0;
	expect = kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))];
	item = ical_item_parse((const char *)data + 1, size - 1, expect, &error);
	if (item == NULL) {
		if (error == NULL || *error == '\0')
			abort();
		return 0;
	}
	if (item->len != size - 1 || memcmp(item->text, data + 1, size - 1) != 0 ||
	    item->text[item->len] != '\0' || item->kind == ICAL_ITEM_ANY ||
	    (expect != ICAL_ITEM_ANY && item->kind != expect) ||
	    (item->master == NULL && item->noverrides == 0))
		abort();
	ical_item_index_get(item, &idx);
	if (idx.uid == NULL || idx.kind != item->kind ||
	    (idx.kind == ICAL_ITEM_EVENT && !idx.has_start))
		abort();
	check_expand(item, &idx);
	ical_item_index_clear(&idx);
	ical_item_free(&item);
	return 0;
}
