-- 0006_activesync_sync: ActiveSync Sync state, per device and collection.
--
-- A SyncKey is "{generation}N": the generation is a uuid chosen when the
-- device (re)starts a collection with SyncKey 0, N counts the responses.
-- For each key N the server keeps what the device holds once it has
-- applied response N: the UIDs of the folder's messages it has, each with
-- the modseq of the state it was sent (so flag changes, deletions and
-- items leaving the FilterType window are one query against items). The
-- current and the previous key are kept: a client that repeats the
-- previous key did not get the last response, which is then rebuilt from
-- the previous state plus the outcome of the client's own commands
-- (replay), so ServerIds stay the same and nothing is lost or duplicated.
--
-- New messages go to the device highest UID first. A key may also keep
-- add_cursor: every message with a UID at or above it that was in the
-- folder (not \Deleted) at the key's highestmodseq is on the device, and
-- every flag change and deletion up to that modseq was sent. The next
-- diff then reads only what changed since (the modseq index, tombstones)
-- and the next messages below the cursor (the primary key), not the whole
-- folder: an initial sync of a large folder costs each window, not the
-- folder, per request.

CREATE TABLE eas_sync_collections (
	account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	device_id   bigint NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	folder_id   bigint NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
	generation  text NOT NULL,
	current_key int NOT NULL CHECK (current_key > 0),
	-- the options of the last request that sent them (a request without
	-- Options reuses them): FilterType, BodyPreference, MIMESupport...
	options     jsonb,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, device_id, folder_id)
);
-- For the cascades when a folder or a device goes.
CREATE INDEX eas_sync_collections_folder ON eas_sync_collections (folder_id);
CREATE INDEX eas_sync_collections_device ON eas_sync_collections (device_id);

CREATE TABLE eas_sync_keys (
	account_id    bigint NOT NULL,
	device_id     bigint NOT NULL,
	folder_id     bigint NOT NULL,
	sync_key      int NOT NULL,
	uidvalidity   bigint NOT NULL,
	-- what the device holds after this response (uids[i] at modseqs[i])
	uids          bigint[] NOT NULL DEFAULT '{}',
	modseqs       bigint[] NOT NULL DEFAULT '{}',
	-- the folder's HIGHESTMODSEQ the response was computed at (Ping)
	highestmodseq bigint NOT NULL,
	-- MoreAvailable: the device does not have everything yet
	more          boolean NOT NULL DEFAULT false,
	-- see above; NULL: unknown (the next diff reads the whole folder)
	add_cursor    bigint,
	-- the outcome of the client's commands in the request this key
	-- answered: {"responses": [...], "del": [uid...], "up": [[uid, modseq]...]}
	replay        jsonb,
	created_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, device_id, folder_id, sync_key),
	FOREIGN KEY (account_id, device_id, folder_id)
		REFERENCES eas_sync_collections (account_id, device_id, folder_id) ON DELETE CASCADE,
	CHECK (cardinality(uids) = cardinality(modseqs))
);
-- Every response writes a new key row with both arrays (80 KB each for a
-- 10 000-message folder): pglz, the default compression, took most of a
-- Sync's time. lz4 is an order of magnitude faster; without it, store
-- them uncompressed.
DO $$
BEGIN
	ALTER TABLE eas_sync_keys ALTER uids SET COMPRESSION lz4,
		ALTER modseqs SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
	ALTER TABLE eas_sync_keys ALTER uids SET STORAGE EXTERNAL,
		ALTER modseqs SET STORAGE EXTERNAL;
END $$;

-- Items the device created (Sync Add): one server item per ClientId and
-- device, whatever the retries (iOS repeats SyncKey 0 and its Adds).
CREATE TABLE eas_client_ids (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	device_id  bigint NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	folder_id  bigint NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
	client_id  text NOT NULL,
	uid        bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, device_id, folder_id, client_id)
);
CREATE INDEX eas_client_ids_folder ON eas_client_ids (folder_id);
CREATE INDEX eas_client_ids_device ON eas_client_ids (device_id);

-- The collections of a device's last Sync request (an empty or Partial
-- request reuses them), with its Wait / HeartbeatInterval and WindowSize.
CREATE TABLE eas_sync_requests (
	account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	device_id   bigint NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	collections jsonb NOT NULL,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, device_id)
);
CREATE INDEX eas_sync_requests_device ON eas_sync_requests (device_id);

-- The state the device has for key p_key of a collection (none for key
-- 0), with the outcome of its later commands applied: p_del removed,
-- (p_up_uids, p_up_modseqs) added or updated.
CREATE FUNCTION floe_eas_state(p_acct bigint, p_dev bigint, p_fid bigint, p_key int,
			       p_del bigint[], p_up_uids bigint[], p_up_modseqs bigint[])
RETURNS TABLE (r_uid bigint, r_modseq bigint) LANGUAGE sql STABLE AS $$
	WITH base AS (
		SELECT u.uid, u.modseq
		FROM eas_sync_keys k, unnest(k.uids, k.modseqs) AS u(uid, modseq)
		WHERE k.account_id = p_acct AND k.device_id = p_dev AND k.folder_id = p_fid
		  AND k.sync_key = p_key),
	up AS (
		SELECT DISTINCT ON (x.uid) x.uid, x.modseq
		FROM unnest(coalesce(p_up_uids, '{}'), coalesce(p_up_modseqs, '{}')) AS x(uid, modseq)
		ORDER BY x.uid, x.modseq DESC)
	SELECT coalesce(up.uid, base.uid), coalesce(up.modseq, base.modseq)
	FROM base FULL JOIN up ON up.uid = base.uid
	WHERE NOT (coalesce(up.uid, base.uid) = ANY (coalesce(p_del, '{}')))
$$;

-- What the server has to send: rows of kind 'D' (the device has the
-- message but it is gone or flagged \Deleted), 'S' (it left the
-- FilterType window: SoftDelete), 'C' (its flags changed: modseq newer
-- than the device's), 'A' (in the window, not on the device; highest UID
-- first). Each kind is cut after p_limit rows (p_limit + 1 when read from
-- the cursor: one more tells that more wait); a row 'T' gives in r_uid the
-- number of all changes (without p_exact and with a cursor: of the rows
-- returned) and in r_modseq the folder's HIGHESTMODSEQ, 'V' its
-- UIDVALIDITY, and 'W' in r_uid the cursor the 'A' rows with r_walk start
-- below and in r_modseq the sum of 1 when no further message waits below
-- the last of them and 2 when no other change was cut. r_walk marks the 'A' rows that continue the walk down the UIDs
-- (the cursor moves past them once they are sent); the other rows are
-- changes since the key's highestmodseq, which must all be sent before
-- the next key may keep a cursor.
CREATE FUNCTION floe_eas_diff(p_acct bigint, p_dev bigint, p_fid bigint, p_key int,
			      p_del bigint[], p_up_uids bigint[], p_up_modseqs bigint[],
			      p_since timestamptz, p_limit int, p_exact boolean)
RETURNS TABLE (r_kind text, r_uid bigint, r_modseq bigint, r_walk boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_modseq bigint;
	v_uidvalidity bigint;
	v_cursor bigint;
	v_since_modseq bigint;
BEGIN
	SELECT f.highestmodseq, f.uidvalidity INTO v_modseq, v_uidvalidity FROM folders f
	WHERE f.account_id = p_acct AND f.id = p_fid;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	SELECT k.add_cursor, k.highestmodseq INTO v_cursor, v_since_modseq FROM eas_sync_keys k
	WHERE k.account_id = p_acct AND k.device_id = p_dev AND k.folder_id = p_fid
	  AND k.sync_key = p_key AND k.uidvalidity = v_uidvalidity;
	IF NOT p_exact AND p_since IS NULL AND v_cursor IS NOT NULL THEN
		RETURN QUERY
		WITH dev AS MATERIALIZED (
			SELECT s.r_uid AS uid, s.r_modseq AS modseq
			FROM floe_eas_state(p_acct, p_dev, p_fid, p_key, p_del, p_up_uids,
					    p_up_modseqs) AS s),
		changed AS MATERIALIZED (
			SELECT i.uid, i.modseq, '\Deleted' = ANY (i.flags) AS deleted
			FROM items i
			WHERE i.account_id = p_acct AND i.folder_id = p_fid
			  AND i.modseq > v_since_modseq),
		cand AS (
			(SELECT CASE WHEN c.deleted THEN 'D' ELSE 'C' END AS kind, d.uid,
				c.modseq, false AS walk
			 FROM changed c JOIN dev d ON d.uid = c.uid
			 WHERE c.deleted OR c.modseq > d.modseq
			 ORDER BY d.uid DESC LIMIT p_limit + 1)
			UNION ALL
			(SELECT 'D', d.uid, 0::bigint, false
			 FROM tombstones t JOIN dev d ON d.uid = t.uid
			 WHERE t.account_id = p_acct AND t.folder_id = p_fid
			   AND t.modseq > v_since_modseq
			 ORDER BY d.uid DESC LIMIT p_limit + 1)
			UNION ALL
			(SELECT 'A', c.uid, c.modseq, false
			 FROM changed c
			 WHERE NOT c.deleted AND c.uid >= v_cursor
			   AND NOT EXISTS (SELECT 1 FROM dev d WHERE d.uid = c.uid)
			 ORDER BY c.uid DESC LIMIT p_limit + 1)
			UNION ALL
			(SELECT 'A', i.uid, i.modseq, true
			 FROM items i
			 WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.uid < v_cursor
			   AND NOT ('\Deleted' = ANY (i.flags))
			   AND NOT EXISTS (SELECT 1 FROM dev d WHERE d.uid = i.uid)
			 ORDER BY i.uid DESC LIMIT p_limit + 1)),
		numbered AS (
			SELECT x.*, row_number() OVER (PARTITION BY x.kind
						      ORDER BY x.uid DESC) AS n
			FROM cand x)
		SELECT q.kind, q.uid, q.modseq, q.walk FROM (
			SELECT r.kind, r.uid, r.modseq, r.walk, r.n FROM numbered r
			WHERE r.n <= p_limit + 1
			UNION ALL
			SELECT 'T', (SELECT count(*) FROM numbered WHERE n <= p_limit + 1), v_modseq,
			       false, 0
			UNION ALL
			SELECT 'V', v_uidvalidity, 0::bigint, false, 0
			UNION ALL
			-- 1: the walk ended (it found no more than p_limit messages
			-- and none of them was cut here); 2: no other change was cut.
			SELECT 'W', v_cursor,
			       CASE WHEN (SELECT count(*) FROM cand WHERE walk) <= p_limit
					 AND (SELECT count(*) FROM cand WHERE kind = 'A')
					     <= p_limit + 1 THEN 1 ELSE 0 END
			       + CASE WHEN NOT EXISTS (SELECT 1 FROM cand WHERE NOT walk
						       GROUP BY kind HAVING count(*) > p_limit)
				      THEN 2 ELSE 0 END, false, 0) q
		ORDER BY q.kind, q.n;
		RETURN;
	END IF;
	RETURN QUERY
	WITH dev AS MATERIALIZED (
		SELECT s.r_uid AS uid, s.r_modseq AS modseq
		FROM floe_eas_state(p_acct, p_dev, p_fid, p_key, p_del, p_up_uids,
				    p_up_modseqs) AS s),
	diff AS MATERIALIZED (
		SELECT CASE WHEN i.uid IS NULL OR '\Deleted' = ANY (i.flags) THEN 'D'
			    WHEN p_since IS NOT NULL AND i.internal_date < p_since THEN 'S'
			    ELSE 'C' END AS kind,
		       d.uid, i.modseq
		FROM dev d
		LEFT JOIN items i ON i.account_id = p_acct AND i.folder_id = p_fid
				 AND i.uid = d.uid
		WHERE i.uid IS NULL OR '\Deleted' = ANY (i.flags)
		   OR (p_since IS NOT NULL AND i.internal_date < p_since) OR i.modseq > d.modseq
		UNION ALL
		SELECT 'A', i.uid, i.modseq
		FROM items i
		WHERE i.account_id = p_acct AND i.folder_id = p_fid
		  AND NOT ('\Deleted' = ANY (i.flags))
		  AND (p_since IS NULL OR i.internal_date >= p_since)
		  AND NOT EXISTS (SELECT 1 FROM dev d WHERE d.uid = i.uid)),
	ranked AS (
		SELECT x.kind, x.uid, x.modseq,
		       row_number() OVER (PARTITION BY x.kind ORDER BY x.uid DESC) AS n
		FROM diff x)
	SELECT q.kind, q.uid, q.modseq, q.walk FROM (
		SELECT r.kind, r.uid, r.modseq, r.kind = 'A' AS walk, r.n FROM ranked r
		WHERE r.n <= p_limit
		UNION ALL
		SELECT 'T', (SELECT count(*) FROM diff), v_modseq, false, 0
		UNION ALL
		SELECT 'V', v_uidvalidity, 0::bigint, false, 0
		UNION ALL
		SELECT 'W', 9223372036854775807,
		       CASE WHEN (SELECT count(*) FROM diff WHERE kind = 'A') <= p_limit
			    THEN 1 ELSE 0 END
		       + CASE WHEN NOT EXISTS (SELECT 1 FROM diff WHERE kind <> 'A'
					       GROUP BY kind HAVING count(*) > p_limit)
			      THEN 2 ELSE 0 END, false, 0) q
	ORDER BY q.kind, q.n;
END $$;

-- Starts (or restarts) a collection for SyncKey 0: a new generation, key
-- 1 holding nothing. Returns the generation.
CREATE FUNCTION floe_eas_sync_reset(p_acct bigint, p_dev bigint, p_fid bigint, p_options jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_gen text := gen_random_uuid()::text;
	v_f folders%ROWTYPE;
BEGIN
	SELECT * INTO v_f FROM folders f WHERE f.account_id = p_acct AND f.id = p_fid;
	IF NOT FOUND OR v_f.noselect THEN
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	INSERT INTO eas_sync_collections AS c (account_id, device_id, folder_id, generation,
					       current_key, options)
	VALUES (p_acct, p_dev, p_fid, v_gen, 1, p_options)
	ON CONFLICT (account_id, device_id, folder_id) DO UPDATE
	SET generation = v_gen, current_key = 1, options = coalesce(p_options, c.options),
	    updated_at = now();
	DELETE FROM eas_sync_keys k
	WHERE k.account_id = p_acct AND k.device_id = p_dev AND k.folder_id = p_fid;
	-- Nothing sent yet: every message waits below the cursor.
	INSERT INTO eas_sync_keys (account_id, device_id, folder_id, sync_key, uidvalidity,
				   highestmodseq, more, add_cursor)
	VALUES (p_acct, p_dev, p_fid, 1, v_f.uidvalidity, v_f.highestmodseq, v_f.messages > 0,
		9223372036854775807);
	RETURN v_gen;
END $$;

-- Records key p_new, answered to a request that carried key p_base: the
-- state of p_base with p_del removed and (p_up_uids, p_up_modseqs) set
-- (the client's commands and what the response sent), then
-- (p_add_uids, p_add_modseqs) added: messages the device did not have
-- (when nothing else changed the state is the base's arrays with these
-- appended, without rebuilding it). Keeps p_base as the previous key and
-- drops every other. Fails with FL003 when the collection moved on
-- meanwhile (another request of the device).
CREATE FUNCTION floe_eas_sync_commit(p_acct bigint, p_dev bigint, p_fid bigint, p_gen text,
				     p_base int, p_new int, p_uidvalidity bigint,
				     p_del bigint[], p_up_uids bigint[], p_up_modseqs bigint[],
				     p_add_uids bigint[], p_add_modseqs bigint[],
				     p_highestmodseq bigint, p_more boolean, p_cursor bigint,
				     p_replay jsonb, p_options jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_c eas_sync_collections%ROWTYPE;
BEGIN
	SELECT * INTO v_c FROM eas_sync_collections c
	WHERE c.account_id = p_acct AND c.device_id = p_dev AND c.folder_id = p_fid FOR UPDATE;
	IF NOT FOUND OR v_c.generation <> p_gen OR v_c.current_key NOT IN (p_base, p_base + 1) THEN
		RAISE EXCEPTION 'the sync state changed meanwhile' USING ERRCODE = 'FL003';
	END IF;
	DELETE FROM eas_sync_keys k
	WHERE k.account_id = p_acct AND k.device_id = p_dev AND k.folder_id = p_fid
	  AND k.sync_key <> p_base;
	IF cardinality(p_del) = 0 AND cardinality(p_up_uids) = 0 THEN
		INSERT INTO eas_sync_keys (account_id, device_id, folder_id, sync_key, uidvalidity,
					   uids, modseqs, highestmodseq, more, add_cursor, replay)
		SELECT p_acct, p_dev, p_fid, p_new, p_uidvalidity, k.uids || p_add_uids,
		       k.modseqs || p_add_modseqs, p_highestmodseq, p_more, p_cursor, p_replay
		FROM eas_sync_keys k
		WHERE k.account_id = p_acct AND k.device_id = p_dev AND k.folder_id = p_fid
		  AND k.sync_key = p_base;
	END IF;
	IF cardinality(p_del) > 0 OR cardinality(p_up_uids) > 0 OR NOT FOUND THEN
		INSERT INTO eas_sync_keys (account_id, device_id, folder_id, sync_key, uidvalidity,
					   uids, modseqs, highestmodseq, more, add_cursor, replay)
		SELECT p_acct, p_dev, p_fid, p_new, p_uidvalidity,
		       coalesce(array_agg(s.r_uid ORDER BY s.r_uid), '{}'),
		       coalesce(array_agg(s.r_modseq ORDER BY s.r_uid), '{}'),
		       p_highestmodseq, p_more, p_cursor, p_replay
		FROM floe_eas_state(p_acct, p_dev, p_fid, p_base, p_del, p_up_uids || p_add_uids,
				    p_up_modseqs || p_add_modseqs) AS s;
	END IF;
	UPDATE eas_sync_collections c
	SET current_key = p_new, options = coalesce(p_options, c.options), updated_at = now()
	WHERE c.account_id = p_acct AND c.device_id = p_dev AND c.folder_id = p_fid;
END $$;

CREATE FUNCTION floe_eas_json_ids(p jsonb) RETURNS bigint[] LANGUAGE sql IMMUTABLE AS $$
	SELECT coalesce(ARRAY(SELECT jsonb_array_elements_text(coalesce(p, '[]'))::bigint),
			'{}')
$$;

-- Every collection of one Sync response in one transaction: p_commits is
-- a JSON array of {"f": folder, "g": generation, "b": base key, "n": new
-- key, "v": uidvalidity, "del": [uid], "up": [uid], "um": [modseq],
-- "add": [uid], "am": [modseq], "h": highestmodseq, "m": more, "c":
-- cursor or null, "r": replay, "o": options}; p_request,
-- when not NULL, becomes the device's cached request.
CREATE FUNCTION floe_eas_sync_commit_all(p_acct bigint, p_dev bigint, p_commits jsonb,
					 p_request jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_c jsonb;
BEGIN
	-- Locks in folder order, so two requests cannot deadlock.
	FOR v_c IN SELECT e FROM jsonb_array_elements(p_commits) AS e
		   ORDER BY (e ->> 'f')::bigint LOOP
		PERFORM floe_eas_sync_commit(p_acct, p_dev, (v_c ->> 'f')::bigint, v_c ->> 'g',
					     (v_c ->> 'b')::int, (v_c ->> 'n')::int,
					     (v_c ->> 'v')::bigint, floe_eas_json_ids(v_c -> 'del'),
					     floe_eas_json_ids(v_c -> 'up'),
					     floe_eas_json_ids(v_c -> 'um'),
					     floe_eas_json_ids(v_c -> 'add'),
					     floe_eas_json_ids(v_c -> 'am'), (v_c ->> 'h')::bigint,
					     coalesce((v_c ->> 'm')::boolean, false),
					     (v_c ->> 'c')::bigint,
					     nullif(v_c -> 'r', 'null'::jsonb),
					     nullif(v_c -> 'o', 'null'::jsonb));
	END LOOP;
	IF p_request IS NOT NULL THEN
		INSERT INTO eas_sync_requests AS r (account_id, device_id, collections)
		VALUES (p_acct, p_dev, p_request)
		ON CONFLICT (account_id, device_id) DO UPDATE
		SET collections = EXCLUDED.collections, updated_at = now();
	END IF;
END $$;
