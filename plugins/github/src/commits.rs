//! Commits of a repository's default branch: on the first run every commit reachable from
//! its head; afterwards the commits reachable from the new head and not from the head of
//! the last run — GitHub's compare — whatever their dates. A branch merged late brings
//! commits dated before the last run, which a date cursor (`since`) would never see.

use serde::Deserialize;
use serde_json::Value;
use sluice_sdk::http::Client;
use sluice_sdk::{Error, Result, log, records, state};

use crate::client::{PER_PAGE, text, walk};

/// One page of `GET /repos/{owner}/{repo}/compare/{base}...{head}`.
#[derive(Deserialize)]
struct Comparison {
    /// Commits reachable from head and not from base, in all pages.
    total_commits: usize,
    /// This page's commits.
    commits: Vec<Value>,
}

/// Emits the commits of `repo`'s `branch` that the last run did not, and returns how many.
pub fn sync(github: &Client, repo: &str, branch: Option<&str>) -> Result<usize> {
    let head_key = format!("commits_head:{repo}");
    let Some(head) = branch
        .map(|branch| head_of(github, repo, branch))
        .transpose()?
        .flatten()
    else {
        log::debug!("{repo}: no commits yet"; repository = repo);
        return Ok(0);
    };
    let emitted = match state::get(&head_key) {
        Some(last) if last == head => 0,
        Some(last) => match compare(github, repo, &last, &head) {
            // The last head is gone (a force-push, then garbage collection): read the
            // branch whole again; records are keyed, so those already kept are only updated.
            Err(error) if error.status() == Some(404) => {
                log::warn!("{repo}: the last synced head {last} is gone; reading every commit again"; repository = repo);
                every(github, repo, &head)?
            }
            other => other?,
        },
        None => every(github, repo, &head)?,
    };
    // Only now: the head stands for every commit reachable from it, all emitted.
    state::set(&head_key, &head);
    log::debug!("{repo}: {emitted} commits emitted"; repository = repo);
    Ok(emitted)
}

/// The sha `branch` points at; none when the repository is empty (GitHub answers 404 for
/// the branch of a repository without commits).
fn head_of(github: &Client, repo: &str, branch: &str) -> Result<Option<String>> {
    let path = format!("/repos/{repo}/branches/{}", encode(branch));
    let answer: Value = match github.send(&github.get(&path)) {
        Err(error) if error.status() == Some(404) => return Ok(None),
        other => other?.json()?,
    };
    answer
        .pointer("/commit/sha")
        .and_then(Value::as_str)
        .map(|sha| Some(sha.to_owned()))
        .ok_or_else(|| {
            Error::Upstream(format!(
                "GitHub sent branch `{branch}` of {repo} without its commit"
            ))
        })
}

/// Emits every commit reachable from `head`.
fn every(github: &Client, repo: &str, head: &str) -> Result<usize> {
    let mut emitted = 0usize;
    let request = github
        .get(&format!("/repos/{repo}/commits"))
        .query("sha", head);
    walk(github, request, |commit| {
        emit(repo, commit)?;
        emitted += 1;
        Ok(true)
    })?;
    Ok(emitted)
}

/// Emits the commits reachable from `head` and not from `base`, page by page.
fn compare(github: &Client, repo: &str, base: &str, head: &str) -> Result<usize> {
    let path = format!("/repos/{repo}/compare/{base}...{head}");
    let mut emitted = 0usize;
    for page in 1.. {
        let request = github
            .get(&path)
            .query("per_page", PER_PAGE)
            .query("page", page);
        let comparison: Comparison = github.send(&request)?.json()?;
        let count = comparison.commits.len();
        for commit in comparison.commits {
            emit(repo, commit)?;
        }
        emitted += count;
        if !more_pages(count, emitted, comparison.total_commits) {
            break;
        }
    }
    Ok(emitted)
}

/// Whether a comparison has pages after one that held `count` commits, once `emitted`
/// of its `total` are read.
fn more_pages(count: usize, emitted: usize, total: usize) -> bool {
    count == PER_PAGE && emitted < total
}

fn emit(repo: &str, mut commit: Value) -> Result<()> {
    let sha = text(&commit, "sha")?.to_owned();
    commit["repository"] = Value::from(repo);
    records::emit_one("commits", format!("{repo}@{sha}"), &commit)
}

/// A branch name as one path segment: `/` and the characters a URL path treats specially
/// percent-encoded (branch names may hold `/`, `#`, `%`, `?`).
fn encode(branch: &str) -> String {
    branch
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comparison_is_read_until_its_total_or_a_short_page() {
        assert!(more_pages(100, 100, 250));
        assert!(more_pages(100, 200, 250));
        assert!(!more_pages(50, 250, 250));
        assert!(
            !more_pages(100, 100, 100),
            "an exactly full last page ends it"
        );
        assert!(!more_pages(0, 0, 3), "an empty page ends it");
    }

    #[test]
    fn branch_names_are_one_path_segment() {
        assert_eq!(encode("main"), "main");
        assert_eq!(encode("release/1.0"), "release%2F1.0");
        assert_eq!(encode("a#b?c%"), "a%23b%3Fc%25");
    }
}
