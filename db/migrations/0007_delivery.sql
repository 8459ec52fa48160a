-- Floe schema, version 7: what local delivery needs beyond the mail store:
-- auto-responder settings and whom they answered, forwarding, addresses an
-- account may send as, and the address resolution LMTP RCPT and delivery
-- run for every recipient (db/store-delivery.c, db/store-responder.c).

-- One auto-responder per account (db/store-responder.h). Outside
-- [starts_at, ends_at] (NULL: unbounded) it is off. never_reply holds
-- lower-cased addresses ("a@b.example") or domains ("@b.example").
CREATE TABLE responders (
	account_id     bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	mode           text NOT NULL DEFAULT 'off'
	               CHECK (mode IN ('off', 'always', 'once', 'interval')),
	interval_days  integer NOT NULL DEFAULT 0 CHECK (interval_days >= 0 AND interval_days <= 3650),
	starts_at      timestamptz,
	ends_at        timestamptz,
	subject        text NOT NULL DEFAULT '',
	body           text NOT NULL DEFAULT '',
	external_body  text,
	reply_external boolean NOT NULL DEFAULT true,
	never_reply    text[] NOT NULL DEFAULT '{}',
	updated_at     timestamptz NOT NULL DEFAULT now(),
	CHECK (mode <> 'interval' OR interval_days > 0),
	CHECK (starts_at IS NULL OR ends_at IS NULL OR ends_at >= starts_at)
);

-- Whom a responder in mode once or interval has answered, and when. Rows
-- go when the settings change, and in interval mode once they are older
-- than the interval (pruned by the next claim of that account).
CREATE TABLE responder_log (
	account_id   bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	sender       text NOT NULL,
	last_sent_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, sender)
);
CREATE INDEX responder_log_age ON responder_log (account_id, last_sent_at);

-- Forwarding of every message an account receives to targets (addresses,
-- local or not); without keep_copy nothing stays in the account's INBOX.
CREATE TABLE forwarding (
	account_id bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	targets    text[] NOT NULL CHECK (cardinality(targets) > 0),
	keep_copy  boolean NOT NULL DEFAULT true,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Addresses an account may use as its sender besides its own address and
-- aliases (delegation: a shared mailbox, an assistant).
CREATE TABLE send_as (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	address    text NOT NULL CHECK (address = lower(address) AND position('@' IN address) > 1),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, address)
);

-- Resolves addresses (already lower-cased) for delivery. One row per
-- address and account it reaches, in the order given (r_ord from 1):
-- r_kind is 'local' (an account or an alias of one; user+tag@domain
-- reaches user@domain when no address is exactly that), 'group' (one row
-- per enabled member account, groups within groups expanded, each account
-- once; r_account NULL for a group without such members), 'nosuch' (one
-- of our domains, but no such address), 'disabled', or 'remote'. For an
-- account: its address, INBOX, forwarding (NULL targets: none) and
-- auto-responder (NULL mode: never set).
CREATE FUNCTION floe_resolve(p_addrs text[])
RETURNS TABLE (r_ord int, r_kind text, r_account bigint, r_address text, r_inbox bigint,
	       r_forward text[], r_keep_copy boolean, r_mode text, r_interval int,
	       r_starts double precision, r_ends double precision, r_subject text, r_body text,
	       r_external_body text, r_reply_external boolean, r_never text[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_addr text;
	v_ord int := 0;
	v_at int;
	v_local text;
	v_domain bigint;
	v_acct accounts%ROWTYPE;
	v_found boolean;
	v_members bigint[];
BEGIN
	FOREACH v_addr IN ARRAY coalesce(p_addrs, '{}') LOOP
		v_ord := v_ord + 1;
		v_at := length(v_addr) - position('@' IN reverse(v_addr)) + 1;
		IF position('@' IN v_addr) = 0 THEN
			RETURN QUERY SELECT v_ord, 'remote'::text, NULL::bigint, NULL::text, NULL::bigint,
				NULL::text[], NULL::boolean, NULL::text, NULL::int, NULL::float8,
				NULL::float8, NULL::text, NULL::text, NULL::text, NULL::boolean, NULL::text[];
			CONTINUE;
		END IF;
		v_local := substr(v_addr, 1, v_at - 1);
		SELECT d.id INTO v_domain FROM domains d WHERE d.name = substr(v_addr, v_at + 1);
		IF NOT FOUND THEN
			RETURN QUERY SELECT v_ord, 'remote'::text, NULL::bigint, NULL::text, NULL::bigint,
				NULL::text[], NULL::boolean, NULL::text, NULL::int, NULL::float8,
				NULL::float8, NULL::text, NULL::text, NULL::text, NULL::boolean, NULL::text[];
			CONTINUE;
		END IF;
		SELECT a.* INTO v_acct FROM accounts a
		WHERE a.domain_id = v_domain AND a.local_part = v_local;
		v_found := FOUND;
		IF NOT v_found THEN
			SELECT a.* INTO v_acct FROM aliases al JOIN accounts a ON a.id = al.account_id
			WHERE al.domain_id = v_domain AND al.local_part = v_local;
			v_found := FOUND;
		END IF;
		IF NOT v_found AND position('+' IN v_local) > 1 THEN
			v_local := split_part(v_local, '+', 1);
			SELECT a.* INTO v_acct FROM accounts a
			WHERE a.domain_id = v_domain AND a.local_part = v_local AND a.kind <> 'group';
			v_found := FOUND;
			IF NOT v_found THEN
				SELECT a.* INTO v_acct FROM aliases al JOIN accounts a ON a.id = al.account_id
				WHERE al.domain_id = v_domain AND al.local_part = v_local
				  AND a.kind <> 'group';
				v_found := FOUND;
			END IF;
		END IF;
		IF NOT v_found OR NOT v_acct.enabled THEN
			RETURN QUERY SELECT v_ord, CASE WHEN v_found THEN 'disabled' ELSE 'nosuch' END,
				NULL::bigint, NULL::text, NULL::bigint, NULL::text[], NULL::boolean,
				NULL::text, NULL::int, NULL::float8, NULL::float8, NULL::text, NULL::text,
				NULL::text, NULL::boolean, NULL::text[];
			CONTINUE;
		END IF;
		IF v_acct.kind = 'group' THEN
			v_members := ARRAY(
				WITH RECURSIVE m(id, depth) AS (
					SELECT gm.member_id, 1 FROM group_members gm
					WHERE gm.account_id = v_acct.id
					UNION
					SELECT gm.member_id, m.depth + 1 FROM m
					JOIN group_members gm ON gm.account_id = m.id
					WHERE m.depth < 16)
				SELECT DISTINCT m.id FROM m JOIN accounts a ON a.id = m.id
				WHERE a.kind <> 'group' AND a.enabled ORDER BY m.id);
			IF cardinality(v_members) = 0 THEN
				RETURN QUERY SELECT v_ord, 'group'::text, NULL::bigint, NULL::text,
					NULL::bigint, NULL::text[], NULL::boolean, NULL::text, NULL::int,
					NULL::float8, NULL::float8, NULL::text, NULL::text, NULL::text,
					NULL::boolean, NULL::text[];
				CONTINUE;
			END IF;
		ELSE
			v_members := ARRAY[v_acct.id];
		END IF;
		RETURN QUERY
		SELECT v_ord, CASE WHEN v_acct.kind = 'group' THEN 'group' ELSE 'local' END,
		       a.id, a.local_part || '@' || d.name,
		       (SELECT f.id FROM folders f WHERE f.account_id = a.id
			AND f.special_use = 'inbox' AND NOT f.noselect),
		       fw.targets, fw.keep_copy, r.mode, r.interval_days,
		       extract(epoch FROM r.starts_at)::float8, extract(epoch FROM r.ends_at)::float8,
		       r.subject, r.body, r.external_body, r.reply_external, r.never_reply
		FROM unnest(v_members) AS u(id)
		JOIN accounts a ON a.id = u.id
		JOIN domains d ON d.id = a.domain_id
		LEFT JOIN forwarding fw ON fw.account_id = a.id
		LEFT JOIN responders r ON r.account_id = a.id
		ORDER BY a.id;
	END LOOP;
END $$;

-- Records that account p_acct's responder answers p_sender now, unless
-- it may not: in mode once (p_days 0) when it already answered that
-- sender, in mode interval when it did so less than p_days days ago.
-- Returns true when the answer may go. Also prunes the account's entries
-- older than the interval.
CREATE FUNCTION floe_responder_claim(p_acct bigint, p_sender text, p_days int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	v_ok boolean := false;
BEGIN
	IF p_days > 0 THEN
		DELETE FROM responder_log l
		WHERE l.account_id = p_acct AND l.sender <> p_sender
		  AND l.last_sent_at < now() - make_interval(days => p_days);
	END IF;
	INSERT INTO responder_log AS l (account_id, sender, last_sent_at)
	VALUES (p_acct, p_sender, now())
	ON CONFLICT (account_id, sender) DO UPDATE SET last_sent_at = now()
	WHERE p_days > 0 AND l.last_sent_at <= now() - make_interval(days => p_days)
	RETURNING true INTO v_ok;
	RETURN coalesce(v_ok, false);
END $$;
