-- Failed-login counters and lockouts, shared by every worker and node.
-- UNLOGGED: nothing here must survive a crash (a lost counter only gives an
-- attacker a fresh window), and writes skip the WAL. Not per-account data in
-- the distribution sense: keys are addresses as well as accounts, so with
-- Citus this stays a local (coordinator) table.
CREATE UNLOGGED TABLE auth_failures (
	-- ip: a client address (IPv6 by /64); account: an account id;
	-- login: a login that names no account (lower-cased)
	kind         text NOT NULL CHECK (kind IN ('ip', 'account', 'login')),
	key          text NOT NULL CHECK (key <> ''),
	failures     integer NOT NULL CHECK (failures >= 0),
	window_start timestamptz NOT NULL,
	-- set while attempts are refused; a passed lock starts a new window
	locked_until timestamptz,
	PRIMARY KEY (kind, key)
);
-- No index besides the key: every failure updates its row, and without
-- another index those updates stay HOT. The periodic clean-up of passed
-- counters (store_auth_expire) scans the table, which stays small.
