//! Private reach belongs to the server's operator: through the API, a company's admin
//! cannot make the host contact a private or cloud metadata address the operator did not
//! allow, neither when installing nor when a run goes out; an operator-allowed private host
//! still works end to end; a connector cannot send a granted secret to another granted host,
//! and an admin may narrow where a secret goes but not widen it.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sluice::egress::PrivateReach;
use sluice::store::{InstallGrants, NewInstall};
use sluice_tests::fakes::github::FakeGitHub;

use crate::harness::{Harness, on_every_database};
use crate::support::Spy;

const TOKEN: &str = "ghp_operator-canary-7d21";

/// Sets acme's company secret `github-token`.
async fn put_token(h: &Harness) {
    let put = h
        .call(
            Method::PUT,
            &format!("/api/companies/{}/secrets/github-token", h.acme.company),
            Some(&h.acme.token),
            Some(json!({ "value": TOKEN })),
        )
        .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text());
}

/// Installs GitHub in acme with this configuration and grants; the answer.
async fn install_github(h: &Harness, config: Value, grants: Value) -> crate::harness::Answer {
    h.call(
        Method::POST,
        &format!("/api/companies/{}/installs", h.acme.company),
        Some(&h.acme.token),
        Some(json!({ "plugin": "github", "config": config, "grants": grants })),
    )
    .await
}

/// Runs an install of acme's to its end; the run and its log, one line per entry.
async fn run_to_end(h: &Harness, install: &str) -> (Value, String) {
    let company = &h.acme.company;
    let run = h.run_of_acme(install).await;
    let id = run["id"].as_str().expect("a run id");
    let log = h
        .get(&format!("/api/companies/{company}/runs/{id}/logs"))
        .await
        .json();
    let lines = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| l["message"].as_str().unwrap_or_default().to_owned() + "\n")
        .collect();
    (run, lines)
}

/// Writes an install straight to the store, as one granted before the operator's rule
/// existed (or before the operator narrowed the list) would be: only the run's egress
/// stands between it and the address.
async fn stored_install(h: &Harness, config: Value, private_host: &str) -> String {
    let install = h
        .store
        .create_install(
            &h.acme.company,
            NewInstall {
                plugin: "github".into(),
                version: "0.1.0".into(),
                config,
                grants: InstallGrants {
                    hosts: vec![],
                    private_hosts: vec![private_host.to_owned()],
                    secrets: [("github_token".to_owned(), "github-token".to_owned())].into(),
                    ..InstallGrants::default()
                },
            },
        )
        .await
        .expect("an install in the store");
    install.id
}

#[tokio::test]
async fn a_company_admin_cannot_point_github_at_the_metadata_address() {
    async fn test(h: &Harness) {
        put_token(h).await;
        let metadata = json!({ "org": "acme", "api_base_url": "http://169.254.169.254/latest" });
        let secrets = json!({ "github_token": "github-token" });
        let refused = install_github(
            h,
            metadata.clone(),
            json!({ "private_hosts": ["169.254.169.254"], "secrets": secrets }),
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            h.label
        );
        assert_eq!(
            refused.json()["message"],
            "grants.private_hosts: `169.254.169.254` is a cloud metadata address; only the server's operator can allow it, by naming that address exactly (sluice serve --allow-private 169.254.169.254:80); a range does not cover it"
        );
        let refused = install_github(
            h,
            metadata.clone(),
            json!({ "hosts": ["169.254.169.254"], "secrets": secrets }),
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            refused.json()["message"],
            "grants.hosts: `169.254.169.254` is a link-local (includes the cloud metadata service 169.254.169.254) address; a private address is reached only as a private host (grants.private_hosts) that the server's operator allows (sluice serve --allow-private 169.254.169.254)"
        );

        // An existing install cannot be changed to point there either.
        let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
        let grant = format!("127.0.0.1:{}", fake.port());
        let good = install_github(
            h,
            json!({ "org": "acme", "api_base_url": fake.url() }),
            json!({ "private_hosts": [grant], "secrets": secrets }),
        )
        .await;
        assert_eq!(good.status, StatusCode::CREATED, "{}", good.text());
        let id = good.json()["id"].as_str().expect("id").to_owned();
        let changed = h
            .call(
                Method::PATCH,
                &format!("/api/companies/{}/installs/{id}", h.acme.company),
                Some(&h.acme.token),
                Some(json!({
                    "config": metadata,
                    "grants": { "private_hosts": ["169.254.169.254:80"], "secrets": secrets },
                })),
            )
            .await;
        assert_eq!(changed.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            changed.json()["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(
                    "grants.private_hosts: `169.254.169.254:80` is a cloud metadata address"
                )),
            "{}",
            changed.text()
        );

        // Granted anyway (before this rule), the run's request is refused before it leaves.
        let stored = stored_install(h, metadata, "169.254.169.254").await;
        let (run, log) = run_to_end(h, &stored).await;
        assert_eq!(run["status"], "failed", "{}: {run}", h.label);
        assert!(
            log.contains("`169.254.169.254` is a cloud metadata address; only the server's operator can allow it, by naming that address exactly (sluice serve --allow-private 169.254.169.254:80); a range does not cover it"),
            "{}: {log}",
            h.label
        );
        assert!(!log.contains(TOKEN), "{log}");
    }
    on_every_database!(test);
}

#[tokio::test]
async fn a_companys_private_grant_alone_does_not_reach_loopback() {
    async fn test(h: &Harness) {
        put_token(h).await;
        let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
        let port = fake.port();
        let config = json!({ "org": "acme", "api_base_url": fake.url() });
        let refused = install_github(
            h,
            config.clone(),
            json!({ "private_hosts": [format!("127.0.0.1:{port}")], "secrets": { "github_token": "github-token" } }),
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            h.label
        );
        assert_eq!(
            refused.json()["message"],
            format!(
                "grants.private_hosts: `127.0.0.1:{port}` is a loopback address; only the server's operator can allow it (sluice serve --allow-private 127.0.0.1:{port}); a company's private grant alone does not"
            )
        );

        let stored = stored_install(h, config, &format!("127.0.0.1:{port}")).await;
        let (run, log) = run_to_end(h, &stored).await;
        assert_eq!(run["status"], "failed", "{}: {run}", h.label);
        assert!(
            log.contains(&format!("`127.0.0.1` is a loopback address; only the server's operator can allow it (sluice serve --allow-private 127.0.0.1:{port}); a company's private grant alone does not")),
            "{}: {log}",
            h.label
        );
        assert!(fake.requests().is_empty(), "nothing reached the fake");
    }
    on_every_database!(test, allowing PrivateReach::none());
}

#[tokio::test]
async fn an_operator_allowed_private_host_works_end_to_end() {
    async fn test(h: &Harness) {
        put_token(h).await;
        let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
        let installed = install_github(
            h,
            json!({ "org": "acme", "api_base_url": fake.url() }),
            json!({ "private_hosts": [format!("127.0.0.1:{}", fake.port())], "secrets": { "github_token": "github-token" } }),
        )
        .await;
        assert_eq!(
            installed.status,
            StatusCode::CREATED,
            "{}",
            installed.text()
        );
        let id = installed.json()["id"].as_str().expect("id").to_owned();
        let (run, log) = run_to_end(h, &id).await;
        assert_eq!(run["status"], "succeeded", "{}: {run}\n{log}", h.label);
        assert!(
            fake.requests()
                .iter()
                .any(|r| r.contains("/orgs/acme/members")),
            "{:?}",
            fake.requests()
        );
    }
    on_every_database!(test, allowing PrivateReach::parse(["127.0.0.0/8"]).expect("a range"));
}

#[tokio::test]
async fn a_connector_cannot_send_its_secret_to_another_granted_host() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let put = h
            .call(
                Method::PUT,
                &format!("/api/companies/{company}/secrets/hostile-token"),
                Some(&h.acme.token),
                Some(json!({ "value": TOKEN })),
            )
            .await;
        assert_eq!(put.status, StatusCode::CREATED);
        let bound = Spy::start().await;
        let other = Spy::start().await;
        let installed = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs"),
                Some(&h.acme.token),
                Some(json!({
                    "plugin": "hostile",
                    "config": {
                        "behaviour": "misdirect-secret",
                        "url": format!("http://127.0.0.1:{}/", bound.port),
                        "redirect_target": format!("http://127.0.0.1:{}/echo-auth", other.port),
                    },
                    "grants": {
                        "private_hosts": [format!("127.0.0.1:{}", bound.port), format!("127.0.0.1:{}", other.port)],
                        "secrets": { "token": "hostile-token" },
                    },
                })),
            )
            .await;
        assert_eq!(
            installed.status,
            StatusCode::CREATED,
            "{}",
            installed.text()
        );
        let id = installed.json()["id"].as_str().expect("id").to_owned();
        let (run, log) = run_to_end(h, &id).await;
        assert_eq!(run["status"], "failed", "{}: {run}", h.label);
        assert!(
            log.contains(&format!(
                "secret `token` may be sent only to the hosts it is bound to (127.0.0.1:{}), not to `127.0.0.1:{}`",
                bound.port, other.port
            )),
            "{}: {log}",
            h.label
        );
        assert!(other.hits().is_empty(), "nothing reached the other host");
    }
    on_every_database!(test);
}

#[tokio::test]
async fn an_install_may_narrow_where_a_secret_goes_but_not_widen_it() {
    async fn test(h: &Harness) {
        put_token(h).await;
        let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
        let port = fake.port();
        let grants = |secret_hosts: Value| {
            json!({
                "private_hosts": [format!("127.0.0.1:{port}")],
                "secrets": { "github_token": "github-token" },
                "secret_hosts": { "github_token": secret_hosts },
            })
        };
        let config = json!({ "org": "acme", "api_base_url": fake.url() });
        let widened = install_github(h, config.clone(), grants(json!(["evil.example"]))).await;
        assert_eq!(
            widened.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            h.label
        );
        assert_eq!(
            widened.json()["message"],
            format!(
                "grants.secret_hosts.github_token: `evil.example` is not a host the `github` connector binds `github_token` to under this configuration; it binds it to: api.github.com, 127.0.0.1:{port}"
            )
        );

        let narrowed = install_github(h, config, grants(json!(["api.github.com"]))).await;
        assert_eq!(narrowed.status, StatusCode::CREATED, "{}", narrowed.text());
        assert_eq!(
            narrowed.json()["grants"]["secret_hosts"],
            json!({ "github_token": ["api.github.com"] })
        );
        let id = narrowed.json()["id"].as_str().expect("id").to_owned();
        let (run, log) = run_to_end(h, &id).await;
        assert_eq!(run["status"], "failed", "{}: {run}", h.label);
        assert!(
            log.contains(&format!("secret `github_token` may be sent only to the hosts it is bound to (api.github.com), not to `127.0.0.1:{port}`")),
            "{}: {log}",
            h.label
        );
        assert!(fake.requests().is_empty(), "the token went nowhere");
    }
    on_every_database!(test);
}

#[tokio::test]
async fn serve_refuses_an_allow_private_value_that_is_neither_a_cidr_nor_a_host_port() {
    let output = crate::support::sluice(
        ["serve", "--allow-private", "10.0.0.0/33"]
            .map(str::to_owned)
            .to_vec(),
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`10.0.0.0/33` is not a private destination: invalid IP address syntax; expected a CIDR such as 10.0.0.0/8, an address, or HOST:PORT such as gitlab.internal:443"),
        "{stderr}"
    );
}
