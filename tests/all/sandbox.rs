//! Hostile connectors: each is stopped (or contained) with a precise message, and the
//! runtime keeps running healthy connectors afterwards.

use serde_json::json;
use sluice::egress::Grants;
use sluice::runtime::{Call, RunError, RunStatus, Runtime, Source};
use sluice_tests::guests;

use crate::support::{hosts, load, run_call, sync, tight_runtime};

/// Proves the runtime still answers: a trivial connector runs to success.
pub(crate) async fn assert_still_serving(runtime: &Runtime) {
    let trivial = load(runtime, guests::TRIVIAL_WASM, guests::TRIVIAL_MANIFEST);
    let (outcome, _) = sync(runtime, &trivial, json!({}), Grants::default(), &[]).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.records.len(), 1);
}

async fn hostile(runtime: &Runtime, behaviour: &str) -> (sluice::runtime::RunOutcome, String) {
    let plugin = load(runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let (outcome, log) = sync(
        runtime,
        &plugin,
        json!({ "behaviour": behaviour }),
        Grants::default(),
        &[],
    )
    .await;
    (outcome, log.text())
}

#[tokio::test]
async fn an_endless_loop_is_stopped_at_its_cpu_deadline() {
    let runtime = tight_runtime();
    let (outcome, log) = hostile(&runtime, "endless-loop").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.expect("an error").to_string();
    assert_eq!(
        error,
        "stopped: the connector ran for more than 1s of CPU time (an endless loop?)"
    );
    assert!(log.contains(&error), "the run log says why: {log}");
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn endless_memory_growth_is_stopped_at_the_cap() {
    let runtime = tight_runtime();
    let (outcome, _) = hostile(&runtime, "memory-hog").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    match outcome.error {
        Some(RunError::MemoryCap { desired, cap }) => {
            assert_eq!(cap, 32 << 20);
            assert!(desired > cap);
        }
        other => panic!("expected the memory cap, got {other:?}"),
    }
    assert!(outcome.stats.peak_memory_bytes <= 32 << 20);
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn a_log_flood_is_cut_at_the_run_budget() {
    // 200,000 host calls take about a second; the budget leaves room for a loaded machine.
    let runtime = Runtime::new(
        None,
        sluice::runtime::Limits {
            log_lines: 1_000,
            cpu_time: std::time::Duration::from_secs(30),
            ..sluice::runtime::Limits::default()
        },
    )
    .expect("a runtime");
    let (outcome, log) = hostile(&runtime, "log-flood").await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(outcome.stats.log_lines, 1_000);
    assert_eq!(outcome.stats.dropped_log_lines, 199_000);
    assert!(
        log.contains(
            "199000 log lines were dropped over the run's cap of 1000 lines or 67108864 bytes"
        ),
        "{}",
        &log[log.len() - 300..]
    );
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn a_record_flood_is_stopped_at_the_run_cap() {
    let runtime = tight_runtime();
    let (outcome, _) = hostile(&runtime, "record-flood").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_ref().map(ToString::to_string).as_deref(),
        Some("stopped: the connector emitted more than 8388608 bytes of records in one run")
    );
    assert!(
        !outcome.keeps_output(),
        "a failed run keeps none of its records"
    );
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn a_state_flood_stops_at_the_runs_state_bytes_cap() {
    let runtime = tight_runtime();
    let (outcome, _) = hostile(&runtime, "state-flood").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    // Three entries of 1 MiB and their keys fit in 4 MiB; the fourth would not.
    assert_eq!(
        outcome.error.as_ref().map(ToString::to_string).as_deref(),
        Some(
            "stopped: state value `page-3` would take the run's state to 4194328 bytes, over the cap of 4194304 bytes"
        )
    );
    assert!(
        !outcome.keeps_output(),
        "a failed run keeps none of its state"
    );
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn a_connection_check_has_a_shorter_deadline_than_a_run() {
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::TRIVIAL_WASM, guests::TRIVIAL_MANIFEST);
    let paused = json!({ "pause_ms": 1_500 });
    let (check, _) = run_call(
        &runtime,
        &plugin,
        Call::Check,
        paused.clone(),
        Grants::default(),
        &[],
    )
    .await;
    assert_eq!(check.status, RunStatus::Failed);
    assert_eq!(
        check.error.as_ref().map(ToString::to_string).as_deref(),
        Some("stopped: the run passed its 1s deadline")
    );
    let (run, _) = sync(&runtime, &plugin, paused, Grants::default(), &[]).await;
    assert_eq!(
        run.status,
        RunStatus::Succeeded,
        "a run of the same pause is within its own deadline: {:?}",
        run.error
    );
}

#[tokio::test]
async fn a_gigantic_string_is_refused() {
    let runtime = tight_runtime();
    let (outcome, _) = hostile(&runtime, "giant-string").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_ref().map(ToString::to_string).as_deref(),
        Some("stopped: state value `cursor` of 8388608 bytes is over the cap of 1048576 bytes")
    );
    assert!(
        outcome.state.is_empty(),
        "nothing of the refused value is kept"
    );
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn a_plugin_blocked_in_a_host_call_is_stopped_at_its_wall_deadline() {
    let runtime = tight_runtime();
    let (outcome, _) = hostile(&runtime, "sleep").await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.error.as_ref().map(ToString::to_string).as_deref(),
        Some("stopped: the run passed its 3s deadline")
    );
    assert!(outcome.stats.wall_time < std::time::Duration::from_secs(10));
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn stdout_and_stderr_go_to_the_run_log() {
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let (outcome, log) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": "print" }),
        Grants::default(),
        &[],
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let lines = log.0.lock().expect("log lock");
    let stdio: Vec<&str> = lines
        .iter()
        .filter(|l| l.source == Source::Stdio)
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(stdio, ["to stdout", "to stderr"]);
}

#[tokio::test]
async fn a_secret_echoed_back_is_redacted_from_the_log() {
    let spy = crate::support::Spy::start().await;
    let runtime = tight_runtime();
    let plugin = load(&runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let url = format!("http://127.0.0.1:{}/echo-auth", spy.port);
    let private = format!("127.0.0.1:{}", spy.port);
    let (outcome, log) = sync(
        &runtime,
        &plugin,
        json!({ "behaviour": "leak-secret", "url": url }),
        Grants {
            hosts: vec![],
            private_hosts: hosts(&[&private]),
            ..Grants::default()
        },
        &[("token", "canary-5f3a9c1e")],
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let log = log.text();
    assert!(
        log.contains("the service echoed: Bearer [redacted]"),
        "{log}"
    );
    assert!(log.contains("header=Bearer [redacted]"), "{log}");
    assert!(!log.contains("canary-5f3a9c1e"), "{log}");
}

#[tokio::test]
async fn compiled_components_are_cached_on_disk_across_restarts() {
    let cache = tempfile::tempdir().expect("tempdir");
    let wasm = std::fs::read(guests::TRIVIAL_WASM).expect("the trivial component");
    let manifest = || {
        sluice::manifest::Manifest::load(std::path::Path::new(guests::TRIVIAL_MANIFEST))
            .expect("manifest")
    };
    // Every compiled artifact of the cache with its modification time (wasmtime's usage
    // statistics and clean-up markers change on every read, so they are left out).
    fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files(&path));
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
                // The cache keeps usage statistics beside each artifact, written from its
                // own thread through a `.wip-atomic-write-stats` file.
                && (name.ends_with(".stats")
                    || name.ends_with("-stats")
                    || name.starts_with(".cleanup"))
            {
                continue;
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                found.push((path, modified));
            }
        }
        found.sort();
        found
    }
    {
        let runtime =
            Runtime::new(Some(cache.path()), sluice::runtime::Limits::default()).expect("runtime");
        runtime.load(&wasm, manifest()).expect("load");
    }
    let cached = files(cache.path());
    assert!(
        !cached.is_empty(),
        "compiling wrote the artifact to the cache"
    );
    let restarted =
        Runtime::new(Some(cache.path()), sluice::runtime::Limits::default()).expect("runtime");
    let plugin = restarted
        .load(&wasm, manifest())
        .expect("load from the cache");
    assert_eq!(
        files(cache.path()),
        cached,
        "a restart reads the artifact instead of compiling and writing it again"
    );
    let (outcome, _) = sync(&restarted, &plugin, json!({}), Grants::default(), &[]).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
}
