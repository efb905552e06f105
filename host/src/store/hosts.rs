//! Hosts: every `sluice serve` process on this database, with a heartbeat, so admins see
//! which are alive and what each is running.

use serde::Serialize;
use sqlx::Row as _;

use super::{Store, StoreError, now_ms, rfc3339, rfc3339_opt};

/// A host as `GET /api/hosts` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostInfo {
    /// Its id, as runs name it in `claimed_by`.
    pub id: String,
    /// Where it runs: machine name and process id.
    pub name: String,
    /// When it started.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: i64,
    /// Its last heartbeat.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub heartbeat_at: i64,
    /// When it stopped cleanly, if it did.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub stopped_at: Option<i64>,
    /// Whether it is alive: not stopped, and its heartbeat is recent.
    pub alive: bool,
    /// The runs it holds now.
    pub runs_in_flight: i64,
}

impl Store {
    /// Registers a starting host.
    pub async fn register_host(&self, id: &str, name: &str) -> Result<(), StoreError> {
        let now = now_ms();
        let _writer = self.writer().await;
        sqlx::query(
            "INSERT INTO hosts (id, name, started_at, heartbeat_at) VALUES ($1, $2, $3, $3)",
        )
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A host's heartbeat.
    pub async fn host_heartbeat(&self, id: &str) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        sqlx::query("UPDATE hosts SET heartbeat_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a host stopped.
    pub async fn host_stopped(&self, id: &str) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        sqlx::query("UPDATE hosts SET stopped_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Hosts seen within `recent_ms` or still holding runs, newest first; alive when not
    /// stopped and their heartbeat is younger than `alive_ms`.
    pub async fn hosts(&self, recent_ms: i64, alive_ms: i64) -> Result<Vec<HostInfo>, StoreError> {
        let now = now_ms();
        let in_flight: std::collections::HashMap<String, i64> =
            self.runs_in_flight().await?.into_iter().collect();
        let rows = sqlx::query(
            "SELECT id, name, started_at, heartbeat_at, stopped_at FROM hosts \
             WHERE heartbeat_at >= $1 ORDER BY started_at DESC, id DESC",
        )
        .bind(now - recent_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut hosts = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            let heartbeat_at: i64 = row.try_get("heartbeat_at")?;
            let stopped_at: Option<i64> = row.try_get("stopped_at")?;
            hosts.push(HostInfo {
                runs_in_flight: in_flight.get(&id).copied().unwrap_or(0),
                alive: stopped_at.is_none() && now - heartbeat_at <= alive_ms,
                name: row.try_get("name")?,
                started_at: row.try_get("started_at")?,
                id,
                heartbeat_at,
                stopped_at,
            });
        }
        Ok(hosts)
    }
}
