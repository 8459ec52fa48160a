/* ActiveSync devices in the store: registration (floe_eas_device_touch of
 * 0005_activesync.sql), DeviceInformation, provisioning keys, the remote
 * wipe seam, FolderSync state, the last Ping set, the notice that ends an
 * older Ping, and the account's addresses. One statement per operation. */
#include "store-private.h"
#include "store-device.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* --- Operations that only succeed or fail --- */

struct dev_done_op {
	struct store_op op;
	store_done_cb *cb;
	bool need_row; /* no row affected means STORE_ERR_* below */
	enum store_err no_row_code;
};

static void
dev_done_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct dev_done_op *)op)->cb(code, error, op->ctx);
}

static void
dev_done_ok(struct store_op *op, const struct db_result *res)
{
	struct dev_done_op *d = (struct dev_done_op *)op;

	if (d->need_row && db_result_rows(res) == 0 && db_result_affected(res) == 0) {
		store_op_fail(op, d->no_row_code,
		              d->no_row_code == STORE_ERR_MODIFIED ? "changed concurrently"
		                                                   : "no such device or key");
		return;
	}
	store_op_deliver_begin(op);
	d->cb(STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

static struct dev_done_op *
dev_done_new(struct store *store, store_done_cb *cb, void *ctx)
{
	struct dev_done_op *d =
	    (struct dev_done_op *)store_op_new(store, sizeof(*d), dev_done_fail, ctx);

	d->cb = cb;
	return d;
}

/* --- Touch --- */

struct touch_op {
	struct store_op op;
	store_device_cb *cb;
};

static void
touch_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct touch_op *)op)->cb(NULL, code, error, op->ctx);
}

/* Parses a PostgreSQL bigint[] text ("{1,2,3}") into pool memory. */
static const uint64_t *
parse_u64_array(struct store_op *op, const char *text, size_t *count_r)
{
	size_t n = 0, cap = 1;
	uint64_t *v;

	for (const char *p = text; *p != '\0'; p++) {
		if (*p == ',')
			cap++;
	}
	v = store_op_calloc(op, cap, sizeof(*v));
	for (const char *p = text; *p != '\0';) {
		char *end;
		unsigned long long x;

		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		x = strtoull(p, &end, 10);
		if (n < cap)
			v[n++] = x;
		p = end;
	}
	*count_r = n;
	return v;
}

#define DEVICE_COLUMNS                                                                             \
	"(t.r).id, (t.r).account_id, (t.r).device_id, (t.r).device_type, (t.r).user_agent, "       \
	"(t.r).protocol_version, coalesce((t.r).model, ''), coalesce((t.r).imei, ''), "            \
	"coalesce((t.r).os, ''), coalesce((t.r).os_language, ''), "                                \
	"coalesce((t.r).friendly_name, ''), coalesce((t.r).phone_number, ''), "                    \
	"coalesce((t.r).mobile_operator, ''), extract(epoch FROM (t.r).first_seen)::bigint, "      \
	"extract(epoch FROM (t.r).last_seen)::bigint, (t.r).policy_key, "                          \
	"(t.r).pending_policy_key, coalesce((t.r).policy_status, 0), "                             \
	"coalesce((t.r).policy_hash, ''), "                                                        \
	"coalesce(extract(epoch FROM (t.r).policy_acked_at)::bigint, 0), t.r_log, "                \
	"(t.r).access_state, (t.r).wipe_state, (t.r).folder_sync_key, (t.r).folder_hash, "         \
	"(t.r).ping_folders, (t.r).ping_heartbeat"

static void
touch_done(struct store_op *op, const struct db_result *res)
{
	struct touch_op *t = (struct touch_op *)op;
	struct store_device d;
	int c = 0;

	if (db_result_rows(res) != 1 || db_result_isnull(res, 0, 0)) {
		store_op_fail(op, STORE_ERR_NOT_FOUND, "device could not be registered");
		return;
	}
	memset(&d, 0, sizeof(d));
#define V() store_op_strdup(op, db_result_value(res, 0, c++))
#define U() store_u64(db_result_value(res, 0, c++))
	d.id = U();
	d.account_id = U();
	d.device_id = V();
	d.device_type = V();
	d.user_agent = V();
	d.protocol_version = V();
	d.model = V();
	d.imei = V();
	d.os = V();
	d.os_language = V();
	d.friendly_name = V();
	d.phone_number = V();
	d.mobile_operator = V();
	d.first_seen = (time_t)U();
	d.last_seen = (time_t)U();
	d.policy_key = (uint32_t)U();
	d.pending_policy_key = (uint32_t)U();
	d.policy_status = (int)U();
	d.policy_hash = V();
	d.policy_acked_at = (time_t)U();
	d.protocol_log = store_bool(db_result_value(res, 0, c++));
	d.access_state = V();
	d.wipe_state = V();
	d.folder_sync_key = U();
	d.folder_hash = V();
	d.ping_folders = parse_u64_array(op, db_result_value(res, 0, c++), &d.nping_folders);
	d.ping_heartbeat = (unsigned)U();
#undef V
#undef U
	store_op_deliver_begin(op);
	t->cb(&d, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_device_touch(struct store *store, uint64_t account_id, const char *device_id,
                   const char *device_type, const char *user_agent, const char *version,
                   store_device_cb *cb, void *ctx)
{
	struct touch_op *t = (struct touch_op *)store_op_new(store, sizeof(*t), touch_fail, ctx);
	struct store_params p = {0};

	t->cb = cb;
	store_param_u64(&p, account_id);
	store_param(&p, device_id);
	store_param(&p, device_type);
	store_param(&p, user_agent);
	store_param(&p, version);
	store_op_query(&t->op,
	               "SELECT " DEVICE_COLUMNS " FROM floe_eas_device_touch($1, $2, $3, $4, $5) t",
	               &p, touch_done);
	return &t->op;
}

/* --- DeviceInformation --- */

struct store_op *
store_device_set_info(struct store *store, uint64_t account_id, uint64_t device,
                      const struct store_device_info *info, store_done_cb *cb, void *ctx)
{
	struct dev_done_op *d = dev_done_new(store, cb, ctx);
	struct store_params p = {0};

	store_param_u64(&p, account_id);
	store_param_u64(&p, device);
	store_param(&p, info->model);
	store_param(&p, info->imei);
	store_param(&p, info->os);
	store_param(&p, info->os_language);
	store_param(&p, info->friendly_name);
	store_param(&p, info->phone_number);
	store_param(&p, info->mobile_operator);
	store_param(&p, info->user_agent);
	store_op_query(&d->op,
	               "UPDATE devices SET model = coalesce($3, model), imei = coalesce($4, imei),"
	               " os = coalesce($5, os), os_language = coalesce($6, os_language),"
	               " friendly_name = coalesce($7, friendly_name),"
	               " phone_number = coalesce($8, phone_number),"
	               " mobile_operator = coalesce($9, mobile_operator),"
	               " user_agent = coalesce($10, user_agent)"
	               " WHERE account_id = $1 AND id = $2",
	               &p, dev_done_ok);
	return &d->op;
}

/* --- Provisioning --- */

struct store_op *
store_device_policy_offer(struct store *store, uint64_t account_id, uint64_t device,
                          uint32_t temp_key, store_done_cb *cb, void *ctx)
{
	struct dev_done_op *d = dev_done_new(store, cb, ctx);
	struct store_params p = {0};

	d->need_row = true;
	d->no_row_code = STORE_ERR_NOT_FOUND;
	store_param_u64(&p, account_id);
	store_param_u64(&p, device);
	store_param_u64(&p, temp_key);
	store_op_query(
	    &d->op, "UPDATE devices SET pending_policy_key = $3 WHERE account_id = $1 AND id = $2",
	    &p, dev_done_ok);
	return &d->op;
}

struct store_op *
store_device_policy_ack(struct store *store, uint64_t account_id, uint64_t device,
                        uint32_t temp_key, uint32_t final_key, int status, const char *policy_hash,
                        store_done_cb *cb, void *ctx)
{
	struct dev_done_op *d = dev_done_new(store, cb, ctx);
	struct store_params p = {0};

	d->need_row = true;
	d->no_row_code = STORE_ERR_NOT_FOUND;
	store_param_u64(&p, account_id);
	store_param_u64(&p, device);
	store_param_u64(&p, temp_key);
	store_param_u64(&p, final_key);
	store_paramf(&p, "%d", status);
	store_param(&p, policy_hash);
	store_op_query(&d->op,
	               "UPDATE devices SET policy_key = $4, pending_policy_key = 0,"
	               " policy_status = $5, policy_hash = $6, policy_acked_at = now()"
	               " WHERE account_id = $1 AND id = $2 AND pending_policy_key = $3"
	               " AND $3 <> 0",
	               &p, dev_done_ok);
	return &d->op;
}

struct store_op *
store_device_wipe_sent(struct store *store, uint64_t account_id, uint64_t device, store_done_cb *cb,
                       void *ctx)
{
	struct dev_done_op *d = dev_done_new(store, cb, ctx);
	struct store_params p = {0};

	store_param_u64(&p, account_id);
	store_param_u64(&p, device);
	store_op_query(&d->op,
	               "UPDATE devices SET wipe_state = 'sent' WHERE account_id = $1 AND id = $2"
	               " AND wipe_state IN ('pending', 'account_pending')",
	               &p, dev_done_ok);
	return &d->op;
}

struct store_op *
store_device_wipe_ack(struct store *store, uint64_t account_id, uint64_t device, int status,
                      store_done_cb *cb, void *ctx)
{
	struct dev_done_op *d = dev_done_new(store, cb, ctx);
	struct store_params p = {0};

	store_param_u64(&p, account_id);
	store_param_u64(&p, device);
	store_paramf(&p, "%d", status);
	store_op_query(&d->op,
	               "UPDATE devices SET wipe_state = 'wiped', wipe_status = $3"
	               " WHERE account_id = $1 AND id = $2 AND wipe_state <> 'none'",
	               &p, dev_done_ok);
	return &d->op;
}

/* --- FolderSync state --- */

struct folders_op {
	struct store_op op;
	store_device_folders_cb *cb;
};

static void
folders_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct folders_op *)op)->cb(NULL, code, error, op->ctx);
}

static void
folders_done(struct store_op *op, const struct db_result *res)
{
	struct folders_op *f = (struct folders_op *)op;
	struct store_device_folders s;

	if (db_result_rows(res) != 1) {
		store_op_fail(op, STORE_ERR_NOT_FOUND, "no such device");
		return;
	}
	s.key = store_u64(db_result_value(res, 0, 0));
	s.state = store_op_strdup(op, db_result_value(res, 0, 1));
	s.prev_key = store_u64(db_result_value(res, 0, 2));
	s.prev_state = store_op_strdup(op, db_result_value(res, 0, 3));
	store_op_deliver_begin(op);
	f->cb(&s, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_device_folders_get(struct store *store, uint64_t account_id, uint64_t device,
                         store_device_folders_cb *cb, void *ctx)
{
	struct folders_op *f =
	    (struct folders_op *)store_op_new(store, sizeof(*f), folders_fail, ctx);
	struct store_params p = {0};

	f->cb = cb;
	store_param_u64(&p, account_id);
	store_param_u64(&p, device);
	store_op_query(&f->op,
	               "SELECT folder_sync_key, folder_state, folder_prev_key, folder_prev_state"
	               " FROM devices WHERE account_id = $1 AND id = $2",
	               &p, folders_done);
	return &f->op;
}

struct store_op *
store_device_folders_set(struct store *store, uint64_t account_id, uint64_t device,
                         uint64_t expect_key, uint64_t key, const char *state, const char *hash,
                         uint64_t prev_key, const char *prev_state, store_done_cb *cb, void *ctx)
{
	struct dev_done_op *d = dev_done_new(store, cb, ctx);
	struct store_params p = {0};

	d->need_row = true;
	d->no_row_code = STORE_ERR_MODIFIED;
	store_param_u64(&p, account_id);
	store_param_u64(&p, device);
	store_param_u64(&p, expect_key);
	store_param_u64(&p, key);
	store_param(&p, state);
	store_param(&p, hash);
	store_param_u64(&p, prev_key);
	store_param(&p, prev_state);
	store_op_query(&d->op,
	               "UPDATE devices SET folder_sync_key = $4, folder_state = $5,"
	               " folder_hash = $6, folder_prev_key = $7, folder_prev_state = $8"
	               " WHERE account_id = $1 AND id = $2 AND folder_sync_key = $3",
	               &p, dev_done_ok);
	return &d->op;
}

/* --- Ping --- */

struct store_op *
store_device_set_ping(struct store *store, uint64_t account_id, uint64_t device,
                      const uint64_t *folders, size_t count, unsigned heartbeat, store_done_cb *cb,
                      void *ctx)
{
	struct dev_done_op *d = dev_done_new(store, cb, ctx);
	struct store_params p = {0};
	struct store_str a = {0};

	store_str_add(&a, "{");
	for (size_t i = 0; i < count; i++)
		store_str_addf(&a, "%s%" PRIu64, i > 0 ? "," : "", folders[i]);
	store_str_add(&a, "}");
	store_param_u64(&p, account_id);
	store_param_u64(&p, device);
	store_param_take(&p, a.s);
	store_paramf(&p, "%u", heartbeat);
	store_op_query(&d->op,
	               "UPDATE devices SET ping_folders = $3::bigint[], ping_heartbeat = $4"
	               " WHERE account_id = $1 AND id = $2",
	               &p, dev_done_ok);
	return &d->op;
}

/* --- Addresses --- */

struct addr_op {
	struct store_op op;
	store_addresses_cb *cb;
};

static void
addr_fail(struct store_op *op, enum store_err code, const char *error)
{
	((struct addr_op *)op)->cb(NULL, 0, code, error, op->ctx);
}

static void
addr_done(struct store_op *op, const struct db_result *res)
{
	struct addr_op *a = (struct addr_op *)op;
	int rows = db_result_rows(res);
	const char **v = store_op_calloc(op, (size_t)rows + 1, sizeof(*v));

	if (rows == 0) {
		store_op_fail(op, STORE_ERR_NOT_FOUND, "no such account");
		return;
	}
	for (int r = 0; r < rows; r++)
		v[r] = store_op_strdup(op, db_result_value(res, r, 0));
	store_op_deliver_begin(op);
	a->cb(v, (size_t)rows, STORE_OK, NULL, op->ctx);
	store_op_finish(op);
}

struct store_op *
store_account_addresses(struct store *store, uint64_t account_id, store_addresses_cb *cb, void *ctx)
{
	struct addr_op *a = (struct addr_op *)store_op_new(store, sizeof(*a), addr_fail, ctx);
	struct store_params p = {0};

	a->cb = cb;
	store_param_u64(&p, account_id);
	store_op_query(&a->op,
	               "SELECT x.addr FROM ("
	               " SELECT 0 AS k, ac.local_part || '@' || d.name AS addr FROM accounts ac"
	               " JOIN domains d ON d.id = ac.domain_id WHERE ac.id = $1"
	               " UNION ALL"
	               " SELECT 1, al.local_part || '@' || d.name FROM aliases al"
	               " JOIN domains d ON d.id = al.domain_id WHERE al.account_id = $1) x"
	               " ORDER BY x.k, x.addr",
	               &p, addr_done);
	return &a->op;
}
