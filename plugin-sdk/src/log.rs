//! Structured logging into the run's log.
//!
//! ```ignore
//! log::info!("fetched {} members", members.len(); org = org, page = 3);
//! ```
//!
//! Everything after `;` becomes a structured field the logs viewer can filter on. Secret
//! values are redacted by the host, so logging a response is safe.

use crate::bindings::sluice::connector::{log as host, types};

/// How serious a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Fine-grained detail.
    Trace,
    /// Detail useful while writing a connector.
    Debug,
    /// Normal progress.
    Info,
    /// Something odd that did not stop the run.
    Warn,
    /// Something that failed.
    Error,
}

impl From<Level> for types::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => Self::Trace,
            Level::Debug => Self::Debug,
            Level::Info => Self::Info,
            Level::Warn => Self::Warn,
            Level::Error => Self::Error,
        }
    }
}

/// Writes one log line with structured fields. The macros call this.
pub fn write(level: Level, message: &str, fields: &[(&str, String)]) {
    let fields: Vec<types::Header> = fields
        .iter()
        .map(|(name, value)| types::Header {
            name: (*name).to_owned(),
            value: value.clone(),
        })
        .collect();
    host::write(level.into(), message, &fields);
}

/// Writes a log line at a given [`Level`]: `log!(Level::Info, "text {}", x; field = value)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_log {
    ($level:expr, $fmt:literal $(, $arg:expr)* ; $($key:ident = $value:expr),+ $(,)?) => {
        $crate::log::write(
            $level,
            &::std::format!($fmt $(, $arg)*),
            &[$((::core::stringify!($key), ::std::string::ToString::to_string(&$value))),+],
        )
    };
    ($level:expr, $fmt:literal $(, $arg:expr)* $(,)?) => {
        $crate::log::write($level, &::std::format!($fmt $(, $arg)*), &[])
    };
}

/// Logs at trace level: `trace!("text {}", x; field = value)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_trace {
    ($($arg:tt)+) => { $crate::__sluice_log!($crate::log::Level::Trace, $($arg)+) };
}

/// Logs at debug level: `debug!("text {}", x; field = value)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_debug {
    ($($arg:tt)+) => { $crate::__sluice_log!($crate::log::Level::Debug, $($arg)+) };
}

/// Logs at info level: `info!("text {}", x; field = value)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_info {
    ($($arg:tt)+) => { $crate::__sluice_log!($crate::log::Level::Info, $($arg)+) };
}

/// Logs at warn level: `warn!("text {}", x; field = value)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_warn {
    ($($arg:tt)+) => { $crate::__sluice_log!($crate::log::Level::Warn, $($arg)+) };
}

/// Logs at error level: `error!("text {}", x; field = value)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __sluice_error {
    ($($arg:tt)+) => { $crate::__sluice_log!($crate::log::Level::Error, $($arg)+) };
}

pub use crate::__sluice_debug as debug;
pub use crate::__sluice_error as error;
pub use crate::__sluice_info as info;
pub use crate::__sluice_log as log;
pub use crate::__sluice_trace as trace;
pub use crate::__sluice_warn as warn;
