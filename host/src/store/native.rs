//! Each database through its own driver, beside the `Any` pool that every other statement
//! uses. A run's commit and its log lines are nearly all the store ever writes, and there
//! what each database does best is out of `Any`'s reach: PostgreSQL takes a column of
//! values as one array parameter, and SQLite's driver runs several statements in one call
//! to its connection's thread.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    Sqlite, SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode,
    SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Arguments as _, Encode, Type};

use super::group_commit::GroupCommit;
use super::{Backend, StoreError};

/// Connections of PostgreSQL's native pool: commits and log batches are short, and every
/// host keeps this many beside its `Any` pool.
const POSTGRES_CONNECTIONS: u32 = 8;

/// The database's own pool.
#[derive(Debug, Clone)]
pub(super) enum NativePool {
    /// SQLite: one connection, on which one task writes every run's commit and log batch,
    /// grouped.
    Sqlite(GroupCommit),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl NativePool {
    /// Connects to the database at `url`, already migrated through the `Any` pool; on
    /// SQLite its writes hold `writer`, the store's one writer slot.
    pub(super) async fn connect(
        url: &str,
        backend: Backend,
        writer: &Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Self, StoreError> {
        Ok(match backend {
            Backend::Sqlite => {
                // The same settings as the `Any` pool's connections: WAL so readers run
                // beside the writer, and a busy timeout so a second writer waits.
                // `synchronous = NORMAL` in WAL: a commit is in the log file when it
                // returns, so a killed process loses none; only the operating system
                // crashing before the next checkpoint's flush could lose the last ones.
                let options = SqliteConnectOptions::from_str(url)?
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    // A connection to a file does not drop: no test on each acquire.
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await?;
                Self::Sqlite(GroupCommit::start(pool, writer.clone()))
            }
            Backend::Postgres => Self::Postgres(
                PgPoolOptions::new()
                    .max_connections(POSTGRES_CONNECTIONS)
                    .connect_with(PgConnectOptions::from_str(url)?)
                    .await?,
            ),
        })
    }

    /// Closes every connection.
    pub(super) async fn close(&self) {
        match self {
            Self::Sqlite(commits) => commits.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Statements for SQLite's driver to run in as few calls to its connection's thread as
/// pays, their values bound in order: each `?` takes the next value, across statements.
/// Every call is a round trip between threads, which cost a busy host more than SQLite's
/// own work (the queue benchmark's profile: half of the host's time in thread switches),
/// so a short run's commit is one call. But each statement of a call is prepared anew
/// unless the whole call's text was seen before, so a long write sends each full chunk of
/// rows as a call of its own, whose statement the connection keeps prepared.
#[derive(Debug, Default)]
pub(super) struct Script {
    calls: Vec<Call>,
}

/// The statements of one call and their values.
#[derive(Debug, Default)]
struct Call {
    sql: String,
    args: SqliteArguments<'static>,
}

impl Script {
    /// The call being written.
    fn call(&mut self) -> &mut Call {
        if self.calls.is_empty() {
            self.calls.push(Call::default());
        }
        let last = self.calls.len() - 1;
        &mut self.calls[last]
    }

    /// Ends the call being written: what follows goes in another.
    pub(super) fn end_call(&mut self) {
        if self.calls.last().is_some_and(|call| !call.sql.is_empty()) {
            self.calls.push(Call::default());
        }
    }

    /// Appends SQL text; statements end with `;`.
    pub(super) fn push(&mut self, sql: &str) {
        self.call().sql.push_str(sql);
    }

    /// The SQL of the call so far, to append to.
    pub(super) fn sql(&mut self) -> &mut String {
        &mut self.call().sql
    }

    /// Binds the next `?`.
    pub(super) fn bind<T>(&mut self, value: T) -> Result<(), StoreError>
    where
        T: Encode<'static, Sqlite> + Type<Sqlite> + 'static,
    {
        self.call()
            .args
            .add(value)
            .map_err(|error| StoreError::Database(sqlx::Error::Encode(error)))
    }

    /// Runs the statements on `conn`, inside the caller's transaction; how many rows they
    /// returned. `keep` keeps the values bound, to run the script again.
    pub(super) async fn run(
        &mut self,
        conn: &mut SqliteConnection,
        keep: bool,
    ) -> Result<usize, StoreError> {
        let mut rows = 0;
        for call in self.calls.iter_mut().filter(|call| !call.sql.is_empty()) {
            let args = if keep {
                call.args.clone()
            } else {
                std::mem::take(&mut call.args)
            };
            rows += sqlx::query_with::<Sqlite, _>(&call.sql, args)
                .fetch_all(&mut *conn)
                .await?
                .len();
        }
        Ok(rows)
    }
}
