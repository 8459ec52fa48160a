/* Base64 (RFC 4648, standard alphabet) for every protocol: SASL and HTTP
 * Basic credentials, the EAS base64 query, opaque data in XML renderings,
 * PostgreSQL's encode(..., 'base64') output. One decoder with two modes
 * instead of one per caller. */
#ifndef FLOE_BASE64_H
#define FLOE_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Decoding of text that arrives in pieces (a MIME part read from a
 * stream): feed every piece, then end. strict as BASE64_STRICT, otherwise
 * BASE64_LENIENT; both accept and refuse exactly what base64_decode_into
 * does, but say why. Zero-initialise, then set strict. */
struct base64_stream {
	uint32_t acc;
	unsigned bits, digits, pad;
	bool strict;
};
enum base64_error {
	BASE64_OK,
	BASE64_BAD_CHAR,  /* not in the alphabet (or whitespace when strict) */
	BASE64_AFTER_PAD, /* data after '=' */
	BASE64_BAD_PAD,   /* '=' where no padding can be */
	BASE64_TRUNCATED, /* ends inside a group, or leftover bits not zero */
};
/* Decodes len characters into out (room for BASE64_DECODED_MAX(len)
 * bytes). Returns the bytes written, or -1 with *error_r. */
long base64_stream_feed(struct base64_stream *s, const char *text, size_t len, unsigned char *out,
                        enum base64_error *error_r);
/* 0 when what was fed is complete, or -1 with *error_r. */
int base64_stream_end(const struct base64_stream *s, enum base64_error *error_r);

/* Writes the encoding of len bytes (with padding, no NUL) to out, which
 * has room for BASE64_ENCODED_LEN(len) characters; returns the end. */
#define BASE64_ENCODED_LEN(len) (((len) + 2) / 3 * 4)
char *base64_encode_into(char *out, const void *data, size_t len);
/* Encodes len bytes with padding; returns a new NUL-terminated string. */
char *base64_encode(const void *data, size_t len);
/* Appends the encoding of len bytes to out. */
void base64_encode_evbuffer(struct evbuffer *out, const void *data, size_t len);

#endif
