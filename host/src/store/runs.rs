//! Runs: their history, and the one transaction that commits a run's records, cursor and
//! status together.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row as _;

use super::{
    Arg, Conditions, Store, StoreError, new_id, now_ms, page_size, push_values, rfc3339,
    rfc3339_opt,
};
use crate::runtime::EmittedRecord;

/// Rows per multi-row `INSERT` of records: 7 values each stays far below both databases'
/// limits on bound parameters.
const RECORDS_PER_STATEMENT: usize = 500;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunTrigger {
    /// Someone started it by hand.
    Manual,
    /// Its schedule was due.
    Schedule,
    /// A webhook or interaction.
    Webhook,
}

impl RunTrigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::Webhook => "webhook",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "schedule" => Self::Schedule,
            "webhook" => Self::Webhook,
            _ => Self::Manual,
        }
    }
}

/// A run as its history shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Run {
    /// Its id.
    pub id: String,
    /// The install it ran.
    pub install_id: String,
    /// The connector.
    pub plugin: String,
    /// What started it.
    pub trigger: RunTrigger,
    /// `queued`, `running`, `succeeded`, `rate_limited`, `failed` or `cancelled`.
    pub status: String,
    /// When it was asked for.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// When it started.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<i64>,
    /// When it ended.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<i64>,
    /// Records it wrote.
    pub records_written: i64,
    /// Outbound HTTP requests it made.
    pub http_requests: i64,
    /// The most memory its instance used, in bytes.
    pub peak_memory_bytes: i64,
    /// Log lines kept.
    pub log_lines: i64,
    /// Log lines dropped over the run's budget.
    pub dropped_log_lines: i64,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// The connector's note.
    pub note: Option<String>,
}

/// How a run ended, to commit.
#[derive(Debug, Clone)]
pub struct RunFinish {
    /// `succeeded`, `rate_limited` or `failed`.
    pub status: &'static str,
    /// Why it did not succeed, already redacted.
    pub error: Option<String>,
    /// The connector's note, already redacted.
    pub note: Option<String>,
    /// Outbound HTTP requests.
    pub http_requests: i64,
    /// Peak memory in bytes.
    pub peak_memory_bytes: i64,
    /// Log lines kept.
    pub log_lines: i64,
    /// Log lines dropped.
    pub dropped_log_lines: i64,
}

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only this install's.
    pub install: Option<String>,
    /// Only runs with this status.
    pub status: Option<String>,
    /// Only runs older than this run id (the previous page's cursor).
    pub before: Option<String>,
    /// At most this many.
    pub limit: Option<i64>,
}

const RUN_COLUMNS: &str = "id, install_id, plugin, triggered_by, status, created_at, started_at, \
     finished_at, records_written, http_requests, peak_memory_bytes, log_lines, dropped_log_lines, error, note";

fn run_of(row: &sqlx::any::AnyRow) -> Result<Run, StoreError> {
    Ok(Run {
        id: row.try_get("id")?,
        install_id: row.try_get("install_id")?,
        plugin: row.try_get("plugin")?,
        trigger: RunTrigger::parse(&row.try_get::<String, _>("triggered_by")?),
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        records_written: row.try_get("records_written")?,
        http_requests: row.try_get("http_requests")?,
        peak_memory_bytes: row.try_get("peak_memory_bytes")?,
        log_lines: row.try_get("log_lines")?,
        dropped_log_lines: row.try_get("dropped_log_lines")?,
        error: row.try_get("error")?,
        note: row.try_get("note")?,
    })
}

/// The last emission of each (stream, key): one statement may not upsert a row twice.
fn latest_per_key(records: &[EmittedRecord]) -> Vec<&EmittedRecord> {
    let mut last = std::collections::HashMap::with_capacity(records.len());
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

impl Store {
    /// Queues a run of an install.
    pub async fn create_run(
        &self,
        company: &str,
        install: &str,
        plugin: &str,
        trigger: RunTrigger,
    ) -> Result<Run, StoreError> {
        let id = new_id("run");
        sqlx::query(
            "INSERT INTO runs (id, company_id, install_id, plugin, triggered_by, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', $6)",
        )
        .bind(&id)
        .bind(company)
        .bind(install)
        .bind(plugin)
        .bind(trigger.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        self.run(company, &id)
            .await?
            .ok_or_else(|| StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// Marks a queued run as running; false when it is no longer queued.
    pub async fn start_run(&self, company: &str, id: &str) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE runs SET status = 'running', started_at = $1 \
             WHERE company_id = $2 AND id = $3 AND status = 'queued'",
        )
        .bind(now_ms())
        .bind(company)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Commits how a run ended, in one transaction with the records it wrote and the state
    /// it leaves (both only when given). Nothing is written when the run is no longer
    /// running (cancelled by an uninstall) or its install is gone; returns whether it was.
    pub async fn finish_run(
        &self,
        company: &str,
        run: &Run,
        finish: &RunFinish,
        records: &[EmittedRecord],
        state: Option<&BTreeMap<String, String>>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let records = latest_per_key(records);
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE runs SET status = $1, finished_at = $2, records_written = $3, http_requests = $4, \
             peak_memory_bytes = $5, log_lines = $6, dropped_log_lines = $7, error = $8, note = $9 \
             WHERE company_id = $10 AND id = $11 AND status = 'running'",
        )
        .bind(finish.status)
        .bind(now)
        .bind(i64::try_from(records.len()).unwrap_or(i64::MAX))
        .bind(finish.http_requests)
        .bind(finish.peak_memory_bytes)
        .bind(finish.log_lines)
        .bind(finish.dropped_log_lines)
        .bind(finish.error.clone())
        .bind(finish.note.clone())
        .bind(company)
        .bind(&run.id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(state) = state {
            let text = serde_json::to_string(state).unwrap_or_else(|_| "{}".into());
            let kept =
                sqlx::query("UPDATE installs SET state = $1 WHERE company_id = $2 AND id = $3")
                    .bind(text)
                    .bind(company)
                    .bind(&run.install_id)
                    .execute(&mut *tx)
                    .await?;
            if kept.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        for chunk in records.chunks(RECORDS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO records (company_id, install_id, stream, record_key, data, run_id, updated_at) VALUES ",
            );
            push_values(&mut sql, chunk.len(), 7);
            sql.push_str(
                " ON CONFLICT (company_id, install_id, stream, record_key) DO UPDATE SET \
                 data = excluded.data, run_id = excluded.run_id, updated_at = excluded.updated_at",
            );
            let mut query = sqlx::query(&sql);
            for record in chunk {
                query = query
                    .bind(company)
                    .bind(&run.install_id)
                    .bind(&record.stream)
                    .bind(&record.key)
                    .bind(&record.json)
                    .bind(&run.id)
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Cancels an install's queued and running runs (it was uninstalled).
    pub async fn cancel_runs(&self, company: &str, install: &str) -> Result<u64, StoreError> {
        let updated = sqlx::query(
            "UPDATE runs SET status = 'cancelled', finished_at = $1, error = 'the install was removed' \
             WHERE company_id = $2 AND install_id = $3 AND status IN ('queued', 'running')",
        )
        .bind(now_ms())
        .bind(company)
        .bind(install)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected())
    }

    /// Runs a stopped host left unfinished, marked failed when it starts again.
    pub async fn fail_abandoned_runs(&self) -> Result<u64, StoreError> {
        let updated = sqlx::query(
            "UPDATE runs SET status = 'failed', finished_at = $1, \
             error = 'the host stopped before the run finished; nothing it wrote was kept' \
             WHERE status IN ('queued', 'running')",
        )
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected())
    }

    /// One of a company's runs.
    pub async fn run(&self, company: &str, id: &str) -> Result<Option<Run>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE company_id = $1 AND id = $2"
        ))
        .bind(company)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(run_of).transpose()
    }

    /// A company's runs, newest first.
    pub async fn runs(&self, company: &str, filter: &RunFilter) -> Result<Vec<Run>, StoreError> {
        let mut conditions = Conditions::default();
        conditions.push("company_id = ?", Arg::Text(company.to_owned()));
        if let Some(install) = &filter.install {
            conditions.push("install_id = ?", Arg::Text(install.clone()));
        }
        if let Some(status) = &filter.status {
            conditions.push("status = ?", Arg::Text(status.clone()));
        }
        if let Some(before) = &filter.before {
            conditions.push("id < ?", Arg::Text(before.clone()));
        }
        let limit = conditions.next_placeholder();
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs {} ORDER BY id DESC LIMIT {limit}",
            conditions.sql()
        );
        let rows = conditions
            .bind(sqlx::query(&sql))
            .bind(page_size(filter.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run_of).collect()
    }
}
