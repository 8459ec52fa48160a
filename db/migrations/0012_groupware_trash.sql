-- Floe schema, version 12: the GroupWare Trash. A groupware item (event,
-- task, note, journal entry, contact, file) that leaves its folder by
-- EXPUNGE, or with its folder, is kept here rather than dropped: its
-- content (blob, parse results, groupware index) stays referenced, and it
-- can be restored into its folder as a new item with the same object UID.
-- Entries older than [groupware] trash_days are purged by the workers
-- (floe_gwtrash_purge), which queues their content for floe_content_gc_run.
--
-- It is a table, not an IMAP mailbox: synchronizing clients never see it.
-- Mail folders are not affected (mail has its own Trash folder).
--
-- Replacing an item (APPEND of the new version, then EXPUNGE of the old
-- one, both with the object UID as Subject) must not fill the trash: an
-- expunged item whose object UID is still in the folder afterwards is
-- simply dropped.
--
-- Quota: trashed items count against the account's quota, as in IceWarp
-- (floe_quota_check below). Otherwise deleting and re-adding large items
-- (files) would store without limit for trash_days; and a restore, which
-- only moves an item back, never fails for quota.

CREATE TABLE groupware_trash (
	id            bigserial PRIMARY KEY,
	account_id    bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	-- the folder the item was in; NULL once that folder is removed
	folder_id     bigint REFERENCES folders(id) ON DELETE SET NULL,
	folder_path   text NOT NULL,   -- its path when the item was deleted
	folder_type   text NOT NULL,   -- event, contact, task, note, journal, file
	object_uid    text NOT NULL,   -- the object's UID (the item's Subject)
	kind          text,            -- groupware_index.kind; NULL when not indexed
	title         text,            -- for people: SUMMARY, FN, file name
	flags         text[] NOT NULL DEFAULT '{}',
	internal_date timestamptz NOT NULL,
	size          bigint NOT NULL CHECK (size >= 0),
	blob_hash     bytea NOT NULL,
	message_id    text,
	email_id      text,
	thread_id     text,
	deleted_at    timestamptz NOT NULL DEFAULT now(),
	-- the content stays: parse results (and with them the blob and the
	-- groupware index) cannot go while an entry refers to them
	FOREIGN KEY (account_id, blob_hash) REFERENCES message_meta (account_id, hash)
);
CREATE INDEX groupware_trash_account ON groupware_trash (account_id, deleted_at);
CREATE INDEX groupware_trash_deleted ON groupware_trash (deleted_at);
CREATE INDEX groupware_trash_blob ON groupware_trash (account_id, blob_hash);
CREATE INDEX groupware_trash_folder ON groupware_trash (folder_id) WHERE folder_id IS NOT NULL;

-- Whether folder p_fid holds an item whose object UID is p_uid, leaving
-- out the UIDs in p_except (items being removed in this statement). The
-- object UID is the groupware index's; an item without index (p_by_subject)
-- is matched by its Subject.
CREATE FUNCTION floe_gwtrash_present(p_acct bigint, p_fid bigint, p_uid text, p_except bigint[],
				     p_by_subject boolean) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM groupware_index g
		   JOIN items i ON i.account_id = g.account_id AND i.blob_hash = g.hash
		   WHERE g.account_id = p_acct AND g.uid = p_uid AND i.folder_id = p_fid
		     AND NOT (i.uid = ANY (coalesce(p_except, '{}')))) THEN
		RETURN true;
	END IF;
	RETURN p_by_subject AND EXISTS (
		SELECT 1 FROM items i
		JOIN message_meta m ON m.account_id = i.account_id AND m.hash = i.blob_hash
		WHERE i.account_id = p_acct AND i.folder_id = p_fid AND m.subject = p_uid
		  AND NOT (i.uid = ANY (coalesce(p_except, '{}'))));
END $$;

-- Removes items p_uids of groupware folder p_fid (locked by the caller),
-- keeping each in the trash unless its object UID stays in the folder (a
-- replacement). Of several removed items with one object UID, the newest
-- (highest IMAP UID) is kept. Returns the contents of the removed items,
-- for floe_content_gc (which keeps what the trash refers to).
CREATE FUNCTION floe_gwtrash_take(p_acct bigint, p_fid bigint, p_uids bigint[]) RETURNS bytea[]
LANGUAGE plpgsql AS $$
DECLARE
	v_path text := floe_folder_path(p_acct, p_fid);
	v_type text;
	v_hashes bytea[];
BEGIN
	SELECT f.type INTO v_type FROM folders f WHERE f.account_id = p_acct AND f.id = p_fid;
	IF v_type IS NULL OR v_type = 'mail' OR coalesce(cardinality(p_uids), 0) = 0 THEN
		RAISE EXCEPTION 'floe_gwtrash_take: not a groupware folder or nothing to take'
			USING ERRCODE = 'FL003';
	END IF;
	INSERT INTO groupware_trash (account_id, folder_id, folder_path, folder_type, object_uid,
				     kind, title, flags, internal_date, size, blob_hash, message_id,
				     email_id, thread_id)
	SELECT DISTINCT ON (x.object_uid) p_acct, p_fid, v_path, v_type, x.object_uid, x.kind,
	       x.title, x.flags, x.internal_date, x.size, x.blob_hash, x.message_id, x.email_id,
	       x.thread_id
	FROM (SELECT i.uid, i.flags, i.internal_date, i.size, i.blob_hash, i.message_id,
		     i.email_id, i.thread_id, g.kind, coalesce(g.title, m.subject) AS title,
		     coalesce(g.uid, m.subject, '') AS object_uid, g.uid IS NULL AS by_subject
	      FROM items i
	      LEFT JOIN groupware_index g ON g.account_id = i.account_id AND g.hash = i.blob_hash
	      LEFT JOIN message_meta m ON m.account_id = i.account_id AND m.hash = i.blob_hash
	      WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.uid = ANY (p_uids)) x
	WHERE x.object_uid <> ''
	  AND NOT floe_gwtrash_present(p_acct, p_fid, x.object_uid, p_uids, x.by_subject)
	ORDER BY x.object_uid, x.uid DESC;
	WITH d AS (
		DELETE FROM items i
		WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.uid = ANY (p_uids)
		RETURNING i.blob_hash)
	SELECT array_agg(DISTINCT d.blob_hash) INTO v_hashes FROM d;
	RETURN v_hashes;
END $$;

-- As in 0009_imap_perf.sql; groupware items go to the trash (see above)
-- and the content of those that do not is cleaned up at once.
CREATE OR REPLACE FUNCTION floe_expunge(p_acct bigint, p_fid bigint, p_lo bigint[], p_hi bigint[])
RETURNS TABLE (r_kind int, r_v bigint) LANGUAGE plpgsql AS $$
DECLARE
	v_modseq bigint;
	v_type text;
	v_uids bigint[];
	v_hashes bytea[];
BEGIN
	SELECT f.highestmodseq, f.type INTO v_modseq, v_type FROM folders f
	WHERE f.account_id = p_acct AND f.id = p_fid FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	v_uids := ARRAY(SELECT i.uid FROM items i
			WHERE i.account_id = p_acct AND i.folder_id = p_fid
			  AND '\Deleted' = ANY (i.flags)
			  AND (p_lo IS NULL
			       OR i.uid = ANY (ARRAY(SELECT floe_uids(p_acct, p_fid, p_lo, p_hi))))
			ORDER BY i.uid);
	IF cardinality(v_uids) > 0 THEN
		UPDATE folders f SET highestmodseq = f.highestmodseq + 1 WHERE f.id = p_fid
		RETURNING f.highestmodseq INTO v_modseq;
		IF v_type = 'mail' THEN
			WITH d AS (
				DELETE FROM items i
				WHERE i.account_id = p_acct AND i.folder_id = p_fid
				  AND i.uid = ANY (v_uids)
				RETURNING i.blob_hash)
			SELECT array_agg(DISTINCT d.blob_hash) INTO v_hashes FROM d;
		ELSE
			v_hashes := floe_gwtrash_take(p_acct, p_fid, v_uids);
		END IF;
		INSERT INTO tombstones (account_id, folder_id, uid, modseq)
		SELECT p_acct, p_fid, u, v_modseq FROM unnest(v_uids) AS u
		ON CONFLICT (account_id, folder_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq;
		IF v_type = 'mail' THEN
			INSERT INTO content_gc (account_id, hash)
			SELECT p_acct, h FROM unnest(v_hashes) AS h;
		ELSE
			PERFORM floe_content_gc(p_acct, v_hashes);
		END IF;
		PERFORM floe_notify(p_acct, p_fid, v_modseq);
	END IF;
	RETURN QUERY SELECT 0, v_modseq;
	RETURN QUERY SELECT 1, u FROM unnest(v_uids) AS u;
END $$;
ALTER FUNCTION floe_expunge(bigint, bigint, bigint[], bigint[])
	SET plan_cache_mode = force_generic_plan;

-- As in 0002_mail.sql, and a content the trash refers to stays.
CREATE OR REPLACE FUNCTION floe_content_gc(p_acct bigint, p_hashes bytea[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF coalesce(cardinality(p_hashes), 0) = 0 THEN
		RETURN;
	END IF;
	BEGIN
		DELETE FROM message_meta m WHERE m.account_id = p_acct AND m.hash = ANY (p_hashes)
		  AND NOT EXISTS (SELECT 1 FROM items i
				  WHERE i.account_id = p_acct AND i.blob_hash = m.hash)
		  AND NOT EXISTS (SELECT 1 FROM groupware_trash t
				  WHERE t.account_id = p_acct AND t.blob_hash = m.hash);
		DELETE FROM blobs b WHERE b.hash = ANY (p_hashes)
		  AND NOT EXISTS (SELECT 1 FROM message_meta m WHERE m.hash = b.hash);
	EXCEPTION WHEN foreign_key_violation THEN
		NULL;
	END;
END $$;

-- As in 0009_imap_perf.sql, and a content the trash refers to stays (its
-- entry, once purged, queues it again).
CREATE OR REPLACE FUNCTION floe_content_gc_run(p_limit int, p_min_age interval) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_taken int;
	v_accts bigint[];
	v_hashes bytea[];
	r record;
BEGIN
	IF NOT pg_try_advisory_xact_lock(5074766543727849339) THEN
		RETURN 0;
	END IF;
	WITH d AS (
		DELETE FROM content_gc q
		WHERE q.ctid = ANY (ARRAY(SELECT c.ctid FROM content_gc c
					  WHERE c.queued_at <= now() - p_min_age
					  ORDER BY c.queued_at LIMIT p_limit))
		RETURNING q.account_id, q.hash)
	SELECT count(*), array_agg(d.account_id), array_agg(d.hash)
	INTO v_taken, v_accts, v_hashes FROM d;
	FOR r IN SELECT DISTINCT u.account_id, u.hash
		 FROM unnest(v_accts, v_hashes) AS u(account_id, hash) LOOP
		BEGIN
			-- The blob first, then the parse results: floe_append's order.
			PERFORM 1 FROM blobs b WHERE b.hash = r.hash FOR UPDATE;
			DELETE FROM message_meta m WHERE m.account_id = r.account_id AND m.hash = r.hash
			  AND NOT EXISTS (SELECT 1 FROM items i
					  WHERE i.account_id = r.account_id AND i.blob_hash = r.hash)
			  AND NOT EXISTS (SELECT 1 FROM groupware_trash t
					  WHERE t.account_id = r.account_id AND t.blob_hash = r.hash);
			DELETE FROM blobs b WHERE b.hash = r.hash
			  AND NOT EXISTS (SELECT 1 FROM message_meta m WHERE m.hash = r.hash);
		EXCEPTION WHEN foreign_key_violation OR deadlock_detected THEN
			NULL;
		END;
	END LOOP;
	RETURN v_taken;
END $$;

-- As in 0002_mail.sql, and the items of a groupware folder go to the trash
-- with the folder's path, as IceWarp's WebClient does: removing a calendar
-- by mistake loses nothing, and restoring puts its items into the default
-- folder of their type (or into a folder of that type created again under
-- the same name, when only a \Noselect name was left).
CREATE OR REPLACE FUNCTION floe_folder_delete(p_acct bigint, p_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_f folders%ROWTYPE;
	v_hashes bytea[];
	v_uids bigint[];
	v_modseq bigint;
BEGIN
	SELECT * INTO v_f FROM folders f WHERE f.account_id = p_acct AND f.id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	IF v_f.is_default OR (v_f.parent_id IS NULL AND v_f.name = 'INBOX') THEN
		RAISE EXCEPTION 'the default folder % cannot be deleted', v_f.name
			USING ERRCODE = 'FL003';
	END IF;
	IF EXISTS (SELECT 1 FROM folders c WHERE c.account_id = p_acct AND c.parent_id = p_id)
	   AND v_f.noselect THEN
		RAISE EXCEPTION 'folder has subfolders' USING ERRCODE = 'FL004';
	END IF;
	v_hashes := ARRAY(SELECT DISTINCT i.blob_hash FROM items i
			  WHERE i.account_id = p_acct AND i.folder_id = p_id);
	IF v_f.type <> 'mail' AND NOT v_f.noselect THEN
		v_uids := ARRAY(SELECT i.uid FROM items i
				WHERE i.account_id = p_acct AND i.folder_id = p_id);
		IF cardinality(v_uids) > 0 THEN
			PERFORM floe_gwtrash_take(p_acct, p_id, v_uids);
		END IF;
	END IF;
	IF EXISTS (SELECT 1 FROM folders c WHERE c.account_id = p_acct AND c.parent_id = p_id) THEN
		DELETE FROM items i WHERE i.account_id = p_acct AND i.folder_id = p_id;
		DELETE FROM tombstones t WHERE t.account_id = p_acct AND t.folder_id = p_id;
		UPDATE folders f SET noselect = true, special_use = NULL,
			highestmodseq = f.highestmodseq + 1
		WHERE f.id = p_id RETURNING f.highestmodseq INTO v_modseq;
	ELSE
		DELETE FROM folders f WHERE f.id = p_id;
		v_modseq := v_f.highestmodseq + 1;
	END IF;
	PERFORM floe_content_gc(p_acct, v_hashes);
	PERFORM floe_notify(p_acct, p_id, v_modseq);
END $$;

-- As in 0002_mail.sql, counting the account's GroupWare Trash too.
CREATE OR REPLACE FUNCTION floe_quota_check(p_acct bigint, p_quota bigint, p_added bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_used bigint;
	v_trash bigint;
BEGIN
	IF p_quota > 0 AND p_added > 0 THEN
		SELECT coalesce(sum(f.size), 0) INTO v_used FROM folders f WHERE f.account_id = p_acct;
		SELECT coalesce(sum(t.size), 0) INTO v_trash FROM groupware_trash t
		WHERE t.account_id = p_acct;
		IF v_used + v_trash + p_added > p_quota THEN
			IF v_trash > 0 THEN
				RAISE EXCEPTION 'quota exceeded: % of % bytes used (% of them by deleted groupware items), % more needed',
					v_used + v_trash, p_quota, v_trash, p_added
					USING ERRCODE = 'FL005';
			END IF;
			RAISE EXCEPTION 'quota exceeded: % of % bytes used, % more needed',
				v_used, p_quota, p_added USING ERRCODE = 'FL005';
		END IF;
	END IF;
END $$;

-- Restores trash entries p_ids of the account, newest deletion first:
-- each goes back into its folder (or, when that folder was removed, is a
-- \Noselect name or no longer of the item's type, into the default folder
-- of its type) as a new item with the next IMAP UID and the same content,
-- flags (but \Deleted) and object UID, with a modseq bump and a change
-- notice, exactly as an append. An entry whose object UID the target
-- folder already holds is refused and stays in the trash; so is one with
-- no folder to go to. One row per entry asked for: r_ok, the target
-- folder (id, path, whether it is another than the origin), the new UID
-- and modseq, or r_error. Entries that do not exist (any more) come back
-- as "no such entry". One transaction; the account row is locked first.
CREATE FUNCTION floe_gwtrash_restore(p_acct bigint, p_ids bigint[])
RETURNS TABLE (r_id bigint, r_object_uid text, r_ok boolean, r_folder_id bigint, r_path text,
	       r_moved boolean, r_uid bigint, r_modseq bigint, r_error text)
LANGUAGE plpgsql AS $$
DECLARE
	t groupware_trash%ROWTYPE;
	v_fid bigint;
	v_done bigint[] := '{}';
BEGIN
	PERFORM 1 FROM accounts a WHERE a.id = p_acct FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such account' USING ERRCODE = 'FL001';
	END IF;
	FOR t IN SELECT * FROM groupware_trash x
		 WHERE x.account_id = p_acct AND x.id = ANY (p_ids)
		 ORDER BY x.deleted_at DESC, x.id DESC FOR UPDATE LOOP
		v_done := v_done || t.id;
		r_id := t.id;
		r_object_uid := t.object_uid;
		r_ok := false;
		r_uid := NULL;
		r_modseq := NULL;
		r_error := NULL;
		v_fid := NULL;
		IF t.folder_id IS NOT NULL THEN
			SELECT f.id INTO v_fid FROM folders f
			WHERE f.account_id = p_acct AND f.id = t.folder_id AND NOT f.noselect
			  AND f.type = t.folder_type
			FOR UPDATE;
		END IF;
		r_moved := v_fid IS NULL;
		IF v_fid IS NULL THEN
			SELECT f.id INTO v_fid FROM folders f
			WHERE f.account_id = p_acct AND f.type = t.folder_type AND f.is_default
			  AND NOT f.noselect
			FOR UPDATE;
		END IF;
		r_folder_id := v_fid;
		r_path := CASE WHEN v_fid IS NOT NULL THEN floe_folder_path(p_acct, v_fid) END;
		IF v_fid IS NULL THEN
			r_error := format('folder %s is gone and the account has no default %s folder',
					  t.folder_path, t.folder_type);
			RETURN NEXT;
			CONTINUE;
		END IF;
		IF floe_gwtrash_present(p_acct, v_fid, t.object_uid, NULL, t.kind IS NULL) THEN
			r_error := format('%s already holds an item with UID %s', r_path, t.object_uid);
			RETURN NEXT;
			CONTINUE;
		END IF;
		UPDATE folders f SET uidnext = f.uidnext + 1, highestmodseq = f.highestmodseq + 1
		WHERE f.id = v_fid RETURNING f.uidnext - 1, f.highestmodseq INTO r_uid, r_modseq;
		IF r_uid > 4294967295 THEN
			RAISE EXCEPTION 'the folder % has run out of UIDs', r_path USING ERRCODE = 'FL003';
		END IF;
		INSERT INTO items (account_id, folder_id, uid, modseq, flags, internal_date, size,
				   blob_hash, message_id, email_id, thread_id)
		VALUES (p_acct, v_fid, r_uid, r_modseq,
			ARRAY(SELECT f FROM unnest(t.flags) AS f WHERE lower(f) <> '\deleted'),
			t.internal_date, t.size, t.blob_hash, t.message_id, t.email_id, t.thread_id);
		DELETE FROM groupware_trash x WHERE x.id = t.id;
		PERFORM floe_notify(p_acct, v_fid, r_modseq);
		r_ok := true;
		RETURN NEXT;
	END LOOP;
	RETURN QUERY
	SELECT u.id, NULL::text, false, NULL::bigint, NULL::text, false, NULL::bigint, NULL::bigint,
	       'no such entry in the trash'::text
	FROM unnest(p_ids) AS u(id) WHERE NOT (u.id = ANY (v_done));
END $$;

-- Deletes up to p_limit entries deleted at least p_older ago, of account
-- p_acct or (0) of every account, oldest first, skipping entries another
-- transaction holds (a restore, a concurrent purge), and queues their
-- content for floe_content_gc_run. Returns how many went.
CREATE FUNCTION floe_gwtrash_purge(p_acct bigint, p_older interval, p_limit int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	v_n int;
BEGIN
	WITH d AS (
		DELETE FROM groupware_trash t
		WHERE t.id = ANY (ARRAY(SELECT x.id FROM groupware_trash x
					WHERE (p_acct = 0 OR x.account_id = p_acct)
					  AND x.deleted_at <= now() - p_older
					ORDER BY x.deleted_at LIMIT p_limit
					FOR UPDATE SKIP LOCKED))
		RETURNING t.account_id, t.blob_hash),
	q AS (
		INSERT INTO content_gc (account_id, hash)
		SELECT DISTINCT d.account_id, d.blob_hash FROM d)
	SELECT count(*) INTO v_n FROM d;
	RETURN v_n;
END $$;
