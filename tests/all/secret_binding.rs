//! A secret goes only where its manifest binds it: to its hosts, in `Authorization` or its
//! declared header, over HTTPS unless the operator allowed that private host, never through
//! a URL carrying a password; and what the service echoes back reaches the connector
//! redacted, in every encoding the host sent it in.

use base64::Engine as _;
use serde_json::json;
use sluice::egress::Grants;
use sluice::runtime::RunStatus;
use sluice_tests::guests;

use crate::support::{Spy, hosts, load, sync, tight_runtime};

const CANARY: &str = "canary/5f+3a=9c";

/// Runs the hostile guest's `behaviour` against `url`, granted as a private host, with
/// the secret `token` set to [`CANARY`].
async fn hostile(behaviour: &str, url: &str, grant: &str) -> (sluice::runtime::RunOutcome, String) {
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let (outcome, log) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": behaviour, "url": url }),
        Grants {
            hosts: vec![],
            private_hosts: hosts(&[grant]),
            ..Grants::default()
        },
        &[("token", CANARY)],
    )
    .await;
    let text = log.text();
    assert!(!text.contains(CANARY), "{text}");
    (outcome, text)
}

#[tokio::test]
async fn a_secret_is_refused_in_a_header_its_manifest_does_not_declare() {
    let spy = Spy::start().await;
    let (outcome, log) = hostile(
        "secret-in-header",
        &format!("http://127.0.0.1:{}/", spy.port),
        &format!("127.0.0.1:{}", spy.port),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed, "{log}");
    assert!(
        log.contains("secret `token` may be sent only in `authorization` or `x-api-key`, as its manifest declares, not in `x-forwarded-token`"),
        "{log}"
    );
    assert!(spy.hits().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_url_carrying_a_user_and_password_is_refused() {
    let spy = Spy::start().await;
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let url = format!("http://ada:hunter22@127.0.0.1:{}/", spy.port);
    let (outcome, log) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": "fetch", "url": url }),
        Grants {
            hosts: vec![],
            private_hosts: hosts(&[&format!("127.0.0.1:{}", spy.port)]),
            ..Grants::default()
        },
        &[],
    )
    .await;
    let log = log.text();
    assert_eq!(outcome.status, RunStatus::Failed, "{log}");
    assert!(
        log.contains("a URL to `127.0.0.1` carries a user name or password (user:password@host); name a secret with `auth` to send credentials"),
        "{log}"
    );
    assert!(!log.contains("hunter22"), "{log}");
    assert!(spy.hits().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_secret_is_not_sent_over_plain_http_to_a_public_address() {
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    // A public address: refused before any connection, so the test needs no network.
    let (outcome, log) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": "leak-secret", "url": "http://140.82.112.6/echo-auth" }),
        Grants {
            hosts: hosts(&["140.82.112.6"]),
            private_hosts: vec![],
            ..Grants::default()
        },
        &[("token", CANARY)],
    )
    .await;
    let log = log.text();
    assert_eq!(outcome.status, RunStatus::Failed, "{log}");
    assert!(
        log.contains("secret `token` is sent only over HTTPS; `http://140.82.112.6` is plain HTTP, and only to a private host the server's operator allows may a secret go that way"),
        "{log}"
    );
    assert_eq!(outcome.stats.http_requests, 0);
}

#[tokio::test]
async fn an_echoed_secret_reaches_the_connector_redacted_in_every_encoding() {
    let spy = Spy::start().await;
    let grant = format!("127.0.0.1:{}", spy.port);
    let (outcome, log) = hostile(
        "leak-secret",
        &format!("http://127.0.0.1:{}/echo-encodings", spy.port),
        &grant,
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let base64 = base64::engine::general_purpose::STANDARD.encode(CANARY);
    assert_eq!(
        outcome.state.get("echoed").map(String::as_str),
        Some("raw=[redacted] base64=[redacted] url=[redacted]"),
        "the spy answered raw={CANARY} base64={base64} url=canary%2F5f%2B3a%3D9c",
    );
    assert!(
        log.contains("the service echoed: raw=[redacted] base64=[redacted] url=[redacted]"),
        "{log}"
    );
    assert!(
        !log.contains(&base64) && !log.contains("canary%2F5f%2B3a%3D9c"),
        "{log}"
    );

    let (outcome, _) = hostile(
        "leak-basic",
        &format!("http://127.0.0.1:{}/echo-auth", spy.port),
        &grant,
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(
        outcome.state.get("echoed").map(String::as_str),
        Some("Basic [redacted]"),
        "the spy answered Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ada@acme.test:{CANARY}"))
    );
}

#[tokio::test]
async fn credentials_are_dropped_on_a_redirect_to_another_origin() {
    let first = Spy::start().await;
    let other = Spy::start().await;
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let target = format!("http://127.0.0.1:{}/echo-auth", other.port);
    let url = format!("http://127.0.0.1:{}/redirect?to={target}", first.port);
    let (outcome, log) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": "leak-secret", "url": url, "redirect_target": target }),
        Grants {
            private_hosts: hosts(&[
                &format!("127.0.0.1:{}", first.port),
                &format!("127.0.0.1:{}", other.port),
            ]),
            ..Grants::default()
        },
        &[("token", CANARY)],
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{}", log.text());
    let sent = first.requests();
    assert_eq!(
        sent[0].1.get("authorization").and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {CANARY}").as_str()),
        "the origin the connector named gets the credentials"
    );
    let redirected = other.requests();
    assert_eq!(redirected.len(), 1);
    assert_eq!(redirected[0].1.get("authorization"), None);
    assert_eq!(
        outcome.state.get("echoed").map(String::as_str),
        Some("none"),
        "the other origin saw no Authorization"
    );
}

#[tokio::test]
async fn header_basic_and_bearer_credentials_reach_the_upstream_exactly() {
    let spy = Spy::start().await;
    let url = format!("http://127.0.0.1:{}/echo-auth", spy.port);
    let grant = format!("127.0.0.1:{}", spy.port);
    for behaviour in ["auth-header", "leak-basic", "leak-secret"] {
        let (outcome, log) = hostile(behaviour, &url, &grant).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{behaviour}: {log}");
    }
    let received: Vec<(Option<String>, Option<String>)> = spy
        .requests()
        .into_iter()
        .map(|(_, headers)| {
            let text = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            (text("x-api-key"), text("authorization"))
        })
        .collect();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("ada@acme.test:{CANARY}"));
    assert_eq!(
        received,
        [
            (Some(CANARY.to_owned()), None),
            (None, Some(format!("Basic {basic}"))),
            (None, Some(format!("Bearer {CANARY}"))),
        ]
    );
}

#[test]
fn every_encoding_of_a_secret_is_redacted_from_log_lines() {
    use sluice::runtime::{Level, LogWriter, Source};
    let secrets = sluice::secrets::SecretSet::new(
        [("token".to_owned(), CANARY.to_owned())]
            .into_iter()
            .collect(),
    );
    let sink = std::sync::Arc::new(crate::support::Collect::default());
    let writer = LogWriter::new(sink.clone(), secrets.redactor(), 16 << 10, 100, u64::MAX);
    let base64 = base64::engine::general_purpose::STANDARD.encode(CANARY);
    let url_safe = base64::engine::general_purpose::URL_SAFE.encode(CANARY);
    writer.write(
        Level::Info,
        Source::Plugin,
        &format!("raw {CANARY} base64 {base64} url-safe {url_safe} url canary%2F5f%2B3a%3D9c"),
        vec![("echo".to_owned(), base64.clone())],
    );
    assert_eq!(
        sink.text(),
        "[plugin] raw [redacted] base64 [redacted] url-safe [redacted] url [redacted] echo=[redacted]\n"
    );
}
