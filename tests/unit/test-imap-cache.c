/* Unit tests of the IMAP message cache (imapx/msg-cache.c): entries kept
 * and found by folder, UIDVALIDITY and UID; blobs by content; the byte
 * budget with least-recently-used eviction; cache_size 0; the rounding of
 * INTERNALDATE; and the classification of SEARCH keys the worker may
 * evaluate (imapx/search-cache.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg-cache.h"
#include "search-cache.h"
#include "store.h"
#include "tap.h"

static const char *
hash_of(int i)
{
	static char buf[65];

	snprintf(buf, sizeof(buf), "%064x", i);
	return buf;
}

static struct store_cache_row
row_of(uint32_t uid, const char *subject)
{
	struct store_cache_row r = {
	    .uid = uid,
	    .uidvalidity = 7,
	    .data = true,
	    .cacheable = true,
	    .internal_us = 1700000000LL * 1000000 + uid,
	    .size = 1000 + uid,
	    .envelope = "(NIL)",
	    .bodystructure = "(\"text\" \"plain\")",
	    .partmap = "{}",
	    .blob_hash = hash_of((int)uid),
	    .header = "Subject: x\r\n\r\n",
	    .header_len = 14,
	    .subject = subject,
	};
	return r;
}

static void
test_put_get(void)
{
	struct imap_cache *c = imap_cache_create(1 << 20);
	struct store_cache_row r = row_of(5, "hello");
	const struct imap_cache_msg *m;
	struct imap_cache_stats st;

	ok(imap_cache_enabled(c), "enabled with a budget");
	ok(imap_cache_msg_get(c, 1, 7, 5) == NULL, "empty cache misses");
	m = imap_cache_msg_put(c, 1, &r);
	ok(m != NULL && m->uid == 5 && m->size == 1005, "put returns the entry");
	m = imap_cache_msg_get(c, 1, 7, 5);
	ok(m != NULL && strcmp(m->subject, "hello") == 0 && m->header_len == 14 &&
	       memcmp(m->header, "Subject: x\r\n\r\n", 14) == 0 &&
	       strcmp(m->blob_hash, hash_of(5)) == 0,
	   "entry found with its data");
	ok(imap_cache_msg_get(c, 1, 8, 5) == NULL, "another UIDVALIDITY misses");
	ok(imap_cache_msg_get(c, 2, 7, 5) == NULL, "another folder misses");
	r.cacheable = false;
	r.uid = 6;
	ok(imap_cache_msg_put(c, 1, &r) == NULL, "a row that is not cacheable is not kept");
	imap_cache_get_stats(c, &st);
	is_int(st.msgs, 1, "one entry");
	is_int(st.msg_hits, 1, "one hit");
	is_int(st.msg_misses, 3, "three misses");
	imap_cache_destroy(&c);
	ok(c == NULL, "destroy clears the pointer");
}

static void
test_blobs(void)
{
	struct imap_cache *c = imap_cache_create(1 << 20);
	const void *data;
	size_t len;
	char *big = calloc(1, IMAP_CACHE_BLOB_MAX + 1);

	ok(!imap_cache_blob_get(c, hash_of(1), &data, &len), "blob miss");
	imap_cache_blob_put(c, hash_of(1), "abc", 3);
	ok(imap_cache_blob_get(c, hash_of(1), &data, &len) && len == 3 &&
	       memcmp(data, "abc", 3) == 0,
	   "blob kept");
	imap_cache_blob_put(c, hash_of(2), big, IMAP_CACHE_BLOB_MAX + 1);
	ok(!imap_cache_blob_get(c, hash_of(2), &data, &len), "a large message is not kept");
	imap_cache_blob_put(c, "short", "abc", 3);
	ok(!imap_cache_blob_get(c, "short", &data, &len), "a malformed hash is not kept");
	free(big);
	imap_cache_destroy(&c);
}

static void
test_eviction(void)
{
	/* Room for a few entries only. */
	struct imap_cache *c = imap_cache_create(3000);
	struct imap_cache_stats st;
	uint32_t n = 0;

	for (uint32_t uid = 1; uid <= 50; uid++) {
		struct store_cache_row r = row_of(uid, "subject");

		ok(imap_cache_msg_put(c, 1, &r) != NULL, "put %u", uid);
		/* Keep uid 1 in use: it must survive. */
		ok(imap_cache_msg_get(c, 1, 7, 1) != NULL, "uid 1 still there after %u", uid);
	}
	imap_cache_get_stats(c, &st);
	ok(st.bytes <= 3000, "within the budget (%zu)", st.bytes);
	ok(st.evictions > 0, "entries were evicted");
	for (uint32_t uid = 1; uid <= 50; uid++)
		n += imap_cache_msg_get(c, 1, 7, uid) != NULL;
	ok(n == st.msgs && n < 50, "only the newest stay (%u)", n);
	ok(imap_cache_msg_get(c, 1, 7, 50) != NULL, "the newest stays");
	ok(imap_cache_msg_get(c, 1, 7, 2) == NULL, "an old one went");
	imap_cache_blob_put(c, hash_of(9), "x", 1);
	imap_cache_destroy(&c);
}

static void
test_off(void)
{
	struct imap_cache *c = imap_cache_create(0);
	struct store_cache_row r = row_of(1, "s");
	const void *data;
	size_t len;

	ok(!imap_cache_enabled(c), "cache_size 0: off");
	ok(imap_cache_msg_put(c, 1, &r) == NULL, "nothing kept");
	ok(imap_cache_msg_get(c, 1, 7, 1) == NULL, "nothing found");
	imap_cache_blob_put(c, hash_of(1), "abc", 3);
	ok(!imap_cache_blob_get(c, hash_of(1), &data, &len), "no blob either");
	imap_cache_destroy(&c);
	ok(!imap_cache_enabled(NULL), "NULL: off");
}

static void
test_seconds(void)
{
	is_int(imap_cache_seconds(1499999), 1, "1.499999 s -> 1");
	is_int(imap_cache_seconds(1500000), 2, "1.5 s -> 2 (half away from zero)");
	is_int(imap_cache_seconds(-1500000), -2, "-1.5 s -> -2");
	is_int(imap_cache_seconds(-1499999), -1, "-1.499999 s -> -1");
	is_int(imap_cache_seconds(0), 0, "0");
}

static void
test_classify(void)
{
	struct store_search kids[2] = {{.key = SK_SUBJECT, .text = "report"},
	                               {.key = SK_FLAG, .text = "\\Seen"}};
	struct store_search and = {.key = SK_AND, .children = kids, .nchildren = 2};
	struct store_search not_bad = {.key = SK_NOT, .children = kids, .nchildren = 2};
	struct store_search s;

	is_int(imap_search_cache_classify(&and), SEARCH_CACHE_DATA, "SUBJECT and FLAG: data");
	is_int(imap_search_cache_classify(&kids[1]), SEARCH_CACHE_VIEW, "FLAG: view");
	kids[0].text = "gr\xc3\xbc\xc3\x9f";
	is_int(imap_search_cache_classify(&and), SEARCH_CACHE_NO, "non-ASCII text: store");
	is_int(imap_search_cache_classify(&not_bad), SEARCH_CACHE_NO, "NOT of two: store");
	s = (struct store_search){.key = SK_BODY, .text = "x"};
	is_int(imap_search_cache_classify(&s), SEARCH_CACHE_NO, "BODY: store");
	s = (struct store_search){.key = SK_HEADER, .field = "X-A", .text = "x"};
	is_int(imap_search_cache_classify(&s), SEARCH_CACHE_NO, "HEADER: store");
	s = (struct store_search){.key = SK_SINCE};
	is_int(imap_search_cache_classify(&s), SEARCH_CACHE_DATA, "SINCE: data");
	s = (struct store_search){.key = SK_LARGER, .number = UINT64_MAX};
	is_int(imap_search_cache_classify(&s), SEARCH_CACHE_NO, "a number beyond bigint: store");
	s = (struct store_search){.key = SK_MODSEQ, .number = 5};
	is_int(imap_search_cache_classify(&s), SEARCH_CACHE_VIEW, "MODSEQ: view");
}

int
main(void)
{
	test_put_get();
	test_blobs();
	test_eviction();
	test_off();
	test_seconds();
	test_classify();
	return done_testing();
}
