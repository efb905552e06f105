//! Each database through its own driver, beside the `Any` pool that every other statement
//! uses. A run's commit and its log lines are nearly all the store ever writes, and there
//! what each database does best is out of `Any`'s reach: PostgreSQL takes a column of
//! values as one array parameter, and SQLite's driver binds straight from borrowed text.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{Backend, StoreError};

/// Connections of PostgreSQL's native pool: commits and log batches are short, and every
/// host keeps this many beside its `Any` pool.
const POSTGRES_CONNECTIONS: u32 = 8;

/// The database's own pool.
#[derive(Debug, Clone)]
pub(super) enum NativePool {
    /// SQLite: one connection, because every write holds the store's one writer slot.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

impl NativePool {
    /// Connects to the database at `url`, already migrated through the `Any` pool.
    pub(super) async fn connect(url: &str, backend: Backend) -> Result<Self, StoreError> {
        Ok(match backend {
            Backend::Sqlite => {
                // The same settings as the `Any` pool's connections: WAL so readers run
                // beside the writer, and a busy timeout so a second writer waits.
                let options = SqliteConnectOptions::from_str(url)?
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                Self::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        // A connection to a file does not drop: no test on each acquire.
                        .test_before_acquire(false)
                        .connect_with(options)
                        .await?,
                )
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
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}
