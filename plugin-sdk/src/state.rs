//! Small key-value state that survives between runs: cursors, ETags.
//!
//! Values set or deleted during a run are committed together with its records, and only if
//! the run ends well, so a cursor never runs ahead of the data it stands for.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::sluice::connector::state as host;
use crate::{Error, Result};

/// The value stored under `key`, if an earlier run set one.
pub fn get(key: &str) -> Option<String> {
    host::get(key)
}

/// Stores `value` under `key` for later runs.
pub fn set(key: &str, value: &str) {
    host::set(key, value);
}

/// Removes the value under `key`: [`get`] answers `None` for it from now on, and the run
/// commits its state without it. Removing a key that holds nothing does nothing.
///
/// Needs a host that runs interface 0.1.1 (`api_version = "0.1.1"`).
pub fn delete(key: &str) {
    host::delete(key);
}

/// The value stored under `key`, parsed from JSON.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>> {
    get(key)
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| Error::Internal(format!("state `{key}`: {e}")))
}

/// Stores `value` under `key` as JSON.
pub fn set_json<T: Serialize>(key: &str, value: &T) -> Result<()> {
    let text =
        serde_json::to_string(value).map_err(|e| Error::Internal(format!("state `{key}`: {e}")))?;
    set(key, &text);
    Ok(())
}
