//! The store: all SQL, on SQLite (the embedded default) or PostgreSQL, with the same
//! statements on both.
//!
//! One submodule per table family. Every company-owned row carries `company_id` and every
//! query on such a row filters on it, so an id from another company finds nothing — the
//! same answer as an id that does not exist. Times are milliseconds since the Unix epoch.

mod access;
mod audit;
mod commit;
mod companies;
mod deliveries;
mod group_commit;
mod hosts;
mod installs;
mod logs;
mod native;
mod people;
mod queue;
mod records;
mod runs;
mod schedules;
mod secrets;
mod time;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor as _};

pub use access::{ApiToken, Session, TokenEnds, TokenGrant, TokenStatus, USE_RECORDED_EVERY_MS};
pub use audit::AuditEntry;
pub use commit::RunEnd;
pub use companies::{Company, Member, Membership, Role, User};
pub use deliveries::{
    Delivery, HOOK_SOURCES, NewDelivery, REFUSALS_KEPT, RoutedRun, hook_secret_name,
};
pub use hosts::HostInfo;
pub use installs::{Install, InstallGrants, NewInstall};
pub use logs::{Heard, HourCount, LogAppendsElsewhere, LogFilter, LogSummary, StoredLogLine};
pub use people::PeopleFilter;
pub use queue::{Claim, Reclaimed};
pub use records::{PAGE_BYTES, RecordFilter, RecordPage, StoredRecord};
pub use runs::{NewRun, Run, RunCall, RunFilter, RunFinish, RunTrigger};
pub use schedules::StoredSchedule;
pub use secrets::{Resealed, SecretInfo};
pub use time::{format_ms, now_ms, parse_rfc3339, rfc3339, rfc3339_opt};

/// The largest page any list returns.
pub const MAX_PAGE: i64 = 500;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row that must be unique already exists.
    #[error("{0}")]
    Conflict(String),
    /// The database failed; its text is for the server log, never for a client.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database URL names a database Sluice does not run on.
    #[error("unsupported database URL scheme `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    /// Migrating the schema failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file: one process, nothing to set up.
    Sqlite,
    /// PostgreSQL: several hosts may share it.
    Postgres,
}

/// The database, migrated and ready.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// The same database through its own driver, for the bulk writes: a run's commit and
    /// its log lines.
    native: native::NativePool,
    backend: Backend,
    /// SQLite has one writer: the run path's writes queue here rather than in SQLite's
    /// busy handler, which sleeps in steps of milliseconds and so sets the start delay.
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Says which company just had log lines kept, to this process's live log feed.
    log_appends: tokio::sync::broadcast::Sender<Arc<str>>,
    /// The URL, kept on PostgreSQL to open the connection that listens for lines kept by
    /// other hosts.
    listen_url: Option<String>,
}

/// Company names buffered for the live log feed; one that falls further behind reads
/// every company's lines again, so nothing is missed.
const LOG_APPENDS_BUFFER: usize = 1024;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Store {
    /// Opens (creating an SQLite file if needed) and migrates the database at `url`:
    /// `sqlite://PATH` or `postgres://…`.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::UnsupportedUrl(
                url.split(':').next().unwrap_or_default().to_owned(),
            ));
        };
        // An SQLite file that does not exist yet is created, whatever the URL's spelling.
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let url = url.as_str();
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            // SQLite has one writer; a small pool keeps readers going beside it.
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            // A connection to a file does not drop; testing it on every acquire cost a
            // round trip to its thread per statement (the queue benchmark's profile: half
            // of the host's time in thread switches).
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; the busy timeout makes a
                        // second writer wait instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let writer = Arc::default();
        let native = native::NativePool::connect(url, backend, &writer).await?;
        let writer = (backend == Backend::Sqlite).then_some(writer);
        Ok(Self {
            pool,
            native,
            backend,
            writer,
            log_appends: tokio::sync::broadcast::channel(LOG_APPENDS_BUFFER).0,
            listen_url: (backend == Backend::Postgres).then(|| url.to_owned()),
        })
    }

    /// Waits for SQLite's one writer slot (nothing to wait for on PostgreSQL); holding
    /// the guard is holding the slot.
    async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writer {
            Some(writer) => Some(writer.lock().await),
            None => None,
        }
    }

    /// The URL of an SQLite file at `path`, created if missing.
    pub fn sqlite_url(path: &Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    /// The file of an SQLite URL (`sqlite://PATH?…` or `sqlite:PATH`); none for other URLs
    /// and for in-memory databases.
    pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
        self.native.close().await;
    }
}

/// A fresh id: `prefix_` then the time in milliseconds and 64 random bits, all hex, so ids
/// sort by creation time and cannot be guessed.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:012x}{:016x}", now_ms(), OsRng.next_u64())
}

/// A page size within `1..=MAX_PAGE`, 100 when not given.
fn page_size(limit: Option<i64>) -> i64 {
    limit.unwrap_or(100).clamp(1, MAX_PAGE)
}

/// Appends `rows` tuples of `columns` anonymous placeholders, `(?, ?), (?, ?)`, to a
/// multi-row SQLite `INSERT … VALUES`: one statement per chunk is what makes bulk writes
/// fast. Anonymous, because SQLite finds a numbered parameter's name by walking a list,
/// so binding N numbered parameters costs N² steps — most of a 3,500-value statement's time.
fn push_rows(sql: &mut String, rows: usize, columns: usize) {
    sql.reserve(rows * (columns * 3 + 2));
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            sql.push_str(if column == 0 { "?" } else { ", ?" });
        }
        sql.push(')');
    }
}

/// `text` for a `LIKE … ESCAPE '\'` that finds it anywhere, case-insensitively.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Builds a `WHERE` clause with numbered placeholders, which both databases accept.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

/// One bound value of a dynamic query.
#[derive(Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

impl Conditions {
    /// Adds `clause`, in which `?` stands for `arg`.
    fn push(&mut self, clause: &str, arg: Arg) {
        self.args.push(arg);
        let placeholder = format!("${}", self.args.len());
        self.clauses.push(clause.replace('?', &placeholder));
    }

    /// Adds `clause`, which takes no argument.
    fn push_sql(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    /// The placeholder the next argument will get.
    fn next_placeholder(&self) -> String {
        format!("${}", self.args.len() + 1)
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn bind<'q>(
        &self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for arg in &self.args {
            query = match arg.clone() {
                Arg::Text(text) => query.bind(text),
                Arg::Int(int) => query.bind(int),
            };
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_differ() {
        let a = new_id("run");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("run");
        assert!(a.starts_with("run_") && a.len() == 4 + 28, "{a}");
        assert!(a < b, "{a} then {b}");
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            Store::sqlite_file("sqlite:///var/lib/sluice/sluice.db?mode=rwc"),
            Some("/var/lib/sluice/sluice.db".into())
        );
        assert_eq!(Store::sqlite_file("sqlite::memory:"), None);
        assert_eq!(Store::sqlite_file("postgres://db/sluice"), None);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn rows_of_anonymous_placeholders() {
        let mut sql = String::from("VALUES ");
        push_rows(&mut sql, 2, 3);
        assert_eq!(sql, "VALUES (?, ?, ?), (?, ?, ?)");
    }
}
