//! Log lines of runs: the connector's own, its standard output, and the host's about it;
//! their counts by hour, level and install; and the signal that lines were kept, which the
//! live log feed follows (in this process, and on PostgreSQL across hosts by NOTIFY).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use sqlx::Row as _;
use sqlx::postgres::{PgConnection, Postgres};

use super::native::{NativePool, Script};
use super::{Arg, Conditions, Store, StoreError, contains_pattern, page_size, push_rows, rfc3339};
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
    /// Only after this position; with `newest_first`, only before it.
    pub after: Option<i64>,
    /// At most this many.
    pub limit: Option<i64>,
    /// Newest lines first, paging toward older ones.
    pub newest_first: bool,
}

impl LogFilter {
    /// Whether a kept line passes the filter, as the database would decide it: the live
    /// feed filters lines in memory so viewers share one read of the database.
    pub fn matches(&self, line: &StoredLogLine) -> bool {
        let level_passes = self.level.is_none_or(|level| {
            level_rank_of(&line.level).is_some_and(|rank| rank >= level_rank(level))
        });
        self.install.as_ref().is_none_or(|i| *i == line.install_id)
            && self.run.as_ref().is_none_or(|r| *r == line.run_id)
            && self.source.as_ref().is_none_or(|s| *s == line.source)
            && level_passes
            && self
                .contains
                .as_ref()
                .is_none_or(|text| line.message.to_lowercase().contains(&text.to_lowercase()))
            && self.since.is_none_or(|since| line.time >= since)
            && self.until.is_none_or(|until| line.time < until)
    }

    /// The conditions of the filter but its position and order.
    fn conditions(&self, company: &str) -> Conditions {
        let mut conditions = Conditions::default();
        conditions.push("company_id = ?", Arg::Text(company.to_owned()));
        if let Some(install) = &self.install {
            conditions.push("install_id = ?", Arg::Text(install.clone()));
        }
        if let Some(run) = &self.run {
            conditions.push("run_id = ?", Arg::Text(run.clone()));
        }
        if let Some(level) = self.level {
            conditions.push("level_rank >= ?", Arg::Int(level_rank(level)));
        }
        if let Some(source) = &self.source {
            conditions.push("source = ?", Arg::Text(source.clone()));
        }
        if let Some(text) = &self.contains {
            conditions.push(
                "LOWER(message) LIKE ? ESCAPE '\\'",
                Arg::Text(contains_pattern(text)),
            );
        }
        if let Some(since) = self.since {
            conditions.push("logged_at >= ?", Arg::Int(since));
        }
        if let Some(until) = self.until {
            conditions.push("logged_at < ?", Arg::Int(until));
        }
        conditions
    }
}

/// How many lines a filter finds, by hour, by level and by install.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct LogSummary {
    /// Every hour that has lines, oldest first.
    pub hours: Vec<HourCount>,
    /// Lines per level.
    pub by_level: BTreeMap<String, i64>,
    /// Lines per install.
    pub by_install: BTreeMap<String, i64>,
    /// All the lines.
    pub total: i64,
}

/// The lines of one hour.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HourCount {
    /// The hour's start.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub hour: i64,
    /// Its lines.
    pub total: i64,
    /// Its lines per level.
    pub by_level: BTreeMap<String, i64>,
}

/// Tells of lines kept by other hosts sharing the PostgreSQL database: each notification
/// names the company whose lines were kept.
pub struct LogAppendsElsewhere {
    listener: sqlx::postgres::PgListener,
}

/// What the listener for other hosts' lines heard.
pub enum Heard {
    /// This company had lines kept.
    Company(String),
    /// The connection was lost and made again: anything may have been kept meanwhile.
    Reconnected,
}

/// The PostgreSQL channel on which hosts say a company's lines were kept.
const LOG_CHANNEL: &str = "sluice_logs";

const HOUR_MS: i64 = 3_600_000;

impl LogAppendsElsewhere {
    /// The next notification; an error only when the database cannot be reached at all.
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        Ok(match self.listener.try_recv().await? {
            Some(notification) => Heard::Company(notification.payload().to_owned()),
            None => Heard::Reconnected,
        })
    }
}

fn level_rank_of(name: &str) -> Option<i64> {
    ["trace", "debug", "info", "warn", "error"]
        .iter()
        .position(|level| *level == name)
        .and_then(|rank| i64::try_from(rank).ok())
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

/// Lines per multi-row INSERT on SQLite: 9 values each.
const SQLITE_LINES_PER_INSERT: usize = 400;

/// Lines per INSERT on PostgreSQL: bounds the size of one message, not the statement.
const POSTGRES_LINES_PER_INSERT: usize = 10_000;

/// One log line as its row stores it.
struct LineRow<'a> {
    logged_at: i64,
    level: &'static str,
    level_rank: i64,
    source: &'static str,
    message: &'a str,
    fields: String,
}

impl<'a> LineRow<'a> {
    fn of(line: &'a LogLine) -> Self {
        let logged_at = line
            .time
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let fields = if line.fields.is_empty() {
            "{}".to_owned()
        } else {
            let fields: serde_json::Map<String, serde_json::Value> = line
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            serde_json::Value::Object(fields).to_string()
        };
        Self {
            logged_at,
            level: line.level.as_str(),
            level_rank: level_rank(line.level),
            source: line.source.as_str(),
            message: &line.message,
            fields,
        }
    }
}

/// Adds to `script` the multi-row INSERTs of `lines` of one run (`[company, install, run]`),
/// in their order.
pub(super) fn push_lines_on_sqlite(
    script: &mut Script,
    [company, install, run]: [&str; 3],
    lines: &[LogLine],
) -> Result<(), StoreError> {
    for chunk in lines.chunks(SQLITE_LINES_PER_INSERT) {
        let full = chunk.len() == SQLITE_LINES_PER_INSERT;
        if full {
            script.end_call();
        }
        script.push(
            "INSERT INTO logs (company_id, install_id, run_id, logged_at, level, level_rank, source, message, fields) VALUES ",
        );
        push_rows(script.sql(), chunk.len(), 9);
        script.push("; ");
        for line in chunk {
            let row = LineRow::of(line);
            script.bind(company.to_owned())?;
            script.bind(install.to_owned())?;
            script.bind(run.to_owned())?;
            script.bind(row.logged_at)?;
            script.bind(row.level)?;
            script.bind(row.level_rank)?;
            script.bind(row.source)?;
            script.bind(row.message.to_owned())?;
            script.bind(row.fields)?;
        }
        if full {
            script.end_call();
        }
    }
    Ok(())
}

/// Writes `lines` of one run (`[company, install, run]`) as arrays unnested in their
/// order, inside the caller's transaction on `conn`; [`notify_on_postgres`] tells the
/// other hosts.
pub(super) async fn write_on_postgres(
    conn: &mut PgConnection,
    [company, install, run]: [&str; 3],
    lines: &[LogLine],
) -> Result<(), StoreError> {
    let rows: Vec<LineRow<'_>> = lines.iter().map(LineRow::of).collect();
    for chunk in rows.chunks(POSTGRES_LINES_PER_INSERT) {
        let texts = |field: for<'r> fn(&'r LineRow<'r>) -> &'r str| -> Vec<&str> {
            chunk.iter().map(|row| field(row)).collect()
        };
        let numbers =
            |field: fn(&LineRow<'_>) -> i64| -> Vec<i64> { chunk.iter().map(field).collect() };
        sqlx::query::<Postgres>(
            "INSERT INTO logs (company_id, install_id, run_id, logged_at, level, level_rank, source, message, fields) \
             SELECT $1, $2, $3, l.logged_at, l.level, l.level_rank, l.source, l.message, l.fields \
             FROM UNNEST($4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[]) \
             WITH ORDINALITY AS l (logged_at, level, level_rank, source, message, fields, n) ORDER BY l.n",
        )
        .bind(company)
        .bind(install)
        .bind(run)
        .bind(numbers(|row| row.logged_at))
        .bind(texts(|row| row.level))
        .bind(numbers(|row| row.level_rank))
        .bind(texts(|row| row.source))
        .bind(texts(|row| row.message))
        .bind(texts(|row| row.fields.as_str()))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Tells every host that `company` has new lines. Inside a transaction it is sent at the
/// commit, so hosts hear of lines once they can be read — but PostgreSQL then holds one
/// lock for every notifying transaction of the database until its commit is on disk, so
/// a transaction that must reach the disk notifies after its commit instead.
pub(super) async fn notify_on_postgres<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    company: &str,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(LOG_CHANNEL)
        .bind(company)
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Keeps a batch of a run's log lines, in one transaction, in the order given (on
    /// SQLite, a transaction it may share with other runs' writes).
    pub async fn append_logs(
        &self,
        company: &str,
        install: &str,
        run: &str,
        lines: &[LogLine],
    ) -> Result<(), StoreError> {
        let ids = [company, install, run];
        match &self.native {
            NativePool::Sqlite(commits) => {
                let mut script = Script::default();
                push_lines_on_sqlite(&mut script, ids, lines)?;
                commits.write(script).await?;
            }
            NativePool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // A log batch does not wait for its commit to reach the disk: a crash
                // of PostgreSQL may lose the last moments of lines, never a run's
                // records, and the batch is not held up by a flush per batch.
                sqlx::query("SET LOCAL synchronous_commit TO OFF")
                    .execute(&mut *tx)
                    .await?;
                write_on_postgres(&mut tx, ids, lines).await?;
                notify_on_postgres(&mut *tx, company).await?;
                tx.commit().await?;
            }
        }
        self.lines_kept(company);
        Ok(())
    }

    /// Tells this process's live log feed that `company` has new lines. No receiver
    /// means no one follows the live log in this process.
    pub(super) fn lines_kept(&self, company: &str) {
        let _ = self.log_appends.send(Arc::from(company));
    }

    /// Follows which companies have lines kept by this process.
    pub fn log_appends(&self) -> tokio::sync::broadcast::Receiver<Arc<str>> {
        self.log_appends.subscribe()
    }

    /// On PostgreSQL, a listener for lines kept by other hosts; none on SQLite, where
    /// this process is the only writer.
    pub async fn log_appends_elsewhere(&self) -> Result<Option<LogAppendsElsewhere>, StoreError> {
        let Some(url) = &self.listen_url else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(LOG_CHANNEL).await?;
        Ok(Some(LogAppendsElsewhere { listener }))
    }

    /// The position of a company's newest line, 0 when it has none.
    pub async fn last_log_seq(&self, company: &str) -> Result<i64, StoreError> {
        let (seq,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(seq) FROM logs WHERE company_id = $1")
                .bind(company)
                .fetch_one(&self.pool)
                .await?;
        Ok(seq.unwrap_or(0))
    }

    /// Counts of a company's lines that pass `filter`, by hour, level and install.
    pub async fn log_summary(
        &self,
        company: &str,
        filter: &LogFilter,
    ) -> Result<LogSummary, StoreError> {
        let conditions = filter.conditions(company);
        let sql = format!(
            "SELECT logged_at / {HOUR_MS} AS hour, level, install_id, COUNT(*) AS lines FROM logs {} \
             GROUP BY logged_at / {HOUR_MS}, level, install_id",
            conditions.sql()
        );
        let rows = conditions
            .bind(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await?;
        let mut summary = LogSummary::default();
        let mut hours: BTreeMap<i64, HourCount> = BTreeMap::new();
        for row in &rows {
            let hour: i64 = row.try_get("hour")?;
            let level: String = row.try_get("level")?;
            let install: String = row.try_get("install_id")?;
            let lines: i64 = row.try_get("lines")?;
            let count = hours.entry(hour).or_insert_with(|| HourCount {
                hour: hour * HOUR_MS,
                total: 0,
                by_level: BTreeMap::new(),
            });
            count.total += lines;
            *count.by_level.entry(level.clone()).or_default() += lines;
            *summary.by_level.entry(level).or_default() += lines;
            *summary.by_install.entry(install).or_default() += lines;
            summary.total += lines;
        }
        summary.hours = hours.into_values().collect();
        Ok(summary)
    }

    /// A company's log lines, oldest first.
    pub async fn logs(
        &self,
        company: &str,
        filter: &LogFilter,
    ) -> Result<Vec<StoredLogLine>, StoreError> {
        let mut conditions = filter.conditions(company);
        if let Some(after) = filter.after {
            let clause = if filter.newest_first {
                "seq < ?"
            } else {
                "seq > ?"
            };
            conditions.push(clause, Arg::Int(after));
        }
        let limit = conditions.next_placeholder();
        let sql = format!(
            "SELECT seq, logged_at, level, source, run_id, install_id, message, fields FROM logs {} \
             ORDER BY seq {} LIMIT {limit}",
            conditions.sql(),
            if filter.newest_first { "DESC" } else { "ASC" }
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
