//! The scheduler: the one door every run goes through, and the loops that work the queue.
//!
//! The `runs` table is the queue; there is no coordinator besides the database. The API,
//! the schedules and webhooks call [`Runs`] to enqueue, cancel and read runs. Each host
//! runs three loops ([`Scheduler::start`]): the *claimer* claims due runs under a lease
//! (fairly across companies, within a per-company limit) and hands them to the worker;
//! the *renewer* renews this host's leases, stops runs another host cancelled, and beats
//! the host's heartbeat; the *ticker* enqueues due schedule slots. A host that dies stops
//! renewing: once its leases expire, any host queues its runs again with their attempt
//! raised. A host that is asked to stop finishes what it can within a grace period and
//! hands the rest back.

mod claimer;
mod host;
mod in_flight;
mod renewer;
mod retry;
mod schedule;
mod ticker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

pub use host::{HostError, SqliteHostLock, host_name};
pub use retry::RetryPolicy;
pub use schedule::{Every, Overlap, Schedule, ScheduleError, parse_cron, parse_timezone};

use crate::store::{
    Install, NewDelivery, NewRun, RoutedRun, Run, RunCall, RunTrigger, Store, StoreError, now_ms,
};
use crate::worker::Worker;
use in_flight::InFlight;

/// How a host works the queue.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How long a claim holds a run unless renewed; a dead host's runs wait this long.
    pub lease: Duration,
    /// Runs this host runs at once.
    pub concurrency: usize,
    /// Runs one company may have running at once, across all hosts.
    pub per_company: usize,
    /// How often the host looks for work another host queued.
    pub poll: Duration,
    /// How failed runs are retried.
    pub retry: RetryPolicy,
    /// Whether this host enqueues due schedule slots (any number of hosts may).
    pub schedules: bool,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            concurrency: 16,
            per_company: 4,
            poll: Duration::from_millis(500),
            retry: RetryPolicy::default(),
            schedules: true,
        }
    }
}

/// The one door for runs: enqueue, cancel and read them.
pub struct Runs {
    store: Store,
    host: String,
    settings: QueueSettings,
    /// Wakes the claimer: a run was enqueued here, or a slot freed up.
    wake: Notify,
    /// Wakes the ticker: a schedule was set or removed.
    schedules_changed: Notify,
    in_flight: InFlight,
}

impl Runs {
    /// The door to the queue in `store`, for the host `host`.
    pub fn new(store: Store, host: String, settings: QueueSettings) -> Arc<Self> {
        Arc::new(Self {
            store,
            host,
            settings,
            wake: Notify::new(),
            schedules_changed: Notify::new(),
            in_flight: InFlight::default(),
        })
    }

    /// This host's id, as runs name it in `claimed_by`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// How this host works the queue.
    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// Queues a run of `install`, due now.
    pub async fn enqueue(
        &self,
        company: &str,
        install: &Install,
        trigger: RunTrigger,
        call: RunCall,
    ) -> Result<Run, StoreError> {
        let run = self.due_now(install, trigger, call);
        let queued = self
            .store
            .enqueue_run(company, &run)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))?;
        self.wake.notify_one();
        Ok(queued)
    }

    /// A first attempt of `install` calling `call`, due now.
    fn due_now(&self, install: &Install, trigger: RunTrigger, call: RunCall) -> NewRun {
        NewRun {
            install_id: install.id.clone(),
            plugin: install.plugin.clone(),
            trigger,
            call,
            due_at: now_ms(),
            scheduled_for: None,
            attempt: 1,
            max_attempts: self.settings.retry.max_attempts,
            retry_of: None,
        }
    }

    /// Keeps a verified webhook delivery and queues a run of each install in `handlers`
    /// calling its `handle-event`, in one transaction. `None` when the service already
    /// made this delivery: nothing is queued again.
    pub async fn receive(
        &self,
        company: &str,
        delivery: &NewDelivery<'_>,
        handlers: &[Install],
    ) -> Result<Option<(String, Vec<RoutedRun>)>, StoreError> {
        let call = RunCall::Event {
            kind: delivery.kind.to_owned(),
            json: delivery.payload.to_owned(),
        };
        let runs: Vec<NewRun> = handlers
            .iter()
            .map(|install| self.due_now(install, RunTrigger::Webhook, call.clone()))
            .collect();
        let kept = self
            .store
            .receive_delivery(company, delivery, &runs)
            .await?;
        if kept.as_ref().is_some_and(|(_, routed)| !routed.is_empty()) {
            self.wake.notify_one();
        }
        Ok(kept)
    }

    /// Cancels a queued or running run, wherever it runs; false when it had already ended.
    pub async fn cancel(&self, company: &str, run: &str, by: &str) -> Result<bool, StoreError> {
        let cancelled = self.store.cancel_run(company, run, by).await?;
        if cancelled {
            // Here at once; another host stops it when it next renews its leases.
            self.in_flight.abort_run(run);
        }
        Ok(cancelled)
    }

    /// Cancels an install's runs (it is being uninstalled), wherever they run.
    pub async fn cancel_install(&self, company: &str, install: &str) -> Result<(), StoreError> {
        self.store.cancel_runs(company, install).await?;
        self.in_flight.abort_install(install);
        Ok(())
    }

    /// One of a company's runs.
    pub async fn status(&self, company: &str, run: &str) -> Result<Option<Run>, StoreError> {
        self.store.run(company, run).await
    }

    /// Runs this host is running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Tells the ticker a schedule was set or removed, so it looks again.
    pub fn schedules_changed(&self) {
        self.schedules_changed.notify_one();
    }
}

/// A host's loops over the queue, running until [`Scheduler::shutdown`].
pub struct Scheduler {
    runs: Arc<Runs>,
    stop: watch::Sender<bool>,
    claimer: tokio::task::JoinHandle<()>,
    ticker: Option<tokio::task::JoinHandle<()>>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Starts the claimer, the renewer and (when the settings say so) the ticker.
    pub fn start(runs: Arc<Runs>, worker: Arc<Worker>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let claimer = tokio::spawn(claimer::run(runs.clone(), worker, stopped.clone()));
        let ticker = runs
            .settings
            .schedules
            .then(|| tokio::spawn(ticker::run(runs.clone(), stopped)));
        let renewer = tokio::spawn(renewer::run(runs.clone()));
        Self {
            runs,
            stop,
            claimer,
            ticker,
            renewer,
        }
    }

    /// Stops claiming, lets running runs finish within `grace`, then stops the rest and
    /// hands them back to the queue for another host (or the next start). Returns how
    /// many were handed back.
    pub async fn shutdown(self, grace: Duration) -> Result<u64, StoreError> {
        let _ = self.stop.send(true);
        let _ = self.claimer.await;
        if let Some(ticker) = self.ticker {
            let _ = ticker.await;
        }
        let until = tokio::time::Instant::now() + grace;
        while self.runs.in_flight.len() > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stopped = self.runs.in_flight.abort_all();
        if stopped > 0 {
            tracing::warn!(
                runs = stopped,
                "runs still going at the end of the grace period are stopped"
            );
        }
        self.renewer.abort();
        let _ = self.renewer.await;
        let handed_back = self.runs.store.hand_back_runs(&self.runs.host).await?;
        self.runs.store.host_stopped(&self.runs.host).await?;
        Ok(handed_back)
    }
}
