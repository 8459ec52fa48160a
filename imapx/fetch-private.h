/* Internals shared by cmd-fetch.c (the command: stages, batches, rows) and
 * fetch-body.c (serving BODY[]/BINARY items from the blob: part ranges,
 * streaming, and read-ahead of small ranges for the next rows). */
#ifndef FLOE_IMAPX_FETCH_PRIVATE_H
#define FLOE_IMAPX_FETCH_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "commands.h"
#include "fetch-items.h"
#include "message.h"

struct evbuffer;
struct fetch_ctx;

enum fetch_prefetch {
	PREFETCH_NONE,    /* served by reads when its turn comes */
	PREFETCH_PENDING, /* one read of [pf_lo, pf_lo + pf_len) in flight */
	PREFETCH_DONE,
	PREFETCH_FAILED, /* served the ordinary way, which reports the error */
};

struct fetch_row {
	struct fetch_ctx *c;
	uint32_t uid, seq;
	uint64_t modseq;
	char **flags;
	size_t nflags;
	time_t internal_date;
	uint64_t size;
	char *envelope, *bodystructure, *body, *partmap, *preview, *email_id, *thread_id;
	char *blob_hash;

	/* Per body item: where its bytes are; ranges_ok false for a corrupt
	 * part map. */
	struct message_range *ranges;
	bool ranges_ok;
	/* Read-ahead of the union of the ranges the row's items need. */
	enum fetch_prefetch pf;
	uint64_t pf_lo, pf_len;
	unsigned char *pf_data;
	struct store_op *pf_op;
};

enum fetch_stage {
	STAGE_SEEN,     /* set \Seen for non-peek body items */
	STAGE_VANISHED, /* VANISHED (EARLIER) for UID FETCH ... (CHANGEDSINCE VANISHED) */
	STAGE_BATCH,    /* ask the store for the next batch */
	STAGE_ROWS,     /* write the batch's rows */
	STAGE_DONE,
};

/* What the current body item is doing. */
enum body_state {
	BODY_START,
	BODY_STREAM,   /* literal header written; bytes flow from the blob */
	BODY_BUFFER,   /* reading a range into tmp before writing */
	BODY_PREFETCH, /* waiting for the row's read-ahead */
};

struct fetch_ctx {
	struct imap_cmd *cmd;
	struct imap_client *client;
	struct imap_view *view;
	struct imap_fetch_items items;
	bool with_uid, condstore;
	enum fetch_stage stage;

	struct seqset *uids;      /* requested, resolved against the view */
	struct seqset *seen_set;  /* UIDs whose \Seen this fetch has just set */
	struct seqset *vanish_in; /* VANISHED: the requested UIDs, "*" unbounded */
	uint32_t *targets;        /* requested UIDs the view has, ascending */
	size_t ntargets, next_target, batch_count;
	uint32_t (*batch_pairs)[2]; /* ranges of the request in flight */

	struct store_op *op;
	struct fetch_row *rows;
	size_t nrows, row, body;
	size_t pf_next; /* the next row to consider for read-ahead */
	bool row_open, need_space;
	enum body_state bstate;
	uint64_t pos, end; /* blob range left to stream or buffer */
	bool stream_binary;
	struct evbuffer *tmp;

	/* fetch-cache.c: the batches come from the worker's message cache
	 * (misses from store_fetch_cache), flags from the view when exact. */
	bool cached;
	bool cache_flags; /* FLAGS or MODSEQ are asked */
	bool cache_blob;  /* body items need more than the header block */
	int cache_exact;  /* -1: not known yet; 1: flags from the view */
	bool catching_up; /* imap_view_catch_up in progress */

	bool in_exec, sync_done;
	bool missing;
	const char *fail_code; /* response code of a failure mid-way, or NULL */
};

/* cmd-fetch.c: runs the next stage (called again after every wait). */
void fetch_continue(struct fetch_ctx *c);
/* cmd-fetch.c: the space before every item but the first. */
void fetch_item_sep(struct fetch_ctx *c);

/* fetch-cache.c: decides at the start of the command whether its batches
 * come from the message cache (sets c->cached). */
void fetch_cache_init(struct fetch_ctx *c);
/* fetch-cache.c: the next batch in cache mode. Returns true when it waits
 * (a barrier or a store query; it calls fetch_continue itself), false
 * when the rows are ready (stage STAGE_ROWS). */
bool fetch_cache_batch(struct fetch_ctx *c);
/* fetch-cache.c: abandons what is in flight. */
void fetch_cache_cleanup(struct fetch_ctx *c);

/* fetch-body.c: after a batch arrived, computes each row's ranges and
 * starts reading ahead. */
void fetch_body_prepare(struct fetch_ctx *c);
/* fetch-body.c: more read-ahead once a row has been written. */
void fetch_body_prefetch(struct fetch_ctx *c);
/* fetch-body.c: writes body item c->body of row r. Returns true when it
 * was written at once; false when it continues asynchronously (it then
 * moves to the next item and calls fetch_continue itself). */
bool fetch_body_start(struct fetch_ctx *c, struct fetch_row *r);
/* fetch-body.c: frees a row's body state and abandons its read-ahead. */
void fetch_body_row_free(struct fetch_row *r);

#endif
