//! The GitHub connector end to end through `sluice plugin run`, against a fake GitHub.

use std::path::{Path, PathBuf};

use serde_json::json;
use sluice_tests::fakes::github::{FakeGitHub, ORG, RateLimit};
use sluice_tests::guests;

use crate::support::{Run, run_connector};

const TOKEN: &str = "ghp_canary0123456789abcdefghijklmnopqrstu";

/// Runs the GitHub connector against the fake, with `state` as its cursor file.
async fn run(fake: &FakeGitHub, dir: &Path, state: &Path, token: &str) -> Run {
    let config = json!({ "org": ORG, "api_base_url": fake.url() });
    let grant = format!("127.0.0.1:{}", fake.port());
    let secret = format!("github_token={token}");
    let args = ["--secret", &secret, "--allow-private-host", &grant];
    run_connector(guests::GITHUB_WASM, guests::GITHUB_MANIFEST, dir, state, &config, &args).await
}

fn paths() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    (dir, state)
}

#[tokio::test]
async fn a_full_run_emits_everything_exactly_once_and_a_second_only_what_changed() {
    let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
    let (dir, state) = paths();
    let first = run(&fake, dir.path(), &state, TOKEN).await;
    assert_eq!(first.output.status.code(), Some(0), "{}", first.stderr());
    let expected = fake.expected();
    assert_eq!(first.count("members"), expected.members);
    assert_eq!(first.count("teams"), expected.teams);
    assert_eq!(first.count("repositories"), expected.repositories);
    assert_eq!(first.count("pull_requests"), expected.pull_requests);
    assert_eq!(first.count("reviews"), expected.reviews);
    assert_eq!(first.count("commits"), expected.commits);
    let merged = first
        .records
        .iter()
        .filter(|r| r["stream"] == "pull_requests" && !r["data"]["merged_at"].is_null())
        .count();
    assert!(merged > 0, "pull requests carry merged_at");
    assert!(!first.stderr().contains(TOKEN), "the token never reaches the log");
    assert!(first.stderr().contains("sync succeeded"), "{}", first.stderr());

    fake.add_activity();
    let requests_before = fake.requests().len();
    let second = run(&fake, dir.path(), &state, TOKEN).await;
    assert_eq!(second.output.status.code(), Some(0), "{}", second.stderr());
    let streams = second.by_stream();
    assert_eq!(streams.get("members"), None, "members unchanged: a 304, nothing emitted");
    assert_eq!(streams.get("teams"), None);
    assert_eq!(streams["pull_requests"], ["acme/gadgets#6", "acme/widgets#3"]);
    assert_eq!(streams["reviews"].len(), 2, "the new review, and the one already on widgets#3");
    assert_eq!(streams["commits"].len(), 1, "only the new commit: {:?}", streams["commits"]);
    assert_eq!(streams["repositories"], ["acme/gadgets"], "only the repository with a new push");

    let requests: Vec<String> = fake.requests()[requests_before..].to_vec();
    let pull_pages: Vec<&String> = requests.iter().filter(|r| r.starts_with("/repos/acme/widgets/pulls?")).collect();
    assert_eq!(pull_pages.len(), 1, "pull request paging stopped at the cursor: {pull_pages:?}");
    assert!(
        requests.iter().any(|r| r.starts_with("/repos/acme/widgets/commits?") && r.contains("since=")),
        "commits asked only since the cursor: {requests:?}"
    );
}

#[tokio::test]
async fn a_rejected_token_is_an_auth_error_naming_github() {
    let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
    let (dir, state) = paths();
    let run = run(&fake, dir.path(), &state, "ghp_wrong").await;
    assert_eq!(run.output.status.code(), Some(1));
    let stderr = run.stderr();
    assert!(
        stderr.contains("authentication failed: GitHub rejected the token `github_token` (401 Bad credentials)"),
        "{stderr}"
    );
    assert!(run.records.is_empty(), "a failed run writes no records");
    assert!(!state.exists(), "nor a cursor");
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    for limit in [RateLimit::SecondaryRetryAfter, RateLimit::TooManyRequests, RateLimit::PrimaryReset] {
        let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
        fake.set_rate_limit_once(limit);
        let (dir, state) = paths();
        let run = run(&fake, dir.path(), &state, TOKEN).await;
        assert_eq!(run.output.status.code(), Some(0), "{limit:?}: {}", run.stderr());
        assert_eq!(run.count("members"), fake.expected().members, "{limit:?}");
        assert_eq!(fake.requests()[0], fake.requests()[1], "{limit:?}: the limited request was asked again");
    }
}
