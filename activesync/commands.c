/* The ActiveSync command table: Cmd= names, their handlers, and whether
 * they need a provisioned device. Commands Floe does not serve yet are
 * absent: the transport answers them with HTTP 501 and says so in the log. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eas.h"

static const struct eas_command eas_commands[] = {
	/* name, handler, needs_policy, wbxml_body */
	{"Provision", eas_cmd_provision, false, true},
	{"FolderSync", eas_cmd_foldersync, true, true},
	{"FolderCreate", eas_cmd_foldercreate, true, true},
	{"FolderUpdate", eas_cmd_folderupdate, true, true},
	{"FolderDelete", eas_cmd_folderdelete, true, true},
	{"Ping", eas_cmd_ping, true, true},
	{"Settings", eas_cmd_settings, false, true},
	/* eas-mail commands: */
	{"Sync", eas_cmd_sync, true, true},
	{"GetItemEstimate", eas_cmd_getitemestimate, true, true},
	{"ItemOperations", eas_cmd_itemoperations, true, true},
	{"MoveItems", eas_cmd_moveitems, true, true},
	{"Search", eas_cmd_search, true, true},
	{"SendMail", eas_cmd_sendmail, true, true},
	{"SmartReply", eas_cmd_smartreply, true, true},
	{"SmartForward", eas_cmd_smartforward, true, true},
	{"GetAttachment", eas_cmd_getattachment, true, false},
	{NULL, NULL, false, false},
};

const struct eas_command *eas_command_find(const char *name)
{
	for (const struct eas_command *c = eas_commands; c->name != NULL; c++) {
		if (strcasecmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

const char *eas_command_list(void)
{
	static char list[512];

	if (list[0] == '\0') {
		for (const struct eas_command *c = eas_commands; c->name != NULL; c++) {
			if (list[0] != '\0')
				strcat(list, ",");
			strcat(list, c->name);
		}
	}
	return list;
}
