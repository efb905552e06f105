-- The write path of records, the bulk of what the store keeps.
--
-- A run's commit already proves the records' company: it updates the run's row, which
-- references the company, in the same transaction. The records' own foreign key only
-- added a trigger per record written, about a quarter of a commit's time.
ALTER TABLE records DROP CONSTRAINT IF EXISTS records_company_id_fkey;

-- Room on each page for a record's next version: upserting a key again changes no indexed
-- column, so with room the new version stays on its page and no index is touched.
ALTER TABLE records SET (fillfactor = 70);
