//! A run's log on its way into the store: lines wait in a bounded buffer that a task
//! empties into the store in batches — at 500 lines or 256 KiB, or 25 ms after the first
//! line, whichever comes first — so a connector never waits on the database to log. When
//! the store falls behind a connector that logs faster, the buffer's lines are dropped
//! and counted in the run rather than stalling the connector or growing without bound;
//! the host's own lines about the run are never dropped. The lines still waiting when the
//! log ends are handed back, for the run's commit to keep in its own transaction; a run
//! stopped before its end (cancelled, its lease lost) abandons its log, and the writer
//! keeps what waits and stops. A check's log is kept in memory.

use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::lock;
use crate::runtime::{Level, LogLine, LogSink, Source};
use crate::store::Store;

/// Lines written to the store at most per batch.
const LOG_BATCH: usize = 500;

/// Bytes of messages and fields that make a batch worth writing at once.
const LOG_BATCH_BYTES: usize = 256 * 1024;

/// How long a batch waits for more lines after its first: a reader of the live log does
/// not notice it, and a short run's lines go to the database in one write, not one each.
const LOG_LINGER: std::time::Duration = std::time::Duration::from_millis(25);

/// Lines a run may have waiting for the store; more are dropped and counted.
const MAX_WAITING_LINES: usize = 8 * LOG_BATCH;

/// Bytes a run may have waiting for the store; more are dropped and counted.
const MAX_WAITING_BYTES: usize = 4 * 1024 * 1024;

/// The lines of a run waiting for the store, within their caps.
#[derive(Debug, Default)]
struct Waiting {
    lines: Vec<LogLine>,
    bytes: usize,
    dropped: u64,
    ended: bool,
    /// Ended by a run that will not commit: the writer keeps the rest itself.
    abandoned: bool,
}

impl Waiting {
    /// Takes `line`, unless the caps are reached and it is not the host's; says whether a
    /// batch is now worth writing.
    fn push(&mut self, line: LogLine) -> bool {
        let size = line_size(&line);
        let full = self.lines.len() >= MAX_WAITING_LINES || self.bytes + size > MAX_WAITING_BYTES;
        if full && line.source != Source::Host {
            self.dropped += 1;
            return false;
        }
        self.lines.push(line);
        self.bytes += size;
        self.ready()
    }

    /// Whether the writer should write now rather than wait for more lines.
    fn ready(&self) -> bool {
        self.ended || self.lines.len() >= LOG_BATCH || self.bytes >= LOG_BATCH_BYTES
    }

    /// The lines so far, and whether the log has ended and whether it was abandoned.
    fn take(&mut self) -> (Vec<LogLine>, bool, bool) {
        self.bytes = 0;
        (std::mem::take(&mut self.lines), self.ended, self.abandoned)
    }
}

fn line_size(line: &LogLine) -> usize {
    line.message.len()
        + line
            .fields
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
}

/// A run's log pipe: connectors' and the host's lines go in, the writer task keeps them.
pub(super) struct StoreLog {
    waiting: Mutex<Waiting>,
    wake: Notify,
}

impl StoreLog {
    /// A pipe into the log of `run`, and the writer task to await once it is ended: it
    /// gives back the lines it did not write, in order.
    pub(super) fn start(
        store: Store,
        company: &str,
        install: &str,
        run: &str,
    ) -> (Arc<Self>, tokio::task::JoinHandle<Vec<LogLine>>) {
        let pipe = Arc::new(Self {
            waiting: Mutex::default(),
            wake: Notify::new(),
        });
        let (company, install, run) = (company.to_owned(), install.to_owned(), run.to_owned());
        let writer = Arc::clone(&pipe);
        let task = tokio::spawn(async move {
            loop {
                let (lines, ended, abandoned) = writer.next_batch().await;
                if ended && !abandoned {
                    return lines;
                }
                for batch in lines.chunks(LOG_BATCH) {
                    if let Err(error) = store.append_logs(&company, &install, &run, batch).await {
                        tracing::error!(%run, %error, "cannot keep a run's log lines");
                    }
                }
                if ended {
                    return Vec::new();
                }
            }
        });
        (pipe, task)
    }

    /// Waits for lines — until a batch is worth writing, or `LOG_LINGER` after the first —
    /// and takes them, with whether the log has ended and whether it was abandoned.
    async fn next_batch(&self) -> (Vec<LogLine>, bool, bool) {
        // A wake-up sent while nobody waits is kept for the next wait, so none is lost
        // between a look at the buffer and the wait.
        while {
            let waiting = lock(&self.waiting);
            waiting.lines.is_empty() && !waiting.ended
        } {
            self.wake.notified().await;
        }
        let linger = tokio::time::Instant::now() + LOG_LINGER;
        while !lock(&self.waiting).ready() {
            if tokio::time::timeout_at(linger, self.wake.notified())
                .await
                .is_err()
            {
                break;
            }
        }
        lock(&self.waiting).take()
    }

    /// Ends the log: the writer task finishes once the batch it is writing is kept, and
    /// gives back the rest.
    pub(super) fn end(&self) {
        lock(&self.waiting).ended = true;
        self.wake.notify_one();
    }

    /// Abandons the log of a run that will not commit: the writer task keeps the lines
    /// still waiting and finishes, rather than waiting for an end that never comes.
    pub(super) fn abandon(&self) {
        let mut waiting = lock(&self.waiting);
        waiting.ended = true;
        waiting.abandoned = true;
        drop(waiting);
        self.wake.notify_one();
    }

    /// Lines dropped because the store fell behind.
    pub(super) fn dropped(&self) -> u64 {
        lock(&self.waiting).dropped
    }

    /// A line from the host about the run.
    pub(super) fn host(&self, level: Level, message: String) {
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
        let (first, ready) = {
            let mut waiting = lock(&self.waiting);
            let first = waiting.lines.is_empty();
            (first, waiting.push(line))
        };
        // The writer wants to hear of the first line, to start its linger, and of a full
        // batch, to write it at once.
        if first || ready {
            self.wake.notify_one();
        }
    }
}

/// Abandons a run's log when dropped: a run stopped before its commit (its task aborted)
/// drops it at whatever point it had reached. Harmless after the log has ended.
pub(super) struct AbandonOnDrop(pub(super) Arc<StoreLog>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// A check's log lines, kept in memory for the answer.
#[derive(Default)]
pub(super) struct CollectedLog {
    pub(super) lines: Mutex<Vec<String>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(source: Source, message: &str) -> LogLine {
        LogLine {
            time: std::time::SystemTime::now(),
            level: Level::Info,
            source,
            message: message.to_owned(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn a_full_buffer_drops_and_counts_the_connectors_lines_but_never_the_hosts() {
        let mut waiting = Waiting::default();
        for n in 0..MAX_WAITING_LINES + 10 {
            waiting.push(line(Source::Plugin, &format!("page {n}")));
        }
        waiting.push(line(Source::Host, "run succeeded"));
        assert_eq!(waiting.dropped, 10);
        assert_eq!(waiting.lines.len(), MAX_WAITING_LINES + 1);
        assert_eq!(waiting.lines.last().map(|l| l.source), Some(Source::Host));

        let (lines, ended, _) = waiting.take();
        assert_eq!((lines.len(), ended), (MAX_WAITING_LINES + 1, false));
        assert!(!waiting.push(line(Source::Plugin, "after the writer caught up")));
        assert_eq!(
            waiting.lines.len(),
            1,
            "room again once the writer took the lines"
        );
    }

    #[test]
    fn bytes_cap_the_buffer_as_well_as_lines() {
        let mut waiting = Waiting::default();
        let big = "x".repeat(64 * 1024);
        for _ in 0..(MAX_WAITING_BYTES / big.len()) + 3 {
            waiting.push(line(Source::Stdio, &big));
        }
        assert_eq!(waiting.dropped, 3);
        assert!(waiting.bytes <= MAX_WAITING_BYTES);
    }

    #[test]
    fn a_batch_is_ready_at_its_size_in_lines_or_bytes_or_at_the_end() {
        let mut waiting = Waiting::default();
        for _ in 1..LOG_BATCH {
            assert!(!waiting.push(line(Source::Plugin, "one")));
        }
        assert!(waiting.push(line(Source::Plugin, "the batch's last")));
        waiting.take();
        assert!(waiting.push(line(Source::Plugin, &"y".repeat(LOG_BATCH_BYTES))));
        waiting.take();
        assert!(!waiting.push(line(Source::Plugin, "one")));
        waiting.ended = true;
        assert!(waiting.ready());
    }

    #[tokio::test]
    async fn the_writer_waits_for_a_first_line_then_lingers_for_more() {
        let pipe = StoreLog {
            waiting: Mutex::default(),
            wake: Notify::new(),
        };
        let pipe = Arc::new(pipe);
        let reader = Arc::clone(&pipe);
        let batch = tokio::spawn(async move { reader.next_batch().await });
        tokio::task::yield_now().await;
        pipe.write(line(Source::Plugin, "first"));
        pipe.write(line(Source::Plugin, "second, within the linger"));
        let (lines, ended, _) = batch.await.expect("the writer task");
        assert_eq!(lines.len(), 2);
        assert!(!ended);
        pipe.end();
        let (lines, ended, abandoned) = pipe.next_batch().await;
        assert!(lines.is_empty() && ended && !abandoned);
    }

    #[tokio::test]
    async fn an_abandoned_log_is_kept_by_its_writer_which_then_stops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&Store::sqlite_url(&dir.path().join("logs.db")))
            .await
            .expect("store");
        let vault = crate::vault::Vault::new(1, crate::vault::SecretKey::generate());
        let company = crate::onboarding::onboard(&store, &vault, "ada@acme.test", "Acme")
            .await
            .expect("a company")
            .company
            .id;
        let (pipe, writer) = StoreLog::start(store.clone(), &company, "inst_1", "run_1");
        pipe.write(line(Source::Plugin, "page 1"));
        // The run's task is aborted: only its guard is dropped, `end` is never called.
        drop(AbandonOnDrop(pipe));
        let handed_back = tokio::time::timeout(std::time::Duration::from_secs(5), writer)
            .await
            .expect("the writer stops")
            .expect("the writer task");
        assert!(handed_back.is_empty(), "nothing is left for a commit");
        let kept = store
            .logs(
                &company,
                &crate::store::LogFilter {
                    run: Some("run_1".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("logs");
        assert_eq!(
            kept.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
            ["page 1"]
        );
    }
}
