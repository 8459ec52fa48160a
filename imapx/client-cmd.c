/* The session's input loop and command dispatch: parses what the client
 * sent, one command at a time, decides on literals (refusing oversized
 * ones before they are read), answers parse errors, applies the command
 * rate and bad-command limits, runs commands from the table and writes
 * their tagged replies after the updates the session owes. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "client-internal.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "xmalloc.h"

static void client_cmd_complete(struct imap_client *c);

void
imap_client_cmd_free(struct client_cmd *cc)
{
	if (cc->pub.cleanup != NULL)
		cc->pub.cleanup(&cc->pub);
	free(cc->tag);
	free(cc->status);
	free(cc->text);
	free(cc);
}

void
imap_cmd_reply(struct imap_cmd *cmd, const char *status, const char *fmt, ...)
{
	struct client_cmd *cc = client_cmd_of(cmd);
	va_list ap;

	free(cc->status);
	free(cc->text);
	cc->status = xstrdup(status);
	va_start(ap, fmt);
	cc->text = xvasprintf(fmt, ap);
	va_end(ap);
}

const char *
imap_cmd_status(const struct imap_cmd *cmd)
{
	return client_cmd_of((struct imap_cmd *)cmd)->status;
}

void
imap_cmd_after_reply(struct imap_cmd *cmd, imap_cmd_after_fn *fn)
{
	client_cmd_of(cmd)->after = fn;
}

void
imap_client_read_line(struct imap_client *c, imap_client_line_fn *fn)
{
	c->line_fn = fn;
	if (!c->processing)
		event_active(c->resume_ev, EV_TIMEOUT, 0);
}

void
imap_cmd_literal_stream(struct imap_cmd *cmd, imap_parser_sink_fn *sink, void *ctx)
{
	imap_parser_literal_stream(cmd->client->parser, sink, ctx);
}

static struct client_cmd *
client_cmd_new(struct imap_client *c, const char *tag)
{
	struct client_cmd *cc = xcalloc(1, sizeof(*cc));

	cc->tag = xstrdup(tag != NULL ? tag : "*");
	cc->pub.client = c;
	cc->pub.tag = cc->tag;
	cc->pub.name = cc->name;
	return cc;
}

static void
client_cmd_set_def(struct client_cmd *cc, const struct imap_command_def *def, bool uid)
{
	cc->pub.def = def;
	cc->pub.uid = uid;
	snprintf(cc->name, sizeof(cc->name), "%s", def->name);
}

static void
client_refresh_done(void *ctx)
{
	client_cmd_complete(ctx);
}

void
imap_cmd_finish(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	const struct imap_command_def *def = cmd->def;

	if (!c->closing && c->view != NULL && def != NULL &&
	    (def->flags & IMAP_CMD_FLAG_NO_UPDATES) == 0 &&
	    ((def->flags & IMAP_CMD_FLAG_REFRESH) != 0 || c->selected_changed ||
	     imap_view_is_dirty(c->view) || imap_view_refreshing(c->view))) {
		/* NOOP and CHECK when nothing is known to have changed: a barrier
		 * on the notice bus tells whether the store must be asked. */
		bool full = c->selected_changed || imap_view_is_dirty(c->view) ||
		            imap_view_refreshing(c->view);

		c->selected_changed = false;
		if (full)
			imap_view_refresh(c->view, client_refresh_done, c);
		else
			imap_view_refresh_if_changed(c->view, client_refresh_done, c);
		return;
	}
	client_cmd_complete(c);
}

/* Writes the tagged reply of the current command, runs its after-reply
 * hook, frees it and lets the session go on with the next command. */
static void
client_cmd_complete(struct imap_client *c)
{
	struct client_cmd *cc = c->cmd;

	if (cc->status == NULL) {
		log_error("imap %s: command %s ended without a reply", c->peer, cc->name);
		imap_cmd_reply(&cc->pub, "NO", "[SERVERBUG] Internal error");
	}
	evbuffer_add_printf(c->out, "%s %s %s\r\n", cc->tag, cc->status, cc->text);
	if (strcmp(cc->status, "BAD") == 0)
		c->bad_count++;
	else
		c->bad_count = 0;
	imap_client_flush(c);
	if (cc->after != NULL)
		cc->after(&cc->pub);
	c->cmd = NULL;
	c->line_fn = NULL;
	imap_client_cmd_free(cc);
	if (c->closing)
		return;
	if (c->bad_count >= CLIENT_MAX_BAD) {
		imap_client_disconnect(c, "Too many invalid commands");
		return;
	}
	if (c->shutdown_pending) {
		imap_client_disconnect(c, "Server shutting down");
		return;
	}
	if (!c->processing)
		event_active(c->resume_ev, EV_TIMEOUT, 0);
}

/* An answer given without running the command (bad name, wrong state). */
static void
client_cmd_reject(struct imap_client *c, struct client_cmd *cc, const char *status,
                  const char *text)
{
	c->cmd = cc;
	imap_cmd_reply(&cc->pub, status, "%s", text);
	client_cmd_complete(c);
}

/* Drops a command begun by a literal hook whose parse failed. */
static void
client_cmd_drop(struct imap_client *c)
{
	if (c->cmd != NULL) {
		struct client_cmd *cc = c->cmd;

		c->cmd = NULL;
		imap_client_cmd_free(cc);
	}
	c->cmd_parsing = false;
}

static const char *
client_state_error(const struct imap_client *c, const struct imap_command_def *def)
{
	if ((def->states & c->state) != 0)
		return NULL;
	if (c->state == IMAP_STATE_NOT_AUTH)
		return "Please authenticate first";
	if (def->states == IMAP_STATE_NOT_AUTH)
		return "Already authenticated";
	if ((def->states & IMAP_STATE_SELECTED) != 0)
		return "No mailbox selected";
	return "Command not valid in this state";
}

/* Runs the current command once its rights on the selected mailbox are
 * known to be enough (RFC 4314 4). */
static void
client_exec(struct imap_client *c)
{
	struct client_cmd *cc = c->cmd;
	const struct imap_command_def *def = cc->pub.def;

	if (c->state == IMAP_STATE_SELECTED && c->view != NULL &&
	    (def->rights != 0 || def->rights_any != 0)) {
		unsigned rights = imap_view_rights(c->view);

		if (!acl_has(rights, def->rights) ||
		    (def->rights_any != 0 && (rights & def->rights_any) == 0)) {
			imap_cmd_no(&cc->pub, "[NOPERM] You lack the rights to %s in this mailbox",
			            def->name);
			imap_cmd_finish(&cc->pub);
			return;
		}
	}
	if (def->exec(&cc->pub) == IMAP_CMD_DONE)
		imap_cmd_finish(&cc->pub);
}

static void
client_rights_checked(void *ctx)
{
	client_exec(ctx);
}

static void
client_command(struct imap_client *c)
{
	const struct imap_command *pc = imap_parser_command(c->parser);
	const struct imap_arg *args = pc->args;
	size_t count = pc->count;
	const char *name = pc->name, *err;
	const struct imap_command_def *def;
	struct client_cmd *cc;
	bool uid = false;

	cc = c->cmd != NULL ? c->cmd : client_cmd_new(c, pc->tag);
	c->cmd = NULL;
	c->cmd_parsing = false;
	if (strcasecmp(name, "UID") == 0) {
		if (count == 0 || args[0].type != IMAP_ARG_ATOM) {
			client_cmd_reject(c, cc, "BAD", "Missing command name after UID");
			return;
		}
		uid = true;
		name = args[0].str;
		args++;
		count--;
	}
	def = imap_command_find(name);
	if (def == NULL) {
		client_cmd_reject(c, cc, "BAD", "Unknown command");
		return;
	}
	client_cmd_set_def(cc, def, uid);
	if (uid && (def->flags & IMAP_CMD_FLAG_UID) == 0) {
		client_cmd_reject(c, cc, "BAD", "This command takes no UID prefix");
		return;
	}
	if ((err = client_state_error(c, def)) != NULL) {
		client_cmd_reject(c, cc, "BAD", err);
		return;
	}
	cc->pub.args = args;
	cc->pub.count = count;
	c->cmd = cc;
	/* Another account's folder: its owner may have changed the ACL since
	 * the last command, so a command of the selected state reads the
	 * rights again first (one small query; own folders need none). */
	if (c->state == IMAP_STATE_SELECTED && c->view != NULL && imap_view_shared(c->view) &&
	    (def->states & IMAP_STATE_AUTH) == 0) {
		imap_view_check_rights(c->view, client_rights_checked, c);
		return;
	}
	client_exec(c);
}

static void
client_literal(struct imap_client *c)
{
	const struct imap_parser_literal *lit = imap_parser_literal(c->parser);
	const char *name = lit->name, *err = NULL;
	const struct imap_command_def *def = NULL;
	bool uid = false, append;
	uint64_t limit;

	if (name != NULL && strcasecmp(name, "UID") == 0) {
		uid = true;
		name =
		    lit->count > 0 && lit->args[0].type == IMAP_ARG_ATOM ? lit->args[0].str : NULL;
	}
	if (name != NULL)
		def = imap_command_find(name);
	if (def == NULL)
		err = "Unknown command";
	else if (uid && (def->flags & IMAP_CMD_FLAG_UID) == 0)
		err = "This command takes no UID prefix";
	else
		err = client_state_error(c, def);
	if (err != NULL) {
		/* Not worth reading: its command will fail anyway. */
		imap_parser_literal_refuse(c->parser);
		client_cmd_drop(c);
		client_cmd_reject(c, client_cmd_new(c, lit->tag), "BAD", err);
		return;
	}
	append = strcmp(def->name, "APPEND") == 0;
	limit = append ? c->cfg->imap.max_literal_size : c->cfg->imap.max_line_length;
	if (lit->size > limit) {
		struct client_cmd *cc = client_cmd_new(c, lit->tag);
		char text[96];

		imap_parser_literal_refuse(c->parser);
		client_cmd_drop(c);
		if (append)
			snprintf(text, sizeof(text),
			         "[TOOBIG] Message too large (APPENDLIMIT=%llu)",
			         (unsigned long long)limit);
		else
			snprintf(text, sizeof(text), "[TOOBIG] Literal too large (max %llu bytes)",
			         (unsigned long long)limit);
		client_cmd_reject(c, cc, append ? "NO" : "BAD", text);
		if (!lit->sync && imap_parser_skip_pending(c->parser) > CLIENT_SKIP_MAX)
			imap_client_disconnect(c, "[TOOBIG] Literal too large");
		return;
	}
	if (def->literal != NULL) {
		enum imap_literal_action action;

		if (c->cmd == NULL) {
			c->cmd = client_cmd_new(c, lit->tag);
			client_cmd_set_def(c->cmd, def, uid);
			c->cmd_parsing = true;
		}
		action = def->literal(&c->cmd->pub, lit);
		if (action == IMAP_LITERAL_REFUSE) {
			imap_parser_literal_refuse(c->parser);
			c->cmd_parsing = false;
			client_cmd_complete(c);
			return;
		}
		if (action == IMAP_LITERAL_BUFFER)
			imap_parser_literal_buffer(c->parser);
	} else {
		imap_parser_literal_buffer(c->parser);
	}
	if (lit->sync) {
		evbuffer_add_printf(c->out, "+ OK\r\n");
		imap_client_flush(c);
	}
}

static void
client_parse_error(struct imap_client *c)
{
	const char *tag = imap_parser_tag(c->parser);
	const char *msg = imap_parser_error(c->parser);
	enum imap_parser_error_kind kind = imap_parser_error_kind(c->parser);

	client_cmd_drop(c);
	if (kind == IMAP_PARSER_ERROR_SINK) {
		evbuffer_add_printf(c->out, "%s NO %s\r\n", tag != NULL ? tag : "*", msg);
		return;
	}
	evbuffer_add_printf(c->out, "%s BAD %s%s\r\n", tag != NULL ? tag : "*",
	                    kind == IMAP_PARSER_ERROR_TOOBIG ? "[TOOBIG] " : "", msg);
	if (++c->bad_count >= CLIENT_MAX_BAD)
		imap_client_disconnect(c, "Too many invalid commands");
}

/* Token bucket of [imap] commands_per_second. Returns false (and arms the
 * timer that resumes reading) when the client must wait. */
static bool
client_rate_take(struct imap_client *c)
{
	unsigned rate = c->cfg->imap.commands_per_second;
	struct timeval now, tv;
	double elapsed, wait;

	if (rate == 0)
		return true;
	evutil_gettimeofday(&now, NULL);
	elapsed = (double)(now.tv_sec - c->token_time.tv_sec) +
	          (double)(now.tv_usec - c->token_time.tv_usec) / 1e6;
	c->token_time = now;
	if (elapsed > 0)
		c->tokens += elapsed * rate;
	if (c->tokens > rate)
		c->tokens = rate;
	if (c->tokens >= 1) {
		c->tokens -= 1;
		return true;
	}
	wait = (1 - c->tokens) / rate;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6) + 1000;
	evtimer_add(c->rate_ev, &tv);
	return false;
}

/* Delivers one raw line to the running command. Returns true if it did. */
static bool
client_deliver_line(struct imap_client *c, struct evbuffer *in)
{
	imap_client_line_fn *fn = c->line_fn;
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);

	if (line == NULL) {
		if (evbuffer_get_length(in) > c->cfg->imap.max_line_length)
			imap_client_disconnect(c, "[TOOBIG] Line too long");
		return false;
	}
	c->line_fn = NULL;
	fn(&c->cmd->pub, line, len);
	free(line);
	return true;
}

void
imap_client_process(struct imap_client *c)
{
	struct evbuffer *in;

	if (c->closing || c->processing)
		return;
	c->processing = true;
	while (!c->closing) {
		if (c->zin != NULL && imap_client_inflate(c) < 0) {
			imap_client_disconnect(c, "Invalid compressed data");
			break;
		}
		in = imap_client_input(c);
		if (c->cmd != NULL && !c->cmd_parsing) {
			if (c->line_fn == NULL || !client_deliver_line(c, in))
				break;
			continue;
		}
		if (evbuffer_get_length(in) == 0)
			break;
		if (imap_client_output_pending(c) > CLIENT_OUTPUT_HIGH) {
			c->blocked_on_output = true;
			break;
		}
		if (!imap_parser_in_command(c->parser) && !client_rate_take(c))
			break;
		switch (imap_parser_parse(c->parser, in)) {
		case IMAP_PARSER_NEED_MORE:
			if (c->zin != NULL &&
			    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
				continue;
			goto out;
		case IMAP_PARSER_LITERAL:
			client_literal(c);
			break;
		case IMAP_PARSER_ERROR:
			client_parse_error(c);
			break;
		case IMAP_PARSER_COMMAND:
			client_command(c);
			break;
		}
	}
out:
	c->processing = false;
	imap_client_flush(c);
}
