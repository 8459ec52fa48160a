-- Floe schema, version 4: shared folders (RFC 4314 ACLs with inheritance)
-- and METADATA (RFC 5464) entries, behind db/store-acl.h.
--
-- An ACL entry grants a user, a group (every member) or anyone (every user
-- of every domain) rights on one folder, or with folder_id NULL on the
-- whole account. A folder whose acl_inherit is true and that has no entries
-- of its own takes the entries of its parent, recursively, and at the top
-- those of the account: the nearest folder up the chain that has entries or
-- cancelled inheritance decides. Changing the ACL of a folder that inherits
-- first copies the inherited entries to it and cancels its inheritance, so
-- that a change on a subfolder never widens or narrows the parent's.
-- Owners always have every right; rights are stored as the letters
-- lrswipkxtea (the obsolete c and d are expanded before they get here).

ALTER TABLE folders ADD COLUMN acl_inherit boolean NOT NULL DEFAULT true;

-- Accounts that grant something to anyone.
CREATE INDEX acl_anyone ON acl (account_id) WHERE grantee_kind = 'anyone';

-- METADATA entries of a folder, or with folder_id NULL of the server as the
-- account sees it (RFC 5464 server entries, kept per account). account_id
-- is the folder's owner. A /private entry belongs to one user (user_id,
-- who may be a grantee of a shared folder); a /shared entry has no user.
-- Names are stored lower-case (entry names are case-insensitive).
CREATE TABLE folder_metadata (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	folder_id  bigint REFERENCES folders(id) ON DELETE CASCADE,
	scope      text NOT NULL CHECK (scope IN ('private', 'shared')),
	user_id    bigint REFERENCES accounts(id) ON DELETE CASCADE,
	name       text NOT NULL CHECK (name = lower(name) AND length(name) <= 1024),
	value      bytea NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	CHECK ((scope = 'private') = (user_id IS NOT NULL)),
	CHECK (starts_with(name, '/' || scope || '/'))
);
CREATE UNIQUE INDEX folder_metadata_entry
	ON folder_metadata (account_id, coalesce(folder_id, 0), coalesce(user_id, 0), name);

-- ---------------------------------------------------------------------
-- Rights

-- The letters of p in canonical order, each once; anything else dropped.
CREATE FUNCTION floe_acl_norm(p text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT coalesce(string_agg(s.c, '' ORDER BY position(s.c IN 'lrswipkxtea')), '')
	FROM (SELECT DISTINCT c FROM regexp_split_to_table(coalesce(p, ''), '') AS c
	      WHERE c <> '' AND position(c IN 'lrswipkxtea') > 0) s
$$;

-- The folder whose entries govern p_folder: itself, the nearest ancestor
-- with entries or without inheritance, or 0 for the account's entries.
-- NULL when the folder does not exist; p_folder 0 is the account itself.
CREATE FUNCTION floe_acl_source(p_owner bigint, p_folder bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_id bigint := nullif(p_folder, 0);
	v_parent bigint;
	v_inherit boolean;
	v_depth int := 0;
BEGIN
	WHILE v_id IS NOT NULL AND v_depth < 1000 LOOP
		SELECT f.parent_id, f.acl_inherit INTO v_parent, v_inherit FROM folders f
		WHERE f.account_id = p_owner AND f.id = v_id;
		IF NOT FOUND THEN
			RETURN NULL;
		END IF;
		IF NOT v_inherit OR EXISTS (SELECT 1 FROM acl a WHERE a.account_id = p_owner
					    AND a.folder_id = v_id) THEN
			RETURN v_id;
		END IF;
		v_id := v_parent;
		v_depth := v_depth + 1;
	END LOOP;
	RETURN 0;
END $$;

-- The entry applies to p_user: it names the user, a group the user is a
-- member of, or anyone.
CREATE FUNCTION floe_acl_applies(p_kind text, p_grantee bigint, p_user bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT p_kind = 'anyone'
	    OR (p_kind = 'user' AND p_grantee = p_user)
	    OR (p_kind = 'group' AND EXISTS (SELECT 1 FROM group_members g
					     WHERE g.account_id = p_grantee AND g.member_id = p_user))
$$;

-- The rights of p_user on folder p_folder of p_owner (0: the account
-- level): every right for the owner, else the union of the entries that
-- apply in the governing folder. '' when none or the folder is missing.
CREATE FUNCTION floe_acl_rights(p_user bigint, p_owner bigint, p_folder bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_src bigint;
BEGIN
	IF p_user = p_owner THEN
		RETURN 'lrswipkxtea';
	END IF;
	v_src := floe_acl_source(p_owner, p_folder);
	IF v_src IS NULL THEN
		RETURN '';
	END IF;
	RETURN (SELECT floe_acl_norm(string_agg(a.rights, '')) FROM acl a
		WHERE a.account_id = p_owner AND coalesce(a.folder_id, 0) = v_src
		  AND floe_acl_applies(a.grantee_kind, a.grantee_id, p_user));
END $$;

-- An account by "local@domain" or an alias of it, any case: its id and kind.
CREATE FUNCTION floe_account_by_address(p_address text, OUT r_id bigint, OUT r_kind text)
LANGUAGE sql STABLE AS $$
	SELECT a.id, a.kind FROM accounts a JOIN domains d ON d.id = a.domain_id
	WHERE a.local_part = lower(split_part(p_address, '@', 1))
	  AND d.name = lower(substr(p_address, length(split_part(p_address, '@', 1)) + 2))
	  AND position('@' IN p_address) > 1
	UNION ALL
	SELECT a.id, a.kind FROM aliases al JOIN domains d ON d.id = al.domain_id
	JOIN accounts a ON a.id = al.account_id
	WHERE al.local_part = lower(split_part(p_address, '@', 1))
	  AND d.name = lower(substr(p_address, length(split_part(p_address, '@', 1)) + 2))
	  AND position('@' IN p_address) > 1
	LIMIT 1
$$;

CREATE FUNCTION floe_account_address(p_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT a.local_part || '@' || d.name FROM accounts a JOIN domains d ON d.id = a.domain_id
	WHERE a.id = p_id
$$;

-- Sends a change notice with modseq 0 ("rights changed, content did not")
-- for p_folder and every folder below it, or for every folder of the
-- account when p_folder is 0: inheriting folders change with it.
CREATE FUNCTION floe_acl_notify(p_owner bigint, p_folder bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM floe_notify(p_owner, s.id, 0) FROM (
		WITH RECURSIVE sub AS (
			SELECT f.id FROM folders f
			WHERE f.account_id = p_owner
			  AND CASE WHEN p_folder = 0 THEN f.parent_id IS NULL ELSE f.id = p_folder END
			UNION ALL
			SELECT c.id FROM sub JOIN folders c ON c.account_id = p_owner AND c.parent_id = sub.id)
		SELECT sub.id FROM sub) s;
END $$;

-- Locks what an ACL change of (p_owner, p_folder) serializes on, and gives
-- an inheriting folder its own copy of the inherited entries.
CREATE FUNCTION floe_acl_detach(p_owner bigint, p_folder bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_src bigint;
BEGIN
	IF p_folder = 0 THEN
		PERFORM 1 FROM accounts a WHERE a.id = p_owner FOR NO KEY UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'no such account' USING ERRCODE = 'FL001';
		END IF;
		RETURN;
	END IF;
	PERFORM 1 FROM folders f WHERE f.account_id = p_owner AND f.id = p_folder FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	v_src := floe_acl_source(p_owner, p_folder);
	IF v_src <> p_folder THEN
		INSERT INTO acl (account_id, folder_id, grantee_kind, grantee_id, rights)
		SELECT p_owner, p_folder, a.grantee_kind, a.grantee_id, a.rights FROM acl a
		WHERE a.account_id = p_owner AND coalesce(a.folder_id, 0) = v_src;
		UPDATE folders f SET acl_inherit = false WHERE f.id = p_folder;
	END IF;
END $$;

-- Changes the entry of grantee p_grantee ('anyone', or the address of a
-- user or group) on folder p_folder of p_owner (0: the whole account).
-- p_mode: 0 replaces its rights with p_rights, 1 adds them, 2 removes them,
-- 3 deletes the entry. An entry left without rights is deleted. Returns the
-- entry's new rights ('' when it is gone).
CREATE FUNCTION floe_acl_set(p_owner bigint, p_folder bigint, p_grantee text, p_mode int,
			     p_rights text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v_kind text;
	v_id bigint;
	v_cur text;
	v_new text;
BEGIN
	IF lower(p_grantee) = 'anyone' THEN
		v_kind := 'anyone';
	ELSE
		SELECT r.r_id, CASE WHEN r.r_kind = 'group' THEN 'group' ELSE 'user' END
		INTO v_id, v_kind FROM floe_account_by_address(p_grantee) r;
		IF v_id IS NULL THEN
			RAISE EXCEPTION 'no such user or group: %', p_grantee USING ERRCODE = 'FL003';
		END IF;
		IF v_id = p_owner THEN
			RAISE EXCEPTION 'the owner always has every right' USING ERRCODE = 'FL003';
		END IF;
	END IF;
	PERFORM floe_acl_detach(p_owner, p_folder);
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
	RETURN v_new;
END $$;

-- Makes p_folder inherit again (its own entries are dropped) or gives it
-- its own copy of what it inherited.
CREATE FUNCTION floe_acl_inherit(p_owner bigint, p_folder bigint, p_inherit boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF p_inherit THEN
		PERFORM 1 FROM folders f WHERE f.account_id = p_owner AND f.id = p_folder FOR UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
		END IF;
		DELETE FROM acl a WHERE a.account_id = p_owner AND a.folder_id = p_folder;
		UPDATE folders f SET acl_inherit = true WHERE f.id = p_folder;
	ELSE
		PERFORM floe_acl_detach(p_owner, p_folder);
		UPDATE folders f SET acl_inherit = false WHERE f.id = p_folder;
	END IF;
	PERFORM floe_acl_notify(p_owner, p_folder);
END $$;

-- Resolves a folder of p_owner_addr (NULL: p_user's own account) by path
-- for p_user: the owner, the folder (NULL when missing) with p_user's
-- rights on it, and the nearest existing ancestor of the path (0: the
-- account's root) with the rights there (CREATE, RENAME's new parent). No
-- row when the owner does not exist.
CREATE FUNCTION floe_acl_lookup(p_user bigint, p_owner_addr text, p_path text)
RETURNS TABLE (r_owner bigint, r_owner_addr text, r_folder bigint, r_rights text,
	       r_parent bigint, r_parent_rights text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_parts text[] := string_to_array(p_path, '/');
	v_n int := coalesce(cardinality(v_parts), 0);
	v_parent bigint;
BEGIN
	IF p_owner_addr IS NULL THEN
		r_owner := p_user;
	ELSE
		SELECT r.r_id INTO r_owner FROM floe_account_by_address(p_owner_addr) r;
		IF r_owner IS NULL THEN
			RETURN;
		END IF;
	END IF;
	r_owner_addr := floe_account_address(r_owner);
	IF v_n > 0 AND NOT ('' = ANY (v_parts)) THEN
		r_folder := floe_folder_find(r_owner, p_path);
		FOR i IN REVERSE v_n - 1 .. 1 LOOP
			v_parent := floe_folder_find(r_owner, array_to_string(v_parts[1:i], '/'));
			EXIT WHEN v_parent IS NOT NULL;
		END LOOP;
	END IF;
	r_rights := CASE WHEN r_folder IS NULL THEN ''
			 ELSE floe_acl_rights(p_user, r_owner, r_folder) END;
	r_parent := coalesce(v_parent, 0);
	r_parent_rights := floe_acl_rights(p_user, r_owner, r_parent);
	RETURN NEXT;
END $$;

-- Every folder of another account on which p_user has any right, with the
-- rights (one walk down each candidate account, top-level folders first).
CREATE FUNCTION floe_acl_shared(p_user bigint)
RETURNS TABLE (r_owner bigint, r_folder bigint, r_path text, r_rights text)
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
	t AS (
		SELECT f.id, f.account_id, f.name AS path,
		       CASE WHEN NOT f.acl_inherit OR EXISTS (
				SELECT 1 FROM acl x WHERE x.account_id = f.account_id AND x.folder_id = f.id)
			    THEN f.id ELSE 0 END AS src
		FROM folders f JOIN cand ON cand.account_id = f.account_id
		WHERE f.parent_id IS NULL
		UNION ALL
		SELECT f.id, f.account_id, t.path || '/' || f.name,
		       CASE WHEN NOT f.acl_inherit OR EXISTS (
				SELECT 1 FROM acl x WHERE x.account_id = f.account_id AND x.folder_id = f.id)
			    THEN f.id ELSE t.src END
		FROM t JOIN folders f ON f.account_id = t.account_id AND f.parent_id = t.id)
	SELECT t.account_id, t.id, t.path, floe_acl_norm(string_agg(a.rights, ''))
	FROM t JOIN acl a ON a.account_id = t.account_id AND coalesce(a.folder_id, 0) = t.src
	WHERE floe_acl_applies(a.grantee_kind, a.grantee_id, p_user)
	GROUP BY t.account_id, t.id, t.path
$$;

-- ---------------------------------------------------------------------
-- METADATA

-- Sets (p_values[i] hex) or deletes (NULL) the entries p_names of folder
-- p_folder of p_acct (0: the server level), /private ones for p_user, all
-- or nothing. Returns 'ok', or 'toomany' (nothing changed) when a scope
-- would hold more than p_max entries.
CREATE FUNCTION floe_metadata_set(p_acct bigint, p_folder bigint, p_user bigint, p_names text[],
				  p_values text[], p_max int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	v_scope text;
	v_uid bigint;
BEGIN
	IF p_folder = 0 THEN
		PERFORM 1 FROM accounts a WHERE a.id = p_acct FOR NO KEY UPDATE;
	ELSE
		PERFORM 1 FROM folders f WHERE f.account_id = p_acct AND f.id = p_folder FOR UPDATE;
	END IF;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	BEGIN
		FOR i IN 1 .. coalesce(cardinality(p_names), 0) LOOP
			v_scope := CASE WHEN starts_with(p_names[i], '/private/') THEN 'private'
					ELSE 'shared' END;
			v_uid := CASE WHEN v_scope = 'private' THEN p_user END;
			IF p_values[i] IS NULL THEN
				DELETE FROM folder_metadata m
				WHERE m.account_id = p_acct AND coalesce(m.folder_id, 0) = p_folder
				  AND coalesce(m.user_id, 0) = coalesce(v_uid, 0) AND m.name = p_names[i];
			ELSE
				INSERT INTO folder_metadata AS m (account_id, folder_id, scope, user_id,
								  name, value)
				VALUES (p_acct, nullif(p_folder, 0), v_scope, v_uid, p_names[i],
					decode(p_values[i], 'hex'))
				ON CONFLICT (account_id, coalesce(folder_id, 0), coalesce(user_id, 0), name)
				DO UPDATE SET value = EXCLUDED.value, updated_at = now();
			END IF;
		END LOOP;
		IF EXISTS (SELECT 1 FROM folder_metadata m
			   WHERE m.account_id = p_acct AND coalesce(m.folder_id, 0) = p_folder
			     AND (m.user_id IS NULL OR m.user_id = p_user)
			   GROUP BY m.user_id HAVING count(*) > p_max) THEN
			RAISE EXCEPTION 'too many entries' USING ERRCODE = 'FL007';
		END IF;
	EXCEPTION WHEN SQLSTATE 'FL007' THEN
		RETURN 'toomany';
	END;
	RETURN 'ok';
END $$;
