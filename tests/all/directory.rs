//! The company's directory of people over the REST API, on SQLite and PostgreSQL: runs fill
//! it, a connector looks people up in it, admins link and split identities, and what an
//! admin placed stands against later runs.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Harness, on_every_database};

/// Runs the `people` test connector of acme's install and returns its lookups by login.
async fn run_lookups(h: &Harness, install: &str) -> Value {
    let company = &h.acme.company;
    let run = h.run_of_acme(install).await;
    assert_eq!(run["status"], "succeeded", "{}: {run}", h.label);
    let records = h
        .get(&format!(
            "/api/companies/{company}/records?install={install}&stream=lookups"
        ))
        .await
        .json();
    let mut lookups = serde_json::Map::new();
    for record in records["items"].as_array().expect("items") {
        lookups.insert(
            record["key"].as_str().expect("key").to_owned(),
            record["data"].clone(),
        );
    }
    Value::Object(lookups)
}

/// The identities of a person as `system:id`.
fn identities(person: &Value) -> Vec<String> {
    person["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["system"].as_str().unwrap_or(""),
                i["id"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn runs_fill_the_directory_connectors_look_people_up_and_admins_adjust_it() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        let install = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs"),
                owner,
                Some(json!({ "plugin": "people", "config": { "logins": ["mona", "hubot"] } })),
            )
            .await;
        assert_eq!(install.status, StatusCode::CREATED, "{}", install.text());
        let install = install.json()["id"].as_str().expect("id").to_owned();

        // A run sees the directory as it was when it started: empty.
        let first = run_lookups(h, &install).await;
        assert_eq!(first["mona"], json!({ "person": null, "slack": null }));

        // What it saw is kept: each login with its verified email is one person.
        let people = h.directory_of_acme(2).await;
        let items = people["items"].as_array().expect("items");
        assert_eq!(items.len(), 2, "{}: {people}", h.label);
        let mona = items
            .iter()
            .find(|p| identities(p).contains(&"github:mona".to_owned()))
            .expect("mona");
        assert_eq!(identities(mona), ["github:mona", "email:mona@acme.example"]);
        assert_eq!(mona["name"], "mona");
        let mona_id = mona["id"].as_str().expect("id").to_owned();

        // Members read the directory; only admins change it.
        let reader = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/tokens"),
                owner,
                Some(json!({ "name": "reader", "role": "member" })),
            )
            .await
            .json();
        let reader = reader["value"].as_str().expect("token").to_owned();
        let person_path = format!("/api/companies/{company}/people/{mona_id}");
        let read = h.call(Method::GET, &person_path, Some(&reader), None).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text());
        let refused = h
            .call(
                Method::POST,
                &format!("{person_path}/identities"),
                Some(&reader),
                Some(json!({ "system": "slack", "id": "U0MONA" })),
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());

        // An admin links mona's Slack account; her next lookup finds it.
        let bad = h
            .call(
                Method::POST,
                &format!("{person_path}/identities"),
                owner,
                Some(json!({ "system": "Slack!", "id": "U0MONA" })),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(
            bad.json()["message"]
                .as_str()
                .expect("message")
                .contains("`Slack!`")
        );
        let linked = h
            .call(
                Method::POST,
                &format!("{person_path}/identities"),
                owner,
                Some(json!({ "system": "slack", "id": "U0MONA" })),
            )
            .await;
        assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
        assert_eq!(
            identities(&linked.json()),
            ["github:mona", "email:mona@acme.example", "slack:U0MONA"]
        );
        let second = run_lookups(h, &install).await;
        assert_eq!(
            second["mona"],
            json!({ "person": mona_id, "slack": "U0MONA" })
        );
        assert_eq!(second["hubot"]["slack"], Value::Null);

        // Found by any identity, in any case.
        let found = h
            .get(&format!("/api/companies/{company}/people?q=u0mon"))
            .await
            .json();
        assert_eq!(found["items"][0]["id"], mona_id.as_str(), "{found}");

        // An admin splits the GitHub login off; later runs do not undo it, though they see it
        // again with mona's verified email.
        let split = h
            .call(
                Method::DELETE,
                &format!("{person_path}/identities/github/MONA"),
                owner,
                None,
            )
            .await;
        assert_eq!(split.status, StatusCode::OK, "{}", split.text());
        let split = split.json();
        assert_eq!(
            identities(&split["from"]),
            ["email:mona@acme.example", "slack:U0MONA"]
        );
        assert_eq!(identities(&split["to"]), ["github:mona"]);
        let split_id = split["to"]["id"].as_str().expect("id").to_owned();
        let third = run_lookups(h, &install).await;
        assert_eq!(third["mona"], json!({ "person": split_id, "slack": null }));
        let after = h.get(&person_path).await.json();
        assert_eq!(
            identities(&after),
            ["email:mona@acme.example", "slack:U0MONA"],
            "{}: the run left the admin's split alone",
            h.label
        );

        // Splitting an identity the person does not have is a 404, and changes nothing.
        let not_theirs = h
            .call(
                Method::DELETE,
                &format!("{person_path}/identities/github/hubot"),
                owner,
                None,
            )
            .await;
        assert_eq!(not_theirs.status, StatusCode::NOT_FOUND);
        let everyone = h
            .get(&format!("/api/companies/{company}/people"))
            .await
            .json();
        assert_eq!(
            everyone["items"].as_array().map(Vec::len),
            Some(3),
            "{everyone}"
        );

        let actions = h.audit_actions(company).await;
        assert!(actions.iter().any(|a| a == "person.link"), "{actions:?}");
        assert!(actions.iter().any(|a| a == "person.unlink"), "{actions:?}");
    }
    on_every_database!(test);
}

#[tokio::test]
async fn concurrent_changes_to_a_directory_all_land() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        // Many writers at once, as runs finishing together would be: none overwrites another.
        let mut writers = tokio::task::JoinSet::new();
        for n in 0..12 {
            let store = h.store.clone();
            let company = company.clone();
            writers.spawn(async move {
                store
                    .change_people(&company, |book| {
                        book.observe(&sluice::people::Observation {
                            identity: sluice::people::Identity {
                                system: "slack".into(),
                                id: format!("U{n:04}"),
                            },
                            verified_email: Some(format!("user{n}@acme.example")),
                            name: None,
                        });
                    })
                    .await
                    .expect("a change")
                    .expect("the company exists");
            });
        }
        writers.join_all().await;
        let book = h.store.people_book(company).await.expect("the directory");
        assert_eq!(book.people().len(), 12, "{}", h.label);
        assert!(
            h.store
                .change_people("co_missing", |_| ())
                .await
                .expect("no error")
                .is_none()
        );
    }
    on_every_database!(test);
}
