/* Serving FETCH body items (BODY[section]<partial>, RFC822.*, BINARY,
 * BINARY.SIZE) from the message blob. Large ranges stream in 256 KiB
 * reads that wait for the client to keep up; HEADER.FIELDS and BINARY of
 * encoded parts read their range into memory to filter or decode it. For
 * rows whose items need at most 256 KiB in all, one read per row is started
 * ahead for the next few rows, so that "FETCH 1:* BODY.PEEK[HEADER...]"
 * does not wait for one database round trip per message. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "fetch-private.h"
#include "log.h"
#include "xmalloc.h"

#define FETCH_CHUNK (256 * 1024)
/* A header block or a part BINARY decodes is read into memory; beyond
 * this the message is too odd to serve that way. */
#define FETCH_MAX_BUFFERED (256ULL * 1024 * 1024)
/* Read-ahead: rows at most this far ahead of the one being written, each
 * needing at most PREFETCH_MAX bytes. */
#define PREFETCH_ROWS 8
#define PREFETCH_MAX  (256 * 1024)

static bool
identity_encoding(const char *enc)
{
	return enc[0] == '\0' || strcasecmp(enc, "7bit") == 0 || strcasecmp(enc, "8bit") == 0 ||
	       strcasecmp(enc, "binary") == 0;
}

/* The part of [0, len) a partial asks for: *start_r, returns its length. */
static uint64_t
apply_partial(const struct imap_fetch_body *b, uint64_t len, uint64_t *start_r)
{
	*start_r = 0;
	if (!b->partial)
		return len;
	if (b->offset >= len)
		return 0;
	*start_r = b->offset;
	return len - b->offset < b->length ? len - b->offset : b->length;
}

/* How a body item is served. */
enum body_way {
	WAY_STREAM,   /* [off, off + len) of the blob, as a literal */
	WAY_BUFFER,   /* the range read whole, then filtered or decoded */
	WAY_SIZE,     /* BINARY.SIZE known without reading */
	WAY_TOOLARGE, /* would be buffered, but is beyond FETCH_MAX_BUFFERED */
};

/* Which bytes of the blob item b needs, given its part range. */
static enum body_way
body_way(const struct imap_fetch_body *b, const struct message_range *range, uint64_t *off_r,
         uint64_t *len_r)
{
	uint64_t start;
	bool buffered;

	switch (b->type) {
	case IMAP_FETCH_BODY_SECTION:
		buffered =
		    b->section.kind == SECTION_FIELDS || b->section.kind == SECTION_FIELDS_NOT;
		break;
	case IMAP_FETCH_BODY_BINARY:
		buffered = !identity_encoding(range->encoding);
		break;
	case IMAP_FETCH_BODY_BINARY_SIZE:
	default:
		if (identity_encoding(range->encoding)) {
			*off_r = *len_r = 0;
			return WAY_SIZE;
		}
		buffered = true;
		break;
	}
	if (buffered) {
		*off_r = range->offset;
		*len_r = range->length;
		return range->length > FETCH_MAX_BUFFERED ? WAY_TOOLARGE : WAY_BUFFER;
	}
	*len_r = apply_partial(b, range->length, &start);
	*off_r = range->offset + start;
	return WAY_STREAM;
}

/* ---------------------------------------------------------------------
 * Preparing a batch: ranges and read-ahead
 */

static void
find_ranges(struct fetch_ctx *c, struct fetch_row *r)
{
	size_t n = c->items.nbodies;

	r->ranges = xcalloc(n, sizeof(*r->ranges));
	r->ranges_ok = true;
	for (size_t i = 0; i < n; i++) {
		const struct imap_fetch_body *b = &c->items.bodies[i];
		struct message_range *range = &r->ranges[i];

		if (r->partmap != NULL) {
			if (message_section_find(r->partmap, &b->section, range) < 0) {
				log_error("imap: corrupt part map of uid %u in folder %llu", r->uid,
				          (unsigned long long)imap_view_folder_id(c->view));
				r->ranges_ok = false;
			}
			continue;
		}
		/* Without a part map only the whole message can be served. */
		memset(range, 0, sizeof(*range));
		strcpy(range->encoding, "7bit");
		if (b->section.kind == SECTION_ALL && b->section.part[0] == '\0')
			range->length = r->size;
	}
}

static void
prefetch_cb(const void *data, size_t len, enum store_err code, const char *error, void *ctx)
{
	struct fetch_row *r = ctx;
	struct fetch_ctx *c = r->c;

	r->pf_op = NULL;
	if (code != STORE_OK || len < r->pf_len) {
		r->pf = PREFETCH_FAILED;
	} else {
		r->pf = PREFETCH_DONE;
		r->pf_data = xmalloc(r->pf_len + 1);
		memcpy(r->pf_data, data, r->pf_len);
	}
	if (c->row < c->nrows && &c->rows[c->row] == r && c->bstate == BODY_PREFETCH) {
		c->bstate = BODY_START;
		fetch_continue(c);
	}
}

void
fetch_body_prefetch(struct fetch_ctx *c)
{
	while (c->pf_next < c->nrows && c->pf_next < c->row + PREFETCH_ROWS) {
		struct fetch_row *r = &c->rows[c->pf_next++];
		uint64_t lo = UINT64_MAX, hi = 0;

		if (r->seq == 0 || !r->ranges_ok || r->blob_hash == NULL || r->pf != PREFETCH_NONE)
			continue;
		for (size_t i = 0; i < c->items.nbodies; i++) {
			uint64_t off, len;
			enum body_way way =
			    body_way(&c->items.bodies[i], &r->ranges[i], &off, &len);

			if (way == WAY_SIZE || len == 0)
				continue;
			if (way == WAY_TOOLARGE) {
				hi = UINT64_MAX;
				break;
			}
			if (off < lo)
				lo = off;
			if (off + len > hi)
				hi = off + len;
		}
		if (hi == 0 || hi == UINT64_MAX || hi - lo > PREFETCH_MAX)
			continue;
		r->c = c;
		r->pf = PREFETCH_PENDING;
		r->pf_lo = lo;
		r->pf_len = hi - lo;
		r->pf_op =
		    store_blob_read(imap_client_store(c->client), imap_view_owner_id(c->view),
		                    imap_view_folder_id(c->view), r->blob_hash, lo,
		                    (size_t)(hi - lo), prefetch_cb, r);
	}
}

/* Whether every byte r's body items read lies in its read-ahead buffer
 * [pf_lo, pf_lo + pf_len). */
static bool
prefetch_covers(const struct fetch_ctx *c, const struct fetch_row *r)
{
	if (!r->ranges_ok)
		return false;
	for (size_t i = 0; i < c->items.nbodies; i++) {
		uint64_t off, len;
		enum body_way way = body_way(&c->items.bodies[i], &r->ranges[i], &off, &len);

		if (way == WAY_SIZE || len == 0)
			continue;
		if (way == WAY_TOOLARGE || off < r->pf_lo || off + len > r->pf_lo + r->pf_len)
			return false;
	}
	return true;
}

void
fetch_body_prepare(struct fetch_ctx *c)
{
	if (c->items.nbodies == 0)
		return;
	for (size_t i = 0; i < c->nrows; i++) {
		struct fetch_row *r = &c->rows[i];

		find_ranges(c, r);
		/* The header block that came with the metadata serves the row
		 * when it holds everything; else the row is read as usual. */
		if (r->pf_data != NULL && r->pf == PREFETCH_NONE) {
			if (prefetch_covers(c, r)) {
				r->pf = PREFETCH_DONE;
			} else {
				free(r->pf_data);
				r->pf_data = NULL;
			}
		}
	}
	c->pf_next = 0;
	fetch_body_prefetch(c);
}

void
fetch_body_row_free(struct fetch_row *r)
{
	store_op_abandon(&r->pf_op);
	free(r->pf_data);
	r->pf_data = NULL;
	free(r->ranges);
	r->ranges = NULL;
}

/* ---------------------------------------------------------------------
 * Writing items
 */

/* "NAME<origin> " before a body item's value. */
static void
write_label(struct fetch_ctx *c, const struct imap_fetch_body *b)
{
	fetch_item_sep(c);
	imap_client_write(c->client, b->name, strlen(b->name));
	if (b->partial)
		imap_client_printf(c->client, "<%u>", b->offset);
	imap_client_write(c->client, " ", 1);
}

static void
write_nil(struct fetch_ctx *c, const struct imap_fetch_body *b, const char *code)
{
	c->fail_code = code;
	write_label(c, b);
	if (b->type == IMAP_FETCH_BODY_BINARY_SIZE)
		imap_client_write(c->client, "0", 1);
	else
		imap_client_write(c->client, "NIL", 3);
}

/* A literal (or literal8 when binary and it holds a NUL) of data[0..len)
 * after applying the item's partial. */
static void
write_memory_literal(struct fetch_ctx *c, const struct imap_fetch_body *b, const char *data,
                     uint64_t len, bool binary)
{
	uint64_t start, n = apply_partial(b, len, &start);

	write_label(c, b);
	imap_write_literal_header(c->client, n,
	                          binary && memchr(data + start, '\0', (size_t)n) != NULL);
	imap_client_write(c->client, data + start, (size_t)n);
}

/* The whole range of a buffered item is in data[0..len): produce it. */
static void
write_buffered(struct fetch_ctx *c, const struct imap_fetch_body *b,
               const struct message_range *range, const char *data, size_t len)
{
	struct evbuffer *out = evbuffer_new();
	uint64_t size = 0;

	switch (b->type) {
	case IMAP_FETCH_BODY_SECTION: /* HEADER.FIELDS (.NOT) */
		message_header_filter(data, len, b->section.fields, b->section.nfields,
		                      b->section.kind == SECTION_FIELDS_NOT, out);
		write_memory_literal(c, b, (const char *)evbuffer_pullup(out, -1),
		                     evbuffer_get_length(out), false);
		break;
	case IMAP_FETCH_BODY_BINARY:
		if (message_decode(range->encoding, data, len, out) < 0) {
			write_nil(c, b, "[UNKNOWN-CTE]");
			break;
		}
		write_memory_literal(c, b, (const char *)evbuffer_pullup(out, -1),
		                     evbuffer_get_length(out), true);
		break;
	case IMAP_FETCH_BODY_BINARY_SIZE:
		if (message_decoded_size(range->encoding, data, len, &size) < 0)
			c->fail_code = "[UNKNOWN-CTE]";
		write_label(c, b);
		imap_client_printf(c->client, "%llu", (unsigned long long)size);
		break;
	}
	evbuffer_free(out);
}

/* The current item is finished; the next one starts from fetch_continue. */
static void
item_done_async(struct fetch_ctx *c)
{
	c->body++;
	c->bstate = BODY_START;
	fetch_continue(c);
}

static void stream_read(struct fetch_ctx *c);
static void buffer_read(struct fetch_ctx *c);

static void
stream_resume(void *ctx)
{
	stream_read(ctx);
}

static void
stream_cb(const void *data, size_t len, enum store_err code, const char *error, void *ctx)
{
	struct fetch_ctx *c = ctx;
	uint64_t want = c->end - c->pos;

	c->op = NULL;
	if (code != STORE_OK || len == 0) {
		/* The literal's size is already on the wire: keep the
		 * protocol in step by padding, and fail the command. */
		char spaces[256];

		log_error("imap: FETCH of blob %s failed at %llu: %s", c->rows[c->row].blob_hash,
		          (unsigned long long)c->pos,
		          error != NULL ? error : "blob shorter than its part map");
		memset(spaces, ' ', sizeof(spaces));
		while (want > 0) {
			size_t n = want < sizeof(spaces) ? (size_t)want : sizeof(spaces);

			imap_client_write(c->client, spaces, n);
			want -= n;
		}
		c->pos = c->end;
		c->fail_code = "[SERVERBUG]";
	} else {
		if (len > want)
			len = (size_t)want;
		imap_client_write(c->client, data, len);
		c->pos += len;
	}
	if (c->pos < c->end) {
		if (imap_client_output_busy(c->client))
			imap_client_wait_output(c->client, stream_resume, c);
		else
			stream_read(c);
		return;
	}
	item_done_async(c);
}

static void
stream_read(struct fetch_ctx *c)
{
	uint64_t left = c->end - c->pos;
	size_t n = left < FETCH_CHUNK ? (size_t)left : FETCH_CHUNK;

	c->op = store_blob_read(imap_client_store(c->client), imap_view_owner_id(c->view),
	                        imap_view_folder_id(c->view), c->rows[c->row].blob_hash, c->pos, n,
	                        stream_cb, c);
}

static void
buffer_cb(const void *data, size_t len, enum store_err code, const char *error, void *ctx)
{
	struct fetch_ctx *c = ctx;
	struct fetch_row *r = &c->rows[c->row];
	const struct imap_fetch_body *b = &c->items.bodies[c->body];

	c->op = NULL;
	if (code != STORE_OK || len == 0) {
		log_error("imap: FETCH of blob %s failed at %llu: %s", r->blob_hash,
		          (unsigned long long)c->pos,
		          error != NULL ? error : "blob shorter than its part map");
		write_nil(c, b, "[SERVERBUG]");
		evbuffer_drain(c->tmp, evbuffer_get_length(c->tmp));
		item_done_async(c);
		return;
	}
	if (len > c->end - c->pos)
		len = (size_t)(c->end - c->pos);
	evbuffer_add(c->tmp, data, len);
	c->pos += len;
	if (c->pos < c->end) {
		buffer_read(c);
		return;
	}
	size_t total = evbuffer_get_length(c->tmp);
	write_buffered(c, b, &r->ranges[c->body], (const char *)evbuffer_pullup(c->tmp, -1), total);
	evbuffer_drain(c->tmp, total);
	item_done_async(c);
}

static void
buffer_read(struct fetch_ctx *c)
{
	uint64_t left = c->end - c->pos;
	size_t n = left < FETCH_CHUNK ? (size_t)left : FETCH_CHUNK;

	c->op = store_blob_read(imap_client_store(c->client), imap_view_owner_id(c->view),
	                        imap_view_folder_id(c->view), c->rows[c->row].blob_hash, c->pos, n,
	                        buffer_cb, c);
}

bool
fetch_body_start(struct fetch_ctx *c, struct fetch_row *r)
{
	const struct imap_fetch_body *b = &c->items.bodies[c->body];
	const struct message_range *range;
	uint64_t off, len;

	if (!r->ranges_ok) {
		write_nil(c, b, "[SERVERBUG]");
		return true;
	}
	range = &r->ranges[c->body];
	enum body_way way = body_way(b, range, &off, &len);

	if (way == WAY_SIZE) {
		write_label(c, b);
		imap_client_printf(c->client, "%llu", (unsigned long long)range->length);
		return true;
	}
	if (way == WAY_TOOLARGE) {
		write_nil(c, b, "[LIMIT]");
		return true;
	}
	if (len > 0 && r->blob_hash == NULL) {
		write_nil(c, b, "[SERVERBUG]");
		return true;
	}
	if (len > 0 && r->pf == PREFETCH_PENDING) {
		c->bstate = BODY_PREFETCH;
		return false;
	}
	if (len == 0 ||
	    (r->pf == PREFETCH_DONE && off >= r->pf_lo && off + len <= r->pf_lo + r->pf_len)) {
		const char *data = len == 0 ? "" : (const char *)r->pf_data + (off - r->pf_lo);

		if (way == WAY_BUFFER) {
			write_buffered(c, b, range, data, (size_t)len);
		} else {
			write_label(c, b);
			imap_write_literal_header(c->client, len,
			                          b->type == IMAP_FETCH_BODY_BINARY &&
			                              strcasecmp(range->encoding, "binary") == 0);
			imap_client_write(c->client, data, (size_t)len);
		}
		return true;
	}

	c->pos = off;
	c->end = off + len;
	if (way == WAY_BUFFER) {
		if (c->tmp == NULL)
			c->tmp = evbuffer_new();
		c->bstate = BODY_BUFFER;
		buffer_read(c);
		return false;
	}
	c->stream_binary =
	    b->type == IMAP_FETCH_BODY_BINARY && strcasecmp(range->encoding, "binary") == 0;
	write_label(c, b);
	imap_write_literal_header(c->client, len, c->stream_binary);
	c->bstate = BODY_STREAM;
	stream_read(c);
	return false;
}
