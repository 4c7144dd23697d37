-- The case file, version 5: the CV (issue 16).
--
-- The person kind gains what a CV needs (email, skills, certifications); the new kind
-- `cv` holds a person's CV as a counsellor prepared it.
--
-- Derived tables only: `records` does not change. A record this file already holds may
-- carry the new fields or be of the new kind (pulled from a newer device before this
-- upgrade), so the new columns and rows are filled from the record states, as
-- `CaseFile::rebuild` would: in a conflict the entry with the latest `at`, then the
-- highest dot (entries are stored in dot order); a list as its JSON text.
--
-- The person table is rebuilt rather than altered so that this migration can run again
-- over a file whose version was set back (ADD COLUMN would fail on a column that exists).

-- The entry each derived table shows, for every field of every record concerned.
CREATE TEMP VIEW shown_005 AS
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
    WHERE r.kind IN ('person', 'cv') AND r.deleted = 0 AND r.erased = 0
)
WHERE rank = 1;

CREATE TABLE person_005 (
    id TEXT PRIMARY KEY, "family_name" TEXT, "given_names" TEXT, "aliases" TEXT, "sex" TEXT,
    "birth_date" TEXT, "birth_place" TEXT, "nationality" TEXT, "languages" TEXT,
    "french_level" TEXT, "phone" TEXT, "household_id" TEXT, "site_id" TEXT, "referent" TEXT,
    "status" TEXT, "closed_on" TEXT, "closed_reason" TEXT, "consent_on" TEXT,
    "consent_scope" TEXT, "notes" TEXT,
    "notice_on" TEXT, "notice_lang" TEXT, "notice_interpreter" INTEGER,
    "keep_until" TEXT, "keep_reason" TEXT,
    "skills" TEXT, "certifications" TEXT, "email" TEXT
);
INSERT INTO person_005 (
    id, "family_name", "given_names", "aliases", "sex", "birth_date", "birth_place",
    "nationality", "languages", "french_level", "phone", "household_id", "site_id",
    "referent", "status", "closed_on", "closed_reason", "consent_on", "consent_scope", "notes",
    "notice_on", "notice_lang", "notice_interpreter", "keep_until", "keep_reason",
    "skills", "certifications", "email"
)
SELECT p.id, p."family_name", p."given_names", p."aliases", p."sex", p."birth_date",
       p."birth_place", p."nationality", p."languages", p."french_level", p."phone",
       p."household_id", p."site_id", p."referent", p."status", p."closed_on",
       p."closed_reason", p."consent_on", p."consent_scope", p."notes",
       p."notice_on", p."notice_lang", p."notice_interpreter", p."keep_until",
       p."keep_reason",
       (SELECT value FROM shown_005 s WHERE s.id = p.id AND s.field = 'skills'),
       (SELECT value FROM shown_005 s WHERE s.id = p.id AND s.field = 'certifications'),
       (SELECT value FROM shown_005 s WHERE s.id = p.id AND s.field = 'email')
FROM person p;
DROP TABLE person;
ALTER TABLE person_005 RENAME TO person;
CREATE INDEX person_by_site ON person ("site_id", "status");
CREATE INDEX person_by_household ON person ("household_id");
CREATE INDEX person_by_status ON person ("status");

-- A person's CVs (one, unless two devices each wrote one before they synced).
CREATE TABLE IF NOT EXISTS cv (
    id TEXT PRIMARY KEY, "person_id" TEXT, "headline" TEXT, "contact" TEXT, "languages" TEXT,
    "skills" TEXT, "certifications" TEXT, "experience" TEXT, "trainings" TEXT,
    "interests" TEXT
);
CREATE INDEX IF NOT EXISTS cv_by_person ON cv ("person_id");
INSERT OR REPLACE INTO cv (
    id, "person_id", "headline", "contact", "languages", "skills", "certifications",
    "experience", "trainings", "interests"
)
SELECT r.id,
       (SELECT value FROM shown_005 s WHERE s.id = r.id AND s.field = 'person_id'),
       (SELECT value FROM shown_005 s WHERE s.id = r.id AND s.field = 'headline'),
       (SELECT value FROM shown_005 s WHERE s.id = r.id AND s.field = 'contact'),
       (SELECT value FROM shown_005 s WHERE s.id = r.id AND s.field = 'languages'),
       (SELECT value FROM shown_005 s WHERE s.id = r.id AND s.field = 'skills'),
       (SELECT value FROM shown_005 s WHERE s.id = r.id AND s.field = 'certifications'),
       (SELECT value FROM shown_005 s WHERE s.id = r.id AND s.field = 'experience'),
       (SELECT value FROM shown_005 s WHERE s.id = r.id AND s.field = 'trainings'),
       (SELECT value FROM shown_005 s WHERE s.id = r.id AND s.field = 'interests')
FROM records r
WHERE r.kind = 'cv' AND r.deleted = 0 AND r.erased = 0;

DROP VIEW shown_005;
