-- The case file, version 6: one person, one file (issue 14).
--
-- Derived tables only: `records` does not change. The person fields of a merge
-- (`merged_into`, `merged_seen`) and of a "not the same person" mark (`not_duplicates`)
-- live in the record states; these tables are derived from them, and the search terms
-- now fold Cyrillic to Latin. Both are computed in Rust: the flag below asks the opening
-- of the file to rebuild every derived table once, in one transaction (a crash before it
-- is done leaves the flag, and the next opening rebuilds).

-- The phonetic keys of each person's names and aliases (casefile::names::keys): where
-- duplicates are looked for.
CREATE TABLE IF NOT EXISTS person_keys (
    key       TEXT NOT NULL,
    person_id TEXT NOT NULL,
    PRIMARY KEY (key, person_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS person_keys_by_person ON person_keys (person_id);

-- Each merged-away person and the person its tombstone names (sync_protocol::merges).
CREATE TABLE IF NOT EXISTS person_merge (
    id          TEXT PRIMARY KEY,
    merged_into TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS person_merge_by_target ON person_merge (merged_into);

-- Each merged-away person and its survivor, the end of its chain: every reference to
-- `id` is read as `survivor`. Persons not merged away have no row.
CREATE TABLE IF NOT EXISTS person_survivor (
    id       TEXT PRIMARY KEY,
    survivor TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS person_survivor_by_survivor ON person_survivor (survivor);

-- Pairs marked "not the same person": `holder` is the person whose `not_duplicates`
-- names `other`.
CREATE TABLE IF NOT EXISTS not_duplicate (
    holder TEXT NOT NULL,
    other  TEXT NOT NULL,
    PRIMARY KEY (holder, other)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS not_duplicate_by_other ON not_duplicate (other);

-- This device's own edits of merged-away persons already re-applied to their survivor:
-- for each merged-away `id` and each replica id this case file has had, the highest
-- counter of that replica's dots on `id` dealt with. Local only (not derived).
CREATE TABLE IF NOT EXISTS merge_reapplied (
    id      TEXT NOT NULL,
    replica TEXT NOT NULL,
    counter INTEGER NOT NULL,
    PRIMARY KEY (id, replica)
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('rebuild_pending', 1)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
