-- The server's schema, version 1 (SQLite).
CREATE TABLE server (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    server_id TEXT NOT NULL
);

-- One row per organisation; `last_seq` is its sequence counter, advanced only inside
-- the write transaction that stores the changed records.
CREATE TABLE orgs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    last_seq INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('counsellor', 'coordinator'))
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    revoked INTEGER NOT NULL DEFAULT 0,
    enrolled_at TEXT NOT NULL
);
CREATE INDEX devices_org ON devices (org_id);

-- The server's copy of every record, keyed by organisation: the same id in two
-- organisations is two records. `state` is the canonical JSON of SYNC-PROTOCOL.md §2;
-- `pushed_by` names the device whose push is exactly this state, if any.
CREATE TABLE records (
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    pushed_by TEXT,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX records_org_seq ON records (org_id, seq);
