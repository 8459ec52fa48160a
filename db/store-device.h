/* ActiveSync devices in the store (table devices, migration 0005): the
 * registration every request refreshes, provisioning state, the folder
 * hierarchy a device was last sent, its last Ping set, and the account's
 * addresses for Settings. Asynchronous like the rest of the store
 * (store.h): callbacks run once from the event loop, data is valid only
 * during the callback, and every query filters by account_id. */
#ifndef FLOE_STORE_DEVICE_H
#define FLOE_STORE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

struct store_device {
	uint64_t id; /* devices.id */
	uint64_t account_id;
	const char *device_id, *device_type, *user_agent, *protocol_version;
	/* From DeviceInformation; "" when never sent. */
	const char *model, *imei, *os, *os_language, *friendly_name, *phone_number,
	    *mobile_operator;
	time_t first_seen, last_seen;
	uint32_t policy_key;          /* final key; 0 none */
	uint32_t pending_policy_key;  /* temporary key of a handshake; 0 none */
	int policy_status;            /* the client's last acknowledgement; 0 none */
	const char *policy_hash;      /* digest of the acknowledged policy; "" none */
	time_t policy_acked_at;       /* 0 never */
	bool protocol_log;            /* on for the device or for its account */
	const char *access_state;     /* allowed, blocked, quarantined */
	const char *wipe_state;       /* none, pending, account_pending, sent, wiped */
	uint64_t folder_sync_key;     /* 0: no FolderSync yet */
	const char *folder_hash;      /* digest of the folder set sent with that key */
	const uint64_t *ping_folders; /* the last Ping's folders */
	size_t nping_folders;
	unsigned ping_heartbeat; /* seconds; 0 none */
};

typedef void store_device_cb(const struct store_device *dev, enum store_err code, const char *error,
                             void *ctx);

/* Finds the device (account_id, device_id) or registers it; refreshes
 * last_seen, type, User-Agent and version at most once a minute unless they
 * changed. One round trip. */
struct store_op *store_device_touch(struct store *store, uint64_t account_id, const char *device_id,
                                    const char *device_type, const char *user_agent,
                                    const char *version, store_device_cb *cb, void *ctx);

/* DeviceInformation: each non-NULL field replaces the stored one. */
struct store_device_info {
	const char *model, *imei, *os, *os_language, *friendly_name, *phone_number,
	    *mobile_operator, *user_agent;
};
struct store_op *store_device_set_info(struct store *store, uint64_t account_id, uint64_t device,
                                       const struct store_device_info *info, store_done_cb *cb,
                                       void *ctx);

/* Provisioning. offer records the temporary key of a handshake. ack turns
 * it into final_key when temp_key is the pending one (else
 * STORE_ERR_NOT_FOUND), recording the client's status and the policy
 * digest. */
struct store_op *store_device_policy_offer(struct store *store, uint64_t account_id,
                                           uint64_t device, uint32_t temp_key, store_done_cb *cb,
                                           void *ctx);
struct store_op *store_device_policy_ack(struct store *store, uint64_t account_id, uint64_t device,
                                         uint32_t temp_key, uint32_t final_key, int status,
                                         const char *policy_hash, store_done_cb *cb, void *ctx);
/* Remote wipe seam: sent marks a pending wipe as told to the device; ack
 * records the device's answer (wipe_state wiped). */
struct store_op *store_device_wipe_sent(struct store *store, uint64_t account_id, uint64_t device,
                                        store_done_cb *cb, void *ctx);
struct store_op *store_device_wipe_ack(struct store *store, uint64_t account_id, uint64_t device,
                                       int status, store_done_cb *cb, void *ctx);

/* The folder hierarchy state of a device (FolderSync). */
struct store_device_folders {
	uint64_t key;
	const char *state;
	uint64_t prev_key;
	const char *prev_state;
};
typedef void store_device_folders_cb(const struct store_device_folders *f, enum store_err code,
                                     const char *error, void *ctx);
struct store_op *store_device_folders_get(struct store *store, uint64_t account_id, uint64_t device,
                                          store_device_folders_cb *cb, void *ctx);
/* Stores key/state/hash and prev_key/prev_state if the device still holds
 * expect_key (else STORE_ERR_MODIFIED: a concurrent request of the same
 * device won). */
struct store_op *store_device_folders_set(struct store *store, uint64_t account_id, uint64_t device,
                                          uint64_t expect_key, uint64_t key, const char *state,
                                          const char *hash, uint64_t prev_key,
                                          const char *prev_state, store_done_cb *cb, void *ctx);

/* Ping: remembers the folder set and interval for an empty Ping. */
struct store_op *store_device_set_ping(struct store *store, uint64_t account_id, uint64_t device,
                                       const uint64_t *folders, size_t count, unsigned heartbeat,
                                       store_done_cb *cb, void *ctx);

/* The account's addresses: the primary one first, then its aliases. */
typedef void store_addresses_cb(const char *const *addresses, size_t count, enum store_err code,
                                const char *error, void *ctx);
struct store_op *store_account_addresses(struct store *store, uint64_t account_id,
                                         store_addresses_cb *cb, void *ctx);

#endif
