//! Log lines of runs: the connector's own, its standard output, and the host's about it.

use serde::Serialize;
use sqlx::Row as _;

use super::{
    Arg, Conditions, Store, StoreError, contains_pattern, page_size, push_values, rfc3339,
};
use crate::runtime::{Level, LogLine};

/// A kept log line as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredLogLine {
    /// Its position; the cursor of the next page (`after`).
    pub seq: i64,
    /// When it was written.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub time: i64,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// `plugin`, `stdio` or `host`.
    pub source: String,
    /// The run that wrote it.
    pub run_id: String,
    /// The install that ran.
    pub install_id: String,
    /// The text.
    pub message: String,
    /// Structured fields.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
}

/// Which log lines to list.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Only this install's.
    pub install: Option<String>,
    /// Only this run's.
    pub run: Option<String>,
    /// Only at this level or more serious.
    pub level: Option<Level>,
    /// Only from this source.
    pub source: Option<String>,
    /// Only lines whose message contains this, in any case.
    pub contains: Option<String>,
    /// Only lines written at or after this time (ms).
    pub since: Option<i64>,
    /// Only lines written before this time (ms).
    pub until: Option<i64>,
    /// Only after this position.
    pub after: Option<i64>,
    /// At most this many.
    pub limit: Option<i64>,
}

fn level_rank(level: Level) -> i64 {
    match level {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warn => 3,
        Level::Error => 4,
    }
}

/// Lines per multi-row insert: 9 values each.
const LINES_PER_STATEMENT: usize = 400;

impl Store {
    /// Keeps a batch of a run's log lines.
    pub async fn append_logs(
        &self,
        company: &str,
        install: &str,
        run: &str,
        lines: &[LogLine],
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        for chunk in lines.chunks(LINES_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO logs (company_id, install_id, run_id, logged_at, level, level_rank, source, message, fields) VALUES ",
            );
            push_values(&mut sql, chunk.len(), 9);
            let mut query = sqlx::query(&sql);
            for line in chunk {
                let time = line
                    .time
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                    .unwrap_or(0);
                let fields: serde_json::Map<String, serde_json::Value> = line
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                query = query
                    .bind(company)
                    .bind(install)
                    .bind(run)
                    .bind(time)
                    .bind(line.level.as_str())
                    .bind(level_rank(line.level))
                    .bind(line.source.as_str())
                    .bind(line.message.clone())
                    .bind(serde_json::Value::Object(fields).to_string());
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// A company's log lines, oldest first.
    pub async fn logs(
        &self,
        company: &str,
        filter: &LogFilter,
    ) -> Result<Vec<StoredLogLine>, StoreError> {
        let mut conditions = Conditions::default();
        conditions.push("company_id = ?", Arg::Text(company.to_owned()));
        if let Some(install) = &filter.install {
            conditions.push("install_id = ?", Arg::Text(install.clone()));
        }
        if let Some(run) = &filter.run {
            conditions.push("run_id = ?", Arg::Text(run.clone()));
        }
        if let Some(level) = filter.level {
            conditions.push("level_rank >= ?", Arg::Int(level_rank(level)));
        }
        if let Some(source) = &filter.source {
            conditions.push("source = ?", Arg::Text(source.clone()));
        }
        if let Some(text) = &filter.contains {
            conditions.push(
                "LOWER(message) LIKE ? ESCAPE '\\'",
                Arg::Text(contains_pattern(text)),
            );
        }
        if let Some(since) = filter.since {
            conditions.push("logged_at >= ?", Arg::Int(since));
        }
        if let Some(until) = filter.until {
            conditions.push("logged_at < ?", Arg::Int(until));
        }
        if let Some(after) = filter.after {
            conditions.push("seq > ?", Arg::Int(after));
        }
        let limit = conditions.next_placeholder();
        let sql = format!(
            "SELECT seq, logged_at, level, source, run_id, install_id, message, fields FROM logs {} \
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
                let fields: String = row.try_get("fields")?;
                Ok(StoredLogLine {
                    seq: row.try_get("seq")?,
                    time: row.try_get("logged_at")?,
                    level: row.try_get("level")?,
                    source: row.try_get("source")?,
                    run_id: row.try_get("run_id")?,
                    install_id: row.try_get("install_id")?,
                    message: row.try_get("message")?,
                    fields: serde_json::from_str(&fields).unwrap_or_default(),
                })
            })
            .collect()
    }
}
