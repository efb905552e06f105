//! Where a run's log lines go, and the writer that caps and redacts them on the way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::secrets::Redactor;

/// How serious a log line is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fine-grained detail.
    Trace,
    /// Detail for debugging.
    Debug,
    /// Normal progress.
    Info,
    /// Something odd.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// The level's name in lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Who wrote a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The connector, through the `log` interface.
    Plugin,
    /// The connector's standard output or error.
    Stdio,
    /// The host, about the run.
    Host,
}

impl Source {
    /// The source's name in lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plugin => "plugin",
            Self::Stdio => "stdio",
            Self::Host => "host",
        }
    }
}

/// One line of a run's log, already redacted and capped.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// When it was written.
    pub time: SystemTime,
    /// How serious it is.
    pub level: Level,
    /// Who wrote it.
    pub source: Source,
    /// The text.
    pub message: String,
    /// Structured fields.
    pub fields: Vec<(String, String)>,
}

/// Receives a run's log lines as they are written.
pub trait LogSink: Send + Sync {
    /// Takes one line. Called from the run's task: keep it quick.
    fn write(&self, line: LogLine);
}

/// Caps, redacts and counts a run's lines before they reach the sink.
pub struct LogWriter {
    sink: Arc<dyn LogSink>,
    redactor: Redactor,
    line_bytes: usize,
    max_lines: u64,
    max_bytes: u64,
    written: AtomicU64,
    dropped: AtomicU64,
    bytes: AtomicU64,
}

impl LogWriter {
    /// A writer into `sink` that keeps at most `max_lines` lines of `line_bytes` each, and
    /// at most `max_bytes` of messages and fields in all.
    pub fn new(
        sink: Arc<dyn LogSink>,
        redactor: Redactor,
        line_bytes: usize,
        max_lines: u64,
        max_bytes: u64,
    ) -> Self {
        Self {
            sink,
            redactor,
            line_bytes,
            max_lines,
            max_bytes,
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// Writes a line from the connector or its output, if the run's budget allows.
    pub fn write(
        &self,
        level: Level,
        source: Source,
        message: &str,
        fields: Vec<(String, String)>,
    ) {
        let size = self.kept_size(message, &fields);
        let within_bytes = self
            .bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                let after = held.saturating_add(size);
                (after <= self.max_bytes).then_some(after)
            })
            .is_ok();
        if self.written.fetch_add(1, Ordering::Relaxed) >= self.max_lines || !within_bytes {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.emit(level, source, message, fields);
    }

    /// Writes a line of the host's about this run; never dropped, but it counts against
    /// the run's log bytes.
    pub fn host(&self, level: Level, message: &str) {
        self.bytes
            .fetch_add(self.kept_size(message, &[]), Ordering::Relaxed);
        self.emit(level, Source::Host, message, Vec::new());
    }

    /// Lines kept so far, and lines dropped over the budget.
    pub fn counts(&self) -> (u64, u64) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        (self.written.load(Ordering::Relaxed) - dropped, dropped)
    }

    /// Bytes of a line as it is kept: each part cut to its cap.
    fn kept_size(&self, message: &str, fields: &[(String, String)]) -> u64 {
        let size = message.len().min(self.line_bytes)
            + fields
                .iter()
                .map(|(name, value)| name.len().min(128) + value.len().min(self.line_bytes))
                .sum::<usize>();
        u64::try_from(size).unwrap_or(u64::MAX)
    }

    fn emit(&self, level: Level, source: Source, message: &str, fields: Vec<(String, String)>) {
        let message = self.redactor.redact(&cut(message, self.line_bytes));
        let fields = fields
            .into_iter()
            .map(|(name, value)| {
                (
                    cut(&name, 128),
                    self.redactor.redact(&cut(&value, self.line_bytes)),
                )
            })
            .collect();
        self.sink.write(LogLine {
            time: SystemTime::now(),
            level,
            source,
            message,
            fields,
        });
    }
}

/// `text` cut to at most `max` bytes on a character boundary, saying how much was cut.
pub(super) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let end = (0..=max)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… [{} more bytes cut]", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<LogLine>>);

    impl LogSink for Collect {
        fn write(&self, line: LogLine) {
            self.0.lock().expect("lock").push(line);
        }
    }

    #[test]
    fn lines_are_cut_redacted_and_budgeted() {
        let sink = Arc::new(Collect::default());
        let writer = LogWriter::new(sink.clone(), Redactor::new(["hunter22"]), 16, 2, u64::MAX);
        writer.write(
            Level::Info,
            Source::Plugin,
            "token hunter22",
            vec![("t".into(), "hunter22".into())],
        );
        writer.write(Level::Info, Source::Plugin, &"x".repeat(40), Vec::new());
        writer.write(Level::Info, Source::Plugin, "over budget", Vec::new());
        writer.host(Level::Warn, "host lines are never dropped");
        let lines = sink.0.lock().expect("lock");
        assert_eq!(lines[0].message, "token [redacted]");
        assert_eq!(
            lines[0].fields,
            vec![("t".to_owned(), "[redacted]".to_owned())]
        );
        assert_eq!(
            lines[1].message,
            format!("{}… [24 more bytes cut]", "x".repeat(16))
        );
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2].source, Source::Host);
        assert_eq!(writer.counts(), (2, 1));
    }

    #[test]
    fn log_bytes_are_capped_per_run_and_the_hosts_lines_count_against_them() {
        let sink = Arc::new(Collect::default());
        let writer = LogWriter::new(sink.clone(), Redactor::new(["unused"]), 64, 1_000, 100);
        writer.host(Level::Info, &"h".repeat(40));
        for _ in 0..5 {
            writer.write(Level::Info, Source::Plugin, &"p".repeat(20), Vec::new());
        }
        writer.write(
            Level::Info,
            Source::Plugin,
            "",
            vec![("field".into(), "v".repeat(200))],
        );
        writer.host(Level::Warn, "still kept");
        let lines = sink.0.lock().expect("lock");
        let plugin = lines.iter().filter(|l| l.source == Source::Plugin).count();
        assert_eq!(plugin, 3, "40 host bytes + 3 × 20 reach the cap of 100");
        assert_eq!(lines.last().map(|l| l.message.as_str()), Some("still kept"));
        assert_eq!(writer.counts(), (3, 3));
    }
}
