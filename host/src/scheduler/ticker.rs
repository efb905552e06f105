//! The ticker: enqueues each due schedule slot once, skipping or queueing behind a run
//! still going on as the schedule's overlap policy says; a slot missed while no host ran
//! becomes one catch-up run, however many slots were missed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{Overlap, Runs, Schedule};
use crate::store::{NewRun, RunCall, RunTrigger, StoredSchedule, now_ms};

/// A slot this late was missed (no host was running): it becomes a catch-up run.
const MISSED_AFTER: Duration = Duration::from_secs(60);

/// Schedules read per pass.
const BATCH: i64 = 500;

/// Enqueues due slots until `stopped` turns true.
pub(super) async fn run(runs: Arc<Runs>, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        let now = now_ms();
        let due = match runs.store.due_schedules(now, BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "cannot read due schedules");
                Vec::new()
            }
        };
        let full = i64::try_from(due.len()).unwrap_or(0) == BATCH;
        for schedule in &due {
            if let Err(error) = fire(&runs, schedule, now).await {
                tracing::error!(install = %schedule.install_id, %error, "cannot enqueue a scheduled run");
            }
        }
        if full {
            continue;
        }
        let wait = match runs.store.next_due_schedule().await {
            Ok(Some(next)) => {
                Duration::from_millis(u64::try_from((next - now_ms()).max(0)).unwrap_or(0))
            }
            Ok(None) => runs.settings.poll,
            Err(error) => {
                tracing::error!(%error, "cannot read the next due schedule");
                runs.settings.poll
            }
        }
        .min(runs.settings.poll);
        tokio::select! {
            () = runs.schedules_changed.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => {}
        }
    }
}

/// Handles one due schedule: moves it to its next slot and enqueues this one, unless the
/// overlap policy says to skip it.
async fn fire(
    runs: &Runs,
    stored: &StoredSchedule,
    now: i64,
) -> Result<(), crate::store::StoreError> {
    let Some(slot) = stored.next_due_at else {
        return Ok(());
    };
    let schedule = match Schedule::from_stored(stored) {
        Ok(schedule) => schedule,
        Err(error) => {
            tracing::error!(install = %stored.install_id, %error, "a stored schedule is not valid; it is stopped");
            runs.store
                .advance_schedule(stored, slot, None, None)
                .await?;
            return Ok(());
        }
    };
    let missed = now - slot > i64::try_from(MISSED_AFTER.as_millis()).unwrap_or(i64::MAX);
    // After a miss, or a slot the host reached late, the next slot comes after now:
    // missed slots are not run one by one.
    let next = schedule
        .next_after(slot)
        .filter(|next| *next > now)
        .or_else(|| schedule.next_after(now));
    let Some(install) = runs
        .store
        .install(&stored.company_id, &stored.install_id)
        .await?
    else {
        runs.store
            .advance_schedule(stored, slot, None, None)
            .await?;
        return Ok(());
    };
    let (active, queued) = runs
        .store
        .active_runs(&stored.company_id, &stored.install_id)
        .await?;
    let overlaps = match schedule.overlap {
        Overlap::Skip => active > 0,
        Overlap::QueueOne => queued > 0,
    };
    let run = (!overlaps).then(|| NewRun {
        install_id: install.id.clone(),
        plugin: install.plugin.clone(),
        trigger: if missed {
            RunTrigger::CatchUp
        } else {
            RunTrigger::Schedule
        },
        call: RunCall::Sync,
        due_at: (if missed { now } else { slot }) + schedule.jitter_for(&install.id),
        scheduled_for: Some(slot),
        attempt: 1,
        max_attempts: runs.settings.retry.max_attempts,
        retry_of: None,
    });
    if overlaps {
        tracing::info!(install = %install.id, slot = %crate::store::format_ms(slot), "slot skipped: the previous run goes on");
    }
    if runs
        .store
        .advance_schedule(stored, slot, next, run.as_ref())
        .await?
        && run.is_some()
    {
        runs.wake.notify_one();
    }
    Ok(())
}
