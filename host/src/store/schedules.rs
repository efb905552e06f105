//! Schedules: when each install runs by itself, and the next slot not yet enqueued.
//!
//! Several hosts may look at the same due schedule; the one whose compare-and-set moves
//! `next_due_at` on enqueues the slot, in the same transaction, and the unique key on
//! (install, slot) in `runs` keeps even a lost race from enqueuing it twice.

use sqlx::Row as _;

use super::runs::NewRun;
use super::{Store, StoreError, now_ms};

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchedule {
    /// The install it runs.
    pub install_id: String,
    /// The company of the install.
    pub company_id: String,
    /// A cron expression, when it is one.
    pub cron: Option<String>,
    /// A fixed interval in milliseconds, when it is one.
    pub interval_ms: Option<i64>,
    /// The IANA timezone the cron expression is read in.
    pub timezone: String,
    /// Whether it runs.
    pub enabled: bool,
    /// `skip` or `queue_one`.
    pub overlap: String,
    /// The most a run is delayed past its slot, in milliseconds.
    pub jitter_ms: i64,
    /// The next slot not yet enqueued.
    pub next_due_at: Option<i64>,
    /// When it was set.
    pub created_at: i64,
    /// When it was last changed.
    pub updated_at: i64,
}

const SCHEDULE_COLUMNS: &str = "install_id, company_id, cron, interval_ms, timezone, enabled, \
     overlap, jitter_ms, next_due_at, created_at, updated_at";

fn schedule_of(row: &sqlx::any::AnyRow) -> Result<StoredSchedule, StoreError> {
    Ok(StoredSchedule {
        install_id: row.try_get("install_id")?,
        company_id: row.try_get("company_id")?,
        cron: row.try_get("cron")?,
        interval_ms: row.try_get("interval_ms")?,
        timezone: row.try_get("timezone")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        overlap: row.try_get("overlap")?,
        jitter_ms: row.try_get("jitter_ms")?,
        next_due_at: row.try_get("next_due_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Sets (or replaces) an install's schedule.
    pub async fn put_schedule(
        &self,
        schedule: &StoredSchedule,
    ) -> Result<StoredSchedule, StoreError> {
        let now = now_ms();
        let writer = self.writer().await;
        sqlx::query(
            "INSERT INTO schedules (install_id, company_id, cron, interval_ms, timezone, enabled, overlap, \
             jitter_ms, next_due_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (install_id) DO UPDATE SET cron = excluded.cron, interval_ms = excluded.interval_ms, \
             timezone = excluded.timezone, enabled = excluded.enabled, overlap = excluded.overlap, \
             jitter_ms = excluded.jitter_ms, next_due_at = excluded.next_due_at, updated_at = excluded.updated_at",
        )
        .bind(&schedule.install_id)
        .bind(&schedule.company_id)
        .bind(schedule.cron.clone())
        .bind(schedule.interval_ms)
        .bind(&schedule.timezone)
        .bind(i64::from(schedule.enabled))
        .bind(&schedule.overlap)
        .bind(schedule.jitter_ms)
        .bind(schedule.next_due_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        drop(writer);
        self.schedule(&schedule.company_id, &schedule.install_id)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// An install's schedule.
    pub async fn schedule(
        &self,
        company: &str,
        install: &str,
    ) -> Result<Option<StoredSchedule>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE company_id = $1 AND install_id = $2"
        ))
        .bind(company)
        .bind(install)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(schedule_of).transpose()
    }

    /// Removes an install's schedule; false when it had none.
    pub async fn delete_schedule(&self, company: &str, install: &str) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let deleted =
            sqlx::query("DELETE FROM schedules WHERE company_id = $1 AND install_id = $2")
                .bind(company)
                .bind(install)
                .execute(&self.pool)
                .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Enabled schedules whose next slot is at or before `now`, oldest first.
    pub async fn due_schedules(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<StoredSchedule>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE enabled = 1 AND next_due_at <= $1 \
             ORDER BY next_due_at LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(schedule_of).collect()
    }

    /// When the earliest enabled schedule is next due.
    pub async fn next_due_schedule(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MIN(next_due_at) AS due FROM schedules WHERE enabled = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("due")?)
    }

    /// Moves a schedule from the slot `from` to `to`, enqueuing `run` (when given) in the
    /// same transaction. False when another host moved it first: then nothing is written.
    pub async fn advance_schedule(
        &self,
        schedule: &StoredSchedule,
        from: i64,
        to: Option<i64>,
        run: Option<&NewRun>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE schedules SET next_due_at = $1 WHERE company_id = $2 AND install_id = $3 AND next_due_at = $4",
        )
        .bind(to)
        .bind(&schedule.company_id)
        .bind(&schedule.install_id)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(run) = run {
            sqlx::query(
                "INSERT INTO runs (id, company_id, install_id, plugin, triggered_by, status, created_at, \
                 due_at, scheduled_for, attempt, max_attempts) \
                 VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10) \
                 ON CONFLICT (install_id, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING",
            )
            .bind(super::new_id("run"))
            .bind(&schedule.company_id)
            .bind(&run.install_id)
            .bind(&run.plugin)
            .bind(run.trigger.as_str())
            .bind(now_ms())
            .bind(run.due_at)
            .bind(run.scheduled_for)
            .bind(run.attempt)
            .bind(run.max_attempts)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
