//! The renewer: keeps this host's leases alive while its runs go on, stops the runs it no
//! longer holds (cancelled, or taken back after a stall), and beats the host's heartbeat.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::Runs;

/// Renews leases a few times per lease, and at least every second so a cancel from
/// another host stops a run within about a second; runs until the scheduler aborts it,
/// after the grace period, so leases stay alive while runs finish.
pub(super) async fn run(runs: Arc<Runs>) {
    let lease_ms = i64::try_from(runs.settings.lease.as_millis()).unwrap_or(i64::MAX);
    let every = (runs.settings.lease / 3).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // Ids before the renewal: a run claimed after it is not mistaken for a lost one.
        let running = runs.in_flight.ids();
        match runs.store.renew_leases(&runs.host, lease_ms).await {
            Ok(held) => {
                let held: HashSet<String> = held.into_iter().collect();
                for id in running.iter().filter(|id| !held.contains(*id)) {
                    if runs.in_flight.abort_run(id) {
                        tracing::info!(run = %id, "run stopped: it was cancelled or another host took it over");
                    }
                }
            }
            Err(error) => tracing::error!(%error, "cannot renew this host's leases"),
        }
        if let Err(error) = runs.store.host_heartbeat(&runs.host).await {
            tracing::error!(%error, "cannot beat this host's heartbeat");
        }
    }
}
