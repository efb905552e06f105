//! The worker: runs one claimed run of an install's connector and commits what it
//! produced; and runs connection checks, which keep nothing.
//!
//! A run is given the artifact from the marketplace (digest checked, compiled once per
//! host), the install's configuration and grants, the mapped secrets decrypted from the
//! vault, and the committed state. Its log lines stream into the store as they come; its
//! records, state, status, next attempt and last log lines are committed in one
//! transaction, and all but the log lines only if this host still holds the run (not
//! cancelled, lease not taken over).

mod check_slots;
mod commit;
mod compiled;
mod log_pipe;
mod prepare;
mod secrets;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::marketplace::{Catalogue, MarketplaceError};
use crate::runtime::{Call, Level, RunStatus, Runtime};
use crate::scheduler::RetryPolicy;
use crate::store::{Run, RunCall, RunEnd, Store, StoreError, now_ms};
use crate::vault::Vault;
use check_slots::CheckSlots;
pub use check_slots::{CHECKS_PER_COMPANY, ChecksBusy};
use commit::{failed, finish_of};
use compiled::Compiled;
use log_pipe::{AbandonOnDrop, CollectedLog, StoreLog};

/// Why a connector could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The marketplace refused the artifact.
    #[error(transparent)]
    Marketplace(#[from] MarketplaceError),
    /// The artifact is not a loadable connector.
    #[error("the connector cannot be loaded: {0}")]
    Load(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a connection check found.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    /// Whether the connection works.
    pub ok: bool,
    /// What is wrong, if it does not.
    pub error: Option<String>,
    /// The check's log lines.
    pub log: Vec<String>,
}

/// Runs installs' connectors.
pub struct Worker {
    store: Store,
    vault: Arc<Vault>,
    catalogue: Arc<Catalogue>,
    runtime: Runtime,
    compiled: Compiled,
    checks: CheckSlots,
}

impl Worker {
    /// A worker over `store`, opening secrets with `vault`, installing from `catalogue`.
    pub fn new(
        store: Store,
        vault: Arc<Vault>,
        catalogue: Arc<Catalogue>,
        runtime: Runtime,
    ) -> Self {
        Self {
            store,
            vault,
            catalogue,
            runtime,
            compiled: Compiled::default(),
            checks: CheckSlots::default(),
        }
    }

    /// Runs an install's connection check and reports, keeping nothing; refused while
    /// the company has [`CHECKS_PER_COMPANY`] checks going.
    pub async fn check(
        &self,
        company: &str,
        install: &crate::store::Install,
    ) -> Result<CheckResult, ChecksBusy> {
        let _slot = self.checks.take(company)?;
        Ok(self.check_now(company, install).await)
    }

    async fn check_now(&self, company: &str, install: &crate::store::Install) -> CheckResult {
        let state = match self.store.install_state(company, &install.id).await {
            Ok(state) => state,
            Err(error) => {
                return CheckResult {
                    ok: false,
                    error: Some(internal(&error)),
                    log: Vec::new(),
                };
            }
        };
        let prepared = match self.prepare(company, install, state).await {
            Ok(prepared) => prepared,
            Err(error) => {
                return CheckResult {
                    ok: false,
                    error: Some(error),
                    log: Vec::new(),
                };
            }
        };
        let log = Arc::new(CollectedLog::default());
        let redactor = prepared.secrets.redactor();
        let (plugin, context) = prepared.into_run(install, log.clone());
        let outcome = self.runtime.run(&plugin, Call::Check, context).await;
        CheckResult {
            ok: outcome.status == RunStatus::Succeeded,
            error: outcome.error.map(|e| redactor.redact(&e.to_string())),
            log: lock(&log.lines).clone(),
        }
    }

    /// Runs a run this host claimed and commits it; every failure ends up in the run's
    /// row and log. Returns whether the commit found the run still held by this host.
    /// `committing` is set once the commit begins: from then on nothing stops the run.
    pub async fn execute(&self, run: &Run, retry: &RetryPolicy, committing: &AtomicBool) -> bool {
        let company = run.company_id.as_str();
        let (sink, flusher) =
            StoreLog::start(self.store.clone(), company, &run.install_id, &run.id);
        let _abandon = AbandonOnDrop(sink.clone());
        sink.host(
            Level::Info,
            format!(
                "run started ({}, attempt {} of {}, on {})",
                run.trigger.as_str().replace('_', "-"),
                run.attempt,
                run.max_attempts,
                run.claimed_by.as_deref().unwrap_or("?")
            ),
        );
        let install = self
            .store
            .install_with_state(company, &run.install_id)
            .await
            .map_err(|error| internal(&error));
        let call = match self.store.run_event(run).await {
            Ok(Some((kind, json))) => Ok(RunCall::Event { kind, json }),
            Ok(None) => Ok(RunCall::Sync),
            Err(error) => Err(internal(&error)),
        };
        let prepared = match (install, call) {
            (Err(error), _) | (_, Err(error)) => Err(error),
            (Ok(None), _) => Err("the install was removed".to_owned()),
            (Ok(Some((install, state))), Ok(call)) => self
                .prepare(company, &install, state)
                .await
                .map(|prepared| (install, call, prepared)),
        };
        let (mut finish, records, full_refresh, state, identities, next) = match prepared {
            Err(error) => {
                sink.host(Level::Error, format!("the run could not start: {error}"));
                (
                    failed(error),
                    Vec::new(),
                    Vec::new(),
                    None,
                    Vec::new(),
                    None,
                )
            }
            Ok((install, call, prepared)) => {
                let redactor = prepared.secrets.redactor();
                let (plugin, context) = prepared.into_run(&install, sink.clone());
                // A sync lists the manifest's full-refresh streams whole; an event run
                // emits only what its event is about.
                let full_refresh = match &call {
                    RunCall::Sync => plugin.manifest().full_refresh_streams(),
                    RunCall::Event { .. } => Vec::new(),
                };
                let start_delay = (now_ms() - run.due_at).max(0);
                let outcome = self
                    .runtime
                    .run(&plugin, call.runtime_call(), context)
                    .await;
                let ended_at = now_ms();
                let finish = finish_of(&outcome, start_delay, ended_at, |text| {
                    redactor.redact(text)
                });
                let level = if outcome.status == RunStatus::Failed {
                    Level::Error
                } else {
                    Level::Info
                };
                let total: u64 = outcome.stats.records_by_stream.values().sum();
                sink.host(
                    level,
                    match &finish.error {
                        Some(error) => format!("run {}: {error}", finish.status.replace('_', " ")),
                        None => format!("run {}: {total} records", finish.status),
                    },
                );
                // A retry calls what the run called: an event run retries its event.
                let next = retry.next_attempt(run, call, &outcome, ended_at);
                if let Some(next) = &next {
                    sink.host(
                        Level::Info,
                        format!(
                            "attempt {} of {} is queued for {}",
                            next.attempt,
                            next.max_attempts,
                            crate::store::format_ms(next.due_at)
                        ),
                    );
                }
                if outcome.keeps_output() {
                    let identities = outcome.identities;
                    (
                        finish,
                        outcome.records,
                        full_refresh,
                        Some(outcome.state),
                        identities,
                        next,
                    )
                } else {
                    (finish, Vec::new(), Vec::new(), None, Vec::new(), next)
                }
            }
        };
        let behind = sink.dropped();
        if behind > 0 {
            sink.host(
                Level::Warn,
                format!(
                    "{behind} log lines were dropped: the store fell behind the connector's log"
                ),
            );
            let behind = i64::try_from(behind).unwrap_or(i64::MAX);
            finish.log_lines = (finish.log_lines - behind).max(0);
            finish.dropped_log_lines = finish.dropped_log_lines.saturating_add(behind);
        }
        sink.end();
        let log = flusher.await.unwrap_or_else(|_| {
            tracing::error!(run = %run.id, "the log writer of a run stopped");
            Vec::new()
        });
        // The people the run saw join the directory before its commit, so a reader who
        // sees the run finished finds them. They are facts about the service, not the
        // run's output: a run that turns out no longer held has still seen them.
        self.learn_people(run, &identities).await;
        committing.store(true, Ordering::SeqCst);
        let end = RunEnd {
            finish: &finish,
            records: &records,
            full_refresh: &full_refresh,
            state: state.as_ref(),
            retry: next.as_ref(),
            log: &log,
        };
        match self.store.finish_run(run, end).await {
            Ok(true) => true,
            Ok(false) => {
                tracing::info!(run = %run.id, "run cancelled or taken over; nothing it wrote was kept");
                false
            }
            Err(error) => {
                tracing::error!(run = %run.id, %error, "cannot commit a run");
                if !log.is_empty()
                    && let Err(error) = self
                        .store
                        .append_logs(company, &run.install_id, &run.id, &log)
                        .await
                {
                    tracing::error!(run = %run.id, %error, "cannot keep a run's log lines");
                }
                let failure = failed("the host could not save the run's output".into());
                match self
                    .store
                    .finish_run(run, RunEnd::keeping_nothing(&failure, &[]))
                    .await
                {
                    Ok(held) => held,
                    Err(error) => {
                        tracing::error!(run = %run.id, %error, "cannot mark a run failed");
                        false
                    }
                }
            }
        }
    }
}

/// Locks one of the worker's maps.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these maps leaves it consistent: keep using it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a run's admin is told when the store fails while the run is prepared.
fn internal(error: &StoreError) -> String {
    tracing::error!(%error, "store error while preparing a run");
    "the host could not read the install's data".to_owned()
}
