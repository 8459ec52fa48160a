-- Floe schema, version 9: cheaper reads for IMAP, same results.
--
-- The store runs its statements as prepared statements (db/db.c), which
-- PostgreSQL plans once (a generic plan) when that plan is estimated no
-- worse than planning each call with the actual values. A UID set comes as
-- two arrays of range bounds; unnest() of a parameter is estimated at 100
-- ranges but of a constant at its real length, so the generic plan always
-- looked worse and every FETCH was planned again (several milliseconds,
-- more than running it). floe_ranges is estimated alike in both cases (a
-- plpgsql function is never inlined), so the plan is made once.

-- The (sorted, disjoint) UID ranges given as two arrays, one row each.
CREATE FUNCTION floe_ranges(p_lo bigint[], p_hi bigint[])
RETURNS TABLE (lo bigint, hi bigint)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE ROWS 4 AS $$
BEGIN
	RETURN QUERY SELECT * FROM unnest(p_lo, p_hi);
END $$;

-- The UIDs of folder p_fid within the ranges, ascending (as before): one
-- index range scan per range, with a plan plpgsql keeps, instead of a
-- statement built and planned at every call (0002_mail.sql).
CREATE OR REPLACE FUNCTION floe_uids(p_acct bigint, p_fid bigint, p_lo bigint[], p_hi bigint[])
RETURNS SETOF bigint LANGUAGE plpgsql STABLE ROWS 100 AS $$
BEGIN
	RETURN QUERY
	SELECT i.uid FROM floe_ranges(p_lo, p_hi) AS r
	JOIN items i ON i.account_id = p_acct AND i.folder_id = p_fid
	 AND i.uid BETWEEN r.lo AND r.hi
	ORDER BY i.uid;
END $$;

-- FETCH metadata (db/store-message.c, store_fetch without CHANGEDSINCE):
-- the items of folder p_fid in the UID ranges, ascending, with the
-- columns p_fields asks for (STORE_FETCH_* of db/store.h: 8 envelope, 16
-- bodystructure and body, 32 part map, 64 preview, 256 the top-level
-- header block's offset and bytes, read from the blob here when its part
-- map puts it at most 64 KiB long) and NULL for the others. One plan for
-- every call: the estimates of a given folder say little (a folder's
-- items are found through the primary key's ranges either way), and
-- planning each call cost more than running it.
CREATE FUNCTION floe_fetch(p_acct bigint, p_fid bigint, p_lo bigint[], p_hi bigint[],
                           p_fields int)
RETURNS TABLE (uid bigint, modseq bigint, flags text, internal_date bigint, size bigint,
               envelope text, bodystructure text, body text, partmap text, preview text,
               email_id text, thread_id text, blob_hash text, header_offset int,
               header bytea)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
	RETURN QUERY
	SELECT i.uid, i.modseq, array_to_string(i.flags, ' '),
	       extract(epoch FROM i.internal_date)::bigint, i.size,
	       CASE WHEN p_fields & 8 <> 0 THEN m.envelope END,
	       CASE WHEN p_fields & 16 <> 0 THEN m.bodystructure END,
	       CASE WHEN p_fields & 16 <> 0 THEN m.body END,
	       CASE WHEN p_fields & 32 <> 0 THEN m.partmap END,
	       CASE WHEN p_fields & 64 <> 0 THEN m.preview END,
	       i.email_id, i.thread_id, encode(i.blob_hash, 'hex'),
	       h.hs, substring(b.data FROM h.hs + 1 FOR h.he - h.hs)
	FROM floe_ranges(p_lo, p_hi) AS r
	JOIN items i ON i.account_id = p_acct AND i.folder_id = p_fid
	 AND i.uid BETWEEN r.lo AND r.hi
	LEFT JOIN message_meta m ON m.account_id = i.account_id AND m.hash = i.blob_hash
	LEFT JOIN LATERAL (SELECT (x.h ->> 0)::int AS hs, (x.h ->> 1)::int AS he
	                   FROM (SELECT m.partmap::json #> '{parts,"",h}' AS h) x
	                   WHERE p_fields & 256 <> 0) h ON true
	LEFT JOIN blobs b ON b.hash = i.blob_hash AND h.he - h.hs BETWEEN 0 AND 65536
	ORDER BY i.uid;
END $$;

-- The same for FETCH ... (CHANGEDSINCE p_since), the CONDSTORE "anything
-- changed?" poll: driven by the (account, folder, modseq) index, so that a
-- poll of a large folder without changes reads nothing, and planned once.
CREATE FUNCTION floe_fetch_changed(p_acct bigint, p_fid bigint, p_lo bigint[], p_hi bigint[],
                                   p_fields int, p_since bigint)
RETURNS TABLE (uid bigint, modseq bigint, flags text, internal_date bigint, size bigint,
               envelope text, bodystructure text, body text, partmap text, preview text,
               email_id text, thread_id text, blob_hash text, header_offset int,
               header bytea)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
	RETURN QUERY
	SELECT i.uid, i.modseq, array_to_string(i.flags, ' '),
	       extract(epoch FROM i.internal_date)::bigint, i.size,
	       CASE WHEN p_fields & 8 <> 0 THEN m.envelope END,
	       CASE WHEN p_fields & 16 <> 0 THEN m.bodystructure END,
	       CASE WHEN p_fields & 16 <> 0 THEN m.body END,
	       CASE WHEN p_fields & 32 <> 0 THEN m.partmap END,
	       CASE WHEN p_fields & 64 <> 0 THEN m.preview END,
	       i.email_id, i.thread_id, encode(i.blob_hash, 'hex'),
	       h.hs, substring(b.data FROM h.hs + 1 FOR h.he - h.hs)
	FROM items i
	LEFT JOIN message_meta m ON m.account_id = i.account_id AND m.hash = i.blob_hash
	LEFT JOIN LATERAL (SELECT (x.h ->> 0)::int AS hs, (x.h ->> 1)::int AS he
	                   FROM (SELECT m.partmap::json #> '{parts,"",h}' AS h) x
	                   WHERE p_fields & 256 <> 0) h ON true
	LEFT JOIN blobs b ON b.hash = i.blob_hash AND h.he - h.hs BETWEEN 0 AND 65536
	WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.modseq > p_since
	  AND EXISTS (SELECT 1 FROM unnest(p_lo, p_hi) AS r(lo, hi)
	              WHERE i.uid BETWEEN r.lo AND r.hi)
	ORDER BY i.uid;
END $$;

-- ---------------------------------------------------------------------
-- Expunge without the content clean-up. floe_expunge deleted the
-- account's parse results (message_meta, with seven trigram indexes) and
-- the blob of each expunged content inside the expunge itself, about half
-- of its time; and a content expunged and then appended again (a client
-- moving a message by copy and expunge, a draft saved again) had to be
-- parsed into all those indexes anew. Now the expunge only queues the
-- (account, content) pairs; floe_content_gc_run deletes, later and in its
-- own transaction, what no item refers to any more.
CREATE TABLE content_gc (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	hash       bytea NOT NULL,
	queued_at  timestamptz NOT NULL DEFAULT now()
);

-- Deletes the parse results and blobs of up to p_limit queued contents
-- queued at least p_min_age ago, when no item (and, for a blob, no
-- account's parse results) refers to them any more; returns how many
-- queue entries it took. Safe against an append of the same bytes running
-- at the same time: the append locks the blob and then the message_meta
-- row it reuses (floe_append), and this locks them in the same order, so
-- it waits for the append and then sees its item, or (had it deleted
-- first) fails on the foreign key; each content is handled in its own
-- subtransaction, so such a failure keeps only that content, rightly.
-- Entries a failed run took stay queued (its transaction rolls back). Two
-- runs at once would only wait on each other: the second returns 0.
CREATE FUNCTION floe_content_gc_run(p_limit int, p_min_age interval) RETURNS int
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
					  WHERE i.account_id = r.account_id AND i.blob_hash = r.hash);
			DELETE FROM blobs b WHERE b.hash = r.hash
			  AND NOT EXISTS (SELECT 1 FROM message_meta m WHERE m.hash = r.hash);
		EXCEPTION WHEN foreign_key_violation OR deadlock_detected THEN
			NULL;
		END;
	END LOOP;
	RETURN v_taken;
END $$;

-- As in 0002_mail.sql, but the content clean-up of mail is queued (see
-- above). Groupware folders (few, small items, whose groupware_index rows
-- go with their message_meta) still clean up at once.
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
		WITH d AS (
			DELETE FROM items i
			WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.uid = ANY (v_uids)
			RETURNING i.blob_hash)
		SELECT array_agg(DISTINCT d.blob_hash) INTO v_hashes FROM d;
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

-- Statistics: 0002_mail.sql asked for an ANALYZE once items or
-- message_meta had 500 + 20 % changes since the last one. Flag changes and
-- the churn of appends and expunges count as changes too, so a busy server
-- analyzed both tables every few seconds (message_meta's large texts make
-- that ANALYZE cost most of a second) without any plan getting better.
-- What the store guards against is growth the statistics do not know of
-- (a bulk load into a table analyzed while empty): ask when a table holds
-- 500 + 20 % more live rows than its statistics say; autovacuum keeps up
-- with the rest.
-- (floe_stats_stale is redefined so below, in plpgsql.)

-- No statistics for the large texts: no plan looks at their values, and
-- reading them made each ANALYZE of message_meta slow.
ALTER TABLE message_meta
	ALTER COLUMN envelope SET STATISTICS 0,
	ALTER COLUMN bodystructure SET STATISTICS 0,
	ALTER COLUMN body SET STATISTICS 0,
	ALTER COLUMN partmap SET STATISTICS 0,
	ALTER COLUMN preview SET STATISTICS 0,
	ALTER COLUMN search_text SET STATISTICS 0,
	ALTER COLUMN headers_text SET STATISTICS 0;

-- ---------------------------------------------------------------------
-- Planning. plpgsql keeps the plans of a function's statements, but plans
-- them again at each call while a plan made for the actual values looks
-- cheaper than the generic one, and a LANGUAGE sql function that cannot be
-- inlined is planned again at every call. Every write ran a dozen such
-- plannings (a fifth of floe_flags' time). The write functions' statements
-- find their rows through primary keys whatever the values: one generic
-- plan each. The notice, the statistics check and the Message-ID parser
-- become plpgsql, whose plans are kept.
ALTER FUNCTION floe_uids(bigint, bigint, bigint[], bigint[])
	SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION floe_flags(bigint, bigint, bigint[], bigint[], int, text[], bigint)
	SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION floe_expunge(bigint, bigint, bigint[], bigint[])
	SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION floe_append(bigint, bigint, text[], jsonb)
	SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION floe_copy(bigint, bigint, bigint[], bigint[], bigint, bigint, boolean)
	SET plan_cache_mode = force_generic_plan;

CREATE OR REPLACE FUNCTION floe_notify(p_acct bigint, p_folder bigint, p_modseq bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('floe_change', p_acct || ' ' || p_folder || ' ' || p_modseq);
END $$;

CREATE OR REPLACE FUNCTION floe_msgids(p_text text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
	RETURN ARRAY(SELECT m[1] FROM regexp_matches(coalesce(p_text, ''), '(<[^<>[:space:]]+>)', 'g')
		     AS m);
END $$;

CREATE OR REPLACE FUNCTION floe_stats_stale() RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN coalesce((SELECT bool_or(pg_stat_get_live_tuples(c.oid)
					> 500 + 1.2 * greatest(c.reltuples, 0))
			 FROM pg_class c
			 WHERE c.oid IN ('items'::regclass, 'message_meta'::regclass)), false);
END $$;
