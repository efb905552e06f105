//! The records connectors wrote, one row per (company, install, stream, key).

use futures::TryStreamExt as _;
use serde::Serialize;
use sqlx::Row as _;

use super::{Arg, Conditions, Store, StoreError, page_size, rfc3339, rfc3339_opt};

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
    /// When a successful run of a stream listed whole no longer found it at the service;
    /// null while it is there.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<i64>,
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// Only this install's.
    pub install: Option<String>,
    /// Only this stream's.
    pub stream: Option<String>,
    /// Only those deleted at the service (`true`) or only those present (`false`).
    pub deleted: Option<bool>,
    /// Only after this position.
    pub after: Option<i64>,
    /// At most this many.
    pub limit: Option<i64>,
}

/// Bytes of record data one page holds at most: a page of the most records of the largest
/// size would be gigabytes. A page stops after the record that reaches it, so it always
/// holds at least one.
pub const PAGE_BYTES: usize = 8 << 20;

/// A page of records.
#[derive(Debug, Clone, Default)]
pub struct RecordPage {
    /// The records, in order.
    pub records: Vec<StoredRecord>,
    /// Whether the page stopped at [`PAGE_BYTES`] before its row limit.
    pub cut_at_bytes: bool,
}

impl Store {
    /// A company's records in the order they were first written: at most the filter's
    /// limit, and about [`PAGE_BYTES`] of data.
    pub async fn records(
        &self,
        company: &str,
        filter: &RecordFilter,
    ) -> Result<RecordPage, StoreError> {
        let mut conditions = Conditions::default();
        conditions.push("company_id = ?", Arg::Text(company.to_owned()));
        if let Some(install) = &filter.install {
            conditions.push("install_id = ?", Arg::Text(install.clone()));
        }
        if let Some(stream) = &filter.stream {
            conditions.push("stream = ?", Arg::Text(stream.clone()));
        }
        match filter.deleted {
            Some(true) => conditions.push_sql("deleted_at IS NOT NULL"),
            Some(false) => conditions.push_sql("deleted_at IS NULL"),
            None => {}
        }
        if let Some(after) = filter.after {
            conditions.push("seq > ?", Arg::Int(after));
        }
        let limit = conditions.next_placeholder();
        let sql = format!(
            "SELECT seq, install_id, stream, record_key, data, run_id, updated_at, deleted_at FROM records {} \
             ORDER BY seq LIMIT {limit}",
            conditions.sql()
        );
        let query = conditions
            .bind(sqlx::query(&sql))
            .bind(page_size(filter.limit));
        // Rows are read one by one, so a page of large records stops at its byte budget
        // without the rest of the page ever being held.
        let mut rows = query.fetch(&self.pool);
        let mut page = RecordPage::default();
        let mut bytes = 0usize;
        while let Some(row) = rows.try_next().await? {
            if bytes >= PAGE_BYTES {
                page.cut_at_bytes = true;
                break;
            }
            let data: String = row.try_get("data")?;
            bytes += data.len();
            page.records.push(StoredRecord {
                seq: row.try_get("seq")?,
                install_id: row.try_get("install_id")?,
                stream: row.try_get("stream")?,
                key: row.try_get("record_key")?,
                // The runtime checked every record is JSON before it was kept.
                data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
                run_id: row.try_get("run_id")?,
                updated_at: row.try_get("updated_at")?,
                deleted_at: row.try_get("deleted_at")?,
            });
        }
        Ok(page)
    }
}
