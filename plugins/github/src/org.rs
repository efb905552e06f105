//! The organisation's members, teams and repositories: listings without a "changed since",
//! so they are walked with conditional requests and unchanged pages cost a 304.

use serde_json::Value;
use sluice_sdk::{Result, log, records};

use crate::client::{GitHub, org_not_found, text};
use crate::config::Config;
use crate::cursor;
use crate::listing::{Listing, Remember};

/// The newest `updated_at`/`pushed_at` of the repositories emitted so far.
const REPOS_UPDATED_KEY: &str = "repos_updated";

/// Emits the items of `stream` (`members` or `teams`, also the last segment of its URL)
/// on pages that changed since the last run, keyed by `key_field`.
pub fn sync_list(github: &GitHub, org: &str, stream: &str, key_field: &str) -> Result<()> {
    let listing = Listing::fetch(
        github,
        &format!("/orgs/{org}/{stream}"),
        &format!("pages:{stream}"),
        Remember::Count,
    )
    .map_err(|e| org_not_found(e, org, github))?;
    for item in &listing.changed {
        records::emit_one(stream, text(item, key_field)?, item)?;
    }
    listing.save()?;
    let (pages, changed_pages) = listing.pages();
    log::info!(
        "{stream}: {} emitted, {} in all; {changed_pages} of {pages} pages changed",
        listing.changed.len(),
        listing.total();
        stream = stream,
        count = listing.changed.len()
    );
    Ok(())
}

/// Emits the repositories that changed since the last run, and returns the full names of
/// every repository the configuration wants, changed or not, to walk for pull requests and
/// commits.
pub fn repositories(github: &GitHub, config: &Config) -> Result<Vec<String>> {
    let org = &config.org;
    let listing = Listing::fetch(
        github,
        &format!("/orgs/{org}/repos?sort=updated&direction=desc"),
        "pages:repositories",
        Remember::Keys("full_name"),
    )
    .map_err(|e| org_not_found(e, org, github))?;
    let since = cursor::get(REPOS_UPDATED_KEY);
    let mut newest: Option<String> = None;
    let mut emitted = 0usize;
    for repo in &listing.changed {
        let full_name = text(repo, "full_name")?;
        if !config.wants(full_name) {
            continue;
        }
        // A page changes when any repository on it does; only those that did are emitted.
        let changed_at = ["updated_at", "pushed_at"]
            .iter()
            .filter_map(|field| repo.get(*field).and_then(Value::as_str))
            .max();
        if since
            .as_deref()
            .is_none_or(|since| changed_at.is_some_and(|at| at > since))
        {
            records::emit_one("repositories", full_name, repo)?;
            emitted += 1;
        }
        newest = newest.max(changed_at.map(str::to_owned));
    }
    // The names come from every page, unchanged ones included, and are filtered on each run,
    // so a changed `repos` setting counts even when the listing itself did not change.
    let wanted: Vec<String> = listing
        .keys()
        .filter(|full_name| config.wants(full_name))
        .map(str::to_owned)
        .collect();
    listing.save()?;
    cursor::advance(REPOS_UPDATED_KEY, newest.as_deref());
    log::info!(
        "repositories: {emitted} emitted, {} to walk",
        wanted.len();
        stream = "repositories",
        count = emitted
    );
    Ok(wanted)
}
