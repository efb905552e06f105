//! Commits of a repository's default branch since its cursor.

use serde_json::Value;
use sluice_sdk::{Error, Result, log, records, state};

use crate::client::GitHub;
use crate::cursor;
use crate::org::text;

/// Emits the commits of `repo` since its cursor. GitHub's `since` is inclusive, so the
/// commits at exactly the cursor's time that were emitted already are remembered and skipped.
pub fn sync(github: &GitHub, repo: &str) -> Result<()> {
    let cursor_key = format!("commits_since:{repo}");
    let seen_key = format!("commits_seen:{repo}");
    let since = cursor::get(&cursor_key);
    let seen = cursor::list(&seen_key)?;
    let mut request = github.get(&format!("/repos/{repo}/commits"));
    if let Some(since) = &since {
        request = request.query("since", since);
    }
    let mut emitted = 0usize;
    let mut newest: Option<String> = since.clone();
    let mut at_newest: Vec<String> = if since.is_some() { seen.clone() } else { Vec::new() };
    let walked = github.walk(request, |mut commit: Value| {
        let sha = text(&commit, "sha")?.to_owned();
        let date = commit
            .pointer("/commit/committer/date")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if since.as_deref() == Some(date.as_str()) && seen.contains(&sha) {
            return Ok(true);
        }
        commit["repository"] = Value::from(repo);
        records::emit_one("commits", format!("{repo}@{sha}"), &commit)?;
        emitted += 1;
        match newest.as_deref() {
            Some(n) if date.as_str() < n => {}
            Some(n) if date.as_str() == n => at_newest.push(sha),
            _ => {
                newest = Some(date);
                at_newest = vec![sha];
            }
        }
        Ok(true)
    });
    match walked {
        // GitHub answers 409 for a repository without commits.
        Err(Error::Upstream(message)) if message.contains(" answered 409") => {
            log::info!("{repo}: no commits yet"; repository = repo);
            return Ok(());
        }
        other => other?,
    }
    if let Some(newest) = &newest {
        state::set(&cursor_key, newest);
        state::set_json(&seen_key, &at_newest)?;
    }
    log::info!("{repo}: {emitted} commits emitted"; repository = repo);
    Ok(())
}
