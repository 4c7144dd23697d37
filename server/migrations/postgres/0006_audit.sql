-- The audit trail (SYNC-PROTOCOL.md §7 `audit`): who enrolled, invited, revoked,
-- disabled, pushed, erased, restored and settled a recovery, and when. Append-only: the
-- trigger below refuses every UPDATE, DELETE and TRUNCATE, so no statement of the
-- server (or of an operator at the psql prompt) rewrites it; backups carry it and a
-- restore brings it back.
--
-- No personal data: users by their row id, devices by their replica id, records by
-- `record`, the hex HMAC-SHA256 of the record's id under the organisation's
-- `audit_key` (never the id itself), `vv` the record's version vector (replica ids and
-- counters), `detail` a small JSON object of non-personal facts (a push's status, an
-- invite's expiry, ...). Never a username, a field's value or a raw record id.
ALTER TABLE orgs ADD COLUMN audit_key BYTEA; -- 32 random bytes, filled by the server

CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No foreign key: rows are written only with the id of an organisation the same
    -- transaction has just read, and a check per row would slow every push.
    org_id BIGINT NOT NULL,
    at BIGINT NOT NULL, -- seconds since 1970, UTC
    event TEXT NOT NULL,
    device TEXT,
    user_id BIGINT,
    record TEXT,
    vv TEXT,
    detail TEXT
);
-- Pushes write a row per record: one index only, which grows at its end. `audit
-- --record` reads the organisation's rows and keeps those of the record's HMAC.
CREATE INDEX audit_by_org ON audit (org_id, id);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: its rows are never changed or deleted';
END
$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
