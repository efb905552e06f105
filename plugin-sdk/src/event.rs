//! Webhooks and interactions the host hands to [`crate::Connector::handle_event`].

use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Something that happened outside a run: a signed webhook, a Slack interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened, as `<service>.<type>`: `github.pull_request`, `slack.block_actions`.
    pub kind: String,
    /// The payload as the service sent it, as JSON text.
    pub json: String,
}

impl Event {
    /// The payload parsed into `T`.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&self.json)
            .map_err(|e| Error::Upstream(format!("`{}` event payload: {e}", self.kind)))
    }
}
