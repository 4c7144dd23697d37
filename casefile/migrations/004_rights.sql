-- The case file, version 4: a person's rights (issue 13).
--
-- The person kind gains the information notice (notice_on, notice_lang,
-- notice_interpreter) and a coordinator's reason to keep a closed file past its
-- retention (keep_until, keep_reason); the new kind `organisation` holds the
-- organisation's settings, one record with a well-known id.
--
-- Derived tables only: `records` does not change. A record this file already holds may
-- carry the new fields or be of the new kind (pulled from a newer device before this
-- upgrade), so the new columns and rows are filled from the record states, as
-- `CaseFile::rebuild` would: in a conflict the entry with the latest `at`, then the
-- highest dot (entries are stored in dot order).
--
-- The person table is rebuilt rather than altered so that this migration can run again
-- over a file whose version was set back (ADD COLUMN would fail on a column that exists).
--
-- Earlier versions kept a row for an erased record (its id in clear, `erased = 1`); an
-- erased record now leaves nothing, not even its id (SYNC-PROTOCOL.md §5). Those rows go
-- here with every row keyed by their ids, as `erasure::wipe` deletes them (the end of
-- this file).

-- The entry each derived table shows, for every field of every record.
CREATE TEMP VIEW shown_004 AS
SELECT id, field, value FROM (
    SELECT r.id AS id,
           f.key AS field,
           json_extract(e.value, '$.value') AS value,
           row_number() OVER (
               PARTITION BY r.id, f.key
               ORDER BY julianday(json_extract(e.value, '$.at')) DESC,
                        CAST(e.key AS INTEGER) DESC
           ) AS rank
    FROM records r, json_each(r.state, '$.fields') f, json_each(f.value) e
    WHERE r.kind IN ('person', 'organisation') AND r.deleted = 0 AND r.erased = 0
)
WHERE rank = 1;

CREATE TABLE person_004 (
    id TEXT PRIMARY KEY, "family_name" TEXT, "given_names" TEXT, "aliases" TEXT, "sex" TEXT,
    "birth_date" TEXT, "birth_place" TEXT, "nationality" TEXT, "languages" TEXT,
    "french_level" TEXT, "phone" TEXT, "household_id" TEXT, "site_id" TEXT, "referent" TEXT,
    "status" TEXT, "closed_on" TEXT, "closed_reason" TEXT, "consent_on" TEXT,
    "consent_scope" TEXT, "notes" TEXT,
    "notice_on" TEXT, "notice_lang" TEXT, "notice_interpreter" INTEGER,
    "keep_until" TEXT, "keep_reason" TEXT
);
INSERT INTO person_004 (
    id, "family_name", "given_names", "aliases", "sex", "birth_date", "birth_place",
    "nationality", "languages", "french_level", "phone", "household_id", "site_id",
    "referent", "status", "closed_on", "closed_reason", "consent_on", "consent_scope", "notes",
    "notice_on", "notice_lang", "notice_interpreter", "keep_until", "keep_reason"
)
SELECT p.id, p."family_name", p."given_names", p."aliases", p."sex", p."birth_date",
       p."birth_place", p."nationality", p."languages", p."french_level", p."phone",
       p."household_id", p."site_id", p."referent", p."status", p."closed_on",
       p."closed_reason", p."consent_on", p."consent_scope", p."notes",
       (SELECT value FROM shown_004 s WHERE s.id = p.id AND s.field = 'notice_on'),
       (SELECT value FROM shown_004 s WHERE s.id = p.id AND s.field = 'notice_lang'),
       (SELECT value FROM shown_004 s WHERE s.id = p.id AND s.field = 'notice_interpreter'),
       (SELECT value FROM shown_004 s WHERE s.id = p.id AND s.field = 'keep_until'),
       (SELECT value FROM shown_004 s WHERE s.id = p.id AND s.field = 'keep_reason')
FROM person p;
DROP TABLE person;
ALTER TABLE person_004 RENAME TO person;
CREATE INDEX person_by_site ON person ("site_id", "status");
CREATE INDEX person_by_household ON person ("household_id");
CREATE INDEX person_by_status ON person ("status");

-- The organisation's settings (one row at most: the record with the well-known id).
CREATE TABLE IF NOT EXISTS organisation (
    id TEXT PRIMARY KEY, "name" TEXT, "address" TEXT, "contact" TEXT, "dpo_contact" TEXT,
    "purposes" TEXT, "recipients" TEXT, "retention_months" REAL
);
INSERT OR REPLACE INTO organisation (
    id, "name", "address", "contact", "dpo_contact", "purposes", "recipients",
    "retention_months"
)
SELECT r.id,
       (SELECT value FROM shown_004 s WHERE s.id = r.id AND s.field = 'name'),
       (SELECT value FROM shown_004 s WHERE s.id = r.id AND s.field = 'address'),
       (SELECT value FROM shown_004 s WHERE s.id = r.id AND s.field = 'contact'),
       (SELECT value FROM shown_004 s WHERE s.id = r.id AND s.field = 'dpo_contact'),
       (SELECT value FROM shown_004 s WHERE s.id = r.id AND s.field = 'purposes'),
       (SELECT value FROM shown_004 s WHERE s.id = r.id AND s.field = 'recipients'),
       (SELECT value FROM shown_004 s WHERE s.id = r.id AND s.field = 'retention_months')
FROM records r
WHERE r.kind = 'organisation' AND r.deleted = 0 AND r.erased = 0;

DROP VIEW shown_004;

-- Erased records of earlier versions: their rows, and every row keyed by their ids.
-- Earlier versions deleted an erased record's typed rows already; every table is swept
-- all the same, as `wipe` sweeps them. The store checkpoints and truncates the WAL after
-- an upgrade, as after any erasure.
CREATE TEMP TABLE erased_004 AS SELECT id FROM records WHERE erased = 1;
DELETE FROM site WHERE id IN (SELECT id FROM erased_004);
DELETE FROM household WHERE id IN (SELECT id FROM erased_004);
DELETE FROM person WHERE id IN (SELECT id FROM erased_004);
DELETE FROM situation WHERE id IN (SELECT id FROM erased_004);
DELETE FROM stay WHERE id IN (SELECT id FROM erased_004);
DELETE FROM visit WHERE id IN (SELECT id FROM erased_004);
DELETE FROM step WHERE id IN (SELECT id FROM erased_004);
DELETE FROM employment WHERE id IN (SELECT id FROM erased_004);
DELETE FROM training WHERE id IN (SELECT id FROM erased_004);
DELETE FROM referral WHERE id IN (SELECT id FROM erased_004);
DELETE FROM organisation WHERE id IN (SELECT id FROM erased_004);
-- As a visit, and as a person met in visits (the visits stay until the server's edit).
DELETE FROM visit_person WHERE visit_id IN (SELECT id FROM erased_004);
DELETE FROM visit_person WHERE person_id IN (SELECT id FROM erased_004);
DELETE FROM person_terms WHERE person_id IN (SELECT id FROM erased_004);
DELETE FROM set_aside WHERE id IN (SELECT id FROM erased_004);
DELETE FROM rekey_done WHERE id IN (SELECT id FROM erased_004);
DELETE FROM records WHERE id IN (SELECT id FROM erased_004);
DROP TABLE erased_004;
