//! The Jira connector end to end through `sluice plugin run`, and through the server's API,
//! against a fake Jira Cloud.

use std::path::Path;

use serde_json::json;
use sluice_tests::fakes::jira::FakeJira;
use sluice_tests::guests;

use crate::harness::{Harness, on_every_database};
use crate::support::{Run, run_connector};

const EMAIL: &str = "bot@acme.example";
const TOKEN: &str = "ATATT3xFfGF0canary-jira-token";

async fn run(fake: &FakeJira, dir: &Path, token: &str) -> Run {
    let config = json!({ "site_url": fake.url(), "email": EMAIL, "projects": ["ENG", "OPS"] });
    run_configured(fake, dir, token, &config).await
}

async fn run_configured(
    fake: &FakeJira,
    dir: &Path,
    token: &str,
    config: &serde_json::Value,
) -> Run {
    let grant = format!("127.0.0.1:{}", fake.port());
    let secret = format!("jira_api_token={token}");
    let state = dir.join("state.json");
    run_connector(
        guests::JIRA_WASM,
        guests::JIRA_MANIFEST,
        dir,
        &state,
        config,
        &["--secret", &secret, "--allow-private-host", &grant],
    )
    .await
}

#[tokio::test]
async fn a_full_run_pages_through_everything_and_a_second_fetches_only_changes() {
    let fake = FakeJira::start(EMAIL, TOKEN).await.expect("fake Jira");
    let dir = tempfile::tempdir().expect("tempdir");
    let first = run(&fake, dir.path(), TOKEN).await;
    assert_eq!(first.output.status.code(), Some(0), "{}", first.stderr());
    let expected = fake.expected();
    assert_eq!(first.count("issues"), expected.issues);
    assert_eq!(first.count("users"), expected.users);
    assert_eq!(first.count("boards"), expected.boards);
    assert_eq!(first.count("sprints"), expected.sprints);
    assert_eq!(first.count("worklogs"), expected.worklogs);
    assert!(!first.stderr().contains(TOKEN));
    let requests = fake.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.contains("nextPageToken=page-100")),
        "search paged by token: {requests:?}"
    );
    assert!(
        requests.iter().any(|r| r.contains("/sprint?startAt=50")),
        "sprints paged by startAt"
    );

    fake.add_activity();
    let second = run(&fake, dir.path(), TOKEN).await;
    assert_eq!(second.output.status.code(), Some(0), "{}", second.stderr());
    let streams = second.by_stream();
    assert_eq!(
        streams["issues"],
        ["ENG-1", "OPS-6"],
        "only the updated and the new issue"
    );
    assert_eq!(
        streams.get("worklogs"),
        None,
        "Jira holds back a worklog of the last minute"
    );
    let last_search = fake
        .requests()
        .into_iter()
        .rfind(|r| r.starts_with("/rest/api/3/search/jql"))
        .expect("a search");
    assert!(
        last_search.contains("updated+%3E%3D"),
        "the second search asks only for updates: {last_search}"
    );

    fake.pass_minutes(2);
    let third = run(&fake, dir.path(), TOKEN).await;
    assert_eq!(third.output.status.code(), Some(0), "{}", third.stderr());
    let streams = third.by_stream();
    assert_eq!(streams["worklogs"].len(), 1, "the held-back worklog, once");
    assert_eq!(streams.get("issues"), None, "no issue twice");
}

#[tokio::test]
async fn jql_that_jira_refuses_names_the_setting() {
    let fake = FakeJira::start(EMAIL, TOKEN).await.expect("fake Jira");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = json!({ "site_url": fake.url(), "email": EMAIL, "projects": ["ENG"], "jql": "labels ~~ nonsense" });
    let run = run_configured(&fake, dir.path(), TOKEN, &config).await;
    assert_eq!(run.output.status.code(), Some(1));
    let stderr = run.stderr();
    assert!(
        stderr.contains("configuration error: Jira refused the search of `projects` and `jql` (400 Error in the JQL Query: Expecting a field, an operator and a value but got 'labels ~~ nonsense'.): check `jql`"),
        "{stderr}"
    );

    let narrowed = json!({ "site_url": fake.url(), "email": EMAIL, "projects": ["ENG", "OPS"], "jql": "project = OPS" });
    let run = run_configured(&fake, dir.path(), TOKEN, &narrowed).await;
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.count("issues"), 5, "the extra JQL narrows the search");
}

#[tokio::test]
async fn bad_credentials_are_an_auth_error_naming_jira() {
    let fake = FakeJira::start(EMAIL, TOKEN).await.expect("fake Jira");
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run(&fake, dir.path(), "wrong-token").await;
    assert_eq!(run.output.status.code(), Some(1));
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!("authentication failed: Jira at {} rejected the email `{EMAIL}` with the API token `jira_api_token` (401", fake.url())),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let fake = FakeJira::start(EMAIL, TOKEN).await.expect("fake Jira");
    fake.set_rate_limit_once();
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run(&fake, dir.path(), TOKEN).await;
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.count("issues"), fake.expected().issues);
    let requests = fake.requests();
    assert_eq!(
        requests[0], requests[1],
        "the limited request was asked again"
    );
}

/// A sprint deleted in Jira is reported deleted by the next sync through the server,
/// while the sprints that did not change are not written again.
#[tokio::test]
async fn a_sprint_deleted_in_jira_is_reported_deleted_by_the_next_run() {
    async fn test(h: &Harness) {
        let label = h.label;
        let fake = FakeJira::start(EMAIL, TOKEN).await.expect("fake Jira");
        let sprints = fake.expected().sprints;
        let install = h
            .install_talking_to(
                "jira",
                json!({ "site_url": fake.url(), "email": EMAIL, "projects": ["ENG", "OPS"] }),
                fake.port(),
                ("jira_api_token", "jira", TOKEN),
            )
            .await;

        let first = h.run_of_acme(&install).await;
        assert_eq!(first["status"], "succeeded", "{label}: {first}");
        assert_eq!(first["records_deleted"], 0, "{label}: {first}");
        assert_eq!(
            h.records_of_acme(&install, "sprints", None).await.len(),
            sprints,
            "{label}"
        );

        assert!(fake.delete_sprint(310));
        let deleted = h
            .sync_seeing_one_item_gone(&install, "sprints", ("310", sprints), &first)
            .await;
        assert_eq!(
            deleted["data"]["name"], "Sprint 10",
            "{label}: its last data stays"
        );
        for stream in ["users", "boards"] {
            assert_eq!(
                h.records_of_acme(&install, stream, Some(true)).await,
                Vec::<serde_json::Value>::new(),
                "{label}: every one of the {stream} is still there"
            );
        }
    }
    on_every_database!(test);
}
