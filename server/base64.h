/* Base64 (RFC 4648, standard alphabet) for every protocol: SASL and HTTP
 * Basic credentials, the EAS base64 query, opaque data in XML renderings,
 * PostgreSQL's encode(..., 'base64') output. One decoder with two modes
 * instead of one per caller. */
#ifndef FLOE_BASE64_H
#define FLOE_BASE64_H

#include <stddef.h>

struct evbuffer;

enum base64_mode {
	/* RFC 4648 exactly: length a multiple of 4, padding where due, no
	 * whitespace, no bits left over (SASL). */
	BASE64_STRICT,
	/* Whitespace (space, tab, CR, LF) is skipped, padding is optional,
	 * data after padding is refused (HTTP Basic, XML, PostgreSQL). */
	BASE64_LENIENT,
};

/* The largest number of bytes len characters decode to. */
#define BASE64_DECODED_MAX(len) ((len) / 4 * 3 + 3)

/* Decodes text into out (room for BASE64_DECODED_MAX(len) bytes). Returns
 * the decoded length, or -1 when text is not base64 in that mode. */
long base64_decode_into(const char *text, size_t len, enum base64_mode mode, unsigned char *out);
/* The same into a new buffer with a NUL after the data (the caller frees).
 * Returns 0 with *data_r and *len_r, or -1. */
int base64_decode(const char *text, size_t len, enum base64_mode mode, unsigned char **data_r,
                  size_t *len_r);

/* Writes the encoding of len bytes (with padding, no NUL) to out, which
 * has room for BASE64_ENCODED_LEN(len) characters; returns the end. */
#define BASE64_ENCODED_LEN(len) (((len) + 2) / 3 * 4)
char *base64_encode_into(char *out, const void *data, size_t len);
/* Encodes len bytes with padding; returns a new NUL-terminated string. */
char *base64_encode(const void *data, size_t len);
/* Appends the encoding of len bytes to out. */
void base64_encode_evbuffer(struct evbuffer *out, const void *data, size_t len);

#endif
