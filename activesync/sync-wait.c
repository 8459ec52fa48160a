/* Sync with Wait or HeartbeatInterval (12.1+): a request with nothing to
 * report parks without a database connection, watching its folders on
 * the change-notice bus; a change makes it look again (answering when
 * there is something the device does not have), the end of the interval
 * answers empty. */
#include <event2/event.h>
#include <stdlib.h>

#include "notify.h"
#include "sync-private.h"
#include "xmalloc.h"

static void
unpark(struct sync_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nwatches; i++)
		notify_watch_remove(&ctx->watches[i]);
	ctx->nwatches = 0;
	if (ctx->wake != NULL)
		event_del(ctx->wake);
	ctx->parked = false;
}

static void
wait_timeout(evutil_socket_t fd, short what, void *vctx)
{
	struct sync_ctx *ctx = vctx;

	(void)fd;
	(void)what;
	if (!ctx->parked) {
		/* A look after a change is running: it answers. */
		ctx->timed_out = true;
		return;
	}
	unpark(ctx);
	sync_respond_empty(ctx);
}

static void
wait_wake(evutil_socket_t fd, short what, void *vctx)
{
	struct sync_ctx *ctx = vctx;

	(void)fd;
	(void)what;
	/* The watches stay: a change during the look is not missed. */
	ctx->parked = false;
	ctx->dirty = false;
	for (size_t i = 0; i < ctx->ncolls; i++) {
		struct sync_coll *c = &ctx->colls[i];

		sync_coll_clear_server(c);
		if (c->status == 1 && c->phase == SYNC_PHASE_DONE)
			c->phase = SYNC_PHASE_DIFF;
	}
	ctx->cur = 0;
	ctx->body_bytes = 0;
	sync_continue(ctx);
}

static void
wait_notify(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly, void *vctx)
{
	struct sync_ctx *ctx = vctx;
	struct timeval now = {0, 0};

	(void)account_id;
	(void)folder_id;
	(void)modseq;
	(void)possibly;
	/* Never from inside the bus's dispatch: from the loop. */
	if (ctx->parked)
		event_add(ctx->wake, &now);
	else
		ctx->dirty = true;
}

/* Parks the request until a watched folder changes or the interval ends.
 * No database connection is held meanwhile. */
bool
sync_park(struct sync_ctx *ctx)
{
	struct eas_request *req = ctx->req;
	struct timeval now = {0, 0};

	if (req->bus == NULL)
		return false;
	if (ctx->timer == NULL) {
		struct timeval tv = {(time_t)ctx->wait, 0};

		ctx->timer = evtimer_new(req->base, wait_timeout, ctx);
		ctx->wake = evtimer_new(req->base, wait_wake, ctx);
		evtimer_add(ctx->timer, &tv);
		ctx->watches = xcalloc(ctx->ncolls + 1, sizeof(*ctx->watches));
		for (size_t i = 0; i < ctx->ncolls; i++) {
			if (ctx->colls[i].status == 1)
				ctx->watches[ctx->nwatches++] =
				    notify_watch_add(req->bus, req->account_id,
				                     ctx->colls[i].folder_id, wait_notify, ctx);
		}
	}
	ctx->parked = true;
	if (ctx->dirty)
		event_add(ctx->wake, &now);
	return true;
}
