-- Sign-in that ends: a session ends when idle as well as at its absolute end, a one-time
-- password when it expires, an API token at its optional expiry or with the API token that
-- created it.

-- When the session was last used (to the minute): idle sessions end. Existing sessions
-- count as used when they were created.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
-- A password change ends the person's other sessions.
CREATE INDEX sessions_user ON sessions (user_id);

-- When a one-time password stops working; null for a password the person chose.
ALTER TABLE users ADD COLUMN password_expires_at BIGINT;
-- One-time passwords given before this change get a day from the upgrade.
UPDATE users SET password_expires_at = CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT) + 86400000 WHERE password_one_time <> 0;

-- When the token stops working, if ever; and the API token that created it, with which it ends.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN parent_id TEXT REFERENCES api_tokens (id);
CREATE INDEX api_tokens_parent ON api_tokens (parent_id);
