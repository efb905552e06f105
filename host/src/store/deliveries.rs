//! Webhook deliveries: every request GitHub or Slack sent to an install's hook, the runs a
//! verified one became, and its replays.
//!
//! A delivery and the runs it becomes are written in one transaction, and a service's
//! retry of a delivery it already made (same `X-GitHub-Delivery`, Slack `event_id` or
//! interaction `trigger_id`) conflicts with the first on a unique index: it is processed
//! once, however often it arrives and whichever host it reaches.

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::runs::insert_run;
use super::{Arg, Conditions, NewRun, Store, StoreError, new_id, now_ms, page_size, rfc3339};

/// The services whose webhooks an install's hook receives.
pub const HOOK_SOURCES: [&str; 2] = ["github", "slack"];

/// The company secret holding the key `source` signs `install`'s webhooks with. It is a
/// company secret like any other so that key rotation reseals it.
pub fn hook_secret_name(source: &str, install: &str) -> String {
    format!("hooks.{source}.{install}")
}

/// Refused deliveries kept per install: enough to see what went wrong, while forged
/// requests cannot grow the table without bound.
pub const REFUSALS_KEPT: i64 = 1000;

/// A run a delivery became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoutedRun {
    /// The install that handles the event.
    pub install_id: String,
    /// The run queued for it.
    pub run_id: String,
    /// The run's status now, on a single delivery: the delivery's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Its id.
    pub id: String,
    /// The install whose hook received it.
    pub install_id: String,
    /// `github` or `slack`.
    pub source: String,
    /// The event it carries, as `<service>.<type>` (`github.pull_request`,
    /// `slack.block_actions`), when it said.
    pub kind: Option<String>,
    /// The service's id for it: `X-GitHub-Delivery`, Slack's `event_id` or an
    /// interaction's `trigger_id`.
    pub external_id: Option<String>,
    /// When it arrived.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: i64,
    /// `refused` (its signature did not verify), `answered` (a ping or a URL check,
    /// answered at once), `routed` (runs were queued) or `unrouted` (no install handles it).
    pub status: String,
    /// Why it was refused.
    pub refusal: Option<String>,
    /// The runs it became.
    pub routed: Vec<RoutedRun>,
    /// The delivery this one replays, when an admin replayed one.
    pub replay_of: Option<String>,
    /// Its payload as the service sent it (JSON), on a single verified delivery; lists
    /// leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Box<serde_json::value::RawValue>>,
}

/// A verified delivery to keep, with the runs it becomes.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    /// The install whose hook received it.
    pub install_id: &'a str,
    /// `github` or `slack`.
    pub source: &'a str,
    /// `<service>.<type>`.
    pub kind: &'a str,
    /// The service's id for it; a second delivery with the same id is a duplicate.
    pub external_id: Option<&'a str>,
    /// The payload as JSON text.
    pub payload: &'a str,
    /// Answered at once (a ping, a URL check): it becomes no run.
    pub answered: bool,
    /// The delivery an admin replays.
    pub replay_of: Option<&'a str>,
}

const DELIVERY_COLUMNS: &str =
    "id, install_id, source, kind, external_id, received_at, status, refusal, routed, replay_of";

fn delivery_of(row: &sqlx::any::AnyRow, with_payload: bool) -> Result<Delivery, StoreError> {
    let routed: String = row.try_get("routed")?;
    // Kept as the service's own JSON text, so an answer and a replay carry it unchanged.
    let payload = if with_payload {
        row.try_get::<Option<String>, _>("payload")?
            .and_then(|text| serde_json::value::RawValue::from_string(text).ok())
    } else {
        None
    };
    Ok(Delivery {
        id: row.try_get("id")?,
        install_id: row.try_get("install_id")?,
        source: row.try_get("source")?,
        kind: row.try_get("kind")?,
        external_id: row.try_get("external_id")?,
        received_at: row.try_get("received_at")?,
        status: row.try_get("status")?,
        refusal: row.try_get("refusal")?,
        routed: serde_json::from_str(&routed).map_err(|e| {
            StoreError::Database(sqlx::Error::Decode(
                format!("a delivery's stored runs are not valid: {e}").into(),
            ))
        })?,
        replay_of: row.try_get("replay_of")?,
        payload,
    })
}

impl Store {
    /// Keeps a delivery whose signature did not verify: why, never its body. Only the
    /// newest [`REFUSALS_KEPT`] refusals of an install stay.
    pub async fn refuse_delivery(
        &self,
        company: &str,
        install: &str,
        source: &str,
        external_id: Option<&str>,
        refusal: &str,
    ) -> Result<String, StoreError> {
        let id = new_id("dlv");
        sqlx::query(
            "INSERT INTO deliveries (id, company_id, install_id, source, external_id, received_at, status, refusal) \
             VALUES ($1, $2, $3, $4, $5, $6, 'refused', $7)",
        )
        .bind(&id)
        .bind(company)
        .bind(install)
        .bind(source)
        .bind(external_id.map(str::to_owned))
        .bind(now_ms())
        .bind(refusal)
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "DELETE FROM deliveries WHERE company_id = $1 AND install_id = $2 AND status = 'refused' \
             AND id NOT IN (SELECT id FROM deliveries WHERE company_id = $1 AND install_id = $2 \
             AND status = 'refused' ORDER BY id DESC LIMIT $3)",
        )
        .bind(company)
        .bind(install)
        .bind(REFUSALS_KEPT)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Keeps a verified delivery and queues the runs it becomes, in one transaction.
    /// `None` when the service already made this delivery: nothing is queued again.
    pub async fn receive_delivery(
        &self,
        company: &str,
        delivery: &NewDelivery<'_>,
        runs: &[NewRun],
    ) -> Result<Option<(String, Vec<RoutedRun>)>, StoreError> {
        let id = new_id("dlv");
        let routed: Vec<RoutedRun> = runs
            .iter()
            .map(|run| RoutedRun {
                install_id: run.install_id.clone(),
                run_id: new_id("run"),
                status: None,
            })
            .collect();
        let routed_json = serde_json::to_string(&routed).map_err(|e| {
            StoreError::Database(sqlx::Error::Encode(
                format!("cannot encode a delivery's runs: {e}").into(),
            ))
        })?;
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let kept = sqlx::query(
            "INSERT INTO deliveries (id, company_id, install_id, source, kind, external_id, received_at, \
             status, payload, routed, replay_of) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(company)
        .bind(delivery.install_id)
        .bind(delivery.source)
        .bind(delivery.kind)
        .bind(delivery.external_id.map(str::to_owned))
        .bind(now_ms())
        .bind(if delivery.answered {
            "answered"
        } else if runs.is_empty() {
            "unrouted"
        } else {
            "routed"
        })
        .bind(delivery.payload)
        .bind(routed_json)
        .bind(delivery.replay_of.map(str::to_owned))
        .execute(&mut *tx)
        .await?;
        if kept.rows_affected() == 0 {
            return Ok(None);
        }
        for (run, routed) in runs.iter().zip(&routed) {
            insert_run(&mut *tx, &routed.run_id, company, run).await?;
        }
        tx.commit().await?;
        Ok(Some((id, routed)))
    }

    /// A company's deliveries, newest first, before the delivery id `before`; only
    /// those of `install` when given.
    pub async fn deliveries(
        &self,
        company: &str,
        install: Option<&str>,
        before: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut conditions = Conditions::default();
        conditions.push("company_id = ?", Arg::Text(company.to_owned()));
        if let Some(install) = install {
            conditions.push("install_id = ?", Arg::Text(install.to_owned()));
        }
        if let Some(before) = before {
            conditions.push("id < ?", Arg::Text(before.to_owned()));
        }
        let limit_at = conditions.next_placeholder();
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries {} ORDER BY id DESC LIMIT {limit_at}",
            conditions.sql()
        );
        let rows = conditions
            .bind(sqlx::query(&sql))
            .bind(page_size(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| delivery_of(row, false)).collect()
    }

    /// One of a company's deliveries, with its payload.
    pub async fn delivery(&self, company: &str, id: &str) -> Result<Option<Delivery>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS}, payload FROM deliveries WHERE company_id = $1 AND id = $2"
        ))
        .bind(company)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(|row| delivery_of(row, true)).transpose()
    }
}
