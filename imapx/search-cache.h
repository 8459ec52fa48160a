/* SEARCH criteria evaluated in the worker, over a session's view (flags,
 * UIDs, modseqs) and the message cache (dates, sizes, the folded subject
 * and address fields, object ids), with the same results as the store's
 * SQL (db/store-search.c): the same day boundaries, NULL fields matching
 * nothing, case-insensitive substring matching on the text PostgreSQL
 * folded. Keys it cannot answer exactly (HEADER, BODY, TEXT, OLDER,
 * YOUNGER, text that is not ASCII, malformed trees) leave the search to
 * the store. */
#ifndef FLOE_IMAPX_SEARCH_CACHE_H
#define FLOE_IMAPX_SEARCH_CACHE_H

#include <stdbool.h>
#include <stdint.h>

struct imap_cache_msg;
struct imap_view;
struct store_search;

enum imap_search_cache_need {
	SEARCH_CACHE_NO = -1,  /* only the store can answer */
	SEARCH_CACHE_VIEW = 0, /* the view alone answers */
	SEARCH_CACHE_DATA = 1, /* the view and each message's cache entry */
};

enum imap_search_cache_need imap_search_cache_classify(const struct store_search *tree);

/* Whether message seq of view matches tree (classified VIEW or DATA; m,
 * the message's cache entry, may be NULL for VIEW). */
bool imap_search_cache_match(const struct store_search *tree, const struct imap_view *view,
                             uint32_t seq, const struct imap_cache_msg *m);

#endif
