-- The run queue and schedules. The runs table is the queue: a queued run waits for its
-- due time; a host claims it with a lease it renews while the run goes on; a run whose
-- lease expired (its host died) is queued again with its attempt raised. Every host of
-- one database registers in `hosts`.

ALTER TABLE runs ADD COLUMN attempt BIGINT NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN max_attempts BIGINT NOT NULL DEFAULT 1;
-- When the run may start: now for a manual run, the slot plus jitter for a scheduled one,
-- the backoff's end for a retry.
ALTER TABLE runs ADD COLUMN due_at BIGINT NOT NULL DEFAULT 0;
-- The schedule slot a scheduled run is for; unique per install, so several hosts
-- enqueue a due slot once.
ALTER TABLE runs ADD COLUMN scheduled_for BIGINT;
ALTER TABLE runs ADD COLUMN claimed_by TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_at BIGINT;
-- Due time to the connector's entry, in milliseconds, once it was entered.
ALTER TABLE runs ADD COLUMN start_delay_ms BIGINT;
-- The run this one retries.
ALTER TABLE runs ADD COLUMN retry_of TEXT;
-- What the run calls: `sync`, or an event's kind with its payload.
ALTER TABLE runs ADD COLUMN event_kind TEXT;
ALTER TABLE runs ADD COLUMN event_json TEXT;
UPDATE runs SET due_at = created_at;

CREATE UNIQUE INDEX runs_schedule_slot ON runs (install_id, scheduled_for)
    WHERE scheduled_for IS NOT NULL;
CREATE INDEX runs_queued ON runs (due_at, id) WHERE status = 'queued';
CREATE INDEX runs_leased ON runs (claimed_by, lease_expires_at) WHERE status = 'running';
CREATE INDEX runs_active ON runs (company_id, install_id) WHERE status IN ('queued', 'running');

CREATE TABLE schedules (
    install_id   TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies (id),
    cron         TEXT,
    interval_ms  BIGINT,
    timezone     TEXT NOT NULL,
    enabled      BIGINT NOT NULL,
    overlap      TEXT NOT NULL,
    jitter_ms    BIGINT NOT NULL,
    -- The next slot not yet enqueued; hosts advance it with a compare-and-set.
    next_due_at  BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_due_at) WHERE enabled = 1;

CREATE TABLE hosts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL,
    stopped_at    BIGINT
);
