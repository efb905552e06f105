//! Which failed runs are tried again, and when: exponential backoff with jitter, or as
//! long as the service asked when it rate-limited the run.

use std::time::Duration;

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore as _;

use crate::runtime::{ConnectorErrorKind, RunError, RunOutcome, RunStatus};
use crate::store::{NewRun, Run, RunCall, RunTrigger};

/// How runs are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts a run gets, the first included.
    pub max_attempts: i64,
    /// The wait before the second attempt; it doubles with each attempt after.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        }
    }
}

/// Whether a run that ended this way is worth another attempt: the service failed or
/// asked to wait. Configuration, credentials, permissions, connector bugs and sandbox
/// limits fail the same way every time.
fn retryable(outcome: &RunOutcome) -> bool {
    match outcome.status {
        RunStatus::Succeeded => false,
        RunStatus::RateLimited => true,
        RunStatus::Failed => matches!(
            outcome.error,
            Some(RunError::Connector {
                kind: ConnectorErrorKind::Upstream | ConnectorErrorKind::RateLimited,
                ..
            })
        ),
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`: `base × 2^(attempt−1)`, capped at `max`,
    /// then a random point in its upper half so retries of many runs spread out.
    pub fn backoff(&self, attempt: i64) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let full = self
            .base
            .saturating_mul(2_u32.saturating_pow(doublings))
            .min(self.max);
        let half = full / 2;
        let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
        half + Duration::from_millis(OsRng.next_u64() % spread)
    }

    /// The next attempt of `run`, which called `call`, after it ended as `outcome` at
    /// `ended_at` (ms), when it gets one: due its wait after that end.
    pub fn next_attempt(
        &self,
        run: &Run,
        call: RunCall,
        outcome: &RunOutcome,
        ended_at: i64,
    ) -> Option<NewRun> {
        if !retryable(outcome) || run.attempt >= run.max_attempts {
            return None;
        }
        let wait = match outcome.stats.retry_after {
            Some(asked) => asked.max(Duration::from_secs(1)),
            None => self.backoff(run.attempt),
        };
        Some(NewRun {
            install_id: run.install_id.clone(),
            plugin: run.plugin.clone(),
            trigger: RunTrigger::Retry,
            call,
            due_at: ended_at + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2),
            scheduled_for: None,
            attempt: run.attempt + 1,
            max_attempts: run.max_attempts,
            retry_of: Some(run.id.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_upper_half_and_stops_at_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!(
                (Duration::from_secs(5)..=Duration::from_secs(10)).contains(&first),
                "{first:?}"
            );
            let second = policy.backoff(2);
            assert!(
                (Duration::from_secs(10)..=Duration::from_secs(20)).contains(&second),
                "{second:?}"
            );
            let late = policy.backoff(9);
            assert!(
                (Duration::from_secs(30)..=Duration::from_secs(60)).contains(&late),
                "{late:?}"
            );
        }
    }

    #[test]
    fn a_failed_event_run_is_retried_with_its_event_and_a_failed_sync_as_a_sync() {
        let policy = RetryPolicy::default();
        let run = Run {
            id: "run_1".into(),
            company_id: "co_1".into(),
            install_id: "inst_1".into(),
            plugin: "survey".into(),
            trigger: RunTrigger::Webhook,
            status: "running".into(),
            attempt: 1,
            max_attempts: 3,
            created_at: 0,
            due_at: 0,
            scheduled_for: None,
            claimed_by: None,
            started_at: None,
            start_delay_ms: None,
            finished_at: None,
            retry_of: None,
            event_kind: Some("slack.block_actions".into()),
            records_written: 0,
            records_deleted: 0,
            http_requests: 0,
            peak_memory_bytes: 0,
            log_lines: 0,
            dropped_log_lines: 0,
            error: None,
            note: None,
        };
        let failed = RunOutcome {
            status: RunStatus::Failed,
            error: Some(RunError::Connector {
                kind: ConnectorErrorKind::Upstream,
                message: "Slack's chat.update failed: fatal_error".into(),
            }),
            note: None,
            records: Vec::new(),
            identities: Vec::new(),
            state: Default::default(),
            stats: Default::default(),
        };
        let event = RunCall::Event {
            kind: "slack.block_actions".into(),
            json: r#"{"type":"block_actions"}"#.into(),
        };
        let next = policy
            .next_attempt(&run, event.clone(), &failed, 1_000)
            .expect("an upstream failure is retried");
        assert_eq!(next.call, event);
        assert_eq!(next.trigger, RunTrigger::Retry);
        assert_eq!(next.attempt, 2);
        assert_eq!(next.retry_of.as_deref(), Some("run_1"));
        let sync = policy
            .next_attempt(&run, RunCall::Sync, &failed, 1_000)
            .expect("retried");
        assert_eq!(sync.call, RunCall::Sync);
    }
}
