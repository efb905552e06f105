//! Runs: the queue's rows as their history shows them, enqueueing and cancelling.

use serde::Serialize;
use sqlx::Row as _;

use super::{Arg, Conditions, Store, StoreError, new_id, now_ms, page_size, rfc3339, rfc3339_opt};

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// Someone started it by hand.
    Manual,
    /// Its schedule was due.
    Schedule,
    /// Its schedule was missed while no host ran; one run stands for every missed slot.
    CatchUp,
    /// An earlier attempt failed with an error worth retrying.
    Retry,
    /// A webhook or interaction.
    Webhook,
}

impl RunTrigger {
    /// The trigger as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::CatchUp => "catch_up",
            Self::Retry => "retry",
            Self::Webhook => "webhook",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "schedule" => Self::Schedule,
            "catch_up" => Self::CatchUp,
            "retry" => Self::Retry,
            "webhook" => Self::Webhook,
            _ => Self::Manual,
        }
    }
}

/// What a run calls on its connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunCall {
    /// A sync.
    Sync,
    /// An event: its kind (`<service>.<type>`) and its payload as JSON text.
    Event {
        /// `<service>.<type>`.
        kind: String,
        /// The payload.
        json: String,
    },
}

impl RunCall {
    /// What the runtime calls for it.
    pub fn runtime_call(&self) -> crate::runtime::Call {
        match self {
            Self::Sync => crate::runtime::Call::Sync,
            Self::Event { kind, json } => crate::runtime::Call::Event {
                kind: kind.clone(),
                json: json.clone(),
            },
        }
    }
}

/// A run as its history shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Run {
    /// Its id.
    pub id: String,
    /// The company it belongs to.
    pub company_id: String,
    /// The install it ran.
    pub install_id: String,
    /// The connector.
    pub plugin: String,
    /// What started it.
    pub trigger: RunTrigger,
    /// `queued`, `running`, `succeeded`, `rate_limited`, `failed` or `cancelled`.
    pub status: String,
    /// Which attempt this is, from 1.
    pub attempt: i64,
    /// How many attempts it gets before it stays failed.
    pub max_attempts: i64,
    /// When it was asked for.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// When it may start: now for a manual run, the slot (plus jitter) for a scheduled
    /// one, the end of the backoff for a retry.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub due_at: i64,
    /// The schedule slot it stands for, when its schedule started it.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scheduled_for: Option<i64>,
    /// The host that claimed it last.
    pub claimed_by: Option<String>,
    /// When a host claimed it.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<i64>,
    /// From its due time to the connector's entry, in milliseconds.
    pub start_delay_ms: Option<i64>,
    /// When it ended.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<i64>,
    /// The run this one retries.
    pub retry_of: Option<String>,
    /// The event it handles, when it handles one (`<service>.<type>`).
    pub event_kind: Option<String>,
    /// Records it emitted and kept, one per stream and key; those emitted unchanged
    /// count too, though the store did not write them again.
    pub records_written: i64,
    /// Records it marked deleted: those of its full-refresh streams it did not emit.
    pub records_deleted: i64,
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

/// A run to put in the queue.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The install to run.
    pub install_id: String,
    /// Its connector.
    pub plugin: String,
    /// What starts it.
    pub trigger: RunTrigger,
    /// What it calls.
    pub call: RunCall,
    /// When it may start.
    pub due_at: i64,
    /// The schedule slot it stands for; a slot is enqueued once per install.
    pub scheduled_for: Option<i64>,
    /// Its attempt, from 1.
    pub attempt: i64,
    /// How many attempts it gets.
    pub max_attempts: i64,
    /// The run it retries.
    pub retry_of: Option<String>,
}

/// How a run ended, to commit.
#[derive(Debug, Clone)]
pub struct RunFinish {
    /// `succeeded`, `rate_limited` or `failed`.
    pub status: &'static str,
    /// When it ended (ms): its connector returned, or it could not start. A retry's wait
    /// counts from here.
    pub finished_at: i64,
    /// Why it did not succeed, already redacted.
    pub error: Option<String>,
    /// The connector's note, already redacted.
    pub note: Option<String>,
    /// From the due time to the connector's entry, when it was entered.
    pub start_delay_ms: Option<i64>,
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

/// The columns [`run_of`] reads.
pub(super) const RUN_COLUMNS: &str = "id, company_id, install_id, plugin, triggered_by, status, attempt, \
     max_attempts, created_at, due_at, scheduled_for, claimed_by, started_at, start_delay_ms, finished_at, \
     retry_of, event_kind, records_written, records_deleted, http_requests, peak_memory_bytes, log_lines, dropped_log_lines, \
     error, note";

/// A run from a row of [`RUN_COLUMNS`].
pub(super) fn run_of(row: &sqlx::any::AnyRow) -> Result<Run, StoreError> {
    Ok(Run {
        id: row.try_get("id")?,
        company_id: row.try_get("company_id")?,
        install_id: row.try_get("install_id")?,
        plugin: row.try_get("plugin")?,
        trigger: RunTrigger::parse(&row.try_get::<String, _>("triggered_by")?),
        status: row.try_get("status")?,
        attempt: row.try_get("attempt")?,
        max_attempts: row.try_get("max_attempts")?,
        created_at: row.try_get("created_at")?,
        due_at: row.try_get("due_at")?,
        scheduled_for: row.try_get("scheduled_for")?,
        claimed_by: row.try_get("claimed_by")?,
        started_at: row.try_get("started_at")?,
        start_delay_ms: row.try_get("start_delay_ms")?,
        finished_at: row.try_get("finished_at")?,
        retry_of: row.try_get("retry_of")?,
        event_kind: row.try_get("event_kind")?,
        records_written: row.try_get("records_written")?,
        records_deleted: row.try_get("records_deleted")?,
        http_requests: row.try_get("http_requests")?,
        peak_memory_bytes: row.try_get("peak_memory_bytes")?,
        log_lines: row.try_get("log_lines")?,
        dropped_log_lines: row.try_get("dropped_log_lines")?,
        error: row.try_get("error")?,
        note: row.try_get("note")?,
    })
}

/// Inserts a queued run with the id `id`; false when its schedule slot is already
/// queued. Shared by a single enqueue and a webhook delivery's transaction.
pub(super) async fn insert_run<'e, E>(
    executor: E,
    id: &str,
    company: &str,
    run: &NewRun,
) -> Result<bool, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (event_kind, event_json) = match &run.call {
        RunCall::Sync => (None, None),
        RunCall::Event { kind, json } => (Some(kind.clone()), Some(json.clone())),
    };
    let inserted = sqlx::query(
        "INSERT INTO runs (id, company_id, install_id, plugin, triggered_by, status, created_at, \
         due_at, scheduled_for, attempt, max_attempts, retry_of, event_kind, event_json) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (install_id, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING",
    )
    .bind(id)
    .bind(company)
    .bind(&run.install_id)
    .bind(&run.plugin)
    .bind(run.trigger.as_str())
    .bind(now_ms())
    .bind(run.due_at)
    .bind(run.scheduled_for)
    .bind(run.attempt)
    .bind(run.max_attempts)
    .bind(run.retry_of.clone())
    .bind(event_kind)
    .bind(event_json)
    .execute(executor)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

impl Store {
    /// Puts a run in the queue. A scheduled slot already enqueued (by this host or
    /// another) is not enqueued again: then `None`.
    pub async fn enqueue_run(
        &self,
        company: &str,
        run: &NewRun,
    ) -> Result<Option<Run>, StoreError> {
        let id = new_id("run");
        let writer = self.writer().await;
        let inserted = insert_run(&self.pool, &id, company, run).await?;
        drop(writer);
        if !inserted {
            return Ok(None);
        }
        self.run(company, &id).await
    }

    /// Cancels an install's queued and running runs (it was uninstalled); the hosts
    /// running them stop them when they next renew their leases.
    pub async fn cancel_runs(&self, company: &str, install: &str) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        let updated = sqlx::query(
            "UPDATE runs SET status = 'cancelled', finished_at = $1, lease_expires_at = NULL, \
             error = 'the install was removed' \
             WHERE company_id = $2 AND install_id = $3 AND status IN ('queued', 'running')",
        )
        .bind(now_ms())
        .bind(company)
        .bind(install)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected())
    }

    /// Cancels one queued or running run; false when it had already ended (or is not the
    /// company's). The host running it stops it when it next renews its leases.
    pub async fn cancel_run(&self, company: &str, id: &str, by: &str) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let updated = sqlx::query(
            "UPDATE runs SET status = 'cancelled', finished_at = $1, lease_expires_at = NULL, error = $2 \
             WHERE company_id = $3 AND id = $4 AND status IN ('queued', 'running')",
        )
        .bind(now_ms())
        .bind(format!("cancelled by {by}; nothing it wrote was kept"))
        .bind(company)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Whether an install has a run queued or running, and whether one is queued.
    pub async fn active_runs(
        &self,
        company: &str,
        install: &str,
    ) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS active, COALESCE(SUM(CASE WHEN status = 'queued' THEN 1 ELSE 0 END), 0) AS queued \
             FROM runs WHERE company_id = $1 AND install_id = $2 AND status IN ('queued', 'running')",
        )
        .bind(company)
        .bind(install)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("active")?, row.try_get("queued")?))
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
