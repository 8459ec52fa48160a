-- Floe schema, version 14: files in file folders. A file is a groupware
-- item like the others (a MIME message in the Kolab form: Subject = its
-- UID, X-Kolab-Type application/x-vnd.kolab.file, the file as the one
-- attachment part; modules/groupware-item.h) with a groupware_index row of
-- kind 'file' (uid, title = the file name). What WebDAV lists without
-- parsing the item is kept beside it in groupware_files, per account and
-- content like the index itself, so copies and moves keep it and it goes
-- with the content.

ALTER TABLE groupware_index DROP CONSTRAINT groupware_index_kind_check;
ALTER TABLE groupware_index ADD CONSTRAINT groupware_index_kind_check
	CHECK (kind IN ('event', 'task', 'note', 'journal', 'contact', 'distlist', 'file'));

CREATE TABLE groupware_files (
	account_id bigint NOT NULL,
	hash       bytea NOT NULL,            -- the item's content (blob) hash
	filename   text NOT NULL CHECK (filename <> '' AND length(filename) <= 255),
	size       bigint NOT NULL CHECK (size >= 0), -- decoded
	media_type text NOT NULL,             -- lower case type/subtype
	sha256     bytea NOT NULL CHECK (length(sha256) = 32), -- of the decoded file
	PRIMARY KEY (account_id, hash),
	FOREIGN KEY (account_id, hash) REFERENCES groupware_index (account_id, hash)
		ON DELETE CASCADE
);

-- floe_groupware_index_put (0010) keeps its work; the file columns come
-- after it, from the same JSON object: filename, size, media_type, sha256
-- (hex). The 0010 function stays under another name.
ALTER FUNCTION floe_groupware_index_put(bigint, bytea, jsonb)
	RENAME TO floe_groupware_index_put_0010;

CREATE FUNCTION floe_groupware_index_put(p_acct bigint, p_hash bytea, p_j jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF p_j ->> 'kind' = 'file' AND (p_j ->> 'filename' IS NULL OR p_j ->> 'size' IS NULL
	   OR p_j ->> 'media_type' IS NULL OR p_j ->> 'sha256' !~ '^[0-9a-f]{64}$') THEN
		RAISE EXCEPTION 'a file needs its name, size, media type and SHA-256'
			USING ERRCODE = 'FL003';
	END IF;
	PERFORM floe_groupware_index_put_0010(p_acct, p_hash, p_j);
	IF p_j ->> 'kind' = 'file' THEN
		INSERT INTO groupware_files (account_id, hash, filename, size, media_type, sha256)
		VALUES (p_acct, p_hash, p_j ->> 'filename', (p_j ->> 'size')::bigint,
			p_j ->> 'media_type', decode(p_j ->> 'sha256', 'hex'))
		ON CONFLICT (account_id, hash) DO NOTHING;
	END IF;
END $$;

-- A copy into another account gives the destination its own index rows
-- (floe_groupware_index_copy, 0010); the file columns come along here.
CREATE FUNCTION floe_groupware_files_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO groupware_files (account_id, hash, filename, size, media_type, sha256)
	SELECT n.account_id, n.hash, f.filename, f.size, f.media_type, f.sha256
	FROM (SELECT * FROM new_index WHERE kind = 'file') n
	CROSS JOIN LATERAL (SELECT * FROM groupware_files x
			    WHERE x.hash = n.hash AND x.account_id <> n.account_id LIMIT 1) f
	ON CONFLICT (account_id, hash) DO NOTHING;
	RETURN NULL;
END $$;
CREATE TRIGGER groupware_index_files_copy AFTER INSERT ON groupware_index
	REFERENCING NEW TABLE AS new_index
	FOR EACH STATEMENT EXECUTE FUNCTION floe_groupware_files_copy();

-- Cross-account copies look the content up by hash.
CREATE INDEX groupware_files_hash ON groupware_files (hash);
