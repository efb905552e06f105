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
    written: AtomicU64,
    dropped: AtomicU64,
}

impl LogWriter {
    /// A writer into `sink` that keeps at most `max_lines` lines of `line_bytes` each.
    pub fn new(
        sink: Arc<dyn LogSink>,
        redactor: Redactor,
        line_bytes: usize,
        max_lines: u64,
    ) -> Self {
        Self {
            sink,
            redactor,
            line_bytes,
            max_lines,
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
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
        if self.written.fetch_add(1, Ordering::Relaxed) >= self.max_lines {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.emit(level, source, message, fields);
    }

    /// Writes a line of the host's about this run; never dropped.
    pub fn host(&self, level: Level, message: &str) {
        self.emit(level, Source::Host, message, Vec::new());
    }

    /// Lines kept so far, and lines dropped over the budget.
    pub fn counts(&self) -> (u64, u64) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        (self.written.load(Ordering::Relaxed) - dropped, dropped)
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
fn cut(text: &str, max: usize) -> String {
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
        let writer = LogWriter::new(sink.clone(), Redactor::new(["hunter22"]), 16, 2);
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
}
