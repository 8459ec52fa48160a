-- 0005_activesync: ActiveSync devices (one row per account and DeviceId)
-- with their provisioning state, the folder hierarchy each device was last
-- sent (FolderSync), the folder set of its last Ping, and the seams of the
-- device-security issue (access_state, wipe_state). Per-account switches of
-- the EAS front-end live in eas_accounts.

CREATE TABLE devices (
	id                 bigserial PRIMARY KEY,
	account_id         bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	device_id          text NOT NULL CHECK (device_id <> ''),
	device_type        text NOT NULL DEFAULT '',
	user_agent         text NOT NULL DEFAULT '',
	protocol_version   text NOT NULL DEFAULT '',
	-- from Settings/DeviceInformation or Provision's DeviceInformation
	model              text,
	imei               text,
	os                 text,
	os_language        text,
	friendly_name      text,
	phone_number       text,
	mobile_operator    text,
	first_seen         timestamptz NOT NULL DEFAULT now(),
	last_seen          timestamptz NOT NULL DEFAULT now(),
	-- MS-ASPROV: the final key the device holds (0: none), the temporary
	-- key of a handshake in progress (0: none), the client's last
	-- acknowledgement status (1 applied .. 4 third party), a digest of the
	-- policy it acknowledged and when (a changed policy or an expired
	-- refresh interval asks the device to provision again).
	policy_key         bigint NOT NULL DEFAULT 0 CHECK (policy_key BETWEEN 0 AND 4294967295),
	pending_policy_key bigint NOT NULL DEFAULT 0
	                   CHECK (pending_policy_key BETWEEN 0 AND 4294967295),
	policy_status      int,
	policy_hash        text,
	policy_acked_at    timestamptz,
	protocol_log       boolean NOT NULL DEFAULT false,
	-- Seams for the device-security issue: stored and exposed here.
	access_state       text NOT NULL DEFAULT 'allowed'
	                   CHECK (access_state IN ('allowed', 'blocked', 'quarantined')),
	-- none; pending (full wipe) or account_pending (16.1 account-only wipe)
	-- wait for the next Provision; sent: the device was told; wiped: it
	-- acknowledged.
	wipe_state         text NOT NULL DEFAULT 'none'
	                   CHECK (wipe_state IN ('none', 'pending', 'account_pending', 'sent', 'wiped')),
	wipe_status        int,
	-- FolderSync: the hierarchy key the device holds and the folder set it
	-- was sent with it (lines "id<TAB>parent<TAB>type<TAB>name", parents
	-- first), plus the previous key and set, so that a repeated request
	-- (the response was lost) is answered again. folder_hash digests
	-- folder_state for Ping's "hierarchy changed" check.
	folder_sync_key    bigint NOT NULL DEFAULT 0,
	folder_state       text NOT NULL DEFAULT '',
	folder_hash        text NOT NULL DEFAULT '',
	folder_prev_key    bigint NOT NULL DEFAULT 0,
	folder_prev_state  text NOT NULL DEFAULT '',
	-- The last Ping's folders and interval (seconds), for an empty Ping
	-- that may land on another worker or node.
	ping_folders       bigint[] NOT NULL DEFAULT '{}',
	ping_heartbeat     int NOT NULL DEFAULT 0,
	UNIQUE (account_id, device_id)
);

-- Per-account switches of the EAS front-end.
CREATE TABLE eas_accounts (
	account_id   bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	protocol_log boolean NOT NULL DEFAULT false
);

-- Every request: finds or registers the device, and refreshes last_seen,
-- User-Agent, type and protocol version only when they changed or
-- last_seen is a minute old, so that a phone's stream of requests writes
-- at most once a minute. Returns the row and whether the protocol log is
-- on for the device or its account.
CREATE FUNCTION floe_eas_device_touch(p_acct bigint, p_device text, p_type text, p_agent text,
				      p_version text, OUT r devices, OUT r_log boolean)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT * INTO r FROM devices d WHERE d.account_id = p_acct AND d.device_id = p_device;
	IF NOT FOUND THEN
		INSERT INTO devices (account_id, device_id, device_type, user_agent, protocol_version)
		VALUES (p_acct, p_device, p_type, p_agent, p_version)
		ON CONFLICT (account_id, device_id) DO NOTHING;
		SELECT * INTO r FROM devices d WHERE d.account_id = p_acct AND d.device_id = p_device;
	ELSIF r.last_seen < now() - interval '60 seconds' OR r.device_type <> p_type
	      OR r.user_agent <> p_agent OR r.protocol_version <> p_version THEN
		UPDATE devices d SET last_seen = now(), device_type = p_type, user_agent = p_agent,
			protocol_version = p_version
		WHERE d.account_id = p_acct AND d.id = r.id RETURNING * INTO r;
	END IF;
	r_log := r.protocol_log OR coalesce((SELECT e.protocol_log FROM eas_accounts e
					     WHERE e.account_id = p_acct), false);
END $$;
