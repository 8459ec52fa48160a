/* Internals shared by the ActiveSync e-mail commands (sync*.c,
 * getitemestimate.c, itemoperations.c, moveitems.c, search.c,
 * sendmail.c): SyncKeys, item ids and FileReferences, the Email class
 * options (FilterType, BodyPreference, MIMESupport...), writing Email
 * ApplicationData, client flag changes, and loading messages with their
 * parsed MIME. Not for other parts of Floe. */
#ifndef FLOE_EAS_MAIL_PRIVATE_H
#define FLOE_EAS_MAIL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "eas.h"
#include "message-eas.h"

struct store;

/* Limits. */
#define EAS_SYNC_DEFAULT_WINDOW  100
#define EAS_SYNC_MAX_WINDOW      512
#define EAS_SYNC_MAX_COLLECTIONS 100
/* Messages up to this size come with the window query; larger ones are
 * read alone. */
#define EAS_MAIL_INLINE_MAX (2 * 1024 * 1024)
/* A Sync response stops adding items past this many body bytes and says
 * MoreAvailable, so that phones get an answer well before their timeout. */
#define EAS_SYNC_MAX_RESPONSE_BYTES (8 * 1024 * 1024)

/* ---------------------------------------------------------------------
 * Keys and ids (sync-state.c)
 */

/* "{generation}N". Returns a newly allocated string. */
char *eas_sync_key_format(const char *generation, uint32_t n);
/* "0" gives n 0 and an empty generation; "{uuid}N" with N > 0 gives
 * both. Returns 0, or -1 for anything else. */
int eas_sync_key_parse(const char *text, char generation_r[40], uint32_t *n_r);

/* "<folder>:<uid>". Returns 0 or -1. */
int eas_mail_item_id(const char *text, uint64_t *folder_r, uint32_t *uid_r);
/* "<folder>:<uid>:<part>" (part a section number "2", "1.2"). */
int eas_mail_file_ref(const char *text, uint64_t *folder_r, uint32_t *uid_r, char part_r[64]);
/* A decimal folder id (CollectionId). */
int eas_mail_folder_id(const char *text, uint64_t *folder_r);

/* ---------------------------------------------------------------------
 * Options of the Email class (sync-state.c)
 */

struct eas_body_pref {
	unsigned type; /* 1 plain, 2 HTML, 3 RTF, 4 MIME */
	bool has_truncation;
	uint32_t truncation; /* bytes */
	bool all_or_none;
	uint32_t preview; /* characters of Preview (14.0+), 0 none */
};

struct eas_mail_options {
	unsigned filter_type; /* 0 all, 1 day, 2 3 days, 3 week, 4 2 weeks, 5 month, 6, 7 */
	struct eas_body_pref body[4];
	unsigned nbody;
	struct eas_body_pref part; /* BodyPartPreference (16.x) */
	bool has_part;
	unsigned mime_support;    /* 0 never, 1 S/MIME only, 2 always */
	unsigned mime_truncation; /* 0..7 code, 8 or absent: none */
	bool has_mime_truncation;
	bool rights_management;
};

/* Parses the children of an Options element into o (which keeps what is
 * not given). Returns 0, or -1 with *error_r for a value out of range. */
int eas_mail_options_parse(const struct wbxml_node *options, struct eas_mail_options *o,
                           const char **error_r);
/* JSON for the sync state, and back (unknown or bad JSON gives the
 * defaults). The string is newly allocated. */
char *eas_mail_options_json(const struct eas_mail_options *o);
void eas_mail_options_from_json(const char *json, struct eas_mail_options *o);
/* Start of the FilterType window (0: no window). */
time_t eas_filter_since(unsigned filter_type, time_t now);

/* ---------------------------------------------------------------------
 * Messages loaded for sending (mail-items.c)
 */

struct eas_mail_item {
	uint64_t folder_id;
	uint32_t uid;
	bool found; /* false: no such message (Status 8) */
	uint64_t modseq;
	char **flags;
	size_t nflags;
	time_t internal_date;
	uint64_t size;
	char *thread_id;
	bool parsed;
	struct message_eas msg; /* when loaded with bodies */
	unsigned char *raw;     /* the raw message when kept */
	size_t raw_len;
};

struct eas_mail_load;
/* items: one per uid asked, in that order (not found ones too); the
 * callee owns them: free with eas_mail_items_free. error: a database
 * failure (items NULL). */
typedef void eas_mail_load_cb(struct eas_mail_item *items, size_t count, const char *error,
                              void *ctx);
/* Loads messages of folder_id; with_body parses each (and keep_raw keeps
 * its bytes for MIME bodies and attachments). Calls back from the loop. */
struct eas_mail_load *eas_mail_load(struct store *store, uint64_t account_id, uint64_t folder_id,
                                    const uint32_t *uids, size_t count, bool with_body,
                                    bool keep_raw, eas_mail_load_cb *cb, void *ctx);
void eas_mail_load_abandon(struct eas_mail_load **load);
void eas_mail_items_free(struct eas_mail_item *items, size_t count);

/* ---------------------------------------------------------------------
 * Email ApplicationData (sync-email.c)
 */

/* Which Body type an item is sent in under o (1, 2 or 4). */
unsigned eas_email_body_type(const struct eas_mail_options *o, const struct message_eas *msg);
/* Writes the Email class properties of a loaded item (inside an open
 * ApplicationData or Properties element). */
void eas_email_write(struct wbxml_writer *w, unsigned version, const struct eas_mail_item *it,
                     const struct eas_mail_options *o);
/* Multipart responses (ItemOperations with MS-ASAcceptMultiPart): data
 * moves out of the WBXML into parts numbered from 1 (part 0 is the WBXML). */
struct eas_parts {
	struct evbuffer **bufs;
	size_t n, cap;
};
/* Adds a copy of data; returns its part number. */
unsigned eas_parts_add(struct eas_parts *p, const void *data, size_t len);
void eas_parts_free(struct eas_parts *p);
/* The application/vnd.ms-sync.multipart body: a count, (offset, length)
 * pairs (32-bit little-endian), the WBXML, then each part. */
void eas_parts_build(struct evbuffer *out, struct evbuffer *wbxml, const struct eas_parts *p);
/* eas_email_write with the body as a Part when parts is not NULL. */
void eas_email_write_parts(struct wbxml_writer *w, unsigned version, const struct eas_mail_item *it,
                           const struct eas_mail_options *o, struct eas_parts *parts);
/* Only what flag changes touch: Read, Flag, Categories. */
void eas_email_write_flags(struct wbxml_writer *w, unsigned version, const char *const *flags,
                           size_t nflags);
/* The body bytes written for an item under o (to bound response sizes). */
size_t eas_email_body_bytes(const struct eas_mail_item *it, const struct eas_mail_options *o);

/* A client's Change of an e-mail: Read, Flag, Categories. */
struct eas_flag_change {
	bool set_read, read;
	bool set_flag;
	unsigned flag_status; /* 0 cleared, 1 complete, 2 active */
	bool set_categories;
	char **categories;
	size_t ncategories;
};
/* Parses ApplicationData of a Change. Returns 0, or -1 (malformed). */
int eas_email_parse_change(const struct wbxml_node *appdata, struct eas_flag_change *c);
void eas_flag_change_clear(struct eas_flag_change *c);
/* The flags after applying c to flags; newly allocated (free with
 * eas_strv_free). */
char **eas_email_apply_change(const char *const *flags, size_t nflags,
                              const struct eas_flag_change *c, size_t *count_r);
/* Same set of flags, in any order and case. */
bool eas_flags_same(const char *const *a, size_t na, const char *const *b, size_t nb);
void eas_strv_free(char **v, size_t count);

/* Category names as IMAP keywords and back (NULL: the keyword is not a
 * category). Newly allocated. */
char *eas_category_keyword(const char *category);
char *eas_keyword_category(const char *keyword);

/* 2009-11-12T00:45:06.000Z */
void eas_format_date(time_t t, char out[32]);
/* Parses that form (and without milliseconds or Z). Returns 0 or -1. */
int eas_parse_date(const char *text, time_t *t_r);

#endif
