-- Floe schema, version 11: sharing as IceWarp's clients use it, behind
-- db/store-share.h and db/admin-share.h.
--
-- * Subscriptions to other accounts' folders, by ids: a grantee sees a
--   folder under "~owner@domain/" in LIST once it subscribed that folder
--   (which covers the folders below it) or the whole account (which
--   covers every folder the owner shares with it, now or later). A row
--   with subscribed false hides one folder (and those below) inside a
--   covering subscription. The nearest row up the folder chain decides,
--   then the account row; without any, the folders of a group account
--   are visible to its members (public folders) and nothing else is.
--   Rights still decide what is listed: only folders with the l right.
-- * Share notices: every ACL change that gives a user rights it did not
--   have, or takes its last right away, queues one row here in the same
--   transaction; each worker's runner (modules/share-notice.c) turns a
--   row into a mail in the grantee's INBOX and deletes the row in the
--   statement that appends it, so a notice is delivered exactly once.
-- * floe_acl_set accepts a group account as grantee of its own folders
--   (public folders: its members get the rights).

CREATE TABLE share_subscriptions (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, -- the subscriber
	owner_id   bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	folder_id  bigint REFERENCES folders(id) ON DELETE CASCADE, -- NULL: the whole account
	subscribed boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (account_id <> owner_id),
	CHECK (subscribed OR folder_id IS NOT NULL)
);
CREATE UNIQUE INDEX share_subscriptions_key
	ON share_subscriptions (account_id, owner_id, coalesce(folder_id, 0));

CREATE TABLE share_notices (
	id          bigserial PRIMARY KEY,
	account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, -- the grantee
	owner_id    bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	folder_id   bigint,          -- NULL: the whole account; no reference: it may go first
	folder_path text,            -- its path when the rights changed
	method      text NOT NULL CHECK (method IN ('share', 'unshare')),
	rights      text NOT NULL,   -- the grantee's rights after the change
	created_at  timestamptz NOT NULL DEFAULT now(),
	next_try    timestamptz NOT NULL DEFAULT now(),
	attempts    int NOT NULL DEFAULT 0,
	lease_until timestamptz,
	runner      text,
	last_error  text
);
CREATE INDEX share_notices_due ON share_notices (next_try);
CREATE INDEX share_notices_account ON share_notices (account_id);

-- The pseudo folder id of the change notice that wakes the runners:
-- (account 0, this folder, modseq 0) on the floe_change channel.
CREATE FUNCTION floe_share_notice_wake() RETURNS void LANGUAGE sql AS $$
	SELECT floe_notify(0, 4611686018427387904, 0)
$$;

-- ---------------------------------------------------------------------
-- Subscriptions

-- p_owner is a group account and p_user one of its members: the group's
-- (public) folders are listed without a subscription.
CREATE FUNCTION floe_share_public(p_user bigint, p_owner bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM accounts o JOIN group_members g ON g.account_id = o.id
		       WHERE o.id = p_owner AND o.kind = 'group' AND g.member_id = p_user)
$$;

-- Whether p_user's subscriptions cover p_folder of p_owner through its
-- ancestors or the account (the folder's own row left out).
CREATE FUNCTION floe_share_inherited(p_user bigint, p_owner bigint, p_folder bigint)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_id bigint;
	v_sub boolean;
	v_depth int := 0;
BEGIN
	SELECT f.parent_id INTO v_id FROM folders f WHERE f.account_id = p_owner AND f.id = p_folder;
	WHILE v_id IS NOT NULL AND v_depth < 1000 LOOP
		SELECT s.subscribed INTO v_sub FROM share_subscriptions s
		WHERE s.account_id = p_user AND s.owner_id = p_owner AND s.folder_id = v_id;
		IF FOUND THEN
			RETURN v_sub;
		END IF;
		SELECT f.parent_id INTO v_id FROM folders f WHERE f.account_id = p_owner AND f.id = v_id;
		v_depth := v_depth + 1;
	END LOOP;
	IF EXISTS (SELECT 1 FROM share_subscriptions s WHERE s.account_id = p_user
		   AND s.owner_id = p_owner AND s.folder_id IS NULL) THEN
		RETURN true;
	END IF;
	RETURN floe_share_public(p_user, p_owner);
END $$;

-- SUBSCRIBE (p_subscribe) or UNSUBSCRIBE of "~owner/path" (p_path NULL or
-- '': the whole account) by p_user. Returns 'ok'; 'own' when the owner is
-- p_user (an ordinary subscription); 'nonexistent' when SUBSCRIBE names
-- an unknown account, or a folder that does not exist or that p_user may
-- not see (neither l nor r). UNSUBSCRIBE always succeeds and reveals
-- nothing. A subscription covers the folders below; subscribing or
-- unsubscribing a folder replaces what was said about those.
CREATE FUNCTION floe_share_subscribe(p_user bigint, p_owner_addr text, p_path text,
				     p_subscribe boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v_owner bigint;
	v_folder bigint;
BEGIN
	SELECT r.r_id INTO v_owner FROM floe_account_by_address(p_owner_addr) r;
	IF v_owner IS NULL THEN
		RETURN CASE WHEN p_subscribe THEN 'nonexistent' ELSE 'ok' END;
	END IF;
	IF v_owner = p_user THEN
		RETURN 'own';
	END IF;
	-- One change at a time per subscriber.
	PERFORM 1 FROM accounts a WHERE a.id = p_user FOR NO KEY UPDATE;
	IF coalesce(p_path, '') = '' THEN
		DELETE FROM share_subscriptions s WHERE s.account_id = p_user AND s.owner_id = v_owner;
		IF p_subscribe THEN
			INSERT INTO share_subscriptions (account_id, owner_id, folder_id)
			VALUES (p_user, v_owner, NULL);
		END IF;
		RETURN 'ok';
	END IF;
	v_folder := floe_folder_find(v_owner, p_path);
	IF v_folder IS NULL OR floe_acl_rights(p_user, v_owner, v_folder) !~ '[lr]' THEN
		RETURN CASE WHEN p_subscribe THEN 'nonexistent' ELSE 'ok' END;
	END IF;
	DELETE FROM share_subscriptions s
	WHERE s.account_id = p_user AND s.owner_id = v_owner AND s.folder_id IN (
		WITH RECURSIVE sub AS (
			SELECT v_folder AS id
			UNION ALL
			SELECT f.id FROM sub JOIN folders f ON f.account_id = v_owner AND f.parent_id = sub.id)
		SELECT sub.id FROM sub);
	IF floe_share_inherited(p_user, v_owner, v_folder) IS DISTINCT FROM p_subscribe THEN
		INSERT INTO share_subscriptions (account_id, owner_id, folder_id, subscribed)
		VALUES (p_user, v_owner, v_folder, p_subscribe);
	END IF;
	RETURN 'ok';
END $$;

-- What floe_acl_shared gives (every folder of another account on which
-- p_user has a right, with the rights), plus whether p_user's
-- subscriptions (or public-folder membership) list it.
CREATE FUNCTION floe_share_list(p_user bigint)
RETURNS TABLE (r_owner bigint, r_folder bigint, r_path text, r_rights text, r_subscribed boolean)
LANGUAGE sql STABLE AS $$
	WITH RECURSIVE cand AS (
		SELECT DISTINCT a.account_id FROM acl a
		WHERE a.grantee_kind = 'anyone' AND a.account_id <> p_user
		UNION
		SELECT a.account_id FROM acl a
		WHERE a.grantee_kind = 'user' AND a.grantee_id = p_user AND a.account_id <> p_user
		UNION
		SELECT a.account_id FROM acl a JOIN group_members g ON g.account_id = a.grantee_id
		WHERE a.grantee_kind = 'group' AND g.member_id = p_user AND a.account_id <> p_user),
	acc AS (
		SELECT cand.account_id,
		       EXISTS (SELECT 1 FROM share_subscriptions s WHERE s.account_id = p_user
			       AND s.owner_id = cand.account_id AND s.folder_id IS NULL)
		       OR floe_share_public(p_user, cand.account_id) AS sub
		FROM cand),
	t AS (
		SELECT f.id, f.account_id, f.name AS path,
		       CASE WHEN NOT f.acl_inherit OR EXISTS (
				SELECT 1 FROM acl x WHERE x.account_id = f.account_id AND x.folder_id = f.id)
			    THEN f.id ELSE 0 END AS src,
		       coalesce((SELECT s.subscribed FROM share_subscriptions s
				 WHERE s.account_id = p_user AND s.owner_id = f.account_id
				   AND s.folder_id = f.id), acc.sub) AS sub
		FROM folders f JOIN acc ON acc.account_id = f.account_id
		WHERE f.parent_id IS NULL
		UNION ALL
		SELECT f.id, f.account_id, t.path || '/' || f.name,
		       CASE WHEN NOT f.acl_inherit OR EXISTS (
				SELECT 1 FROM acl x WHERE x.account_id = f.account_id AND x.folder_id = f.id)
			    THEN f.id ELSE t.src END,
		       coalesce((SELECT s.subscribed FROM share_subscriptions s
				 WHERE s.account_id = p_user AND s.owner_id = f.account_id
				   AND s.folder_id = f.id), t.sub)
		FROM t JOIN folders f ON f.account_id = t.account_id AND f.parent_id = t.id)
	SELECT t.account_id, t.id, t.path, floe_acl_norm(string_agg(a.rights, '')), bool_or(t.sub)
	FROM t JOIN acl a ON a.account_id = t.account_id AND coalesce(a.folder_id, 0) = t.src
	WHERE floe_acl_applies(a.grantee_kind, a.grantee_id, p_user)
	GROUP BY t.account_id, t.id, t.path
$$;

-- Subscriptions written by name before this version ("~owner/path" in
-- subscriptions) become subscriptions by ids where they still name a
-- folder; the names go.
INSERT INTO share_subscriptions (account_id, owner_id, folder_id)
SELECT DISTINCT s.account_id, o.r_id, f.id
FROM subscriptions s
CROSS JOIN LATERAL floe_account_by_address(substr(split_part(s.name, '/', 1), 2)) o
CROSS JOIN LATERAL (SELECT floe_folder_find(o.r_id,
		    substr(s.name, length(split_part(s.name, '/', 1)) + 2)) AS id) f
WHERE s.name LIKE '~%/%' AND o.r_id IS NOT NULL AND o.r_id <> s.account_id AND f.id IS NOT NULL
ON CONFLICT DO NOTHING;
DELETE FROM subscriptions WHERE name LIKE '~%';

-- ---------------------------------------------------------------------
-- ACL changes: groups owning their folders, and share notices

-- As in 0004, except: a group account may be the grantee on its own
-- folders (public folders; its members get the rights), and a change
-- that gives a user (the user grantee, or each member of a group
-- grantee, never the owner, never through "anyone", not the members of
-- a group's own folders) a right it did not have, or that takes its last
-- right away, queues a share notice for it ('share' with its rights now,
-- or 'unshare') and wakes the notice runners at commit.
CREATE OR REPLACE FUNCTION floe_acl_set(p_owner bigint, p_folder bigint, p_grantee text, p_mode int,
					p_rights text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v_kind text;
	v_id bigint;
	v_cur text;
	v_new text;
	v_users bigint[];
	v_before text[];
	v_path text;
	v_queued int;
BEGIN
	IF lower(p_grantee) = 'anyone' THEN
		v_kind := 'anyone';
	ELSE
		SELECT r.r_id, CASE WHEN r.r_kind = 'group' THEN 'group' ELSE 'user' END
		INTO v_id, v_kind FROM floe_account_by_address(p_grantee) r;
		IF v_id IS NULL THEN
			RAISE EXCEPTION 'no such user or group: %', p_grantee USING ERRCODE = 'FL003';
		END IF;
		IF v_id = p_owner AND v_kind <> 'group' THEN
			RAISE EXCEPTION 'the owner always has every right' USING ERRCODE = 'FL003';
		END IF;
	END IF;
	PERFORM floe_acl_detach(p_owner, p_folder);
	-- Who may get a notice, with the rights they have before the change.
	IF v_kind = 'user' OR (v_kind = 'group' AND v_id <> p_owner) THEN
		SELECT coalesce(array_agg(u.id ORDER BY u.id), '{}'),
		       coalesce(array_agg(floe_acl_rights(u.id, p_owner, p_folder) ORDER BY u.id), '{}')
		INTO v_users, v_before
		FROM (SELECT v_id AS id WHERE v_kind = 'user'
		      UNION
		      SELECT g.member_id FROM group_members g
		      WHERE v_kind = 'group' AND g.account_id = v_id) u
		JOIN accounts ua ON ua.id = u.id AND ua.kind <> 'group'
		WHERE u.id <> p_owner;
	END IF;
	SELECT a.rights INTO v_cur FROM acl a
	WHERE a.account_id = p_owner AND coalesce(a.folder_id, 0) = p_folder
	  AND a.grantee_kind = v_kind AND coalesce(a.grantee_id, 0) = coalesce(v_id, 0);
	v_new := floe_acl_norm(CASE p_mode
		WHEN 0 THEN p_rights
		WHEN 1 THEN coalesce(v_cur, '') || p_rights
		WHEN 2 THEN translate(coalesce(v_cur, ''), coalesce(p_rights, ''), '')
		ELSE '' END);
	IF v_new = '' THEN
		DELETE FROM acl a
		WHERE a.account_id = p_owner AND coalesce(a.folder_id, 0) = p_folder
		  AND a.grantee_kind = v_kind AND coalesce(a.grantee_id, 0) = coalesce(v_id, 0);
	ELSIF v_cur IS NULL THEN
		INSERT INTO acl (account_id, folder_id, grantee_kind, grantee_id, rights)
		VALUES (p_owner, nullif(p_folder, 0), v_kind, v_id, v_new);
	ELSE
		UPDATE acl a SET rights = v_new
		WHERE a.account_id = p_owner AND coalesce(a.folder_id, 0) = p_folder
		  AND a.grantee_kind = v_kind AND coalesce(a.grantee_id, 0) = coalesce(v_id, 0);
	END IF;
	PERFORM floe_acl_notify(p_owner, p_folder);
	IF coalesce(cardinality(v_users), 0) > 0 THEN
		v_path := CASE WHEN p_folder = 0 THEN NULL ELSE floe_folder_path(p_owner, p_folder) END;
		INSERT INTO share_notices (account_id, owner_id, folder_id, folder_path, method, rights)
		SELECT u.id, p_owner, nullif(p_folder, 0), v_path,
		       CASE WHEN r.after = '' THEN 'unshare' ELSE 'share' END, r.after
		FROM unnest(v_users, v_before) AS u(id, before)
		CROSS JOIN LATERAL (SELECT floe_acl_rights(u.id, p_owner, p_folder) AS after) r
		WHERE (r.after = '' AND u.before <> '')
		   OR translate(r.after, u.before, '') <> '';
		GET DIAGNOSTICS v_queued = ROW_COUNT;
		IF v_queued > 0 THEN
			PERFORM floe_share_notice_wake();
		END IF;
	END IF;
	RETURN v_new;
END $$;

-- Claims up to p_max notices that are due and not leased by another
-- runner, for p_lease_ms, at most one per grantee: only the grantee's
-- oldest notice, so that a share and the unshare right after it arrive in
-- that order whichever runners deliver them (the next one becomes
-- claimable when the older is delivered or dropped). Returns what the
-- mail needs, the grantee's INBOX (NULL
-- when it has none) and the folder's current path (its path at the time
-- of the change when it is gone; NULL for the whole account).
CREATE FUNCTION floe_share_notice_claim(p_runner text, p_max int, p_lease_ms int)
RETURNS TABLE (r_id bigint, r_account bigint, r_inbox bigint, r_address text, r_name text,
	       r_owner text, r_owner_name text, r_folder text, r_method text, r_rights text,
	       r_created bigint, r_attempts int)
LANGUAGE sql AS $$
	WITH c AS (
		UPDATE share_notices n
		SET lease_until = now() + p_lease_ms * interval '1 millisecond', runner = p_runner,
		    attempts = n.attempts + 1
		WHERE n.id IN (SELECT x.id FROM share_notices x
			       WHERE x.next_try <= now()
				 AND (x.lease_until IS NULL OR x.lease_until < now())
				 AND NOT EXISTS (SELECT 1 FROM share_notices o
						 WHERE o.account_id = x.account_id AND o.id < x.id)
			       ORDER BY x.id LIMIT p_max FOR UPDATE SKIP LOCKED)
		RETURNING n.*)
	SELECT c.id, c.account_id, floe_folder_find(c.account_id, 'INBOX'),
	       floe_account_address(c.account_id), ga.display_name,
	       floe_account_address(c.owner_id), oa.display_name,
	       CASE WHEN c.folder_id IS NULL THEN NULL
		    ELSE coalesce(floe_folder_path(c.owner_id, c.folder_id), c.folder_path) END,
	       c.method, c.rights, extract(epoch FROM c.created_at)::bigint, c.attempts
	FROM c JOIN accounts ga ON ga.id = c.account_id JOIN accounts oa ON oa.id = c.owner_id
	ORDER BY c.id
$$;

-- Appends the notice's mail to p_fid of p_acct (as floe_append) and
-- deletes the notice, in one transaction; no row and nothing appended
-- when the notice is gone (another runner delivered it).
CREATE FUNCTION floe_share_notice_deliver(p_id bigint, p_acct bigint, p_fid bigint,
					  p_datas text[], p_meta jsonb)
RETURNS TABLE (r_uidvalidity bigint, r_uid bigint, r_modseq bigint, r_analyze boolean)
LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM share_notices n WHERE n.id = p_id AND n.account_id = p_acct;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	RETURN QUERY SELECT * FROM floe_append(p_acct, p_fid, p_datas, p_meta);
END $$;
