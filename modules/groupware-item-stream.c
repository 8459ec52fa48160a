/* The read-only GMime stream over the caller's buffer that every
 * groupware item parse uses (groupware_mime_open), so that parsing a large
 * APPEND makes no copy of it: GMime's parser keeps parts as substreams of
 * this stream, which point into the same buffer. */
#include <string.h>

#include "groupware-item-private.h"

/* --- A read-only GMime stream over a buffer the caller keeps --- */

typedef struct {
	GMimeStream parent;
	const char *data;
	gint64 len;
} FloeConstStream;

typedef struct {
	GMimeStreamClass parent_class;
} FloeConstStreamClass;

/* G_DEFINE_TYPE defines it with external linkage. */
GType floe_const_stream_get_type(void);

G_DEFINE_TYPE(FloeConstStream, floe_const_stream, GMIME_TYPE_STREAM)

static gint64
cs_end(GMimeStream *s)
{
	gint64 len = ((FloeConstStream *)s)->len;

	return s->bound_end < 0 || s->bound_end > len ? len : s->bound_end;
}

static ssize_t
cs_read(GMimeStream *s, char *buf, size_t len)
{
	FloeConstStream *cs = (FloeConstStream *)s;
	gint64 end = cs_end(s);
	size_t n;

	if (s->position >= end)
		return 0;
	n = (size_t)(end - s->position) < len ? (size_t)(end - s->position) : len;
	memcpy(buf, cs->data + s->position, n);
	s->position += (gint64)n;
	return (ssize_t)n;
}

static ssize_t
cs_write(GMimeStream *s, const char *buf, size_t len)
{
	(void)s;
	(void)buf;
	(void)len;
	return -1;
}

static int
cs_flush(GMimeStream *s)
{
	(void)s;
	return 0;
}

static gboolean
cs_eos(GMimeStream *s)
{
	return s->position >= cs_end(s);
}

static int
cs_reset(GMimeStream *s)
{
	s->position = s->bound_start;
	return 0;
}

static gint64
cs_seek(GMimeStream *s, gint64 offset, GMimeSeekWhence whence)
{
	gint64 pos;

	switch (whence) {
	case GMIME_STREAM_SEEK_SET:
		pos = s->bound_start + offset;
		break;
	case GMIME_STREAM_SEEK_CUR:
		pos = s->position + offset;
		break;
	case GMIME_STREAM_SEEK_END:
		pos = cs_end(s) + offset;
		break;
	default:
		return -1;
	}
	if (pos < s->bound_start || pos > cs_end(s))
		return -1;
	s->position = pos;
	return pos;
}

static gint64
cs_tell(GMimeStream *s)
{
	return s->position;
}

static gint64
cs_length(GMimeStream *s)
{
	return cs_end(s) - s->bound_start;
}

static GMimeStream *
cs_new(const char *data, gint64 len, gint64 start, gint64 end)
{
	FloeConstStream *cs = g_object_new(floe_const_stream_get_type(), NULL);

	cs->data = data;
	cs->len = len;
	g_mime_stream_construct(GMIME_STREAM(cs), start, end);
	return GMIME_STREAM(cs);
}

static GMimeStream *
cs_substream(GMimeStream *s, gint64 start, gint64 end)
{
	FloeConstStream *cs = (FloeConstStream *)s;

	return cs_new(cs->data, cs->len, start, end);
}

static void
floe_const_stream_class_init(FloeConstStreamClass *klass)
{
	GMimeStreamClass *sc = GMIME_STREAM_CLASS(klass);

	sc->read = cs_read;
	sc->write = cs_write;
	sc->flush = cs_flush;
	sc->close = cs_flush;
	sc->eos = cs_eos;
	sc->reset = cs_reset;
	sc->seek = cs_seek;
	sc->tell = cs_tell;
	sc->length = cs_length;
	sc->substream = cs_substream;
}

static void
floe_const_stream_init(FloeConstStream *cs)
{
	cs->data = NULL;
	cs->len = 0;
}

GMimeMessage *
groupware_mime_open(const void *data, size_t len)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;

	groupware_gmime_init();
	stream = cs_new(data, (gint64)len, 0, -1);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	if (msg != NULL && g_mime_message_get_mime_part(msg) == NULL) {
		g_object_unref(msg);
		msg = NULL;
	}
	return msg;
}
