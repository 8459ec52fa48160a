-- The outgoing queue (modules/queue.h, db/store-queue.h): messages for
-- remote recipients with per-recipient state, plus the per-account state of
-- SMTP submission (rate-limit window, "save submitted mail to Sent").
--
-- The queue is server-wide, not per-account data: bounces and forwards
-- have no submitting account, and the runners claim whatever is due. With
-- Citus the two queue tables stay local (coordinator) tables.

-- The message bytes are kept in a bytea column of their own rather than in
-- the content-addressed blobs table: queued mail is transient, is deleted
-- soon after its last recipient is done, and would otherwise need its own
-- reference counting against blob garbage collection.
CREATE TABLE queue_messages (
	id          bigserial PRIMARY KEY,
	-- the submitting account; NULL for bounces, forwards, responder replies
	account_id  bigint REFERENCES accounts(id) ON DELETE SET NULL,
	mail_from   text NOT NULL,        -- envelope sender; '' for the null sender <>
	data        bytea NOT NULL,
	size        bigint NOT NULL CHECK (size >= 0),
	envelope_id text,                 -- RFC 3461 ENVID, when given
	created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_messages_account ON queue_messages (account_id) WHERE account_id IS NOT NULL;

CREATE TABLE queue_recipients (
	message_id  bigint NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
	recipient   text NOT NULL CHECK (recipient <> ''),
	domain      text NOT NULL,        -- lower-cased, for grouping by destination
	-- queued: never tried; deferred: temporary failure, next_try_at says
	-- when again; delivering: leased by a runner until lease_until;
	-- delivered; bouncing: failed for good, a runner holds the lease while
	-- it hands the DSN over; bounce_pending: failed, the DSN could not be
	-- handed over yet, next_try_at says when again; bounced: failed and
	-- the DSN has gone out; failed: failed for good without a DSN (the
	-- null sender gets none, or the DSN itself failed for good)
	state       text NOT NULL DEFAULT 'queued'
	            CHECK (state IN ('queued', 'deferred', 'delivering', 'delivered', 'bouncing',
	                             'bounce_pending', 'bounced', 'failed')),
	attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_try_at timestamptz NOT NULL DEFAULT now(),
	last_error  text,                 -- the remote SMTP reply (or local reason)
	remote      text,                 -- the server that gave it, for the DSN
	lease_until timestamptz,
	leased_by   text,                 -- "host:pid" of the runner holding the lease
	failed_at   timestamptz,          -- when it failed for good
	bounce_attempts integer NOT NULL DEFAULT 0 CHECK (bounce_attempts >= 0),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (message_id, recipient)
);
-- "What is due now": waiting recipients by next try, leases by expiry.
CREATE INDEX queue_recipients_due ON queue_recipients (next_try_at)
	WHERE state IN ('queued', 'deferred', 'bounce_pending');
CREATE INDEX queue_recipients_lease ON queue_recipients (lease_until)
	WHERE state IN ('delivering', 'bouncing');
-- Finished messages are purged after [queue] keep_done.
CREATE INDEX queue_recipients_open ON queue_recipients (message_id)
	WHERE state IN ('queued', 'deferred', 'delivering', 'bouncing', 'bounce_pending');

-- Submission rate limit: messages accepted per account within the current
-- one-hour window, shared by every worker and node. UNLOGGED like
-- auth_failures: a window lost in a crash only starts a fresh one.
CREATE UNLOGGED TABLE smtp_rate (
	account_id   bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	window_start timestamptz NOT NULL,
	count        integer NOT NULL CHECK (count >= 0)
);

-- Per-account submission settings. No row: the defaults (Outlook saves
-- its own copy to Sent, so SMTP submission does not by default).
CREATE TABLE smtp_settings (
	account_id   bigint PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	save_to_sent boolean NOT NULL DEFAULT false
);
