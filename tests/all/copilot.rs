//! The Copilot connector end to end through `sluice plugin run`, against a fake of GitHub's
//! Copilot APIs.

use std::path::Path;

use serde_json::json;
use sluice_tests::fakes::copilot::{FakeCopilot, Reports, SEATS, days_ago, report_days};
use sluice_tests::guests;

use crate::support::{Run, run_connector};

const TOKEN: &str = "ghp_canaryCopilot0123456789abcdefghijkl";

/// Runs the connector against `fake`: the API on one origin, the report files on another,
/// each granted.
async fn run(fake: &FakeCopilot, dir: &Path) -> Run {
    let config = json!({
        "org": "acme",
        "api_base_url": fake.url(),
        "report_storage_url": fake.storage_url(),
        "backfill_days": 5,
    });
    let secret = format!("github_token={TOKEN}");
    let api = format!("127.0.0.1:{}", fake.port());
    let storage = format!("127.0.0.1:{}", fake.storage_port());
    run_connector(
        guests::COPILOT_WASM,
        guests::COPILOT_MANIFEST,
        dir,
        &dir.join("state.json"),
        &config,
        &[
            "--secret",
            &secret,
            "--allow-private-host",
            &api,
            "--allow-private-host",
            &storage,
        ],
    )
    .await
}

#[tokio::test]
async fn daily_reports_and_seats_are_read_once() {
    let fake = FakeCopilot::start(TOKEN, Reports::LastThreeDays)
        .await
        .expect("fake");
    let dir = tempfile::tempdir().expect("tempdir");
    let first = run(&fake, dir.path()).await;
    assert_eq!(first.output.status.code(), Some(0), "{}", first.stderr());
    assert_eq!(first.count("copilot_seats"), SEATS);
    let daily = first
        .by_stream()
        .remove("copilot_daily")
        .unwrap_or_default();
    assert_eq!(
        daily.len(),
        3 * 7,
        "per day: the totals, 2 IDEs, 2 features, 1 language, 1 model"
    );
    for day in report_days() {
        assert!(daily.contains(&day), "{day}");
        assert!(
            daily.contains(&format!("{day}|totals_by_ide|vscode")),
            "{day}"
        );
        assert!(
            daily.contains(&format!(
                "{day}|totals_by_model_feature|chat_panel_ask_mode|gpt-4.1"
            )),
            "{day}"
        );
    }
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.starts_with("/reports/"))
            .count(),
        3,
        "each day's report file read from the other origin"
    );
    assert_eq!(
        fake.downloads_with_token(),
        0,
        "no Authorization header reaches the report files' origin"
    );
    assert_eq!(
        fake.downloads_refused(),
        0,
        "each link followed exactly as signed"
    );
    let asked = fake
        .requests()
        .iter()
        .filter(|r| r.contains("organization-1-day"))
        .count();
    assert_eq!(asked, 5, "one request per backfilled day");

    let second = run(&fake, dir.path()).await;
    assert_eq!(second.output.status.code(), Some(0), "{}", second.stderr());
    assert_eq!(
        second.count("copilot_daily"),
        0,
        "no new day since the cursor"
    );
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.contains("organization-1-day"))
            .count(),
        5,
        "no day asked twice"
    );
}

#[tokio::test]
async fn a_report_published_late_is_read_on_a_later_run_exactly_once() {
    let fake = FakeCopilot::start(TOKEN, Reports::PublishedLate)
        .await
        .expect("fake");
    let dir = tempfile::tempdir().expect("tempdir");
    let asked = |fake: &FakeCopilot, day: &str| {
        fake.requests()
            .iter()
            .filter(|r| r.contains("organization-1-day") && r.ends_with(&format!("day={day}")))
            .count()
    };
    let first = run(&fake, dir.path()).await;
    assert_eq!(first.output.status.code(), Some(0), "{}", first.stderr());
    assert_eq!(first.count("copilot_daily"), 0, "nothing is published yet");
    let pending = report_days();
    let mut oldest_first = pending.clone();
    oldest_first.reverse();
    assert!(
        first.stderr().contains(&format!(
            "; Copilot reports not published yet, asked again on the next run: {}",
            oldest_first.join(", ")
        )),
        "{}",
        first.stderr()
    );

    let second = run(&fake, dir.path()).await;
    assert_eq!(second.output.status.code(), Some(0), "{}", second.stderr());
    let daily = second
        .by_stream()
        .remove("copilot_daily")
        .unwrap_or_default();
    assert_eq!(daily.len(), 3 * 7, "the three late reports, read now");
    for day in &pending {
        assert!(daily.contains(day), "{day}");
    }

    let third = run(&fake, dir.path()).await;
    assert_eq!(third.output.status.code(), Some(0), "{}", third.stderr());
    assert_eq!(third.count("copilot_daily"), 0);
    for day in &pending {
        assert_eq!(
            asked(&fake, day),
            2,
            "{day}: asked while pending, then once read, never again"
        );
    }
    let older = days_ago(4);
    assert_eq!(
        asked(&fake, &older),
        1,
        "a day past the report delay is asked once"
    );
}

#[tokio::test]
async fn an_org_without_reports_or_permission_gets_a_note_not_a_failure() {
    let fake = FakeCopilot::start(TOKEN, Reports::None)
        .await
        .expect("fake");
    let dir = tempfile::tempdir().expect("tempdir");
    let run1 = run(&fake, dir.path()).await;
    assert_eq!(run1.output.status.code(), Some(0), "{}", run1.stderr());
    assert!(
        run1.stderr()
            .contains("note:        GitHub has no Copilot usage report for `acme`"),
        "{}",
        run1.stderr()
    );

    let fake = FakeCopilot::start(TOKEN, Reports::Forbidden)
        .await
        .expect("fake");
    let dir = tempfile::tempdir().expect("tempdir");
    let run2 = run(&fake, dir.path()).await;
    assert_eq!(run2.output.status.code(), Some(0), "{}", run2.stderr());
    assert!(run2.stderr().contains("note:        Copilot usage reports skipped: permission missing: GitHub refused Copilot data of `acme`"), "{}", run2.stderr());
    assert_eq!(run2.count("copilot_seats"), SEATS, "seats are still read");
}

#[tokio::test]
async fn a_rejected_token_is_an_auth_error_naming_github() {
    let fake = FakeCopilot::start("ghp_the_right_one", Reports::LastThreeDays)
        .await
        .expect("fake");
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run(&fake, dir.path()).await;
    assert_eq!(run.output.status.code(), Some(1));
    assert!(
        run.stderr()
            .contains("authentication failed: GitHub rejected the token `github_token`"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("Bad credentials"), "{}", run.stderr());
}

#[tokio::test]
async fn the_report_files_origin_refuses_a_link_unsigned_or_altered() {
    let fake = FakeCopilot::start(TOKEN, Reports::LastThreeDays)
        .await
        .expect("fake");
    let client = reqwest::Client::new();
    let day = days_ago(1);
    let links: serde_json::Value = client
        .get(format!(
            "{}/orgs/acme/copilot/metrics/reports/organization-1-day?day={day}",
            fake.url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("links")
        .json()
        .await
        .expect("JSON");
    let link = links["download_links"][0]
        .as_str()
        .expect("a link")
        .to_owned();
    assert!(
        link.starts_with(&format!("{}/reports/{day}.ndjson?", fake.storage_url())),
        "{link}"
    );
    let status = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.expect("download").status() }
    };
    assert_eq!(status(link.clone()).await, 200);
    let unsigned = link.split("&sig=").next().expect("the query").to_owned();
    assert_eq!(status(unsigned).await, 403);
    assert_eq!(status(link.replace(&day, &days_ago(2))).await, 403);
    assert_eq!(fake.downloads_refused(), 2);
}
