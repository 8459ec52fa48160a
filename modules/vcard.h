/* vCard 3.0 (RFC 2426) and 4.0 (RFC 6350): an own parser and writer for
 * contacts and distribution lists, keeping a card byte-stable (every
 * property, parameter and unknown X- property in its order and spelling),
 * plus the accessors the groupware index needs.
 *
 * Canonical form: what vcard_write produces. It is the card as parsed with
 * CRLF line ends and lines folded at 75 octets (never inside a UTF-8
 * sequence); names, parameters and values keep their bytes exactly. A card
 * already in canonical form is written back byte for byte. Blank lines are
 * dropped.
 *
 * Leniency (documented choices): N is not required in 3.0 (FN is, in both
 * versions); VERSION may appear anywhere in the card; a 3.0 parameter
 * without '=' (TEL;WORK:...) is kept as a bare TYPE value. Input must be
 * UTF-8; CHARSET parameters are kept but not applied. */
#ifndef FLOE_VCARD_H
#define FLOE_VCARD_H

#include <stdbool.h>
#include <stddef.h>

enum vcard_version {
	VCARD_V3 = 3,
	VCARD_V4 = 4,
};

/* Limits of vcard_parse. */
#define VCARD_MAX_PROPS  10000
#define VCARD_MAX_PARAMS 100

struct vcard_param {
	char *name;    /* as written */
	char *raw;     /* value text as written (quotes kept); NULL: bare 3.0 TYPE value */
	char **values; /* decoded: unquoted, split at commas outside quotes, RFC 6868 (4.0) */
	size_t nvalues;
};

struct vcard_prop {
	char *group; /* NULL when none */
	char *name;  /* as written */
	struct vcard_param *params;
	size_t nparams;
	char *value;   /* raw value text, escapes kept */
	unsigned line; /* first physical line in the parsed text; 0 when built */
};

struct vcard {
	enum vcard_version version;
	char *begin, *end;        /* the BEGIN and END lines as written */
	struct vcard_prop *props; /* everything between them, VERSION included */
	size_t nprops, cap;
};

/* Parses one card from text (len bytes, CRLF or LF line ends). Returns the
 * card, or NULL with *error_r naming the line and the reason ("line 4:
 * unterminated quoted parameter value"); the message is in a static buffer
 * valid until the next vcard_parse call. Refused: bytes that are not UTF-8
 * or control characters, a first line other than BEGIN:VCARD, nested
 * BEGIN, END not matching, a missing END, anything after END (one card per
 * object), malformed property lines or parameters, VERSION missing,
 * repeated or other than 3.0/4.0, FN missing, MEMBER without KIND:group,
 * more than VCARD_MAX_PROPS properties or VCARD_MAX_PARAMS parameters. */
struct vcard *vcard_parse(const char *text, size_t len, const char **error_r);
void vcard_free(struct vcard **card);

/* A new card with BEGIN, VERSION and END. */
struct vcard *vcard_new(enum vcard_version version);
/* Appends a property with a raw value (already escaped); group may be
 * NULL. name must be a token (letters, digits, '-'), value free of control
 * characters other than tab (both are programming errors otherwise). The
 * pointer is valid until the next vcard_add on the card. */
struct vcard_prop *vcard_add(struct vcard *card, const char *group, const char *name,
                             const char *value);
/* Like vcard_add with a text value, escaped (\\ \, \; and newlines as \n). */
struct vcard_prop *vcard_add_text(struct vcard *card, const char *group, const char *name,
                                  const char *text);
/* Adds a parameter with one value, quoted when needed; in 4.0 newline,
 * '^' and '"' are RFC 6868-encoded, in 3.0 newline becomes a space and
 * '"' is refused. Returns -1 with *error_r for a bad name or a value with
 * control characters. */
int vcard_param_add(const struct vcard *card, struct vcard_prop *prop, const char *name,
                    const char *value, const char **error_r);
/* Adds a member to a distribution list (KIND:group / MEMBER in 4.0,
 * X-ADDRESSBOOKSERVER-KIND:group / X-ADDRESSBOOKSERVER-MEMBER in 3.0),
 * setting the kind first when the card has none. uri e.g. "urn:uuid:..."
 * or "mailto:a@b". */
void vcard_member_add(struct vcard *card, const char *uri);

/* The canonical text (NUL-terminated, *len_r bytes). The caller frees. */
char *vcard_write(const struct vcard *card, size_t *len_r);

/* --- Values --- */

/* Decodes a text value: \n and \N become newline, \\ \, \; their
 * character (an unknown escape keeps the character). Caller frees. */
char *vcard_text_unescape(const char *raw, size_t len);
/* Escapes text for a value. Caller frees. */
char *vcard_text_escape(const char *text);
/* Splits a raw value at unescaped sep (';' for structured values, ','
 * for lists) and unescapes each part. Returns a NULL-terminated array
 * (free with vcard_strv_free), *count_r parts. */
char **vcard_split(const char *raw, char sep, size_t *count_r);
void vcard_strv_free(char ***strv);

/* The first property called name (case-insensitive, any group), or NULL. */
const struct vcard_prop *vcard_find(const struct vcard *card, const char *name);
/* The first parameter called name, or NULL. */
const struct vcard_param *vcard_prop_param(const struct vcard_prop *prop, const char *name);
/* True when a TYPE parameter of prop has value (case-insensitive). */
bool vcard_prop_has_type(const struct vcard_prop *prop, const char *value);

/* --- The index --- */

struct vcard_index {
	char *uid, *fn;
	char *kind; /* lower case: individual (default), group, org, location, ... */
	char *n_family, *n_given, *n_additional, *n_prefix, *n_suffix;
	char *org;     /* the organization name (first component of ORG) */
	char *klass;   /* CLASS as written, NULL when absent */
	char **emails; /* in card order, PREF=1 / TYPE=pref first */
	size_t nemails;
	char **tels; /* "tel:" prefix of 4.0 URIs removed */
	size_t ntels;
	char **categories;
	size_t ncategories;
	char **members; /* distribution list member URIs */
	size_t nmembers;
	bool has_bday;
	int bday_year; /* 0 when the card gives none (--MMDD) */
	int bday_month, bday_day;
};

/* Fills idx_r from card (strings allocated; NULL when absent, arrays
 * NULL-terminated). A BDAY that is not a date (VALUE=text) leaves
 * has_bday false. */
void vcard_index_get(const struct vcard *card, struct vcard_index *idx_r);
void vcard_index_clear(struct vcard_index *idx);

#endif
