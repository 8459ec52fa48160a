/* The IMAP command table: name, implementation, where it is valid and how
 * the session treats it. Lookup is a binary search over the sorted names. */
#include <stdlib.h>
#include <strings.h>

#include "acl.h"
#include "commands.h"

#define ANY      (IMAP_STATE_NOT_AUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define NOT_AUTH IMAP_STATE_NOT_AUTH
#define AUTHED   (IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define SELECTED IMAP_STATE_SELECTED

/* Sorted by name (checked by imap_command_find's binary search). */
static const struct imap_command_def imap_commands[] = {
    {.name = "APPEND", .exec = cmd_append, .literal = cmd_append_literal, .states = AUTHED},
    {.name = "AUTHENTICATE",
     .exec = cmd_authenticate,
     .states = NOT_AUTH,
     .flags = IMAP_CMD_FLAG_EXCLUSIVE},
    {.name = "CAPABILITY", .exec = cmd_capability, .states = ANY},
    {.name = "CHECK", .exec = cmd_check, .states = SELECTED, .flags = IMAP_CMD_FLAG_REFRESH},
    {.name = "CLOSE", .exec = cmd_close, .states = SELECTED},
    {.name = "COMPRESS", .exec = cmd_compress, .states = AUTHED, .flags = IMAP_CMD_FLAG_EXCLUSIVE},
    {.name = "COPY",
     .exec = cmd_copy,
     .states = SELECTED,
     .flags = IMAP_CMD_FLAG_UID,
     .rights = ACL_READ},
    {.name = "CREATE", .exec = cmd_create, .states = AUTHED},
    {.name = "DELETE", .exec = cmd_delete, .states = AUTHED},
    {.name = "DELETEACL", .exec = cmd_deleteacl, .states = AUTHED},
    {.name = "ENABLE", .exec = cmd_enable, .states = AUTHED},
    {.name = "ESEARCH", .exec = cmd_esearch, .states = AUTHED, .flags = IMAP_CMD_FLAG_NO_UPDATES},
    {.name = "EXAMINE", .exec = cmd_examine, .states = AUTHED},
    {.name = "EXPUNGE",
     .exec = cmd_expunge,
     .states = SELECTED,
     .flags = IMAP_CMD_FLAG_UID,
     .rights = ACL_EXPUNGE},
    {.name = "FETCH",
     .exec = cmd_fetch,
     .states = SELECTED,
     .flags = IMAP_CMD_FLAG_UID | IMAP_CMD_FLAG_NO_UPDATES,
     .rights = ACL_READ},
    {.name = "GETACL", .exec = cmd_getacl, .states = AUTHED},
    {.name = "GETMETADATA", .exec = cmd_getmetadata, .states = AUTHED},
    {.name = "ID", .exec = cmd_id, .states = ANY},
    {.name = "IDLE", .exec = cmd_idle, .states = AUTHED, .flags = IMAP_CMD_FLAG_EXCLUSIVE},
    {.name = "LIST", .exec = cmd_list, .states = AUTHED},
    {.name = "LISTRIGHTS", .exec = cmd_listrights, .states = AUTHED},
    {.name = "LOGIN", .exec = cmd_login, .states = NOT_AUTH},
    {.name = "LOGOUT",
     .exec = cmd_logout,
     .states = ANY,
     .flags = IMAP_CMD_FLAG_NO_UPDATES | IMAP_CMD_FLAG_EXCLUSIVE},
    {.name = "LSUB", .exec = cmd_lsub, .states = AUTHED},
    {.name = "MOVE",
     .exec = cmd_move,
     .states = SELECTED,
     .flags = IMAP_CMD_FLAG_UID,
     .rights = ACL_READ | ACL_DELETE_MSGS | ACL_EXPUNGE},
    {.name = "MSEARCH", .exec = cmd_msearch, .states = AUTHED, .flags = IMAP_CMD_FLAG_NO_UPDATES},
    {.name = "MYRIGHTS", .exec = cmd_myrights, .states = AUTHED},
    {.name = "NAMESPACE", .exec = cmd_namespace, .states = AUTHED},
    {.name = "NOOP", .exec = cmd_noop, .states = ANY, .flags = IMAP_CMD_FLAG_REFRESH},
    {.name = "RENAME", .exec = cmd_rename, .states = AUTHED},
    {.name = "SEARCH",
     .exec = cmd_search,
     .states = SELECTED,
     .flags = IMAP_CMD_FLAG_UID | IMAP_CMD_FLAG_NO_UPDATES,
     .rights = ACL_READ},
    {.name = "SELECT", .exec = cmd_select, .states = AUTHED},
    {.name = "SETACL", .exec = cmd_setacl, .states = AUTHED},
    {.name = "SETMETADATA", .exec = cmd_setmetadata, .states = AUTHED},
    {.name = "SORT",
     .exec = cmd_sort,
     .states = SELECTED,
     .flags = IMAP_CMD_FLAG_UID | IMAP_CMD_FLAG_NO_UPDATES,
     .rights = ACL_READ},
    {.name = "STARTTLS",
     .exec = cmd_starttls,
     .states = NOT_AUTH,
     .flags = IMAP_CMD_FLAG_EXCLUSIVE},
    {.name = "STATUS", .exec = cmd_status, .states = AUTHED},
    {.name = "STORE",
     .exec = cmd_store,
     .states = SELECTED,
     .flags = IMAP_CMD_FLAG_UID | IMAP_CMD_FLAG_NO_UPDATES,
     .rights = ACL_READ,
     .rights_any = ACL_SEEN | ACL_WRITE | ACL_DELETE_MSGS},
    {.name = "SUBSCRIBE", .exec = cmd_subscribe, .states = AUTHED},
    {.name = "UNSELECT", .exec = cmd_unselect, .states = SELECTED},
    {.name = "UNSUBSCRIBE", .exec = cmd_unsubscribe, .states = AUTHED},
    {.name = "X-ICEWARP-SERVER", .exec = cmd_x_icewarp_server, .states = ANY},
};

static int
imap_command_cmp(const void *key, const void *elem)
{
	return strcasecmp(key, ((const struct imap_command_def *)elem)->name);
}

const struct imap_command_def *
imap_command_find(const char *name)
{
	return bsearch(name, imap_commands, sizeof(imap_commands) / sizeof(*imap_commands),
	               sizeof(*imap_commands), imap_command_cmp);
}
