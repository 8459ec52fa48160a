/* Base64 (RFC 4648, standard alphabet): the strict and lenient decoders
 * and the encoders every protocol shares (server/base64.h). */
#include <event2/buffer.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "base64.h"
#include "xmalloc.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool
base64_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

long
base64_stream_feed(struct base64_stream *s, const char *text, size_t len, unsigned char *out,
                   enum base64_error *error_r)
{
	long n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		unsigned group = s->digits % 4;
		int v;

		if (!s->strict && base64_space(c))
			continue;
		if (c == '=') {
			/* Padding completes a group of two or three digits. */
			if (group < 2 || s->pad == 2 || group + s->pad == 4) {
				*error_r = BASE64_BAD_PAD;
				return -1;
			}
			s->pad++;
			continue;
		}
		v = base64_value(c);
		if (v < 0) {
			*error_r = BASE64_BAD_CHAR;
			return -1;
		}
		if (s->pad > 0) {
			*error_r = BASE64_AFTER_PAD;
			return -1;
		}
		s->digits++;
		s->acc = (s->acc << 6) | (uint32_t)v;
		s->bits += 6;
		if (s->bits >= 8) {
			s->bits -= 8;
			out[n++] = (unsigned char)(s->acc >> s->bits);
			s->acc &= (1u << s->bits) - 1;
		}
	}
	return n;
}

int
base64_stream_end(const struct base64_stream *s, enum base64_error *error_r)
{
	/* One digit alone carries no whole byte; leftover bits must be zero;
	 * padding, when there is some, completes the group. */
	if (s->digits % 4 == 1 || s->acc != 0) {
		*error_r = BASE64_TRUNCATED;
		return -1;
	}
	if ((s->pad > 0 || s->strict) && (s->digits + s->pad) % 4 != 0) {
		*error_r = s->pad > 0 ? BASE64_BAD_PAD : BASE64_TRUNCATED;
		return -1;
	}
	return 0;
}

long
base64_decode_into(const char *text, size_t len, enum base64_mode mode, unsigned char *out)
{
	struct base64_stream s = {.strict = mode == BASE64_STRICT};
	enum base64_error error;
	long n = base64_stream_feed(&s, text, len, out, &error);

	if (n < 0 || base64_stream_end(&s, &error) < 0)
		return -1;
	return n;
}

int
base64_decode(const char *text, size_t len, enum base64_mode mode, unsigned char **data_r,
              size_t *len_r)
{
	unsigned char *out = xmalloc(BASE64_DECODED_MAX(len) + 1);
	long n = base64_decode_into(text, len, mode, out);

	if (n < 0) {
		free(out);
		*data_r = NULL;
		*len_r = 0;
		return -1;
	}
	out[n] = '\0';
	*data_r = out;
	*len_r = (size_t)n;
	return 0;
}

/* Encodes up to three bytes into four characters. */
static void
base64_quantum(const unsigned char *p, size_t avail, char *q)
{
	uint32_t v = (uint32_t)p[0] << 16;

	if (avail > 1)
		v |= (uint32_t)p[1] << 8;
	if (avail > 2)
		v |= p[2];
	q[0] = base64_alphabet[(v >> 18) & 63];
	q[1] = base64_alphabet[(v >> 12) & 63];
	q[2] = avail > 1 ? base64_alphabet[(v >> 6) & 63] : '=';
	q[3] = avail > 2 ? base64_alphabet[v & 63] : '=';
}

char *
base64_encode_into(char *out, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i += 3, out += 4)
		base64_quantum(p + i, len - i, out);
	return out;
}

char *
base64_encode(const void *data, size_t len)
{
	char *out = xmalloc(BASE64_ENCODED_LEN(len) + 1);

	*base64_encode_into(out, data, len) = '\0';
	return out;
}

void
base64_encode_evbuffer(struct evbuffer *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	char buf[256];
	size_t n = 0;

	for (size_t i = 0; i < len; i += 3) {
		base64_quantum(p + i, len - i, buf + n);
		n += 4;
		if (n + 4 > sizeof(buf)) {
			evbuffer_add(out, buf, n);
			n = 0;
		}
	}
	if (n > 0)
		evbuffer_add(out, buf, n);
}
