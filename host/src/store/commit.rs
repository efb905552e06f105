//! The one transaction that commits a run: how it ended, the records it wrote, the cursor
//! it leaves and the retry it asks for — all of it or none, and only while this attempt
//! still holds the run.
//!
//! Records are most of what the store ever writes, so they go through each database's own
//! driver the way that database takes rows fastest: SQLite in multi-row VALUES with
//! anonymous placeholders, PostgreSQL as three array parameters unnested into one INSERT.
//! Each record's JSON is kept as the bytes the connector produced; the runtime checked it.
//!
//! The run's last log lines go into the same transaction: a short run then costs the
//! database one commit, not two, and a reader who sees the run finished sees all of its
//! log. They are kept even when the commit keeps nothing else.

use std::collections::{BTreeMap, HashMap};

use sqlx::postgres::{PgPool, Postgres};
use sqlx::sqlite::{Sqlite, SqlitePool};
use sqlx::{Database, Encode, Type};

use super::logs::{notify_on_postgres, write_on_postgres, write_on_sqlite};
use super::native::NativePool;
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

const UPSERT_RECORDS: &str = " ON CONFLICT (company_id, install_id, stream, record_key) DO UPDATE SET \
     data = excluded.data, run_id = excluded.run_id, updated_at = excluded.updated_at";

/// The rest of SQLite's upsert after the emitted rows: the values every record of the run
/// shares are bound once, after the rows' own (anonymous placeholders count from the left).
/// `WHERE true` tells SQLite's parser the `ON` that follows starts the upsert, not a join.
const SQLITE_UPSERT_RECORDS: &str = ") INSERT INTO records \
     (company_id, install_id, stream, record_key, data, run_id, updated_at) \
     SELECT ?, ?, stream, record_key, data, ?, ? FROM emitted WHERE true";

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
            state: end
                .state
                .map(|state| serde_json::to_string(state).unwrap_or_else(|_| "{}".into())),
            retry: end.retry.map(|retry| (retry, new_id("run"))),
            log: end.log,
            now: now_ms(),
        };
        let held = {
            let _writer = self.writer().await;
            match &self.native {
                NativePool::Sqlite(pool) => commit.on_sqlite(pool).await?,
                NativePool::Postgres(pool) => commit.on_postgres(pool).await?,
            }
        };
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

/// What a run leaves behind for its commit.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd<'a> {
    /// How it ended.
    pub finish: &'a RunFinish,
    /// The records it wrote; kept only with the run.
    pub records: &'a [EmittedRecord],
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
    /// The cursor as stored, when the run keeps one.
    state: Option<String>,
    /// The retry the run asks for, with the id its row gets.
    retry: Option<(&'a NewRun, String)>,
    /// The run's log lines not yet kept.
    log: &'a [LogLine],
    now: i64,
}

/// One statement of the commit, before it is bound to a database's transaction.
type Statement<'q, DB> = sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>;

impl Commit<'_> {
    async fn on_sqlite(&self, pool: &SqlitePool) -> Result<bool, StoreError> {
        let mut tx = pool.begin().await?;
        let held = self
            .mark_finished::<Sqlite>()
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        let kept = match self.keep_state::<Sqlite>() {
            Some(state) if held => state.execute(&mut *tx).await?.rows_affected() > 0,
            _ => held,
        };
        if !kept {
            tx.rollback().await?;
            return Ok(false);
        }
        let mut sql = String::new();
        for chunk in self.records.chunks(SQLITE_RECORDS_PER_INSERT) {
            sql.clear();
            sql.push_str("WITH emitted (stream, record_key, data) AS (VALUES ");
            push_rows(&mut sql, chunk.len(), 3);
            sql.push_str(SQLITE_UPSERT_RECORDS);
            sql.push_str(UPSERT_RECORDS);
            let mut query = sqlx::query::<Sqlite>(&sql);
            for record in chunk {
                query = query
                    .bind(record.stream.as_str())
                    .bind(record.key.as_str())
                    .bind(record.json.as_str());
            }
            query
                .bind(self.run.company_id.as_str())
                .bind(self.run.install_id.as_str())
                .bind(self.run.id.as_str())
                .bind(self.now)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(retry) = self.queue_retry::<Sqlite>() {
            retry.execute(&mut *tx).await?;
        }
        if !self.log.is_empty() {
            write_on_sqlite(&mut tx, self.run_ids(), self.log).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn on_postgres(&self, pool: &PgPool) -> Result<bool, StoreError> {
        let mut tx = pool.begin().await?;
        let held = self
            .mark_finished::<Postgres>()
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        let kept = match self.keep_state::<Postgres>() {
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
        if let Some(retry) = self.queue_retry::<Postgres>() {
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

    /// The run's company, install and own id, as its log lines carry them.
    fn run_ids(&self) -> [&str; 3] {
        [
            self.run.company_id.as_str(),
            self.run.install_id.as_str(),
            self.run.id.as_str(),
        ]
    }

    /// Ends the run, if this attempt still holds it.
    fn mark_finished<'q, DB>(&'q self) -> Statement<'q, DB>
    where
        DB: Database,
        &'q str: Encode<'q, DB> + Type<DB>,
        Option<&'q str>: Encode<'q, DB> + Type<DB>,
        i64: Encode<'q, DB> + Type<DB>,
        Option<i64>: Encode<'q, DB> + Type<DB>,
    {
        let finish = self.finish;
        sqlx::query::<DB>(MARK_FINISHED)
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

    /// Keeps the run's cursor, when it leaves one; affects no row when the install is gone.
    fn keep_state<'q, DB>(&'q self) -> Option<Statement<'q, DB>>
    where
        DB: Database,
        &'q str: Encode<'q, DB> + Type<DB>,
    {
        let state = self.state.as_deref()?;
        Some(
            sqlx::query::<DB>(KEEP_STATE)
                .bind(state)
                .bind(self.run.company_id.as_str())
                .bind(self.run.install_id.as_str()),
        )
    }

    /// Queues the next attempt, when the run asks for one.
    fn queue_retry<'q, DB>(&'q self) -> Option<Statement<'q, DB>>
    where
        DB: Database,
        &'q str: Encode<'q, DB> + Type<DB>,
        i64: Encode<'q, DB> + Type<DB>,
    {
        let (retry, id) = self.retry.as_ref()?;
        Some(
            sqlx::query::<DB>(QUEUE_RETRY)
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
