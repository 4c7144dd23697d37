-- The case file, version 7: documents and photos in a person's file (issue 15).
--
-- `records` does not change: an attachment is a record like any other (kind
-- `attachment`). Its bytes are kept in this encrypted file, apart from the records, by
-- their SHA-256 (SYNC-PROTOCOL.md §6b): `blob` says how much of a document is here and
-- whether the server has it, `blob_chunk` holds its bytes in pieces of at most 1 MiB,
-- `thumbnail` a small JPEG of a photo, made when first shown. A record of the new kind
-- pulled before this upgrade gets its typed row from the rebuild the flag below asks for.

CREATE TABLE IF NOT EXISTS attachment (
    id TEXT PRIMARY KEY, "person_id" TEXT, "visit_id" TEXT, "step_id" TEXT, "title" TEXT,
    "category" TEXT, "taken_on" TEXT, "media_type" TEXT, "size" REAL, "sha256" TEXT,
    "file_name" TEXT
);
CREATE INDEX IF NOT EXISTS attachment_by_person ON attachment ("person_id");
CREATE INDEX IF NOT EXISTS attachment_by_visit ON attachment ("visit_id");
CREATE INDEX IF NOT EXISTS attachment_by_sha256 ON attachment ("sha256");

-- One row per document this file holds, whole or in part.
--   size:     its length in bytes;
--   received: how many of them are here (a download under way stops short of size);
--   whole:    1 once every byte is here and its hash checked;
--   uploaded: 1 once the server said it holds the whole document.
CREATE TABLE IF NOT EXISTS blob (
    sha256   TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    whole    INTEGER NOT NULL DEFAULT 0,
    uploaded INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS blob_chunk (
    sha256 TEXT NOT NULL,
    start  INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (sha256, start)
);

CREATE TABLE IF NOT EXISTS thumbnail (
    sha256 TEXT PRIMARY KEY,
    jpeg   BLOB NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('rebuild_pending', 1)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;
