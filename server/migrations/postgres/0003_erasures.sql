-- When each erasure over HTTP happened, per organisation, to cap them at 20 an hour
-- (SYNC-PROTOCOL.md §6) across every server process. No record id: only the count
-- matters, and an erased person leaves no id behind.
CREATE TABLE erasures (
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    at BIGINT NOT NULL -- seconds since 1970, UTC
);
CREATE INDEX erasures_by_org ON erasures (org_id, at);
