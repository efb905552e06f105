//! What a run produced: its status, error, records, cursor and figures.

use std::collections::BTreeMap;
use std::time::Duration;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The call returned success.
    Succeeded,
    /// The service rate-limited the run past its deadline; records and cursor are kept
    /// and the run is retried later.
    RateLimited,
    /// The call failed; nothing it emitted is kept.
    Failed,
}

/// What a connector's call returned as its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorErrorKind {
    /// Bad configuration.
    Config,
    /// Credentials rejected.
    Auth,
    /// Permission missing.
    Permission,
    /// The service failed.
    Upstream,
    /// Rate limited.
    RateLimited,
    /// A bug in the connector.
    Internal,
}

impl ConnectorErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Config => "configuration error",
            Self::Auth => "authentication failed",
            Self::Permission => "permission missing",
            Self::Upstream => "upstream error",
            Self::RateLimited => "rate limited",
            Self::Internal => "connector bug",
        }
    }
}

/// Why a run did not succeed, in words for the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The configuration does not match the connector's schema, or the manifest is wrong.
    #[error("{0}")]
    Setup(String),
    /// The component could not be instantiated.
    #[error("the connector could not start: {0}")]
    Instantiate(String),
    /// The connector returned an error.
    #[error("{}: {message}", kind.describe())]
    Connector {
        /// What kind of error.
        kind: ConnectorErrorKind,
        /// The connector's message.
        message: String,
    },
    /// The connector executed longer than its CPU budget.
    #[error("stopped: the connector ran for more than {} of CPU time (an endless loop?)", humantime::format_duration(*.0))]
    CpuDeadline(Duration),
    /// The call took longer than its wall-clock deadline, host calls included.
    #[error("stopped: the run passed its {} deadline", humantime::format_duration(*.0))]
    WallDeadline(Duration),
    /// The connector tried to grow its memory past the cap.
    #[error(
        "stopped: the connector tried to grow its memory to {desired} bytes, over the cap of {cap} bytes"
    )]
    MemoryCap {
        /// The size asked for.
        desired: usize,
        /// The cap.
        cap: usize,
    },
    /// The connector handed the host something over a cap.
    #[error("stopped: {0}")]
    Cap(String),
    /// The connector trapped (a panic, an out-of-bounds access).
    #[error("the connector crashed: {0}")]
    Crashed(String),
}

/// One record a run emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmittedRecord {
    /// Its stream.
    pub stream: String,
    /// Its key within the stream.
    pub key: String,
    /// The record as JSON text.
    pub json: String,
}

/// Figures about a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunStats {
    /// Wall time of the call, instantiation included.
    pub wall_time: Duration,
    /// Outbound HTTP requests, redirects and retries included.
    pub http_requests: u64,
    /// Largest linear memory the instance reached.
    pub peak_memory_bytes: usize,
    /// Records emitted, by stream.
    pub records_by_stream: BTreeMap<String, u64>,
    /// Log lines kept.
    pub log_lines: u64,
    /// Log lines dropped over the run's budget.
    pub dropped_log_lines: u64,
    /// How long the service asked to wait, when the run ended rate-limited.
    pub retry_after: Option<Duration>,
}

/// Everything a run produced. The caller commits records and state together, and only
/// when [`RunOutcome::keeps_output`] says so.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// How it ended.
    pub status: RunStatus,
    /// Why, if it did not succeed.
    pub error: Option<RunError>,
    /// The connector's note for the run history.
    pub note: Option<String>,
    /// Records emitted.
    pub records: Vec<EmittedRecord>,
    /// Identities the connector reported seeing, for the directory of people.
    pub identities: Vec<crate::people::Observation>,
    /// The state after the run: the stored state with the run's changes applied.
    pub state: BTreeMap<String, String>,
    /// Figures.
    pub stats: RunStats,
}

impl RunOutcome {
    /// Whether records and state are to be committed: on success, and on a rate-limited
    /// end, whose cursor stands for exactly the records emitted before it.
    pub fn keeps_output(&self) -> bool {
        matches!(self.status, RunStatus::Succeeded | RunStatus::RateLimited)
    }
}
