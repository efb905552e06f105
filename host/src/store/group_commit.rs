//! SQLite's bulk writes, grouped: a run's commit or a batch of log lines waits in a queue,
//! and one task writes everything waiting in one transaction, each write a script sent to
//! the connection's thread in one call. The runs that finish while a transaction commits
//! share the next one, so a busy host pays one transaction for many runs.
//!
//! A run's commit is fenced on its claim statement by statement (`store/commit.rs`), so a
//! run no longer held writes nothing in the group without a savepoint of its own. A
//! group that fails is rolled back and each write is tried again in its own transaction,
//! so one write's error is its own and never another run's.

use std::sync::Arc;

use sqlx::sqlite::SqlitePool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::StoreError;
use super::native::Script;

/// Writes taken into one transaction at most: more than a busy host has runs going.
const MAX_GROUP: usize = 64;

/// A write waiting for the next transaction, and who waits for it.
struct Pending {
    script: Script,
    done: oneshot::Sender<Result<usize, StoreError>>,
}

/// The queue of SQLite's bulk writes, and the connection they go to.
#[derive(Debug, Clone)]
pub(super) struct GroupCommit {
    pool: SqlitePool,
    queue: mpsc::UnboundedSender<Pending>,
}

impl GroupCommit {
    /// Starts the task that writes to `pool`, holding `writer` (the store's one writer
    /// slot) for each transaction.
    pub(super) fn start(pool: SqlitePool, writer: Arc<Mutex<()>>) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(pool.clone(), writer, waiting));
        Self { pool, queue }
    }

    /// Writes `script` in the next transaction; once that is committed, how many rows
    /// its statements returned. A write whose caller stops waiting is still made.
    pub(super) async fn write(&self, script: Script) -> Result<usize, StoreError> {
        let (done, written) = oneshot::channel();
        self.queue
            .send(Pending { script, done })
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        written
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
    }

    /// Closes the connection; writes still queued fail.
    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

/// Writes what waits, a group at a time, until every sender is gone.
async fn write_groups(
    pool: SqlitePool,
    writer: Arc<Mutex<()>>,
    mut waiting: mpsc::UnboundedReceiver<Pending>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
        let _writer = writer.lock().await;
        // What came in while the slot was busy joins this transaction.
        while group.len() < MAX_GROUP
            && let Ok(pending) = waiting.try_recv()
        {
            group.push(pending);
        }
        write_group(&pool, std::mem::take(&mut group)).await;
    }
}

/// Writes `group` in one transaction, or each write alone when that fails.
async fn write_group(pool: &SqlitePool, mut group: Vec<Pending>) {
    if group.len() > 1 {
        match in_one_transaction(pool, &mut group).await {
            Ok(rows) => {
                for (pending, rows) in group.into_iter().zip(rows) {
                    let _ = pending.done.send(Ok(rows));
                }
                return;
            }
            Err(error) => {
                tracing::warn!(%error, writes = group.len(), "a group of writes failed; each is made alone");
            }
        }
    }
    for mut pending in group {
        let written = alone(pool, &mut pending.script).await;
        let _ = pending.done.send(written);
    }
}

/// Every write of `group` in one transaction; the rows each returned.
async fn in_one_transaction(
    pool: &SqlitePool,
    group: &mut [Pending],
) -> Result<Vec<usize>, StoreError> {
    let mut tx = begin(pool).await?;
    let mut rows = Vec::with_capacity(group.len());
    for pending in group.iter_mut() {
        rows.push(pending.script.run(&mut tx, true).await?);
    }
    tx.commit().await?;
    Ok(rows)
}

/// One write in its own transaction; the rows it returned.
async fn alone(pool: &SqlitePool, script: &mut Script) -> Result<usize, StoreError> {
    let mut tx = begin(pool).await?;
    let rows = script.run(&mut tx, false).await?;
    tx.commit().await?;
    Ok(rows)
}

/// A transaction that holds SQLite's write lock from its start, so what a commit's fence
/// reads cannot change before the transaction ends.
async fn begin(pool: &SqlitePool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}
