//! Every change a company's route makes needs a role: members are refused installing,
//! running and secrets; admins are refused members, tokens and keys. One table covers every
//! changing route of the OpenAPI document, so a new route without an entry fails here.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Harness, on_every_database};

/// The role each changing company route needs, with a body its extractor accepts (the body
/// is read before the role is checked, so it must be well-formed to reach that check).
fn needed_roles() -> Vec<(Method, &'static str, &'static str, Option<Value>)> {
    let install = json!({ "plugin": "trivial", "config": {}, "grants": {} });
    vec![
        (
            Method::POST,
            "/members",
            "owner",
            Some(json!({ "email": "x@acme.test", "role": "member" })),
        ),
        (
            Method::PATCH,
            "/members/{user}",
            "owner",
            Some(json!({ "role": "admin" })),
        ),
        (Method::DELETE, "/members/{user}", "owner", None),
        (
            Method::POST,
            "/tokens",
            "owner",
            Some(json!({ "name": "t" })),
        ),
        (Method::DELETE, "/tokens/{token}", "owner", None),
        (Method::POST, "/keys/rotate", "owner", None),
        (
            Method::PUT,
            "/secrets/{name}",
            "admin",
            Some(json!({ "value": "v" })),
        ),
        (Method::DELETE, "/secrets/{name}", "admin", None),
        (Method::POST, "/installs", "admin", Some(install.clone())),
        (Method::POST, "/installs/check", "admin", Some(install)),
        (
            Method::PATCH,
            "/installs/{install}",
            "admin",
            Some(json!({})),
        ),
        (Method::DELETE, "/installs/{install}", "admin", None),
        (Method::POST, "/installs/{install}/check", "admin", None),
        (Method::POST, "/installs/{install}/runs", "admin", None),
        (
            Method::PUT,
            "/installs/{install}/schedule",
            "admin",
            Some(json!({ "interval_seconds": 900 })),
        ),
        (
            Method::DELETE,
            "/installs/{install}/schedule",
            "admin",
            None,
        ),
        (Method::POST, "/runs/{run}/cancel", "admin", None),
        (
            Method::PUT,
            "/installs/{install}/hooks/{source}/secret",
            "admin",
            Some(json!({})),
        ),
        (Method::POST, "/deliveries/{delivery}/replay", "admin", None),
        (
            Method::POST,
            "/people/{person}/identities",
            "admin",
            Some(json!({ "system": "github", "id": "mona" })),
        ),
        (
            Method::DELETE,
            "/people/{person}/identities/{system}/{id}",
            "admin",
            None,
        ),
    ]
}

/// A token of `role` in Acme, made by its owner.
async fn token_of(h: &Harness, role: &str) -> String {
    let created = h
        .call(
            Method::POST,
            &format!("/api/companies/{}/tokens", h.acme.company),
            Some(&h.acme.token),
            Some(json!({ "name": role, "role": role })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    created.json()["value"]
        .as_str()
        .expect("a value")
        .to_owned()
}

#[tokio::test]
async fn every_changing_route_refuses_a_role_below_the_one_it_needs() {
    async fn test(h: &Harness) {
        let prefix = "/api/companies/{company}";
        let table = needed_roles();
        let documented = crate::api::documented_operations();
        for (method, path) in &documented {
            let Some(route) = path.strip_prefix(prefix) else {
                continue;
            };
            if matches!(*method, Method::GET | Method::HEAD) {
                continue;
            }
            assert!(
                table.iter().any(|(m, p, _, _)| m == method && *p == route),
                "{method} {path} changes something: give it its role in this table"
            );
        }
        let member = token_of(h, "member").await;
        let admin = token_of(h, "admin").await;
        for (method, route, needed, body) in table {
            assert!(
                documented.contains(&(method.clone(), format!("{prefix}{route}"))),
                "{method} {route} is a documented route"
            );
            // Ids that do not exist: the role is checked before anything is looked up.
            let path =
                format!("/api/companies/{}{}", h.acme.company, route).replace(['{', '}'], "");
            let callers: &[(&str, &str)] = match needed {
                "owner" => &[("member", &member), ("admin", &admin)],
                _ => &[("member", &member)],
            };
            for (role, token) in callers {
                let answer = h
                    .call(method.clone(), &path, Some(token), body.clone())
                    .await;
                assert_eq!(
                    (answer.status, answer.json()["message"].clone()),
                    (
                        StatusCode::FORBIDDEN,
                        json!(format!(
                            "this needs the {needed} role in the company; this token has the {role} role"
                        ))
                    ),
                    "{}: {role} on {method} {route}",
                    h.label
                );
            }
        }
        // Nothing the refused calls asked for happened.
        let secrets = h
            .call(
                Method::GET,
                &format!("/api/companies/{}/secrets", h.acme.company),
                Some(&h.acme.token),
                None,
            )
            .await;
        assert_eq!(secrets.json()["items"], json!([]), "{}", h.label);
        let installs = h
            .call(
                Method::GET,
                &format!("/api/companies/{}/installs", h.acme.company),
                Some(&h.acme.token),
                None,
            )
            .await;
        assert_eq!(installs.json()["items"], json!([]), "{}", h.label);
    }
    on_every_database!(test);
}
