//! The records connectors wrote, one row per (company, install, stream, key).

use serde::Serialize;
use sqlx::Row as _;

use super::{Arg, Conditions, Store, StoreError, page_size, rfc3339};

/// A record as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredRecord {
    /// Its position; the cursor of the next page.
    pub seq: i64,
    /// The install that wrote it.
    pub install_id: String,
    /// Its stream.
    pub stream: String,
    /// Its key within the stream.
    pub key: String,
    /// The record.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The run that last wrote it.
    pub run_id: String,
    /// When it was last written.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// Only this install's.
    pub install: Option<String>,
    /// Only this stream's.
    pub stream: Option<String>,
    /// Only after this position.
    pub after: Option<i64>,
    /// At most this many.
    pub limit: Option<i64>,
}

impl Store {
    /// A company's records in the order they were first written.
    pub async fn records(
        &self,
        company: &str,
        filter: &RecordFilter,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let mut conditions = Conditions::default();
        conditions.push("company_id = ?", Arg::Text(company.to_owned()));
        if let Some(install) = &filter.install {
            conditions.push("install_id = ?", Arg::Text(install.clone()));
        }
        if let Some(stream) = &filter.stream {
            conditions.push("stream = ?", Arg::Text(stream.clone()));
        }
        if let Some(after) = filter.after {
            conditions.push("seq > ?", Arg::Int(after));
        }
        let limit = conditions.next_placeholder();
        let sql = format!(
            "SELECT seq, install_id, stream, record_key, data, run_id, updated_at FROM records {} \
             ORDER BY seq LIMIT {limit}",
            conditions.sql()
        );
        let rows = conditions
            .bind(sqlx::query(&sql))
            .bind(page_size(filter.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let data: String = row.try_get("data")?;
                Ok(StoredRecord {
                    seq: row.try_get("seq")?,
                    install_id: row.try_get("install_id")?,
                    stream: row.try_get("stream")?,
                    key: row.try_get("record_key")?,
                    // The runtime checked every record is JSON before it was kept.
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
                    run_id: row.try_get("run_id")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }
}
