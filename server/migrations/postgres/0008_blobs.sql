-- Documents (blobs, SYNC-PROTOCOL.md §6b): the bytes an attachment record names by
-- their SHA-256, kept per organisation (the same digest in two organisations is two
-- documents, never shared). Kept in the database itself, so that backups carry them.
--
-- `blobs`: one row per document whole or being uploaded. `size` is the whole document's
-- length (the uploads' `Blob-Length`), `received` how many bytes of it the server holds
-- (from byte 0, without a gap), `whole` whether they are all there and their SHA-256 was
-- checked. Times in seconds since 1970, UTC; `touched_at` is the last chunk received: a
-- part untouched for 7 days is dropped.
CREATE TABLE blobs (
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    size BIGINT NOT NULL,
    received BIGINT NOT NULL,
    whole BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    touched_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, sha256)
);

-- The bytes, one row per chunk received (at most 4 MiB each), `start` its first byte's
-- offset in the document. EXTERNAL: stored out of line without compression (documents
-- are mostly compressed already), so that a ranged read fetches only the slices it needs.
CREATE TABLE blob_chunks (
    org_id BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    start BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (org_id, sha256, start),
    FOREIGN KEY (org_id, sha256) REFERENCES blobs (org_id, sha256)
);
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Which documents the organisation's attachments name is read from their states (the
-- field `sha256`); this index keeps that read to the attachments.
CREATE INDEX records_attachments ON records (org_id) WHERE kind = 'attachment';
