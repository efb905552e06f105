-- The directory of people: one person across the systems a company's connectors see
-- (GitHub logins, Jira account ids, Slack user ids, email addresses).

-- Bumped by every change to a company's directory. The bump comes first in the change's
-- transaction, so it takes the write lock before anything is read: concurrent changes,
-- from this host or another, wait for each other instead of overwriting each other.
ALTER TABLE companies ADD COLUMN people_version BIGINT NOT NULL DEFAULT 0;

CREATE TABLE people (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL,
    name        TEXT,
    PRIMARY KEY (company_id, id)
);

CREATE TABLE identities (
    company_id       TEXT NOT NULL,
    system           TEXT NOT NULL,
    -- The id as identities are compared: lower-cased where the system ignores case.
    match_key        TEXT NOT NULL,
    id               TEXT NOT NULL,
    person_id        TEXT NOT NULL,
    -- Where the identity sits among its person's.
    position         BIGINT NOT NULL,
    placed_by_admin  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (company_id, system, match_key),
    FOREIGN KEY (company_id, person_id) REFERENCES people (company_id, id)
);
CREATE INDEX identities_person ON identities (company_id, person_id);
