/* Groupware over IMAP and IceWarp's extensions, as the IMAP commands use
 * them: APPEND into typed folders (imapx/append-groupware.c), the METADATA
 * entries the server computes rather than stores (Kolab folder types and
 * IceWarp's /public/vendor/icewarp/... entries, imapx/cmd-icewarp.c), and
 * LIST's METADATA return option (RFC 9590, imapx/cmd-metadata.c). */
#ifndef FLOE_IMAPX_GROUPWARE_IMAP_H
#define FLOE_IMAPX_GROUPWARE_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap-acl.h"
#include "imap-client.h"

/* ---------------------------------------------------------------------
 * APPEND into a typed folder (event, task, note, journal, contact, file)
 */

struct imap_gw_append;

struct imap_gw_append_msg {
	const char *data; /* the message; must stay valid until the command ends */
	size_t size;
	const char *const *flags; /* already filtered by the rights */
	size_t nflags;
	time_t date; /* 0: now */
};

/* Stores msgs in mb's folder, whose type is not mail: each message is
 * parsed and validated as an item of the folder's type
 * (groupware_item_parse); the first one that is not refuses the whole
 * command with "NO [CANNOT] Message n is not a valid <type> item:
 * <reason>" and nothing is stored. Otherwise every item is stored with its
 * index in one transaction (store_groupware_append_many) and the command
 * gets "OK [APPENDUID v uids]". The command is always finished, now or from
 * a callback. *gw_r gets the state first, before the command can finish:
 * the command's cleanup must call imap_gw_append_free(gw_r) (it abandons
 * the store operation), and the caller must not touch its own command
 * state after this call. */
void imap_gw_append_start(struct imap_gw_append **gw_r, struct imap_cmd *cmd,
                          const struct imap_mailbox *mb, const struct imap_gw_append_msg *msgs,
                          size_t count);
void imap_gw_append_free(struct imap_gw_append **gw);

/* ---------------------------------------------------------------------
 * Computed METADATA entries
 */

enum imap_meta_computed {
	IMAP_META_STORED,         /* not computed: the store keeps it */
	IMAP_META_FOLDERTYPE,     /* /shared|/private/vendor/kolab/folder-type,
	                             /public/vendor/kolab/folder-type/value.shared */
	IMAP_META_FULLPATH,       /* /public/vendor/icewarp/folderinfo/fullfolderpath */
	IMAP_META_CHANGEDSINCE,   /* .../folderinfo/changedsince/<modseq> */
	IMAP_META_CHARSET,        /* /public/vendor/icewarp/serverinfo/defaultcharset */
	IMAP_META_CLIENTIP,       /* /public/vendor/icewarp/serverinfo/clientip */
	IMAP_META_PUBLIC_UNKNOWN, /* another /public name: always NIL */
};

/* What a (lower-case) entry name is; for changedsince *modseq_r gets the
 * modseq (a changedsince name with a malformed number is unknown). */
enum imap_meta_computed imap_meta_computed(const char *name, uint64_t *modseq_r);

/* The value of a computed entry that needs no query (all but
 * changedsince), newly allocated, or NULL (NIL). folder is NULL on the
 * server level; own tells whether the session owns the folder. */
char *imap_meta_value(struct imap_client *client, enum imap_meta_computed kind,
                      const struct store_folder *folder, const char *display_name, bool own);

/* The changedsince value from store_changes' answer:
 * "changed=<uid-set>&vanished=<uid-set>", each set URL-encoded (":" and
 * "," as %3A and %2C). Newly allocated. */
char *imap_meta_changedsince(const struct store_msg_list *list);

/* The folder-type names a client may ask for, in lower case. */
extern const char *const imap_meta_foldertype_names[3];

/* ---------------------------------------------------------------------
 * LIST ... RETURN (METADATA (entries)) (RFC 9590, imapx/list-metadata.c):
 * after each selectable mailbox's LIST response (and STATUS), one
 * "* METADATA mailbox (entry value ...)" with every entry asked for, NIL
 * when absent, as GETMETADATA answers it. Computed entries come from the
 * folder list itself; stored ones are read for every folder in one query
 * before the folders are listed; changedsince values are loaded for every
 * folder beforehand as well (one query per modseq asked for).
 */

struct imap_list_metadata;

/* Parses the return option's argument "(entry ...)". Returns 0 with *md_r
 * (free with imap_list_metadata_free), or -1 with *error_r (static). */
int imap_list_metadata_parse(const struct imap_arg *arg, struct imap_list_metadata **md_r,
                             const char **error_r);
void imap_list_metadata_free(struct imap_list_metadata **md);

/* True when some entry asked for is stored or a changedsince entry:
 * imap_list_metadata_load must run before the folders are written. */
bool imap_list_metadata_needs_load(const struct imap_list_metadata *md);
/* Reads the stored entries of every folder of the session's account (and,
 * with shared, of the folders shared with it), then calls done(error, ctx)
 * from the event loop (error NULL on success). Loading may take several
 * queries and belongs to md: imap_list_metadata_free abandons it (done is
 * then not called); do not keep the returned operation. */
typedef void imap_list_metadata_done_fn(const char *error, void *ctx);
struct store_op *imap_list_metadata_load(struct imap_list_metadata *md, struct imap_client *client,
                                         bool shared, imap_list_metadata_done_fn *done, void *ctx);

/* Writes the METADATA response for folder f of owner_id (own: the
 * session's), shown as name. Nothing for a \Noselect name, or for another
 * account's folder the user may not read (rights: ACL_* on it). */
void imap_list_metadata_write(struct imap_client *client, const struct imap_list_metadata *md,
                              uint64_t owner_id, const struct store_folder *f, const char *name,
                              bool own, unsigned rights);

#endif
