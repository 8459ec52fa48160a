/* Strict UTF-8 (RFC 3629) checks shared by the parsers: no overlong forms,
 * no surrogates, nothing past U+10FFFF. */
#ifndef FLOE_UTF8_H
#define FLOE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length (1-4) of the valid sequence at s, which has n > 0 bytes, or 0
 * when it is not valid UTF-8. *cp_r (when not NULL) gets the code point. */
size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp_r);
/* The offset of the first byte that does not start a valid sequence, len
 * when all of s is valid. */
size_t utf8_valid_prefix(const void *s, size_t len);
static inline bool
utf8_valid(const void *s, size_t len)
{
	return utf8_valid_prefix(s, len) == len;
}

#endif
