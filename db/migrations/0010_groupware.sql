-- Floe schema, version 10: the groupware index. A groupware item (event,
-- task, note, journal entry, contact, distribution list) is an ordinary
-- item of a typed folder (a MIME message in the Kolab form, see
-- modules/groupware-item.h); what filters, GAL-like search and free/busy
-- read is computed once from the object and kept here.
--
-- The index depends on the item's bytes alone, so, like message_meta, it
-- is kept once per account and content and reached from items through
-- (account_id, blob_hash): copies and moves keep it without a write, a
-- flag change never touches it, and it goes with its content when the
-- last item holding those bytes is expunged (ON DELETE CASCADE from
-- message_meta, which floe_content_gc deletes).

CREATE TABLE groupware_index (
	account_id   bigint NOT NULL,
	hash         bytea NOT NULL,
	kind         text NOT NULL
	             CHECK (kind IN ('event', 'task', 'note', 'journal', 'contact', 'distlist')),
	uid          text NOT NULL,           -- the object's UID
	title        text,                    -- SUMMARY, or FN of a card
	location     text,
	-- first occurrence (a task without DTSTART: its due instant); UTC
	starts_at    timestamptz,
	ends_at      timestamptz,
	-- end of the last occurrence, overrides included; NULL when endless
	range_end    timestamptz,
	all_day      boolean NOT NULL DEFAULT false,
	-- dates and floating times, stored as if UTC: the viewer's zone decides
	floating     boolean NOT NULL DEFAULT false,
	recurring    boolean NOT NULL DEFAULT false,
	rrule        text,
	status       text,
	percent      smallint,
	priority     smallint,
	due_at       timestamptz,
	completed_at timestamptz,
	class        text,
	private      boolean NOT NULL DEFAULT false,
	categories   text[] NOT NULL DEFAULT '{}',
	organizer    text,
	attendees    jsonb NOT NULL DEFAULT '[]', -- [{address, name, partstat, role}]
	given_name   text,
	family_name  text,
	org          text,
	emails       text[] NOT NULL DEFAULT '{}',
	phones       text[] NOT NULL DEFAULT '{}',
	members      text[] NOT NULL DEFAULT '{}', -- distribution list member URIs
	bday_year    smallint,                    -- NULL when the card gives none
	bday_month   smallint,
	bday_day     smallint,
	PRIMARY KEY (account_id, hash),
	FOREIGN KEY (account_id, hash) REFERENCES message_meta (account_id, hash) ON DELETE CASCADE
);
-- Time-range queries: what starts before the window's end and ends after
-- its start (endless items count as ending at infinity).
CREATE INDEX groupware_index_range ON groupware_index
	(account_id, (coalesce(range_end, 'infinity'::timestamptz)), starts_at)
	WHERE starts_at IS NOT NULL;
CREATE INDEX groupware_index_start ON groupware_index (account_id, starts_at)
	WHERE starts_at IS NOT NULL;
CREATE INDEX groupware_index_uid ON groupware_index (account_id, uid);
-- Cross-account copies (floe_copy) look the content up by hash.
CREATE INDEX groupware_index_hash ON groupware_index (hash);

-- Search keys of contacts for GAL-like prefix search: the folded name, each
-- word of it, given and family name, organization and every address, in
-- the C collation so that a prefix is a plain index range.
CREATE TABLE groupware_keys (
	account_id bigint NOT NULL,
	hash       bytea NOT NULL,
	key        text COLLATE "C" NOT NULL,
	PRIMARY KEY (account_id, key, hash),
	FOREIGN KEY (account_id, hash) REFERENCES groupware_index (account_id, hash)
		ON DELETE CASCADE
);
CREATE INDEX groupware_keys_hash ON groupware_keys (account_id, hash);

-- Writes the index of the item with content p_hash from one JSON object
-- (the fields of struct store_gw_index, times as Unix seconds); an index
-- already there for this content is kept (it came from the same bytes).
CREATE FUNCTION floe_groupware_index_put(p_acct bigint, p_hash bytea, p_j jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_keys text[];
BEGIN
	INSERT INTO groupware_index AS g (account_id, hash, kind, uid, title, location, starts_at,
				       ends_at, range_end, all_day, floating, recurring, rrule,
				       status, percent, priority, due_at, completed_at, class,
				       private, categories, organizer, attendees, given_name,
				       family_name, org, emails, phones, members, bday_year,
				       bday_month, bday_day)
	VALUES (p_acct, p_hash, p_j ->> 'kind', p_j ->> 'uid', p_j ->> 'title', p_j ->> 'location',
		to_timestamp((p_j ->> 'start')::double precision),
		to_timestamp((p_j ->> 'end')::double precision),
		to_timestamp((p_j ->> 'range_end')::double precision),
		coalesce((p_j ->> 'all_day')::boolean, false),
		coalesce((p_j ->> 'floating')::boolean, false),
		coalesce((p_j ->> 'recurring')::boolean, false),
		p_j ->> 'rrule', p_j ->> 'status', (p_j ->> 'percent')::smallint,
		(p_j ->> 'priority')::smallint,
		to_timestamp((p_j ->> 'due')::double precision),
		to_timestamp((p_j ->> 'completed')::double precision),
		p_j ->> 'class', coalesce((p_j ->> 'private')::boolean, false),
		ARRAY(SELECT jsonb_array_elements_text(coalesce(p_j -> 'categories', '[]'))),
		p_j ->> 'organizer', coalesce(p_j -> 'attendees', '[]'),
		p_j ->> 'given_name', p_j ->> 'family_name', p_j ->> 'org',
		ARRAY(SELECT jsonb_array_elements_text(coalesce(p_j -> 'emails', '[]'))),
		ARRAY(SELECT jsonb_array_elements_text(coalesce(p_j -> 'phones', '[]'))),
		ARRAY(SELECT jsonb_array_elements_text(coalesce(p_j -> 'members', '[]'))),
		(p_j ->> 'bday_year')::smallint, (p_j ->> 'bday_month')::smallint,
		(p_j ->> 'bday_day')::smallint)
	ON CONFLICT (account_id, hash) DO NOTHING;
	IF NOT FOUND OR (p_j ->> 'kind') NOT IN ('contact', 'distlist') THEN
		RETURN;
	END IF;
	v_keys := ARRAY[p_j ->> 'title', p_j ->> 'given_name', p_j ->> 'family_name', p_j ->> 'org']
		  || ARRAY(SELECT jsonb_array_elements_text(coalesce(p_j -> 'emails', '[]')))
		  || regexp_split_to_array(coalesce(p_j ->> 'title', ''), '[[:space:],;]+');
	INSERT INTO groupware_keys (account_id, hash, key)
	SELECT DISTINCT p_acct, p_hash, left(floe_fold(btrim(k)), 200)
	FROM unnest(v_keys) AS k
	WHERE k IS NOT NULL AND btrim(k) <> ''
	ON CONFLICT DO NOTHING;
END $$;

-- Appends groupware items and writes their index, in one transaction:
-- floe_append (0002_mail.sql) with p_datas and p_meta as there, and p_index
-- a JSON array with one index object per item. Each item's kind must be
-- what the folder holds (a distribution list goes into a contact folder).
-- Returns what floe_append returns.
CREATE FUNCTION floe_groupware_append(p_acct bigint, p_fid bigint, p_datas text[], p_meta jsonb,
				      p_index jsonb)
RETURNS TABLE (r_uidvalidity bigint, r_uid bigint, r_modseq bigint, r_analyze boolean)
LANGUAGE plpgsql AS $$
DECLARE
	v_type text;
	v_kind text;
	v_uids bigint[] := '{}';
	v_row record;
	v_hash bytea;
BEGIN
	SELECT f.type INTO v_type FROM folders f WHERE f.account_id = p_acct AND f.id = p_fid;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no such folder' USING ERRCODE = 'FL001';
	END IF;
	IF jsonb_typeof(p_index) IS DISTINCT FROM 'array'
	   OR jsonb_array_length(p_index) <> coalesce(cardinality(p_datas), 0) THEN
		RAISE EXCEPTION 'one index per item is needed' USING ERRCODE = 'FL003';
	END IF;
	FOR v_kind IN SELECT e ->> 'kind' FROM jsonb_array_elements(p_index) AS e LOOP
		IF v_kind IS NULL OR
		   (CASE v_kind WHEN 'distlist' THEN 'contact' ELSE v_kind END) <> v_type THEN
			RAISE EXCEPTION 'a % cannot be stored in a folder of type %',
				coalesce(v_kind, 'item without kind'), v_type USING ERRCODE = 'FL003';
		END IF;
	END LOOP;
	FOR v_row IN SELECT * FROM floe_append(p_acct, p_fid, p_datas, p_meta) LOOP
		r_uidvalidity := v_row.r_uidvalidity;
		r_uid := v_row.r_uid;
		r_modseq := v_row.r_modseq;
		r_analyze := v_row.r_analyze;
		v_uids := v_uids || v_row.r_uid;
		RETURN NEXT;
	END LOOP;
	FOR k IN 1..cardinality(v_uids) LOOP
		SELECT i.blob_hash INTO v_hash FROM items i
		WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.uid = v_uids[k];
		PERFORM floe_groupware_index_put(p_acct, v_hash, p_index -> (k - 1));
	END LOOP;
END $$;

-- Replaces item p_old of the folder by a new version in one transaction:
-- the append above, then p_old leaves with a tombstone carrying the same
-- modseq (one change, one notice). p_since > 0 is UNCHANGEDSINCE: when
-- p_old's modseq is higher, nothing is written (FL006). FL001 when p_old
-- is gone.
CREATE FUNCTION floe_groupware_replace(p_acct bigint, p_fid bigint, p_old bigint, p_since bigint,
				       p_datas text[], p_meta jsonb, p_index jsonb)
RETURNS TABLE (r_uidvalidity bigint, r_uid bigint, r_modseq bigint, r_analyze boolean)
LANGUAGE plpgsql AS $$
DECLARE
	v_row record;
	v_old_modseq bigint;
	v_modseq bigint;
	v_hash bytea;
BEGIN
	IF coalesce(cardinality(p_datas), 0) <> 1 THEN
		RAISE EXCEPTION 'a replacement is one item' USING ERRCODE = 'FL003';
	END IF;
	-- The append locks the account and the folder first (the order every
	-- writer uses); the old item cannot change after that.
	FOR v_row IN SELECT * FROM floe_groupware_append(p_acct, p_fid, p_datas, p_meta, p_index) LOOP
		r_uidvalidity := v_row.r_uidvalidity;
		r_uid := v_row.r_uid;
		r_modseq := v_row.r_modseq;
		r_analyze := v_row.r_analyze;
		v_modseq := v_row.r_modseq;
		RETURN NEXT;
	END LOOP;
	SELECT i.modseq INTO v_old_modseq FROM items i
	WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.uid = p_old;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'item % to replace does not exist', p_old USING ERRCODE = 'FL001';
	END IF;
	IF p_since > 0 AND v_old_modseq > p_since THEN
		RAISE EXCEPTION 'item % changed since modseq % (now %)', p_old, p_since, v_old_modseq
			USING ERRCODE = 'FL006';
	END IF;
	DELETE FROM items i WHERE i.account_id = p_acct AND i.folder_id = p_fid AND i.uid = p_old
	RETURNING i.blob_hash INTO v_hash;
	INSERT INTO tombstones (account_id, folder_id, uid, modseq)
	VALUES (p_acct, p_fid, p_old, v_modseq)
	ON CONFLICT (account_id, folder_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq;
	PERFORM floe_content_gc(p_acct, ARRAY[v_hash]);
END $$;

-- A copy into another account (floe_copy) gives the destination its own
-- message_meta rows; the index of that content comes along here.
CREATE FUNCTION floe_groupware_index_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO groupware_index (account_id, hash, kind, uid, title, location, starts_at,
				     ends_at, range_end, all_day, floating, recurring, rrule, status,
				     percent, priority, due_at, completed_at, class, private,
				     categories, organizer, attendees, given_name, family_name, org,
				     emails, phones, members, bday_year, bday_month, bday_day)
	SELECT n.account_id, g.hash, g.kind, g.uid, g.title, g.location, g.starts_at, g.ends_at,
	       g.range_end, g.all_day, g.floating, g.recurring, g.rrule, g.status, g.percent,
	       g.priority, g.due_at, g.completed_at, g.class, g.private, g.categories,
	       g.organizer, g.attendees, g.given_name, g.family_name, g.org, g.emails, g.phones,
	       g.members, g.bday_year, g.bday_month, g.bday_day
	FROM new_meta n
	CROSS JOIN LATERAL (SELECT * FROM groupware_index x
			    WHERE x.hash = n.hash AND x.account_id <> n.account_id LIMIT 1) g
	ON CONFLICT (account_id, hash) DO NOTHING;
	INSERT INTO groupware_keys (account_id, hash, key)
	SELECT n.account_id, n.hash, k.key
	FROM new_meta n
	CROSS JOIN LATERAL (SELECT x.account_id FROM groupware_index x
			    WHERE x.hash = n.hash AND x.account_id <> n.account_id LIMIT 1) src
	JOIN groupware_keys k ON k.account_id = src.account_id AND k.hash = n.hash
	ON CONFLICT DO NOTHING;
	RETURN NULL;
END $$;
CREATE TRIGGER message_meta_groupware_copy AFTER INSERT ON message_meta
	REFERENCING NEW TABLE AS new_meta
	FOR EACH STATEMENT EXECUTE FUNCTION floe_groupware_index_copy();
