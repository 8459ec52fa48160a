/* The per-worker IMAP message cache: what never changes for a (folder,
 * UIDVALIDITY, UID) — size, INTERNALDATE, ENVELOPE, BODYSTRUCTURE, the part
 * map, the header block, the fields SEARCH compares — and the bytes of
 * small messages by content id (a blob never changes). Shared by the
 * worker's sessions, bounded by [imap] cache_size, least recently used
 * first out. Holding immutable facts only, it never needs invalidation;
 * flags and modseqs come from each session's view. This is what Dovecot's
 * index and cache files are to its IMAP processes. */
#ifndef FLOE_IMAPX_MSG_CACHE_H
#define FLOE_IMAPX_MSG_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_cache;
struct store_cache_row;

/* Messages up to this size are kept whole (BODY[] of small messages);
 * larger literals stream from the store. */
#define IMAP_CACHE_BLOB_MAX (256 * 1024)

struct imap_cache_msg {
	uint64_t folder_id;
	uint32_t uidvalidity, uid;
	int64_t internal_us; /* microseconds since the epoch */
	uint64_t size;
	char *envelope, *bodystructure, *body, *partmap, *preview;
	char *email_id, *thread_id;
	char blob_hash[65];
	char *header; /* NULL when none (see store_fetch_row) */
	uint64_t header_offset;
	size_t header_len;
	bool has_sent_date;
	int64_t sent_us;
	char *subject, *from, *to, *cc, *bcc; /* folded (floe_fold), or NULL */
};

struct imap_cache_stats {
	uint64_t msg_hits, msg_misses, blob_hits, blob_misses, evictions;
	size_t bytes, max_bytes, msgs, blobs;
};

/* max_bytes 0: a cache that keeps nothing (every lookup misses). */
struct imap_cache *imap_cache_create(size_t max_bytes);
/* Accepts NULL; sets *cache to NULL. */
void imap_cache_destroy(struct imap_cache **cache);
bool imap_cache_enabled(const struct imap_cache *cache);

/* The entry, or NULL. It counts as recently used. The pointer is valid
 * until the next put into the cache (which may evict it). */
const struct imap_cache_msg *imap_cache_msg_get(struct imap_cache *cache, uint64_t folder_id,
                                                uint32_t uidvalidity, uint32_t uid);
/* Copies a cacheable row (row->cacheable, as store_fetch_cache gave it)
 * of folder_id; returns the entry (valid as above), or NULL when the row
 * is not cacheable or larger than the cache. An entry already present is
 * kept (its facts are the same). */
const struct imap_cache_msg *imap_cache_msg_put(struct imap_cache *cache, uint64_t folder_id,
                                                const struct store_cache_row *row);

/* A message's bytes by content (hex SHA-256): true with *data_r and *len_r
 * (valid as above), or false. */
bool imap_cache_blob_get(struct imap_cache *cache, const char *hash, const void **data_r,
                         size_t *len_r);
/* Keeps a copy of data if len <= IMAP_CACHE_BLOB_MAX and it fits. */
void imap_cache_blob_put(struct imap_cache *cache, const char *hash, const void *data, size_t len);

void imap_cache_get_stats(const struct imap_cache *cache, struct imap_cache_stats *stats_r);

/* FETCH INTERNALDATE's seconds from microseconds, rounded half away from
 * zero as PostgreSQL casts extract(epoch FROM t) to bigint. */
int64_t imap_cache_seconds(int64_t us);

#endif
