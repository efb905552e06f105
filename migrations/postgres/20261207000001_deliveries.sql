-- Webhooks in: every delivery GitHub or Slack sent to an install's hook, verified or not.
-- A verified delivery keeps its payload (an admin can replay it) and the runs it became;
-- a refused one keeps only why, never its body. The signing secrets themselves are
-- company secrets (`hooks.github.<install>`, `hooks.slack.<install>`), so key rotation
-- reseals them like any other.
CREATE TABLE deliveries (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies (id),
    install_id   TEXT NOT NULL,
    source       TEXT NOT NULL,
    kind         TEXT,
    external_id  TEXT,
    received_at  BIGINT NOT NULL,
    status       TEXT NOT NULL,
    refusal      TEXT,
    payload      TEXT,
    routed       TEXT NOT NULL DEFAULT '[]',
    replay_of    TEXT
);
-- A service's retry or replay of a delivery it already made is processed once.
CREATE UNIQUE INDEX deliveries_once ON deliveries (install_id, source, external_id)
    WHERE status <> 'refused' AND replay_of IS NULL AND external_id IS NOT NULL;
CREATE INDEX deliveries_company ON deliveries (company_id, id);
