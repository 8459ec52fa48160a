/* The change-notice bus's index: notice payloads, and the hash index from
 * (account, folder) to the watches that parked requests (EAS Ping, IMAP
 * IDLE, views of selected mailboxes) registered. Callbacks may add and
 * remove watches while a notice is being dispatched. */
#include "notify-private.h"

#include <assert.h>
#include <stdlib.h>

#include "xmalloc.h"

/* --- Payloads --- */

static const char *
parse_u64(const char *p, uint64_t *value_r)
{
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return NULL;
		v = v * 10 + d;
	}
	*value_r = v;
	return p;
}

static const char *
skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int
notify_parse_payload(const char *payload, uint64_t *account_id_r, uint64_t *folder_id_r,
                     uint64_t *modseq_r)
{
	uint64_t v[3];
	const char *p = payload;

	if (p == NULL)
		return -1;
	p = skip_blanks(p);
	for (int i = 0; i < 3; i++) {
		const char *end;

		if (i > 0) {
			end = skip_blanks(p);
			if (end == p)
				return -1; /* numbers must be separated */
			p = end;
		}
		p = parse_u64(p, &v[i]);
		if (p == NULL)
			return -1;
	}
	p = skip_blanks(p);
	if (*p != '\0')
		return -1;
	*account_id_r = v[0];
	*folder_id_r = v[1];
	*modseq_r = v[2];
	return 0;
}

/* --- The watch index --- */

static size_t
key_hash(uint64_t account_id, uint64_t folder_id)
{
	uint64_t h = account_id * 0x9e3779b97f4a7c15ULL ^ (folder_id + 0x632be59bd9b4e019ULL);

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (size_t)h;
}

static void
chain_insert(struct notify_bus *bus, struct notify_watch *w)
{
	size_t i = key_hash(w->account_id, w->folder_id) & (bus->nbuckets - 1);

	w->prev = NULL;
	w->next = bus->buckets[i];
	if (w->next != NULL)
		w->next->prev = w;
	bus->buckets[i] = w;
}

static void
chain_remove(struct notify_bus *bus, struct notify_watch *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		bus->buckets[key_hash(w->account_id, w->folder_id) & (bus->nbuckets - 1)] = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

static void
index_resize(struct notify_bus *bus, size_t nbuckets)
{
	struct notify_watch **old = bus->buckets;
	size_t old_n = bus->nbuckets;

	bus->buckets = xcalloc(nbuckets, sizeof(*bus->buckets));
	bus->nbuckets = nbuckets;
	for (size_t i = 0; i < old_n; i++) {
		struct notify_watch *w = old[i], *next;

		for (; w != NULL; w = next) {
			next = w->next;
			chain_insert(bus, w);
		}
	}
	free(old);
}

struct notify_watch *
notify_watch_add(struct notify_bus *bus, uint64_t account_id, uint64_t folder_id, notify_fn *cb,
                 void *ctx)
{
	struct notify_watch *w = xcalloc(1, sizeof(*w));

	/* Chains are walked during a dispatch, so only grow outside one. */
	if (bus->dispatching == 0 && bus->count >= bus->nbuckets * 2)
		index_resize(bus, bus->nbuckets * 2);
	w->bus = bus;
	w->account_id = account_id;
	w->folder_id = folder_id;
	w->cb = cb;
	w->ctx = ctx;
	w->serial = ++bus->serial;
	chain_insert(bus, w);
	bus->count++;
	return w;
}

void
notify_watch_remove(struct notify_watch **watchp)
{
	struct notify_watch *w = *watchp;
	struct notify_bus *bus;

	if (w == NULL)
		return;
	*watchp = NULL;
	bus = w->bus;
	assert(!w->removed);
	bus->count--;
	if (bus->dispatching > 0) {
		/* A dispatch may be standing on it: unchain it afterwards. */
		w->removed = true;
		w->cb = NULL;
		w->dead_next = bus->dead;
		bus->dead = w;
		return;
	}
	chain_remove(bus, w);
	free(w);
}

static void
dispatch_end(struct notify_bus *bus)
{
	struct notify_watch *w;

	if (--bus->dispatching > 0)
		return;
	while ((w = bus->dead) != NULL) {
		bus->dead = w->dead_next;
		chain_remove(bus, w);
		free(w);
	}
	if (bus->count >= bus->nbuckets * 2)
		index_resize(bus, bus->nbuckets * 2);
}

static void
call_key(struct notify_bus *bus, uint64_t account_id, uint64_t key_folder_id, uint64_t folder_id,
         uint64_t modseq, uint64_t limit)
{
	size_t i = key_hash(account_id, key_folder_id) & (bus->nbuckets - 1);

	for (struct notify_watch *w = bus->buckets[i]; w != NULL; w = w->next) {
		if (w->removed || w->serial > limit || w->account_id != account_id ||
		    w->folder_id != key_folder_id)
			continue;
		w->cb(account_id, folder_id, modseq, false, w->ctx);
	}
}

static void
bus_dispatch(struct notify_bus *bus, uint64_t account_id, uint64_t folder_id, uint64_t modseq)
{
	uint64_t limit = bus->serial;

	bus->dispatching++;
	call_key(bus, account_id, folder_id, folder_id, modseq, limit);
	if (folder_id != 0)
		call_key(bus, account_id, 0, folder_id, modseq, limit);
	dispatch_end(bus);
}

int
notify_bus_dispatch(struct notify_bus *bus, const char *payload)
{
	uint64_t account_id, folder_id, modseq;

	if (notify_parse_payload(payload, &account_id, &folder_id, &modseq) < 0)
		return -1;
	bus_dispatch(bus, account_id, folder_id, modseq);
	return 0;
}

void
notify_bus_wake_all(struct notify_bus *bus)
{
	uint64_t limit = bus->serial;

	bus->dispatching++;
	for (size_t i = 0; i < bus->nbuckets; i++) {
		for (struct notify_watch *w = bus->buckets[i]; w != NULL; w = w->next) {
			if (w->removed || w->serial > limit)
				continue;
			w->cb(w->account_id, w->folder_id, 0, true, w->ctx);
		}
	}
	dispatch_end(bus);
}

size_t
notify_bus_watch_count(const struct notify_bus *bus)
{
	return bus->count;
}
