/* Small helpers the IMAP message commands share: flag lists (STORE,
 * APPEND), date-time values (APPEND, INTERNALDATE), UID lists in UIDPLUS
 * form (COPYUID, APPENDUID) and UID arrays turned into store ranges. */
#ifndef FLOE_IMAPX_MSG_UTIL_H
#define FLOE_IMAPX_MSG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

struct imap_arg;
struct seqset;

/* A validated flag list: system flags in canonical spelling ("\\Seen"),
 * keywords as given; duplicates (case-insensitive) removed. */
struct imap_flag_list {
	char **flags;
	size_t count;
};

/* Parses flags from args[0..count): each an atom (a flag) or, when
 * allow_list, one parenthesized list of atoms. \Recent and unknown system
 * flags are refused, as are keywords with characters outside atom-char.
 * Returns 0, or -1 with *error_r (static; answer BAD). */
int imap_flag_list_parse(const struct imap_arg *args, size_t count, struct imap_flag_list *list_r,
                         const char **error_r);
void imap_flag_list_clear(struct imap_flag_list *list);

/* Parses an IMAP date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (the day may have
 * a leading space). Returns 0 with the UTC time, or -1. */
int imap_date_time_parse(const char *s, size_t len, time_t *time_r);
/* Formats t as an IMAP date-time in UTC ("07-Feb-1994 21:52:25 +0000")
 * into buf (at least 27 bytes). */
void imap_date_time_format(time_t t, char *buf, size_t size);

/* Formats the UIDs uids[0..count) in the order given as a UIDPLUS set,
 * joining runs of consecutive numbers ("4:6,9"). With pair non-NULL, a run
 * continues only while pair[] also ascends by one, so that COPYUID's source
 * and destination sets stay aligned element by element. Allocated. */
char *imap_uid_list_format(const uint32_t *uids, const uint32_t *pair, size_t count);

/* Store ranges over sorted (ascending) UIDs uids[0..count); free
 * *pairs_r after use. */
void imap_uid_array_ranges(const uint32_t *uids, size_t count, struct store_uid_ranges *ranges_r,
                           uint32_t (**pairs_r)[2]);

/* An imap_search_resolve_fn (search-parse.h) for SEARCH and SORT: ctx
 * is the struct imap_cmd; sets resolve against its selected mailbox
 * with imap_cmd_seqset (so "*", "$" and the view's limits apply). */
int imap_msg_resolve_set(const char *set, bool uid, struct seqset *uids_r, void *ctx,
                         const char **error_r);

#endif
