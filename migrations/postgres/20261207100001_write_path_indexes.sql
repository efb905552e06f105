-- The write path of records and log lines keeps only the indexes their readers use.
--
-- Every reader of records and log lines filters on the company and pages by `seq`, so
-- `records_company`, `logs_company` and `logs_run` serve them; the primary keys on `seq`
-- alone served no query and cost a btree insert per row written. `seq` still comes from
-- its sequence, so it stays unique and ordered.
ALTER TABLE records DROP CONSTRAINT IF EXISTS records_pkey;
ALTER TABLE logs DROP CONSTRAINT IF EXISTS logs_pkey;

-- A batch of log lines belongs to a run, whose row references the company: the lines'
-- own foreign key only added a trigger per line written (as records' did, dropped
-- before).
ALTER TABLE logs DROP CONSTRAINT IF EXISTS logs_company_id_fkey;
