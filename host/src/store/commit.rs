//! The one transaction that commits a run: how it ended, the records it wrote, the cursor
//! it leaves and the retry it asks for — all of it or none, and only while this attempt
//! still holds the run.
//!
//! Records are most of what the store ever writes, so they go through each database's own
//! driver the way that database takes rows fastest: SQLite in multi-row VALUES with
//! anonymous placeholders, PostgreSQL as three array parameters unnested into one INSERT.
//! Each record's JSON is kept as the bytes the connector produced; the runtime checked it.
//!
//! A successful sync also tells which of its streams it emitted whole (the manifest's
//! `full_refresh`): the records of such a stream that it did not emit are marked deleted
//! in the same transaction, and a record emitted again is present again. A record whose
//! data did not change is not written again, so its run and time stay those of the run
//! that last changed it.
//!
//! The run's last log lines go into the same transaction: a short run then costs the
//! database one commit, not two, and a reader who sees the run finished sees all of its
//! log. They are kept even when the commit keeps nothing else.
//!
//! On SQLite a run's commit is one script, sent to the connection's thread in one call
//! and written in a transaction it may share with other runs' (`store/group_commit.rs`).
//! So that no answer has to come back between statements, each statement carries the
//! fence itself — this attempt still holds the run, and when it keeps a cursor its install
//! still exists — and the statement that ends the run comes last and says whether it held.
//! The transaction holds SQLite's write lock from its start, so every statement of a
//! script finds the same answer: the commit writes all of its run or none of it.

use std::collections::{BTreeMap, HashMap};

use sqlx::postgres::{PgPool, Postgres};

use super::logs::{notify_on_postgres, push_lines_on_sqlite, write_on_postgres};
use super::native::{NativePool, Script};
use super::{NewRun, Run, RunFinish, Store, StoreError, new_id, now_ms, push_rows};
use crate::runtime::{EmittedRecord, LogLine};

/// Records per multi-row INSERT on SQLite: 3 values each, far below its 32,766 parameters.
const SQLITE_RECORDS_PER_INSERT: usize = 1_000;

/// Records per INSERT on PostgreSQL: bounds the size of one message, not the statement.
const POSTGRES_RECORDS_PER_INSERT: usize = 10_000;

const MARK_FINISHED: &str = "UPDATE runs SET status = $1, finished_at = $2, records_written = $3, \
     http_requests = $4, peak_memory_bytes = $5, log_lines = $6, dropped_log_lines = $7, error = $8, \
     note = $9, start_delay_ms = $10, lease_expires_at = NULL \
     WHERE company_id = $11 AND id = $12 AND status = 'running' AND claimed_by = $13 AND attempt = $14";

const KEEP_STATE: &str = "UPDATE installs SET state = $1 WHERE company_id = $2 AND id = $3";

const QUEUE_RETRY: &str = "INSERT INTO runs (id, company_id, install_id, plugin, triggered_by, status, \
     created_at, due_at, attempt, max_attempts, retry_of, event_kind, event_json) \
     SELECT $1, company_id, install_id, plugin, $2, 'queued', $3, $4, $5, $6, id, event_kind, event_json \
     FROM runs WHERE company_id = $7 AND id = $8";

/// An emitted record replaces the kept one only when it differs or the kept one was
/// marked deleted: re-emitting what the store already has costs no write.
const UPSERT_RECORDS: &str = " ON CONFLICT (company_id, install_id, stream, record_key) DO UPDATE SET \
     data = excluded.data, run_id = excluded.run_id, updated_at = excluded.updated_at, deleted_at = NULL \
     WHERE records.data <> excluded.data OR records.deleted_at IS NOT NULL";

/// Marks deleted the records of a full-refresh stream whose keys the run did not emit
/// (a JSON array of them, read by `json_each`), then the fence.
const SQLITE_MARK_DELETED: &str = "UPDATE records SET deleted_at = ?, updated_at = ?, run_id = ? \
     WHERE company_id = ? AND install_id = ? AND stream = ? AND deleted_at IS NULL \
     AND record_key NOT IN (SELECT value FROM json_each(?)) AND ";

/// The rest of SQLite's upsert after the emitted rows: the values every record of the run
/// shares are bound once, after the rows' own (anonymous placeholders count from the left),
/// then the fence. A `WHERE` is also what tells SQLite's parser that the `ON` after it
/// starts the upsert, not a join.
const SQLITE_UPSERT_RECORDS: &str = ") INSERT INTO records \
     (company_id, install_id, stream, record_key, data, run_id, updated_at) \
     SELECT ?, ?, stream, record_key, data, ?, ? FROM emitted WHERE ";

const SQLITE_KEEP_STATE: &str =
    "UPDATE installs SET state = ? WHERE company_id = ? AND id = ? AND ";

const SQLITE_QUEUE_RETRY: &str = "INSERT INTO runs (id, company_id, install_id, plugin, triggered_by, status, \
     created_at, due_at, attempt, max_attempts, retry_of, event_kind, event_json) \
     SELECT ?, company_id, install_id, plugin, ?, 'queued', ?, ?, ?, ?, id, event_kind, event_json \
     FROM runs WHERE company_id = ? AND id = ? AND ";

const SQLITE_MARK_FINISHED: &str = "UPDATE runs SET status = ?, finished_at = ?, records_written = ?, \
     http_requests = ?, peak_memory_bytes = ?, log_lines = ?, dropped_log_lines = ?, error = ?, \
     note = ?, start_delay_ms = ?, lease_expires_at = NULL WHERE company_id = ? AND id = ? AND ";

/// True while this attempt holds the run: still running, claimed by this host, same attempt.
const SQLITE_HELD: &str = "EXISTS (SELECT 1 FROM runs WHERE company_id = ? AND id = ? \
     AND status = 'running' AND claimed_by = ? AND attempt = ?)";

/// True while the run's install exists.
const SQLITE_INSTALL_EXISTS: &str =
    " AND EXISTS (SELECT 1 FROM installs WHERE company_id = ? AND id = ?)";

/// Counts, in the run's figures, the records it marked deleted: those of its
/// full-refresh streams (a JSON array of them) that now carry its id and a deletion.
const SQLITE_COUNT_DELETED: &str = "UPDATE runs SET records_deleted = (SELECT count(*) FROM records \
     WHERE company_id = ? AND install_id = ? AND stream IN (SELECT value FROM json_each(?)) \
     AND run_id = ? AND deleted_at IS NOT NULL) WHERE company_id = ? AND id = ? AND ";

const POSTGRES_COUNT_DELETED: &str =
    "UPDATE runs SET records_deleted = $1 WHERE company_id = $2 AND id = $3";

/// Marks deleted the records of a full-refresh stream whose keys the run did not emit
/// (a text array of them). An anti-join rather than `NOT (record_key = ANY($6))`: once
/// PostgreSQL caches a generic plan, `ANY` over an array parameter is no longer hashed
/// and compares every record with every key (100,000 of each: 89 s against 0.07 s).
const POSTGRES_MARK_DELETED: &str = "UPDATE records SET deleted_at = $1, updated_at = $1, run_id = $2 \
     WHERE company_id = $3 AND install_id = $4 AND stream = $5 AND deleted_at IS NULL \
     AND NOT EXISTS (SELECT 1 FROM UNNEST($6::text[]) AS emitted (record_key) \
     WHERE emitted.record_key = records.record_key)";

const POSTGRES_UPSERT_RECORDS: &str = "INSERT INTO records \
     (company_id, install_id, stream, record_key, data, run_id, updated_at) \
     SELECT $1, $2, r.stream, r.record_key, r.data, $3, $4 \
     FROM UNNEST($5::text[], $6::text[], $7::text[]) AS r (stream, record_key, data)";

impl Store {
    /// Commits how a run ended, in one transaction with the records it wrote, the state
    /// it leaves (both only when given), the retry it asks for and its last log lines.
    /// Nothing but the log lines is written when this attempt no longer holds the run —
    /// cancelled, or its lease expired and another host took it — or its install is
    /// gone; returns whether it held it.
    pub async fn finish_run(&self, run: &Run, end: RunEnd<'_>) -> Result<bool, StoreError> {
        let commit = Commit {
            run,
            finish: end.finish,
            records: latest_per_key(end.records),
            // Only a run that succeeded saw its streams whole: a failed or rate-limited one
            // stopped part of the way.
            full_refresh: if end.finish.status == "succeeded" {
                end.full_refresh
            } else {
                &[]
            },
            state: end
                .state
                .map(|state| serde_json::to_string(state).unwrap_or_else(|_| "{}".into())),
            retry: end.retry.map(|retry| (retry, new_id("run"))),
            log: end.log,
            now: now_ms(),
        };
        match &self.native {
            NativePool::Sqlite(commits) => {
                let held = commits.write(commit.on_sqlite()?).await? > 0;
                if !end.log.is_empty() {
                    self.lines_kept(&run.company_id);
                }
                Ok(held)
            }
            NativePool::Postgres(pool) => {
                let held = commit.on_postgres(pool).await?;
                if end.log.is_empty() {
                    return Ok(held);
                }
                if held {
                    self.lines_kept(&run.company_id);
                } else {
                    self.append_logs(&run.company_id, &run.install_id, &run.id, end.log)
                        .await?;
                }
                Ok(held)
            }
        }
    }
}

/// What a run leaves behind for its commit.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd<'a> {
    /// How it ended.
    pub finish: &'a RunFinish,
    /// The records it wrote; kept only with the run.
    pub records: &'a [EmittedRecord],
    /// The streams it emitted whole: a sync's full-refresh streams. When the run
    /// succeeded, the records of these streams it did not emit are marked deleted.
    pub full_refresh: &'a [String],
    /// The state it leaves, when it keeps one.
    pub state: Option<&'a BTreeMap<String, String>>,
    /// The next attempt it asks for.
    pub retry: Option<&'a NewRun>,
    /// Its log lines not yet kept, in order; kept whatever the commit finds.
    pub log: &'a [LogLine],
}

impl<'a> RunEnd<'a> {
    /// A run that ends keeping nothing but its log lines.
    pub fn keeping_nothing(finish: &'a RunFinish, log: &'a [LogLine]) -> Self {
        Self {
            finish,
            records: &[],
            full_refresh: &[],
            state: None,
            retry: None,
            log,
        }
    }
}

/// The last emission of each (stream, key): one statement may not upsert a row twice.
fn latest_per_key(records: &[EmittedRecord]) -> Vec<&EmittedRecord> {
    let mut last = HashMap::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        last.insert((record.stream.as_str(), record.key.as_str()), i);
    }
    records
        .iter()
        .enumerate()
        .filter(|(i, r)| last.get(&(r.stream.as_str(), r.key.as_str())) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

/// Everything one run's commit writes.
struct Commit<'a> {
    run: &'a Run,
    finish: &'a RunFinish,
    records: Vec<&'a EmittedRecord>,
    /// The streams whose records the run did not emit are marked deleted.
    full_refresh: &'a [String],
    /// The cursor as stored, when the run keeps one.
    state: Option<String>,
    /// The retry the run asks for, with the id its row gets.
    retry: Option<(&'a NewRun, String)>,
    /// The run's log lines not yet kept.
    log: &'a [LogLine],
    now: i64,
}

/// One statement of the commit on PostgreSQL, before it is bound to a transaction.
type Statement<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

impl Commit<'_> {
    /// The commit as one script for SQLite: records, cursor, retry and the run's end,
    /// each fenced on the claim, the end last and returning a row when the run was held;
    /// then the log lines, unfenced.
    fn on_sqlite(&self) -> Result<Script, StoreError> {
        let mut script = Script::default();
        for chunk in self.records.chunks(SQLITE_RECORDS_PER_INSERT) {
            let full = chunk.len() == SQLITE_RECORDS_PER_INSERT;
            if full {
                script.end_call();
            }
            script.push("WITH emitted (stream, record_key, data) AS (VALUES ");
            push_rows(script.sql(), chunk.len(), 3);
            for record in chunk {
                script.bind(record.stream.clone())?;
                script.bind(record.key.clone())?;
                script.bind(record.json.clone())?;
            }
            script.push(SQLITE_UPSERT_RECORDS);
            script.bind(self.run.company_id.clone())?;
            script.bind(self.run.install_id.clone())?;
            script.bind(self.run.id.clone())?;
            script.bind(self.now)?;
            self.fence(&mut script)?;
            script.push(UPSERT_RECORDS);
            script.push("; ");
            if full {
                script.end_call();
            }
        }
        for stream in self.full_refresh {
            script.push(SQLITE_MARK_DELETED);
            script.bind(self.now)?;
            script.bind(self.now)?;
            script.bind(self.run.id.clone())?;
            script.bind(self.run.company_id.clone())?;
            script.bind(self.run.install_id.clone())?;
            script.bind(stream.clone())?;
            script.bind(
                serde_json::to_string(&self.keys_of(stream)).unwrap_or_else(|_| "[]".into()),
            )?;
            self.fence(&mut script)?;
            script.push("; ");
        }
        if !self.full_refresh.is_empty() {
            // Before the run's end, which the fence needs still running.
            script.push(SQLITE_COUNT_DELETED);
            script.bind(self.run.company_id.clone())?;
            script.bind(self.run.install_id.clone())?;
            script
                .bind(serde_json::to_string(self.full_refresh).unwrap_or_else(|_| "[]".into()))?;
            script.bind(self.run.id.clone())?;
            script.bind(self.run.company_id.clone())?;
            script.bind(self.run.id.clone())?;
            self.fence(&mut script)?;
            script.push("; ");
        }
        if let Some(state) = &self.state {
            script.push(SQLITE_KEEP_STATE);
            script.bind(state.clone())?;
            script.bind(self.run.company_id.clone())?;
            script.bind(self.run.install_id.clone())?;
            self.fence(&mut script)?;
            script.push("; ");
        }
        if let Some((retry, id)) = &self.retry {
            script.push(SQLITE_QUEUE_RETRY);
            script.bind(id.clone())?;
            script.bind(retry.trigger.as_str())?;
            script.bind(self.now)?;
            script.bind(retry.due_at)?;
            script.bind(retry.attempt)?;
            script.bind(retry.max_attempts)?;
            script.bind(self.run.company_id.clone())?;
            script.bind(self.run.id.clone())?;
            self.fence(&mut script)?;
            script.push("; ");
        }
        let finish = self.finish;
        script.push(SQLITE_MARK_FINISHED);
        script.bind(finish.status)?;
        script.bind(finish.finished_at)?;
        script.bind(i64::try_from(self.records.len()).unwrap_or(i64::MAX))?;
        script.bind(finish.http_requests)?;
        script.bind(finish.peak_memory_bytes)?;
        script.bind(finish.log_lines)?;
        script.bind(finish.dropped_log_lines)?;
        script.bind(finish.error.clone())?;
        script.bind(finish.note.clone())?;
        script.bind(finish.start_delay_ms)?;
        script.bind(self.run.company_id.clone())?;
        script.bind(self.run.id.clone())?;
        self.fence(&mut script)?;
        script.push(" RETURNING id; ");
        if !self.log.is_empty() {
            push_lines_on_sqlite(&mut script, self.run_ids(), self.log)?;
        }
        Ok(script)
    }

    /// Ends a statement of the SQLite script with the fence: this attempt holds the run
    /// and, when the run keeps a cursor, its install exists.
    fn fence(&self, script: &mut Script) -> Result<(), StoreError> {
        script.push(SQLITE_HELD);
        script.bind(self.run.company_id.clone())?;
        script.bind(self.run.id.clone())?;
        script.bind(self.run.claimed_by.clone())?;
        script.bind(self.run.attempt)?;
        if self.state.is_some() {
            script.push(SQLITE_INSTALL_EXISTS);
            script.bind(self.run.company_id.clone())?;
            script.bind(self.run.install_id.clone())?;
        }
        Ok(())
    }

    async fn on_postgres(&self, pool: &PgPool) -> Result<bool, StoreError> {
        let mut tx = pool.begin().await?;
        let held = self
            .mark_finished()
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        let kept = match self.keep_state() {
            Some(state) if held => state.execute(&mut *tx).await?.rows_affected() > 0,
            _ => held,
        };
        if !kept {
            tx.rollback().await?;
            return Ok(false);
        }
        let sql = format!("{POSTGRES_UPSERT_RECORDS}{UPSERT_RECORDS}");
        for chunk in self.records.chunks(POSTGRES_RECORDS_PER_INSERT) {
            let column = |field: fn(&EmittedRecord) -> &str| -> Vec<&str> {
                chunk.iter().map(|record| field(record)).collect()
            };
            sqlx::query::<Postgres>(&sql)
                .bind(self.run.company_id.as_str())
                .bind(self.run.install_id.as_str())
                .bind(self.run.id.as_str())
                .bind(self.now)
                .bind(column(|r| r.stream.as_str()))
                .bind(column(|r| r.key.as_str()))
                .bind(column(|r| r.json.as_str()))
                .execute(&mut *tx)
                .await?;
        }
        let mut deleted = 0u64;
        for stream in self.full_refresh {
            deleted += sqlx::query::<Postgres>(POSTGRES_MARK_DELETED)
                .bind(self.now)
                .bind(self.run.id.as_str())
                .bind(self.run.company_id.as_str())
                .bind(self.run.install_id.as_str())
                .bind(stream.as_str())
                .bind(self.keys_of(stream))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        if !self.full_refresh.is_empty() {
            sqlx::query::<Postgres>(POSTGRES_COUNT_DELETED)
                .bind(i64::try_from(deleted).unwrap_or(i64::MAX))
                .bind(self.run.company_id.as_str())
                .bind(self.run.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(retry) = self.queue_retry() {
            retry.execute(&mut *tx).await?;
        }
        if !self.log.is_empty() {
            write_on_postgres(&mut tx, self.run_ids(), self.log).await?;
        }
        tx.commit().await?;
        // The run is committed whatever the notice does: other hosts' viewers then see
        // its last lines at their next look instead of at once.
        if !self.log.is_empty()
            && let Err(error) = notify_on_postgres(pool, &self.run.company_id).await
        {
            tracing::warn!(run = %self.run.id, %error, "cannot tell other hosts of a run's last log lines");
        }
        Ok(true)
    }

    /// The keys the run emitted in `stream`.
    fn keys_of(&self, stream: &str) -> Vec<&str> {
        self.records
            .iter()
            .filter(|record| record.stream == stream)
            .map(|record| record.key.as_str())
            .collect()
    }

    /// The run's company, install and own id, as its log lines carry them.
    fn run_ids(&self) -> [&str; 3] {
        [
            self.run.company_id.as_str(),
            self.run.install_id.as_str(),
            self.run.id.as_str(),
        ]
    }

    /// Ends the run on PostgreSQL, if this attempt still holds it.
    fn mark_finished(&self) -> Statement<'_> {
        let finish = self.finish;
        sqlx::query::<Postgres>(MARK_FINISHED)
            .bind(finish.status)
            .bind(finish.finished_at)
            .bind(i64::try_from(self.records.len()).unwrap_or(i64::MAX))
            .bind(finish.http_requests)
            .bind(finish.peak_memory_bytes)
            .bind(finish.log_lines)
            .bind(finish.dropped_log_lines)
            .bind(finish.error.as_deref())
            .bind(finish.note.as_deref())
            .bind(finish.start_delay_ms)
            .bind(self.run.company_id.as_str())
            .bind(self.run.id.as_str())
            .bind(self.run.claimed_by.as_deref())
            .bind(self.run.attempt)
    }

    /// Keeps the run's cursor on PostgreSQL, when it leaves one; affects no row when the
    /// install is gone.
    fn keep_state(&self) -> Option<Statement<'_>> {
        let state = self.state.as_deref()?;
        Some(
            sqlx::query::<Postgres>(KEEP_STATE)
                .bind(state)
                .bind(self.run.company_id.as_str())
                .bind(self.run.install_id.as_str()),
        )
    }

    /// Queues the next attempt on PostgreSQL, when the run asks for one.
    fn queue_retry(&self) -> Option<Statement<'_>> {
        let (retry, id) = self.retry.as_ref()?;
        Some(
            sqlx::query::<Postgres>(QUEUE_RETRY)
                .bind(id.as_str())
                .bind(retry.trigger.as_str())
                .bind(self.now)
                .bind(retry.due_at)
                .bind(retry.attempt)
                .bind(retry.max_attempts)
                .bind(self.run.company_id.as_str())
                .bind(self.run.id.as_str()),
        )
    }
}
