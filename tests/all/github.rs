//! The GitHub connector end to end through `sluice plugin run` and `sluice plugin check`,
//! against a fake GitHub.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;
use sluice_tests::fakes::github::{FakeGitHub, ORG, RateLimit};
use sluice_tests::guests;

use crate::support::{Run, run_connector, sluice};

const TOKEN: &str = "ghp_canary0123456789abcdefghijklmnopqrstu";

/// Runs the GitHub connector against the fake, with `state` as its cursor file.
async fn run(fake: &FakeGitHub, dir: &Path, state: &Path, token: &str) -> Run {
    let config = json!({ "org": ORG, "api_base_url": fake.url() });
    run_configured(fake, dir, state, token, &config).await
}

/// Runs the GitHub connector against the fake with the configuration `config`.
async fn run_configured(
    fake: &FakeGitHub,
    dir: &Path,
    state: &Path,
    token: &str,
    config: &serde_json::Value,
) -> Run {
    let grant = format!("127.0.0.1:{}", fake.port());
    let secret = format!("github_token={token}");
    let args = ["--secret", &secret, "--allow-private-host", &grant];
    run_connector(
        guests::GITHUB_WASM,
        guests::GITHUB_MANIFEST,
        dir,
        state,
        config,
        &args,
    )
    .await
}

/// Runs `sluice plugin check` on the GitHub connector for organisation `org`.
async fn check(fake: &FakeGitHub, dir: &Path, org: &str, token: &str) -> std::process::Output {
    let config = dir.join("check.json");
    std::fs::write(
        &config,
        json!({ "org": org, "api_base_url": fake.url() }).to_string(),
    )
    .expect("config");
    let args = [
        "plugin",
        "check",
        guests::GITHUB_WASM,
        "--manifest",
        guests::GITHUB_MANIFEST,
        "--config",
        &config.display().to_string(),
        "--secret",
        &format!("github_token={token}"),
        "--allow-private-host",
        &format!("127.0.0.1:{}", fake.port()),
    ];
    sluice(args.iter().map(ToString::to_string).collect()).await
}

fn paths() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    (dir, state)
}

/// The requests of a listing's pages among `requests`: those whose path is `path`.
fn pages_of<'a>(requests: &'a [String], path: &str) -> Vec<&'a String> {
    requests
        .iter()
        .filter(|r| r.split('?').next() == Some(path))
        .collect()
}

#[tokio::test]
async fn a_full_run_emits_everything_exactly_once_and_a_second_only_what_changed() {
    let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
    let (dir, state) = paths();
    let first = run(&fake, dir.path(), &state, TOKEN).await;
    assert_eq!(first.output.status.code(), Some(0), "{}", first.stderr());
    let expected = fake.expected();
    // `count` goes through `by_stream`, which fails on a key emitted twice.
    assert_eq!(first.count("members"), expected.members);
    assert_eq!(first.count("teams"), expected.teams);
    assert_eq!(first.count("repositories"), expected.repositories);
    assert_eq!(first.count("pull_requests"), expected.pull_requests);
    assert_eq!(first.count("reviews"), expected.reviews);
    assert_eq!(first.count("commits"), expected.commits);
    assert_eq!(
        first.records.len(),
        first.by_stream().values().map(Vec::len).sum::<usize>()
    );
    let merged = first
        .records
        .iter()
        .filter(|r| r["stream"] == "pull_requests" && !r["data"]["merged_at"].is_null())
        .count();
    assert!(merged > 0, "pull requests carry merged_at");
    let requests = fake.requests();
    assert_eq!(
        pages_of(&requests, "/orgs/acme/members").len(),
        2,
        "members paginate: {requests:?}"
    );
    assert_eq!(
        pages_of(&requests, "/repos/acme/widgets/pulls").len(),
        2,
        "pulls paginate"
    );
    let stderr = first.stderr();
    assert!(!stderr.contains(TOKEN), "the token never reaches the log");
    assert!(stderr.contains("sync succeeded"), "{stderr}");
    assert!(
        stderr.contains("pull_requests: 125 emitted from 3 repositories"),
        "one line per stream: {stderr}"
    );

    fake.add_activity();
    let requests_before = fake.requests().len();
    let second = run(&fake, dir.path(), &state, TOKEN).await;
    assert_eq!(second.output.status.code(), Some(0), "{}", second.stderr());
    let streams = second.by_stream();
    assert_eq!(
        streams.get("members"),
        None,
        "members unchanged: 304s, nothing emitted"
    );
    assert_eq!(streams.get("teams"), None);
    assert_eq!(
        streams["pull_requests"],
        ["acme/gadgets#6", "acme/widgets#3"]
    );
    assert_eq!(
        streams["reviews"].len(),
        2,
        "the new review, and the one already on widgets#3"
    );
    assert_eq!(
        streams["commits"].len(),
        1,
        "only the new commit: {:?}",
        streams["commits"]
    );
    assert_eq!(
        streams["repositories"],
        ["acme/gadgets"],
        "only the repository with a new push"
    );

    let requests: Vec<String> = fake.requests()[requests_before..].to_vec();
    let pull_pages = pages_of(&requests, "/repos/acme/widgets/pulls");
    assert_eq!(
        pull_pages.len(),
        1,
        "pull request paging stopped at the cursor: {pull_pages:?}"
    );
    let review_requests = requests
        .iter()
        .filter(|r| r.ends_with("/reviews?per_page=100"))
        .count();
    assert_eq!(
        review_requests, 2,
        "reviews asked only for the changed pull requests: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("/repos/acme/gadgets/compare/")),
        "commits asked only past the last run's head: {requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("/commits?") || r.starts_with("/repos/acme/widgets/compare/")),
        "no commits listed again, nothing compared where the head stayed: {requests:?}"
    );
}

#[tokio::test]
async fn repositories_a_widened_filter_includes_are_synced_whole_on_the_next_run() {
    let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
    let (dir, state) = paths();
    let narrow = json!({ "org": ORG, "api_base_url": fake.url(), "repos": ["widgets"] });
    let first = run_configured(&fake, dir.path(), &state, TOKEN, &narrow).await;
    assert_eq!(first.output.status.code(), Some(0), "{}", first.stderr());
    assert_eq!(first.by_stream()["repositories"], ["acme/widgets"]);

    // Nothing changed at GitHub: only the filter did.
    let wide =
        json!({ "org": ORG, "api_base_url": fake.url(), "repos": ["widgets", "acme/Gadgets"] });
    let second = run_configured(&fake, dir.path(), &state, TOKEN, &wide).await;
    assert_eq!(second.output.status.code(), Some(0), "{}", second.stderr());
    let streams = second.by_stream();
    assert_eq!(
        streams["repositories"],
        ["acme/gadgets"],
        "{}",
        second.stderr()
    );
    assert_eq!(
        streams["pull_requests"],
        (1..=5)
            .map(|n| format!("acme/gadgets#{n}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(streams["commits"].len(), 3, "every commit of gadgets");
    assert!(
        streams["commits"]
            .iter()
            .all(|key| key.starts_with("acme/gadgets@")),
        "{:?}",
        streams["commits"]
    );

    let third = run_configured(&fake, dir.path(), &state, TOKEN, &wide).await;
    assert_eq!(third.output.status.code(), Some(0), "{}", third.stderr());
    assert!(
        third.records.is_empty(),
        "synced once: {:?}",
        third.by_stream()
    );
}

#[tokio::test]
async fn commits_of_a_branch_merged_late_are_read_though_dated_before_the_last_run() {
    let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
    let (dir, state) = paths();
    let first = run(&fake, dir.path(), &state, TOKEN).await;
    assert_eq!(first.output.status.code(), Some(0), "{}", first.stderr());

    let branch = fake.merge_old_branch(3);
    let merge = fake.widgets_head().expect("a head");
    let second = run(&fake, dir.path(), &state, TOKEN).await;
    assert_eq!(second.output.status.code(), Some(0), "{}", second.stderr());
    let mut expected: Vec<String> = branch
        .iter()
        .chain([&merge])
        .map(|sha| format!("acme/widgets@{sha}"))
        .collect();
    expected.sort();
    assert_eq!(second.by_stream()["commits"], expected);
    let old = second
        .records
        .iter()
        .find(|r| r["key"] == format!("acme/widgets@{}", branch[0]))
        .expect("the branch's first commit");
    assert!(
        old["data"]["commit"]["committer"]["date"]
            .as_str()
            .is_some_and(|date| date.starts_with("2025-12-31")),
        "dated before anything the first run read: {old}"
    );
}

#[tokio::test]
async fn members_who_join_later_are_found_on_whichever_page_they_land() {
    let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
    let (dir, state) = paths();
    let first = run(&fake, dir.path(), &state, TOKEN).await;
    assert_eq!(first.output.status.code(), Some(0), "{}", first.stderr());

    // 131 members: the first page answers 304, the second changed.
    fake.add_members(1);
    let second = run(&fake, dir.path(), &state, TOKEN).await;
    assert_eq!(second.output.status.code(), Some(0), "{}", second.stderr());
    let logins = fake.member_logins();
    let mut changed_page: Vec<String> = logins[100..].to_vec();
    changed_page.sort();
    assert_eq!(
        second.by_stream(),
        BTreeMap::from([("members".to_owned(), changed_page)]),
        "only the page the new member landed on, and nothing else"
    );

    // 200 members fill the second page exactly; one more opens a third, which the second
    // page's 304 does not announce.
    fake.add_members(69);
    let third = run(&fake, dir.path(), &state, TOKEN).await;
    assert_eq!(third.output.status.code(), Some(0), "{}", third.stderr());
    assert_eq!(third.count("members"), 100);
    fake.add_members(1);
    let before = fake.requests().len();
    let fourth = run(&fake, dir.path(), &state, TOKEN).await;
    assert_eq!(fourth.output.status.code(), Some(0), "{}", fourth.stderr());
    assert_eq!(
        fourth.by_stream(),
        BTreeMap::from([("members".to_owned(), vec!["member-200".to_owned()])])
    );
    let requests = fake.requests()[before..].to_vec();
    assert!(
        pages_of(&requests, "/orgs/acme/members")
            .iter()
            .any(|r| r.contains("page=3")),
        "the third page was found: {requests:?}"
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
        stderr.contains("authentication failed: GitHub rejected the token `github_token`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(401 Bad credentials): check that it is valid and not expired"),
        "GitHub's own message, and what to do: {stderr}"
    );
    assert!(
        !stderr.contains("ghp_wrong"),
        "the token never reaches the log"
    );
    assert!(run.records.is_empty(), "a failed run writes no records");
    assert!(!state.exists(), "nor a cursor");
}

#[tokio::test]
async fn the_connection_check_proves_the_organisation_and_the_token() {
    let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
    let dir = tempfile::tempdir().expect("tempdir");

    let passed = check(&fake, dir.path(), ORG, TOKEN).await;
    let stderr = String::from_utf8_lossy(&passed.stderr);
    assert_eq!(passed.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("connection check passed"), "{stderr}");
    assert_eq!(
        fake.requests(),
        ["/orgs/acme"],
        "the cheapest request that proves it"
    );

    let missing = check(&fake, dir.path(), "nobody", TOKEN).await;
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    let expected = format!("GitHub organisation `nobody` not found at {}", fake.url());
    assert!(stderr.contains(&expected), "{stderr}");

    let rejected = check(&fake, dir.path(), ORG, "ghp_wrong").await;
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert_eq!(rejected.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("GitHub rejected the token `github_token`"),
        "{stderr}"
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    for limit in [
        RateLimit::SecondaryRetryAfter,
        RateLimit::TooManyRequests,
        RateLimit::PrimaryReset,
    ] {
        let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
        fake.set_rate_limit_once(limit);
        let (dir, state) = paths();
        let run = run(&fake, dir.path(), &state, TOKEN).await;
        assert_eq!(
            run.output.status.code(),
            Some(0),
            "{limit:?}: {}",
            run.stderr()
        );
        let expected = fake.expected();
        assert_eq!(run.count("members"), expected.members, "{limit:?}");
        assert_eq!(
            run.count("pull_requests"),
            expected.pull_requests,
            "{limit:?}"
        );
        assert_eq!(run.count("commits"), expected.commits, "{limit:?}");
        assert_eq!(
            fake.requests()[0],
            fake.requests()[1],
            "{limit:?}: the limited request was asked again"
        );
    }
}
