//! A run's log on its way into the store: lines go to a task that writes them in batches,
//! so a connector never waits on the database to log; and a check's log, kept in memory.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::lock;
use crate::runtime::{Level, LogLine, LogSink, Source};
use crate::store::Store;

/// Log lines written per batch while a run goes on.
const LOG_BATCH: usize = 500;

/// How long a batch waits for more lines after its first: a reader of the live log does
/// not notice it, and a short run's lines go to the database in one write, not one each.
const LOG_LINGER: std::time::Duration = std::time::Duration::from_millis(25);

/// The sending end of a run's log pipe.
pub(super) struct StoreLog {
    lines: mpsc::UnboundedSender<Entry>,
}

/// What the log writer task receives.
enum Entry {
    Line(LogLine),
    /// The run is over: write what is left and stop, even if a copy of the sink lingers.
    End,
}

impl StoreLog {
    /// A pipe into the log of `run`, and the writer task to await once it is ended.
    pub(super) fn start(
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
                let linger = tokio::time::Instant::now() + LOG_LINGER;
                while open && batch.len() < LOG_BATCH {
                    match tokio::time::timeout_at(linger, receiver.recv()).await {
                        Ok(Some(Entry::Line(line))) => batch.push(line),
                        Ok(Some(Entry::End) | None) => open = false,
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
    pub(super) fn end(&self) {
        let _ = self.lines.send(Entry::End);
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
        // The receiver lives until every sender is gone.
        let _ = self.lines.send(Entry::Line(line));
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
