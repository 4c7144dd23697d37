-- The audit trail (SYNC-PROTOCOL.md §7 `audit`): who enrolled, invited, revoked,
-- disabled, pushed, erased, restored and settled a recovery, and when. Append-only: the
-- triggers below refuse every UPDATE, DELETE and replacing INSERT, so no statement of
-- the server rewrites it, nor a mistaken one typed at the sqlite3 prompt (whoever can
-- drop a trigger can still rewrite it: the journal and backups are the other copies);
-- backups carry it and a restore brings it back.
--
-- No personal data: users by their row id, devices by their replica id, records by
-- `record`, the hex HMAC-SHA256 of the record's id under the organisation's
-- `audit_key` (never the id itself), `vv` the record's version vector (replica ids and
-- counters), `detail` a small JSON object of non-personal facts (a push's status, an
-- invite's expiry, ...). Never a username, a field's value or a raw record id.
ALTER TABLE orgs ADD COLUMN audit_key BLOB; -- 32 random bytes, filled by the server

CREATE TABLE audit (
    id INTEGER PRIMARY KEY, -- never reused: no row is ever deleted
    -- No foreign key: rows are written only with the id of an organisation the same
    -- transaction has just read, and a check per row would slow every push.
    org_id INTEGER NOT NULL,
    at INTEGER NOT NULL, -- seconds since 1970, UTC
    event TEXT NOT NULL,
    device TEXT,
    user_id INTEGER,
    record TEXT,
    vv TEXT,
    detail TEXT
);
-- Pushes write a row per record: one index only, which grows at its end. `audit
-- --record` reads the organisation's rows and keeps those of the record's HMAC.
CREATE INDEX audit_by_org ON audit (org_id, id);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only: its rows are never changed');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only: its rows are never deleted');
END;
-- `INSERT OR REPLACE` deletes the row it replaces without firing the trigger above.
CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit
WHEN EXISTS (SELECT 1 FROM audit WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only: its rows are never replaced');
END;
