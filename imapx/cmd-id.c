/* ID (RFC 2971): logs what the client says about itself (at debug level)
 * and names the server. */
#include <string.h>

#include "commands.h"
#include "log.h"

#define ID_MAX_PAIRS     30
#define ID_MAX_FIELD_LEN 30
#define ID_MAX_VALUE_LEN 1024

enum imap_cmd_result
cmd_id(struct imap_cmd *cmd)
{
	const struct imap_arg *list;
	size_t count;

	if (cmd->count != 1) {
		imap_cmd_bad(cmd, "Usage: ID (\"field\" \"value\" ...) or ID NIL");
		return IMAP_CMD_DONE;
	}
	if (cmd->args[0].type != IMAP_ARG_NIL) {
		if (!imap_arg_list(&cmd->args[0], &list, &count) || count % 2 != 0) {
			imap_cmd_bad(cmd, "ID wants a list of field/value pairs or NIL");
			return IMAP_CMD_DONE;
		}
		if (count / 2 > ID_MAX_PAIRS) {
			imap_cmd_bad(cmd, "Too many ID fields (at most %d)", ID_MAX_PAIRS);
			return IMAP_CMD_DONE;
		}
		for (size_t i = 0; i < count; i += 2) {
			const char *field, *value;
			size_t flen, vlen;

			if (!imap_arg_string(&list[i], &field, &flen) ||
			    !imap_arg_nstring(&list[i + 1], &value, &vlen)) {
				imap_cmd_bad(cmd,
				             "ID fields are strings and values strings or NIL");
				return IMAP_CMD_DONE;
			}
			if (flen > ID_MAX_FIELD_LEN || vlen > ID_MAX_VALUE_LEN) {
				imap_cmd_bad(cmd, "ID field or value too long");
				return IMAP_CMD_DONE;
			}
			if (memchr(field, '\0', flen) == NULL &&
			    (value == NULL || memchr(value, '\0', vlen) == NULL))
				log_debug("imap %s: client ID %s = %s",
				          imap_client_peer(cmd->client), field,
				          value != NULL ? value : "NIL");
		}
	}
	imap_client_untagged(cmd->client,
	                     "ID (\"name\" \"Floe\" \"vendor\" \"Floe\" \"version\" \"%s\")",
	                     PACKAGE_VERSION);
	imap_cmd_ok(cmd, "ID completed");
	return IMAP_CMD_DONE;
}
