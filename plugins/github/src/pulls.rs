//! Pull requests (with their reviews) that changed since the repository's cursor.

use serde_json::Value;
use sluice_sdk::{Result, log, records};

use crate::client::GitHub;
use crate::cursor;
use crate::org::text;

/// Emits the pull requests of `repo` updated since its cursor, and the reviews of each.
pub fn sync(github: &GitHub, repo: &str) -> Result<()> {
    let cursor_key = format!("pulls_updated:{repo}");
    let since = cursor::get(&cursor_key);
    let mut changed: Vec<u64> = Vec::new();
    let mut newest: Option<String> = None;
    let request = github
        .get(&format!("/repos/{repo}/pulls"))
        .query("state", "all")
        .query("sort", "updated")
        .query("direction", "desc");
    github.walk(request, |mut pull: Value| {
        let updated = text(&pull, "updated_at")?.to_owned();
        // Sorted newest first: the first one not newer than the cursor ends the walk.
        if since.as_deref().is_some_and(|since| updated.as_str() <= since) {
            return Ok(false);
        }
        let number = pull.get("number").and_then(Value::as_u64).unwrap_or_default();
        pull["repository"] = Value::from(repo);
        records::emit_one("pull_requests", format!("{repo}#{number}"), &pull)?;
        changed.push(number);
        newest = newest.take().max(Some(updated));
        Ok(true)
    })?;
    let mut reviews = 0usize;
    for number in &changed {
        let request = github.get(&format!("/repos/{repo}/pulls/{number}/reviews"));
        github.walk(request, |mut review: Value| {
            let id = review.get("id").and_then(Value::as_u64).unwrap_or_default();
            review["repository"] = Value::from(repo);
            review["pull_number"] = Value::from(*number);
            records::emit_one("reviews", id.to_string(), &review)?;
            reviews += 1;
            Ok(true)
        })?;
    }
    cursor::advance(&cursor_key, newest.as_deref());
    log::info!("{repo}: {} pull requests and {reviews} reviews emitted", changed.len(); repository = repo);
    Ok(())
}
