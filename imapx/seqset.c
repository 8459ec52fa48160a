/* IMAP sequence sets as sorted, merged range lists. Parsing appends ranges
 * and only sorts when the client did not send them in ascending order, so a
 * 64 KiB UID set from a sync client costs one linear pass. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>

#include "seqset.h"
#include "xmalloc.h"

struct seqset {
	struct seqset_range *r;
	size_t count, cap;
};

struct seqset *
seqset_create(void)
{
	return xcalloc(1, sizeof(struct seqset));
}

void
seqset_destroy(struct seqset **set)
{
	if (*set == NULL)
		return;
	free((*set)->r);
	xfree_ptr(set);
}

struct seqset *
seqset_dup(const struct seqset *set)
{
	struct seqset *copy = seqset_create();

	if (set->count > 0) {
		copy->r = xreallocarray(NULL, set->count, sizeof(*copy->r));
		memcpy(copy->r, set->r, set->count * sizeof(*copy->r));
		copy->count = copy->cap = set->count;
	}
	return copy;
}

void
seqset_clear(struct seqset *set)
{
	set->count = 0;
}

static void
reserve(struct seqset *set, size_t extra)
{
	if (set->count + extra <= set->cap)
		return;
	size_t cap = set->cap == 0 ? 8 : set->cap;
	while (cap < set->count + extra)
		cap *= 2;
	set->r = xreallocarray(set->r, cap, sizeof(*set->r));
	set->cap = cap;
}

/* Appends [lo,hi], merging with the last range when they touch. Keeps the
 * list sorted only if lo >= last.lo; the caller knows whether that holds. */
static void
push(struct seqset *set, uint32_t lo, uint32_t hi)
{
	if (set->count > 0) {
		struct seqset_range *last = &set->r[set->count - 1];

		if (lo >= last->lo && (uint64_t)lo <= (uint64_t)last->hi + 1) {
			if (hi > last->hi)
				last->hi = hi;
			return;
		}
	}
	reserve(set, 1);
	set->r[set->count].lo = lo;
	set->r[set->count].hi = hi;
	set->count++;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct seqset_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

/* Sorts and merges an unordered range list in place. */
static void
normalize(struct seqset *set)
{
	size_t out = 0;

	qsort(set->r, set->count, sizeof(*set->r), range_cmp);
	for (size_t i = 0; i < set->count; i++) {
		if (out > 0 && (uint64_t)set->r[i].lo <= (uint64_t)set->r[out - 1].hi + 1) {
			if (set->r[i].hi > set->r[out - 1].hi)
				set->r[out - 1].hi = set->r[i].hi;
		} else {
			set->r[out++] = set->r[i];
		}
	}
	set->count = out;
}

/* Reads a number or "*" at str[*pos]. Returns 0 with *n_r (and *star_r for
 * "*"), or -1 with *error_r. */
static int
scan_number(const char *str, size_t len, size_t *pos, unsigned int flags, uint32_t *n_r,
            bool *star_r, const char **error_r)
{
	size_t i = *pos;
	uint64_t n = 0;

	*star_r = false;
	if (i < len && str[i] == '*') {
		if ((flags & SEQSET_PARSE_NO_STAR) != 0) {
			*error_r = "'*' not allowed in this sequence set";
			return -1;
		}
		*star_r = true;
		*n_r = 0;
		*pos = i + 1;
		return 0;
	}
	if (i == len || str[i] < '0' || str[i] > '9') {
		if (i == len || str[i] == ',' || str[i] == ':')
			*error_r = "empty element in sequence set";
		else if (str[i] == '$')
			*error_r = "'$' must stand alone";
		else
			*error_r = "invalid character in sequence set";
		return -1;
	}
	while (i < len && str[i] >= '0' && str[i] <= '9') {
		n = n * 10 + (uint64_t)(str[i] - '0');
		if (n > UINT32_MAX) {
			*error_r = "number in sequence set too large (max 4294967295)";
			return -1;
		}
		i++;
	}
	if (n == 0) {
		*error_r = "0 is not a valid sequence number or UID";
		return -1;
	}
	*n_r = (uint32_t)n;
	*pos = i;
	return 0;
}

typedef void range_fn(uint32_t lo, uint32_t hi, void *ctx);

/* Walks the sequence set, calling fn for every resolved range (lo <= hi,
 * lo >= 1); elements that resolve to nothing (star == 0) are dropped. */
static int
scan(const char *str, size_t len, uint32_t star, unsigned int flags, range_fn *fn, void *ctx,
     const char **error_r)
{
	size_t i = 0;

	if (len == 0) {
		*error_r = "empty sequence set";
		return -1;
	}
	for (;;) {
		uint32_t a, b;
		bool a_star, b_star;

		if (scan_number(str, len, &i, flags, &a, &a_star, error_r) < 0)
			return -1;
		if (a_star)
			a = star;
		b = a;
		if (i < len && str[i] == ':') {
			i++;
			if (scan_number(str, len, &i, flags, &b, &b_star, error_r) < 0)
				return -1;
			if (b_star)
				b = star;
		}
		if (a > b) {
			uint32_t t = a;
			a = b;
			b = t;
		}
		/* Only "*" can produce 0, meaning an empty mailbox. */
		if (a == 0)
			a = 1;
		if (b != 0 && fn != NULL)
			fn(a, b, ctx);
		if (i == len)
			return 0;
		if (str[i] != ',') {
			*error_r = str[i] == '$' ? "'$' must stand alone"
			                         : "invalid character in sequence set";
			return -1;
		}
		i++;
	}
}

struct collect {
	struct seqset *set;
	bool sorted;
};

static void
collect_range(uint32_t lo, uint32_t hi, void *ctx)
{
	struct collect *c = ctx;
	struct seqset *set = c->set;

	if (c->sorted && set->count > 0 && lo < set->r[set->count - 1].lo)
		c->sorted = false;
	if (c->sorted) {
		push(set, lo, hi);
	} else {
		reserve(set, 1);
		set->r[set->count].lo = lo;
		set->r[set->count].hi = hi;
		set->count++;
	}
}

static bool
is_saved(const char *str, size_t len)
{
	return len == 1 && str[0] == '$';
}

int
seqset_parse(struct seqset *set, const char *str, size_t len, uint32_t star, unsigned int flags,
             const char **error_r)
{
	struct collect c = {set, true};

	seqset_clear(set);
	if (is_saved(str, len)) {
		if ((flags & SEQSET_PARSE_SAVED) != 0)
			return SEQSET_SAVED;
		*error_r = "'$' (saved search result) not allowed here";
		return -1;
	}
	if (scan(str, len, star, flags, collect_range, &c, error_r) < 0) {
		seqset_clear(set);
		return -1;
	}
	if (!c.sorted)
		normalize(set);
	return 0;
}

struct ordered {
	struct seqset_range *r;
	size_t count, cap;
};

static void
ordered_range(uint32_t lo, uint32_t hi, void *ctx)
{
	struct ordered *o = ctx;

	if (o->count == o->cap) {
		o->cap = o->cap == 0 ? 8 : o->cap * 2;
		o->r = xreallocarray(o->r, o->cap, sizeof(*o->r));
	}
	o->r[o->count].lo = lo;
	o->r[o->count].hi = hi;
	o->count++;
}

int
seqset_parse_ordered(const char *str, size_t len, uint32_t star, unsigned int flags,
                     struct seqset_range **ranges_r, size_t *count_r, const char **error_r)
{
	struct ordered o = {NULL, 0, 0};

	if (is_saved(str, len)) {
		*error_r = "'$' (saved search result) not allowed here";
		return -1;
	}
	if (scan(str, len, star, flags, ordered_range, &o, error_r) < 0) {
		free(o.r);
		return -1;
	}
	*ranges_r = o.r;
	*count_r = o.count;
	return 0;
}

bool
seqset_is_syntax(const char *str, size_t len, unsigned int flags)
{
	const char *error;

	if (is_saved(str, len))
		return (flags & SEQSET_PARSE_SAVED) != 0;
	/* star = 1 so that every element resolves; nothing is collected. */
	return scan(str, len, 1, flags, NULL, NULL, &error) == 0;
}

/* Index of the first range whose hi >= n (count if none). */
static size_t
lower_bound(const struct seqset *set, uint64_t n)
{
	size_t lo = 0, hi = set->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((uint64_t)set->r[mid].hi < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
seqset_add_range(struct seqset *set, uint32_t lo, uint32_t hi)
{
	if (lo > hi) {
		uint32_t t = lo;
		lo = hi;
		hi = t;
	}
	assert(lo >= 1);
	if (set->count == 0 || lo >= set->r[set->count - 1].lo) {
		push(set, lo, hi);
		return;
	}
	/* First range that touches or follows [lo,hi]. */
	size_t first = lower_bound(set, (uint64_t)lo - 1), last = first;
	while (last < set->count && (uint64_t)set->r[last].lo <= (uint64_t)hi + 1)
		last++;
	if (first == last) {
		reserve(set, 1);
		memmove(&set->r[first + 1], &set->r[first], (set->count - first) * sizeof(*set->r));
		set->r[first].lo = lo;
		set->r[first].hi = hi;
		set->count++;
		return;
	}
	/* Ranges first..last-1 merge into one. */
	if (set->r[first].lo < lo)
		lo = set->r[first].lo;
	if (set->r[last - 1].hi > hi)
		hi = set->r[last - 1].hi;
	set->r[first].lo = lo;
	set->r[first].hi = hi;
	memmove(&set->r[first + 1], &set->r[last], (set->count - last) * sizeof(*set->r));
	set->count -= last - first - 1;
}

void
seqset_add(struct seqset *set, uint32_t n)
{
	seqset_add_range(set, n, n);
}

void
seqset_remove_range(struct seqset *set, uint32_t lo, uint32_t hi)
{
	if (lo > hi) {
		uint32_t t = lo;
		lo = hi;
		hi = t;
	}
	assert(lo >= 1);
	size_t first = lower_bound(set, lo), last = first;
	while (last < set->count && set->r[last].lo <= hi)
		last++;
	if (first == last)
		return;
	struct seqset_range head = set->r[first], tail = set->r[last - 1];
	bool keep_head = head.lo<lo, keep_tail = tail.hi> hi;
	size_t keep = (keep_head ? 1 : 0) + (keep_tail ? 1 : 0), removed = last - first;

	if (keep > removed)
		reserve(set, keep - removed);
	memmove(&set->r[first + keep], &set->r[last], (set->count - last) * sizeof(*set->r));
	set->count = set->count - removed + keep;
	if (keep_head) {
		set->r[first].lo = head.lo;
		set->r[first].hi = lo - 1;
		first++;
	}
	if (keep_tail) {
		set->r[first].lo = hi + 1;
		set->r[first].hi = tail.hi;
	}
}

static void
replace(struct seqset *dst, struct seqset_range *r, size_t count, size_t cap)
{
	free(dst->r);
	dst->r = r;
	dst->count = count;
	dst->cap = cap;
}

void
seqset_merge(struct seqset *dst, const struct seqset *src)
{
	struct seqset out = {NULL, 0, 0};
	size_t i = 0, j = 0;

	if (src->count == 0)
		return;
	reserve(&out, dst->count + src->count);
	while (i < dst->count || j < src->count) {
		const struct seqset_range *next;

		if (j == src->count || (i < dst->count && dst->r[i].lo <= src->r[j].lo))
			next = &dst->r[i++];
		else
			next = &src->r[j++];
		push(&out, next->lo, next->hi);
	}
	replace(dst, out.r, out.count, out.cap);
}

void
seqset_intersect(struct seqset *dst, const struct seqset *src)
{
	struct seqset out = {NULL, 0, 0};
	size_t i = 0, j = 0;

	while (i < dst->count && j < src->count) {
		uint32_t lo = dst->r[i].lo > src->r[j].lo ? dst->r[i].lo : src->r[j].lo;
		uint32_t hi = dst->r[i].hi < src->r[j].hi ? dst->r[i].hi : src->r[j].hi;

		if (lo <= hi)
			push(&out, lo, hi);
		if (dst->r[i].hi < src->r[j].hi)
			i++;
		else
			j++;
	}
	replace(dst, out.r, out.count, out.cap);
}

void
seqset_subtract(struct seqset *dst, const struct seqset *src)
{
	struct seqset out = {NULL, 0, 0};
	size_t j = 0;

	if (src->count == 0 || dst->count == 0)
		return;
	for (size_t i = 0; i < dst->count; i++) {
		uint64_t lo = dst->r[i].lo, hi = dst->r[i].hi;

		while (j < src->count && src->r[j].hi < lo)
			j++;
		for (size_t k = j; k < src->count && src->r[k].lo <= hi && lo <= hi; k++) {
			if (src->r[k].lo > lo)
				push(&out, (uint32_t)lo, src->r[k].lo - 1);
			lo = (uint64_t)src->r[k].hi + 1;
		}
		if (lo <= hi)
			push(&out, (uint32_t)lo, (uint32_t)hi);
	}
	replace(dst, out.r, out.count, out.cap);
}

bool
seqset_contains(const struct seqset *set, uint32_t n)
{
	size_t i = lower_bound(set, n);

	return i < set->count && set->r[i].lo <= n;
}

bool
seqset_is_empty(const struct seqset *set)
{
	return set->count == 0;
}

bool
seqset_equal(const struct seqset *a, const struct seqset *b)
{
	return a->count == b->count &&
	       (a->count == 0 || memcmp(a->r, b->r, a->count * sizeof(*a->r)) == 0);
}

uint64_t
seqset_count(const struct seqset *set)
{
	uint64_t total = 0;

	for (size_t i = 0; i < set->count; i++)
		total += (uint64_t)set->r[i].hi - set->r[i].lo + 1;
	return total;
}

uint32_t
seqset_min(const struct seqset *set)
{
	return set->count == 0 ? 0 : set->r[0].lo;
}

uint32_t
seqset_max(const struct seqset *set)
{
	return set->count == 0 ? 0 : set->r[set->count - 1].hi;
}

const struct seqset_range *
seqset_ranges(const struct seqset *set, size_t *count_r)
{
	*count_r = set->count;
	return set->r;
}

void
seqset_iter_init(struct seqset_iter *it, const struct seqset *set)
{
	it->set = set;
	it->range = 0;
	it->next = set->count > 0 ? set->r[0].lo : 0;
}

bool
seqset_iter_next(struct seqset_iter *it, uint32_t *n_r)
{
	const struct seqset *set = it->set;

	if (it->range >= set->count)
		return false;
	*n_r = (uint32_t)it->next;
	if (it->next < set->r[it->range].hi) {
		it->next++;
	} else if (++it->range < set->count) {
		it->next = set->r[it->range].lo;
	}
	return true;
}

char *
seqset_format(const struct seqset *set)
{
	/* "4294967295:4294967295," is 22 bytes. */
	char *out = xreallocarray(NULL, set->count + 1, 22), *p = out;

	*p = '\0';
	for (size_t i = 0; i < set->count; i++) {
		const char *sep = i == 0 ? "" : ",";

		if (set->r[i].lo == set->r[i].hi)
			p += sprintf(p, "%s%u", sep, set->r[i].lo);
		else
			p += sprintf(p, "%s%u:%u", sep, set->r[i].lo, set->r[i].hi);
	}
	return out;
}
