/* Unit tests for IMAP sequence sets: parsing (RFC examples, "*", "$",
 * reversed ranges, malformed input), set algebra checked against a bitmap,
 * iteration, formatting, and a 100 000-number UID set. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imapx/seqset.h"
#include "tap.h"
#include "xmalloc.h"

/* Parses str with star and returns its canonical spelling, or "ERR: msg". */
static char *
roundtrip(const char *str, uint32_t star, unsigned int flags)
{
	struct seqset *set = seqset_create();
	const char *error;
	char *out;
	int ret = seqset_parse(set, str, strlen(str), star, flags, &error);

	if (ret < 0)
		out = xasprintf("ERR: %s", error);
	else if (ret == SEQSET_SAVED)
		out = xstrdup("SAVED");
	else
		out = seqset_format(set);
	seqset_destroy(&set);
	return out;
}

static void
check(const char *str, uint32_t star, const char *want)
{
	char *got = roundtrip(str, star, SEQSET_PARSE_SAVED);

	is_str(got, want, "\"%s\" with * = %u", str, star);
	free(got);
}

static void
check_error(const char *str, const char *want_part)
{
	char *got = roundtrip(str, 100, 0);

	ok(strncmp(got, "ERR: ", 5) == 0 && strstr(got, want_part) != NULL,
	   "\"%s\" is rejected (%s)", str, got);
	ok(!seqset_is_syntax(str, strlen(str), 0), "\"%s\" is not a sequence set", str);
	free(got);
}

static void
test_parse(void)
{
	check("1", 10, "1");
	check("1:5,7,9:*", 12, "1:5,7,9:12");
	check("2,4:7,9,12:*", 15, "2,4:7,9,12:15"); /* RFC 3501 6.4.5 example */
	check("*:4,5:7", 10, "4:10");               /* RFC 3501: *:4 means 4:* */
	check("5:1", 10, "1:5");
	check("*", 10, "10");
	check("1:*", 10, "1:10");
	check("*:*", 7, "7");
	check("3,1,2", 10, "1:3");
	check("7,5,3,1", 10, "1,3,5,7");
	check("1:3,2:6", 10, "1:6");
	check("1:3,4:6", 10, "1:6");
	check("10:20,1:5,6:9", 30, "1:20");
	check("1,1,1", 10, "1");
	check("4294967295", 10, "4294967295");
	check("1:4294967295", 10, "1:4294967295");
	check("4294967294:*", 4294967295u, "4294967294:4294967295");
	check("007", 10, "7");
	check("$", 10, "SAVED");
	/* A UID range above the highest UID still names the last message. */
	check("500:*", 400, "400:500");
	/* An empty mailbox: "*" matches nothing. */
	check("*", 0, "");
	check("1:*", 0, "1");
	check("3:*,7", 0, "1:3,7");

	check_error("", "empty sequence set");
	check_error("0", "0 is not");
	check_error("1:0", "0 is not");
	check_error("0:*", "0 is not");
	check_error("4294967296", "too large");
	check_error("99999999999999999999", "too large");
	check_error("1,", "empty element");
	check_error(",1", "empty element");
	check_error("1,,2", "empty element");
	check_error("1:", "empty element");
	check_error(":5", "empty element");
	check_error("1::5", "empty element");
	check_error("1:2:3", "invalid character");
	check_error("a", "invalid character");
	check_error("1 2", "invalid character");
	check_error("-1", "invalid character");
	check_error("1,$", "stand alone");
	check_error("$,1", "stand alone");
	check_error("$$", "stand alone");
	check_error("1:$", "stand alone");

	char *got = roundtrip("$", 10, 0);
	ok(strstr(got, "not allowed") != NULL, "\"$\" refused without SEQSET_PARSE_SAVED");
	free(got);
	got = roundtrip("1:*", 10, SEQSET_PARSE_NO_STAR);
	ok(strstr(got, "'*' not allowed") != NULL, "\"*\" refused with SEQSET_PARSE_NO_STAR");
	free(got);

	ok(seqset_is_syntax("1:*", 3, 0), "1:* is syntax");
	ok(!seqset_is_syntax("1:*", 3, SEQSET_PARSE_NO_STAR), "1:* not syntax without star");
	ok(seqset_is_syntax("$", 1, SEQSET_PARSE_SAVED), "$ is syntax with SEARCHRES");
	ok(!seqset_is_syntax("$", 1, 0), "$ is not syntax otherwise");
	ok(!seqset_is_syntax("ALL", 3, 0), "ALL is a search key, not a set");

	/* A parse error leaves the set empty, even if it held numbers. */
	struct seqset *set = seqset_create();
	const char *error;
	seqset_add_range(set, 1, 10);
	ok(seqset_parse(set, "1,x", 3, 10, 0, &error) == -1 && seqset_is_empty(set),
	   "failed parse clears the set");
	seqset_destroy(&set);
	seqset_destroy(&set);
	ok(set == NULL, "destroy sets NULL and accepts NULL");
}

static void
test_ordered(void)
{
	struct seqset_range *r = NULL;
	size_t count = 0;
	const char *error;

	ok(seqset_parse_ordered("5:1,9,3:*,2", 11, 7, 0, &r, &count, &error) == 0, "ordered parse");
	ok(count == 4 && r[0].lo == 1 && r[0].hi == 5 && r[1].lo == 9 && r[1].hi == 9 &&
	       r[2].lo == 3 && r[2].hi == 7 && r[3].lo == 2 && r[3].hi == 2,
	   "ranges kept in order, unmerged, each lo <= hi");
	free(r);
	ok(seqset_parse_ordered("$", 1, 7, SEQSET_PARSE_SAVED, &r, &count, &error) == -1,
	   "ordered parse refuses $");
	ok(seqset_parse_ordered("1,0", 3, 7, 0, &r, &count, &error) == -1, "ordered parse errors");
}

static void
test_ops(void)
{
	struct seqset *set = seqset_create();
	uint32_t n;

	ok(seqset_is_empty(set) && seqset_min(set) == 0 && seqset_max(set) == 0, "empty set");
	seqset_add(set, 5);
	seqset_add(set, 3);
	seqset_add(set, 4);
	seqset_add_range(set, 10, 8);
	seqset_add(set, 1);
	char *s = seqset_format(set);
	is_str(s, "1,3:5,8:10", "adds merge neighbours");
	free(s);
	seqset_add(set, 2);
	s = seqset_format(set);
	is_str(s, "1:5,8:10", "filling a gap joins ranges");
	free(s);
	seqset_add_range(set, 6, 7);
	s = seqset_format(set);
	is_str(s, "1:10", "bridge joins everything");
	free(s);
	seqset_add_range(set, 4294967290u, 4294967295u);
	seqset_add(set, 4294967295u);
	is_int(seqset_count(set), 16, "count with the top of the range");
	ok(seqset_contains(set, 4294967295u) && !seqset_contains(set, 11) &&
	       seqset_contains(set, 1) && seqset_contains(set, 10),
	   "contains");
	is_int(seqset_max(set), 4294967295u, "max");
	seqset_remove_range(set, 3, 5);
	seqset_remove_range(set, 4294967295u, 4294967295u);
	seqset_remove_range(set, 100, 200);
	s = seqset_format(set);
	is_str(s, "1:2,6:10,4294967290:4294967294", "remove splits and trims");
	free(s);
	seqset_remove_range(set, 1, 4294967295u);
	ok(seqset_is_empty(set), "remove everything");

	struct seqset *a = seqset_create(), *b = seqset_create();
	const char *error;
	seqset_parse(a, "1:10,20:30,40", 13, 0, 0, &error);
	seqset_parse(b, "5:25,35:45", 10, 0, 0, &error);
	struct seqset *u = seqset_dup(a), *x = seqset_dup(a), *d = seqset_dup(a);
	seqset_merge(u, b);
	seqset_intersect(x, b);
	seqset_subtract(d, b);
	s = seqset_format(u);
	is_str(s, "1:30,35:45", "union");
	free(s);
	s = seqset_format(x);
	is_str(s, "5:10,20:25,40", "intersection");
	free(s);
	s = seqset_format(d);
	is_str(s, "1:4,26:30", "difference");
	free(s);
	ok(!seqset_equal(a, b) && seqset_equal(a, a), "equal");

	struct seqset_iter it;
	char buf[128] = "";
	seqset_iter_init(&it, x);
	while (seqset_iter_next(&it, &n))
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%u ", n);
	is_str(buf, "5 6 7 8 9 10 20 21 22 23 24 25 40 ", "iteration");
	seqset_clear(x);
	seqset_iter_init(&it, x);
	ok(!seqset_iter_next(&it, &n), "iterating an empty set");
	seqset_add(x, 4294967295u);
	seqset_iter_init(&it, x);
	ok(seqset_iter_next(&it, &n) && n == 4294967295u && !seqset_iter_next(&it, &n),
	   "iteration at 2^32-1 ends");
	s = seqset_format(x);
	is_str(s, "4294967295", "format at the top");
	free(s);
	seqset_clear(x);
	s = seqset_format(x);
	is_str(s, "", "empty set formats as \"\"");
	free(s);

	seqset_destroy(&a);
	seqset_destroy(&b);
	seqset_destroy(&u);
	seqset_destroy(&x);
	seqset_destroy(&d);
	seqset_destroy(&set);
}

/* Random operations checked against a bitmap of 1..N. */
static void
test_against_bitmap(void)
{
	enum { N = 300 };
	unsigned int seed = 7;
	int bad = 0;

	for (int round = 0; round < 300; round++) {
		struct seqset *set = seqset_create(), *other = seqset_create();
		unsigned char bits[N + 2] = {0}, obits[N + 2] = {0};

		for (int k = 0; k < 20; k++) {
			seed = seed * 1103515245 + 12345;
			uint32_t lo = 1 + (seed >> 8) % N;
			seed = seed * 1103515245 + 12345;
			uint32_t hi = 1 + (seed >> 8) % N;
			uint32_t a = lo < hi ? lo : hi, z = lo < hi ? hi : lo;
			int op = (seed >> 4) % 3;

			if (op < 2) {
				seqset_add_range(set, lo, hi);
				for (uint32_t i = a; i <= z; i++)
					bits[i] = 1;
			} else {
				seqset_remove_range(set, lo, hi);
				for (uint32_t i = a; i <= z; i++)
					bits[i] = 0;
			}
			seqset_add(other, 1 + (seed >> 12) % N);
			obits[1 + (seed >> 12) % N] = 1;
		}
		/* The spelling parses back to the same set. */
		char *s = seqset_format(set);
		struct seqset *back = seqset_create();
		const char *error;
		if (*s != '\0' && (seqset_parse(back, s, strlen(s), 1, 0, &error) != 0 ||
		                   !seqset_equal(back, set)))
			bad++;
		free(s);
		seqset_destroy(&back);

		uint64_t count = 0;
		for (uint32_t i = 1; i <= N; i++) {
			count += bits[i];
			if (seqset_contains(set, i) != (bits[i] != 0))
				bad++;
		}
		if (seqset_count(set) != count)
			bad++;
		/* Ranges are sorted, disjoint and not adjacent. */
		size_t nr;
		const struct seqset_range *r = seqset_ranges(set, &nr);
		for (size_t i = 0; i < nr; i++)
			if (r[i].lo > r[i].hi || (i > 0 && r[i].lo <= r[i - 1].hi + 1))
				bad++;

		struct seqset *u = seqset_dup(set), *x = seqset_dup(set), *d = seqset_dup(set);
		seqset_merge(u, other);
		seqset_intersect(x, other);
		seqset_subtract(d, other);
		for (uint32_t i = 1; i <= N; i++) {
			if (seqset_contains(u, i) != (bits[i] || obits[i]) ||
			    seqset_contains(x, i) != (bits[i] && obits[i]) ||
			    seqset_contains(d, i) != (bits[i] && !obits[i]))
				bad++;
		}
		seqset_destroy(&u);
		seqset_destroy(&x);
		seqset_destroy(&d);
		seqset_destroy(&set);
		seqset_destroy(&other);
	}
	is_int(bad, 0, "300 random add/remove/union/intersect/subtract rounds match a bitmap");
}

static void
test_large(void)
{
	/* 100 000 odd UIDs in ascending order: well over 64 KiB of text. */
	size_t cap = 100000 * 8;
	char *big = xmalloc(cap), *p = big;
	struct seqset *set = seqset_create();
	const char *error;
	clock_t t0;

	for (uint32_t i = 0; i < 100000; i++)
		p += sprintf(p, "%s%u", i == 0 ? "" : ",", 2 * i + 1);
	t0 = clock();
	ok(seqset_parse(set, big, (size_t)(p - big), 0, 0, &error) == 0, "100 000 numbers parse");
	is_int(seqset_count(set), 100000, "100 000 members");
	size_t nr;
	seqset_ranges(set, &nr);
	is_int(nr, 100000, "100 000 ranges");
	char *s = seqset_format(set);
	ok(strcmp(s, big) == 0, "formats back to the same string");
	free(s);

	/* The same numbers in descending order take the sorting path. */
	p = big;
	for (uint32_t i = 100000; i > 0; i--)
		p += sprintf(p, "%s%u", i == 100000 ? "" : ",", 2 * i - 1);
	struct seqset *rev = seqset_create();
	ok(seqset_parse(rev, big, (size_t)(p - big), 0, 0, &error) == 0 && seqset_equal(rev, set),
	   "descending order gives the same set");

	/* Consecutive UIDs collapse into one range. */
	p = big;
	for (uint32_t i = 1; i <= 100000; i++)
		p += sprintf(p, "%s%u", i == 1 ? "" : ",", i);
	ok(seqset_parse(set, big, (size_t)(p - big), 0, 0, &error) == 0, "consecutive parse");
	s = seqset_format(set);
	is_str(s, "1:100000", "consecutive numbers collapse");
	free(s);

	/* Membership in a big set is a binary search. */
	int bad = 0;
	for (uint32_t i = 1; i <= 200001; i++)
		if (seqset_contains(rev, i) != (i % 2 == 1 && i < 200000))
			bad++;
	is_int(bad, 0, "membership over the big set");
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	ok(secs < 2.0, "big-set work took %.3f s", secs);

	seqset_destroy(&rev);
	seqset_destroy(&set);
	free(big);
}

int
main(void)
{
	test_parse();
	test_ordered();
	test_ops();
	test_against_bitmap();
	test_large();
	return done_testing();
}
