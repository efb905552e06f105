//! Cursors kept in state between runs. GitHub's timestamps are ISO 8601 in UTC with a
//! fixed width, so comparing them as text orders them in time.

use sluice_sdk::state;

/// The newest timestamp stored under `key`.
pub fn get(key: &str) -> Option<String> {
    state::get(key)
}

/// Stores `newest` under `key` if it is newer than what is there.
pub fn advance(key: &str, newest: Option<&str>) {
    if let Some(newest) = newest
        && get(key).is_none_or(|old| newest > old.as_str())
    {
        state::set(key, newest);
    }
}
