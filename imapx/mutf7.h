/* Modified UTF-7 (RFC 3501 section 5.1.3), the encoding of IMAP mailbox
 * names before UTF8=ACCEPT, converted to and from UTF-8 with strict
 * validation; plus a strict UTF-8 validator for names and quoted strings. */
#ifndef FLOE_IMAPX_MUTF7_H
#define FLOE_IMAPX_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

/* Checks that s[0..len) is well-formed UTF-8: no overlong forms, no UTF-16
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequence. NUL bytes are accepted here (callers that forbid them check
 * separately). Returns 0, or -1 with *error_r set to a static message such
 * as "invalid UTF-8: overlong encoding". */
int mutf7_utf8_validate(const char *s, size_t len, const char **error_r);

/* True if s[0..len) is valid modified UTF-7 in its canonical form. */
bool mutf7_is_valid(const char *s, size_t len);

/* True if s[0..len) is plain printable ASCII without '&', i.e. a name whose
 * modified UTF-7 and UTF-8 spellings are the same. */
bool mutf7_is_plain(const char *s, size_t len);

/* Decodes the modified UTF-7 mailbox name s[0..len) into a newly allocated,
 * NUL-terminated UTF-8 string (*utf8_r, freed by the caller). Rejects, with a
 * static message in *error_r and -1: raw bytes outside printable ASCII, an
 * '&' sequence not closed by '-', characters outside the modified base64
 * alphabet, non-zero or superfluous padding bits, a shift sequence that
 * encodes printable ASCII, two shift sequences next to each other, unpaired
 * UTF-16 surrogates and U+0000. On error *utf8_r is left untouched. */
int mutf7_decode(const char *s, size_t len, char **utf8_r, const char **error_r);

/* Encodes the UTF-8 mailbox name s[0..len) as canonical modified UTF-7 into a
 * newly allocated, NUL-terminated string (*mutf7_r, freed by the caller).
 * Returns 0, or -1 with *error_r set if s is not valid UTF-8 or contains
 * U+0000; *mutf7_r is then left untouched. */
int mutf7_encode(const char *s, size_t len, char **mutf7_r, const char **error_r);

#endif
