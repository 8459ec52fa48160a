/* modules/message.c: message_parse. A linear scanner over the raw bytes
 * builds the MIME tree with exact offsets (RFC 2045/2046 boundaries, the
 * line break before a delimiter belongs to the delimiter), so BODYSTRUCTURE
 * sizes and the part map can never disagree; GMime decodes what needs
 * decoding (RFC 2047 words, dates, addresses, charsets). */
#include "message.h"

#include <gmime/gmime.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "message-private.h"
#include "xmalloc.h"

#define MESSAGE_PREVIEW_CHARS 200

void
message_gmime_init(void)
{
	static gsize once;

	if (g_once_init_enter(&once)) {
		g_mime_init();
		g_once_init_leave(&once, 1);
	}
}

GMimeMessage *
message_gmime_parse(const void *data, size_t size)
{
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *m;

	message_gmime_init();
	s = g_mime_stream_mem_new_with_buffer(data, size);
	p = g_mime_parser_new_with_stream(s);
	m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	return m;
}

/* ---------------------------------------------------------------------
 * Header fields
 */

bool
message_field_next(const char *d, size_t *pos, size_t end, struct mfield *f)
{
	size_t p = *pos, colon;
	const char *nl;

	if (p >= end || d[p] == '\n' || (d[p] == '\r' && p + 1 < end && d[p + 1] == '\n'))
		return false;
	f->start = p;
	f->name_len = 0;
	f->value_start = p;
	nl = memchr(d + p, '\n', end - p);
	f->end = nl != NULL ? (size_t)(nl - d) + 1 : end;
	/* A line that starts with white space here has no field to continue;
	 * it is kept as a field without a name. */
	if (d[p] != ' ' && d[p] != '\t') {
		const char *c = memchr(d + p, ':', f->end - p);

		if (c != NULL) {
			colon = (size_t)(c - d);
			f->name_len = colon - p;
			while (f->name_len > 0 &&
			       (d[p + f->name_len - 1] == ' ' || d[p + f->name_len - 1] == '\t'))
				f->name_len--;
			f->value_start = colon + 1;
		}
	}
	while (f->end < end && (d[f->end] == ' ' || d[f->end] == '\t')) {
		nl = memchr(d + f->end, '\n', end - f->end);
		f->end = nl != NULL ? (size_t)(nl - d) + 1 : end;
	}
	f->value_end = f->end;
	if (f->value_end > f->value_start && d[f->value_end - 1] == '\n')
		f->value_end--;
	if (f->value_end > f->value_start && d[f->value_end - 1] == '\r')
		f->value_end--;
	*pos = f->end;
	return true;
}

char *
message_field_value(const char *d, const struct mfield *f)
{
	GString *s = g_string_sized_new(f->value_end - f->value_start + 1);
	char *ret;
	size_t i;

	for (i = f->value_start; i < f->value_end; i++) {
		if (d[i] == '\r' || d[i] == '\n' || d[i] == '\0')
			continue;
		if (s->len == 0 && (d[i] == ' ' || d[i] == '\t'))
			continue;
		g_string_append_c(s, d[i]);
	}
	while (s->len > 0 && (s->str[s->len - 1] == ' ' || s->str[s->len - 1] == '\t'))
		g_string_truncate(s, s->len - 1);
	ret = message_clean_utf8(s->str, s->len);
	g_string_free(s, TRUE);
	return ret;
}

static const struct {
	const char *name;
	enum mhdr id;
} mhdr_names[] = {
    {"content-type", MH_CONTENT_TYPE},
    {"content-transfer-encoding", MH_CONTENT_TRANSFER_ENCODING},
    {"content-id", MH_CONTENT_ID},
    {"content-description", MH_CONTENT_DESCRIPTION},
    {"content-md5", MH_CONTENT_MD5},
    {"content-disposition", MH_CONTENT_DISPOSITION},
    {"content-language", MH_CONTENT_LANGUAGE},
    {"content-location", MH_CONTENT_LOCATION},
    {"date", MH_DATE},
    {"subject", MH_SUBJECT},
    {"from", MH_FROM},
    {"sender", MH_SENDER},
    {"reply-to", MH_REPLY_TO},
    {"to", MH_TO},
    {"cc", MH_CC},
    {"bcc", MH_BCC},
    {"in-reply-to", MH_IN_REPLY_TO},
    {"message-id", MH_MESSAGE_ID},
    {"references", MH_REFERENCES},
};

static void
read_fields(const char *d, struct mnode *node)
{
	size_t pos = node->hdr_start;
	struct mfield f;
	size_t i;

	while (message_field_next(d, &pos, node->hdr_end, &f)) {
		if (f.name_len == 0)
			continue;
		for (i = 0; i < G_N_ELEMENTS(mhdr_names); i++) {
			if (strlen(mhdr_names[i].name) == f.name_len &&
			    g_ascii_strncasecmp(d + f.start, mhdr_names[i].name, f.name_len) == 0) {
				if (node->hdr[mhdr_names[i].id] == NULL)
					node->hdr[mhdr_names[i].id] = message_field_value(d, &f);
				break;
			}
		}
	}
}

/* ---------------------------------------------------------------------
 * The MIME scanner
 */

struct mctx {
	const char *d;
	uint64_t size;
	struct {
		const char *s;
		size_t len;
	} bnd[MESSAGE_MAX_DEPTH + 2];
	int nbnd;
	size_t nnodes;
	const char *error;
};

/* Where a scan stopped: at a boundary line of an enclosing multipart, or
 * at the end of the data (which == -1). */
struct mstop {
	uint64_t line;  /* start of the boundary line, or size */
	uint64_t after; /* just past the boundary line's line break */
	int which;      /* index into mctx.bnd */
	bool close;
};

static struct mnode *
node_new(void)
{
	return g_new0(struct mnode, 1);
}

static void
params_free(struct mparam *params, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		g_free(params[i].name);
		g_free(params[i].value);
	}
	g_free(params);
}

static void
node_free(struct mnode *node)
{
	size_t i;

	if (node == NULL)
		return;
	for (i = 0; i < node->nchildren; i++)
		node_free(node->children[i]);
	g_free(node->children);
	for (i = 0; i < MH_COUNT; i++)
		g_free(node->hdr[i]);
	g_free(node->type);
	g_free(node->subtype);
	g_free(node->encoding);
	g_free(node->disposition);
	params_free(node->params, node->nparams);
	params_free(node->disp_params, node->ndisp_params);
	g_free(node);
}

static void
node_add_child(struct mnode *node, struct mnode *child)
{
	node->children = g_renew(struct mnode *, node->children, node->nchildren + 1);
	node->children[node->nchildren++] = child;
}

/* Does the line [p, e) delimit boundary i? RFC 2046: "--" boundary,
 * "--" for the close delimiter, then only transport padding. */
static bool
boundary_match(const struct mctx *ctx, uint64_t p, uint64_t e, int i, bool *close_r)
{
	const char *d = ctx->d;
	size_t blen = ctx->bnd[i].len;
	uint64_t ce = e, q;

	if (ce > p && d[ce - 1] == '\r')
		ce--;
	if (ce - p < 2 + blen || memcmp(d + p + 2, ctx->bnd[i].s, blen) != 0)
		return false;
	q = p + 2 + blen;
	*close_r = false;
	if (ce - q >= 2 && d[q] == '-' && d[q + 1] == '-') {
		*close_r = true;
		q += 2;
	}
	for (; q < ce; q++) {
		if (d[q] != ' ' && d[q] != '\t')
			return false;
	}
	return true;
}

/* Checks the line at p against the active boundaries, innermost first. */
static bool
line_is_boundary(const struct mctx *ctx, uint64_t p, uint64_t e, struct mstop *stop)
{
	bool close;

	if (e - p < 2 || ctx->d[p] != '-' || ctx->d[p + 1] != '-')
		return false;
	for (int i = ctx->nbnd - 1; i >= 0; i--) {
		if (boundary_match(ctx, p, e, i, &close)) {
			stop->line = p;
			stop->after = e < ctx->size ? e + 1 : e;
			stop->which = i;
			stop->close = close;
			return true;
		}
	}
	return false;
}

static uint64_t
line_end(const struct mctx *ctx, uint64_t p)
{
	const char *nl = memchr(ctx->d + p, '\n', ctx->size - p);

	return nl != NULL ? (uint64_t)(nl - ctx->d) : ctx->size;
}

static void
stop_at_end(const struct mctx *ctx, struct mstop *stop)
{
	stop->line = stop->after = ctx->size;
	stop->which = -1;
	stop->close = false;
}

/* Finds the first boundary line at or after the line start pos. */
static void
find_boundary(const struct mctx *ctx, uint64_t pos, struct mstop *stop)
{
	uint64_t p = pos, e;

	if (ctx->nbnd > 0) {
		while (p < ctx->size) {
			e = line_end(ctx, p);
			if (line_is_boundary(ctx, p, e, stop))
				return;
			p = e + 1;
		}
	}
	stop_at_end(ctx, stop);
}

/* The end of content that a boundary line at l closes: the line break
 * before the delimiter belongs to the delimiter (never before min). */
static uint64_t
cut_before(const struct mctx *ctx, uint64_t l, uint64_t min)
{
	if (l >= min + 2 && ctx->d[l - 2] == '\r' && ctx->d[l - 1] == '\n')
		return l - 2;
	if (l >= min + 1 && ctx->d[l - 1] == '\n')
		return l - 1;
	return l;
}

/* Pulls every offset of node and its descendants back to at most e. */
static void
clamp(struct mnode *node, uint64_t e)
{
	node->hdr_start = MIN(node->hdr_start, e);
	node->hdr_end = MIN(node->hdr_end, e);
	node->body_start = MIN(node->body_start, e);
	node->body_end = MIN(node->body_end, e);
	for (size_t i = 0; i < node->nchildren; i++)
		clamp(node->children[i], e);
}

/* Ends the entity where the scan stopped. The entity is the text between
 * delimiters less the line break before the next one, so when the body is
 * empty that line break may be the header's blank line (or its last line
 * break): it then leaves the header too. */
static void
set_end(const struct mctx *ctx, struct mnode *node, const struct mstop *stop)
{
	uint64_t e = stop->which < 0 ? ctx->size : cut_before(ctx, stop->line, node->hdr_start);

	node->body_end = e;
	if (e < node->body_start)
		clamp(node, e);
}

/* Finds the end of the header at start. Returns true when a boundary line
 * came before the blank line (the entity then has an empty body). */
static bool
scan_header(const struct mctx *ctx, struct mnode *node, struct mstop *stop)
{
	const char *d = ctx->d;
	uint64_t p = node->hdr_start, e;

	while (p < ctx->size) {
		if (d[p] == '\n' || (d[p] == '\r' && p + 1 < ctx->size && d[p + 1] == '\n')) {
			node->hdr_end = p + (d[p] == '\n' ? 1 : 2);
			node->body_start = node->hdr_end;
			return false;
		}
		e = line_end(ctx, p);
		if (ctx->nbnd > 0 && line_is_boundary(ctx, p, e, stop)) {
			node->hdr_end = cut_before(ctx, p, node->hdr_start);
			node->body_start = node->body_end = node->hdr_end;
			return true;
		}
		p = e + 1;
	}
	node->hdr_end = node->body_start = ctx->size;
	return false;
}

static char *
parse_encoding(const char *value)
{
	const char *p = value, *start;

	if (p == NULL)
		return g_strdup("7bit");
	while (*p == ' ' || *p == '\t')
		p++;
	start = p;
	while (*p > ' ' && *p < 127 && strchr("()<>@,;:\\\"/[]?=", *p) == NULL)
		p++;
	if (p == start)
		return g_strdup("7bit");
	return g_ascii_strdown(start, p - start);
}

/* An empty text/plain entity at pos: a multipart without parts gets one
 * (IMAP needs at least one), a cut message/rfc822 gets it as its message. */
static struct mnode *
empty_entity(uint64_t pos)
{
	struct mnode *n = node_new();

	n->hdr_start = n->hdr_end = n->body_start = n->body_end = pos;
	n->kind = MNODE_LEAF;
	message_content_type_parse(n, NULL, false);
	n->encoding = g_strdup("7bit");
	return n;
}

static void parse_entity(struct mctx *ctx, struct mnode *node, uint64_t start, unsigned depth,
                         bool digest_parent, struct mstop *stop);

static void
parse_multipart(struct mctx *ctx, struct mnode *node, unsigned depth, struct mstop *stop)
{
	const char *boundary = message_param_get(node->params, node->nparams, "BOUNDARY");
	bool digest = strcmp(node->subtype, "digest") == 0;
	int mine;

	if (boundary == NULL || *boundary == '\0' || ctx->nbnd >= (int)G_N_ELEMENTS(ctx->bnd)) {
		find_boundary(ctx, node->body_start, stop);
		set_end(ctx, node, stop);
		return;
	}
	mine = ctx->nbnd++;
	ctx->bnd[mine].s = boundary;
	ctx->bnd[mine].len = strlen(boundary);
	find_boundary(ctx, node->body_start, stop);
	while (stop->which == mine && !stop->close) {
		struct mnode *child = node_new();

		node_add_child(node, child);
		parse_entity(ctx, child, stop->after, depth + 1, digest, stop);
		if (ctx->error != NULL)
			return;
	}
	ctx->nbnd = mine;
	if (stop->which == mine) {
		/* the epilogue runs to the next outer boundary */
		find_boundary(ctx, stop->after, stop);
	}
	set_end(ctx, node, stop);
}

static void
parse_entity(struct mctx *ctx, struct mnode *node, uint64_t start, unsigned depth,
             bool digest_parent, struct mstop *stop)
{
	bool cut;

	if (depth > MESSAGE_MAX_DEPTH) {
		ctx->error = "MIME nesting too deep";
		return;
	}
	if (++ctx->nnodes > MESSAGE_MAX_PARTS) {
		ctx->error = "too many MIME parts";
		return;
	}
	node->hdr_start = start;
	cut = scan_header(ctx, node, stop);
	read_fields(ctx->d, node);
	message_content_type_parse(node, node->hdr[MH_CONTENT_TYPE], digest_parent);
	node->encoding = parse_encoding(node->hdr[MH_CONTENT_TRANSFER_ENCODING]);
	message_disposition_parse(node, node->hdr[MH_CONTENT_DISPOSITION]);
	if (strcmp(node->type, "multipart") == 0)
		node->kind = MNODE_MULTIPART;
	else if (strcmp(node->type, "message") == 0 && strcmp(node->subtype, "rfc822") == 0)
		node->kind = MNODE_MESSAGE;
	else
		node->kind = MNODE_LEAF;

	if (cut) {
		if (node->kind == MNODE_MESSAGE)
			node_add_child(node, empty_entity(node->body_start));
	} else if (node->kind == MNODE_MULTIPART) {
		parse_multipart(ctx, node, depth, stop);
	} else if (node->kind == MNODE_MESSAGE) {
		struct mnode *inner = node_new();

		node_add_child(node, inner);
		parse_entity(ctx, inner, node->body_start, depth + 1, false, stop);
		node->body_end = inner->body_end;
		if (ctx->error == NULL)
			set_end(ctx, node, stop);
	} else {
		find_boundary(ctx, node->body_start, stop);
		set_end(ctx, node, stop);
	}
	if (node->kind == MNODE_MULTIPART && node->nchildren == 0 && ctx->error == NULL)
		node_add_child(node, empty_entity(node->body_end));
}

/* ---------------------------------------------------------------------
 * The part map
 */

static json_t *
range(uint64_t a, uint64_t b)
{
	return json_pack("[I,I]", (json_int_t)a, (json_int_t)b);
}

static void
map_add(json_t *parts, const char *section, const struct mnode *node)
{
	json_t *e = json_object();
	char *mime = g_strconcat(node->type, "/", node->subtype, NULL);

	json_object_set_new(e, "h", range(node->hdr_start, node->hdr_end));
	json_object_set_new(e, "b", range(node->body_start, node->body_end));
	json_object_set_new(e, "t", json_string(mime));
	json_object_set_new(e, "e", json_string(node->encoding));
	if (node->kind == MNODE_MESSAGE) {
		const struct mnode *in = node->children[0];

		json_object_set_new(e, "m",
		                    json_pack("[I,I,I,I]", (json_int_t)in->hdr_start,
		                              (json_int_t)in->hdr_end, (json_int_t)in->body_start,
		                              (json_int_t)in->body_end));
	}
	json_object_set_new(parts, section, e);
	g_free(mime);
}

static void map_children(json_t *parts, const char *prefix, const struct mnode *parent);

/* node is addressed as section (a part number). */
static void
map_part(json_t *parts, const char *section, const struct mnode *node)
{
	map_add(parts, section, node);
	if (node->kind == MNODE_MULTIPART) {
		map_children(parts, section, node);
	} else if (node->kind == MNODE_MESSAGE) {
		const struct mnode *inner = node->children[0];

		if (inner->kind == MNODE_MULTIPART) {
			map_children(parts, section, inner);
		} else {
			char *sub = g_strconcat(section, ".1", NULL);

			map_part(parts, sub, inner);
			g_free(sub);
		}
	}
}

static void
map_children(json_t *parts, const char *prefix, const struct mnode *parent)
{
	for (size_t i = 0; i < parent->nchildren; i++) {
		char *sub = *prefix == '\0' ? g_strdup_printf("%zu", i + 1)
		                            : g_strdup_printf("%s.%zu", prefix, i + 1);

		map_part(parts, sub, parent->children[i]);
		g_free(sub);
	}
}

static char *
build_partmap(const struct mnode *root, uint64_t size)
{
	json_t *map = json_object(), *parts = json_object();
	char *text, *ret;

	map_add(parts, "", root);
	if (root->kind == MNODE_MULTIPART)
		map_children(parts, "", root);
	else
		map_part(parts, "1", root);
	json_object_set_new(map, "v", json_integer(1));
	json_object_set_new(map, "size", json_integer((json_int_t)size));
	json_object_set_new(map, "parts", parts);
	text = json_dumps(map, JSON_COMPACT);
	json_decref(map);
	ret = xstrdup(text);
	free(text);
	return ret;
}

static char *
gstring_take(GString *s)
{
	char *ret = xstrdup(s->str);

	g_string_free(s, TRUE);
	return ret;
}

/* ---------------------------------------------------------------------
 * message_parse
 */

int
message_parse(const void *data, size_t size, struct message_info *info_r, const char **error_r)
{
	struct mctx ctx = {.d = data, .size = size};
	struct store_msg_meta *m = &info_r->meta;
	struct mnode *root;
	struct mstop stop;
	GString *s;
	char *preview = NULL;

	memset(info_r, 0, sizeof(*info_r));
	if (size == 0) {
		*error_r = "empty message";
		return -1;
	}
	message_gmime_init();
	root = node_new();
	parse_entity(&ctx, root, 0, 0, false, &stop);
	if (ctx.error != NULL) {
		node_free(root);
		*error_r = ctx.error;
		return -1;
	}

	s = g_string_new(NULL);
	message_imap_envelope(s, root);
	info_r->envelope = gstring_take(s);
	s = g_string_new(NULL);
	message_imap_body(s, data, root, true);
	info_r->bodystructure = gstring_take(s);
	s = g_string_new(NULL);
	message_imap_body(s, data, root, false);
	info_r->body = gstring_take(s);
	info_r->partmap = build_partmap(root, size);

	if (root->hdr[MH_SUBJECT] != NULL) {
		char *dec = g_mime_utils_header_decode_text(NULL, root->hdr[MH_SUBJECT]);
		char *clean = message_clean_utf8(dec, strlen(dec));

		info_r->subject = xstrdup(clean);
		g_free(clean);
		g_free(dec);
	} else {
		info_r->subject = xstrdup("");
	}
	{
		char *base = message_base_subject(info_r->subject);

		info_r->base_subject = xstrdup(base);
		g_free(base);
	}
	info_r->from_addr = message_addr_text(root->hdr[MH_FROM]);
	info_r->to_addr = message_addr_text(root->hdr[MH_TO]);
	info_r->cc_addr = message_addr_text(root->hdr[MH_CC]);
	info_r->bcc_addr = message_addr_text(root->hdr[MH_BCC]);
	message_sort_keys(root->hdr[MH_FROM], &info_r->sort_from, &info_r->sort_display_from);
	message_sort_keys(root->hdr[MH_TO], &info_r->sort_to, &info_r->sort_display_to);
	message_sort_keys(root->hdr[MH_CC], &info_r->sort_cc, NULL);
	info_r->message_id = message_msgids(root->hdr[MH_MESSAGE_ID], true, true);
	info_r->in_reply_to = message_msgids(root->hdr[MH_IN_REPLY_TO], true, false);
	info_r->references = message_msgids(root->hdr[MH_REFERENCES], false, false);
	info_r->headers_text = message_headers_text(data, root);

	s = g_string_new(NULL);
	message_collect_text(s, MESSAGE_TEXT_MAX, data, root, &preview);
	info_r->search_text = gstring_take(s);
	if (preview != NULL) {
		char *p = message_preview(preview, MESSAGE_PREVIEW_CHARS);

		info_r->preview = xstrdup(p);
		g_free(p);
		g_free(preview);
	} else {
		info_r->preview = xstrdup("");
	}

	m->size = size;
	m->sent_date = -1;
	if (root->hdr[MH_DATE] != NULL) {
		GDateTime *dt = g_mime_utils_header_decode_date(root->hdr[MH_DATE]);

		if (dt != NULL) {
			m->sent_date = (time_t)g_date_time_to_unix(dt);
			g_date_time_unref(dt);
		}
	}
	m->has_attachment = message_has_attachment(root);
	node_free(root);

	m->envelope = info_r->envelope;
	m->bodystructure = info_r->bodystructure;
	m->body = info_r->body;
	m->partmap = info_r->partmap;
	m->subject = info_r->subject;
	m->base_subject = info_r->base_subject;
	m->from_addr = info_r->from_addr;
	m->to_addr = info_r->to_addr;
	m->cc_addr = info_r->cc_addr;
	m->bcc_addr = info_r->bcc_addr;
	m->sort_from = info_r->sort_from;
	m->sort_to = info_r->sort_to;
	m->sort_cc = info_r->sort_cc;
	m->sort_display_from = info_r->sort_display_from;
	m->sort_display_to = info_r->sort_display_to;
	m->message_id = info_r->message_id;
	m->in_reply_to = info_r->in_reply_to;
	m->references = info_r->references;
	m->preview = info_r->preview;
	m->search_text = info_r->search_text;
	m->headers_text = info_r->headers_text;
	return 0;
}

void
message_info_clear(struct message_info *info)
{
	char **strs[] = {
	    &info->envelope,   &info->bodystructure,     &info->body,
	    &info->partmap,    &info->subject,           &info->base_subject,
	    &info->from_addr,  &info->to_addr,           &info->cc_addr,
	    &info->bcc_addr,   &info->sort_from,         &info->sort_to,
	    &info->sort_cc,    &info->sort_display_from, &info->sort_display_to,
	    &info->message_id, &info->in_reply_to,       &info->references,
	    &info->preview,    &info->search_text,       &info->headers_text,
	};

	for (size_t i = 0; i < G_N_ELEMENTS(strs); i++)
		xfree_ptr(strs[i]);
	memset(&info->meta, 0, sizeof(info->meta));
}
