-- Floe schema, version 1: domains, accounts, addresses, credentials,
-- folders, items, blobs, tombstones, ACL entries and subscriptions.
-- Every table holding per-account data carries account_id, and every query
-- on it filters by it, so the schema can later be distributed by account.

CREATE TABLE domains (
	id          bigserial PRIMARY KEY,
	name        text NOT NULL UNIQUE CHECK (name = lower(name) AND name <> ''),
	-- users of this domain may log in with the local part alone
	local_login boolean NOT NULL DEFAULT false,
	created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
	id           bigserial PRIMARY KEY,
	domain_id    bigint NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	local_part   text NOT NULL CHECK (local_part = lower(local_part) AND local_part <> ''),
	kind         text NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'group', 'resource')),
	display_name text NOT NULL DEFAULT '',
	enabled      boolean NOT NULL DEFAULT true,
	quota_bytes  bigint NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0), -- 0: unlimited
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	UNIQUE (domain_id, local_part)
);

-- Further addresses of an account.
CREATE TABLE aliases (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	domain_id  bigint NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	local_part text NOT NULL CHECK (local_part = lower(local_part) AND local_part <> ''),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain_id, local_part)
);
CREATE INDEX aliases_account ON aliases (account_id);

-- An address names one account or one alias, never both.
CREATE FUNCTION floe_address_unique() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'aliases' THEN
		IF EXISTS (SELECT 1 FROM accounts WHERE domain_id = NEW.domain_id
			   AND local_part = NEW.local_part) THEN
			RAISE EXCEPTION 'address already belongs to an account' USING ERRCODE = 'unique_violation';
		END IF;
	ELSE
		IF EXISTS (SELECT 1 FROM aliases WHERE domain_id = NEW.domain_id
			   AND local_part = NEW.local_part) THEN
			RAISE EXCEPTION 'address already used as an alias' USING ERRCODE = 'unique_violation';
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER accounts_address_unique BEFORE INSERT OR UPDATE OF domain_id, local_part ON accounts
	FOR EACH ROW EXECUTE FUNCTION floe_address_unique();
CREATE TRIGGER aliases_address_unique BEFORE INSERT OR UPDATE OF domain_id, local_part ON aliases
	FOR EACH ROW EXECUTE FUNCTION floe_address_unique();

-- Members of group accounts (kind = 'group'); account_id is the group.
CREATE TABLE group_members (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	member_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	PRIMARY KEY (account_id, member_id),
	CHECK (account_id <> member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

-- Secrets: Argon2id strings as produced by libsodium's crypto_pwhash_str.
CREATE TABLE credentials (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	kind       text NOT NULL DEFAULT 'password' CHECK (kind IN ('password', 'app')),
	secret     text NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, kind)
);

-- UIDVALIDITY values come from one sequence so that a folder deleted and
-- created again never gets the value it had: never 0, never reused.
CREATE SEQUENCE uidvalidity_seq MINVALUE 1 MAXVALUE 4294967295 CYCLE;
SELECT setval('uidvalidity_seq', greatest(1, (extract(epoch FROM now())::bigint % 4000000000)));

CREATE TABLE folders (
	id            bigserial PRIMARY KEY,
	account_id    bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	parent_id     bigint REFERENCES folders(id) ON DELETE CASCADE,
	name          text NOT NULL CHECK (name <> '' AND position('/' IN name) = 0),
	type          text NOT NULL DEFAULT 'mail'
	              CHECK (type IN ('mail', 'event', 'contact', 'task', 'note', 'journal', 'file')),
	-- mail subtypes and IMAP SPECIAL-USE: inbox, sent, drafts, trash, junk
	special_use   text CHECK (special_use IN ('inbox', 'sent', 'drafts', 'trash', 'junk')),
	-- the default folder of its type for this account (one per type)
	is_default    boolean NOT NULL DEFAULT false,
	uidvalidity   bigint NOT NULL DEFAULT nextval('uidvalidity_seq') CHECK (uidvalidity > 0),
	uidnext       bigint NOT NULL DEFAULT 1 CHECK (uidnext > 0),
	highestmodseq bigint NOT NULL DEFAULT 1 CHECK (highestmodseq > 0),
	created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX folders_name ON folders (account_id, coalesce(parent_id, 0), name);
CREATE UNIQUE INDEX folders_default ON folders (account_id, type) WHERE is_default;
CREATE UNIQUE INDEX folders_special ON folders (account_id, special_use) WHERE special_use IS NOT NULL;
CREATE INDEX folders_parent ON folders (account_id, parent_id);

-- Content-addressed message and attachment bytes, shared by every item
-- that has the same content (one LMTP delivery to many recipients is
-- stored once). Keyed by SHA-256; not per account by design.
CREATE TABLE blobs (
	hash       bytea PRIMARY KEY CHECK (length(hash) = 32),
	size       bigint NOT NULL CHECK (size >= 0),
	data       bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE items (
	account_id    bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	folder_id     bigint NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
	uid           bigint NOT NULL CHECK (uid > 0),
	modseq        bigint NOT NULL CHECK (modseq > 0),
	flags         text[] NOT NULL DEFAULT '{}',
	internal_date timestamptz NOT NULL DEFAULT now(),
	size          bigint NOT NULL CHECK (size >= 0),
	blob_hash     bytea NOT NULL REFERENCES blobs(hash),
	-- computed once at delivery, served without re-parsing
	envelope      text,
	bodystructure text,
	body          text,
	preview       text,
	sent_date     timestamptz,
	subject       text,
	from_addr     text,
	to_addr       text,
	cc_addr       text,
	message_id    text,
	email_id      text,
	thread_id     text,
	created_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, folder_id, uid)
);
CREATE INDEX items_modseq ON items (account_id, folder_id, modseq);
CREATE INDEX items_blob ON items (blob_hash);

-- What was expunged, so that "what changed since modseq N" is one indexed
-- query for IMAP QRESYNC, IceWarp's changedsince feed and EAS Sync.
CREATE TABLE tombstones (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	folder_id  bigint NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
	uid        bigint NOT NULL,
	modseq     bigint NOT NULL,
	PRIMARY KEY (account_id, folder_id, uid)
);
CREATE INDEX tombstones_modseq ON tombstones (account_id, folder_id, modseq);

-- Access rights granted on a folder (or, with folder_id NULL, on the whole
-- account) to a user, a group, or anyone. Rights are RFC 4314 letters.
CREATE TABLE acl (
	account_id   bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	folder_id    bigint REFERENCES folders(id) ON DELETE CASCADE,
	grantee_kind text NOT NULL CHECK (grantee_kind IN ('user', 'group', 'anyone')),
	grantee_id   bigint REFERENCES accounts(id) ON DELETE CASCADE,
	rights       text NOT NULL CHECK (rights ~ '^[lrswipkxteacd]*$'),
	CHECK ((grantee_kind = 'anyone') = (grantee_id IS NULL))
);
CREATE UNIQUE INDEX acl_entry ON acl (account_id, coalesce(folder_id, 0), grantee_kind, coalesce(grantee_id, 0));
CREATE INDEX acl_grantee ON acl (grantee_id) WHERE grantee_id IS NOT NULL;

-- IMAP subscriptions are names, which may name folders that do not exist.
CREATE TABLE subscriptions (
	account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       text NOT NULL,
	PRIMARY KEY (account_id, name)
);

-- The folders every new user starts with: one default folder per type.
CREATE FUNCTION floe_create_default_folders(acct bigint) RETURNS void LANGUAGE sql AS $$
	INSERT INTO folders (account_id, name, type, special_use, is_default) VALUES
		(acct, 'INBOX',    'mail',    'inbox',  true),
		(acct, 'Sent',     'mail',    'sent',   false),
		(acct, 'Drafts',   'mail',    'drafts', false),
		(acct, 'Trash',    'mail',    'trash',  false),
		(acct, 'Spam',     'mail',    'junk',   false),
		(acct, 'Calendar', 'event',   NULL,     true),
		(acct, 'Contacts', 'contact', NULL,     true),
		(acct, 'Tasks',    'task',    NULL,     true),
		(acct, 'Notes',    'note',    NULL,     true),
		(acct, 'Journal',  'journal', NULL,     true),
		(acct, 'Files',    'file',    NULL,     true);
	INSERT INTO subscriptions (account_id, name)
		SELECT acct, name FROM folders WHERE account_id = acct AND parent_id IS NULL;
$$;
