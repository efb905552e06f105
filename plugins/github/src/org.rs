//! The organisation's members, teams and repositories: listings without a "changed since",
//! so they are walked with conditional requests and unchanged pages cost a 304.

use serde_json::Value;
use sluice_sdk::http::{Client, Request};
use sluice_sdk::listing::Listing;
use sluice_sdk::{Result, log, records, state};

use crate::client::{PER_PAGE, org_not_found, text};
use crate::config::Config;
use crate::cursor;

/// The newest `updated_at`/`pushed_at` of the repositories emitted so far.
const REPOS_UPDATED_KEY: &str = "repos_updated";
/// The full names of the repositories the configuration wanted on the last run.
const REPOS_WANTED_KEY: &str = "repos_wanted";

/// A repository the configuration wants, walked for pull requests and commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// `owner/name`.
    pub full_name: String,
    /// Its default branch, whose commits are synced; none for a repository GitHub lists
    /// without one.
    pub default_branch: Option<String>,
}

/// Emits the items of `stream` (`members` or `teams`, also the last segment of its URL)
/// on pages that changed since the last run, keyed by `key_field`.
pub fn sync_list(github: &Client, org: &str, stream: &str, key_field: &str) -> Result<()> {
    let first = github
        .get(&format!("/orgs/{org}/{stream}"))
        .query("per_page", PER_PAGE);
    let listing = Listing::fetch(github, first, PER_PAGE, &format!("pages:{stream}"), &[])
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

/// Emits the repositories that changed since the last run, and those the configuration
/// wants now but did not on the last run (a widened `repos`), and returns every
/// repository the configuration wants, changed or not, to walk for pull requests and commits.
pub fn repositories(github: &Client, config: &Config) -> Result<Vec<Repository>> {
    let org = &config.org;
    let first = github
        .get(&format!("/orgs/{org}/repos"))
        .query("sort", "updated")
        .query("direction", "desc")
        .query("per_page", PER_PAGE);
    let listing = Listing::fetch(
        github,
        first.clone(),
        PER_PAGE,
        "pages:repositories",
        &["full_name", "default_branch"],
    )
    .map_err(|e| org_not_found(e, org, github))?;
    // The names come from every page, unchanged ones included, and are filtered on each run,
    // so a changed `repos` setting counts even when the listing itself did not change.
    let wanted: Vec<Repository> = listing
        .remembered()
        .filter_map(|repo| {
            let full_name = repo.get("full_name").and_then(Value::as_str)?;
            config.wants(full_name).then(|| Repository {
                full_name: full_name.to_owned(),
                default_branch: repo
                    .get("default_branch")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect();
    let names: Vec<String> = wanted.iter().map(|r| r.full_name.clone()).collect();
    let before: Vec<String> = state::get_json(REPOS_WANTED_KEY)?.unwrap_or_default();
    let newly = newly_wanted(&names, &before);
    let mut candidates: Vec<Value> = Vec::new();
    for repo in &listing.changed {
        if config.wants(text(repo, "full_name")?) {
            candidates.push(repo.clone());
        }
    }
    let unseen: Vec<String> = newly
        .iter()
        .filter(|name| !contains(&candidates, name))
        .cloned()
        .collect();
    if !unseen.is_empty() {
        log::info!("repositories newly wanted: {}", unseen.join(", "); stream = "repositories");
        candidates.extend(read_whole(github, first, &unseen)?);
    }
    let since = cursor::get(REPOS_UPDATED_KEY);
    let mut newest: Option<String> = None;
    let mut emitted = 0usize;
    for repo in &candidates {
        let full_name = text(repo, "full_name")?;
        let at = changed_at(repo);
        // A page changes when any repository on it does; only those that did are emitted,
        // and those newly wanted, whose records this install has never had.
        let changed = since
            .as_deref()
            .is_none_or(|since| at.is_some_and(|at| at > since));
        if changed || newly.iter().any(|n| n.eq_ignore_ascii_case(full_name)) {
            records::emit_one("repositories", full_name, repo)?;
            emitted += 1;
        }
        newest = newest.max(at.map(str::to_owned));
    }
    listing.save()?;
    state::set_json(REPOS_WANTED_KEY, &names)?;
    cursor::advance(REPOS_UPDATED_KEY, newest.as_deref());
    log::info!(
        "repositories: {emitted} emitted, {} to walk",
        wanted.len();
        stream = "repositories",
        count = emitted
    );
    Ok(wanted)
}

/// The newest of a repository's `updated_at` (its settings) and `pushed_at` (its code).
fn changed_at(repo: &Value) -> Option<&str> {
    ["updated_at", "pushed_at"]
        .iter()
        .filter_map(|field| repo.get(*field).and_then(Value::as_str))
        .max()
}

/// The names in `wanted` that are not in `before`; GitHub's names are case-insensitive.
fn newly_wanted(wanted: &[String], before: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|name| !before.iter().any(|b| b.eq_ignore_ascii_case(name)))
        .cloned()
        .collect()
}

/// Whether `repos` holds the repository `full_name`.
fn contains(repos: &[Value], full_name: &str) -> bool {
    repos.iter().any(|repo| {
        repo.get("full_name")
            .and_then(Value::as_str)
            .is_some_and(|name| name.eq_ignore_ascii_case(full_name))
    })
}

/// The repositories named in `names` as the listing shows them, read without ETags — their
/// pages did not change, so the conditional walk did not return them — up to the page
/// where the last of them is found.
fn read_whole(github: &Client, first: Request, names: &[String]) -> Result<Vec<Value>> {
    let mut found = Vec::new();
    for page in github.pages(first) {
        for repo in page?.json::<Vec<Value>>()? {
            let full_name = text(&repo, "full_name")?;
            if names
                .iter()
                .any(|name| name.eq_ignore_ascii_case(full_name))
            {
                found.push(repo);
            }
        }
        if found.len() >= names.len() {
            break;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn repositories_not_wanted_before_are_newly_wanted_whatever_their_case() {
        let wanted = ["acme/widgets".to_owned(), "acme/Gadgets".to_owned()];
        let before = ["acme/widgets".to_owned()];
        assert_eq!(newly_wanted(&wanted, &before), ["acme/Gadgets"]);
        assert_eq!(
            newly_wanted(
                &wanted,
                &["ACME/GADGETS".to_owned(), "acme/widgets".to_owned()]
            ),
            Vec::<String>::new()
        );
        assert_eq!(newly_wanted(&wanted, &[]), wanted);
    }

    #[test]
    fn a_repository_changed_when_its_settings_or_its_code_did() {
        let repo =
            json!({ "updated_at": "2026-01-01T00:05:00Z", "pushed_at": "2026-01-02T00:00:00Z" });
        assert_eq!(changed_at(&repo), Some("2026-01-02T00:00:00Z"));
        assert_eq!(changed_at(&json!({})), None);
        assert!(contains(
            &[json!({ "full_name": "acme/Widgets" })],
            "acme/widgets"
        ));
    }
}
