-- The case file, version 3: re-keying after a restore from a copy (SYNC-PROTOCOL.md §6a).
--
-- When the server answers 409 `replica_reused`, the device takes a new replica id and,
-- before it merges anything, gives its edits that the server does not hold new dots
-- under the new id (re-dotting). That walks the server's pages, then every local record
-- the server did not send; `rekey_done` lists the records already re-dotted, so that a
-- re-key cut halfway resumes without re-dotting a record twice. Its rows go when the
-- re-key ends. The re-key's other state (the predecessor, the page checkpoint) lives in
-- `meta`.

CREATE TABLE rekey_done (
    id TEXT PRIMARY KEY
) WITHOUT ROWID;
