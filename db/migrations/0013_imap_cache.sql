-- Floe schema, version 13: what the IMAP workers' message cache reads, and
-- one update of the folder row per flag change instead of two.

-- ---------------------------------------------------------------------
-- The per-worker message cache (imapx/msg-cache.c) keeps what never
-- changes for a (folder, UIDVALIDITY, UID): size, INTERNALDATE, the parse
-- results, the header block, the Date: field and the decoded address and
-- subject fields folded as SEARCH compares them (floe_fold); and, for
-- small messages, the bytes (blobs never change for a content id). The
-- parse results of a content are immutable once bodystructure is set
-- (floe_append fills them in only while it is NULL): "cacheable" says so.
--
-- Rows: every message of the folder within [p_lo[k], p_hi[k]] with its
-- uid, modseq and flags (for a session whose view may be behind); the
-- immutable columns only for those also within [p_dlo[k], p_dhi[k]] (the
-- ones the cache misses), and the whole blob of those no larger than
-- p_blob_max bytes (0: none). The header block is given apart when the
-- blob is not. Dates are microseconds since the epoch, exact, so that the
-- worker can both compare them as SEARCH does and round them as FETCH
-- INTERNALDATE does (floe_fetch: extract(epoch ...)::bigint).
CREATE FUNCTION floe_fetch_cache(p_acct bigint, p_fid bigint, p_lo bigint[], p_hi bigint[],
				 p_dlo bigint[], p_dhi bigint[], p_blob_max int)
RETURNS TABLE (uid bigint, modseq bigint, flags text, uidvalidity bigint, want boolean,
	       cacheable boolean, internal_us bigint, size bigint, envelope text,
	       bodystructure text, body text, partmap text, preview text, email_id text,
	       thread_id text, blob_hash text, header_offset int, header bytea, sent_us bigint,
	       f_subject text, f_from text, f_to text, f_cc text, f_bcc text, blob bytea,
	       header_end int)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
	v_uidvalidity bigint;
	v_uids bigint[];
	v_want bigint[];
	v_rows tid[];
BEGIN
	SELECT f.uidvalidity INTO v_uidvalidity FROM folders f
	WHERE f.account_id = p_acct AND f.id = p_fid;
	-- The UIDs first (floe_uids: one index range scan per range), then
	-- each message by its key (see floe_uids below on the plans).
	v_uids := ARRAY(SELECT floe_uids(p_acct, p_fid, p_lo, p_hi));
	v_want := CASE WHEN cardinality(p_dlo) = 0 THEN '{}'::bigint[]
		       ELSE ARRAY(SELECT floe_uids(p_acct, p_fid, p_dlo, p_dhi)) END;
	v_rows := floe_item_rows(p_acct, p_fid, v_uids);
	-- The parse results and the blob are looked up only for the wanted
	-- rows.
	RETURN QUERY
	SELECT i.uid, i.modseq, array_to_string(i.flags, ' '), v_uidvalidity, w.want,
	       w.want AND m.bodystructure IS NOT NULL,
	       (extract(epoch FROM i.internal_date) * 1000000)::bigint, i.size,
	       m.envelope, m.bodystructure, m.body, m.partmap, m.preview,
	       CASE WHEN w.want THEN i.email_id END, CASE WHEN w.want THEN i.thread_id END,
	       CASE WHEN w.want THEN encode(i.blob_hash, 'hex') END,
	       h.hs,
	       CASE WHEN i.size > p_blob_max AND h.he - h.hs BETWEEN 0 AND 65536
		    THEN substring(b.data FROM h.hs + 1 FOR h.he - h.hs) END,
	       (extract(epoch FROM m.sent_date) * 1000000)::bigint,
	       floe_fold(m.subject), floe_fold(m.from_addr), floe_fold(m.to_addr),
	       floe_fold(m.cc_addr), floe_fold(m.bcc_addr),
	       CASE WHEN i.size <= p_blob_max THEN b.data END, h.he
	FROM unnest(v_rows) AS r(t)
	JOIN items i ON i.ctid = r.t
	CROSS JOIN LATERAL (SELECT i.uid = ANY (v_want) AS want) w
	LEFT JOIN LATERAL (SELECT * FROM message_meta mm
			   WHERE w.want AND mm.account_id = i.account_id AND mm.hash = i.blob_hash
			   LIMIT 1) m ON true
	LEFT JOIN LATERAL (SELECT (x.h ->> 0)::int AS hs, (x.h ->> 1)::int AS he
			   FROM (SELECT m.partmap::json #> '{parts,"",h}' AS h) x) h ON true
	LEFT JOIN LATERAL (SELECT bb.data FROM blobs bb WHERE w.want AND bb.hash = i.blob_hash
			   LIMIT 1) b ON true
	ORDER BY i.uid;
END $$;

-- ---------------------------------------------------------------------
-- Finding messages by UID. Joined to the ranges, or with uid = ANY (an
-- array parameter), the generic plans these functions keep read every
-- message of the folder and filtered (200 rows to find one in the bench's
-- mailboxes, 10 000 in a large one): the planner does not see that a
-- range or an array parameter is small. A lateral subquery that cannot be
-- pulled up (OFFSET 0) makes each range, or each UID, one index lookup.
CREATE OR REPLACE FUNCTION floe_uids(p_acct bigint, p_fid bigint, p_lo bigint[], p_hi bigint[])
RETURNS SETOF bigint LANGUAGE plpgsql STABLE ROWS 100
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
	-- Statistics lag behind a bulk append, and a generic plan made then
	-- may look each range up by (account, folder) alone and filter: once
	-- per range. Many ranges are read with one pass over the folder.
	IF cardinality(p_lo) <= 16 THEN
		RETURN QUERY
		SELECT x.uid FROM floe_ranges(p_lo, p_hi) AS r
		CROSS JOIN LATERAL (SELECT i.uid FROM items i
				    WHERE i.account_id = p_acct AND i.folder_id = p_fid
				      AND i.uid BETWEEN r.lo AND r.hi
				    OFFSET 0) x
		ORDER BY x.uid;
	ELSE
		RETURN QUERY
		SELECT i.uid FROM floe_ranges(p_lo, p_hi) AS r
		JOIN items i ON i.account_id = p_acct AND i.folder_id = p_fid
		 AND i.uid BETWEEN r.lo AND r.hi
		ORDER BY i.uid;
	END IF;
END $$;

-- The row ids (ctid, valid within the caller's statement or snapshot) of
-- the folder's messages with the given UIDs: an index lookup each for a
-- few, one pass over the folder for many (see floe_uids on statistics).
CREATE FUNCTION floe_item_rows(p_acct bigint, p_fid bigint, p_uids bigint[]) RETURNS tid[]
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
	IF cardinality(p_uids) <= 64 THEN
		RETURN ARRAY(SELECT x.ctid FROM unnest(p_uids) AS v(uid)
			     CROSS JOIN LATERAL (SELECT i.ctid FROM items i
						 WHERE i.account_id = p_acct
						   AND i.folder_id = p_fid AND i.uid = v.uid
						 OFFSET 0) x);
	END IF;
	RETURN ARRAY(SELECT i.ctid FROM items i
		     WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.uid = ANY (p_uids));
END $$;

-- ---------------------------------------------------------------------
-- floe_flags updated the folder row twice: the items trigger added the
-- changes of the unseen and deleted counters, then floe_flags set the new
-- HIGHESTMODSEQ. It now does both in one update, from the old and new
-- flags of the rows it changed, and tells the trigger (by a setting local
-- to the transaction, reset at once) that the counters of that statement
-- are done. Every other update of items still goes through the trigger.
CREATE OR REPLACE FUNCTION floe_items_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND current_setting('floe.counters_done', true) = 'on' THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'INSERT' THEN
		UPDATE folders f SET messages = f.messages + d.n, unseen = f.unseen + d.unseen,
			deleted = f.deleted + d.deleted, size = f.size + d.size
		FROM (SELECT folder_id, count(*) AS n,
			     count(*) FILTER (WHERE NOT ('\Seen' = ANY (flags))) AS unseen,
			     count(*) FILTER (WHERE '\Deleted' = ANY (flags)) AS deleted,
			     sum(size) AS size
		      FROM new_items GROUP BY folder_id) d
		WHERE f.id = d.folder_id;
	ELSIF TG_OP = 'DELETE' THEN
		UPDATE folders f SET messages = f.messages - d.n, unseen = f.unseen - d.unseen,
			deleted = f.deleted - d.deleted, size = f.size - d.size
		FROM (SELECT folder_id, count(*) AS n,
			     count(*) FILTER (WHERE NOT ('\Seen' = ANY (flags))) AS unseen,
			     count(*) FILTER (WHERE '\Deleted' = ANY (flags)) AS deleted,
			     sum(size) AS size
		      FROM old_items GROUP BY folder_id) d
		WHERE f.id = d.folder_id;
	ELSE
		UPDATE folders f SET messages = f.messages + d.n, unseen = f.unseen + d.unseen,
			deleted = f.deleted + d.deleted, size = f.size + d.size
		FROM (SELECT folder_id, sum(n) AS n, sum(unseen) AS unseen, sum(deleted) AS deleted,
			     sum(size) AS size
		      FROM (SELECT folder_id, -1 AS n,
				   CASE WHEN '\Seen' = ANY (flags) THEN 0 ELSE -1 END AS unseen,
				   CASE WHEN '\Deleted' = ANY (flags) THEN -1 ELSE 0 END AS deleted,
				   -size AS size
			    FROM old_items
			    UNION ALL
			    SELECT folder_id, 1,
				   CASE WHEN '\Seen' = ANY (flags) THEN 0 ELSE 1 END,
				   CASE WHEN '\Deleted' = ANY (flags) THEN 1 ELSE 0 END,
				   size
			    FROM new_items) x
		      GROUP BY folder_id) d
		WHERE f.id = d.folder_id AND (d.n, d.unseen, d.deleted, d.size) <> (0, 0, 0, 0);
	END IF;
	RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION floe_flags(p_acct bigint, p_fid bigint, p_lo bigint[], p_hi bigint[],
				      p_op int, p_flags text[], p_since bigint)
RETURNS TABLE (r_kind int, r_uid bigint, r_modseq bigint, r_flags text)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
	v_flags text[] := floe_flags_norm(p_flags);
	v_modseq bigint;
	v_uids bigint[];
	v_changed bigint[];
	v_texts text[];
	v_unseen bigint;
	v_deleted bigint;
BEGIN
	SELECT f.highestmodseq INTO v_modseq FROM folders f
	WHERE f.account_id = p_acct AND f.id = p_fid FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	-- Two steps, so that no plan can run floe_flags_apply on messages
	-- outside the ranges.
	v_uids := ARRAY(SELECT floe_uids(p_acct, p_fid, p_lo, p_hi));
	-- The folder row is locked: the next modseq is ours to give, and is
	-- only taken if some message changes; every writer of the folder's
	-- items takes that lock first, so the flags o reads are the ones the
	-- update replaces, and give the counters' changes.
	PERFORM set_config('floe.counters_done', 'on', true);
	WITH o AS MATERIALIZED (
		SELECT i.ctid AS t, i.flags FROM unnest(floe_item_rows(p_acct, p_fid, v_uids)) AS r(t)
		JOIN items i ON i.ctid = r.t
		WHERE (p_since = 0 OR i.modseq <= p_since)
		  AND floe_flags_apply(i.flags, p_op, v_flags) IS DISTINCT FROM i.flags),
	u AS (
		UPDATE items i SET flags = floe_flags_apply(i.flags, p_op, v_flags),
			modseq = v_modseq + 1
		FROM o
		WHERE i.ctid = o.t
		RETURNING i.uid, i.flags, o.flags AS old)
	SELECT coalesce(array_agg(u.uid ORDER BY u.uid), '{}'),
	       coalesce(array_agg(array_to_string(u.flags, ' ') ORDER BY u.uid), '{}'),
	       coalesce(sum((NOT '\Seen' = ANY (u.flags))::int - (NOT '\Seen' = ANY (u.old))::int), 0),
	       coalesce(sum(('\Deleted' = ANY (u.flags))::int - ('\Deleted' = ANY (u.old))::int), 0)
	INTO v_changed, v_texts, v_unseen, v_deleted
	FROM u;
	PERFORM set_config('floe.counters_done', 'off', true);
	RETURN QUERY
	SELECT 0, c.uid, v_modseq + 1, c.t FROM unnest(v_changed, v_texts) AS c(uid, t);
	IF p_since > 0 THEN
		RETURN QUERY
		SELECT 1, i.uid, NULL::bigint, NULL::text
		FROM unnest(floe_item_rows(p_acct, p_fid, v_uids)) AS r(t)
		JOIN items i ON i.ctid = r.t
		WHERE i.modseq > p_since AND i.modseq <> v_modseq + 1;
	END IF;
	IF cardinality(v_changed) > 0 THEN
		v_modseq := v_modseq + 1;
		UPDATE folders f SET highestmodseq = v_modseq, unseen = f.unseen + v_unseen,
			deleted = f.deleted + v_deleted
		WHERE f.id = p_fid;
		PERFORM floe_notify(p_acct, p_fid, v_modseq);
	END IF;
	RETURN QUERY SELECT 2, NULL::bigint, v_modseq, NULL::text;
END $$;

-- ---------------------------------------------------------------------
-- What changed in a folder after p_since (store_changes: NOOP and IDLE
-- refreshes, the catch-up of FETCH and SEARCH): kind 1 rows for messages
-- with a higher modseq, kind 2 for UIDs expunged since. Inline in the
-- store's statement, "modseq > $3" made PostgreSQL plan it at almost
-- every call (a custom plan for a recent modseq looks far cheaper than
-- the generic one), about half a millisecond each; in here it has one
-- generic plan, two index range scans.
CREATE FUNCTION floe_changes(p_acct bigint, p_fid bigint, p_since bigint)
RETURNS TABLE (k int, uid bigint, modseq bigint, flags text)
LANGUAGE plpgsql STABLE ROWS 10 SET plan_cache_mode = force_generic_plan AS $$
BEGIN
	RETURN QUERY
	SELECT 1, i.uid, i.modseq, array_to_string(i.flags, ' ') FROM items i
	WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.modseq > p_since
	UNION ALL
	SELECT 2, t.uid, NULL::bigint, NULL::text FROM tombstones t
	WHERE t.account_id = p_acct AND t.folder_id = p_fid AND t.modseq > p_since;
END $$;
