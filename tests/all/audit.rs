//! Every change is in `GET …/audit`: each changing route of a company, done once, leaves
//! its action and target as the newest entry, with who did it; the connection checks,
//! which keep nothing, leave none.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api::{login, session_of, with_cookie};
use crate::harness::{Harness, on_every_database};

/// The changing routes that keep nothing, so leave no entry.
const KEEPS_NOTHING: &[&str] = &["POST /installs/check", "POST /installs/{install}/check"];

/// The newest audit entry of Acme: (actor, action, target).
async fn newest(h: &Harness) -> (String, String, String) {
    let audit = h
        .get(&format!("/api/companies/{}/audit?limit=1", h.acme.company))
        .await
        .json();
    let entry = &audit["items"][0];
    let text = |field: &str| entry[field].as_str().expect("a text").to_owned();
    (text("actor"), text("action"), text("target"))
}

#[tokio::test]
async fn every_change_leaves_its_entry_in_the_audit_log() {
    async fn test(h: &Harness) {
        let base = format!("/api/companies/{}", h.acme.company);
        let mut covered: Vec<String> = Vec::new();
        // Makes one change as Acme's owner, then reads the newest entry: it must be
        // `action` on a target that starts with `target`.
        macro_rules! change {
            ($method:expr, $route:expr, $path:expr, $body:expr, $action:expr, $target:expr) => {{
                let answer = h.call($method, &$path, Some(&h.acme.token), $body).await;
                assert!(
                    answer.status.is_success(),
                    "{}: {} {}: {}",
                    h.label,
                    $method,
                    $path,
                    answer.text()
                );
                let (actor, action, target) = newest(h).await;
                assert!(actor.starts_with("token:"), "{actor}");
                assert_eq!(action, $action, "{}: {} {}", h.label, $method, $route);
                assert!(
                    target.starts_with(&$target),
                    "{}: {action} on `{target}`, not `{}…`",
                    h.label,
                    $target
                );
                covered.push(format!("{} {}", $method, $route));
                if answer.body.is_empty() {
                    Value::Null
                } else {
                    answer.json()
                }
            }};
        }

        change!(
            Method::PUT,
            "/secrets/{name}",
            format!("{base}/secrets/gh"),
            Some(json!({ "value": "v" })),
            "secret.put",
            "gh".to_owned()
        );
        let member = change!(
            Method::POST,
            "/members",
            format!("{base}/members"),
            Some(json!({ "email": "eve@acme.test", "role": "member" })),
            "member.add",
            "eve@acme.test as member".to_owned()
        );
        let user = member["user_id"].as_str().expect("an id").to_owned();
        change!(
            Method::PATCH,
            "/members/{user}",
            format!("{base}/members/{user}"),
            Some(json!({ "role": "admin" })),
            "member.role",
            format!("{user} to admin")
        );
        change!(
            Method::DELETE,
            "/members/{user}",
            format!("{base}/members/{user}"),
            None,
            "member.remove",
            user.clone()
        );
        let token = change!(
            Method::POST,
            "/tokens",
            format!("{base}/tokens"),
            Some(json!({ "name": "dashboards" })),
            "token.create",
            String::new()
        );
        let token = token["id"].as_str().expect("an id").to_owned();
        change!(
            Method::DELETE,
            "/tokens/{token}",
            format!("{base}/tokens/{token}"),
            None,
            "token.revoke",
            token.clone()
        );
        change!(
            Method::POST,
            "/keys/rotate",
            format!("{base}/keys/rotate"),
            None,
            "keys.rotate_data",
            "data key version 2".to_owned()
        );

        let sleeper = change!(
            Method::POST,
            "/installs",
            format!("{base}/installs"),
            Some(json!({
                "plugin": "hostile",
                "config": { "behaviour": "sleep" },
                "grants": { "secrets": { "token": "gh" } },
            })),
            "install.create",
            String::new()
        );
        let install = sleeper["id"].as_str().expect("an id").to_owned();
        change!(
            Method::PATCH,
            "/installs/{install}",
            format!("{base}/installs/{install}"),
            Some(json!({ "config": { "behaviour": "sleep" } })),
            "install.update",
            install.clone()
        );
        change!(
            Method::PUT,
            "/installs/{install}/schedule",
            format!("{base}/installs/{install}/schedule"),
            Some(json!({ "interval_seconds": 900 })),
            "schedule.set",
            install.clone()
        );
        change!(
            Method::DELETE,
            "/installs/{install}/schedule",
            format!("{base}/installs/{install}/schedule"),
            None,
            "schedule.delete",
            install.clone()
        );
        let run = change!(
            Method::POST,
            "/installs/{install}/runs",
            format!("{base}/installs/{install}/runs"),
            None,
            "run.start",
            String::new()
        );
        let run = run["id"].as_str().expect("an id").to_owned();
        change!(
            Method::POST,
            "/runs/{run}/cancel",
            format!("{base}/runs/{run}/cancel"),
            None,
            "run.cancel",
            run.clone()
        );
        change!(
            Method::DELETE,
            "/installs/{install}",
            format!("{base}/installs/{install}"),
            None,
            "install.delete",
            install.clone()
        );

        let people = change!(
            Method::POST,
            "/installs",
            format!("{base}/installs"),
            Some(
                json!({ "plugin": "people", "config": { "logins": ["ada", "bob"] }, "grants": {} })
            ),
            "install.create",
            String::new()
        );
        let finished = h.run_of_acme(people["id"].as_str().expect("an id")).await;
        assert_eq!(finished["status"], "succeeded", "{}: {finished}", h.label);
        let listed = h.directory_of_acme(2).await;
        let ada = listed["items"]
            .as_array()
            .expect("people")
            .iter()
            .find(|p| p["name"] == "ada")
            .and_then(|p| p["id"].as_str())
            .expect("ada")
            .to_owned();
        change!(
            Method::POST,
            "/people/{person}/identities",
            format!("{base}/people/{ada}/identities"),
            Some(json!({ "system": "slack", "id": "U042" })),
            "person.link",
            format!("slack:U042 to {ada}")
        );
        change!(
            Method::DELETE,
            "/people/{person}/identities/{system}/{id}",
            format!("{base}/people/{ada}/identities/slack/U042"),
            None,
            "person.unlink",
            format!("slack:U042 from {ada} to ")
        );
        let people = people["id"].as_str().expect("an id").to_owned();
        let hook = change!(
            Method::PUT,
            "/installs/{install}/hooks/{source}/secret",
            format!("{base}/installs/{people}/hooks/github/secret"),
            Some(json!({})),
            "hook.secret.put",
            format!("hooks.github.{people}")
        );
        let secret = hook["secret"].as_str().expect("the secret");
        let push = r#"{"ref":"refs/heads/main"}"#;
        let delivered = h
            .send(
                axum::http::Request::builder()
                    .method(Method::POST)
                    .uri(format!("/hooks/github/{people}"))
                    .header("x-github-event", "push")
                    .header("x-github-delivery", "d-audit")
                    .header(
                        "x-hub-signature-256",
                        sluice::hooks::github_signature(secret.as_bytes(), push.as_bytes()),
                    )
                    .body(axum::body::Body::from(push))
                    .expect("a request"),
            )
            .await;
        assert_eq!(
            delivered.status,
            StatusCode::ACCEPTED,
            "{}",
            delivered.text()
        );
        let delivery = delivered.json()["delivery"]
            .as_str()
            .expect("an id")
            .to_owned();
        change!(
            Method::POST,
            "/deliveries/{delivery}/replay",
            format!("{base}/deliveries/{delivery}/replay"),
            None,
            "delivery.replay",
            delivery.clone()
        );
        change!(
            Method::DELETE,
            "/secrets/{name}",
            format!("{base}/secrets/gh"),
            None,
            "secret.delete",
            "gh".to_owned()
        );

        // A company created by a person is in its own audit log.
        let session = session_of(&login(h, &h.acme.email, &h.acme.password).await);
        let created = with_cookie(
            h,
            Method::POST,
            "/api/companies",
            &session,
            Some(json!({ "name": "Initech" })),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let initech = created.json()["id"].as_str().expect("an id").to_owned();
        let audit = with_cookie(
            h,
            Method::GET,
            &format!("/api/companies/{initech}/audit"),
            &session,
            None,
        )
        .await
        .json();
        assert_eq!(audit["items"][0]["action"], "company.create", "{}", h.label);
        assert_eq!(audit["items"][0]["target"], "Initech", "{}", h.label);

        // The checks keep nothing and leave no entry.
        let before = newest(h).await;
        let check = h
            .call(
                Method::POST,
                &format!("{base}/installs/check"),
                Some(&h.acme.token),
                Some(json!({ "plugin": "people", "config": { "logins": [] }, "grants": {} })),
            )
            .await;
        assert_eq!(check.status, StatusCode::OK, "{}", check.text());
        assert_eq!(
            newest(h).await,
            before,
            "{}: a check leaves no entry",
            h.label
        );

        for (method, path) in crate::api::documented_operations() {
            let Some(route) = path.strip_prefix("/api/companies/{company}") else {
                continue;
            };
            if matches!(method, Method::GET | Method::HEAD) {
                continue;
            }
            let operation = format!("{method} {route}");
            assert!(
                covered.contains(&operation) || KEEPS_NOTHING.contains(&operation.as_str()),
                "{operation} changes something: make it here and read its audit entry"
            );
        }
    }
    on_every_database!(test);
}
