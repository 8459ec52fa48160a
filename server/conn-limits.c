/* Shared connection counters (see conn-limits.h). Counts are 32-bit
 * atomics in an anonymous shared mapping inherited by the workers. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "conn-limits.h"
#include "log.h"
#include "xmalloc.h"

#define CONN_LIMITS_SLOTS 65536u

struct conn_limits {
	uint32_t *counts; /* rows x CONN_LIMITS_SLOTS, shared */
	size_t map_size;
	unsigned rows;
	bool *used;       /* master's bookkeeping, private */
	int row;          /* the worker's own row, -1 in the master */
};

static struct conn_limits *conn_limits_current;

static uint32_t conn_limits_slot(const char *key)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return (uint32_t)(h % CONN_LIMITS_SLOTS);
}

struct conn_limits *conn_limits_create(unsigned rows)
{
	struct conn_limits *limits = xcalloc(1, sizeof(*limits));

	limits->rows = rows;
	limits->map_size = (size_t)rows * CONN_LIMITS_SLOTS * sizeof(uint32_t);
	limits->counts = mmap(NULL, limits->map_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (limits->counts == MAP_FAILED) {
		log_warning("no shared memory for connection limits; they apply per worker");
		free(limits);
		return NULL;
	}
	limits->used = xcalloc(rows, sizeof(bool));
	limits->row = -1;
	return limits;
}

void conn_limits_destroy(struct conn_limits **limitsp)
{
	struct conn_limits *limits = *limitsp;

	if (limits == NULL)
		return;
	munmap(limits->counts, limits->map_size);
	free(limits->used);
	free(limits);
	if (conn_limits_current == limits)
		conn_limits_current = NULL;
	*limitsp = NULL;
}

int conn_limits_row_take(struct conn_limits *limits)
{
	for (unsigned i = 0; i < limits->rows; i++) {
		if (!limits->used[i]) {
			limits->used[i] = true;
			return (int)i;
		}
	}
	return -1;
}

void conn_limits_row_release(struct conn_limits *limits, int row)
{
	if (row < 0 || (unsigned)row >= limits->rows)
		return;
	/* The worker is gone: nobody else writes this row now. */
	memset(limits->counts + (size_t)row * CONN_LIMITS_SLOTS, 0,
	       CONN_LIMITS_SLOTS * sizeof(uint32_t));
	limits->used[row] = false;
}

void conn_limits_attach(struct conn_limits *limits, int row)
{
	if (limits == NULL || row < 0) {
		conn_limits_current = NULL;
		return;
	}
	limits->row = row;
	conn_limits_current = limits;
}

struct conn_limits *conn_limits_worker(void)
{
	return conn_limits_current;
}

int conn_limits_acquire(struct conn_limits *limits, const char *key, unsigned limit)
{
	uint32_t slot = conn_limits_slot(key);
	uint32_t *mine = &limits->counts[(size_t)limits->row * CONN_LIMITS_SLOTS + slot];
	uint64_t total = 0;

	/* Count ours first, then look: two workers racing for the last place
	 * may both see the limit passed and both refuse, never both accept. */
	__atomic_add_fetch(mine, 1, __ATOMIC_SEQ_CST);
	for (unsigned r = 0; r < limits->rows; r++)
		total += __atomic_load_n(&limits->counts[(size_t)r * CONN_LIMITS_SLOTS + slot],
					 __ATOMIC_SEQ_CST);
	if (total > limit) {
		__atomic_sub_fetch(mine, 1, __ATOMIC_SEQ_CST);
		return -1;
	}
	return 0;
}

void conn_limits_release(struct conn_limits *limits, const char *key)
{
	uint32_t *mine = &limits->counts[(size_t)limits->row * CONN_LIMITS_SLOTS +
					 conn_limits_slot(key)];

	if (__atomic_load_n(mine, __ATOMIC_SEQ_CST) > 0)
		__atomic_sub_fetch(mine, 1, __ATOMIC_SEQ_CST);
}
