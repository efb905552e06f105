//! The people interface: a connector reports identities and looks people up by any of them.

use std::sync::Arc;

use serde_json::{Value, json};
use sluice::egress::Grants;
use sluice::people::{Identity, Observation, Person, StaticDirectory};
use sluice::runtime::RunStatus;
use sluice_tests::guests;

use crate::support::{Collect, load, tight_runtime};

fn identity(system: &str, id: &str) -> Identity {
    Identity {
        system: system.into(),
        id: id.into(),
    }
}

#[test]
fn only_connectors_that_call_people_find_are_given_a_directory() {
    let runtime = tight_runtime();
    let people = load(&runtime, guests::PEOPLE_WASM, guests::PEOPLE_MANIFEST);
    let trivial = load(&runtime, guests::TRIVIAL_WASM, guests::TRIVIAL_MANIFEST);
    let github = load(&runtime, guests::GITHUB_WASM, guests::GITHUB_MANIFEST);
    assert!(
        people.looks_up_people(),
        "the people guest calls people.find"
    );
    assert!(!trivial.looks_up_people(), "the trivial guest never does");
    assert!(!github.looks_up_people(), "GitHub looks no one up");
}

#[tokio::test]
async fn a_connector_finds_a_person_by_github_login_and_reports_who_it_saw() {
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::PEOPLE_WASM, guests::PEOPLE_MANIFEST);
    let directory = StaticDirectory::new(vec![Person {
        id: "person-1".into(),
        name: Some("Mona".into()),
        identities: vec![
            identity("github", "octocat"),
            identity("slack", "U0MONA"),
            identity("email", "mona@acme.example"),
        ],
    }]);
    let outcome = runtime
        .run(
            &plugin,
            sluice::runtime::Call::Sync,
            sluice::runtime::RunContext {
                config: json!({ "logins": ["OctoCat", "stranger"] }),
                secrets: Default::default(),
                grants: Grants::default(),
                state: Default::default(),
                log: Arc::new(Collect::default()),
                people: Arc::new(directory),
            },
        )
        .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let lookups: Vec<(String, Value)> = outcome
        .records
        .iter()
        .map(|r| (r.key.clone(), serde_json::from_str(&r.json).expect("JSON")))
        .collect();
    assert_eq!(
        lookups,
        [
            (
                "OctoCat".to_owned(),
                json!({ "person": "person-1", "slack": "U0MONA" })
            ),
            (
                "stranger".to_owned(),
                json!({ "person": null, "slack": null })
            ),
        ]
    );
    assert_eq!(
        outcome.identities[0],
        Observation {
            identity: identity("github", "OctoCat"),
            verified_email: Some("OctoCat@acme.example".into()),
            name: Some("OctoCat".into()),
        }
    );
    assert_eq!(outcome.identities.len(), 2);
}

#[tokio::test]
async fn plugin_run_takes_a_people_file_and_writes_identities() {
    let dir = tempfile::tempdir().expect("tempdir");
    let people = dir.path().join("people.json");
    std::fs::write(&people, json!([{ "id": "p1", "identities": [{ "system": "github", "id": "octocat" }, { "system": "slack", "id": "U1" }] }]).to_string())
        .expect("people file");
    let config = dir.path().join("config.json");
    std::fs::write(&config, json!({ "logins": ["octocat"] }).to_string()).expect("config");
    let out = dir.path().join("out.jsonl");
    let identities = dir.path().join("identities.jsonl");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "plugin",
            "run",
            guests::PEOPLE_WASM,
            "--manifest",
            guests::PEOPLE_MANIFEST,
        ])
        .arg("--config")
        .arg(&config)
        .arg("--people")
        .arg(&people)
        .arg("--out")
        .arg(&out)
        .arg("--identities")
        .arg(&identities)
        .output()
        .expect("run sluice");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let record: Value =
        serde_json::from_str(std::fs::read_to_string(&out).expect("out").trim()).expect("JSON");
    assert_eq!(record["data"]["slack"], "U1");
    let seen: Value = serde_json::from_str(
        std::fs::read_to_string(&identities)
            .expect("identities")
            .trim(),
    )
    .expect("JSON");
    assert_eq!(
        seen,
        json!({ "identity": { "system": "github", "id": "octocat" }, "verified_email": "octocat@acme.example", "name": "octocat" })
    );

    std::fs::write(&people, "{not json").expect("people file");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "plugin",
            "run",
            guests::PEOPLE_WASM,
            "--manifest",
            guests::PEOPLE_MANIFEST,
        ])
        .arg("--config")
        .arg(&config)
        .arg("--people")
        .arg(&people)
        .output()
        .expect("run sluice");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot use the people file"));
}
