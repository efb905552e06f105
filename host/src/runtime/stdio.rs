//! The connector's standard output and error, captured line by line into its run log.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::log_sink::{Level, LogWriter, Source};

/// A line longer than this is logged in pieces rather than buffered without end.
const MAX_PENDING: usize = 16 << 10;

/// One of the guest's output streams.
#[derive(Clone)]
pub struct StdioCapture {
    writer: Arc<LogWriter>,
    level: Level,
    pending: Arc<Mutex<Vec<u8>>>,
}

impl StdioCapture {
    /// Captures into `writer` at `level` (info for stdout, warn for stderr).
    pub fn new(writer: Arc<LogWriter>, level: Level) -> Self {
        Self {
            writer,
            level,
            pending: Arc::default(),
        }
    }

    /// Logs what is left of an unfinished last line.
    pub fn finish(&self) {
        let rest =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if !rest.is_empty() {
            self.log(&rest);
        }
    }

    fn take(&self, bytes: &[u8]) {
        let mut lines = Vec::new();
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.extend_from_slice(bytes);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                lines.push(pending.drain(..=end).collect::<Vec<u8>>());
            }
            if pending.len() > MAX_PENDING {
                lines.push(std::mem::take(&mut *pending));
            }
        }
        for line in lines {
            self.log(&line);
        }
    }

    fn log(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        self.writer.write(
            self.level,
            Source::Stdio,
            text.trim_end_matches(['\n', '\r']),
            Vec::new(),
        );
    }
}

impl IsTerminal for StdioCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StdioCapture {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for StdioCapture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.take(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.finish();
        Poll::Ready(Ok(()))
    }
}
