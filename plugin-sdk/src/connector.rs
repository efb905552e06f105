//! The [`Connector`] trait and the glue between it and the component's exports.

use crate::bindings::sluice::connector::types as wit;
use crate::{Error, Event, Result, records};

/// What a connector does. Every method has a default, so a connector implements only what
/// it supports, and new methods in later versions do not break it.
///
/// The host creates a fresh value (with [`Default`]) for every call, so keep nothing in
/// `self` that must outlive a run: use [`crate::state`] for that.
pub trait Connector: Default {
    /// Proves the configuration and credentials with the cheapest request that can, before
    /// an admin saves an install. Say precisely what is wrong: bad URL, bad credentials,
    /// missing permission.
    fn check(&mut self) -> Result<()> {
        Ok(())
    }

    /// Pulls what changed since the stored cursor and emits it with [`crate::records`].
    fn sync(&mut self) -> Result<Summary> {
        Ok(Summary::default())
    }

    /// Reacts to a webhook or interaction the host received for this install.
    fn handle_event(&mut self, event: Event) -> Result<()> {
        Err(Error::Config(format!(
            "this connector does not handle `{}` events",
            event.kind
        )))
    }
}

/// What a sync reports beyond its records, which the SDK counts by itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// A sentence for the run history, such as why a stream was skipped.
    pub note: Option<String>,
}

impl Summary {
    /// A summary carrying a note for the run history.
    pub fn note(note: impl Into<String>) -> Self {
        Self {
            note: Some(note.into()),
        }
    }
}

/// Runs [`Connector::check`] for the `check` export.
#[doc(hidden)]
pub fn check<C: Connector>() -> std::result::Result<(), wit::ConnectorError> {
    C::default().check().map_err(Into::into)
}

/// Runs [`Connector::sync`] for the `sync` export, flushing buffered records afterwards.
#[doc(hidden)]
pub fn sync<C: Connector>() -> std::result::Result<wit::Summary, wit::ConnectorError> {
    let outcome = C::default().sync();
    // Records emitted before an error are flushed too: the host keeps them only if the run
    // ends well (or rate-limited, with its cursor), and drops them otherwise.
    let flushed = records::flush();
    let summary = outcome?;
    flushed?;
    Ok(wit::Summary {
        records: records::emitted(),
        note: summary.note,
    })
}

/// Runs [`Connector::handle_event`] for the `handle-event` export.
#[doc(hidden)]
pub fn handle_event<C: Connector>(
    event: wit::Event,
) -> std::result::Result<(), wit::ConnectorError> {
    let outcome = C::default().handle_event(Event {
        kind: event.kind,
        json: event.json,
    });
    let flushed = records::flush();
    outcome?;
    flushed.map_err(Into::into)
}
