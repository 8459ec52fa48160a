/* RETR and TOP: the message streams from its blob in POP3_CHUNK reads, each
 * started once the client has taken most of the previous one, byte-stuffed
 * on the way (pop3-format.c); the message is never held whole in memory.
 * Errors before the first byte get -ERR; a failure in the middle of a
 * message can only close the connection. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pop3-private.h"
#include "store.h"
#include "xmalloc.h"

struct pop3_transfer {
	size_t index; /* into s->msgs */
	bool top;
	struct pop3_stuffer st;
	uint64_t offset;
	bool started; /* the +OK line is out */
	bool waiting; /* for the output to drain */
};

static void transfer_read(struct pop3_session *s);

void
pop3_transfer_free(struct pop3_session *s)
{
	free(s->xfer);
	s->xfer = NULL;
}

static void
transfer_end(struct pop3_session *s)
{
	pop3_transfer_free(s);
	pop3_session_command_done(s);
}

static void
transfer_data(const void *data, size_t len, enum store_err code, const char *error, void *ctx)
{
	struct pop3_session *s = ctx;
	struct pop3_transfer *x = s->xfer;
	struct pop3_msg *m = &s->msgs[x->index];
	struct evbuffer *out = pop3_session_output(s);
	bool done;

	s->op = NULL;
	if (data == NULL) {
		log_warning("pop3 %s: reading uid %u of %s: %s", s->peer, m->uid, s->address,
		            error != NULL ? error : "unknown error");
		if (x->started) {
			/* Part of the message is out: the client must not take it
			 * for the whole. */
			pop3_session_disconnect(s, NULL);
		} else if (code == STORE_ERR_NOT_FOUND) {
			pop3_err(s, "Message %zu was removed by another session", x->index + 1);
		} else {
			pop3_err(s, "[SYS/TEMP] Cannot read message %zu; try again later",
			         x->index + 1);
		}
		transfer_end(s);
		return;
	}
	if (!x->started) {
		if (x->top)
			pop3_ok(s, "Top of message %zu follows", x->index + 1);
		else
			pop3_ok(s, "%llu octets", (unsigned long long)m->size);
		x->started = true;
	}
	done = pop3_stuffer_feed(&x->st, data, len, out);
	x->offset += len;
	if (done || len < POP3_CHUNK) {
		pop3_stuffer_finish(&x->st, out);
		if (!x->top)
			m->retrieved = true;
		transfer_end(s);
		return;
	}
	if (pop3_session_output_pending(s) > POP3_OUTPUT_HIGH) {
		x->waiting = true;
		return;
	}
	transfer_read(s);
}

static void
transfer_read(struct pop3_session *s)
{
	static const char digits[] = "0123456789abcdef";
	struct pop3_transfer *x = s->xfer;
	const struct pop3_msg *m = &s->msgs[x->index];
	char hex[65] = "";

	/* An empty hash is refused by the store: -ERR for this message. */
	if (m->has_hash) {
		for (size_t i = 0; i < 32; i++) {
			hex[2 * i] = digits[m->hash[i] >> 4];
			hex[2 * i + 1] = digits[m->hash[i] & 15];
		}
		hex[64] = '\0';
	}
	s->op = store_blob_read(pop3_server_store(s->server), s->account_id, s->folder_id, hex,
	                        x->offset, POP3_CHUNK, transfer_data, s);
}

void
pop3_transfer_resume(struct pop3_session *s)
{
	if (s->xfer == NULL || !s->xfer->waiting || s->closing)
		return;
	s->xfer->waiting = false;
	transfer_read(s);
}

static void
transfer_start(struct pop3_session *s, size_t index, bool top, uint64_t lines)
{
	struct pop3_transfer *x = xcalloc(1, sizeof(*x));

	x->index = index;
	x->top = top;
	pop3_stuffer_init(&x->st, top, lines);
	s->xfer = x;
	s->busy = true;
	transfer_read(s);
}

void
pop3_cmd_retr(struct pop3_session *s, const char *args)
{
	size_t i;

	if (pop3_msg_arg(s, args, &i) < 0)
		return;
	transfer_start(s, i, false, 0);
}

void
pop3_cmd_top(struct pop3_session *s, const char *args)
{
	const char *sp = strchr(args, ' ');
	uint64_t lines;
	char *num;
	size_t i;
	int ret;

	if (sp == NULL || pop3_parse_number(sp + 1, UINT64_MAX / 2, &lines) < 0) {
		pop3_bad(s, "Usage: TOP message lines");
		return;
	}
	num = xstrndup(args, (size_t)(sp - args));
	ret = pop3_msg_arg(s, num, &i);
	free(num);
	if (ret < 0)
		return;
	transfer_start(s, i, true, lines);
}
