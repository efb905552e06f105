//! Commits of a repository's default branch since its cursor.

use serde_json::Value;
use sluice_sdk::{Error, Result, log, records, state};

use crate::client::{GitHub, text};
use crate::cursor;

/// Emits the commits of `repo` since its cursor and returns how many.
///
/// The cursor is the newest commit date seen, passed as `since`. GitHub's `since` is
/// inclusive, so the shas already emitted at exactly that date are kept too, and skipped.
pub fn sync(github: &GitHub, repo: &str) -> Result<usize> {
    let cursor_key = format!("commits_since:{repo}");
    let seen_key = format!("commits_seen:{repo}");
    let since = cursor::get(&cursor_key);
    let seen = if since.is_some() {
        cursor::list(&seen_key)?
    } else {
        Vec::new()
    };
    let mut request = github.get(&format!("/repos/{repo}/commits"));
    if let Some(since) = &since {
        request = request.query("since", since);
    }
    let mut emitted = 0usize;
    let mut newest: Option<String> = since.clone();
    let mut at_newest: Vec<String> = seen.clone();
    let walked = github.walk(request, |mut commit: Value| {
        let sha = text(&commit, "sha")?.to_owned();
        let date = commit
            .pointer("/commit/committer/date")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::Upstream(format!(
                    "GitHub sent commit {sha} of {repo} without a committer date"
                ))
            })?
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
            log::debug!("{repo}: no commits yet"; repository = repo);
            return Ok(0);
        }
        other => other?,
    }
    // Only now: the cursor stands for every commit up to it, all emitted.
    if let Some(newest) = &newest {
        state::set(&cursor_key, newest);
        state::set_json(&seen_key, &at_newest)?;
    }
    log::debug!("{repo}: {emitted} commits emitted"; repository = repo);
    Ok(emitted)
}
