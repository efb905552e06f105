//! The caps every run is held to.

use std::time::Duration;

use crate::egress::EgressLimits;

/// Caps on one run. Sizes that come from the guest are checked before the host keeps
/// anything; the guest's own memory cap bounds what wasmtime copies out of it.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory of one instance.
    pub memory_bytes: usize,
    /// Time spent executing WebAssembly (measured in epoch ticks).
    pub cpu_time: Duration,
    /// Wall-clock time of the whole call, host calls included.
    pub wall_time: Duration,
    /// Wall-clock time of a connection check: an admin waits on it, and a check that
    /// hangs must not hold the host's resources for a run's whole deadline.
    pub check_wall_time: Duration,
    /// Longest log line kept, and longest note or error message a connector returns;
    /// longer ones are cut.
    pub log_line_bytes: usize,
    /// Most structured fields on one log line.
    pub log_fields: usize,
    /// Most log lines kept per run; further lines are counted and dropped.
    pub log_lines: u64,
    /// Most log bytes (messages and fields) kept per run, the host's lines about it
    /// included; further lines of the connector are counted and dropped.
    pub log_bytes: u64,
    /// Most records in one `emit` call.
    pub batch_items: usize,
    /// Largest record (key + JSON).
    pub record_bytes: usize,
    /// Most record bytes one run may emit.
    pub run_record_bytes: usize,
    /// Longest stream name, state key or record key.
    pub name_bytes: usize,
    /// Largest state value.
    pub state_value_bytes: usize,
    /// Most state entries.
    pub state_entries: usize,
    /// Most bytes of state (keys and values) a run may hold: entries times their cap
    /// would be far more than a host can keep for each of its runs.
    pub state_bytes: usize,
    /// Most identities one run may report.
    pub identities: usize,
    /// Most bytes one WASI `get-random-bytes` (or insecure) call may ask for. The host
    /// fills the whole buffer before the guest's memory cap can refuse the copy, so WASI's
    /// own default (64 MiB) would let one call make the host allocate that much.
    pub random_bytes: u64,
    /// Caps on outbound HTTP.
    pub egress: EgressLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 128 << 20,
            cpu_time: Duration::from_secs(60),
            wall_time: Duration::from_secs(15 * 60),
            check_wall_time: Duration::from_secs(30),
            log_line_bytes: 16 << 10,
            log_fields: 32,
            log_lines: 100_000,
            log_bytes: 64 << 20,
            batch_items: 10_000,
            record_bytes: 4 << 20,
            run_record_bytes: 512 << 20,
            name_bytes: 512,
            state_value_bytes: 1 << 20,
            state_entries: 10_000,
            state_bytes: 16 << 20,
            identities: 100_000,
            random_bytes: 64 << 10,
            egress: EgressLimits::default(),
        }
    }
}
