/* Internals shared by the vCard parser (vcard.c), writer (vcard-write.c)
 * and value accessors and index (vcard-index.c). Not for other modules. */
#ifndef FLOE_VCARD_PRIVATE_H
#define FLOE_VCARD_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "vcard.h"

/* True for a non-empty name of letters, digits and '-'. */
bool vcard_is_token(const char *s);
/* Appends s (taken over) to the NULL-terminated array *strv of *n. */
void vcard_strv_push(char ***strv, size_t *n, char *s);
/* A new zeroed property at the end of card's list. */
struct vcard_prop *vcard_prop_append(struct vcard *card);
/* Fills param->values from param->raw (quotes removed, split at commas
 * outside quotes, RFC 6868 decoded in 4.0); a bare 3.0 TYPE value gives
 * its name. */
void vcard_param_decode(struct vcard_param *param, enum vcard_version version);
/* The property's name is name, in any case. */
bool vcard_prop_is(const struct vcard_prop *p, const char *name);

#endif
