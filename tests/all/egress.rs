//! A connector that reaches for addresses it was not granted is refused with a message
//! that says why and how to grant it, and nothing reaches the target.

use serde_json::json;
use sluice::egress::Grants;
use sluice::runtime::RunStatus;
use sluice_tests::guests;

use crate::support::{Spy, hosts, load, sync, tight_runtime};

/// Runs `fetch` of `url`, granting it as a public host, and returns the run's log.
async fn fetch_granted_public(url: &str, grant: &str) -> String {
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let grants = Grants {
        hosts: hosts(&[grant]),
        private_hosts: vec![],
        ..Grants::default()
    };
    let (outcome, log) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": "fetch", "url": url }),
        grants,
        &[],
    )
    .await;
    assert_eq!(
        outcome.status,
        RunStatus::Failed,
        "the request must not succeed"
    );
    let error = outcome.error.expect("an error").to_string();
    assert!(error.starts_with("configuration error: "), "{error}");
    log.text()
}

#[tokio::test]
async fn loopback_without_a_private_grant_is_refused() {
    let spy = Spy::start().await;
    let port = spy.port;
    let log = fetch_granted_public(
        &format!("http://127.0.0.1:{port}/"),
        &format!("127.0.0.1:{port}"),
    )
    .await;
    assert!(
        log.contains(&format!("`127.0.0.1` is a loopback address; connectors reach non-public addresses only when the server's operator allows them (sluice serve --allow-private 127.0.0.1:{port}) and an admin grants that exact host as private")),
        "{log}"
    );
    assert!(spy.hits().is_empty(), "nothing reached the spy");
}

#[tokio::test]
async fn odd_spellings_of_loopback_are_refused() {
    let spy = Spy::start().await;
    let port = spy.port;
    for spelling in ["0x7f000001", "2130706433", "127.1"] {
        let log = fetch_granted_public(
            &format!("http://{spelling}:{port}/"),
            &format!("127.0.0.1:{port}"),
        )
        .await;
        assert!(
            log.contains("`127.0.0.1` is a loopback address"),
            "{spelling}: {log}"
        );
    }
    assert!(spy.hits().is_empty());
}

#[tokio::test]
async fn ipv6_loopback_and_mapped_forms_are_refused() {
    let log = fetch_granted_public("http://[::1]:9/", "[::1]:9").await;
    assert!(log.contains("`[::1]` is a loopback address"), "{log}");
    let log = fetch_granted_public("http://[::ffff:127.0.0.1]:9/", "[::ffff:7f00:1]:9").await;
    assert!(
        log.contains("IPv4-mapped form of a non-public IPv4 address"),
        "{log}"
    );
}

#[tokio::test]
async fn the_cloud_metadata_address_is_refused() {
    let log = fetch_granted_public(
        "http://169.254.169.254/latest/meta-data/",
        "169.254.169.254",
    )
    .await;
    assert!(
        log.contains("link-local (includes the cloud metadata service 169.254.169.254)"),
        "{log}"
    );
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused() {
    let spy = Spy::start().await;
    let port = spy.port;
    let log = fetch_granted_public(
        &format!("http://localhost:{port}/"),
        &format!("localhost:{port}"),
    )
    .await;
    assert!(
        log.contains("`localhost` resolves to 127.0.0.1, a loopback address"),
        "{log}"
    );
    assert!(spy.hits().is_empty());
}

#[tokio::test]
async fn an_allowed_host_that_redirects_inward_is_stopped_at_the_hop() {
    let allowed = Spy::start().await;
    let inner = Spy::start().await;
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let target = format!("http://localhost:{}/internal", inner.port);
    let url = format!("http://127.0.0.1:{}/redirect?to={target}", allowed.port);
    let grants = Grants {
        hosts: hosts(&[&format!("localhost:{}", inner.port)]),
        private_hosts: hosts(&[&format!("127.0.0.1:{}", allowed.port)]),
        ..Grants::default()
    };
    let config = json!({ "behaviour": "fetch", "url": url, "redirect_target": target });
    let (outcome, log) = sync(&runtime, &plugin, config, grants, &[]).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(
        log.text()
            .contains("`localhost` resolves to 127.0.0.1, a loopback address"),
        "{}",
        log.text()
    );
    assert_eq!(allowed.hits().len(), 1, "the first hop went out");
    assert!(inner.hits().is_empty(), "the redirect inward did not");
}

#[tokio::test]
async fn hosts_not_granted_or_not_requested_are_refused() {
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let (_, log) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": "fetch", "url": "https://public.example/" }),
        Grants::default(),
        &[],
    )
    .await;
    assert!(
        log.text().contains("`public.example` was not granted to this install; an admin grants it with `--allow-host public.example`"),
        "{}",
        log.text()
    );
    // A granted host that the manifest never requested, reached through a redirect.
    let spy = Spy::start().await;
    let url = format!(
        "http://127.0.0.1:{}/redirect?to=https://unrequested.example/",
        spy.port
    );
    let grants = Grants {
        hosts: hosts(&["unrequested.example"]),
        private_hosts: hosts(&[&format!("127.0.0.1:{}", spy.port)]),
        ..Grants::default()
    };
    let (_, log) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": "fetch", "url": url }),
        grants,
        &[],
    )
    .await;
    assert!(
        log.text().contains(
            "`unrequested.example` is not among the hosts this connector's manifest requests"
        ),
        "{}",
        log.text()
    );
}

#[tokio::test]
async fn a_short_rate_limit_is_waited_out() {
    let spy = Spy::start().await;
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let url = format!("http://127.0.0.1:{}/limited-once", spy.port);
    let grants = Grants {
        hosts: vec![],
        private_hosts: hosts(&[&format!("127.0.0.1:{}", spy.port)]),
        ..Grants::default()
    };
    let (outcome, log) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": "fetch", "url": url }),
        grants,
        &[],
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert!(log.text().contains("fetched: status 200"), "{}", log.text());
    assert_eq!(spy.hits().len(), 2, "asked, waited, asked again");
    assert_eq!(outcome.stats.http_requests, 2);
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_run_ends_it_rate_limited_keeping_its_output() {
    let spy = Spy::start().await;
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let url = format!("http://127.0.0.1:{}/limited", spy.port);
    let grants = Grants {
        hosts: vec![],
        private_hosts: hosts(&[&format!("127.0.0.1:{}", spy.port)]),
        ..Grants::default()
    };
    let (outcome, _) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": "fetch", "url": url }),
        grants,
        &[],
    )
    .await;
    assert_eq!(outcome.status, RunStatus::RateLimited);
    assert!(
        outcome.keeps_output(),
        "records and cursor so far are committed"
    );
    assert_eq!(
        outcome.error.map(|e| e.to_string()).as_deref(),
        Some(
            "rate limited: the service asks to wait 3600 s; the run ends keeping its cursor and will be retried"
        )
    );
    assert_eq!(spy.hits().len(), 1, "no retry when the wait does not fit");
}

#[tokio::test]
async fn a_connectors_own_credential_host_and_proxy_headers_are_refused() {
    let spy = Spy::start().await;
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let url = format!("http://127.0.0.1:{}/", spy.port);
    let grants = || Grants {
        private_hosts: hosts(&[&format!("127.0.0.1:{}", spy.port)]),
        ..Grants::default()
    };
    let credentials = "carries credentials, which only the host injects; name a secret with `auth` to send credentials";
    for (name, refusal) in [
        ("Authorization", credentials),
        ("Cookie", credentials),
        ("Proxy-Authorization", credentials),
        ("Host", "is set by the host"),
        ("Proxy-Connection", "is set by the host"),
    ] {
        let config = json!({
            "behaviour": "own-header", "url": url,
            "header_name": name, "header_value": "Bearer stolen",
        });
        let (outcome, log) = sync(&runtime, &plugin, config, grants(), &[]).await;
        let message = format!("header `{name}` {refusal}");
        assert_eq!(
            outcome.error.map(|e| e.to_string()),
            Some(format!("configuration error: {message}"))
        );
        assert!(
            log.text()
                .contains(&format!("GET {url}: denied: {message}\n")),
            "{}",
            log.text()
        );
    }
    assert!(spy.hits().is_empty(), "nothing was sent");

    let config = json!({
        "behaviour": "own-header", "url": url,
        "header_name": "X-Trace", "header_value": "abc",
    });
    let (outcome, _) = sync(&runtime, &plugin, config, grants(), &[]).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let sent = spy.requests();
    assert_eq!(
        sent[0].1.get("x-trace").and_then(|v| v.to_str().ok()),
        Some("abc"),
        "a header of the connector's own goes out as it was set"
    );
}

#[test]
fn a_host_that_would_read_back_as_a_wildcard_is_refused() {
    use sluice::egress::HostPattern;
    // Found by the `host_pattern` fuzz target: `*%2E` decoded to `*.`, which printed as
    // a wildcard, so a stored grant of one host would have read back as every subdomain.
    for (pattern, reason) in [
        (
            "*%2Eexample.com",
            "expected a host with an optional port, nothing else",
        ),
        (
            "\u{ff0a}.example.com",
            "`*` may only begin a wildcard, as in `*.example.com`",
        ),
        (
            "*.\u{ff0a}.example.com",
            "`*` may only begin a wildcard, as in `*.example.com`",
        ),
    ] {
        let refused = HostPattern::parse(pattern).expect_err(pattern).to_string();
        assert_eq!(refused, format!("`{pattern}` is not a host: {reason}"));
    }
    let wildcard = HostPattern::parse("*.example.com").expect("a wildcard");
    assert!(wildcard.is_wildcard());
    assert_eq!(wildcard.to_string(), "*.example.com");
}
