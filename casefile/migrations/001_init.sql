-- The case file, version 1.
--
-- `records` is the single source of truth: one record state of SYNC-PROTOCOL.md §2 per
-- row. Every other table is derived from it (in the same transaction as every write) and
-- can be rebuilt from it.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value NOT NULL                     -- no affinity: text or integer, as written
) WITHOUT ROWID;

CREATE TABLE records (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,             -- canonical JSON of the state
    deleted    INTEGER NOT NULL,          -- derived: every _deleted entry is non-null
    erased     INTEGER NOT NULL,          -- the server erased it: no content left
    conflicted INTEGER NOT NULL,          -- derived: conflicts() is not empty
    change_seq INTEGER                    -- local change sequence of its last local edit
);
CREATE INDEX records_by_kind ON records (kind, deleted);
CREATE INDEX records_by_change ON records (change_seq) WHERE change_seq IS NOT NULL;
CREATE INDEX records_conflicted ON records (id) WHERE conflicted = 1;

-- Tables whose rows are large (states, typed rows with free text) keep their rowid: a
-- WITHOUT ROWID table packs large rows badly.

-- Derived tables: one row per record of the kind that is neither deleted nor erased.
-- A field in conflict shows its most recent entry; a list is JSON text.

CREATE TABLE site (
    id TEXT PRIMARY KEY, "name" TEXT, "type" TEXT, "commune" TEXT, "address" TEXT,
    "lat" REAL, "lon" REAL, "status" TEXT, "status_since" TEXT, "notes" TEXT
);

CREATE TABLE household (
    id TEXT PRIMARY KEY, "name" TEXT, "site_id" TEXT, "notes" TEXT
);
CREATE INDEX household_by_site ON household ("site_id");

CREATE TABLE person (
    id TEXT PRIMARY KEY, "family_name" TEXT, "given_names" TEXT, "aliases" TEXT, "sex" TEXT,
    "birth_date" TEXT, "birth_place" TEXT, "nationality" TEXT, "languages" TEXT,
    "french_level" TEXT, "phone" TEXT, "household_id" TEXT, "site_id" TEXT, "referent" TEXT,
    "status" TEXT, "closed_on" TEXT, "closed_reason" TEXT, "consent_on" TEXT,
    "consent_scope" TEXT, "notes" TEXT
);
CREATE INDEX person_by_site ON person ("site_id", "status");
CREATE INDEX person_by_household ON person ("household_id");
CREATE INDEX person_by_status ON person ("status");

CREATE TABLE situation (
    id TEXT PRIMARY KEY, "person_id" TEXT, "id_document" TEXT, "health_cover" TEXT,
    "social_security_number" TEXT, "bank_account" INTEGER, "domiciliation" TEXT,
    "france_travail_number" TEXT, "france_travail_since" TEXT, "cv_on" TEXT,
    "driving_licence" INTEGER, "education_level" TEXT, "work_experience" TEXT, "skills" TEXT
);
CREATE INDEX situation_by_person ON situation ("person_id");

CREATE TABLE stay (
    id TEXT PRIMARY KEY, "person_id" TEXT, "site_id" TEXT, "from_on" TEXT, "to_on" TEXT,
    "left_because" TEXT
);
CREATE INDEX stay_by_person ON stay ("person_id");

CREATE TABLE visit (
    id TEXT PRIMARY KEY, "occurred_at" TEXT, "setting" TEXT, "site_id" TEXT,
    "person_ids" TEXT, "counsellors" TEXT, "purpose" TEXT, "observations" TEXT,
    "decisions" TEXT, "next_visit_on" TEXT, "interpreter" INTEGER, "duration_minutes" REAL
);
-- No further index on visit: every index keyed by something other than the (time-ordered)
-- id costs random page writes on each of the many visits a pull brings.

-- The persons met in each visit (from visit.person_ids), with the visit's time (UTC) and
-- next visit, so that each person's latest visit is one index scan away.
CREATE TABLE visit_person (
    visit_id      TEXT NOT NULL,
    person_id     TEXT NOT NULL,
    occurred_at   TEXT,
    next_visit_on TEXT,
    PRIMARY KEY (visit_id, person_id)
) WITHOUT ROWID;
CREATE INDEX visit_person_by_person
    ON visit_person (person_id, occurred_at, next_visit_on, visit_id);

CREATE TABLE step (
    id TEXT PRIMARY KEY, "person_id" TEXT, "visit_id" TEXT, "category" TEXT, "title" TEXT,
    "status" TEXT, "due_on" TEXT, "done_on" TEXT, "notes" TEXT
);
CREATE INDEX step_by_person ON step ("person_id");
CREATE INDEX step_by_due ON step ("status", "due_on");

CREATE TABLE employment (
    id TEXT PRIMARY KEY, "person_id" TEXT, "employer" TEXT, "job_title" TEXT, "sector" TEXT,
    "contract" TEXT, "hours_per_week" REAL, "start_on" TEXT, "end_on" TEXT, "end_reason" TEXT
);
CREATE INDEX employment_by_person ON employment ("person_id");

CREATE TABLE training (
    id TEXT PRIMARY KEY, "person_id" TEXT, "provider" TEXT, "title" TEXT, "start_on" TEXT,
    "end_on" TEXT, "status" TEXT, "certification" TEXT
);
CREATE INDEX training_by_person ON training ("person_id");

CREATE TABLE referral (
    id TEXT PRIMARY KEY, "person_id" TEXT, "to_service" TEXT, "constraint" TEXT, "status" TEXT,
    "sent_on" TEXT, "notes" TEXT
);
CREATE INDEX referral_by_person ON referral ("person_id");

-- Person search: folded words of names and aliases, and phone digits.
-- field: 0 family or given names, 1 aliases, 2 phone.
CREATE TABLE person_terms (
    term      TEXT NOT NULL,
    person_id TEXT NOT NULL,
    field     INTEGER NOT NULL,
    PRIMARY KEY (term, person_id, field)
) WITHOUT ROWID;
CREATE INDEX person_terms_by_person ON person_terms (person_id);
