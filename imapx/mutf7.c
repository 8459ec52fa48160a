/* Modified UTF-7 for IMAP mailbox names (RFC 3501 5.1.3): UTF-16 code units
 * in base64 with ',' for '/', no padding, shift sequences "&...-", and "&-"
 * for '&'. Decoding accepts only the canonical form, so every name has one
 * spelling. Also the strict UTF-8 validator shared with the parser. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mutf7.h"
#include "xmalloc.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

struct obuf {
	char *data;
	size_t len, cap;
};

static void
obuf_put(struct obuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 32 : b->cap;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
obuf_putc(struct obuf *b, char c)
{
	obuf_put(b, &c, 1);
}

static char *
obuf_finish(struct obuf *b)
{
	if (b->data == NULL)
		return xstrdup("");
	return b->data;
}

static void
obuf_put_utf8(struct obuf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	obuf_put(b, u, n);
}

/* Reads one code point at s[*pos]; advances *pos. */
static int
utf8_next(const unsigned char *s, size_t len, size_t *pos, uint32_t *cp_r, const char **error_r)
{
	size_t i = *pos, need;
	uint32_t cp, min;
	unsigned char c = s[i];

	if (c < 0x80) {
		*cp_r = c;
		*pos = i + 1;
		return 0;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		*error_r = (c == 0xc0 || c == 0xc1) ? "invalid UTF-8: overlong encoding"
		                                    : "invalid UTF-8: bad lead byte";
		return -1;
	}
	if (len - i - 1 < need) {
		*error_r = "invalid UTF-8: truncated sequence";
		return -1;
	}
	for (size_t k = 1; k <= need; k++) {
		if ((s[i + k] & 0xc0) != 0x80) {
			*error_r = "invalid UTF-8: truncated sequence";
			return -1;
		}
		cp = (cp << 6) | (s[i + k] & 0x3f);
	}
	if (cp < min) {
		*error_r = "invalid UTF-8: overlong encoding";
		return -1;
	}
	if (cp >= 0xd800 && cp <= 0xdfff) {
		*error_r = "invalid UTF-8: encoded surrogate";
		return -1;
	}
	if (cp > 0x10ffff) {
		*error_r = "invalid UTF-8: code point above U+10FFFF";
		return -1;
	}
	*cp_r = cp;
	*pos = i + 1 + need;
	return 0;
}

int
mutf7_utf8_validate(const char *s, size_t len, const char **error_r)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		/* ASCII runs are the common case; skip them cheaply. */
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if (utf8_next(u, len, &i, &cp, error_r) < 0)
			return -1;
	}
	return 0;
}

static inline bool
is_printable(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

bool
mutf7_is_plain(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_printable(c) || c == '&')
			return false;
	}
	return true;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Decodes one shift sequence starting after its '&' at s[*pos] up to and
 * including the closing '-'. With out == NULL it only validates. */
static int
decode_shift(const unsigned char *s, size_t len, size_t *pos, struct obuf *out,
             const char **error_r)
{
	size_t i = *pos;
	uint32_t bits = 0, high = 0;
	unsigned int nbits = 0;

	for (;;) {
		int v;

		if (i == len) {
			*error_r = "invalid modified UTF-7: '&' sequence not closed by '-'";
			return -1;
		}
		if (s[i] == '-')
			break;
		v = b64_value(s[i]);
		if (v < 0) {
			*error_r = "invalid modified UTF-7: bad character in base64 sequence";
			return -1;
		}
		i++;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff) {
				*error_r = "invalid modified UTF-7: unpaired UTF-16 surrogate";
				return -1;
			}
			if (out != NULL)
				obuf_put_utf8(out,
				              0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			*error_r = "invalid modified UTF-7: unpaired UTF-16 surrogate";
			return -1;
		} else if (unit == 0) {
			*error_r = "invalid modified UTF-7: encoded NUL";
			return -1;
		} else if (unit >= 0x20 && unit <= 0x7e) {
			*error_r = "invalid modified UTF-7: printable ASCII encoded in base64";
			return -1;
		} else if (out != NULL) {
			obuf_put_utf8(out, unit);
		}
	}
	if (high != 0) {
		*error_r = "invalid modified UTF-7: unpaired UTF-16 surrogate";
		return -1;
	}
	if (nbits >= 6) {
		*error_r = "invalid modified UTF-7: incomplete UTF-16 unit in base64 sequence";
		return -1;
	}
	if (bits != 0) {
		*error_r = "invalid modified UTF-7: non-zero padding bits";
		return -1;
	}
	*pos = i + 1;
	return 0;
}

static int
decode(const char *str, size_t len, struct obuf *out, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, last_shift_end = (size_t)-1;

	while (i < len) {
		unsigned char c = s[i];

		if (!is_printable(c)) {
			*error_r = c >= 0x80 ? "invalid modified UTF-7: 8-bit character"
			                     : "invalid modified UTF-7: control character";
			return -1;
		}
		if (c != '&') {
			if (out != NULL)
				obuf_putc(out, (char)c);
			i++;
			continue;
		}
		if (i + 1 < len && s[i + 1] == '-') {
			if (out != NULL)
				obuf_putc(out, '&');
			i += 2;
			continue;
		}
		/* A canonical encoder puts a run of characters into one
		 * sequence, so "&AOk-&AOk-" has a shorter spelling. */
		if (i == last_shift_end) {
			*error_r = "invalid modified UTF-7: adjacent base64 sequences";
			return -1;
		}
		i++;
		if (decode_shift(s, len, &i, out, error_r) < 0)
			return -1;
		last_shift_end = i;
	}
	return 0;
}

bool
mutf7_is_valid(const char *s, size_t len)
{
	const char *error;

	return decode(s, len, NULL, &error) == 0;
}

int
mutf7_decode(const char *s, size_t len, char **utf8_r, const char **error_r)
{
	struct obuf out = {0};

	if (decode(s, len, &out, error_r) < 0) {
		free(out.data);
		return -1;
	}
	*utf8_r = obuf_finish(&out);
	return 0;
}

static void
encode_units(struct obuf *out, uint32_t *bits, unsigned int *nbits, uint32_t unit)
{
	*bits = (*bits << 16) | unit;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		obuf_putc(out, b64_alphabet[(*bits >> *nbits) & 0x3f]);
	}
	*bits &= (1u << *nbits) - 1;
}

int
mutf7_encode(const char *str, size_t len, char **mutf7_r, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)str;
	struct obuf out = {0};
	size_t i = 0;

	while (i < len) {
		if (is_printable(s[i])) {
			if (s[i] == '&')
				obuf_put(&out, "&-", 2);
			else
				obuf_putc(&out, (char)s[i]);
			i++;
			continue;
		}
		uint32_t bits = 0;
		unsigned int nbits = 0;

		obuf_putc(&out, '&');
		while (i < len && !is_printable(s[i])) {
			uint32_t cp;

			if (utf8_next(s, len, &i, &cp, error_r) < 0)
				goto fail;
			if (cp == 0) {
				*error_r = "NUL character in mailbox name";
				goto fail;
			}
			if (cp >= 0x10000) {
				cp -= 0x10000;
				encode_units(&out, &bits, &nbits, 0xd800 + (cp >> 10));
				encode_units(&out, &bits, &nbits, 0xdc00 + (cp & 0x3ff));
			} else {
				encode_units(&out, &bits, &nbits, cp);
			}
		}
		if (nbits > 0)
			obuf_putc(&out, b64_alphabet[(bits << (6 - nbits)) & 0x3f]);
		obuf_putc(&out, '-');
	}
	*mutf7_r = obuf_finish(&out);
	return 0;
fail:
	free(out.data);
	return -1;
}
