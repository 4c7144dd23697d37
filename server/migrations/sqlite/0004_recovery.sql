-- Epochs, what the server remembers of each device, recovery and held records
-- (SYNC-PROTOCOL.md §6a).

-- The database's epoch: made by `init` (the migration fills it), replaced by `restore`.
-- `journal_key` keys the HMACs that stand for usernames in the journal.
ALTER TABLE server ADD COLUMN epoch TEXT;
ALTER TABLE server ADD COLUMN journal_key BLOB;

-- `answered`: the highest `next` a pull answered the device; `acked`: the highest local
-- change sequence it declared (`through`) in an acknowledged push. A pull above either
-- tells that the database forgot part of the conversation (409 checkpoint_ahead).
ALTER TABLE devices ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN acked INTEGER NOT NULL DEFAULT 0;
-- Devices enrolled before this version: what they were answered is not known, and at
-- most their organisation's highest sequence.
UPDATE devices SET answered = (SELECT last_seq FROM orgs WHERE orgs.id = devices.org_id);
-- A device re-keyed after its case file was restored from a copy (409 replica_reused)
-- names its predecessor; the predecessor is retired: its token still authenticates, but
-- only to re-key.
ALTER TABLE devices ADD COLUMN predecessor TEXT;
ALTER TABLE devices ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;

-- Recovery lasts until `recovery end` or this time (seconds since 1970); NULL: none.
ALTER TABLE orgs ADD COLUMN recovery_until INTEGER;

-- Records held in recovery: a pushed state holding edits of other devices that the
-- server's copy lacks, kept apart (never pulled) until those devices vouch for them.
CREATE TABLE held (
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    held_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, id, device_id)
) WITHOUT ROWID;
CREATE INDEX held_by_device ON held (org_id, device_id);

-- Devices a coordinator accepted for the rest of the recovery (`recovery accept
-- --device`): their edits count as vouched for.
CREATE TABLE recovery_accepted (
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    device_id TEXT NOT NULL,
    PRIMARY KEY (org_id, device_id)
) WITHOUT ROWID;

-- Held states discarded (refused on release, or still waiting when recovery ended): ids
-- only, listed by `recovery status`.
CREATE TABLE recovery_discarded (
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    why TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX recovery_discarded_by_org ON recovery_discarded (org_id, at);
