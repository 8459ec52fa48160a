/* floectl's ActiveSync device commands: device list, show, log on/off (per
 * device or per account) and remove, as tables or JSON. The SQL is in
 * db/admin-device.c. Protocol logs are files under the server's state
 * directory: <state_dir>/eas-log/<device id>.log. */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin-device.h"
#include "admin.h"
#include "floectl.h"
#include "xmalloc.h"

static const char *
or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

static json_t *
jstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
device_json(const struct admin_device *d)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer((json_int_t)d->id));
	json_object_set_new(o, "address", json_string(d->address));
	json_object_set_new(o, "device_id", json_string(d->device_id));
	json_object_set_new(o, "device_type", json_string(d->device_type));
	json_object_set_new(o, "user_agent", json_string(d->user_agent));
	json_object_set_new(o, "protocol_version", json_string(d->protocol_version));
	json_object_set_new(o, "model", jstr(d->model));
	json_object_set_new(o, "imei", jstr(d->imei));
	json_object_set_new(o, "os", jstr(d->os));
	json_object_set_new(o, "os_language", jstr(d->os_language));
	json_object_set_new(o, "friendly_name", jstr(d->friendly_name));
	json_object_set_new(o, "phone_number", jstr(d->phone_number));
	json_object_set_new(o, "mobile_operator", jstr(d->mobile_operator));
	json_object_set_new(o, "first_seen", json_string(d->first_seen));
	json_object_set_new(o, "last_seen", json_string(d->last_seen));
	json_object_set_new(o, "provisioned", json_boolean(d->policy_key != 0));
	json_object_set_new(o, "policy_status", json_integer(d->policy_status));
	json_object_set_new(o, "policy_acknowledged", jstr(d->policy_acked));
	json_object_set_new(o, "protocol_log", json_boolean(d->protocol_log));
	json_object_set_new(o, "account_protocol_log", json_boolean(d->account_log));
	json_object_set_new(o, "access_state", json_string(d->access_state));
	json_object_set_new(o, "wipe_state", json_string(d->wipe_state));
	json_object_set_new(o, "folder_sync_key", json_integer((json_int_t)d->folder_sync_key));
	json_object_set_new(o, "ping_folders", json_integer((json_int_t)d->ping_folders));
	json_object_set_new(o, "ping_heartbeat", json_integer(d->ping_heartbeat));
	json_object_set_new(o, "log_file", json_sprintf("eas-log/%" PRId64 ".log", d->id));
	return o;
}

/* A device id: a positive decimal number. */
static int
parse_id(const struct floectl_command *cmd, const char *text, int64_t *id_r)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)text[0]))
		return floectl_usage_fail(cmd, "%s is not a device id", text);
	v = strtoll(text, &end, 10);
	if (*end != '\0' || v <= 0)
		return floectl_usage_fail(cmd, "%s is not a device id", text);
	*id_r = v;
	return 0;
}

int
floectl_cmd_device_list(struct floectl *ctl, const struct floectl_command *cmd,
                        const struct floectl_args *args)
{
	static const char *const headers[] = {"ID",    "ACCOUNT",  "DEVICE ID", "TYPE",
	                                      "MODEL", "VERSION",  "POLICY",    "ACCESS",
	                                      "LOG",   "LAST SEEN"};
	struct admin_device_list list;
	struct floectl_table table;
	char *address = NULL;
	const char *error;
	PGconn *conn;

	if (args->npos > 0 &&
	    admin_address_normalize(args->pos[0], &address, NULL, NULL, &error) < 0)
		return floectl_fail("%s", error);
	if ((conn = floectl_db(ctl, true)) == NULL) {
		free(address);
		return -1;
	}
	if (admin_device_list(conn, address, &list, &error) < 0) {
		free(address);
		return floectl_fail("%s", error);
	}
	free(address);
	if (floectl_json(ctl)) {
		json_t *array = json_array();

		for (size_t i = 0; i < list.count; i++)
			json_array_append_new(array, device_json(&list.items[i]));
		floectl_json_print(array);
	} else {
		floectl_table_init(&table, 10, headers);
		for (size_t i = 0; i < list.count; i++) {
			const struct admin_device *d = &list.items[i];
			char id[24];

			snprintf(id, sizeof(id), "%" PRId64, d->id);
			const char *row[] = {id,
			                     d->address,
			                     d->device_id,
			                     d->device_type,
			                     or_dash(d->model),
			                     d->protocol_version,
			                     d->policy_key != 0 ? "provisioned" : "-",
			                     d->access_state,
			                     floectl_yes_no(d->protocol_log || d->account_log),
			                     d->last_seen};
			floectl_table_row(&table, row);
		}
		floectl_table_print(&table);
	}
	admin_device_list_free(&list);
	return 0;
}

int
floectl_cmd_device_show(struct floectl *ctl, const struct floectl_command *cmd,
                        const struct floectl_args *args)
{
	struct admin_device d;
	const char *error;
	PGconn *conn;
	int64_t id;

	if (parse_id(cmd, args->pos[0], &id) < 0)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_device_get(conn, id, &d, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl)) {
		floectl_json_print(device_json(&d));
	} else {
		printf("%-18s%" PRId64 "\n", "id:", d.id);
		printf("%-18s%s\n", "account:", d.address);
		printf("%-18s%s\n", "device id:", d.device_id);
		printf("%-18s%s\n", "type:", d.device_type);
		printf("%-18s%s\n", "user agent:", or_dash(d.user_agent));
		printf("%-18s%s\n", "protocol version:", d.protocol_version);
		printf("%-18s%s\n", "model:", or_dash(d.model));
		printf("%-18s%s\n", "os:", or_dash(d.os));
		printf("%-18s%s\n", "os language:", or_dash(d.os_language));
		printf("%-18s%s\n", "friendly name:", or_dash(d.friendly_name));
		printf("%-18s%s\n", "imei:", or_dash(d.imei));
		printf("%-18s%s\n", "phone number:", or_dash(d.phone_number));
		printf("%-18s%s\n", "mobile operator:", or_dash(d.mobile_operator));
		printf("%-18s%s\n", "first seen:", d.first_seen);
		printf("%-18s%s\n", "last seen:", d.last_seen);
		printf("%-18s%s\n", "provisioned:",
		       d.policy_key != 0 ? (d.policy_acked != NULL ? d.policy_acked : "yes")
		                         : "no");
		if (d.policy_status != 0)
			printf("%-18s%d\n", "policy status:", d.policy_status);
		printf("%-18s%s\n", "access:", d.access_state);
		printf("%-18s%s\n", "wipe:", d.wipe_state);
		printf("%-18s%" PRId64 "\n", "hierarchy key:", d.folder_sync_key);
		printf("%-18s%zu folder(s), %d s\n", "ping:", d.ping_folders, d.ping_heartbeat);
		printf("%-18s%s%s\n", "protocol log:", floectl_yes_no(d.protocol_log),
		       d.account_log ? " (on for the account)" : "");
		printf("%-18s<state_dir>/eas-log/%" PRId64 ".log\n", "log file:", d.id);
	}
	admin_device_clear(&d);
	return 0;
}

int
floectl_cmd_device_log(struct floectl *ctl, const struct floectl_command *cmd,
                       const struct floectl_args *args)
{
	const char *mode = args->pos[0], *target = args->pos[1], *error;
	bool on;
	PGconn *conn;
	int ret;

	if (strcmp(mode, "on") == 0)
		on = true;
	else if (strcmp(mode, "off") == 0)
		on = false;
	else
		return floectl_usage_fail(cmd, "expected on or off, not %s", mode);
	if (strchr(target, '@') != NULL) {
		char *address;

		if (admin_address_normalize(target, &address, NULL, NULL, &error) < 0)
			return floectl_fail("%s", error);
		if ((conn = floectl_db(ctl, true)) == NULL) {
			free(address);
			return -1;
		}
		ret = admin_device_log_account(conn, address, on, &error);
		free(address);
	} else {
		int64_t id;

		if (parse_id(cmd, target, &id) < 0)
			return -1;
		if ((conn = floectl_db(ctl, true)) == NULL)
			return -1;
		ret = admin_device_log_device(conn, id, on, &error);
	}
	if (ret < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl))
		floectl_json_print(json_pack("{s:b, s:s, s:s, s:b}", "ok", 1, "command", cmd->name,
		                             "target", target, "protocol_log", on));
	else
		printf("protocol log %s for %s\n", on ? "on" : "off", target);
	return 0;
}

int
floectl_cmd_device_remove(struct floectl *ctl, const struct floectl_command *cmd,
                          const struct floectl_args *args)
{
	const char *error;
	PGconn *conn;
	int64_t id;

	if (parse_id(cmd, args->pos[0], &id) < 0)
		return -1;
	if ((conn = floectl_db(ctl, true)) == NULL)
		return -1;
	if (admin_device_remove(conn, id, &error) < 0)
		return floectl_fail("%s", error);
	if (floectl_json(ctl))
		floectl_json_print(json_pack("{s:b, s:s, s:I}", "ok", 1, "command", cmd->name,
		                             "target", (json_int_t)id));
	else
		printf("device %" PRId64 " removed\n", id);
	return 0;
}
