-- A coordinator may disable a user: their devices are refused (401 user_disabled, they
-- lock and keep their data) and they cannot enrol, until the user is enabled again.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
