/* IMAP sequence sets ("1:5,7,9:*", RFC 3501/9051 sequence-set, RFC 5182 "$")
 * as a sorted list of disjoint, non-adjacent ranges: parsing with "*"
 * resolved, membership, set algebra, iteration, and formatting back to the
 * shortest string for UIDPLUS, ESEARCH and VANISHED answers. */
#ifndef FLOE_IMAPX_SEQSET_H
#define FLOE_IMAPX_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An inclusive range, 1 <= lo <= hi <= 4294967295. */
struct seqset_range {
	uint32_t lo, hi;
};

struct seqset;

/* Parse flags. */
#define SEQSET_PARSE_NO_STAR 0x01 /* "*" is a syntax error (e.g. known-uids) */
#define SEQSET_PARSE_SAVED   0x02 /* accept "$", the saved search result (SEARCHRES) */
/* Return value of seqset_parse() when the string was "$". */
#define SEQSET_SAVED 1

struct seqset *seqset_create(void);
/* Frees *set and sets it to NULL; accepts NULL. */
void seqset_destroy(struct seqset **set);
struct seqset *seqset_dup(const struct seqset *set);
void seqset_clear(struct seqset *set);

/* Replaces the contents of set with the parsed sequence set str[0..len).
 * "*" stands for star (the highest sequence number or UID in the mailbox);
 * when star is 0 (an empty mailbox), "*" matches nothing and "n:*" means
 * 1..n. Reversed ranges ("5:1") are accepted. Returns 0; SEQSET_SAVED if
 * str is "$" and SEQSET_PARSE_SAVED is set (set is then empty and the
 * caller substitutes its saved result); or -1 with a static message in
 * *error_r (empty set, 0, a number above 4294967295, bad syntax) and the
 * set cleared. Cost is O(n log n) in the number of ranges, O(n) when they
 * come in ascending order. */
int seqset_parse(struct seqset *set, const char *str, size_t len, uint32_t star, unsigned int flags,
                 const char **error_r);

/* Like seqset_parse(), but keeps the ranges in the order written, without
 * merging (each range has lo <= hi), as QRESYNC's seq-match-data needs.
 * *ranges_r is newly allocated (freed by the caller, may be NULL when
 * *count_r is 0, which happens only with star 0). "$" is always an error. */
int seqset_parse_ordered(const char *str, size_t len, uint32_t star, unsigned int flags,
                         struct seqset_range **ranges_r, size_t *count_r, const char **error_r);

/* True if str[0..len) is a syntactically valid sequence set (flags as for
 * seqset_parse); used to tell a sequence set from other SEARCH keys. */
bool seqset_is_syntax(const char *str, size_t len, unsigned int flags);

/* Adds one number (n >= 1) or a range (both >= 1, in either order). */
void seqset_add(struct seqset *set, uint32_t n);
void seqset_add_range(struct seqset *set, uint32_t lo, uint32_t hi);
/* Removes a range (both >= 1, in either order); numbers not present are
 * ignored. */
void seqset_remove_range(struct seqset *set, uint32_t lo, uint32_t hi);
/* dst := dst ∪ src, dst := dst ∩ src, dst := dst \ src. */
void seqset_merge(struct seqset *dst, const struct seqset *src);
void seqset_intersect(struct seqset *dst, const struct seqset *src);
void seqset_subtract(struct seqset *dst, const struct seqset *src);

/* O(log ranges). */
bool seqset_contains(const struct seqset *set, uint32_t n);
bool seqset_is_empty(const struct seqset *set);
bool seqset_equal(const struct seqset *a, const struct seqset *b);
/* How many numbers the set holds. */
uint64_t seqset_count(const struct seqset *set);
/* Smallest and largest member, 0 if the set is empty. */
uint32_t seqset_min(const struct seqset *set);
uint32_t seqset_max(const struct seqset *set);
/* The ranges in ascending order, valid until the set is next changed. */
const struct seqset_range *seqset_ranges(const struct seqset *set, size_t *count_r);

/* Ascending iteration:
 *   struct seqset_iter it; uint32_t n;
 *   seqset_iter_init(&it, set);
 *   while (seqset_iter_next(&it, &n)) ...
 * The set must not change during the iteration. */
struct seqset_iter {
	const struct seqset *set;
	size_t range;
	uint64_t next;
};
void seqset_iter_init(struct seqset_iter *it, const struct seqset *set);
bool seqset_iter_next(struct seqset_iter *it, uint32_t *n_r);

/* The shortest spelling of the set ("1:5,7,9:12"), newly allocated; "" for
 * an empty set (which is not a valid IMAP sequence set, so callers omit
 * the item). */
char *seqset_format(const struct seqset *set);

#endif
