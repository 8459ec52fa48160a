/* IDLE (RFC 2177): reports changes to the selected mailbox as they happen.
 * The view watches the change-notice bus; while idling, a notice refreshes
 * it and the updates go out at once. Changes that landed just before IDLE
 * are reported by a refresh when it starts (none when a barrier on the bus
 * shows that nothing changed). "* OK Still here" every
 * [imap] idle_keepalive; the client's "DONE" ends it. */
#include <event2/event.h>
#include <stdlib.h>
#include <strings.h>

#include "commands.h"
#include "config.h"
#include "imap-client-private.h"
#include "xmalloc.h"

struct idle_ctx {
	struct event *keepalive;
};

static void
idle_keepalive(evutil_socket_t fd, short what, void *context)
{
	struct imap_cmd *cmd = context;

	imap_client_untagged(cmd->client, "OK Still here");
	imap_client_flush(cmd->client);
}

static void
idle_line(struct imap_cmd *cmd, const char *line, size_t len)
{
	struct imap_view *view = imap_client_view(cmd->client);

	if (view != NULL)
		imap_view_set_live(view, false);
	if (strcasecmp(line, "DONE") == 0)
		imap_cmd_ok(cmd, "IDLE terminated");
	else
		imap_cmd_bad(cmd, "Expected DONE to end IDLE");
	imap_cmd_finish(cmd);
}

static void
idle_cleanup(struct imap_cmd *cmd)
{
	struct idle_ctx *ctx = cmd->ctx;
	struct imap_view *view = imap_client_view(cmd->client);

	if (view != NULL)
		imap_view_set_live(view, false);
	if (ctx != NULL) {
		event_free(ctx->keepalive);
		free(ctx);
		cmd->ctx = NULL;
	}
}

enum imap_cmd_result
cmd_idle(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	struct imap_view *view = imap_client_view(c);
	unsigned ms = imap_client_config(c)->imap.idle_keepalive_ms;
	struct idle_ctx *ctx;

	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "IDLE takes no arguments");
		return IMAP_CMD_DONE;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	cmd->ctx = ctx;
	cmd->cleanup = idle_cleanup;
	ctx->keepalive = event_new(imap_client_base(c), -1, EV_PERSIST, idle_keepalive, cmd);
	if (ms > 0) {
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

		event_add(ctx->keepalive, &tv);
	}
	imap_client_printf(c, "+ idling\r\n");
	imap_client_flush(c);
	if (view != NULL) {
		/* Live: the view flushes what each refresh reports. */
		imap_view_set_live(view, true);
		imap_view_refresh_if_changed(view, NULL, NULL);
	}
	imap_client_read_line(c, idle_line);
	return IMAP_CMD_ASYNC;
}
