-- Indexes a claim reads through, so its cost follows the queue, not the run history:
-- the queued runs of each install in due order (the head of each install's queue), and
-- the running runs by company and install (the company's count and the busy installs).

CREATE INDEX runs_queued_by_install ON runs (install_id, due_at, id, company_id) WHERE status = 'queued';
CREATE INDEX runs_running ON runs (company_id, install_id) WHERE status = 'running';
