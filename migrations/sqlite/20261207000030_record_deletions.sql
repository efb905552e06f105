-- Records whose item the service no longer has: a successful run of a stream it lists
-- whole did not emit them. NULL while the item exists; the record stays, so a reader sees
-- the deletion instead of an item that silently disappears.
ALTER TABLE records ADD COLUMN deleted_at BIGINT;

-- How many records a run marked deleted.
ALTER TABLE runs ADD COLUMN records_deleted BIGINT NOT NULL DEFAULT 0;
