-- Floe schema, version 2: the mail store behind db/store.h. Columns that
-- FETCH, SEARCH and SORT read, folder counters kept by triggers, and the
-- write operations as functions, so that every store write is a single
-- statement: one round trip, one transaction, the folder row locked first.
--
-- Errors raised here carry SQLSTATEs the store maps to its codes:
-- FL001 not found, FL002 exists, FL003 invalid, FL004 not empty,
-- FL005 over quota.

-- What the message parser computed from a message's bytes (ENVELOPE,
-- BODYSTRUCTURE, part map, decoded fields, search text) depends on the
-- bytes alone, so it is kept once per account and content, not per item:
-- copies and moves within the account share it, and flag changes, which
-- rewrite item rows, never touch it or its large text-search indexes. It
-- is per account (unlike blobs) so that every search stays within the
-- account's rows and the table can be distributed by account.
CREATE TABLE message_meta (
	account_id        bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	hash              bytea NOT NULL REFERENCES blobs(hash),
	envelope          text,
	bodystructure     text,
	body              text,
	partmap           text,
	preview           text,
	sent_date         timestamptz,
	subject           text,
	base_subject      text,
	from_addr         text,
	to_addr           text,
	cc_addr           text,
	bcc_addr          text,
	sort_from         text,
	sort_to           text,
	sort_cc           text,
	sort_display_from text,
	sort_display_to   text,
	in_reply_to       text,
	references_hdr    text,
	-- search-only texts, stored case-folded (floe_fold) so that a search
	-- folds only its pattern: the decoded body text, the unfolded header block
	search_text       text,
	headers_text      text,
	has_attachment    boolean NOT NULL DEFAULT false,
	PRIMARY KEY (account_id, hash)
);
-- Blob garbage collection: does any account still have this content?
CREATE INDEX message_meta_hash ON message_meta (hash);

INSERT INTO message_meta (account_id, hash, envelope, bodystructure, body, preview, sent_date,
			  subject, from_addr, to_addr, cc_addr)
SELECT DISTINCT ON (account_id, blob_hash) account_id, blob_hash, envelope, bodystructure, body,
       preview, sent_date, subject, from_addr, to_addr, cc_addr
FROM items ORDER BY account_id, blob_hash;

-- Items keep what is per copy: uid, modseq, flags, dates, ids; every item
-- has its content's message_meta row (which in turn holds the blob).
ALTER TABLE items
	DROP COLUMN envelope,
	DROP COLUMN bodystructure,
	DROP COLUMN body,
	DROP COLUMN preview,
	DROP COLUMN sent_date,
	DROP COLUMN subject,
	DROP COLUMN from_addr,
	DROP COLUMN to_addr,
	DROP COLUMN cc_addr,
	DROP CONSTRAINT items_blob_hash_fkey,
	ADD CONSTRAINT items_meta_fkey FOREIGN KEY (account_id, blob_hash)
		REFERENCES message_meta (account_id, hash);
DROP INDEX items_blob;
CREATE INDEX items_account_blob ON items (account_id, blob_hash);

-- Counters of each folder's items, kept by the statement triggers below so
-- that LIST-STATUS over many large folders reads one row per folder.
-- noselect: a name kept for its children after its folder was deleted
-- (IMAP \Noselect); it holds no items.
ALTER TABLE folders
	ADD COLUMN noselect boolean NOT NULL DEFAULT false,
	ADD COLUMN messages bigint NOT NULL DEFAULT 0,
	ADD COLUMN unseen   bigint NOT NULL DEFAULT 0,
	ADD COLUMN deleted  bigint NOT NULL DEFAULT 0,
	ADD COLUMN size     bigint NOT NULL DEFAULT 0;

ALTER TABLE folders DROP CONSTRAINT folders_special_use_check;
ALTER TABLE folders ADD CONSTRAINT folders_special_use_check
	CHECK (special_use IN ('inbox', 'sent', 'drafts', 'trash', 'junk', 'archive'));

-- Uncompressed out-of-line storage: substring() then reads only the TOAST
-- chunks it needs, so large messages are streamed in slices.
ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;

-- Thread lookup by Message-ID (store_append).
CREATE INDEX items_message_id ON items (account_id, message_id) WHERE message_id IS NOT NULL;

-- System flags are stored with their canonical spelling ("\Seen"), keywords
-- as first given; flags match case-insensitively and are kept without
-- duplicates. These run once per changed row, hence plpgsql loops over the
-- few flags rather than set-returning subqueries.
-- (lower(a::text)::text[] lower-cases every element of a text array.)
CREATE FUNCTION floe_flags_norm(p_flags text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	v_out text[] := '{}';
	v_low text[] := '{}';
	v_f text;
BEGIN
	FOREACH v_f IN ARRAY coalesce(p_flags, '{}') LOOP
		IF NOT (lower(v_f) = ANY (v_low)) THEN
			v_out := v_out || v_f;
			v_low := v_low || lower(v_f);
		END IF;
	END LOOP;
	RETURN v_out;
END $$;

-- p_op: 0 replaces the flags, 1 adds them, 2 removes them; p_flags went
-- through floe_flags_norm. Returns p_cur itself when nothing changes.
CREATE FUNCTION floe_flags_apply(p_cur text[], p_op int, p_flags text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	v_low text[] := lower(p_cur::text)::text[];
	v_given text[] := lower(p_flags::text)::text[];
	v_out text[];
	v_f text;
BEGIN
	IF p_op = 0 THEN
		IF v_low @> v_given AND v_given @> v_low THEN
			RETURN p_cur;
		END IF;
		RETURN p_flags;
	ELSIF p_op = 1 THEN
		IF v_low @> v_given THEN
			RETURN p_cur;
		END IF;
		v_out := p_cur;
		FOREACH v_f IN ARRAY p_flags LOOP
			IF NOT (lower(v_f) = ANY (v_low)) THEN
				v_out := v_out || v_f;
			END IF;
		END LOOP;
		RETURN v_out;
	END IF;
	IF NOT (v_low && v_given) THEN
		RETURN p_cur;
	END IF;
	v_out := '{}';
	FOREACH v_f IN ARRAY p_cur LOOP
		IF NOT (lower(v_f) = ANY (v_given)) THEN
			v_out := v_out || v_f;
		END IF;
	END LOOP;
	RETURN v_out;
END $$;

-- A flag or keyword is present, in any case.
CREATE FUNCTION floe_flags_has(p_flags text[], p_flag text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT lower(p_flag) = ANY (lower(p_flags::text)::text[])
$$;

CREATE FUNCTION floe_items_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

CREATE TRIGGER items_counters_insert AFTER INSERT ON items
	REFERENCING NEW TABLE AS new_items
	FOR EACH STATEMENT EXECUTE FUNCTION floe_items_counters();
CREATE TRIGGER items_counters_update AFTER UPDATE ON items
	REFERENCING OLD TABLE AS old_items NEW TABLE AS new_items
	FOR EACH STATEMENT EXECUTE FUNCTION floe_items_counters();
CREATE TRIGGER items_counters_delete AFTER DELETE ON items
	REFERENCING OLD TABLE AS old_items
	FOR EACH STATEMENT EXECUTE FUNCTION floe_items_counters();

UPDATE folders f SET messages = d.n, unseen = d.unseen, deleted = d.deleted, size = d.size
FROM (SELECT folder_id, count(*) AS n,
	     count(*) FILTER (WHERE NOT ('\Seen' = ANY (flags))) AS unseen,
	     count(*) FILTER (WHERE '\Deleted' = ANY (flags)) AS deleted,
	     sum(size) AS size
      FROM items GROUP BY folder_id) d
WHERE f.id = d.folder_id;

CREATE FUNCTION floe_notify(p_acct bigint, p_folder bigint, p_modseq bigint) RETURNS void
LANGUAGE sql AS $$
	SELECT pg_notify('floe_change', p_acct || ' ' || p_folder || ' ' || p_modseq)
$$;

-- RFC 8474 object ids: a letter and 24 hex digits.
CREATE FUNCTION floe_object_id(p_prefix text) RETURNS text LANGUAGE sql VOLATILE AS $$
	SELECT p_prefix || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24)
$$;

-- The <message-id>s in a Message-ID, In-Reply-To or References value.
CREATE FUNCTION floe_msgids(p_text text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT coalesce(array_agg(m[1]), '{}')
	FROM regexp_matches(coalesce(p_text, ''), '(<[^<>[:space:]]+>)', 'g') AS m
$$;

-- Case folding for text search: full Unicode lower-casing through ICU when
-- the server has it, whatever the database's own locale.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN
		EXECUTE $f$CREATE FUNCTION floe_fold(p_text text) RETURNS text
			LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
			AS 'SELECT lower(p_text COLLATE "und-x-icu")'$f$;
	ELSE
		EXECUTE $f$CREATE FUNCTION floe_fold(p_text text) RETURNS text
			LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
			AS 'SELECT lower(p_text)'$f$;
	END IF;
END $$;

-- Substring search (IMAP SEARCH SUBJECT/FROM/BODY/TEXT/...) is
-- floe_fold(column) LIKE floe_fold('%text%'), or column LIKE ... for the
-- large texts stored folded. GIN trigram indexes (pg_trgm, which Debian
-- ships with the server) answer it without reading every message of a
-- large folder; with btree_gin (shipped alike) each index also leads with
-- account_id, so a search reads only that account's entries. Without
-- pg_trgm the same queries work by scanning the folder.
DO $$
DECLARE
	v_trgm text;
	v_gin text;
	v_column text;
	v_expr text;
BEGIN
	BEGIN
		CREATE EXTENSION IF NOT EXISTS pg_trgm;
	EXCEPTION WHEN OTHERS THEN
		RAISE WARNING 'pg_trgm is not available (%); text search will scan folders', SQLERRM;
	END;
	BEGIN
		CREATE EXTENSION IF NOT EXISTS btree_gin;
	EXCEPTION WHEN OTHERS THEN
		RAISE WARNING 'btree_gin is not available (%)', SQLERRM;
	END;
	SELECT n.nspname INTO v_trgm FROM pg_extension e
		JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
	SELECT n.nspname INTO v_gin FROM pg_extension e
		JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'btree_gin';
	IF v_trgm IS NULL THEN
		RETURN;
	END IF;
	FOREACH v_column IN ARRAY ARRAY['subject', 'from_addr', 'to_addr', 'cc_addr', 'bcc_addr',
					'search_text', 'headers_text'] LOOP
		v_expr := CASE WHEN v_column IN ('search_text', 'headers_text')
			       THEN quote_ident(v_column)
			       ELSE format('floe_fold(%I)', v_column) END;
		EXECUTE format('CREATE INDEX %I ON message_meta USING gin (%s%s %I.gin_trgm_ops)',
			       'message_meta_' || v_column || '_trgm',
			       CASE WHEN v_gin IS NOT NULL THEN 'account_id, ' ELSE '' END,
			       v_expr, v_trgm);
	END LOOP;
END $$;

-- ---------------------------------------------------------------------
-- Folders. Paths are '/'-separated; the first component INBOX is matched
-- case-insensitively, everything else case-sensitively.

CREATE FUNCTION floe_path_parts(p_path text) RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v_parts text[] := string_to_array(p_path, '/');
BEGIN
	IF v_parts IS NULL OR cardinality(v_parts) = 0 OR '' = ANY (v_parts) THEN
		RAISE EXCEPTION 'invalid folder name "%"', p_path USING ERRCODE = 'FL003';
	END IF;
	IF upper(v_parts[1]) = 'INBOX' THEN
		v_parts[1] := 'INBOX';
	END IF;
	RETURN v_parts;
END $$;

-- The folder at p_path, or NULL.
CREATE FUNCTION floe_folder_find(p_acct bigint, p_path text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_parts text[] := string_to_array(p_path, '/');
	v_id bigint := NULL;
	v_name text;
BEGIN
	IF v_parts IS NULL OR cardinality(v_parts) = 0 THEN
		RETURN NULL;
	END IF;
	IF upper(v_parts[1]) = 'INBOX' THEN
		v_parts[1] := 'INBOX';
	END IF;
	FOREACH v_name IN ARRAY v_parts LOOP
		SELECT f.id INTO v_id FROM folders f
		WHERE f.account_id = p_acct AND coalesce(f.parent_id, 0) = coalesce(v_id, 0)
		  AND f.name = v_name;
		IF NOT FOUND THEN
			RETURN NULL;
		END IF;
	END LOOP;
	RETURN v_id;
END $$;

CREATE FUNCTION floe_folder_path(p_acct bigint, p_id bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	v_path text;
	v_name text;
	v_parent bigint;
	v_depth int := 0;
BEGIN
	SELECT f.name, f.parent_id INTO v_path, v_parent FROM folders f
	WHERE f.account_id = p_acct AND f.id = p_id;
	WHILE v_parent IS NOT NULL AND v_depth < 1000 LOOP
		SELECT f.name, f.parent_id INTO v_name, v_parent FROM folders f
		WHERE f.account_id = p_acct AND f.id = v_parent;
		v_path := v_name || '/' || v_path;
		v_depth := v_depth + 1;
	END LOOP;
	RETURN v_path;
END $$;

-- Finds or creates (as plain mail folders) every component of p_parts;
-- returns the last one's id.
CREATE FUNCTION floe_folder_ensure(p_acct bigint, p_parts text[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint := NULL;
	v_next bigint;
	v_name text;
BEGIN
	FOREACH v_name IN ARRAY p_parts LOOP
		SELECT f.id INTO v_next FROM folders f
		WHERE f.account_id = p_acct AND coalesce(f.parent_id, 0) = coalesce(v_id, 0)
		  AND f.name = v_name;
		IF NOT FOUND THEN
			INSERT INTO folders (account_id, parent_id, name) VALUES (p_acct, v_id, v_name)
			RETURNING id INTO v_next;
		END IF;
		v_id := v_next;
	END LOOP;
	RETURN v_id;
END $$;

CREATE FUNCTION floe_folder_create(p_acct bigint, p_path text, p_type text, p_special text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_parts text[] := floe_path_parts(p_path);
	v_n int := cardinality(v_parts);
	v_parent bigint := NULL;
	v_id bigint;
	v_noselect boolean;
	v_modseq bigint;
BEGIN
	PERFORM 1 FROM accounts a WHERE a.id = p_acct;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such account' USING ERRCODE = 'FL001';
	END IF;
	IF v_n > 1 THEN
		v_parent := floe_folder_ensure(p_acct, v_parts[1:v_n - 1]);
	END IF;
	IF p_special IS NOT NULL AND EXISTS (SELECT 1 FROM folders f WHERE f.account_id = p_acct
					     AND f.special_use = p_special) THEN
		RAISE EXCEPTION 'another folder already has the special use %', p_special
			USING ERRCODE = 'FL003';
	END IF;
	SELECT f.id, f.noselect INTO v_id, v_noselect FROM folders f
	WHERE f.account_id = p_acct AND coalesce(f.parent_id, 0) = coalesce(v_parent, 0)
	  AND f.name = v_parts[v_n]
	FOR UPDATE;
	IF FOUND THEN
		IF NOT v_noselect THEN
			RAISE EXCEPTION 'folder % already exists', p_path USING ERRCODE = 'FL002';
		END IF;
		-- The name left behind by deleting a folder that had children
		-- becomes a folder again, with a new UIDVALIDITY.
		UPDATE folders f SET noselect = false, type = p_type, special_use = p_special,
			uidvalidity = nextval('uidvalidity_seq'), uidnext = 1,
			highestmodseq = f.highestmodseq + 1
		WHERE f.id = v_id RETURNING f.highestmodseq INTO v_modseq;
		DELETE FROM tombstones t WHERE t.account_id = p_acct AND t.folder_id = v_id;
	ELSE
		INSERT INTO folders (account_id, parent_id, name, type, special_use)
		VALUES (p_acct, v_parent, v_parts[v_n], p_type, p_special)
		RETURNING id, highestmodseq INTO v_id, v_modseq;
	END IF;
	PERFORM floe_notify(p_acct, v_id, v_modseq);
	RETURN v_id;
END $$;

-- After items of account p_acct with these contents went: deletes the
-- account's parse results no item of it refers to any more, then the blobs
-- no account has. An append of the same bytes running concurrently locks
-- the rows it reuses; once it commits, a delete here fails on the foreign
-- key and the rows rightly stay (so does, this time, the rest of the batch).
CREATE FUNCTION floe_content_gc(p_acct bigint, p_hashes bytea[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF coalesce(cardinality(p_hashes), 0) = 0 THEN
		RETURN;
	END IF;
	BEGIN
		DELETE FROM message_meta m WHERE m.account_id = p_acct AND m.hash = ANY (p_hashes)
		  AND NOT EXISTS (SELECT 1 FROM items i
				  WHERE i.account_id = p_acct AND i.blob_hash = m.hash);
		DELETE FROM blobs b WHERE b.hash = ANY (p_hashes)
		  AND NOT EXISTS (SELECT 1 FROM message_meta m WHERE m.hash = b.hash);
	EXCEPTION WHEN foreign_key_violation THEN
		NULL;
	END;
END $$;

-- Deletes a folder and its items. A folder with children keeps its name as
-- \Noselect (RFC 3501 6.3.4); a \Noselect name with children cannot go.
CREATE FUNCTION floe_folder_delete(p_acct bigint, p_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_f folders%ROWTYPE;
	v_hashes bytea[];
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
	v_hashes := ARRAY(SELECT DISTINCT i.blob_hash FROM items i
			  WHERE i.account_id = p_acct AND i.folder_id = p_id);
	IF EXISTS (SELECT 1 FROM folders c WHERE c.account_id = p_acct AND c.parent_id = p_id) THEN
		IF v_f.noselect THEN
			RAISE EXCEPTION 'folder has subfolders' USING ERRCODE = 'FL004';
		END IF;
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

-- ---------------------------------------------------------------------
-- Messages. Every write locks the folder row first (writers of one folder
-- serialize there), bumps HIGHESTMODSEQ once and gives that modseq to every
-- item it changes, and ends with the change notice (delivered on commit).
-- Writes that add bytes lock the account row before any folder row, so the
-- quota check is exact and the lock order is always account, folders by id.

-- Statistics lag behind bulk loads (autovacuum analyzes a minute or more
-- later), and a plan made while items looked empty can loop over a large
-- folder once per message. The writes that add rows say when items or
-- message_meta changed much since their last ANALYZE; the store then runs
-- floe_analyze() on its own, outside the write.
CREATE FUNCTION floe_stats_stale() RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT coalesce(bool_or(pg_stat_get_mod_since_analyze(c.oid)
				> 500 + 0.2 * greatest(c.reltuples, 0)), false)
	FROM pg_class c WHERE c.oid IN ('items'::regclass, 'message_meta'::regclass)
$$;

CREATE FUNCTION floe_analyze() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	-- One at a time: the others have nothing to add.
	IF pg_try_advisory_xact_lock(5074766543727849338) THEN
		ANALYZE items;
		ANALYZE message_meta;
	END IF;
END $$;

-- The UIDs of a folder's messages in the ranges [p_lo[k], p_hi[k]]
-- (sorted, not overlapping), in order. Joining items to the ranges would
-- leave the plan to statistics, which lag behind bulk appends (a nested
-- loop over every message for every range costs seconds), and a cached
-- generic plan cannot see the ranges either; so each call plans with the
-- actual values (EXECUTE): ranges covering up to 100000 UIDs become one
-- "uid = ANY (list)" index scan, larger ones an index range scan each.
CREATE FUNCTION floe_uids(p_acct bigint, p_fid bigint, p_lo bigint[], p_hi bigint[])
RETURNS SETOF bigint LANGUAGE plpgsql STABLE ROWS 100 AS $$
DECLARE
	v_n int := coalesce(cardinality(p_lo), 0);
	v_span bigint := 0;
BEGIN
	FOR k IN 1..v_n LOOP
		v_span := v_span + (p_hi[k] - p_lo[k] + 1);
	END LOOP;
	IF v_span <= 100000 THEN
		RETURN QUERY EXECUTE
			'SELECT i.uid FROM items i WHERE i.account_id = $1 AND i.folder_id = $2'
			' AND i.uid = ANY ($3) ORDER BY i.uid'
		USING p_acct, p_fid,
		      ARRAY(SELECT generate_series(p_lo[k], p_hi[k]) FROM generate_series(1, v_n) AS k);
		RETURN;
	END IF;
	FOR k IN 1..v_n LOOP
		RETURN QUERY EXECUTE
			'SELECT i.uid FROM items i WHERE i.account_id = $1 AND i.folder_id = $2'
			' AND i.uid BETWEEN $3 AND $4 ORDER BY i.uid'
		USING p_acct, p_fid, p_lo[k], p_hi[k];
	END LOOP;
END $$;

CREATE FUNCTION floe_quota_check(p_acct bigint, p_quota bigint, p_added bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_used bigint;
BEGIN
	IF p_quota > 0 AND p_added > 0 THEN
		SELECT coalesce(sum(f.size), 0) INTO v_used FROM folders f WHERE f.account_id = p_acct;
		IF v_used + p_added > p_quota THEN
			RAISE EXCEPTION 'quota exceeded: % of % bytes used, % more needed',
				v_used, p_quota, p_added USING ERRCODE = 'FL005';
		END IF;
	END IF;
END $$;

-- p_datas: the raw messages in base64; p_meta: a JSON array with one object
-- per message: flags, internal_date, and meta (the parse results, named as
-- in struct store_msg_meta) unless the message was not parsed. Returns the
-- UIDVALIDITY, each new UID and the modseq, and floe_stats_stale().
CREATE FUNCTION floe_append(p_acct bigint, p_fid bigint, p_datas text[], p_meta jsonb)
RETURNS TABLE (r_uidvalidity bigint, r_uid bigint, r_modseq bigint, r_analyze boolean)
LANGUAGE plpgsql AS $$
DECLARE
	v_n int := coalesce(cardinality(p_datas), 0);
	v_bins bytea[];
	v_hashes bytea[];
	v_quota bigint;
	v_added bigint;
	v_uidvalidity bigint;
	v_first bigint;
	v_modseq bigint;
	v_m jsonb;
	v_refs text[];
	v_mid text;
	v_tid text;
	v_mids text[] := '{}';
	v_tids text[] := '{}';
BEGIN
	IF v_n = 0 OR v_n <> jsonb_array_length(p_meta) THEN
		RAISE EXCEPTION 'nothing to append' USING ERRCODE = 'FL003';
	END IF;
	SELECT a.quota_bytes INTO v_quota FROM accounts a WHERE a.id = p_acct FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such account' USING ERRCODE = 'FL001';
	END IF;
	UPDATE folders f SET uidnext = f.uidnext + v_n, highestmodseq = f.highestmodseq + 1
	WHERE f.account_id = p_acct AND f.id = p_fid AND NOT f.noselect
	RETURNING f.uidvalidity, f.uidnext - v_n, f.highestmodseq
	INTO v_uidvalidity, v_first, v_modseq;
	IF NOT FOUND THEN
		IF EXISTS (SELECT 1 FROM folders f WHERE f.account_id = p_acct AND f.id = p_fid) THEN
			RAISE EXCEPTION 'folder cannot hold messages' USING ERRCODE = 'FL003';
		END IF;
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	IF v_first + v_n - 1 > 4294967295 THEN
		RAISE EXCEPTION 'the folder has run out of UIDs' USING ERRCODE = 'FL003';
	END IF;

	v_bins := ARRAY(SELECT decode(u.d, 'base64') FROM unnest(p_datas) WITH ORDINALITY AS u(d, k)
			ORDER BY u.k);
	v_hashes := ARRAY(SELECT sha256(u.b) FROM unnest(v_bins) WITH ORDINALITY AS u(b, k)
			  ORDER BY u.k);
	SELECT coalesce(sum(length(b)), 0) INTO v_added FROM unnest(v_bins) AS b;
	PERFORM floe_quota_check(p_acct, v_quota, v_added);

	-- DO UPDATE (which changes nothing) rather than DO NOTHING: it locks an
	-- existing blob, so that floe_content_gc cannot remove it under us.
	INSERT INTO blobs (hash, size, data)
	SELECT DISTINCT ON (u.h) u.h, length(u.b), u.b FROM unnest(v_hashes, v_bins) AS u(h, b)
	ORDER BY u.h
	ON CONFLICT (hash) DO UPDATE SET size = blobs.size WHERE false;

	-- Threads (RFC 8474 THREADID): a message joins the thread of a message
	-- it replies to or refers to (in this batch or already stored), or of
	-- a stored copy of itself; else it starts one.
	FOR i IN 1..v_n LOOP
		v_m := coalesce(p_meta -> (i - 1) -> 'meta', '{}'::jsonb);
		v_mid := coalesce((floe_msgids(v_m ->> 'message_id'))[1],
				  nullif(btrim(v_m ->> 'message_id'), ''));
		v_refs := floe_msgids(v_m ->> 'in_reply_to') || floe_msgids(v_m ->> 'references');
		IF v_mid IS NOT NULL THEN
			v_refs := array_append(v_refs, v_mid);
		END IF;
		v_tid := NULL;
		FOR k IN 1..i - 1 LOOP
			IF v_mids[k] = ANY (v_refs) THEN
				v_tid := v_tids[k];
				EXIT;
			END IF;
		END LOOP;
		IF v_tid IS NULL AND cardinality(v_refs) > 0 THEN
			SELECT t.thread_id INTO v_tid FROM items t
			WHERE t.account_id = p_acct AND t.message_id = ANY (v_refs)
			  AND t.thread_id IS NOT NULL
			LIMIT 1;
		END IF;
		v_mids := array_append(v_mids, v_mid);
		v_tids := array_append(v_tids, coalesce(v_tid, floe_object_id('T')));
	END LOOP;

	-- The account's parse results of each content: kept if present (and
	-- locked, as above), filled in if an earlier append of the same bytes
	-- came without them ("meta" absent: all NULL).
	INSERT INTO message_meta AS mm (account_id, hash, envelope, bodystructure, body, partmap,
				       preview, sent_date, subject, base_subject, from_addr, to_addr,
				       cc_addr, bcc_addr, sort_from, sort_to, sort_cc,
				       sort_display_from, sort_display_to, in_reply_to,
				       references_hdr, search_text, headers_text, has_attachment)
	SELECT DISTINCT ON (v_hashes[e.k]) p_acct, v_hashes[e.k], m ->> 'envelope',
	       m ->> 'bodystructure', m ->> 'body', m ->> 'partmap', m ->> 'preview',
	       to_timestamp((m ->> 'sent_date')::double precision),
	       m ->> 'subject', m ->> 'base_subject', m ->> 'from_addr', m ->> 'to_addr',
	       m ->> 'cc_addr', m ->> 'bcc_addr', m ->> 'sort_from', m ->> 'sort_to',
	       m ->> 'sort_cc', m ->> 'sort_display_from', m ->> 'sort_display_to',
	       m ->> 'in_reply_to', m ->> 'references', floe_fold(m ->> 'search_text'),
	       floe_fold(m ->> 'headers_text'), coalesce((m ->> 'has_attachment')::boolean, false)
	FROM jsonb_array_elements(p_meta) WITH ORDINALITY AS e(j, k),
	     jsonb_extract_path(e.j, 'meta') AS m
	ORDER BY v_hashes[e.k], (m ->> 'bodystructure') IS NULL, e.k
	ON CONFLICT (account_id, hash) DO UPDATE
	SET envelope = EXCLUDED.envelope, bodystructure = EXCLUDED.bodystructure,
	    body = EXCLUDED.body, partmap = EXCLUDED.partmap, preview = EXCLUDED.preview,
	    sent_date = EXCLUDED.sent_date, subject = EXCLUDED.subject,
	    base_subject = EXCLUDED.base_subject, from_addr = EXCLUDED.from_addr,
	    to_addr = EXCLUDED.to_addr, cc_addr = EXCLUDED.cc_addr, bcc_addr = EXCLUDED.bcc_addr,
	    sort_from = EXCLUDED.sort_from, sort_to = EXCLUDED.sort_to,
	    sort_cc = EXCLUDED.sort_cc, sort_display_from = EXCLUDED.sort_display_from,
	    sort_display_to = EXCLUDED.sort_display_to, in_reply_to = EXCLUDED.in_reply_to,
	    references_hdr = EXCLUDED.references_hdr, search_text = EXCLUDED.search_text,
	    headers_text = EXCLUDED.headers_text, has_attachment = EXCLUDED.has_attachment
	WHERE mm.bodystructure IS NULL AND EXCLUDED.bodystructure IS NOT NULL;

	RETURN QUERY
	WITH ins AS (
		INSERT INTO items (account_id, folder_id, uid, modseq, flags, internal_date, size,
				   blob_hash, message_id, email_id, thread_id)
		SELECT p_acct, p_fid, v_first + e.k - 1, v_modseq,
		       floe_flags_norm(ARRAY(SELECT jsonb_array_elements_text(e.j -> 'flags'))),
		       coalesce(to_timestamp((e.j ->> 'internal_date')::double precision), now()),
		       length(v_bins[e.k]), v_hashes[e.k], v_mids[e.k], floe_object_id('M'),
		       v_tids[e.k]
		FROM jsonb_array_elements(p_meta) WITH ORDINALITY AS e(j, k)
		RETURNING items.uid)
	SELECT v_uidvalidity, ins.uid, v_modseq, floe_stats_stale() FROM ins ORDER BY ins.uid;
	PERFORM floe_notify(p_acct, p_fid, v_modseq);
END $$;

-- Changes flags of the messages in the UID ranges [p_lo[k], p_hi[k]].
-- p_since > 0 is UNCHANGEDSINCE. Returns kind 0 rows (changed: uid, new
-- modseq, flags separated by blanks), kind 1 rows (not changed because
-- modified since: uid) and one kind 2 row (the folder's HIGHESTMODSEQ).
CREATE FUNCTION floe_flags(p_acct bigint, p_fid bigint, p_lo bigint[], p_hi bigint[], p_op int,
			   p_flags text[], p_since bigint)
RETURNS TABLE (r_kind int, r_uid bigint, r_modseq bigint, r_flags text)
LANGUAGE plpgsql AS $$
DECLARE
	v_flags text[] := floe_flags_norm(p_flags);
	v_modseq bigint;
	v_count bigint;
	v_uids bigint[];
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
	-- only taken if some message changes.
	RETURN QUERY
	WITH u AS (
		UPDATE items i SET flags = floe_flags_apply(i.flags, p_op, v_flags),
			modseq = v_modseq + 1
		WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.uid = ANY (v_uids)
		  AND (p_since = 0 OR i.modseq <= p_since)
		  AND floe_flags_apply(i.flags, p_op, v_flags) IS DISTINCT FROM i.flags
		RETURNING i.uid, i.flags)
	SELECT 0, u.uid, v_modseq + 1, array_to_string(u.flags, ' ') FROM u ORDER BY u.uid;
	GET DIAGNOSTICS v_count = ROW_COUNT;
	IF p_since > 0 THEN
		RETURN QUERY
		SELECT 1, i.uid, NULL::bigint, NULL::text FROM items i
		WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.uid = ANY (v_uids)
		  AND i.modseq > p_since AND i.modseq <> v_modseq + 1;
	END IF;
	IF v_count > 0 THEN
		v_modseq := v_modseq + 1;
		UPDATE folders f SET highestmodseq = v_modseq WHERE f.id = p_fid;
		PERFORM floe_notify(p_acct, p_fid, v_modseq);
	END IF;
	RETURN QUERY SELECT 2, NULL::bigint, v_modseq, NULL::text;
END $$;

-- Removes the messages flagged \Deleted (within the ranges unless p_lo is
-- NULL), leaving tombstones. Returns kind 1 rows (expunged uid) and one
-- kind 0 row (HIGHESTMODSEQ in r_v).
CREATE FUNCTION floe_expunge(p_acct bigint, p_fid bigint, p_lo bigint[], p_hi bigint[])
RETURNS TABLE (r_kind int, r_v bigint) LANGUAGE plpgsql AS $$
DECLARE
	v_modseq bigint;
	v_uids bigint[];
	v_hashes bytea[];
BEGIN
	SELECT f.highestmodseq INTO v_modseq FROM folders f
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
		PERFORM floe_content_gc(p_acct, v_hashes);
		PERFORM floe_notify(p_acct, p_fid, v_modseq);
	END IF;
	RETURN QUERY SELECT 0, v_modseq;
	RETURN QUERY SELECT 1, u FROM unnest(v_uids) AS u;
END $$;

-- Copies (p_move: moves) the messages in the ranges of p_src to p_dst of
-- account p_dacct, sharing their blobs and keeping flags, internal dates,
-- EMAILID and THREADID. Returns one kind 0 row (r_a: the destination's
-- UIDVALIDITY, r_b: the source's HIGHESTMODSEQ, r_analyze:
-- floe_stats_stale()) and kind 1 rows (r_a: source uid, r_b: its copy's
-- uid), in source uid order.
CREATE FUNCTION floe_copy(p_acct bigint, p_src bigint, p_lo bigint[], p_hi bigint[],
			  p_dacct bigint, p_dst bigint, p_move boolean)
RETURNS TABLE (r_kind int, r_a bigint, r_b bigint, r_analyze boolean) LANGUAGE plpgsql AS $$
DECLARE
	v_quota bigint;
	v_uids bigint[];
	v_n int;
	v_added bigint;
	v_src_modseq bigint;
	v_dst_uidvalidity bigint;
	v_dst_noselect boolean;
	v_first bigint;
	v_dst_modseq bigint;
	v_hashes bytea[];
	v_row record;
BEGIN
	IF p_move AND p_acct = p_dacct AND p_src = p_dst THEN
		RAISE EXCEPTION 'cannot move messages into their own folder' USING ERRCODE = 'FL003';
	END IF;
	SELECT a.quota_bytes INTO v_quota FROM accounts a WHERE a.id = p_dacct FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such account' USING ERRCODE = 'FL001';
	END IF;
	-- Both folders, locked in id order: copies in opposite directions
	-- cannot deadlock.
	FOR v_row IN SELECT f.id FROM folders f
		     WHERE (f.account_id = p_acct AND f.id = p_src)
			OR (f.account_id = p_dacct AND f.id = p_dst)
		     ORDER BY f.id FOR UPDATE LOOP
		NULL;
	END LOOP;
	SELECT f.highestmodseq INTO v_src_modseq FROM folders f
	WHERE f.account_id = p_acct AND f.id = p_src;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	SELECT f.uidvalidity, f.noselect INTO v_dst_uidvalidity, v_dst_noselect FROM folders f
	WHERE f.account_id = p_dacct AND f.id = p_dst;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such destination folder' USING ERRCODE = 'FL001';
	END IF;
	IF v_dst_noselect THEN
		RAISE EXCEPTION 'the destination folder cannot hold messages' USING ERRCODE = 'FL003';
	END IF;

	v_uids := ARRAY(SELECT floe_uids(p_acct, p_src, p_lo, p_hi));
	SELECT coalesce(sum(i.size), 0) INTO v_added FROM items i
	WHERE i.account_id = p_acct AND i.folder_id = p_src AND i.uid = ANY (v_uids);
	v_n := coalesce(cardinality(v_uids), 0);
	IF v_n = 0 THEN
		RETURN QUERY SELECT 0, v_dst_uidvalidity, v_src_modseq, false;
		RETURN;
	END IF;
	IF NOT (p_move AND p_acct = p_dacct) THEN
		PERFORM floe_quota_check(p_dacct, v_quota, v_added);
	END IF;

	UPDATE folders f SET uidnext = f.uidnext + v_n, highestmodseq = f.highestmodseq + 1
	WHERE f.id = p_dst RETURNING f.uidnext - v_n, f.highestmodseq INTO v_first, v_dst_modseq;
	IF v_first + v_n - 1 > 4294967295 THEN
		RAISE EXCEPTION 'the destination folder has run out of UIDs' USING ERRCODE = 'FL003';
	END IF;
	IF p_dacct <> p_acct THEN
		-- The destination account gets its own parse results (locked
		-- when it has them already, see floe_append).
		INSERT INTO message_meta AS mm (account_id, hash, envelope, bodystructure, body,
					       partmap, preview, sent_date, subject, base_subject,
					       from_addr, to_addr, cc_addr, bcc_addr, sort_from,
					       sort_to, sort_cc, sort_display_from, sort_display_to,
					       in_reply_to, references_hdr, search_text, headers_text,
					       has_attachment)
		SELECT p_dacct, m.hash, m.envelope, m.bodystructure, m.body, m.partmap, m.preview,
		       m.sent_date, m.subject, m.base_subject, m.from_addr, m.to_addr, m.cc_addr,
		       m.bcc_addr, m.sort_from, m.sort_to, m.sort_cc, m.sort_display_from,
		       m.sort_display_to, m.in_reply_to, m.references_hdr, m.search_text,
		       m.headers_text, m.has_attachment
		FROM message_meta m
		WHERE m.account_id = p_acct AND m.hash IN (SELECT i.blob_hash FROM items i
							   WHERE i.account_id = p_acct
							     AND i.folder_id = p_src
							     AND i.uid = ANY (v_uids))
		ON CONFLICT (account_id, hash) DO UPDATE SET has_attachment = mm.has_attachment
		WHERE false;
	END IF;
	INSERT INTO items (account_id, folder_id, uid, modseq, flags, internal_date, size, blob_hash,
			   message_id, email_id, thread_id)
	SELECT p_dacct, p_dst, v_first + u.k - 1, v_dst_modseq, i.flags, i.internal_date, i.size,
	       i.blob_hash, i.message_id, i.email_id, i.thread_id
	FROM unnest(v_uids) WITH ORDINALITY AS u(uid, k)
	JOIN items i ON i.account_id = p_acct AND i.folder_id = p_src AND i.uid = u.uid;

	IF p_move THEN
		UPDATE folders f SET highestmodseq = f.highestmodseq + 1 WHERE f.id = p_src
		RETURNING f.highestmodseq INTO v_src_modseq;
		WITH d AS (
			DELETE FROM items i
			WHERE i.account_id = p_acct AND i.folder_id = p_src AND i.uid = ANY (v_uids)
			RETURNING i.blob_hash)
		SELECT array_agg(DISTINCT d.blob_hash) INTO v_hashes FROM d;
		INSERT INTO tombstones (account_id, folder_id, uid, modseq)
		SELECT p_acct, p_src, u, v_src_modseq FROM unnest(v_uids) AS u
		ON CONFLICT (account_id, folder_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq;
		IF p_dacct <> p_acct THEN
			PERFORM floe_content_gc(p_acct, v_hashes);
		END IF;
		PERFORM floe_notify(p_acct, p_src, v_src_modseq);
	ELSIF p_acct = p_dacct AND p_src = p_dst THEN
		v_src_modseq := v_dst_modseq;
	END IF;
	PERFORM floe_notify(p_dacct, p_dst, v_dst_modseq);
	RETURN QUERY SELECT 0, v_dst_uidvalidity, v_src_modseq, floe_stats_stale();
	RETURN QUERY SELECT 1, u.uid, v_first + u.k - 1, false
		     FROM unnest(v_uids) WITH ORDINALITY AS u(uid, k)
		     ORDER BY u.k;
END $$;

-- Renames (moves) a folder and its subtree, creating missing parents.
-- Renaming INBOX moves its messages to a new folder instead and leaves
-- INBOX, and its children, in place (RFC 3501 6.3.5).
CREATE FUNCTION floe_folder_rename(p_acct bigint, p_id bigint, p_new text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_parts text[] := floe_path_parts(p_new);
	v_n int := cardinality(v_parts);
	v_f folders%ROWTYPE;
	v_parent bigint := NULL;
	v_new bigint;
BEGIN
	-- Renaming INBOX copies messages, which locks the account row: take it
	-- first, in the order every writer uses.
	PERFORM 1 FROM accounts a WHERE a.id = p_acct FOR NO KEY UPDATE;
	SELECT * INTO v_f FROM folders f WHERE f.account_id = p_acct AND f.id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	IF floe_folder_find(p_acct, p_new) IS NOT NULL THEN
		RAISE EXCEPTION 'folder % already exists', p_new USING ERRCODE = 'FL002';
	END IF;
	IF v_f.parent_id IS NULL AND v_f.name = 'INBOX' THEN
		v_new := floe_folder_create(p_acct, p_new, 'mail', NULL);
		PERFORM floe_copy(p_acct, p_id, ARRAY[1]::bigint[], ARRAY[4294967295]::bigint[],
				  p_acct, v_new, true);
		RETURN;
	END IF;
	IF v_n > 1 THEN
		v_parent := floe_folder_ensure(p_acct, v_parts[1:v_n - 1]);
		IF EXISTS (WITH RECURSIVE up AS (
				SELECT f.id, f.parent_id FROM folders f WHERE f.id = v_parent
				UNION ALL
				SELECT f.id, f.parent_id FROM folders f JOIN up ON f.id = up.parent_id)
			   SELECT 1 FROM up WHERE up.id = p_id) THEN
			RAISE EXCEPTION 'a folder cannot be moved into itself' USING ERRCODE = 'FL003';
		END IF;
	END IF;
	UPDATE folders f SET parent_id = v_parent, name = v_parts[v_n] WHERE f.id = p_id;
	PERFORM floe_notify(p_acct, p_id, v_f.highestmodseq);
END $$;

-- Statements over UID lists planned generically (plpgsql caches plans)
-- cannot see how many UIDs there are; these writes plan with the values.
ALTER FUNCTION floe_flags(bigint, bigint, bigint[], bigint[], int, text[], bigint)
	SET plan_cache_mode = force_custom_plan;
ALTER FUNCTION floe_expunge(bigint, bigint, bigint[], bigint[])
	SET plan_cache_mode = force_custom_plan;
ALTER FUNCTION floe_copy(bigint, bigint, bigint[], bigint[], bigint, bigint, boolean)
	SET plan_cache_mode = force_custom_plan;
