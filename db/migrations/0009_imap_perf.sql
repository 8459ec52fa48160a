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
