//! How a run's end is written down: its figures and redacted error, and, once committed,
//! the people it saw taken into the company's directory.

use super::Worker;
use crate::people::Observation;
use crate::runtime::{RunOutcome, RunStatus};
use crate::store::{Run, RunFinish, now_ms};

/// A run that failed before its connector was entered.
pub(super) fn failed(error: String) -> RunFinish {
    RunFinish {
        status: "failed",
        finished_at: now_ms(),
        error: Some(error),
        note: None,
        start_delay_ms: None,
        http_requests: 0,
        peak_memory_bytes: 0,
        log_lines: 0,
        dropped_log_lines: 0,
    }
}

/// How a run that was entered ended, its texts redacted with `redact`.
pub(super) fn finish_of(
    outcome: &RunOutcome,
    start_delay_ms: i64,
    ended_at: i64,
    redact: impl Fn(&str) -> String,
) -> RunFinish {
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    RunFinish {
        status: match outcome.status {
            RunStatus::Succeeded => "succeeded",
            RunStatus::RateLimited => "rate_limited",
            RunStatus::Failed => "failed",
        },
        finished_at: ended_at,
        error: outcome.error.as_ref().map(|e| redact(&e.to_string())),
        note: outcome.note.as_deref().map(&redact),
        start_delay_ms: Some(start_delay_ms),
        http_requests: as_i64(outcome.stats.http_requests),
        peak_memory_bytes: as_i64(
            u64::try_from(outcome.stats.peak_memory_bytes).unwrap_or(u64::MAX),
        ),
        log_lines: as_i64(outcome.stats.log_lines),
        dropped_log_lines: as_i64(outcome.stats.dropped_log_lines),
    }
}

impl Worker {
    /// Takes the identities a run saw into the company's directory, before its commit.
    pub(super) async fn learn_people(&self, run: &Run, identities: &[Observation]) {
        if identities.is_empty() {
            return;
        }
        let learned = self
            .store
            .change_people(&run.company_id, |book| {
                for observation in identities {
                    book.observe(observation);
                }
            })
            .await;
        if let Err(error) = learned {
            tracing::error!(run = %run.id, %error, "cannot keep the people a run saw");
        }
    }
}
