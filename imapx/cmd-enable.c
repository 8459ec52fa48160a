/* ENABLE (RFC 5161) for CONDSTORE, QRESYNC (RFC 7162), UTF8=ACCEPT (RFC
 * 6855) and IMAP4rev2 (RFC 9051). Unknown extensions are ignored, as the
 * RFC wants; "* ENABLED" lists what this command newly enabled. */
#include <event2/buffer.h>
#include <strings.h>

#include "commands.h"

static const struct {
	const char *name;
	unsigned bit;
} enable_names[] = {
    {"CONDSTORE", IMAP_ENABLED_CONDSTORE},
    {"QRESYNC", IMAP_ENABLED_QRESYNC},
    {"UTF8=ACCEPT", IMAP_ENABLED_UTF8},
    {"IMAP4rev2", IMAP_ENABLED_REV2},
};

enum imap_cmd_result
cmd_enable(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	unsigned before = imap_client_enabled(c), now = 0;

	if (cmd->count == 0) {
		imap_cmd_bad(cmd, "Usage: ENABLE extension ...");
		return IMAP_CMD_DONE;
	}
	for (size_t i = 0; i < cmd->count; i++) {
		const char *name;

		if (cmd->args[i].type != IMAP_ARG_ATOM || !imap_arg_atom(&cmd->args[i], &name)) {
			imap_cmd_bad(cmd, "ENABLE takes capability names");
			return IMAP_CMD_DONE;
		}
		for (size_t k = 0; k < sizeof(enable_names) / sizeof(*enable_names); k++) {
			if (strcasecmp(name, enable_names[k].name) == 0)
				now |= enable_names[k].bit;
		}
	}
	/* QRESYNC implies CONDSTORE (RFC 7162 3.2.3), which is then reported
	 * as enabled too. */
	if ((now & IMAP_ENABLED_QRESYNC) != 0)
		now |= IMAP_ENABLED_CONDSTORE;
	now &= ~before;
	imap_client_enable(c, now);
	imap_client_printf(c, "* ENABLED");
	for (size_t k = 0; k < sizeof(enable_names) / sizeof(*enable_names); k++) {
		if ((now & enable_names[k].bit) != 0)
			imap_client_printf(c, " %s", enable_names[k].name);
	}
	imap_client_printf(c, "\r\n");
	imap_cmd_ok(cmd, "ENABLE completed");
	return IMAP_CMD_DONE;
}
