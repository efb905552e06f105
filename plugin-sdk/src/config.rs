//! The install's configuration.

use serde::de::DeserializeOwned;

use crate::bindings::sluice::connector::config as host;
use crate::{Error, Result};

/// The configuration parsed into `T`. The host has already validated it against the
/// manifest's JSON Schema; a mismatch here means the schema and `T` disagree.
pub fn get<T: DeserializeOwned>() -> Result<T> {
    serde_json::from_str(&raw()).map_err(|e| Error::Config(format!("configuration: {e}")))
}

/// The configuration as JSON text.
pub fn raw() -> String {
    host::get()
}
