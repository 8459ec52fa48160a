/* Folder types in the Kolab vocabulary IceWarp reuses ("event",
 * "event.default", "mail.sentitems", ...) over the folders table: a value
 * is the folder's type column, its is_default flag (".default") and, for
 * mail folders, its special use (inbox, drafts, sentitems, junkemail,
 * wastebasket). Formatting and parsing are pure; setting a type is one
 * statement that only turns an empty plain mail folder into a typed one.
 * Conventions as in store.h. */
#ifndef FLOE_STORE_FOLDERTYPE_H
#define FLOE_STORE_FOLDERTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Longest value store_foldertype_format writes, with the NUL. */
#define STORE_FOLDERTYPE_MAX 32

struct store_foldertype {
	const char *type;        /* mail, event, contact, task, note, journal, file */
	const char *special_use; /* mail only: inbox, sent, drafts, trash, junk; else NULL */
	bool is_default;         /* not for mail */
};

/* Writes folder's Kolab value into buf (at least STORE_FOLDERTYPE_MAX
 * bytes) and returns buf. With own false (a grantee looking at another
 * account's folder) the suffix is left out: ".default" and the mail
 * subtypes describe the owner's folders only. */
const char *store_foldertype_format(const struct store_folder *folder, bool own, char *buf,
                                    size_t size);

/* Parses a Kolab value (case-insensitive, len bytes). Returns 0 with
 * *type_r pointing at static strings, or -1 with *error_r (static) for a
 * value outside the vocabulary. */
int store_foldertype_parse(const char *value, size_t len, struct store_foldertype *type_r,
                           const char **error_r);

/* Gives folder_id of account_id the type, in one transaction that bumps
 * the folder's HIGHESTMODSEQ and sends the change notice. Only a plain
 * mail folder (no special use) that holds no message can get a type;
 * asking for the type the folder already has succeeds without a write.
 * Fails with STORE_ERR_NOT_FOUND (no folder), STORE_ERR_NOT_EMPTY (it
 * holds messages), STORE_ERR_INVALID (it already has another type, is a
 * \Noselect name, or another folder already is the default of that type
 * or has that special use), each with a one-line reason. */
struct store_op *store_foldertype_set(struct store *store, uint64_t account_id, uint64_t folder_id,
                                      const struct store_foldertype *type, store_done_cb *cb,
                                      void *ctx);

#endif
