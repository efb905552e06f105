//! The REST API through the router without a socket, on SQLite and (when its URL is set)
//! PostgreSQL: sign-in, roles, secrets, installs, runs, records and logs, bad input, the
//! OpenAPI document, and the cross-tenant matrix.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Answer, Harness, on_every_database};

/// A browser's session: its cookie, and the CSRF token its changes carry.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

pub(crate) fn session_of(answer: &Answer) -> Session {
    let set = answer
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_owned();
    Session {
        cookie: set.split(';').next().expect("name=value").to_owned(),
        csrf: answer.json()["csrf_token"]
            .as_str()
            .expect("a CSRF token")
            .to_owned(),
    }
}

pub(crate) async fn with_cookie(
    h: &Harness,
    method: Method,
    path: &str,
    session: &Session,
    body: Option<Value>,
) -> Answer {
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map_or_else(axum::body::Body::empty, |b| {
        axum::body::Body::from(b.to_string())
    });
    h.send(request.body(body).expect("request")).await
}

pub(crate) async fn login(h: &Harness, email: &str, password: &str) -> Answer {
    h.call(
        Method::POST,
        "/api/login",
        None,
        Some(json!({ "email": email, "password": password })),
    )
    .await
}

#[tokio::test]
async fn a_one_time_password_signs_in_once_then_the_session_cookie_carries_the_person() {
    async fn test(h: &Harness) {
        let first = login(h, "Ada@Acme.test", &h.acme.password).await;
        assert_eq!(
            first.status,
            StatusCode::OK,
            "{}: {}",
            h.label,
            first.text()
        );
        assert_eq!(first.json()["must_set_password"], true);
        let set_cookie = first.headers["set-cookie"].to_str().expect("ascii");
        assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
        assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
        let cookie = session_of(&first);

        let again = login(h, "ada@acme.test", &h.acme.password).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED, "one time only");
        assert_eq!(again.json()["message"], "wrong email or password");
        let nobody = login(h, "nobody@acme.test", "whatever it is").await;
        assert_eq!(nobody.body, again.body, "an unknown email looks the same");

        let me = with_cookie(h, Method::GET, "/api/me", &cookie, None).await;
        assert_eq!(me.json()["email"], "ada@acme.test");
        assert_eq!(me.json()["csrf_token"], cookie.csrf.as_str());
        // Another site's form can send the cookie, but not the token.
        let forged = h
            .send(
                axum::http::Request::builder()
                    .method(Method::POST)
                    .uri("/api/companies")
                    .header("cookie", &cookie.cookie)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(r#"{"name":"Forged"}"#))
                    .expect("request"),
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text());
        assert!(
            forged.json()["message"]
                .as_str()
                .is_some_and(|m| m.contains("X-CSRF-Token")),
            "{}",
            forged.text()
        );
        let wrong = Session {
            cookie: cookie.cookie.clone(),
            csrf: "0".repeat(64),
        };
        let refused = with_cookie(h, Method::POST, "/api/logout", &wrong, None).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "a wrong token is refused"
        );
        let short = with_cookie(
            h,
            Method::PUT,
            "/api/me/password",
            &cookie,
            Some(json!({ "password": "short" })),
        )
        .await;
        assert_eq!(short.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            short.json()["message"],
            "a password needs at least 12 characters"
        );
        let set = with_cookie(
            h,
            Method::PUT,
            "/api/me/password",
            &cookie,
            Some(json!({ "password": "a long new password" })),
        )
        .await;
        assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.text());
        assert_eq!(
            login(h, "ada@acme.test", "a long new password")
                .await
                .status,
            StatusCode::OK
        );

        let companies = with_cookie(h, Method::GET, "/api/companies", &cookie, None)
            .await
            .json();
        assert_eq!(companies["items"][0]["id"], h.acme.company.as_str());
        assert_eq!(companies["items"][0]["role"], "owner");
        let created = with_cookie(
            h,
            Method::POST,
            "/api/companies",
            &cookie,
            Some(json!({ "name": "Acme Labs" })),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());

        let out = with_cookie(h, Method::POST, "/api/logout", &cookie, None).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        let after = with_cookie(h, Method::GET, "/api/me", &cookie, None).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "the session ended");
    }
    on_every_database!(test);
}

#[tokio::test]
async fn members_read_admins_change_owners_manage_people_and_tokens() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        let added = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/members"),
                owner,
                Some(json!({ "email": "bob@acme.test", "role": "member" })),
            )
            .await;
        assert_eq!(
            added.status,
            StatusCode::CREATED,
            "{}: {}",
            h.label,
            added.text()
        );
        let bob = added.json();
        let bob_id = bob["user_id"].as_str().expect("id").to_owned();
        let password = bob["one_time_password"]
            .as_str()
            .expect("a one-time password");
        let cookie = session_of(&login(h, "bob@acme.test", password).await);

        let read = with_cookie(
            h,
            Method::GET,
            &format!("/api/companies/{company}/installs"),
            &cookie,
            None,
        )
        .await;
        assert_eq!(read.status, StatusCode::OK);
        let denied = with_cookie(
            h,
            Method::PUT,
            &format!("/api/companies/{company}/secrets/gh"),
            &cookie,
            Some(json!({ "value": "x" })),
        )
        .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        assert_eq!(
            denied.json()["message"],
            "this needs the admin role in the company; you have the member role"
        );

        let promoted = h
            .call(
                Method::PATCH,
                &format!("/api/companies/{company}/members/{bob_id}"),
                owner,
                Some(json!({ "role": "admin" })),
            )
            .await;
        assert_eq!(promoted.json()["role"], "admin");
        let allowed = with_cookie(
            h,
            Method::PUT,
            &format!("/api/companies/{company}/secrets/gh"),
            &cookie,
            Some(json!({ "value": "x" })),
        )
        .await;
        assert_eq!(allowed.status, StatusCode::CREATED);
        let tokens = with_cookie(
            h,
            Method::GET,
            &format!("/api/companies/{company}/tokens"),
            &cookie,
            None,
        )
        .await;
        assert_eq!(
            tokens.status,
            StatusCode::FORBIDDEN,
            "admins do not manage tokens"
        );

        let last_owner = h
            .call(
                Method::DELETE,
                &format!("/api/companies/{company}/members/{}", h.acme.owner),
                owner,
                None,
            )
            .await;
        assert_eq!(last_owner.status, StatusCode::CONFLICT);
        assert_eq!(
            last_owner.json()["message"],
            "this is the company's last owner; make someone else an owner first"
        );

        let created = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/tokens"),
                owner,
                Some(json!({ "name": "dashboards" })),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
        let created = created.json();
        let value = created["value"].as_str().expect("shown once");
        assert_eq!(created["role"], "member");
        let listed = h
            .get(&format!("/api/companies/{company}/tokens"))
            .await
            .text();
        assert!(!listed.contains(value), "a token's value is never listed");
        let as_token = h
            .call(
                Method::PUT,
                &format!("/api/companies/{company}/secrets/gh"),
                Some(value),
                Some(json!({ "value": "y" })),
            )
            .await;
        assert_eq!(
            as_token.json()["message"],
            "this needs the admin role in the company; this token has the member role"
        );
        let revoked = h
            .call(
                Method::DELETE,
                &format!(
                    "/api/companies/{company}/tokens/{}",
                    created["id"].as_str().expect("id")
                ),
                owner,
                None,
            )
            .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        let after = h
            .call(
                Method::GET,
                &format!("/api/companies/{company}/installs"),
                Some(value),
                None,
            )
            .await;
        assert_eq!(
            after.status,
            StatusCode::UNAUTHORIZED,
            "a revoked token stops working"
        );

        let removed = h
            .call(
                Method::DELETE,
                &format!("/api/companies/{company}/members/{bob_id}"),
                owner,
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        let gone = with_cookie(
            h,
            Method::GET,
            &format!("/api/companies/{company}/installs"),
            &cookie,
            None,
        )
        .await;
        assert_eq!(
            gone.status,
            StatusCode::NOT_FOUND,
            "a former member sees nothing"
        );

        let actions = h.audit_actions(company).await;
        for action in [
            "member.add",
            "member.role",
            "secret.put",
            "token.create",
            "token.revoke",
            "member.remove",
        ] {
            assert!(
                actions.iter().any(|a| a == action),
                "{action} audited: {actions:?}"
            );
        }
    }
    on_every_database!(test);
}

#[tokio::test]
async fn installs_check_the_configuration_the_grants_and_the_artifact_digest() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        let path = format!("/api/companies/{company}/installs");
        let install = |config: Value, grants: Value| json!({ "plugin": "github", "config": config, "grants": grants });
        let put = h
            .call(
                Method::PUT,
                &format!("/api/companies/{company}/secrets/github-token"),
                owner,
                Some(json!({ "value": "ghp_x" })),
            )
            .await;
        assert_eq!(put.status, StatusCode::CREATED);
        let good_grants =
            json!({ "hosts": ["api.github.com"], "secrets": { "github_token": "github-token" } });

        let cases = [
            (
                install(json!({}), good_grants.clone()),
                "configuration does not match the `github` connector's schema:\n  at /: \"org\" is a required property",
            ),
            (
                install(
                    json!({ "org": "acme", "colour": "red" }),
                    good_grants.clone(),
                ),
                "configuration does not match the `github` connector's schema:\n  at /: Additional properties are not allowed ('colour' was unexpected)",
            ),
            (
                install(
                    json!({ "org": "acme" }),
                    json!({ "hosts": ["evil.example"], "secrets": { "github_token": "github-token" } }),
                ),
                "grants.hosts: `evil.example` is not a host the `github` connector asks for under this configuration; it asks for: api.github.com",
            ),
            (
                install(
                    json!({ "org": "acme" }),
                    json!({ "hosts": ["api.github.com"] }),
                ),
                "grants.secrets: the `github` connector needs the secret `github_token` (A fine-grained or classic token with read access to the organisation's members, teams and repositories (classic: read:org and repo)); map it to one of the company's secrets",
            ),
            (
                install(
                    json!({ "org": "acme" }),
                    json!({ "secrets": { "github_token": "nope" } }),
                ),
                &*format!(
                    "grants.secrets: `github_token` is mapped to `nope`, but the company has no such secret; set it first with PUT /api/companies/{company}/secrets/nope"
                ),
            ),
            (
                json!({ "plugin": "gitlab" }),
                "the marketplace has no connector `gitlab`",
            ),
            (
                json!({ "plugin": "github", "version": "9.0.0" }),
                "the marketplace has no version 9.0.0 of `github` (it has 0.1.0)",
            ),
        ];
        for (body, message) in cases {
            let answer = h.call(Method::POST, &path, owner, Some(body.clone())).await;
            assert_eq!(
                answer.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}: {body}: {}",
                h.label,
                answer.text()
            );
            assert_eq!(answer.json()["message"], message, "{body}");
        }

        let created = h
            .call(
                Method::POST,
                &path,
                owner,
                Some(install(json!({ "org": "acme" }), good_grants.clone())),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let created = created.json();
        assert_eq!(created["requested_hosts"], json!(["api.github.com"]));
        let id = created["id"].as_str().expect("id");
        let bad_patch = h
            .call(
                Method::PATCH,
                &format!("{path}/{id}"),
                owner,
                Some(json!({ "config": { "org": "" } })),
            )
            .await;
        assert_eq!(bad_patch.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad_patch.json()["message"]
                .as_str()
                .expect("text")
                .contains("at /org"),
            "{}",
            bad_patch.text()
        );
        let patched = h
            .call(
                Method::PATCH,
                &format!("{path}/{id}"),
                owner,
                Some(json!({ "config": { "org": "acme", "repos": ["widgets"] } })),
            )
            .await;
        assert_eq!(patched.json()["config"]["repos"], json!(["widgets"]));

        let artifact = h.marketplace.join("github/0.1.0/github.wasm");
        let mut bytes = std::fs::read(&artifact).expect("artifact");
        bytes.push(0);
        std::fs::write(&artifact, bytes).expect("tamper");
        let tampered = h
            .call(
                Method::POST,
                &path,
                owner,
                Some(install(json!({ "org": "acme" }), good_grants)),
            )
            .await;
        assert_eq!(tampered.status, StatusCode::UNPROCESSABLE_ENTITY);
        let message = tampered.json()["message"]
            .as_str()
            .expect("text")
            .to_owned();
        assert!(
            message.starts_with(
                "the artifact of github 0.1.0 does not match the catalogue: its sha256 is "
            ),
            "{message}"
        );

        let removed = h
            .call(Method::DELETE, &format!("{path}/{id}"), owner, None)
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        assert_eq!(
            h.get(&format!("{path}/{id}")).await.status,
            StatusCode::NOT_FOUND
        );
    }
    on_every_database!(test);
}

#[tokio::test]
async fn a_run_by_hand_commits_records_and_status_and_keeps_its_log() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        let install = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs"),
                owner,
                Some(json!({ "plugin": "trivial" })),
            )
            .await
            .json();
        let install = install["id"].as_str().expect("id").to_owned();
        let mut runs = Vec::new();
        for _ in 0..2 {
            let run = h.run_of_acme(&install).await;
            let id = run["id"].as_str().expect("id").to_owned();
            assert_eq!(run["status"], "succeeded", "{run}");
            assert_eq!(run["records_written"], 1);
            assert_eq!(run["trigger"], "manual");
            assert!(run["peak_memory_bytes"].as_i64().expect("bytes") > 0);
            assert!(run["finished_at"].is_string());
            runs.push(id);
        }
        let records = h
            .get(&format!(
                "/api/companies/{company}/records?install={install}"
            ))
            .await
            .json();
        assert_eq!(
            records["items"].as_array().expect("items").len(),
            1,
            "upserted by key: {records}"
        );
        assert_eq!(records["items"][0]["stream"], "ticks");
        assert_eq!(records["items"][0]["key"], "1");
        assert_eq!(records["items"][0]["data"], json!({ "n": 1 }));
        assert_eq!(
            records["items"][0]["run_id"],
            runs[0].as_str(),
            "the second run emitted it unchanged, so the first run's write stands"
        );
        assert_eq!(records["items"][0]["deleted_at"], Value::Null);

        let history = h
            .get(&format!("/api/companies/{company}/runs?install={install}"))
            .await
            .json();
        let ids: Vec<&str> = history["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        assert_eq!(ids, [runs[1].as_str(), runs[0].as_str()], "newest first");
        let failed = h
            .get(&format!("/api/companies/{company}/runs?status=failed"))
            .await
            .json();
        assert_eq!(failed["items"], json!([]));
        let paged = h
            .get(&format!("/api/companies/{company}/runs?limit=1"))
            .await
            .json();
        assert_eq!(paged["next"], runs[1].as_str());
        let rest = h
            .get(&format!(
                "/api/companies/{company}/runs?limit=1&after={}",
                runs[1]
            ))
            .await
            .json();
        assert_eq!(rest["items"][0]["id"], runs[0].as_str());

        let log = h
            .get(&format!("/api/companies/{company}/runs/{}/logs", runs[0]))
            .await
            .json();
        let lines: Vec<(String, String)> = log["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|l| {
                (
                    l["source"].as_str().unwrap_or_default().to_owned(),
                    l["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert!(
            lines.contains(&("plugin".into(), "tick".into())),
            "{lines:?}"
        );
        assert!(
            lines.contains(&("host".into(), "run succeeded: 1 records".into())),
            "{lines:?}"
        );
        assert_eq!(log["items"][0]["install_id"], install.as_str());
        let found = h
            .get(&format!(
                "/api/companies/{company}/logs?q=TICK&source=plugin"
            ))
            .await
            .json();
        assert_eq!(
            found["items"].as_array().expect("items").len(),
            2,
            "one per run: {found}"
        );
        let warnings = h
            .get(&format!("/api/companies/{company}/logs?level=warn"))
            .await
            .json();
        assert_eq!(warnings["items"], json!([]));
        let since = h
            .get(&format!(
                "/api/companies/{company}/logs?since=2999-01-01T00:00:00Z"
            ))
            .await
            .json();
        assert_eq!(since["items"], json!([]));
        let after = log["items"][0]["seq"].as_i64().expect("seq");
        let tail = h
            .get(&format!(
                "/api/companies/{company}/runs/{}/logs?after={after}",
                runs[0]
            ))
            .await
            .json();
        assert_eq!(
            tail["items"].as_array().expect("items").len(),
            lines.len() - 1
        );

        let removed = h
            .call(
                Method::DELETE,
                &format!("/api/companies/{company}/installs/{install}"),
                owner,
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        let records = h
            .get(&format!(
                "/api/companies/{company}/records?install={install}"
            ))
            .await
            .json();
        assert_eq!(
            records["items"],
            json!([]),
            "uninstalling removes its records"
        );
        let history = h
            .get(&format!("/api/companies/{company}/runs?install={install}"))
            .await
            .json();
        assert_eq!(
            history["items"].as_array().expect("items").len(),
            2,
            "and keeps its history"
        );
    }
    on_every_database!(test);
}

#[tokio::test]
async fn a_failed_run_keeps_nothing_and_uninstalling_stops_a_running_one() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        h.call(
            Method::PUT,
            &format!("/api/companies/{company}/secrets/t"),
            owner,
            Some(json!({ "value": "v" })),
        )
        .await;
        let install = |behaviour: &str| json!({ "plugin": "hostile", "config": { "behaviour": behaviour }, "grants": { "secrets": { "token": "t" } } });
        let flood = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs"),
                owner,
                Some(install("record-flood")),
            )
            .await
            .json();
        let flood = flood["id"].as_str().expect("install").to_owned();
        let run = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs/{flood}/runs"),
                owner,
                None,
            )
            .await
            .json();
        let run = h
            .finished_run(company, &h.acme.token, run["id"].as_str().expect("run"))
            .await;
        assert_eq!(run["status"], "failed", "{}: {run}", h.label);
        assert!(
            run["error"]
                .as_str()
                .expect("error")
                .starts_with("stopped: "),
            "{run}"
        );
        assert_eq!(run["records_written"], 0);
        let records = h
            .get(&format!("/api/companies/{company}/records?install={flood}"))
            .await
            .json();
        assert_eq!(
            records["items"],
            json!([]),
            "a failed run commits no record"
        );
        let errors = h
            .get(&format!(
                "/api/companies/{company}/logs?run={}&level=error",
                run["id"].as_str().expect("id")
            ))
            .await
            .json();
        assert_eq!(errors["items"][0]["source"], "host", "{errors}");

        let sleeper = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs"),
                owner,
                Some(install("sleep")),
            )
            .await
            .json();
        let sleeper = sleeper["id"].as_str().expect("install").to_owned();
        let run = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs/{sleeper}/runs"),
                owner,
                None,
            )
            .await
            .json();
        let run = run["id"].as_str().expect("run").to_owned();
        // The row says `running` as the claim commits, a moment before the host's task
        // for it is registered: wait for both.
        for _ in 0..200 {
            if h.get(&format!("/api/companies/{company}/runs/{run}"))
                .await
                .json()["status"]
                == "running"
                && h.state.runs.in_flight() == 1
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(h.state.runs.in_flight(), 1, "the run is going on");
        let removed = h
            .call(
                Method::DELETE,
                &format!("/api/companies/{company}/installs/{sleeper}"),
                owner,
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        let run = h
            .get(&format!("/api/companies/{company}/runs/{run}"))
            .await
            .json();
        assert_eq!(run["status"], "cancelled", "{run}");
        assert_eq!(run["error"], "the install was removed");
        assert_eq!(
            h.state.runs.in_flight(),
            0,
            "uninstalling leaves nothing running"
        );
    }
    on_every_database!(test);
}

#[tokio::test]
async fn bad_input_gets_a_4xx_with_a_json_reason_never_a_500() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        /// Method, path, token, raw body, the status and the error code expected.
        type Case<'a> = (
            Method,
            String,
            Option<&'a str>,
            Option<&'static str>,
            StatusCode,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                Method::POST,
                format!("/api/companies/{company}/installs"),
                owner,
                Some("{not json"),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::POST,
                format!("/api/companies/{company}/installs"),
                owner,
                Some(r#"{"plugin":"github","colour":1}"#),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::PUT,
                format!("/api/companies/{company}/secrets/bad%20name"),
                owner,
                Some(r#"{"value":"x"}"#),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::PUT,
                format!("/api/companies/{company}/secrets/ok"),
                owner,
                Some(r#"{"value":""}"#),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::GET,
                format!("/api/companies/{company}/logs?level=loud"),
                owner,
                None,
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::GET,
                format!("/api/companies/{company}/logs?since=yesterday"),
                owner,
                None,
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::GET,
                format!("/api/companies/{company}/logs?source=kernel"),
                owner,
                None,
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::GET,
                format!("/api/companies/{company}/records?after=abc"),
                owner,
                None,
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::GET,
                format!("/api/companies/{company}/runs?status=maybe"),
                owner,
                None,
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::GET,
                format!("/api/companies/{company}/runs?colour=red"),
                owner,
                None,
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::POST,
                format!("/api/companies/{company}/members"),
                owner,
                Some(r#"{"email":"not-an-email","role":"member"}"#),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::POST,
                format!("/api/companies/{company}/members"),
                owner,
                Some(r#"{"email":"a@b.test","role":"king"}"#),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                Method::GET,
                format!("/api/companies/{company}/installs"),
                None,
                None,
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
            ),
            (
                Method::GET,
                format!("/api/companies/{company}/installs"),
                Some("sluice_pat_forged"),
                None,
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
            ),
            (
                Method::GET,
                "/api/nothing-here".to_owned(),
                owner,
                None,
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                Method::DELETE,
                "/api/marketplace".to_owned(),
                owner,
                None,
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            ),
        ];
        for (method, path, token, body, status, code) in cases {
            let mut request = axum::http::Request::builder()
                .method(method.clone())
                .uri(&path);
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let request = match body {
                Some(body) => request
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body)),
                None => request.body(axum::body::Body::empty()),
            }
            .expect("request");
            let answer = h.send(request).await;
            assert_eq!(
                answer.status,
                status,
                "{}: {method} {path}: {}",
                h.label,
                answer.text()
            );
            let json = answer.json();
            assert_eq!(json["code"], code, "{method} {path}");
            assert!(!json["message"].as_str().expect("a message").is_empty());
        }
    }
    on_every_database!(test);
}

/// Every documented operation as (method, path template).
pub(crate) fn documented_operations() -> Vec<(Method, String)> {
    let document = serde_json::to_value(sluice::api::openapi()).expect("document");
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            if let Ok(method) = method.to_uppercase().parse::<Method>() {
                operations.push((method, path.clone()));
            }
        }
    }
    operations
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_the_server_answers() {
    async fn test(h: &Harness) {
        let answer = h.call(Method::GET, "/api/openapi.json", None, None).await;
        assert_eq!(answer.status, StatusCode::OK);
        let document = answer.json();
        assert!(
            document["openapi"]
                .as_str()
                .expect("version")
                .starts_with("3.")
        );
        let operations = documented_operations();
        let issue_routes = [
            "POST /api/login",
            "POST /api/logout",
            "GET /api/companies",
            "POST /api/companies",
            "GET /api/companies/{company}",
            "GET /api/companies/{company}/members",
            "POST /api/companies/{company}/members",
            "PATCH /api/companies/{company}/members/{user}",
            "DELETE /api/companies/{company}/members/{user}",
            "GET /api/companies/{company}/tokens",
            "POST /api/companies/{company}/tokens",
            "DELETE /api/companies/{company}/tokens/{token}",
            "GET /api/companies/{company}/secrets",
            "PUT /api/companies/{company}/secrets/{name}",
            "DELETE /api/companies/{company}/secrets/{name}",
            "GET /api/marketplace",
            "GET /api/marketplace/{plugin}",
            "GET /api/companies/{company}/installs",
            "POST /api/companies/{company}/installs",
            "GET /api/companies/{company}/installs/{install}",
            "PATCH /api/companies/{company}/installs/{install}",
            "DELETE /api/companies/{company}/installs/{install}",
            "POST /api/companies/{company}/installs/{install}/check",
            "POST /api/companies/{company}/installs/{install}/runs",
            "GET /api/companies/{company}/runs",
            "GET /api/companies/{company}/runs/{run}",
            "GET /api/companies/{company}/runs/{run}/logs",
            "GET /api/companies/{company}/logs",
            "GET /api/companies/{company}/records",
            "GET /api/companies/{company}/audit",
            "GET /api/companies/{company}/people",
            "GET /api/companies/{company}/people/{person}",
            "POST /api/companies/{company}/people/{person}/identities",
            "DELETE /api/companies/{company}/people/{person}/identities/{system}/{id}",
            "GET /api/openapi.json",
            "GET /healthz",
        ];
        let listed: Vec<String> = operations.iter().map(|(m, p)| format!("{m} {p}")).collect();
        for route in issue_routes {
            assert!(
                listed.contains(&route.to_owned()),
                "{route} is documented: {listed:?}"
            );
        }
        // Every documented path exists in the router: a method it does not answer gets 405
        // there, where a path the router lacks gets 404.
        for (_, path) in &operations {
            let concrete = path.replace(['{', '}'], "");
            let answer = h
                .call(Method::TRACE, &concrete, Some(&h.acme.token), None)
                .await;
            assert_eq!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{path} is routed"
            );
        }
    }
    on_every_database!(test);
}

#[tokio::test]
async fn another_companys_ids_answer_exactly_like_missing_ones_on_every_route() {
    async fn test(h: &Harness) {
        let acme = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        // Acme gets one of everything a route can name.
        h.call(
            Method::PUT,
            &format!("/api/companies/{acme}/secrets/shared-name"),
            owner,
            Some(json!({ "value": "acme-only" })),
        )
        .await;
        let install = h
            .call(
                Method::POST,
                &format!("/api/companies/{acme}/installs"),
                owner,
                Some(json!({ "plugin": "trivial" })),
            )
            .await
            .json();
        let install = install["id"].as_str().expect("install").to_owned();
        let run = h
            .call(
                Method::POST,
                &format!("/api/companies/{acme}/installs/{install}/runs"),
                owner,
                None,
            )
            .await
            .json();
        let run = run["id"].as_str().expect("run").to_owned();
        h.finished_run(acme, &h.acme.token, &run).await;
        let token = h
            .call(
                Method::POST,
                &format!("/api/companies/{acme}/tokens"),
                owner,
                Some(json!({ "name": "ci" })),
            )
            .await
            .json();
        let token = token["id"].as_str().expect("token").to_owned();
        h.store
            .change_people(acme, |book| {
                book.observe(&sluice::people::Observation {
                    identity: sluice::people::Identity {
                        system: "github".into(),
                        id: "mona".into(),
                    },
                    verified_email: None,
                    name: None,
                });
            })
            .await
            .expect("a person");
        let person = h.get(&format!("/api/companies/{acme}/people")).await.json();
        let person = person["items"][0]["id"]
            .as_str()
            .expect("person")
            .to_owned();

        let delivery = h
            .store
            .refuse_delivery(acme, &install, "github", Some("d-1"), "forged")
            .await
            .expect("a delivery");
        let acme_ids = BTreeMap::from([
            ("delivery", delivery),
            ("source", "github".to_owned()),
            ("company", acme.clone()),
            ("user", h.acme.owner.clone()),
            ("token", token),
            ("name", "shared-name".to_owned()),
            ("install", install),
            ("run", run),
            ("person", person),
            ("system", "github".to_owned()),
            ("id", "mona".to_owned()),
        ]);
        let missing_ids = BTreeMap::from([
            ("delivery", "dlv_0000000000000000000000000000".to_owned()),
            ("source", "github".to_owned()),
            ("company", "co_0000000000000000000000000000".to_owned()),
            ("user", "usr_0000000000000000000000000000".to_owned()),
            ("token", "tok_0000000000000000000000000000".to_owned()),
            ("name", "no-such-secret".to_owned()),
            ("install", "inst_0000000000000000000000000000".to_owned()),
            ("run", "run_0000000000000000000000000000".to_owned()),
            ("person", "per_0000000000000000000000000000".to_owned()),
            ("system", "github".to_owned()),
            ("id", "nobody".to_owned()),
        ]);
        let fill = |path: &str, ids: &BTreeMap<&str, String>, company: Option<&str>| {
            let mut filled = path.to_owned();
            for (name, value) in ids {
                let value = if *name == "company" {
                    company.unwrap_or(value)
                } else {
                    value
                };
                filled = filled.replace(&format!("{{{name}}}"), value);
            }
            filled
        };
        let body_for = |method: &Method, path: &str| -> Option<Value> {
            match (method.as_str(), path.rsplit('/').next().unwrap_or_default()) {
                ("POST", "members") => {
                    Some(json!({ "email": "eve@globex.test", "role": "member" }))
                }
                ("PATCH", "{user}") => Some(json!({ "role": "member" })),
                ("POST", "tokens") => Some(json!({ "name": "probe" })),
                ("PUT", "{name}") => Some(json!({ "value": "probe" })),
                ("POST", "installs") => Some(json!({ "plugin": "trivial" })),
                ("POST", "check") if path.ends_with("/installs/check") => {
                    Some(json!({ "plugin": "trivial" }))
                }
                ("PATCH", "{install}") => Some(json!({})),
                ("PUT", "schedule") => Some(json!({ "interval_seconds": 60 })),
                ("POST", "identities") => Some(json!({ "system": "slack", "id": "U1" })),
                ("PUT", "secret") => Some(json!({})),
                _ => None,
            }
        };
        // Globex's owner, both as a token (scoped to Globex) and as a signed-in person.
        let cookie = session_of(&login(h, &h.globex.email, &h.globex.password).await);
        let globex = h.globex.company.clone();
        let mut checked = 0;
        for (method, path) in documented_operations() {
            if !path.contains("{company}") {
                continue;
            }
            let body = body_for(&method, &path);
            let as_token = |target: String| {
                let body = body.clone();
                let method = method.clone();
                async move { h.call(method, &target, Some(&h.globex.token), body).await }
            };
            let as_person = |target: String| {
                let body = body.clone();
                let method = method.clone();
                let cookie = cookie.clone();
                async move { with_cookie(h, method, &target, &cookie, body).await }
            };
            // Acme's company with Acme's ids, against a company that does not exist.
            let theirs = fill(&path, &acme_ids, None);
            let missing = fill(&path, &missing_ids, None);
            for (who, theirs_answer, missing_answer) in [
                (
                    "token",
                    as_token(theirs.clone()).await,
                    as_token(missing.clone()).await,
                ),
                (
                    "session",
                    as_person(theirs.clone()).await,
                    as_person(missing.clone()).await,
                ),
            ] {
                assert_eq!(
                    theirs_answer.status,
                    StatusCode::NOT_FOUND,
                    "{}: {who} {method} {theirs}: {}",
                    h.label,
                    theirs_answer.text()
                );
                assert_eq!(
                    theirs_answer.body, missing_answer.body,
                    "{who} {method} {path}: the same bytes"
                );
                assert_eq!(theirs_answer.status, missing_answer.status);
                checked += 1;
            }
            // Globex's own company with Acme's ids inside it, against missing ids. A secret
            // name is not an id (PUT creates Globex's own secret), so it is left out.
            let has_inner_id = ["{user}", "{token}", "{install}", "{run}", "{person}"]
                .iter()
                .any(|p| path.contains(p))
                || (path.contains("{name}") && method != Method::PUT);
            if has_inner_id {
                let theirs = fill(&path, &acme_ids, Some(&globex));
                let missing = fill(&path, &missing_ids, Some(&globex));
                let (a, b) = (
                    as_token(theirs.clone()).await,
                    as_token(missing.clone()).await,
                );
                assert_eq!(
                    a.status,
                    StatusCode::NOT_FOUND,
                    "{}: {method} {theirs}: {}",
                    h.label,
                    a.text()
                );
                assert_eq!(a.body, b.body, "{method} {path}: the same bytes");
                checked += 1;
            }
        }
        assert!(checked >= 40, "the matrix covered {checked} cases");
        // Lists filtered by another company's ids are empty, not theirs.
        for path in [
            format!(
                "/api/companies/{globex}/records?install={}",
                acme_ids["install"]
            ),
            format!("/api/companies/{globex}/logs?run={}", acme_ids["run"]),
            format!(
                "/api/companies/{globex}/runs?install={}",
                acme_ids["install"]
            ),
        ] {
            let answer = h
                .call(Method::GET, &path, Some(&h.globex.token), None)
                .await
                .json();
            assert_eq!(answer["items"], json!([]), "{path}");
        }
    }
    on_every_database!(test);
}

#[tokio::test]
async fn a_connection_is_checked_before_the_install_is_saved_and_nothing_is_kept() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let check = |body: Value| async move {
            h.call(
                Method::POST,
                &format!("/api/companies/{company}/installs/check"),
                Some(&h.acme.token),
                Some(body),
            )
            .await
        };
        let works = check(json!({ "plugin": "trivial", "config": {} })).await;
        assert_eq!(
            works.status,
            StatusCode::OK,
            "{}: {}",
            h.label,
            works.text()
        );
        assert_eq!(works.json()["ok"], true, "{}", works.text());
        let wrong = check(json!({ "plugin": "trivial", "config": { "pause_ms": "soon" } })).await;
        assert_eq!(
            wrong.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            wrong.text()
        );
        assert!(
            wrong.json()["message"]
                .as_str()
                .is_some_and(|m| m.contains("pause_ms")),
            "the message names the field: {}",
            wrong.text()
        );
        let installs = h
            .call(
                Method::GET,
                &format!("/api/companies/{company}/installs"),
                Some(&h.acme.token),
                None,
            )
            .await
            .json();
        assert_eq!(installs["items"], json!([]), "a check installs nothing");
    }
    on_every_database!(test);
}

#[tokio::test]
async fn a_company_has_at_most_two_connection_checks_going_and_others_are_not_held_up() {
    async fn test(h: &Harness) {
        let check = |company: String, token: String, pause_ms: u64| async move {
            h.call(
                Method::POST,
                &format!("/api/companies/{company}/installs/check"),
                Some(&token),
                Some(json!({ "plugin": "trivial", "config": { "pause_ms": pause_ms } })),
            )
            .await
        };
        let acme = || (h.acme.company.clone(), h.acme.token.clone());
        let (company, token) = acme();
        let slow = |n: u64| check(company.clone(), token.clone(), 1_500 + n);
        let late = async {
            // Starts once both slow checks hold their slots.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            tokio::join!(
                check(company.clone(), token.clone(), 0),
                check(h.globex.company.clone(), h.globex.token.clone(), 0)
            )
        };
        let (first, second, (third, globex)) = tokio::join!(slow(0), slow(1), late);
        for answer in [&first, &second, &globex] {
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "{}: {}",
                h.label,
                answer.text()
            );
            assert_eq!(answer.json()["ok"], true, "{}", answer.text());
        }
        assert_eq!(
            third.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            third.text()
        );
        assert_eq!(
            third.json()["message"],
            "the company already has 2 connection checks going; try again when one has ended"
        );
        let (company, token) = acme();
        let again = check(company, token, 0).await;
        assert_eq!(
            again.status,
            StatusCode::OK,
            "a slot comes back: {}",
            again.text()
        );
    }
    on_every_database!(test);
}
