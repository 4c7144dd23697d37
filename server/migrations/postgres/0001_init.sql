-- The server's schema, version 1 (PostgreSQL).
CREATE TABLE server (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    server_id TEXT NOT NULL
);

-- One row per organisation; `last_seq` is its sequence counter. Every write to the
-- organisation's records locks this row (SELECT ... FOR UPDATE) for the whole
-- transaction, so sequences commit in the order they are handed out.
CREATE TABLE orgs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    last_seq BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('counsellor', 'coordinator'))
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    enrolled_at TEXT NOT NULL
);
CREATE INDEX devices_org ON devices (org_id);

-- The server's copy of every record, keyed by organisation. `state` is the canonical
-- JSON text of SYNC-PROTOCOL.md §2 (text, not jsonb, to keep its bytes).
CREATE TABLE records (
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    pushed_by TEXT,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX records_org_seq ON records (org_id, seq);
