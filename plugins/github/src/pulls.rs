//! Pull requests, and the reviews of each, that changed since the repository's cursor.

use serde_json::Value;
use sluice_sdk::http::Client;
use sluice_sdk::{Result, log, records};

use crate::client::{number, text, walk};
use crate::cursor;

/// What one repository's pull requests added to a run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Pull requests emitted.
    pub pulls: usize,
    /// Reviews emitted.
    pub reviews: usize,
}

/// Emits the pull requests of `repo` updated since its cursor, and every review of each:
/// a new review updates its pull request, so only changed pull requests are asked for reviews.
pub fn sync(github: &Client, repo: &str) -> Result<Counts> {
    let cursor_key = format!("pulls_updated:{repo}");
    let since = cursor::get(&cursor_key);
    let mut changed: Vec<u64> = Vec::new();
    let mut newest: Option<String> = None;
    let request = github
        .get(&format!("/repos/{repo}/pulls"))
        .query("state", "all")
        .query("sort", "updated")
        .query("direction", "desc");
    walk(github, request, |mut pull: Value| {
        let updated = text(&pull, "updated_at")?.to_owned();
        // Newest first: the first one not newer than the cursor ends the walk, and its page.
        if since
            .as_deref()
            .is_some_and(|since| updated.as_str() <= since)
        {
            return Ok(false);
        }
        let pull_number = number(&pull, "number")?;
        pull["repository"] = Value::from(repo);
        records::emit_one("pull_requests", format!("{repo}#{pull_number}"), &pull)?;
        changed.push(pull_number);
        newest = newest.take().max(Some(updated));
        Ok(true)
    })?;
    let mut reviews = 0usize;
    for pull_number in &changed {
        let request = github.get(&format!("/repos/{repo}/pulls/{pull_number}/reviews"));
        walk(github, request, |mut review: Value| {
            let id = number(&review, "id")?;
            review["repository"] = Value::from(repo);
            review["pull_number"] = Value::from(*pull_number);
            records::emit_one("reviews", id.to_string(), &review)?;
            reviews += 1;
            Ok(true)
        })?;
    }
    // Only now: the cursor stands for the pull requests and their reviews, all emitted.
    cursor::advance(&cursor_key, newest.as_deref());
    log::debug!(
        "{repo}: {} pull requests and {reviews} reviews emitted",
        changed.len();
        repository = repo
    );
    Ok(Counts {
        pulls: changed.len(),
        reviews,
    })
}
