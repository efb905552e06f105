//! The runtime: runs connector components in sandboxed, capped, per-run stores.
//!
//! One [`Runtime`] holds the engine (pooling allocator, epoch interruption, compiled
//! components cached on disk by digest) and the linker. A [`Plugin`] is a compiled,
//! pre-linked component with its manifest; every run gets a fresh store with its own
//! caps, egress and WASI context (no filesystem, environment or sockets).

mod bindings;
mod host_api;
mod limits;
mod log_sink;
mod outcome;
mod run_state;
mod stdio;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::WasiCtx;

pub use limits::Limits;
pub use log_sink::{Level, LogLine, LogSink, LogWriter, Source};
pub use outcome::{ConnectorErrorKind, EmittedRecord, RunError, RunOutcome, RunStats, RunStatus};

use crate::egress::{Allowlist, Egress, Grants, PrivateReach};
use crate::manifest::Manifest;
use crate::people::Directory;
use crate::secrets::SecretSet;
use bindings::{Connector, ConnectorPre, types};
use run_state::{MemoryLimiter, RunState};
use stdio::StdioCapture;

/// How often the epoch advances: the granularity of CPU deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not a valid WebAssembly component.
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// A component, but not a `sluice:connector` connector of a version this host runs.
    #[error("the component does not fit the sluice:connector world (0.1.0 or 0.1.1): {0}")]
    World(String),
    /// The manifest's configuration schema does not compile.
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
}

/// What a run calls on the connector.
#[derive(Debug, Clone)]
pub enum Call {
    /// The connection check.
    Check,
    /// A sync.
    Sync,
    /// A webhook or interaction.
    Event {
        /// `<service>.<type>`.
        kind: String,
        /// The payload as JSON text.
        json: String,
    },
}

/// Everything one run is given.
pub struct RunContext {
    /// The install's configuration.
    pub config: serde_json::Value,
    /// The secret values the install maps, by the names the manifest requests.
    pub secrets: SecretSet,
    /// What the admin granted.
    pub grants: Grants,
    /// The state committed by earlier runs.
    pub state: BTreeMap<String, String>,
    /// Where log lines go.
    pub log: Arc<dyn LogSink>,
    /// The directory people are looked up in.
    pub people: Arc<dyn Directory>,
}

/// A compiled, pre-linked connector and its manifest.
#[derive(Clone)]
pub struct Plugin {
    pre: ConnectorPre<RunState>,
    manifest: Arc<Manifest>,
    config_validator: Arc<jsonschema::Validator>,
    /// The declared stream names, built once rather than per run.
    streams: Arc<std::collections::BTreeSet<String>>,
    /// Whether the component imports `people.find`.
    looks_up_people: bool,
}

impl Plugin {
    /// The connector's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Whether the connector can look people up (its component imports `people.find`): a
    /// run of one that cannot needs no directory.
    pub fn looks_up_people(&self) -> bool {
        self.looks_up_people
    }
}

/// Whether `component` imports `people.find`. A component imports only the functions its
/// code calls, so most connectors do not. A component names the interface at the version
/// it was built against, and its imports are looked up by exact name, so each version
/// this host runs is asked for.
fn imports_people_find(engine: &Engine, component: &Component) -> bool {
    let ty = component.component_type();
    crate::manifest::SUPPORTED_API_VERSIONS
        .iter()
        .any(|version| {
            let interface = format!("sluice:connector/people@{version}");
            match ty.get_import(engine, &interface).map(|people| people.ty) {
                Some(wasmtime::component::types::ComponentItem::ComponentInstance(instance)) => {
                    instance.get_export(engine, "find").is_some()
                }
                _ => false,
            }
        })
}

/// Advances the engine's epoch until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("sluice-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| {
                tracing::error!("cannot start the epoch thread; CPU deadlines are off: {e}")
            });
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The engine and linker shared by every run.
pub struct Runtime {
    engine: Engine,
    linker: Linker<RunState>,
    limits: Limits,
    private: Arc<PrivateReach>,
    _ticker: EpochTicker,
}

/// Linear memories one component may hold.
const MEMORIES_PER_COMPONENT: u32 = 1;

/// Core instances one component may create.
const CORE_INSTANCES_PER_COMPONENT: u32 = 16;

impl Runtime {
    /// A runtime whose compiled components are cached in `cache_dir` (none: no cache), and
    /// whose runs are held to `limits`.
    pub fn new(cache_dir: Option<&Path>, limits: Limits) -> anyhow::Result<Self> {
        use anyhow::Context as _;

        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let mut pooling = wasmtime::PoolingAllocationConfig::new();
        pooling
            .total_component_instances(1_000)
            .total_core_instances(4_000)
            .total_memories(2_000)
            .total_tables(4_000)
            .total_stacks(1_000)
            // One linear memory per component, so the memory cap is the component's and
            // not the cap times however many memories a hostile component declares; and
            // few core instances (a Rust connector has its module and a few shims).
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_memory_size(limits.memory_bytes)
            // Resetting the first pages of a reused slot with memset beats returning them to
            // the kernel and faulting them back in. 192 KiB covers the stack, data and first
            // heap pages of a connector linked with a 128 KiB stack, as `plugin new` sets up
            // (benchmark: 40 µs per run, against 64 µs with nothing kept resident).
            .linear_memory_keep_resident(192 << 10)
            .table_keep_resident(64 << 10)
            .async_stack_keep_resident(64 << 10);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
        if let Some(dir) = cache_dir {
            std::fs::create_dir_all(dir).with_context(|| {
                format!(
                    "cannot create the compiled-component cache {}",
                    dir.display()
                )
            })?;
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            config
                .cache(Some(wasmtime::Cache::new(cache).map_err(|e| {
                    anyhow::anyhow!("compiled-component cache: {e}")
                })?));
        }
        let engine = Engine::new(&config)
            .map_err(|e| anyhow::anyhow!("cannot start the wasm engine: {e}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
        Connector::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |state| state)
            .map_err(|e| anyhow::anyhow!("linking the connector interface: {e}"))?;
        Ok(Self {
            _ticker: EpochTicker::start(engine.clone()),
            engine,
            linker,
            limits,
            private: Arc::new(PrivateReach::none()),
        })
    }

    /// This runtime with the private destinations the operator allows its runs to reach;
    /// a new runtime allows none.
    pub fn allowing_private(self, private: Arc<PrivateReach>) -> Self {
        Self { private, ..self }
    }

    /// Compiles (or loads from the cache) and pre-links a component.
    pub fn load(&self, wasm: &[u8], manifest: Manifest) -> Result<Plugin, LoadError> {
        let component =
            Component::new(&self.engine, wasm).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::World(format!("{e:#}")))?;
        let pre =
            ConnectorPre::new(instance_pre).map_err(|e| LoadError::World(format!("{e:#}")))?;
        Ok(Plugin {
            looks_up_people: imports_people_find(&self.engine, &component),
            pre,
            config_validator: Arc::new(manifest.config_validator()?),
            streams: Arc::new(manifest.streams.iter().map(|s| s.name.clone()).collect()),
            manifest: Arc::new(manifest),
        })
    }

    /// Runs one call of a connector in a fresh sandbox and reports what it produced.
    pub async fn run(&self, plugin: &Plugin, call: Call, context: RunContext) -> RunOutcome {
        let started = Instant::now();
        let manifest = plugin.manifest();
        let writer = Arc::new(LogWriter::new(
            context.log.clone(),
            context.secrets.redactor(),
            self.limits.log_line_bytes,
            self.limits.log_lines,
            self.limits.log_bytes,
        ));
        let setup = manifest
            .validate_config_with(&plugin.config_validator, &context.config)
            .and_then(|()| manifest.requested_hosts(&context.config))
            .and_then(|hosts| Ok((hosts, manifest.secret_bindings(&context.config)?)));
        let (requested, mut bindings) = match setup {
            Ok(resolved) => resolved,
            Err(error) => {
                return self.setup_failure(
                    RunError::Setup(error.to_string()),
                    &writer,
                    context.state,
                    started,
                );
            }
        };
        let mut grants = context.grants;
        for (name, hosts) in std::mem::take(&mut grants.secret_hosts) {
            if let Some(binding) = bindings.get_mut(&name) {
                binding.narrow(&hosts);
            }
        }
        // A connector gets only the secrets its manifest asks for, whatever it is given.
        let secrets = SecretSet::new(
            manifest
                .secrets
                .keys()
                .filter_map(|name| {
                    context
                        .secrets
                        .get(name)
                        .map(|value| (name.clone(), value.to_owned()))
                })
                .collect(),
        );
        let wall_time = match call {
            Call::Check => self.limits.wall_time.min(self.limits.check_wall_time),
            Call::Sync | Call::Event { .. } => self.limits.wall_time,
        };
        let deadline = started + wall_time;
        let stdout = StdioCapture::new(writer.clone(), Level::Info);
        let stderr = StdioCapture::new(writer.clone(), Level::Warn);
        // WASI's own defaults already deny every socket address; turning sockets off
        // altogether also refuses creating one, so nothing depends on that check alone.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(self.limits.random_bytes)
            .build();
        let state = RunState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryLimiter {
                cap: self.limits.memory_bytes,
                peak: 0,
                refused: None,
            },
            limits: self.limits.clone(),
            config: context.config.to_string(),
            streams: plugin.streams.clone(),
            egress: Egress::new(
                Allowlist::new(requested, grants),
                secrets,
                bindings,
                self.private.clone(),
                self.limits.egress.clone(),
                deadline,
            ),
            log: writer.clone(),
            state_bytes: run_state::state_size(&context.state),
            state: context.state,
            records: Vec::new(),
            record_bytes: 0,
            records_by_stream: BTreeMap::new(),
            cpu_ticks: 0,
            failure: None,
            people: context.people.clone(),
            observations: Vec::new(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        let cpu_budget = (self.limits.cpu_time.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        let cpu_time = self.limits.cpu_time;
        store.set_epoch_deadline(1);
        // Each tick that finds the guest executing counts against its CPU budget; in
        // between it yields, so the wall-clock timeout and other runs get their turn.
        store.epoch_deadline_callback(move |mut ctx| {
            let state = ctx.data_mut();
            state.cpu_ticks += 1;
            if state.cpu_ticks > cpu_budget {
                return Err(state.stop(RunError::CpuDeadline(cpu_time)));
            }
            Ok(UpdateDeadline::Yield(1))
        });

        let result = tokio::time::timeout(wall_time, invoke(&plugin.pre, &mut store, call)).await;
        stdout.finish();
        stderr.finish();
        let state = store.data_mut();
        let mut retry_after = None;
        let (status, error, note) = match result {
            Err(_elapsed) => (
                RunStatus::Failed,
                Some(RunError::WallDeadline(wall_time)),
                None,
            ),
            Ok(Err(trap)) => {
                let error = state
                    .failure
                    .take()
                    .unwrap_or_else(|| match state.memory.refused {
                        Some(desired) => RunError::MemoryCap {
                            desired,
                            cap: state.memory.cap,
                        },
                        None => classify_trap(&trap, &writer),
                    });
                (RunStatus::Failed, Some(error), None)
            }
            // A note or message is kept in the run's history: as long as a log line at most.
            Ok(Ok(Ok(note))) => (
                RunStatus::Succeeded,
                None,
                note.map(|note| log_sink::cut(&note, self.limits.log_line_bytes)),
            ),
            Ok(Ok(Err(error))) => {
                if let types::ConnectorError::RateLimited(seconds) = &error {
                    retry_after = Some(Duration::from_secs(u64::from(*seconds)));
                }
                let (kind, message) = connector_error(error);
                let message = log_sink::cut(&message, self.limits.log_line_bytes);
                let status = if kind == ConnectorErrorKind::RateLimited {
                    RunStatus::RateLimited
                } else {
                    RunStatus::Failed
                };
                (status, Some(RunError::Connector { kind, message }), None)
            }
        };
        if let Some(error) = &error {
            writer.host(Level::Error, &error.to_string());
        }
        let (log_lines, dropped_log_lines) = writer.counts();
        if dropped_log_lines > 0 {
            writer.host(
                Level::Warn,
                &format!(
                    "{dropped_log_lines} log lines were dropped over the run's cap of {} lines or {} bytes",
                    self.limits.log_lines, self.limits.log_bytes
                ),
            );
        }
        RunOutcome {
            status,
            error,
            note,
            records: std::mem::take(&mut state.records),
            identities: std::mem::take(&mut state.observations),
            state: std::mem::take(&mut state.state),
            stats: RunStats {
                wall_time: started.elapsed(),
                http_requests: state.egress.requests(),
                peak_memory_bytes: state.memory.peak,
                records_by_stream: std::mem::take(&mut state.records_by_stream),
                log_lines,
                dropped_log_lines,
                retry_after,
            },
        }
    }

    fn setup_failure(
        &self,
        error: RunError,
        writer: &LogWriter,
        state: BTreeMap<String, String>,
        started: Instant,
    ) -> RunOutcome {
        writer.host(Level::Error, &error.to_string());
        RunOutcome {
            status: RunStatus::Failed,
            error: Some(error),
            note: None,
            records: Vec::new(),
            identities: Vec::new(),
            state,
            stats: RunStats {
                wall_time: started.elapsed(),
                ..RunStats::default()
            },
        }
    }
}

/// What a call returned: a note on success, the connector's error otherwise; the outer
/// error is a trap or a failed instantiation.
type CallResult = wasmtime::Result<Result<Option<String>, types::ConnectorError>>;

async fn invoke(
    pre: &ConnectorPre<RunState>,
    store: &mut Store<RunState>,
    call: Call,
) -> CallResult {
    let connector = pre.instantiate_async(&mut *store).await?;
    match call {
        Call::Check => Ok(connector.call_check(&mut *store).await?.map(|()| None)),
        Call::Sync => Ok(connector
            .call_sync(&mut *store)
            .await?
            .map(|summary| summary.note)),
        Call::Event { kind, json } => Ok(connector
            .call_handle_event(&mut *store, &types::Event { kind, json })
            .await?
            .map(|()| None)),
    }
}

fn connector_error(error: types::ConnectorError) -> (ConnectorErrorKind, String) {
    use types::ConnectorError as E;
    match error {
        E::Config(m) => (ConnectorErrorKind::Config, m),
        E::Auth(m) => (ConnectorErrorKind::Auth, m),
        E::Permission(m) => (ConnectorErrorKind::Permission, m),
        E::Upstream(m) => (ConnectorErrorKind::Upstream, m),
        E::RateLimited(seconds) => (
            ConnectorErrorKind::RateLimited,
            format!(
                "the service asks to wait {seconds} s; the run ends keeping its cursor and will be retried"
            ),
        ),
        E::Internal(m) => (ConnectorErrorKind::Internal, m),
    }
}

/// Words for a trap nobody recorded a reason for: a panic, an out-of-bounds access, a call
/// stack run out. The error names the trap in one line; where it happened (wasmtime's
/// backtrace, which a deep recursion makes long) goes to the run's log.
fn classify_trap(trap: &wasmtime::Error, writer: &LogWriter) -> RunError {
    if let Some(backtrace) = trap.downcast_ref::<wasmtime::WasmBacktrace>() {
        writer.host(Level::Error, &backtrace.to_string());
    }
    match trap.downcast_ref::<wasmtime::Trap>() {
        Some(code) => RunError::Crashed(code.to_string()),
        // A WASI call that refused (a random-bytes request over the cap): wasmtime wraps
        // the refusal in its backtrace, which is already in the log; the words are the
        // refusal's own.
        None => RunError::Crashed(trap.root_cause().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use wasm_encoder::{
        Component as Encoded, InstanceSection, MemorySection, MemoryType, Module, ModuleSection,
    };

    use super::*;

    /// A component of one core module with a memory, instantiated `times`.
    fn component_with_memories(times: u32) -> Vec<u8> {
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut module = Module::new();
        module.section(&memories);
        let mut instances = InstanceSection::new();
        for _ in 0..times {
            instances.instantiate(0, Vec::<(&str, wasm_encoder::ModuleArg)>::new());
        }
        let mut component = Encoded::new();
        component.section(&ModuleSection(&module));
        component.section(&instances);
        component.finish()
    }

    async fn instantiate(runtime: &Runtime, wasm: &[u8]) -> wasmtime::Result<()> {
        let component = Component::new(&runtime.engine, wasm)?;
        let mut store = Store::new(&runtime.engine, ());
        Linker::<()>::new(&runtime.engine)
            .instantiate_async(&mut store, &component)
            .await
            .map(|_| ())
    }

    #[tokio::test]
    async fn a_component_gets_one_linear_memory_so_the_memory_cap_is_its_own() {
        let runtime = Runtime::new(None, Limits::default()).expect("a runtime");
        instantiate(&runtime, &component_with_memories(1))
            .await
            .expect("one memory is allowed");
        let refused = instantiate(&runtime, &component_with_memories(2))
            .await
            .expect_err("a second memory is refused");
        assert!(format!("{refused:#}").contains("memories"), "{refused:#}");
    }
}
