//! The claimer: claims due runs for this host while it has room, and hands them to the
//! worker; it also takes back runs whose host died (their lease expired).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::watch;

use super::Runs;
use crate::store::{Claim, Run, now_ms};
use crate::worker::Worker;

/// The most runs one claim takes: enough to keep a busy host fed, few enough that one
/// host does not take a whole backlog other hosts could share.
const CLAIM_BATCH: usize = 32;

/// A claim costs about the same whatever it takes (it ranks every due run), so while
/// this host has room for less than half a batch it claims at most this often, instead
/// of once per finished run. A free slot waits this long at most.
const SMALL_CLAIM_EVERY: Duration = Duration::from_millis(20);

/// Claims and starts runs until `stopped` turns true.
pub(super) async fn run(runs: Arc<Runs>, worker: Arc<Worker>, mut stopped: watch::Receiver<bool>) {
    let lease_ms = i64::try_from(runs.settings.lease.as_millis()).unwrap_or(i64::MAX);
    let reclaim_every = (runs.settings.lease / 4).max(Duration::from_millis(100));
    let mut last_reclaim: Option<tokio::time::Instant> = None;
    let small = runs.settings.concurrency.min(CLAIM_BATCH).div_ceil(2);
    let mut last_claim: Option<tokio::time::Instant> = None;
    while !*stopped.borrow() {
        if last_reclaim.is_none_or(|at| at.elapsed() >= reclaim_every) {
            last_reclaim = Some(tokio::time::Instant::now());
            match runs.store.reclaim_expired().await {
                Ok(reclaimed) if reclaimed.requeued + reclaimed.failed > 0 => tracing::warn!(
                    requeued = reclaimed.requeued,
                    failed = reclaimed.failed,
                    "runs whose host stopped answering are taken back"
                ),
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "cannot take back expired runs"),
            }
        }
        let room = runs
            .settings
            .concurrency
            .saturating_sub(runs.in_flight.len());
        if room > 0
            && room < small
            && let Some(at) = last_claim
            && at.elapsed() < SMALL_CLAIM_EVERY
        {
            // A run that ends meanwhile may make the room worth a claim before then.
            tokio::select! {
                () = tokio::time::sleep_until(at + SMALL_CLAIM_EVERY) => {}
                () = runs.wake.notified() => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        let mut full_batch = false;
        if room > 0 {
            last_claim = Some(tokio::time::Instant::now());
            let limit = room.min(CLAIM_BATCH);
            let claim = Claim {
                host: &runs.host,
                limit: i64::try_from(limit).unwrap_or(1),
                per_company: i64::try_from(runs.settings.per_company).unwrap_or(1),
                lease_ms,
            };
            match runs.store.claim_runs(&claim).await {
                Ok(claimed) => {
                    full_batch = claimed.len() == limit;
                    for run in claimed {
                        start(&runs, &worker, run);
                    }
                }
                Err(error) => tracing::error!(%error, "cannot claim runs"),
            }
        }
        if full_batch {
            continue;
        }
        let wait = if room == 0 {
            runs.settings.poll
        } else {
            until_next_due(&runs).await
        };
        tokio::select! {
            () = runs.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => {}
        }
    }
}

/// How long to sleep before the earliest queued run is due, at most the poll interval
/// (another host may queue work meanwhile).
async fn until_next_due(runs: &Runs) -> Duration {
    let poll = runs.settings.poll;
    match runs.store.next_due_run().await {
        Ok(Some(due)) => {
            let ms = u64::try_from((due - now_ms()).max(0)).unwrap_or(0);
            Duration::from_millis(ms).min(poll)
        }
        Ok(None) => poll,
        Err(error) => {
            tracing::error!(%error, "cannot read the queue");
            poll
        }
    }
}

/// Runs a claimed run in its own task.
fn start(runs: &Arc<Runs>, worker: &Arc<Worker>, run: Run) {
    let committing = Arc::new(AtomicBool::new(false));
    let (task_runs, task_worker, flag) = (runs.clone(), worker.clone(), committing.clone());
    let id = run.id.clone();
    let install = run.install_id.clone();
    // Holding the map's entry before the task can end keeps `remove` after `insert`.
    let (ready, wait_ready) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = wait_ready.await;
        task_worker
            .execute(&run, &task_runs.settings.retry, &flag)
            .await;
        task_runs.in_flight.remove(&run.id);
        task_runs.wake.notify_one();
    });
    runs.in_flight
        .insert(&id, &install, task.abort_handle(), committing);
    let _ = ready.send(());
}
