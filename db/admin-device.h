/* Administration of ActiveSync devices for floectl over its BLOCKING libpq
 * connection (never for a worker): listing and showing devices, switching
 * the protocol log per device or per account, removing a device (it then
 * registers again on its next request and starts over with provisioning
 * and a full FolderSync). Conventions as in admin.h: 0 or -1 with
 * *error_r a static one-line message; results released by the caller. */
#ifndef FLOE_ADMIN_DEVICE_H
#define FLOE_ADMIN_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct admin_device {
	int64_t id;
	char *address; /* the account's primary address */
	char *device_id, *device_type, *user_agent, *protocol_version;
	char *model, *imei, *os, *os_language, *friendly_name, *phone_number, *mobile_operator;
	char *first_seen, *last_seen; /* "YYYY-MM-DDTHH:MM:SSZ" */
	int64_t policy_key, pending_policy_key;
	int policy_status;  /* 0: never acknowledged */
	char *policy_acked; /* NULL: never */
	bool protocol_log;  /* on for the device */
	bool account_log;   /* on for its whole account */
	char *access_state, *wipe_state;
	int64_t folder_sync_key;
	size_t ping_folders;
	int ping_heartbeat;
};

struct admin_device_list {
	struct admin_device *items;
	size_t count;
};

/* Every device, or those of address (normalised; an alias names its
 * account), ordered by account and last contact. */
int admin_device_list(PGconn *conn, const char *address, struct admin_device_list *list_r,
                      const char **error_r);
/* One device by devices.id ("no device N" when missing). */
int admin_device_get(PGconn *conn, int64_t id, struct admin_device *device_r, const char **error_r);
void admin_device_clear(struct admin_device *device);
void admin_device_list_free(struct admin_device_list *list);

/* The protocol log of one device, or of every device of an account. */
int admin_device_log_device(PGconn *conn, int64_t id, bool on, const char **error_r);
int admin_device_log_account(PGconn *conn, const char *address, bool on, const char **error_r);

/* Forgets the device (its provisioning, hierarchy and sync state). */
int admin_device_remove(PGconn *conn, int64_t id, const char **error_r);

#endif
