/* The Sync command's request context, shared by sync.c (request, state,
 * server changes, response, Wait) and sync-client.c (the client's Add,
 * Change, Delete and Fetch). */
#ifndef FLOE_EAS_SYNC_PRIVATE_H
#define FLOE_EAS_SYNC_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail-private.h"
#include "store-eassync.h"

struct event;
struct notify_watch;
struct store_op;

/* Growing arrays. */
struct u32vec {
	uint32_t *v;
	size_t n, cap;
};
struct u64vec {
	uint64_t *v;
	size_t n, cap;
};
void u32vec_add(struct u32vec *a, uint32_t x);
void u64vec_add(struct u64vec *a, uint64_t x);
void u32vec_free(struct u32vec *a);
void u64vec_free(struct u64vec *a);

/* A device's view changes: UIDs it no longer has, UIDs it has at a modseq. */
struct sync_delta {
	struct u32vec del;
	struct u32vec up;
	struct u64vec up_modseq;
};
void sync_delta_up(struct sync_delta *d, uint32_t uid, uint64_t modseq);
void sync_delta_free(struct sync_delta *d);
/* d as the store wants it (pointers into d). */
struct store_eassync_delta sync_delta_view(const struct sync_delta *d);

/* One entry of Responses. */
struct sync_response {
	char kind;       /* 'A' add, 'C' change, 'D' delete, 'F' fetch */
	char *client_id; /* Add */
	char *server_id;
	unsigned status;
	size_t item; /* Fetch with Status 1: index into coll->items */
};

enum sync_phase {
	SYNC_PHASE_ADDS,
	SYNC_PHASE_CHANGES,
	SYNC_PHASE_DELETES,
	SYNC_PHASE_DIFF,
	SYNC_PHASE_LOAD,
	SYNC_PHASE_DONE,
};

struct sync_coll {
	/* from the request (or the cached request) */
	uint64_t folder_id;
	char *key_text;
	char generation[40];
	uint32_t key;         /* 0: initial */
	bool use_current_key; /* from the cache of an empty/partial request */
	bool get_changes;
	unsigned window;
	bool deletes_as_moves;
	unsigned conflict; /* 0 client wins, 1 server wins */
	struct eas_mail_options opts;
	bool options_given;
	bool options_changed; /* differ from the saved ones */
	const struct wbxml_node *commands;
	/* state */
	unsigned status; /* collection Status (1 ok) */
	bool is_trash;
	uint32_t uidvalidity;
	char *state_generation;
	uint32_t current_key;
	bool replay;
	uint32_t new_key;
	enum sync_phase phase;
	/* the client's commands and their outcome */
	struct sync_response *responses;
	size_t nresponses, cap_responses;
	struct sync_delta client; /* kept for a replay */
	struct u32vec fetch;      /* UIDs to send in Responses/Fetch */
	size_t cmd_index;         /* progress through Commands */
	/* the server's changes */
	struct store_eassync_change *changes;
	size_t nchanges;
	bool more;
	uint64_t highestmodseq;
	struct eas_mail_item *items; /* adds, then fetches, with bodies */
	size_t nitems;
	struct eas_mail_item *citems; /* changes, flags only */
	size_t ncitems;
	struct sync_delta server; /* changes the response sends */
	struct sync_delta sadds;  /* messages the response adds (up only) */
	bool reset;               /* SyncKey 0 answered */
	/* The diff's walk down the UIDs, for the new key's add cursor (see
	 * store_eassync_diff_result). */
	bool diffed;
	uint64_t cursor_old;
	bool walk_done, changes_complete;
	size_t nwalk_rows;      /* walk adds the diff returned */
	bool nonwalk_selected;  /* every other change fits the window */
	struct u32vec deferred; /* adds left for later (response size) */
};

struct sync_ctx {
	struct eas_request *req;
	struct sync_coll *colls;
	size_t ncolls;
	unsigned status; /* top-level Status (0: none) */
	unsigned limit;  /* with Status 14 */
	unsigned wait;   /* seconds of Wait / HeartbeatInterval, 0: none */
	bool partial;
	bool had_commands;     /* the request carried client commands */
	unsigned total_window; /* top-level WindowSize, 0: none */
	size_t cur;
	struct store_op *op;
	struct eas_mail_load *load;
	char *last_request; /* cached request JSON as loaded */
	uint64_t trash_id;
	size_t body_bytes; /* bodies written so far */
	/* Wait */
	bool parked;
	bool dirty;     /* a change arrived while not parked */
	bool timed_out; /* the interval ended while not parked */
	struct notify_watch **watches;
	size_t nwatches;
	struct event *timer;
	struct event *wake;
	/* sync-client.c work area */
	struct store_eassync_item_state *states;
	size_t nstates, state_index;
	struct eas_flag_change *fchanges; /* parallel to the Change elements */
	char **fserver_ids;
	uint32_t *fuids;
	size_t nfchanges;
};

/* sync-client.c: runs the client commands of ctx->colls[ctx->cur] from
 * its phase (ADDS, CHANGES, DELETES), then calls sync_continue. */
void sync_client_commands(struct sync_ctx *ctx);
void sync_client_clear(struct sync_ctx *ctx);
void sync_response_add(struct sync_coll *c, char kind, const char *client_id, const char *server_id,
                       unsigned status);

/* sync.c: goes on with the current collection's next phase. */
void sync_continue(struct sync_ctx *ctx);
/* Frees the context (abandoning what is in flight). */
void sync_ctx_free(struct sync_ctx *ctx);
void sync_coll_clear_server(struct sync_coll *c);
/* Answers empty (HTTP 200 without a body), caching the request first
 * when it changed; frees ctx. */
void sync_respond_empty(struct sync_ctx *ctx);

/* sync-response.c: each answers and frees ctx. */
void sync_respond_status(struct sync_ctx *ctx, unsigned status);
void sync_respond_full(struct sync_ctx *ctx);
/* Ends the request with a server error (Status 5 for every collection
 * not answered). */
void sync_fail(struct sync_ctx *ctx, const char *error);
/* The loaded item of uid (items from index from on), or NULL. */
const struct eas_mail_item *sync_find_item(const struct sync_coll *c, uint32_t uid, size_t from);
const struct eas_mail_item *sync_find_citem(const struct sync_coll *c, uint32_t uid);

/* sync-request.c: parses the request body into ctx (0), or sets
 * ctx->status and returns -1. */
int sync_parse_request(struct sync_ctx *ctx);
/* Adds the collections of the cached request the request does not name;
 * -1 when nothing is cached. */
int sync_merge_cache(struct sync_ctx *ctx, const char *cached);
/* The request cache JSON of ctx (newly allocated). */
char *sync_request_json(const struct sync_ctx *ctx);
/* The outcome of a collection's client commands for a replay, and back. */
char *sync_replay_json(const struct sync_coll *c);
void sync_replay_load(struct sync_coll *c, const char *replay);

/* sync-wait.c: parks ctx until a change or the end of ctx->wait; false
 * when it cannot (no change-notice bus). */
bool sync_park(struct sync_ctx *ctx);

#endif
