//! The run queue's moves: claiming due runs under a lease, renewing leases, taking back
//! runs whose host died, and handing runs back when a host stops.
//!
//! An install runs one run at a time (two would race on its cursor): a claim takes at
//! most its oldest due run, and none while one runs. Claims are fair: due runs are ranked
//! within their company (oldest due first) and taken rank by rank, so a company with a
//! thousand due runs gets one slot per round like a company with one; a company never
//! holds more than its concurrency limit of running runs. On PostgreSQL claims take a transaction-scoped advisory lock so the limit holds
//! across hosts, and the rows with `FOR UPDATE SKIP LOCKED` so a claim never waits on a
//! row another transaction holds.

use sqlx::Row as _;

use super::runs::{RUN_COLUMNS, run_of};
use super::{Backend, Run, Store, StoreError, now_ms};

/// The advisory lock key that serialises claims across PostgreSQL hosts.
const CLAIM_LOCK: i64 = 0x736c_7569_6365; // "sluice"

/// The ids of the runs a claim takes, fairest first: the oldest due run of each idle
/// install, ranked within its company, within the company's limit. `now`, `per_company`
/// and `limit` are the numbers of their placeholders.
///
/// Each install's oldest due run is its head: on SQLite the row `MIN(due_at)` comes from
/// in a `GROUP BY install_id` (SQLite takes an aggregate's other columns from the row of
/// its minimum), read in the order of the `runs_queued_by_install` index. A window
/// numbering every queued run did the same in more than twice the time — 12 ms a claim
/// with 5,000 queued runs, most of what a busy SQLite host spent. PostgreSQL has no such
/// rule, and numbers them.
fn candidates(backend: Backend, now: u8, per_company: u8, limit: u8) -> String {
    let heads = match backend {
        Backend::Sqlite => format!(
            "SELECT id, company_id, MIN(due_at) AS due_at FROM runs \
             WHERE status = 'queued' AND due_at <= ${now} \
             AND install_id NOT IN (SELECT install_id FROM busy) GROUP BY install_id"
        ),
        Backend::Postgres => format!(
            "SELECT id, company_id, due_at FROM (\
                SELECT id, company_id, due_at, \
                ROW_NUMBER() OVER (PARTITION BY install_id ORDER BY due_at, id) AS install_rank \
                FROM runs WHERE status = 'queued' AND due_at <= ${now} \
                AND install_id NOT IN (SELECT install_id FROM busy)\
            ) AS queued WHERE install_rank = 1"
        ),
    };
    format!(
        "WITH active AS (\
            SELECT company_id, COUNT(*) AS n FROM runs WHERE status = 'running' GROUP BY company_id\
        ), busy AS (\
            SELECT DISTINCT install_id FROM runs WHERE status = 'running'\
        ), eligible AS ({heads}), ranked AS (\
            SELECT id, company_id, due_at, \
            ROW_NUMBER() OVER (PARTITION BY company_id ORDER BY due_at, id) AS company_rank \
            FROM eligible\
        ) \
        SELECT ranked.id FROM ranked LEFT JOIN active ON active.company_id = ranked.company_id \
        WHERE ranked.company_rank + COALESCE(active.n, 0) <= ${per_company} \
        ORDER BY ranked.company_rank, ranked.due_at, ranked.id LIMIT ${limit}"
    )
}

/// What a claim asks for.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    /// The claiming host.
    pub host: &'a str,
    /// At most this many runs.
    pub limit: i64,
    /// At most this many running runs per company, the claimed ones included.
    pub per_company: i64,
    /// How long the lease lasts unless renewed, in milliseconds.
    pub lease_ms: i64,
}

/// What taking back expired leases did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Runs queued again for another attempt.
    pub requeued: u64,
    /// Runs failed because that was their last attempt.
    pub failed: u64,
}

impl Store {
    /// Claims due runs for `claim.host`: they become `running` under a lease.
    pub async fn claim_runs(&self, claim: &Claim<'_>) -> Result<Vec<Run>, StoreError> {
        let now = now_ms();
        let claimed = |chosen: &str| {
            format!(
                "UPDATE runs SET status = 'running', claimed_by = $1, started_at = $2, lease_expires_at = $3 \
                 WHERE id IN ({chosen}) AND status = 'queued' RETURNING {RUN_COLUMNS}"
            )
        };
        let rows = match self.backend {
            Backend::Sqlite => {
                // One host per SQLite file, and only its claimer starts runs: the choice
                // cannot go stale before the update, so it is read outside the writer
                // slot, and commits go on while the claim ranks the queue.
                let chosen: Vec<(String,)> = sqlx::query_as(&candidates(Backend::Sqlite, 1, 2, 3))
                    .bind(now)
                    .bind(claim.per_company)
                    .bind(claim.limit)
                    .fetch_all(&self.pool)
                    .await?;
                if chosen.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = (4..4 + chosen.len()).map(|n| format!("${n}")).collect();
                let sql = claimed(&ids.join(", "));
                let mut query = sqlx::query(&sql)
                    .bind(claim.host)
                    .bind(now)
                    .bind(now + claim.lease_ms);
                for (id,) in &chosen {
                    query = query.bind(id.as_str());
                }
                let _writer = self.writer().await;
                query.fetch_all(&self.pool).await?
            }
            Backend::Postgres => {
                let sql = claimed(&format!(
                    "SELECT id FROM runs WHERE id IN ({}) AND status = 'queued' FOR UPDATE SKIP LOCKED",
                    candidates(Backend::Postgres, 2, 4, 5)
                ));
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(CLAIM_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let rows = sqlx::query(&sql)
                    .bind(claim.host)
                    .bind(now)
                    .bind(now + claim.lease_ms)
                    .bind(claim.per_company)
                    .bind(claim.limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows
            }
        };
        let mut runs = rows.iter().map(run_of).collect::<Result<Vec<_>, _>>()?;
        // RETURNING gives no order; start the fairest first.
        runs.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.id.cmp(&b.id)));
        Ok(runs)
    }

    /// The event a claimed run handles: its kind and payload, when it handles one.
    pub async fn run_event(&self, run: &Run) -> Result<Option<(String, String)>, StoreError> {
        if run.event_kind.is_none() {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT event_kind, event_json FROM runs WHERE company_id = $1 AND id = $2",
        )
        .bind(&run.company_id)
        .bind(&run.id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => match (
                row.try_get::<Option<String>, _>("event_kind")?,
                row.try_get::<Option<String>, _>("event_json")?,
            ) {
                (Some(kind), Some(json)) => Some((kind, json)),
                _ => None,
            },
            None => None,
        })
    }

    /// Renews the leases of the runs `host` is running; the ids it still holds. A run it
    /// no longer holds was cancelled, or taken back after its lease expired.
    pub async fn renew_leases(&self, host: &str, lease_ms: i64) -> Result<Vec<String>, StoreError> {
        let _writer = self.writer().await;
        let rows = sqlx::query(
            "UPDATE runs SET lease_expires_at = $1 WHERE claimed_by = $2 AND status = 'running' RETURNING id",
        )
        .bind(now_ms() + lease_ms)
        .bind(host)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| row.try_get("id").map_err(StoreError::from))
            .collect()
    }

    /// Takes back runs whose lease expired (their host died or stalled): queued again
    /// with their attempt raised, or failed when that was their last attempt.
    pub async fn reclaim_expired(&self) -> Result<Reclaimed, StoreError> {
        let now = now_ms();
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let failed = sqlx::query(
            "UPDATE runs SET status = 'failed', finished_at = $1, lease_expires_at = NULL, \
             error = 'its host stopped answering before the run finished, on its last attempt; nothing it wrote was kept' \
             WHERE status = 'running' AND lease_expires_at < $1 AND attempt >= max_attempts",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let requeued = sqlx::query(
            "UPDATE runs SET status = 'queued', attempt = attempt + 1, claimed_by = NULL, \
             lease_expires_at = NULL, started_at = NULL, due_at = $1 \
             WHERE status = 'running' AND lease_expires_at < $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Reclaimed {
            requeued: requeued.rows_affected(),
            failed: failed.rows_affected(),
        })
    }

    /// Hands the runs `host` still holds back to the queue as they are (the host is
    /// stopping), so another host takes them at once instead of waiting for the lease.
    pub async fn hand_back_runs(&self, host: &str) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        let updated = sqlx::query(
            "UPDATE runs SET status = 'queued', claimed_by = NULL, lease_expires_at = NULL, \
             started_at = NULL, due_at = $1 WHERE claimed_by = $2 AND status = 'running'",
        )
        .bind(now_ms())
        .bind(host)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected())
    }

    /// When the earliest queued run is due, if any is queued.
    pub async fn next_due_run(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MIN(due_at) AS due FROM runs WHERE status = 'queued'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("due")?)
    }

    /// Runs in flight per host.
    pub async fn runs_in_flight(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT claimed_by, COUNT(*) AS n FROM runs WHERE status = 'running' AND claimed_by IS NOT NULL \
             GROUP BY claimed_by",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("claimed_by")?, row.try_get("n")?)))
            .collect()
    }
}
