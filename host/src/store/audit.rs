//! The audit log: who did what to which company, and when.

use serde::Serialize;
use sqlx::Row as _;

use super::{Store, StoreError, now_ms, page_size, rfc3339};

/// One thing someone did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Its position in the company's log; the cursor of the next page.
    pub seq: i64,
    /// Who: `user:ID`, `token:ID`, or `cli` for the admin commands.
    pub actor: String,
    /// What, such as `secret.put` or `install.create`.
    pub action: String,
    /// On what: an id or a name, never a secret's value.
    pub target: String,
    /// When.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: i64,
}

impl Store {
    /// Records that `actor` did `action` on `target` in `company`.
    pub async fn audit(
        &self,
        company: &str,
        actor: &str,
        action: &str,
        target: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit (company_id, actor, action, target, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(company)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A company's audit log, newest first, before the entry `before`.
    pub async fn audit_log(
        &self,
        company: &str,
        before: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, actor, action, target, at FROM audit \
             WHERE company_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(company)
        .bind(before.unwrap_or(i64::MAX))
        .bind(page_size(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    seq: row.try_get("seq")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }
}
