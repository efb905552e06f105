-- The server's first schema: companies, people who sign in, their memberships, sessions and
-- API tokens; the vault's data keys and secrets; installs, runs, records, logs and the audit
-- log. Times are milliseconds since the Unix epoch. Every company-owned row carries
-- company_id, and every query filters on it.

CREATE TABLE companies (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,
    password_hash       TEXT,
    password_one_time   BIGINT NOT NULL DEFAULT 0,
    created_at          BIGINT NOT NULL
);

CREATE TABLE memberships (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (company_id, user_id)
);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    company_id    TEXT NOT NULL REFERENCES companies (id),
    user_id       TEXT NOT NULL REFERENCES users (id),
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_company ON api_tokens (company_id, id);

CREATE TABLE data_keys (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    version     BIGINT NOT NULL,
    wrapped     BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (company_id, version)
);

CREATE TABLE secrets (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    name        TEXT NOT NULL,
    ciphertext  BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (company_id, name)
);

CREATE TABLE installs (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    plugin      TEXT NOT NULL,
    version     TEXT NOT NULL,
    config      TEXT NOT NULL,
    grants      TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX installs_company ON installs (company_id, id);

CREATE TABLE runs (
    id                  TEXT PRIMARY KEY,
    company_id          TEXT NOT NULL REFERENCES companies (id),
    install_id          TEXT NOT NULL,
    plugin              TEXT NOT NULL,
    triggered_by        TEXT NOT NULL,
    status              TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    started_at          BIGINT,
    finished_at         BIGINT,
    records_written     BIGINT NOT NULL DEFAULT 0,
    http_requests       BIGINT NOT NULL DEFAULT 0,
    peak_memory_bytes   BIGINT NOT NULL DEFAULT 0,
    log_lines           BIGINT NOT NULL DEFAULT 0,
    dropped_log_lines   BIGINT NOT NULL DEFAULT 0,
    error               TEXT,
    note                TEXT
);
CREATE INDEX runs_company ON runs (company_id, id);
CREATE INDEX runs_install ON runs (company_id, install_id, id);

CREATE TABLE records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    install_id  TEXT NOT NULL,
    stream      TEXT NOT NULL,
    record_key  TEXT NOT NULL,
    data        TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (company_id, install_id, stream, record_key)
);
CREATE INDEX records_company ON records (company_id, seq);

CREATE TABLE logs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    install_id  TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    logged_at   BIGINT NOT NULL,
    level       TEXT NOT NULL,
    level_rank  BIGINT NOT NULL,
    source      TEXT NOT NULL,
    message     TEXT NOT NULL,
    fields      TEXT NOT NULL
);
CREATE INDEX logs_company ON logs (company_id, seq);
CREATE INDEX logs_run ON logs (company_id, run_id, seq);

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX audit_company ON audit (company_id, seq);
