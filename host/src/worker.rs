//! The worker: runs an install's connector and commits what the run produced.
//!
//! It gathers what a run is given — the artifact from the marketplace (digest checked),
//! the install's configuration and grants, the mapped secrets decrypted from the vault,
//! the committed state — runs it, streams its log lines into the store as they come, and
//! commits records, state and run status in one transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::egress::{Grants, HostPattern};
use crate::marketplace::{Catalogue, MarketplaceError};
use crate::people::{Directory, Observation};
use crate::runtime::{
    Call, Level, LogLine, LogSink, Plugin, RunContext, RunOutcome, RunStatus, Runtime, Source,
};
use crate::secrets::SecretSet;
use crate::store::{Install, Run, RunFinish, RunTrigger, Store, StoreError};
use crate::vault::Vault;

/// Log lines written per batch while a run goes on.
const LOG_BATCH: usize = 500;

/// Why a run could not be started or a check made.
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
    /// Compiled connectors by artifact digest.
    plugins: Mutex<HashMap<String, Plugin>>,
    /// Runs going on, by install, so an uninstall can stop them.
    running: Mutex<HashMap<String, Vec<tokio::task::AbortHandle>>>,
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
            plugins: Mutex::default(),
            running: Mutex::default(),
        }
    }

    /// The compiled connector of an install, checked against the catalogue's digest.
    fn plugin(&self, install: &Install) -> Result<Plugin, WorkerError> {
        let offer = self
            .catalogue
            .offer(&install.plugin, Some(&install.version))?;
        if let Some(plugin) = lock(&self.plugins).get(&offer.sha256) {
            return Ok(plugin.clone());
        }
        let bytes = offer.artifact_bytes()?;
        let plugin = self
            .runtime
            .load(&bytes, offer.manifest.clone())
            .map_err(|e| WorkerError::Load(e.to_string()))?;
        lock(&self.plugins).insert(offer.sha256.clone(), plugin.clone());
        Ok(plugin)
    }

    /// The secrets an install maps, decrypted, by the names the connector requests.
    async fn secrets(&self, company: &str, install: &Install) -> Result<SecretSet, String> {
        let ciphertexts = self
            .store
            .secret_ciphertexts(company)
            .await
            .map_err(|e| internal(&e))?;
        let keys = self
            .store
            .data_keys(company)
            .await
            .map_err(|e| internal(&e))?;
        let mut values = BTreeMap::new();
        for (requested, name) in &install.grants.secrets {
            let Some(sealed) = ciphertexts.get(name) else {
                return Err(format!(
                    "the install maps the secret `{requested}` to the company secret `{name}`, which does not exist; set it with PUT /api/companies/{company}/secrets/{name}"
                ));
            };
            let value = self
                .vault
                .decrypt(company, &keys, name, sealed)
                .map_err(|e| format!("the company secret `{name}` cannot be opened: {e}"))?;
            values.insert(requested.clone(), value.as_str().to_owned());
        }
        Ok(SecretSet::new(values))
    }

    /// Everything a run of `install` is given but its log.
    async fn prepare(&self, company: &str, install: &Install) -> Result<Prepared, String> {
        let plugin = self.plugin(install).map_err(|e| e.to_string())?;
        let secrets = self.secrets(company, install).await?;
        let parse = |hosts: &[String]| -> Result<Vec<HostPattern>, String> {
            hosts
                .iter()
                .map(|h| HostPattern::parse(h).map_err(|e| format!("granted host `{h}`: {e}")))
                .collect()
        };
        let grants = Grants {
            hosts: parse(&install.grants.hosts)?,
            private_hosts: parse(&install.grants.private_hosts)?,
        };
        let state = self
            .store
            .install_state(company, &install.id)
            .await
            .map_err(|e| internal(&e))?;
        let people = self
            .store
            .people_book(company)
            .await
            .map_err(|e| internal(&e))?;
        Ok(Prepared {
            plugin,
            secrets,
            grants,
            state,
            people: Arc::new(people),
        })
    }

    /// Runs an install's connection check and reports, keeping nothing.
    pub async fn check(&self, company: &str, install: &Install) -> CheckResult {
        let prepared = match self.prepare(company, install).await {
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

    /// Queues a run of `install` and starts it in the background.
    pub async fn start_run(
        self: &Arc<Self>,
        company: &str,
        install: &Install,
        trigger: RunTrigger,
    ) -> Result<Run, WorkerError> {
        let run = self
            .store
            .create_run(company, &install.id, &install.plugin, trigger)
            .await?;
        let worker = self.clone();
        let (company_id, install_copy, run_copy) =
            (company.to_owned(), install.clone(), run.clone());
        let task = tokio::spawn(async move {
            worker.execute(&company_id, &install_copy, &run_copy).await;
            worker.forget(&install_copy.id);
        });
        lock(&self.running)
            .entry(install.id.clone())
            .or_default()
            .push(task.abort_handle());
        Ok(run)
    }

    fn forget(&self, install: &str) {
        let mut running = lock(&self.running);
        if let Some(handles) = running.get_mut(install) {
            handles.retain(|h| !h.is_finished());
            if handles.is_empty() {
                running.remove(install);
            }
        }
    }

    /// Stops an install's runs (it is being uninstalled) and marks them cancelled.
    pub async fn cancel_install(&self, company: &str, install: &str) -> Result<(), StoreError> {
        if let Some(handles) = lock(&self.running).remove(install) {
            for handle in handles {
                handle.abort();
            }
        }
        self.store.cancel_runs(company, install).await?;
        Ok(())
    }

    /// Whether any run of `install` is going on in this host.
    pub fn is_running(&self, install: &str) -> bool {
        lock(&self.running)
            .get(install)
            .is_some_and(|handles| handles.iter().any(|h| !h.is_finished()))
    }

    /// Takes the identities a committed run saw into the company's directory.
    async fn learn_people(&self, company: &str, run: &Run, identities: &[Observation]) {
        if identities.is_empty() {
            return;
        }
        let learned = self
            .store
            .change_people(company, |book| {
                for observation in identities {
                    book.observe(observation);
                }
            })
            .await;
        if let Err(error) = learned {
            tracing::error!(run = %run.id, %error, "cannot keep the people a run saw");
        }
    }

    /// Runs and commits one run; every failure ends up in the run's row and log.
    async fn execute(&self, company: &str, install: &Install, run: &Run) {
        match self.store.start_run(company, &run.id).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::error!(run = %run.id, %error, "cannot start a run");
                return;
            }
        }
        let (sink, flusher) = StoreLog::start(self.store.clone(), company, &install.id, &run.id);
        sink.host(
            Level::Info,
            format!("run started ({:?})", run.trigger).to_lowercase(),
        );
        let (finish, records, state, identities) = match self.prepare(company, install).await {
            Err(error) => {
                sink.host(Level::Error, format!("the run could not start: {error}"));
                (failed(error), Vec::new(), None, Vec::new())
            }
            Ok(prepared) => {
                let redactor = prepared.secrets.redactor();
                let (plugin, context) = prepared.into_run(install, sink.clone());
                let outcome = self.runtime.run(&plugin, Call::Sync, context).await;
                let finish = finish_of(&outcome, |text| redactor.redact(text));
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
                if outcome.keeps_output() {
                    (
                        finish,
                        outcome.records,
                        Some(outcome.state),
                        outcome.identities,
                    )
                } else {
                    (finish, Vec::new(), None, Vec::new())
                }
            }
        };
        sink.end();
        // Lines first, so a reader who sees the run finished sees all of its log.
        if flusher.await.is_err() {
            tracing::error!(run = %run.id, "the log writer of a run stopped");
        }
        match self
            .store
            .finish_run(company, run, &finish, &records, state.as_ref())
            .await
        {
            Ok(true) => self.learn_people(company, run, &identities).await,
            Ok(false) => tracing::info!(run = %run.id, "run cancelled; nothing it wrote was kept"),
            Err(error) => {
                tracing::error!(run = %run.id, %error, "cannot commit a run");
                let failure = failed("the host could not save the run's output".into());
                if let Err(error) = self
                    .store
                    .finish_run(company, run, &failure, &[], None)
                    .await
                {
                    tracing::error!(run = %run.id, %error, "cannot mark a run failed");
                }
            }
        }
    }
}

/// Everything a run of an install is given but its log.
struct Prepared {
    plugin: Plugin,
    secrets: SecretSet,
    grants: Grants,
    state: BTreeMap<String, String>,
    people: Arc<dyn Directory>,
}

impl Prepared {
    /// The connector and what its run is given, with `log` for its log lines.
    fn into_run(self, install: &Install, log: Arc<dyn LogSink>) -> (Plugin, RunContext) {
        let context = RunContext {
            config: install.config.clone(),
            secrets: self.secrets,
            grants: self.grants,
            state: self.state,
            log,
            people: self.people,
        };
        (self.plugin, context)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these maps leaves it consistent: keep using it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn internal(error: &StoreError) -> String {
    tracing::error!(%error, "store error while preparing a run");
    "the host could not read the install's data".to_owned()
}

fn failed(error: String) -> RunFinish {
    RunFinish {
        status: "failed",
        error: Some(error),
        note: None,
        http_requests: 0,
        peak_memory_bytes: 0,
        log_lines: 0,
        dropped_log_lines: 0,
    }
}

fn finish_of(outcome: &RunOutcome, redact: impl Fn(&str) -> String) -> RunFinish {
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    RunFinish {
        status: match outcome.status {
            RunStatus::Succeeded => "succeeded",
            RunStatus::RateLimited => "rate_limited",
            RunStatus::Failed => "failed",
        },
        error: outcome.error.as_ref().map(|e| redact(&e.to_string())),
        note: outcome.note.as_deref().map(&redact),
        http_requests: as_i64(outcome.stats.http_requests),
        peak_memory_bytes: as_i64(
            u64::try_from(outcome.stats.peak_memory_bytes).unwrap_or(u64::MAX),
        ),
        log_lines: as_i64(outcome.stats.log_lines),
        dropped_log_lines: as_i64(outcome.stats.dropped_log_lines),
    }
}

/// A run's log on its way into the store: lines are sent to a task that writes them in
/// batches, so a connector never waits on the database to log.
struct StoreLog {
    lines: mpsc::UnboundedSender<Entry>,
}

/// What the log writer task receives.
enum Entry {
    Line(LogLine),
    /// The run is over: write what is left and stop, even if a copy of the sink lingers.
    End,
}

impl StoreLog {
    fn start(
        store: Store,
        company: &str,
        install: &str,
        run: &str,
    ) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Entry>();
        let (company, install, run) = (company.to_owned(), install.to_owned(), run.to_owned());
        let flusher = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(LOG_BATCH);
            let mut open = true;
            while open {
                match receiver.recv().await {
                    Some(Entry::Line(line)) => batch.push(line),
                    Some(Entry::End) | None => open = false,
                }
                while open && batch.len() < LOG_BATCH {
                    match receiver.try_recv() {
                        Ok(Entry::Line(line)) => batch.push(line),
                        Ok(Entry::End) => open = false,
                        Err(_) => break,
                    }
                }
                if batch.is_empty() {
                    continue;
                }
                if let Err(error) = store.append_logs(&company, &install, &run, &batch).await {
                    tracing::error!(%run, %error, "cannot keep a run's log lines");
                }
                batch.clear();
            }
        });
        (Arc::new(Self { lines: sender }), flusher)
    }

    /// Ends the log: the writer task finishes once what was sent is written.
    fn end(&self) {
        let _ = self.lines.send(Entry::End);
    }

    /// A line from the host about the run.
    fn host(&self, level: Level, message: String) {
        self.write(LogLine {
            time: std::time::SystemTime::now(),
            level,
            source: Source::Host,
            message,
            fields: Vec::new(),
        });
    }
}

impl LogSink for StoreLog {
    fn write(&self, line: LogLine) {
        // The receiver lives until every sender is gone.
        let _ = self.lines.send(Entry::Line(line));
    }
}

/// A check's log lines, kept in memory for the answer.
#[derive(Default)]
struct CollectedLog {
    lines: Mutex<Vec<String>>,
}

impl LogSink for CollectedLog {
    fn write(&self, line: LogLine) {
        lock(&self.lines).push(format!(
            "{} [{}] {}",
            line.level.as_str(),
            line.source.as_str(),
            line.message
        ));
    }
}
