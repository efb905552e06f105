//! Webhooks in, on SQLite and PostgreSQL: GitHub's and Slack's signed deliveries to an
//! install's hook are verified, kept once and queued as event runs; and the pull-request
//! survey from a merged pull request captured from GitHub, through direct messages on a
//! fake Slack and their button presses, to the reveal and the weekly leaderboard.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use sluice::hooks::{github_signature, slack_signature};
use sluice_tests::fakes::slack::FakeSlack;

use crate::harness::{Answer, Harness, on_every_database};

const SLACK_TOKEN: &str = "xoxb-survey-1234-5678";
/// The Slack app's signing secret, as Slack issues it.
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
/// A `pull_request` delivery (`closed`, `merged: true`) captured from GitHub: pull request
/// ailisp/gcbapp-buildconfig-example#3 by byao1276.
const MERGED: &str = include_str!("../data/github/pull_request.closed.merged.json");
/// GitHub's example `pull_request_review` delivery (`submitted`).
const REVIEW: &str = include_str!("../data/github/pull_request_review.submitted.json");
const PR: &str = "ailisp/gcbapp-buildconfig-example#3";

fn now_secs() -> i64 {
    sluice::store::now_ms() / 1000
}

/// The review example, moved onto the captured pull request and written by `login`.
fn review_by(login: &str) -> String {
    let mut review: Value = serde_json::from_str(REVIEW).expect("the review example");
    review["repository"]["full_name"] = json!("ailisp/gcbapp-buildconfig-example");
    review["pull_request"]["number"] = json!(3);
    review["pull_request"]["user"]["login"] = json!("byao1276");
    review["review"]["user"]["login"] = json!(login);
    review.to_string()
}

/// POSTs `body` to an install's GitHub hook as GitHub would, signed with `secret`.
async fn github_delivery(
    h: &Harness,
    install: &str,
    event: &str,
    delivery: &str,
    body: &str,
    secret: Option<&str>,
) -> Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("/hooks/github/{install}"))
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/87e258b")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery);
    if let Some(secret) = secret {
        request = request.header(
            "x-hub-signature-256",
            github_signature(secret.as_bytes(), body.as_bytes()),
        );
    }
    h.send(
        request
            .body(Body::from(body.to_owned()))
            .expect("a request"),
    )
    .await
}

/// POSTs `body` to an install's Slack hook (`events` or `interactions`), signed at `at`.
async fn slack_request(
    h: &Harness,
    install: &str,
    path: &str,
    content_type: &str,
    body: &str,
    secret: &str,
    at: i64,
) -> Answer {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/hooks/slack/{install}/{path}"))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", at.to_string())
        .header(
            "x-slack-signature",
            slack_signature(secret.as_bytes(), at, body.as_bytes()),
        )
        .body(Body::from(body.to_owned()))
        .expect("a request");
    h.send(request).await
}

/// POSTs a form-encoded interaction to an install's Slack hook, signed at `at`.
async fn interaction(h: &Harness, install: &str, body: &str, secret: &str, at: i64) -> Answer {
    slack_request(
        h,
        install,
        "interactions",
        "application/x-www-form-urlencoded",
        body,
        secret,
        at,
    )
    .await
}

/// A `block_actions` interaction: Slack user `user` pressed the survey button `answer`
/// on the message `ts` in `channel`.
fn button_press(user: &str, channel: &str, ts: &str, answer: &str, trigger: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": { "id": user, "username": user, "team_id": "T0ACME001" },
        "api_app_id": "A0SLUICE01",
        "container": { "type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false },
        "trigger_id": trigger,
        "team": { "id": "T0ACME001", "domain": "acme" },
        "channel": { "id": channel, "name": "directmessage" },
        "message": { "type": "message", "ts": ts, "bot_id": "B0BOT00001" },
        "response_url": "https://hooks.slack.com/actions/T0ACME001/1/abc",
        "actions": [{
            "action_id": format!("survey_{answer}"), "block_id": "survey", "type": "button",
            "value": json!({ "pr": PR, "answer": answer }).to_string(),
            "action_ts": "1700000100.000100"
        }]
    });
    form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

/// The survey install's state as its last run committed it.
async fn survey_state(h: &Harness, install: &str) -> std::collections::BTreeMap<String, String> {
    h.store
        .install_state(&h.acme.company, install)
        .await
        .expect("the install's state")
}

/// Acme's install of the survey against `slack`, with its bot token; its id.
async fn install_survey(h: &Harness, slack: &FakeSlack) -> String {
    h.install_talking_to_slack(
        "survey",
        json!({ "slack_api_base_url": slack.url(), "leaderboard_channel": "C00000001" }),
        slack.port(),
        SLACK_TOKEN,
    )
    .await
}

/// Sets an install's hook secret for `source` as acme's owner; the answer.
async fn set_hook_secret(h: &Harness, install: &str, source: &str, value: Option<&str>) -> Answer {
    let company = &h.acme.company;
    h.call(
        Method::PUT,
        &format!("/api/companies/{company}/installs/{install}/hooks/{source}/secret"),
        Some(&h.acme.token),
        Some(match value {
            Some(value) => json!({ "value": value }),
            None => json!({}),
        }),
    )
    .await
}

/// Acme's runs, newest first.
async fn runs(h: &Harness) -> Vec<Value> {
    let company = &h.acme.company;
    h.get(&format!("/api/companies/{company}/runs"))
        .await
        .json()["items"]
        .as_array()
        .expect("items")
        .clone()
}

/// Waits for the run a delivery became and checks it succeeded as a webhook run.
async fn delivered_run(h: &Harness, answer: &Answer) -> Value {
    let routed = answer.json()["runs"].clone();
    let routed = routed.as_array().expect("the runs it became");
    assert_eq!(routed.len(), 1, "{}: {}", h.label, answer.text());
    let run = routed[0]["run_id"].as_str().expect("a run id");
    let run = h.finished_run(&h.acme.company, &h.acme.token, run).await;
    assert_eq!(run["status"], "succeeded", "{}: {run}", h.label);
    assert_eq!(run["trigger"], "webhook");
    run
}

/// Acme's records of `stream` of `install`, by key.
async fn records(h: &Harness, install: &str, stream: &str) -> serde_json::Map<String, Value> {
    let company = &h.acme.company;
    let page = h
        .get(&format!(
            "/api/companies/{company}/records?install={install}&stream={stream}"
        ))
        .await
        .json();
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["key"].as_str().expect("key").to_owned(),
                r["data"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn github_deliveries_are_verified_kept_once_and_queued_for_the_installs_that_handle_them() {
    async fn test(h: &Harness) {
        let label = h.label;
        let company = &h.acme.company;
        let slack = FakeSlack::start(SLACK_TOKEN).await.expect("fake Slack");
        let install = install_survey(h, &slack).await;

        // No secret yet: refused, saying how to set one; nothing queued.
        let early = github_delivery(h, &install, "ping", "d-0", "{}", Some("guess")).await;
        assert_eq!(early.status, StatusCode::UNAUTHORIZED, "{label}");
        assert!(
            early.text().contains("no signing secret yet"),
            "{}",
            early.text()
        );

        // An admin generates the secret: shown once, with the hook's path.
        let set = set_hook_secret(h, &install, "github", None).await;
        assert_eq!(set.status, StatusCode::OK, "{label}: {}", set.text());
        let secret = set.json()["secret"]
            .as_str()
            .expect("the secret")
            .to_owned();
        assert_eq!(secret.len(), 64, "32 random bytes as hex");
        assert_eq!(set.json()["hook_path"], format!("/hooks/github/{install}"));
        let listed = h
            .get(&format!("/api/companies/{company}/secrets"))
            .await
            .json();
        assert!(
            listed["items"]
                .as_array()
                .expect("items")
                .iter()
                .any(|s| s["name"] == format!("hooks.github.{install}")),
            "kept as a company secret, so key rotation reseals it: {listed}"
        );

        // A ping is answered at once.
        let ping = github_delivery(
            h,
            &install,
            "ping",
            "d-ping",
            r#"{"zen":"Keep it logically awesome."}"#,
            Some(&secret),
        )
        .await;
        assert_eq!(ping.status, StatusCode::OK, "{label}: {}", ping.text());
        assert_eq!(ping.json()["message"], "pong");

        // A hook set up with GitHub's form content type sends the payload as a field.
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", r#"{"zen":"Design for failure.","hook_id":1}"#)
            .finish();
        let formed = Request::builder()
            .method(Method::POST)
            .uri(format!("/hooks/github/{install}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-github-event", "ping")
            .header("x-github-delivery", "d-form")
            .header(
                "x-hub-signature-256",
                github_signature(secret.as_bytes(), form.as_bytes()),
            )
            .body(Body::from(form))
            .expect("a request");
        let formed = h.send(formed).await;
        assert_eq!(formed.status, StatusCode::OK, "{label}: {}", formed.text());
        let kept = h
            .get(&format!(
                "/api/companies/{company}/deliveries/{}",
                formed.json()["delivery"].as_str().expect("id")
            ))
            .await
            .json();
        assert_eq!(
            kept["payload"]["zen"], "Design for failure.",
            "{label}: {kept}"
        );

        // Wrong secret, changed body, no signature: 401, nothing queued, no body kept.
        let before = runs(h).await.len();
        let wrong = github_delivery(
            h,
            &install,
            "pull_request",
            "d-bad",
            MERGED,
            Some("not the secret"),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{label}");
        assert_eq!(wrong.json()["code"], "bad_signature");
        let mut tampered = github_delivery_request(&install, MERGED, &secret);
        *tampered.body_mut() = Body::from(MERGED.replace("byao1276", "mallory"));
        let tampered = h.send(tampered).await;
        assert_eq!(tampered.status, StatusCode::UNAUTHORIZED, "{label}");
        let unsigned =
            github_delivery(h, &install, "pull_request", "d-unsigned", MERGED, None).await;
        assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED, "{label}");
        assert!(
            unsigned.json()["message"]
                .as_str()
                .expect("message")
                .contains("X-Hub-Signature-256")
        );
        assert_eq!(
            runs(h).await.len(),
            before,
            "{label}: a refused delivery queues nothing"
        );

        // The merged pull request becomes one run of the survey, which handles it.
        let merged = github_delivery(
            h,
            &install,
            "pull_request",
            "884a8280-101a-11ea-9c80-7ce4e70c2e4e",
            MERGED,
            Some(&secret),
        )
        .await;
        assert_eq!(
            merged.status,
            StatusCode::ACCEPTED,
            "{label}: {}",
            merged.text()
        );
        let run = delivered_run(h, &merged).await;
        assert_eq!(run["event_kind"], "github.pull_request");

        // GitHub's retry of the same delivery is answered 200 and processed once.
        let again = github_delivery(
            h,
            &install,
            "pull_request",
            "884a8280-101a-11ea-9c80-7ce4e70c2e4e",
            MERGED,
            Some(&secret),
        )
        .await;
        assert_eq!(again.status, StatusCode::OK, "{label}: {}", again.text());
        assert_eq!(again.json()["duplicate"], true);
        assert_eq!(
            runs(h).await.len(),
            before + 1,
            "{label}: one run for two deliveries"
        );

        // An event nobody handles is kept, unrouted.
        let push = github_delivery(
            h,
            &install,
            "push",
            "d-push",
            r#"{"ref":"refs/heads/main"}"#,
            Some(&secret),
        )
        .await;
        assert_eq!(
            push.status,
            StatusCode::ACCEPTED,
            "{label}: {}",
            push.text()
        );
        assert_eq!(push.json()["runs"], json!([]));

        // The admin's list: every delivery, refused ones with why and without their body.
        let list = h
            .get(&format!(
                "/api/companies/{company}/deliveries?install={install}"
            ))
            .await;
        assert_eq!(list.status, StatusCode::OK, "{label}: {}", list.text());
        let items = list.json()["items"].as_array().expect("items").clone();
        let mut statuses: Vec<&str> = items
            .iter()
            .map(|d| d["status"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(statuses[0], "unrouted", "{label}: newest first: {items:?}");
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [
                "answered", "answered", "refused", "refused", "refused", "refused", "routed",
                "unrouted"
            ],
            "{label}: {items:?}"
        );
        let refused = items
            .iter()
            .find(|d| {
                d["refusal"]
                    .as_str()
                    .is_some_and(|r| r.contains("no `X-Hub-Signature-256` header"))
            })
            .unwrap_or_else(|| panic!("the unsigned delivery's refusal says why: {items:?}"));
        let refused = h
            .get(&format!(
                "/api/companies/{company}/deliveries/{}",
                refused["id"].as_str().expect("id")
            ))
            .await
            .json();
        assert!(
            refused.get("payload").is_none(),
            "a refused delivery keeps no body: {refused}"
        );
        let routed = items
            .iter()
            .find(|d| d["status"] == "routed")
            .expect("the merged delivery");
        assert_eq!(routed["kind"], "github.pull_request");
        assert_eq!(
            routed["external_id"],
            "884a8280-101a-11ea-9c80-7ce4e70c2e4e"
        );
        assert_eq!(routed["routed"][0]["run_id"], run["id"]);
        let one = h
            .get(&format!(
                "/api/companies/{company}/deliveries/{}",
                routed["id"].as_str().expect("id")
            ))
            .await
            .json();
        assert_eq!(one["payload"]["pull_request"]["merged"], true, "{label}");
        assert_eq!(
            one["routed"][0]["status"], "succeeded",
            "{label}: the delivery's result: {one}"
        );

        // An admin replays it: a new delivery naming the old, a new run; the survey
        // does not message anyone twice.
        let dms = slack.posted().len();
        let replay = h
            .call(
                Method::POST,
                &format!(
                    "/api/companies/{company}/deliveries/{}/replay",
                    routed["id"].as_str().expect("id")
                ),
                Some(&h.acme.token),
                None,
            )
            .await;
        assert_eq!(
            replay.status,
            StatusCode::ACCEPTED,
            "{label}: {}",
            replay.text()
        );
        let replayed = delivered_run(h, &replay).await;
        assert_ne!(replayed["id"], run["id"]);
        assert_eq!(
            slack.posted().len(),
            dms,
            "{label}: a pull request is surveyed once"
        );
        let audit = h.audit_actions(company).await;
        assert!(
            audit.contains(&"hook.secret.put".to_owned())
                && audit.contains(&"delivery.replay".to_owned()),
            "{audit:?}"
        );

        // Another company's admin sees none of it.
        let foreign = h
            .call(
                Method::GET,
                &format!(
                    "/api/companies/{}/deliveries?install={install}",
                    h.globex.company
                ),
                Some(&h.globex.token),
                None,
            )
            .await;
        assert_eq!(foreign.json()["items"], json!([]), "{label}");
        let stolen = h
            .call(
                Method::GET,
                &format!("/api/companies/{company}/deliveries"),
                Some(&h.globex.token),
                None,
            )
            .await;
        assert_eq!(stolen.status, StatusCode::NOT_FOUND);

        // Every install of the company that handles the event gets a run of it.
        let second = h
            .install_of_acme(json!({
                "plugin": "survey",
                "config": { "slack_api_base_url": slack.url() },
                "grants": {
                    "private_hosts": [format!("127.0.0.1:{}", slack.port())],
                    "secrets": { "slack_bot_token": "slack-bot" }
                }
            }))
            .await;
        let fanned = github_delivery(
            h,
            &install,
            "pull_request",
            "d-fan-out",
            MERGED,
            Some(&secret),
        )
        .await;
        assert_eq!(
            fanned.status,
            StatusCode::ACCEPTED,
            "{label}: {}",
            fanned.text()
        );
        let mut handled: Vec<String> = Vec::new();
        for routed in fanned.json()["runs"].as_array().expect("runs") {
            let run = h
                .finished_run(
                    company,
                    &h.acme.token,
                    routed["run_id"].as_str().expect("id"),
                )
                .await;
            assert_eq!(run["status"], "succeeded", "{label}: {run}");
            handled.push(run["install_id"].as_str().expect("install").to_owned());
        }
        handled.sort();
        let mut expected = vec![install.clone(), second];
        expected.sort();
        assert_eq!(handled, expected, "{label}");

        // Forged requests cannot grow the table: an install keeps its newest refusals only.
        for n in 0..sluice::store::REFUSALS_KEPT + 5 {
            h.store
                .refuse_delivery(
                    company,
                    &install,
                    "github",
                    Some(&format!("flood-{n}")),
                    "the signature does not match the body",
                )
                .await
                .expect("refused");
        }
        let mut refusals = 0;
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(after) => format!(
                    "/api/companies/{company}/deliveries?install={install}&limit=500&after={after}"
                ),
                None => format!("/api/companies/{company}/deliveries?install={install}&limit=500"),
            };
            let page = h.get(&path).await.json();
            refusals += page["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter(|d| d["status"] == "refused")
                .count();
            match page["next"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(
            refusals,
            usize::try_from(sluice::store::REFUSALS_KEPT).expect("small"),
            "{label}"
        );

        // A hook of an install that does not exist is a 404 and keeps nothing.
        let nowhere = github_delivery(h, "inst_missing", "ping", "d-x", "{}", Some(&secret)).await;
        assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    }
    on_every_database!(test);
}

/// A `pull_request` delivery of `body` to `install`'s hook, signed with `secret`.
fn github_delivery_request(install: &str, body: &str, secret: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(format!("/hooks/github/{install}"))
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", "d-tampered")
        .header(
            "x-hub-signature-256",
            github_signature(secret.as_bytes(), body.as_bytes()),
        )
        .body(Body::from(body.to_owned()))
        .expect("a request")
}

#[tokio::test]
async fn slack_requests_are_verified_within_five_minutes_and_url_checks_answered() {
    async fn test(h: &Harness) {
        let label = h.label;
        let slack = FakeSlack::start(SLACK_TOKEN).await.expect("fake Slack");
        let install = install_survey(h, &slack).await;
        let none = set_hook_secret(h, &install, "slack", None).await;
        assert_eq!(
            none.status,
            StatusCode::BAD_REQUEST,
            "Slack issues its own secret"
        );
        let set = set_hook_secret(h, &install, "slack", Some(SIGNING_SECRET)).await;
        assert_eq!(set.status, StatusCode::OK, "{label}: {}", set.text());
        assert_eq!(
            set.json()["secret"],
            Value::Null,
            "a given secret is not shown back"
        );

        // Slack's URL check is answered with its challenge.
        let check = json!({ "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification" }).to_string();
        let answer = slack_request(
            h,
            &install,
            "events",
            "application/json",
            &check,
            SIGNING_SECRET,
            now_secs(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{label}: {}", answer.text());
        assert_eq!(
            answer.json()["challenge"],
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        );

        // An event is kept once per event_id, even when Slack retries it.
        let event = json!({
            "token": "x", "team_id": "T0ACME001", "api_app_id": "A0SLUICE01", "type": "event_callback",
            "event_id": "Ev0PV52K25", "event_time": 1_700_000_000,
            "event": { "type": "app_mention", "user": "U00000001", "text": "<@U0BOT00001> hello", "ts": "1700000000.000100", "channel": "C00000001" }
        })
        .to_string();
        let first = slack_request(
            h,
            &install,
            "events",
            "application/json",
            &event,
            SIGNING_SECRET,
            now_secs(),
        )
        .await;
        assert_eq!(first.status, StatusCode::OK, "{label}: {}", first.text());
        assert_eq!(
            first.json()["runs"],
            json!([]),
            "nothing handles slack.app_mention"
        );
        let retry = slack_request(
            h,
            &install,
            "events",
            "application/json",
            &event,
            SIGNING_SECRET,
            now_secs(),
        )
        .await;
        assert_eq!(retry.json()["duplicate"], true, "{label}: {}", retry.text());

        // Six minutes late or early (past the five-minute window however long the request
        // takes to arrive; the window's edges are the signature's unit tests), another
        // secret, or a changed body: 401, nothing kept.
        let before = runs(h).await.len();
        let press = button_press(
            "U00000001",
            "D00000001",
            "1700000000.000001",
            "most",
            "t-late",
        );
        for at in [now_secs() - 360, now_secs() + 360] {
            let stale = interaction(h, &install, &press, SIGNING_SECRET, at).await;
            assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "{label}");
            assert!(stale.text().contains("may be a replay"), "{}", stale.text());
        }
        let wrong = interaction(h, &install, &press, "another-signing-secret", now_secs()).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{label}");
        let at = now_secs();
        let mut changed = Request::builder()
            .method(Method::POST)
            .uri(format!("/hooks/slack/{install}/interactions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", at.to_string())
            .header(
                "x-slack-signature",
                slack_signature(SIGNING_SECRET.as_bytes(), at, press.as_bytes()),
            )
            .body(Body::from(press.replace("most", "none")))
            .expect("a request");
        changed.headers_mut().remove("content-length");
        assert_eq!(
            h.send(changed).await.status,
            StatusCode::UNAUTHORIZED,
            "{label}"
        );
        assert_eq!(runs(h).await.len(), before, "{label}");

        // A body over Slack's cap is a 413 that says the cap.
        let huge = "x".repeat(1024 * 1024 + 1);
        let big = slack_request(
            h,
            &install,
            "events",
            "application/json",
            &huge,
            SIGNING_SECRET,
            now_secs(),
        )
        .await;
        assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE, "{label}");
        assert!(big.text().contains("1 MiB"), "{}", big.text());
    }
    on_every_database!(test);
}

#[tokio::test]
async fn a_merged_pull_request_surveys_its_people_in_slack_reveals_their_answers_and_ranks_them() {
    async fn test(h: &Harness) {
        let label = h.label;
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        let slack = FakeSlack::start(SLACK_TOKEN).await.expect("fake Slack");

        // The directory: four GitHub logins seen by a run; two linked to Slack by an admin.
        let people = h
            .install_of_acme(json!({ "plugin": "people", "config": { "logins": ["byao1276", "ailisp", "octocat"] } }))
            .await;
        assert_eq!(h.run_of_acme(&people).await["status"], "succeeded");
        let directory = h.directory_of_acme(3).await;
        for (login, slack_user) in [("byao1276", "U00000001"), ("ailisp", "U00000002")] {
            let person = directory["items"]
                .as_array()
                .expect("items")
                .iter()
                .find(|p| {
                    p["identities"]
                        .as_array()
                        .expect("identities")
                        .iter()
                        .any(|i| i["id"] == login)
                })
                .unwrap_or_else(|| panic!("{login} in {directory}"));
            let linked = h
                .call(
                    Method::POST,
                    &format!(
                        "/api/companies/{company}/people/{}/identities",
                        person["id"].as_str().expect("id")
                    ),
                    owner,
                    Some(json!({ "system": "slack", "id": slack_user })),
                )
                .await;
            assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
        }

        let survey = install_survey(h, &slack).await;
        let github = set_hook_secret(h, &survey, "github", None).await.json();
        let github = github["secret"].as_str().expect("secret").to_owned();
        assert_eq!(
            set_hook_secret(h, &survey, "slack", Some(SIGNING_SECRET))
                .await
                .status,
            StatusCode::OK
        );

        // Reviews before the merge: ailisp (on Slack), octocat (no Slack identity), hubot
        // (not in the directory), and the author's own comment, which is no review.
        for (n, login) in ["ailisp", "octocat", "hubot", "byao1276"]
            .iter()
            .enumerate()
        {
            let review = github_delivery(
                h,
                &survey,
                "pull_request_review",
                &format!("r-{n}"),
                &review_by(login),
                Some(&github),
            )
            .await;
            assert_eq!(
                review.status,
                StatusCode::ACCEPTED,
                "{label}: {}",
                review.text()
            );
            delivered_run(h, &review).await;
        }
        assert!(
            slack.posted().is_empty(),
            "{label}: nobody is asked before the merge"
        );

        // The merge: the author and the one reviewer on Slack get the survey as DMs.
        let merged = github_delivery(
            h,
            &survey,
            "pull_request",
            "884a8280-101a-11ea-9c80-7ce4e70c2e4e",
            MERGED,
            Some(&github),
        )
        .await;
        delivered_run(h, &merged).await;
        let posted = slack.posted();
        let asked: Vec<&str> = posted
            .iter()
            .map(|m| m["channel"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            asked,
            ["U00000001", "U00000002"],
            "{label}: exactly the matched author and reviewer"
        );
        let author_question = posted[0]["blocks"].to_string();
        assert!(
            author_question.contains("AI-assisted") && author_question.contains("Nearly all"),
            "{author_question}"
        );
        let reviewer_question = posted[1]["blocks"].to_string();
        assert!(
            reviewer_question.contains("How hard was the review?"),
            "{reviewer_question}"
        );
        let messages = slack.messages();
        assert_eq!(messages[0].0, "D00000001");
        assert_eq!(messages[1].0, "D00000002");
        let kept = survey_state(h, &survey).await;
        assert!(
            kept.contains_key(&format!("survey:{PR}"))
                && !kept.contains_key(&format!("reviewers:{PR}")),
            "{label}: the survey awaits answers and names its reviewers: {kept:?}"
        );
        let surveyed = records(h, &survey, "surveys").await;
        let unmatched = surveyed[PR]["unmatched"].to_string();
        assert!(
            unmatched.contains("octocat") && unmatched.contains("no Slack identity"),
            "{label}: {unmatched}"
        );
        assert!(
            unmatched.contains("hubot") && unmatched.contains("not in the company's directory"),
            "{unmatched}"
        );

        // The reviewer answers: kept, the message updated, nothing revealed yet.
        let (reviewer_dm, reviewer_ts) = messages[1].clone();
        let press = button_press(
            "U00000002",
            &reviewer_dm,
            &reviewer_ts,
            "hard",
            "t-reviewer",
        );
        let answered = interaction(h, &survey, &press, SIGNING_SECRET, now_secs()).await;
        assert_eq!(
            answered.status,
            StatusCode::OK,
            "{label}: {}",
            answered.text()
        );
        let run = runs(h)
            .await
            .into_iter()
            .next()
            .expect("the interaction's run");
        let run = h
            .finished_run(company, &h.acme.token, run["id"].as_str().expect("id"))
            .await;
        assert_eq!(run["status"], "succeeded", "{label}: {run}");
        assert_eq!(run["event_kind"], "slack.block_actions");
        assert_eq!(slack.updated().len(), 1);
        assert_eq!(slack.updated()[0]["ts"], reviewer_ts.as_str());
        assert!(
            slack.updated()[0]["blocks"]
                .to_string()
                .contains("You answered *Hard*")
        );
        assert_eq!(
            slack.posted().len(),
            2,
            "{label}: no reveal before the author answers"
        );

        // Slack's retry of the same press is processed once.
        let before = runs(h).await.len();
        let retried = interaction(h, &survey, &press, SIGNING_SECRET, now_secs()).await;
        assert_eq!(
            retried.json()["duplicate"],
            true,
            "{label}: {}",
            retried.text()
        );
        assert_eq!(runs(h).await.len(), before);

        // The author answers: both see every answer in their own thread.
        let (author_dm, author_ts) = messages[0].clone();
        let press = button_press("U00000001", &author_dm, &author_ts, "most", "t-author");
        interaction(h, &survey, &press, SIGNING_SECRET, now_secs()).await;
        let run = runs(h)
            .await
            .into_iter()
            .next()
            .expect("the interaction's run");
        assert_eq!(
            h.finished_run(company, &h.acme.token, run["id"].as_str().expect("id"))
                .await["status"],
            "succeeded"
        );
        let posted = slack.posted();
        assert_eq!(posted.len(), 4, "{label}: two reveals: {posted:?}");
        let mut threads: Vec<(String, String)> = posted[2..]
            .iter()
            .map(|m| {
                (
                    m["channel"].as_str().unwrap_or("").to_owned(),
                    m["thread_ts"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        threads.sort();
        assert_eq!(
            threads,
            [
                (author_dm.clone(), author_ts.clone()),
                (reviewer_dm.clone(), reviewer_ts.clone())
            ]
        );
        let reveal = posted[2]["text"].as_str().expect("text");
        assert!(
            reveal.contains("byao1276 (author)") && reveal.contains("Most"),
            "{reveal}"
        );
        assert!(
            reveal.contains("ailisp (reviewer)") && reveal.contains("Hard"),
            "{reveal}"
        );

        // Everyone asked has answered: the survey's state is let go, its pull request kept
        // in the finished ones.
        let kept = survey_state(h, &survey).await;
        assert!(
            !kept.contains_key(&format!("survey:{PR}")),
            "{label}: {kept:?}"
        );
        assert_eq!(
            kept.get("finished").map(String::as_str),
            Some(format!("[\"{PR}\"]").as_str())
        );

        // The answers are records keyed by pull request and person.
        let responses = records(h, &survey, "survey_responses").await;
        assert_eq!(responses.len(), 2, "{label}: {responses:?}");
        assert_eq!(responses[&format!("{PR}/byao1276")]["answer"], "most");
        assert_eq!(responses[&format!("{PR}/ailisp")]["role"], "reviewer");

        // A second merged delivery of the pull request asks nobody again.
        let again = github_delivery(
            h,
            &survey,
            "pull_request",
            "redelivered-1",
            MERGED,
            Some(&github),
        )
        .await;
        delivered_run(h, &again).await;
        assert_eq!(
            slack.posted().len(),
            4,
            "{label}: surveys never go out twice"
        );

        // The weekly leaderboard (the install's schedule runs a sync) goes to its channel.
        let board = h.run_of_acme(&survey).await;
        assert_eq!(board["status"], "succeeded", "{label}: {board}");
        let posted = slack.posted();
        assert_eq!(posted.len(), 5);
        assert_eq!(posted[4]["channel"], "C00000001");
        let text = posted[4]["text"].as_str().expect("text");
        assert!(text.contains("2 answers this week"), "{text}");
        assert!(
            text.contains("<@U00000001> (byao1276): 1 answer")
                && text.contains("<@U00000002> (ailisp): 1 answer"),
            "{text}"
        );
        let next = h.run_of_acme(&survey).await;
        assert_eq!(
            next["note"],
            "nobody answered a survey since the last leaderboard"
        );
        assert_eq!(
            slack.posted().len(),
            5,
            "{label}: the tally starts again after each leaderboard"
        );
    }
    on_every_database!(test);
}
