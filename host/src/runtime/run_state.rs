//! The data of one run's store: WASI context, caps, egress, and what the run emitted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::limits::Limits;
use super::log_sink::LogWriter;
use super::outcome::{EmittedRecord, RunError};
use crate::egress::Egress;
use crate::people::{Directory, Observation};

/// One run's store data.
pub struct RunState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) memory: MemoryLimiter,
    pub(super) limits: Limits,
    pub(super) config: String,
    pub(super) streams: Arc<BTreeSet<String>>,
    pub(super) egress: Egress,
    pub(super) log: Arc<LogWriter>,
    pub(super) state: BTreeMap<String, String>,
    /// Bytes of `state`'s keys and values, held against `limits.state_bytes`.
    pub(super) state_bytes: usize,
    pub(super) records: Vec<EmittedRecord>,
    pub(super) record_bytes: usize,
    pub(super) records_by_stream: BTreeMap<String, u64>,
    pub(super) cpu_ticks: u64,
    pub(super) people: Arc<dyn Directory>,
    pub(super) observations: Vec<Observation>,
    /// The cap the run broke, recorded where the trap is raised so the outcome can name it
    /// precisely whatever wasmtime wraps the trap in.
    pub(super) failure: Option<RunError>,
}

/// Bytes a state map holds in keys and values.
pub(super) fn state_size(state: &BTreeMap<String, String>) -> usize {
    state.iter().map(|(k, v)| k.len() + v.len()).sum()
}

impl RunState {
    /// Records why the run is being stopped and returns the trap that stops it.
    pub(super) fn stop(&mut self, error: RunError) -> wasmtime::Error {
        let trap = wasmtime::Error::msg(error.to_string());
        self.failure.get_or_insert(error);
        trap
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps the instance's memories and tables, and remembers the peak.
pub struct MemoryLimiter {
    pub(super) cap: usize,
    pub(super) peak: usize,
    pub(super) refused: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.refused = Some(desired);
            return Err(wasmtime::Error::msg(format!(
                "memory cap of {} bytes reached",
                self.cap
            )));
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        const MAX_TABLE_ELEMENTS: usize = 100_000;
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
