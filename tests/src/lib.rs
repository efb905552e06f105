//! Test support for Sluice: the paths of the built test components, and fakes of the
//! outside services connectors talk to.

pub mod fakes;
pub mod queued;
pub mod scratch;

/// Paths of the components `build.rs` built, and of their manifests.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// A log sink that drops every line, for benchmarks that measure the work, not a log.
pub struct DiscardLog;

impl sluice::runtime::LogSink for DiscardLog {
    fn write(&self, _line: sluice::runtime::LogLine) {}
}
