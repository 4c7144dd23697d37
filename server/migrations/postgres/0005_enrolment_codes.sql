-- One-time enrolment codes (SYNC-PROTOCOL.md §6, §7 `device invite`): only a hash of
-- each code is kept. A code serves one enrolment of its user, until it expires; the
-- enrolment marks it used in its own transaction. Times in seconds since 1970, UTC.
CREATE TABLE enrolment_codes (
    code_hash BYTEA PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX enrolment_codes_by_expiry ON enrolment_codes (expires_at);

-- Failed enrolments, counted per username and per client address (§6), shared by every
-- server process on this database: one token bucket per key. A key is a keyed hash
-- (HMAC under the database's journal key) of the username or of the address, never the
-- name or the address itself. `full_at` is when the bucket is full again: past it the
-- row says nothing and is pruned. Not carried by backups: a restore forgets them.
CREATE TABLE enrolment_failures (
    key BYTEA PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    at DOUBLE PRECISION NOT NULL, -- seconds since 1970, UTC, when `tokens` was counted
    full_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX enrolment_failures_by_full_at ON enrolment_failures (full_at);
