//! The Slack connector end to end through `sluice plugin run` and `sluice plugin event`,
//! and through the server's API, against a fake Slack.

use std::path::Path;

use serde_json::{Value, json};
use sluice::store::{RunCall, RunTrigger};
use sluice_tests::fakes::slack::FakeSlack;
use sluice_tests::guests;

use crate::harness::{Harness, on_every_database};
use crate::support::{Run, run_connector, sluice};

const TOKEN: &str = "xoxb-canary-1234-5678-slack";

fn flags(fake: &FakeSlack, token: &str) -> (String, String) {
    (
        format!("slack_bot_token={token}"),
        format!("127.0.0.1:{}", fake.port()),
    )
}

async fn sync(fake: &FakeSlack, dir: &Path, token: &str, identities: &Path) -> Run {
    let (secret, grant) = flags(fake, token);
    let identities = identities.display().to_string();
    let state = dir.join("state.json");
    let args = [
        "--secret",
        &secret,
        "--allow-private-host",
        &grant,
        "--identities",
        &identities,
    ];
    run_connector(
        guests::SLACK_WASM,
        guests::SLACK_MANIFEST,
        dir,
        &state,
        &json!({ "api_base_url": fake.url() }),
        &args,
    )
    .await
}

#[tokio::test]
async fn users_and_channels_page_through_everything_and_people_are_reported() {
    let fake = FakeSlack::start(TOKEN).await.expect("fake Slack");
    let dir = tempfile::tempdir().expect("tempdir");
    let identities = dir.path().join("identities.jsonl");
    let run = sync(&fake, dir.path(), TOKEN, &identities).await;
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr());
    let (users, channels) = fake.counts();
    assert_eq!(run.count("users"), users);
    assert_eq!(run.count("channels"), channels);
    let user_pages: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("/api/users.list?"))
        .collect();
    assert_eq!(
        user_pages.len(),
        3,
        "253 users in pages shorter than the 200 asked, followed to the empty cursor: {user_pages:?}"
    );
    assert!(user_pages[0].contains("limit=200") && user_pages[1].contains("cursor="));
    let seen: Vec<Value> = std::fs::read_to_string(&identities)
        .expect("identities")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(
        seen.len(),
        250,
        "people only: no bots, Slackbot or deleted users"
    );
    assert_eq!(
        seen[0],
        json!({ "identity": { "system": "slack", "id": "U00000000" }, "verified_email": "person0@acme.example", "name": "Person0" })
    );
    assert!(!run.stderr().contains(TOKEN));
}

#[tokio::test]
async fn slack_errors_and_rate_limits_are_handled() {
    let fake = FakeSlack::start(TOKEN).await.expect("fake Slack");
    let dir = tempfile::tempdir().expect("tempdir");
    let identities = dir.path().join("identities.jsonl");
    let run = sync(&fake, dir.path(), "xoxb-wrong", &identities).await;
    assert_eq!(run.output.status.code(), Some(1));
    assert!(
        run.stderr().contains(
            "authentication failed: Slack rejected the bot token `slack_bot_token` (invalid_auth)"
        ),
        "{}",
        run.stderr()
    );
    fake.set_rate_limit_once();
    let run = sync(&fake, dir.path(), TOKEN, &identities).await;
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.count("users"), fake.counts().0);
}

#[tokio::test]
async fn a_post_message_event_posts_blocks_with_buttons() {
    let fake = FakeSlack::start(TOKEN).await.expect("fake Slack");
    let dir = tempfile::tempdir().expect("tempdir");
    let (secret, grant) = flags(&fake, TOKEN);
    let config = dir.path().join("config.json");
    std::fs::write(&config, json!({ "api_base_url": fake.url() }).to_string()).expect("config");
    let blocks = json!([
        { "type": "section", "text": { "type": "mrkdwn", "text": "How was the review of acme/widgets#3?" } },
        { "type": "actions", "elements": [
            { "type": "button", "text": { "type": "plain_text", "text": "Great" }, "action_id": "survey_great", "value": "5" },
            { "type": "button", "text": { "type": "plain_text", "text": "Rough" }, "action_id": "survey_rough", "value": "1" }
        ] }
    ]);
    let post = |channel: &str| {
        let payload = dir.path().join(format!("{channel}.json"));
        std::fs::write(
            &payload,
            json!({ "channel": channel, "text": "Review survey", "blocks": blocks }).to_string(),
        )
        .expect("payload");
        [
            "plugin",
            "event",
            guests::SLACK_WASM,
            "--manifest",
            guests::SLACK_MANIFEST,
            "--config",
            &config.display().to_string(),
            "--secret",
            &secret,
            "--allow-private-host",
            &grant,
            "--kind",
            "slack.post_message",
            "--payload",
            &payload.display().to_string(),
        ]
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<String>>()
    };
    let output = sluice(post("U00000007")).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("event handled"));
    assert_eq!(
        fake.posted(),
        [json!({ "channel": "U00000007", "text": "Review survey", "blocks": blocks })]
    );

    let output = sluice(post("C99999999")).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "chat.postMessage cannot post there (channel_not_found): invite the bot to the channel"
        ),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Acme's records of `install` in `stream`, filtered by `deleted` when given: the items.
/// The bar of deletions: a user removed from Slack is reported deleted by the next sync,
/// while the users that did not change are not written again, and an event run that
/// emits nothing marks nothing deleted.
#[tokio::test]
async fn a_user_removed_from_slack_is_reported_deleted_by_the_next_run() {
    async fn test(h: &Harness) {
        let label = h.label;
        let fake = FakeSlack::start(TOKEN).await.expect("fake Slack");
        let company = &h.acme.company;
        let install = h
            .install_talking_to_slack(
                "slack",
                json!({ "api_base_url": fake.url() }),
                fake.port(),
                TOKEN,
            )
            .await;

        let first = h.run_of_acme(&install).await;
        assert_eq!(first["status"], "succeeded", "{label}: {first}");
        assert_eq!(first["records_deleted"], 0, "{label}: {first}");
        let users = fake.counts().0;
        let before = h.records_of_acme(&install, "users", None).await;
        assert_eq!(before.len(), users, "{label}");
        assert!(before.iter().all(|u| u["deleted_at"].is_null()), "{label}");

        assert!(fake.remove_user("U00000007"));
        let deleted = h
            .sync_seeing_one_item_gone(&install, "users", ("U00000007", users), &first)
            .await;
        assert_eq!(
            deleted["data"]["name"], "person7",
            "{label}: its last data stays"
        );
        assert_eq!(
            h.records_of_acme(&install, "channels", Some(true)).await,
            Vec::<Value>::new(),
            "{label}: every channel is still there"
        );
        assert_eq!(
            h.records_of_acme(&install, "users", None).await.len(),
            users,
            "{label}: by default the list shows deleted records too"
        );

        // An event run emits only what its event is about, never a whole stream: it marks
        // nothing deleted.
        let found = h.store.install(company, &install).await.expect("install");
        let message = json!({ "channel": "C00000001", "text": "Hello" });
        let event = h
            .state
            .runs
            .enqueue(
                company,
                &found.expect("the install"),
                RunTrigger::Webhook,
                RunCall::Event {
                    kind: "slack.post_message".into(),
                    json: message.to_string(),
                },
            )
            .await
            .expect("queue an event run");
        let event = h.finished_run(company, &h.acme.token, &event.id).await;
        assert_eq!(event["status"], "succeeded", "{label}: {event}");
        assert_eq!(event["records_deleted"], 0, "{label}: {event}");
        assert_eq!(fake.posted(), [message], "{label}");
        assert_eq!(
            h.records_of_acme(&install, "users", Some(true)).await.len(),
            1,
            "{label}"
        );
        assert_eq!(
            h.records_of_acme(&install, "channels", Some(true)).await,
            Vec::<Value>::new(),
            "{label}"
        );
    }
    on_every_database!(test);
}
