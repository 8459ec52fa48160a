/* The per-worker IMAP message cache: two hash tables (messages by folder,
 * UIDVALIDITY and UID; message bytes by content hash) over one
 * least-recently-used list and one byte budget. Each entry's cost counts
 * its struct, its strings and its bytes. */
#include "msg-cache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "store.h"
#include "xmalloc.h"

enum node_kind { NODE_MSG, NODE_BLOB };

struct node {
	enum node_kind kind;
	TAILQ_ENTRY(node) lru; /* head: most recently used */
	struct node *next;     /* hash chain */
	uint64_t hash;
	size_t cost;
	union {
		struct imap_cache_msg msg;
		struct {
			char hash[65];
			size_t len;
			unsigned char *data;
		} blob;
	} u;
};

TAILQ_HEAD(node_list, node);

struct imap_cache {
	size_t max_bytes, bytes;
	struct node **buckets;
	size_t nbuckets, count, msgs, blobs;
	struct node_list lru;
	struct imap_cache_stats stats;
};

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t
msg_key(uint64_t folder_id, uint32_t uidvalidity, uint32_t uid)
{
	return mix64(folder_id * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)uidvalidity << 32 | uid));
}

static uint64_t
blob_key(const char *hash)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = hash; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return mix64(h ^ 0x5bd1e995);
}

struct imap_cache *
imap_cache_create(size_t max_bytes)
{
	struct imap_cache *c = xcalloc(1, sizeof(*c));

	c->max_bytes = max_bytes;
	TAILQ_INIT(&c->lru);
	return c;
}

static void
node_free(struct node *n)
{
	if (n->kind == NODE_MSG) {
		struct imap_cache_msg *m = &n->u.msg;

		free(m->envelope);
		free(m->bodystructure);
		free(m->body);
		free(m->partmap);
		free(m->preview);
		free(m->email_id);
		free(m->thread_id);
		free(m->header);
		free(m->subject);
		free(m->from);
		free(m->to);
		free(m->cc);
		free(m->bcc);
	} else {
		free(n->u.blob.data);
	}
	free(n);
}

void
imap_cache_destroy(struct imap_cache **cachep)
{
	struct imap_cache *c = *cachep;
	struct node *n;

	if (c == NULL)
		return;
	while ((n = TAILQ_FIRST(&c->lru)) != NULL) {
		TAILQ_REMOVE(&c->lru, n, lru);
		node_free(n);
	}
	free(c->buckets);
	free(c);
	*cachep = NULL;
}

bool
imap_cache_enabled(const struct imap_cache *c)
{
	return c != NULL && c->max_bytes > 0;
}

static void
table_resize(struct imap_cache *c, size_t nbuckets)
{
	struct node **b = xcalloc(nbuckets, sizeof(*b));

	for (size_t i = 0; i < c->nbuckets; i++) {
		struct node *n = c->buckets[i], *next;

		for (; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & (nbuckets - 1)];
			b[n->hash & (nbuckets - 1)] = n;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nbuckets;
}

static void
node_unlink(struct imap_cache *c, struct node *n)
{
	struct node **pp = &c->buckets[n->hash & (c->nbuckets - 1)];

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	TAILQ_REMOVE(&c->lru, n, lru);
	c->bytes -= n->cost;
	c->count--;
	if (n->kind == NODE_MSG)
		c->msgs--;
	else
		c->blobs--;
}

/* Makes room for cost more bytes; false if it can never fit. */
static bool
make_room(struct imap_cache *c, size_t cost)
{
	struct node *n;

	if (cost > c->max_bytes)
		return false;
	while (c->bytes + cost > c->max_bytes && (n = TAILQ_LAST(&c->lru, node_list)) != NULL) {
		node_unlink(c, n);
		node_free(n);
		c->stats.evictions++;
	}
	return true;
}

static void
node_insert(struct imap_cache *c, struct node *n)
{
	if ((c->count + 1) * 4 > c->nbuckets * 3)
		table_resize(c, c->nbuckets == 0 ? 1024 : c->nbuckets * 2);
	n->next = c->buckets[n->hash & (c->nbuckets - 1)];
	c->buckets[n->hash & (c->nbuckets - 1)] = n;
	TAILQ_INSERT_HEAD(&c->lru, n, lru);
	c->bytes += n->cost;
	c->count++;
	if (n->kind == NODE_MSG)
		c->msgs++;
	else
		c->blobs++;
}

static void
touch(struct imap_cache *c, struct node *n)
{
	if (TAILQ_FIRST(&c->lru) != n) {
		TAILQ_REMOVE(&c->lru, n, lru);
		TAILQ_INSERT_HEAD(&c->lru, n, lru);
	}
}

static struct node *
find_msg(struct imap_cache *c, uint64_t folder_id, uint32_t uidvalidity, uint32_t uid)
{
	uint64_t h = msg_key(folder_id, uidvalidity, uid);

	if (c->nbuckets == 0)
		return NULL;
	for (struct node *n = c->buckets[h & (c->nbuckets - 1)]; n != NULL; n = n->next) {
		if (n->hash == h && n->kind == NODE_MSG && n->u.msg.folder_id == folder_id &&
		    n->u.msg.uidvalidity == uidvalidity && n->u.msg.uid == uid)
			return n;
	}
	return NULL;
}

static struct node *
find_blob(struct imap_cache *c, const char *hash)
{
	uint64_t h = blob_key(hash);

	if (c->nbuckets == 0)
		return NULL;
	for (struct node *n = c->buckets[h & (c->nbuckets - 1)]; n != NULL; n = n->next) {
		if (n->hash == h && n->kind == NODE_BLOB && strcmp(n->u.blob.hash, hash) == 0)
			return n;
	}
	return NULL;
}

const struct imap_cache_msg *
imap_cache_msg_get(struct imap_cache *c, uint64_t folder_id, uint32_t uidvalidity, uint32_t uid)
{
	struct node *n;

	if (!imap_cache_enabled(c))
		return NULL;
	n = find_msg(c, folder_id, uidvalidity, uid);
	if (n == NULL) {
		c->stats.msg_misses++;
		return NULL;
	}
	c->stats.msg_hits++;
	touch(c, n);
	return &n->u.msg;
}

/* Sizes of the strings a message entry copies, with their NULs. */
static size_t
str_cost(const char *s)
{
	return s == NULL ? 0 : strlen(s) + 1;
}

static char *
dup_or_null(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

const struct imap_cache_msg *
imap_cache_msg_put(struct imap_cache *c, uint64_t folder_id, const struct store_cache_row *row)
{
	struct node *n;
	struct imap_cache_msg *m;
	size_t cost;

	if (!imap_cache_enabled(c) || !row->cacheable || row->blob_hash == NULL ||
	    strlen(row->blob_hash) != 64)
		return NULL;
	n = find_msg(c, folder_id, row->uidvalidity, row->uid);
	if (n != NULL) {
		touch(c, n);
		return &n->u.msg;
	}
	cost = sizeof(*n) + str_cost(row->envelope) + str_cost(row->bodystructure) +
	       str_cost(row->body) + str_cost(row->partmap) + str_cost(row->preview) +
	       str_cost(row->email_id) + str_cost(row->thread_id) + str_cost(row->subject) +
	       str_cost(row->from) + str_cost(row->to) + str_cost(row->cc) + str_cost(row->bcc) +
	       (row->header != NULL ? row->header_len + 1 : 0);
	if (!make_room(c, cost))
		return NULL;
	n = xcalloc(1, sizeof(*n));
	n->kind = NODE_MSG;
	n->hash = msg_key(folder_id, row->uidvalidity, row->uid);
	n->cost = cost;
	m = &n->u.msg;
	m->folder_id = folder_id;
	m->uidvalidity = row->uidvalidity;
	m->uid = row->uid;
	m->internal_us = row->internal_us;
	m->size = row->size;
	m->envelope = dup_or_null(row->envelope);
	m->bodystructure = dup_or_null(row->bodystructure);
	m->body = dup_or_null(row->body);
	m->partmap = dup_or_null(row->partmap);
	m->preview = dup_or_null(row->preview);
	m->email_id = dup_or_null(row->email_id);
	m->thread_id = dup_or_null(row->thread_id);
	memcpy(m->blob_hash, row->blob_hash, 65);
	if (row->header != NULL) {
		m->header = xmalloc(row->header_len + 1);
		memcpy(m->header, row->header, row->header_len);
		m->header[row->header_len] = '\0';
		m->header_len = row->header_len;
		m->header_offset = row->header_offset;
	}
	m->has_sent_date = row->has_sent_date;
	m->sent_us = row->sent_us;
	m->subject = dup_or_null(row->subject);
	m->from = dup_or_null(row->from);
	m->to = dup_or_null(row->to);
	m->cc = dup_or_null(row->cc);
	m->bcc = dup_or_null(row->bcc);
	node_insert(c, n);
	return m;
}

bool
imap_cache_blob_get(struct imap_cache *c, const char *hash, const void **data_r, size_t *len_r)
{
	struct node *n;

	if (!imap_cache_enabled(c) || hash == NULL)
		return false;
	n = find_blob(c, hash);
	if (n == NULL) {
		c->stats.blob_misses++;
		return false;
	}
	c->stats.blob_hits++;
	touch(c, n);
	*data_r = n->u.blob.data;
	*len_r = n->u.blob.len;
	return true;
}

void
imap_cache_blob_put(struct imap_cache *c, const char *hash, const void *data, size_t len)
{
	struct node *n;
	size_t cost = sizeof(*n) + len + 1;

	if (!imap_cache_enabled(c) || hash == NULL || strlen(hash) != 64 ||
	    len > IMAP_CACHE_BLOB_MAX || (data == NULL && len > 0))
		return;
	n = find_blob(c, hash);
	if (n != NULL) {
		touch(c, n);
		return;
	}
	if (!make_room(c, cost))
		return;
	n = xcalloc(1, sizeof(*n));
	n->kind = NODE_BLOB;
	n->hash = blob_key(hash);
	n->cost = cost;
	memcpy(n->u.blob.hash, hash, 65);
	n->u.blob.len = len;
	n->u.blob.data = xmalloc(len + 1);
	if (len > 0)
		memcpy(n->u.blob.data, data, len);
	n->u.blob.data[len] = '\0';
	node_insert(c, n);
}

void
imap_cache_get_stats(const struct imap_cache *c, struct imap_cache_stats *stats_r)
{
	memset(stats_r, 0, sizeof(*stats_r));
	if (c == NULL)
		return;
	*stats_r = c->stats;
	stats_r->bytes = c->bytes;
	stats_r->max_bytes = c->max_bytes;
	stats_r->msgs = c->msgs;
	stats_r->blobs = c->blobs;
}

int64_t
imap_cache_seconds(int64_t us)
{
	if (us >= 0)
		return (us + 500000) / 1000000;
	return -((-us + 500000) / 1000000);
}
