//! A connector's state: what it deletes reads as absent in the same run and is gone from
//! the state its run commits; deleting frees room under the state's caps; and a component
//! built against interface 0.1.0, before `state.delete` existed, still runs and keeps state.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sluice::egress::Grants;
use sluice::people::{Identity, Person, StaticDirectory};
use sluice::runtime::{Call, Limits, RunContext, RunOutcome, RunStatus, Runtime};
use sluice_tests::guests;

use crate::harness::{Harness, on_every_database};
use crate::support::{Collect, load};

/// State as a map, from `(key, value)` pairs.
fn state(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// What the state guest's gets answered, from its run's note: `[[key, value or null], …]`.
fn answers(note: Option<&str>) -> Value {
    serde_json::from_str(note.expect("a note")).expect("the note is JSON")
}

/// Acme's install's state as the store committed it.
async fn committed(h: &Harness, install: &str) -> BTreeMap<String, String> {
    h.store
        .install_state(&h.acme.company, install)
        .await
        .expect("the install's state")
}

#[tokio::test]
async fn a_deleted_key_reads_as_absent_in_its_run_and_is_gone_from_the_state_it_commits() {
    async fn test(h: &Harness) {
        let label = h.label;
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        let install = h
            .install_of_acme(json!({ "plugin": "state", "config": { "steps": [
                    { "set": ["a", "1"] },
                    { "set": ["b", "2"] },
                    { "set": ["c", "3"] },
                    { "get": "b" },
                    { "delete": "b" },
                    { "delete": "never-set" },
                    { "get": "a" },
                    { "get": "b" },
                    { "get": "never-set" }
                ] } }))
            .await;

        // The first run sets three keys, deletes one of them and one that was never set.
        let first = h.run_of_acme(&install).await;
        assert_eq!(first["status"], "succeeded", "{label}: {first}");
        assert_eq!(
            answers(first["note"].as_str()),
            json!([["b", "2"], ["a", "1"], ["b", null], ["never-set", null]]),
            "{label}: a deleted key reads as absent in the same run"
        );
        assert_eq!(
            committed(h, &install).await,
            state(&[("a", "1"), ("c", "3")]),
            "{label}: the committed state lacks the deleted key"
        );

        // The second run starts from that commit: what the first deleted is not there; it
        // deletes another key, and sets one it deleted again.
        let changed = h
            .call(
                Method::PATCH,
                &format!("/api/companies/{company}/installs/{install}"),
                owner,
                Some(json!({ "config": { "steps": [
                    { "get": "b" },
                    { "get": "c" },
                    { "delete": "a" },
                    { "set": ["d", "4"] },
                    { "delete": "d" },
                    { "set": ["d", "5"] },
                    { "get": "a" },
                    { "get": "d" }
                ] } })),
            )
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
        let second = h.run_of_acme(&install).await;
        assert_eq!(second["status"], "succeeded", "{label}: {second}");
        assert_eq!(
            answers(second["note"].as_str()),
            json!([["b", null], ["c", "3"], ["a", null], ["d", "5"]]),
            "{label}: what the first run deleted stays gone"
        );
        assert_eq!(
            committed(h, &install).await,
            state(&[("c", "3"), ("d", "5")]),
            "{label}"
        );
    }
    on_every_database!(test);
}

/// Runs a sync of `plugin` on `runtime` from `state`, looking people up in `directory`.
async fn sync_from(
    runtime: &Runtime,
    plugin: &sluice::runtime::Plugin,
    config: Value,
    state: BTreeMap<String, String>,
    directory: StaticDirectory,
) -> RunOutcome {
    runtime
        .run(
            plugin,
            Call::Sync,
            RunContext {
                config,
                secrets: Default::default(),
                grants: Grants::default(),
                state,
                log: Arc::new(Collect::default()),
                people: Arc::new(directory),
            },
        )
        .await
}

#[tokio::test]
async fn a_deleted_entry_frees_its_room_under_the_state_caps() {
    let runtime = Runtime::new(
        None,
        Limits {
            state_entries: 2,
            state_bytes: 8,
            ..Limits::default()
        },
    )
    .expect("a runtime");
    let plugin = load(&runtime, guests::STATE_WASM, guests::STATE_MANIFEST);
    // Two entries of two, eight bytes of eight.
    let full = || state(&[("a", "12345"), ("b", "1")]);
    let run = |steps: Value| {
        sync_from(
            &runtime,
            &plugin,
            json!({ "steps": steps }),
            full(),
            StaticDirectory::default(),
        )
    };

    let third = run(json!([{ "set": ["c", "1"] }])).await;
    assert_eq!(third.status, RunStatus::Failed);
    assert_eq!(
        third.error.map(|e| e.to_string()).as_deref(),
        Some("stopped: more than 2 state entries")
    );
    let room = run(json!([{ "delete": "b" }, { "set": ["c", "1"] }])).await;
    assert_eq!(room.status, RunStatus::Succeeded, "{:?}", room.error);
    assert_eq!(room.state, state(&[("a", "12345"), ("c", "1")]));

    let larger = run(json!([{ "delete": "b" }, { "set": ["c", "12"] }])).await;
    assert_eq!(larger.status, RunStatus::Failed);
    assert_eq!(
        larger.error.map(|e| e.to_string()).as_deref(),
        Some(
            "stopped: state value `c` would take the run's state to 9 bytes, over the cap of 8 bytes"
        ),
        "deleting `b` freed its two bytes, not more"
    );
    let smaller = run(json!([{ "delete": "a" }, { "set": ["c", "12345"] }])).await;
    assert_eq!(smaller.status, RunStatus::Succeeded, "{:?}", smaller.error);
    assert_eq!(smaller.state, state(&[("b", "1"), ("c", "12345")]));
}

#[tokio::test]
async fn a_component_built_against_interface_0_1_0_still_runs_and_keeps_its_state() {
    let wasm = std::fs::read(guests::API_0_1_0_WASM).expect("the built component");
    let text = String::from_utf8_lossy(&wasm);
    assert!(
        text.contains("sluice:connector/state@0.1.0")
            && !text.contains("sluice:connector/state@0.1.1"),
        "the guest imports the interface at 0.1.0, as components published before 0.1.1 do"
    );
    let runtime = crate::support::tight_runtime();
    let plugin = load(&runtime, guests::API_0_1_0_WASM, guests::API_0_1_0_MANIFEST);
    assert_eq!(plugin.manifest().api_version, "0.1.0");
    assert!(
        plugin.looks_up_people(),
        "its import of people.find at 0.1.0 is seen, so the worker gives it a directory"
    );
    let directory = || {
        StaticDirectory::new(vec![Person {
            id: "person-1".into(),
            name: Some("Mona".into()),
            identities: vec![Identity {
                system: "github".into(),
                id: "octocat".into(),
            }],
        }])
    };
    let mut kept = BTreeMap::new();
    for run in 1..=2 {
        let outcome = sync_from(&runtime, &plugin, json!({}), kept, directory()).await;
        assert_eq!(
            outcome.status,
            RunStatus::Succeeded,
            "run {run}: {:?}",
            outcome.error
        );
        let record: Value = serde_json::from_str(&outcome.records[0].json).expect("a JSON record");
        assert_eq!(record, json!({ "runs": run, "octocat": "person-1" }));
        assert_eq!(outcome.state, state(&[("runs", &run.to_string())]));
        kept = outcome.state;
    }
}
