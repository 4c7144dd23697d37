-- Erasure that stays done (SYNC-PROTOCOL.md §5, §6a).
--
-- `erased`: every record id the organisation ever erased, kept only as the HMAC-SHA256
-- of the id under the organisation's audit key (the same HMAC as the audit's `record`
-- column, as 32 bytes), forever: a later push naming an erased id, or a record about an
-- erased person alone, is erased on arrival, and a person taken out of a shared record
-- stays out. Never the id itself.
CREATE TABLE erased (
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    mac BLOB NOT NULL CHECK (length(mac) = 32),
    at INTEGER NOT NULL, -- seconds since 1970, UTC
    PRIMARY KEY (org_id, mac)
) WITHOUT ROWID;

-- An erased record's row (its tombstone: id, kind, vv) stays only while some device may
-- still hold the record: once every device in service has pulled past it, the row is
-- deleted ("sealed") and the id is only a MAC in `erased`.
ALTER TABLE records ADD COLUMN erased INTEGER NOT NULL DEFAULT 0;
UPDATE records SET erased = 1 WHERE state LIKE '%,"erased":true,"fields":{}}';
CREATE INDEX records_erased ON records (org_id, seq) WHERE erased = 1;

-- `confirmed`: the highest `since` the device pulled with: it has committed every change
-- up to it. Sealing waits on the lowest among the organisation's devices in service.
ALTER TABLE devices ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
