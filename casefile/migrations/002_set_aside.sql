-- The case file, version 2: records set aside by the sync (SYNC-PROTOCOL.md §6).
--
-- A record is set aside rather than let stop a sync. `side` says which copy:
-- - 'push': the local state, which stays in `records`: refused by the server (a 422
--   naming it, or alone once a refused batch was halved down to it), held by the server,
--   or too large for one request. It is sent again at every sync, and its row goes when
--   the server accepts it.
-- - 'pull': a state the server sent that could not be merged here: another kind under a
--   local record's id (`kind_clash`), or a state that breaks §2. `state` keeps it as
--   received, beside the local copy, for a person to decide.
-- `why` is a code (the server's, or kind_clash, invalid_record, record_too_large,
-- too_large, held); `message` a sentence a person can act on, never a record's values.

CREATE TABLE set_aside (
    id      TEXT,                 -- the record's id; NULL for a pulled state whose id is unreadable
    side    TEXT NOT NULL CHECK (side IN ('push', 'pull')),
    kind    TEXT,                 -- the set-aside state's kind; NULL when unreadable
    why     TEXT NOT NULL,
    message TEXT NOT NULL,
    state   TEXT,                 -- side 'pull': the state as received
    at      TEXT NOT NULL         -- when it was (last) set aside, RFC 3339
);
-- One row per record and side (NULL ids are distinct).
CREATE UNIQUE INDEX set_aside_by_id ON set_aside (id, side);
