//! Every list pages: `?limit=1` and each answer's `next` as `after` walk the whole list,
//! each item once, in the order one large page gives. The lists come from the OpenAPI
//! document, so a new list without a walk here fails.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api::{Session, login, session_of, with_cookie};
use crate::harness::{Harness, on_every_database};

/// Every documented list: each GET operation that takes `after` and `limit` (the live
/// log's event stream takes `after` alone, to resume; `live_log.rs` tests it).
fn paged_routes() -> Vec<String> {
    let document = serde_json::to_value(sluice::api::openapi()).expect("document");
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let takes = |name: &str| {
            item["get"]["parameters"]
                .as_array()
                .is_some_and(|parameters| parameters.iter().any(|p| p["name"] == name))
        };
        if takes("after") && takes("limit") {
            routes.push(path.clone());
        }
    }
    routes
}

/// Who reads a list: the owner's token, or their session for the companies a person
/// belongs to (a token sees only its own).
enum Reader<'a> {
    Token(&'a str),
    Session(&'a Session),
}

async fn get(h: &Harness, reader: &Reader<'_>, path: &str) -> Value {
    let answer = match reader {
        Reader::Token(token) => h.call(Method::GET, path, Some(token), None).await,
        Reader::Session(session) => with_cookie(h, Method::GET, path, session, None).await,
    };
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text());
    answer.json()
}

/// The whole list in one page, and the list walked a page of one at a time.
async fn walk(h: &Harness, reader: &Reader<'_>, path: &str) -> (Vec<Value>, Vec<Value>) {
    let whole = get(h, reader, &format!("{path}?limit=500")).await;
    assert_eq!(whole["next"], Value::Null, "{path}: one page holds it all");
    let whole = whole["items"].as_array().expect("items").clone();
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let url = match &after {
            Some(after) => format!("{path}?limit=1&after={after}"),
            None => format!("{path}?limit=1"),
        };
        let page = get(h, reader, &url).await;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 1, "{url}: a page of at most `limit`");
        walked.extend(items.iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
        assert!(walked.len() <= whole.len(), "{path}: the walk does not end");
    }
    (whole, walked)
}

#[tokio::test]
async fn every_list_walks_a_page_at_a_time_through_every_item_once() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = h.acme.token.as_str();
        let base = format!("/api/companies/{company}");
        let call = |method: Method, path: String, body: Option<Value>| async move {
            let answer = h.call(method, &path, Some(owner), body).await;
            assert!(answer.status.is_success(), "{path}: {}", answer.text());
            if answer.body.is_empty() {
                Value::Null
            } else {
                answer.json()
            }
        };
        // At least two of everything a list shows.
        for name in ["first", "second"] {
            call(
                Method::PUT,
                format!("{base}/secrets/{name}"),
                Some(json!({ "value": "v" })),
            )
            .await;
            call(
                Method::POST,
                format!("{base}/members"),
                Some(json!({ "email": format!("{name}@acme.test"), "role": "member" })),
            )
            .await;
            call(
                Method::POST,
                format!("{base}/tokens"),
                Some(json!({ "name": name })),
            )
            .await;
        }
        let session = session_of(&login(h, &h.acme.email, &h.acme.password).await);
        for name in ["Initech", "Umbrella"] {
            let created = with_cookie(
                h,
                Method::POST,
                "/api/companies",
                &session,
                Some(json!({ "name": name })),
            )
            .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        }
        let people = call(
            Method::POST,
            format!("{base}/installs"),
            Some(json!({ "plugin": "people", "config": { "logins": ["ada", "bob", "cy"] }, "grants": {} })),
        )
        .await;
        let printing = call(
            Method::POST,
            format!("{base}/installs"),
            Some(json!({
                "plugin": "hostile",
                "config": { "behaviour": "print" },
                "grants": { "secrets": { "token": "first" } },
            })),
        )
        .await;
        h.run_of_acme(people["id"].as_str().expect("id")).await;
        for delivery in ["d-1", "d-2"] {
            h.store
                .refuse_delivery(
                    company,
                    people["id"].as_str().expect("id"),
                    "github",
                    Some(delivery),
                    "forged",
                )
                .await
                .expect("a delivery");
        }
        let printed = h.run_of_acme(printing["id"].as_str().expect("id")).await;
        assert_eq!(printed["status"], "succeeded", "{}: {printed}", h.label);
        let run = printed["id"].as_str().expect("a run id");

        let owner_reader = Reader::Token(owner);
        let session_reader = Reader::Session(&session);
        let lists = paged_routes();
        for route in &lists {
            let (path, reader) = match route.as_str() {
                "/api/companies" => (route.clone(), &session_reader),
                "/api/companies/{company}/runs/{run}/logs" => {
                    (format!("{base}/runs/{run}/logs"), &owner_reader)
                }
                other => match other.strip_prefix("/api/companies/{company}") {
                    Some(rest) if !rest.contains('{') => (format!("{base}{rest}"), &owner_reader),
                    _ => panic!("{other} is a list: give it a walk here"),
                },
            };
            let (whole, walked) = walk(h, reader, &path).await;
            assert!(
                whole.len() >= 2,
                "{}: {path} has items to page: {whole:?}",
                h.label
            );
            assert_eq!(walked, whole, "{}: {path}", h.label);
        }
        assert!(lists.len() >= 11, "{lists:?}");
    }
    on_every_database!(test);
}
