//! The organisation's members, teams and repositories. GitHub has no "changed since" for
//! these lists, so they are fetched with conditional requests: unchanged lists cost a 304.

use serde_json::Value;
use sluice_sdk::{Error, Result, log, records, state};

use crate::client::{GitHub, Listing};
use crate::config::Config;
use crate::cursor;

/// Where the repositories to walk are kept, for runs whose repository list answers 304.
const REPOS_KEY: &str = "repos";
/// The newest `updated_at`/`pushed_at` of the repositories emitted so far.
const REPOS_UPDATED_KEY: &str = "repos_updated";

/// Emits members and teams that changed.
pub fn members_and_teams(github: &GitHub, org: &str) -> Result<()> {
    for (stream, path, key_field) in [
        ("members", format!("/orgs/{org}/members"), "login"),
        ("teams", format!("/orgs/{org}/teams"), "slug"),
    ] {
        let etag_key = format!("etag:{stream}");
        match github.list_if_changed::<Value>(&path, &etag_key).map_err(|e| not_found(e, org, github))? {
            Listing::Unchanged => log::info!("{stream}: unchanged since the last run"; stream = stream),
            Listing::Changed { items, etag } => {
                let count = items.len();
                for item in items {
                    let key = text(&item, key_field)?;
                    records::emit_one(stream, key, &item)?;
                }
                if let Some(etag) = etag {
                    state::set(&etag_key, &etag);
                }
                log::info!("{stream}: {count} emitted"; stream = stream, count = count);
            }
        }
    }
    Ok(())
}

/// Emits the repositories that changed and returns the full names of every repository to
/// walk for pull requests and commits.
pub fn repositories(github: &GitHub, config: &Config) -> Result<Vec<String>> {
    let org = &config.org;
    let path = format!("/orgs/{org}/repos?sort=updated&direction=desc");
    let listing = github
        .list_if_changed::<Value>(&path, "etag:repositories")
        .map_err(|e| not_found(e, org, github))?;
    let (items, etag) = match listing {
        Listing::Unchanged => {
            log::info!("repositories: unchanged since the last run"; stream = "repositories");
            return cursor::list(REPOS_KEY);
        }
        Listing::Changed { items, etag } => (items, etag),
    };
    let since = cursor::get(REPOS_UPDATED_KEY);
    let mut names = Vec::new();
    let mut newest: Option<String> = None;
    let mut emitted = 0usize;
    for repo in items {
        let name = text(&repo, "name")?;
        if !config.wants(name) {
            continue;
        }
        let full_name = text(&repo, "full_name")?.to_owned();
        let changed = ["updated_at", "pushed_at"]
            .iter()
            .filter_map(|field| repo.get(*field).and_then(Value::as_str))
            .max()
            .map(str::to_owned);
        if since.as_deref().is_none_or(|since| changed.as_deref().is_some_and(|c| c > since)) {
            records::emit_one("repositories", full_name.clone(), &repo)?;
            emitted += 1;
        }
        newest = newest.max(changed);
        names.push(full_name);
    }
    state::set_json(REPOS_KEY, &names)?;
    cursor::advance(REPOS_UPDATED_KEY, newest.as_deref());
    if let Some(etag) = etag {
        state::set("etag:repositories", &etag);
    }
    log::info!("repositories: {emitted} emitted of {}", names.len(); stream = "repositories", count = emitted);
    Ok(names)
}

/// The string field `field` of a GitHub object.
pub fn text<'a>(item: &'a Value, field: &str) -> Result<&'a str> {
    item.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Upstream(format!("GitHub sent an object without `{field}`")))
}

/// A 404 on an organisation listing means the organisation is not there.
pub fn not_found(error: Error, org: &str, github: &GitHub) -> Error {
    match error {
        Error::Upstream(message) if message.contains(" answered 404") => Error::Config(format!(
            "GitHub organisation `{org}` not found at {}: check `org` and `api_base_url`",
            github.base()
        )),
        other => other,
    }
}
