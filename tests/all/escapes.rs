//! A hostile connector tries every way out of its sandbox and every cap the host keeps:
//! each attempt gets its exact refusal, and the runtime runs a healthy connector after it.
//!
//! Where wasmtime copies a value out of the guest before the host can look at it (an
//! import's arguments, an export's result), the bound is the instance's memory cap: a
//! value larger than the guest's memory cannot exist to be copied, and the attempt to
//! build one stops at that cap.

use serde_json::{Value, json};
use sluice::egress::Grants;
use sluice::runtime::{RunError, RunOutcome, RunStatus, Runtime};
use sluice_tests::guests;

use crate::sandbox::assert_still_serving;
use crate::support::{Spy, hosts, load, sync, tight_runtime};

/// The tight runtime's memory cap.
const MEMORY_CAP: usize = 32 << 20;

/// Runs the hostile connector with `config` and `grants`; returns its outcome and log.
async fn attempt(runtime: &Runtime, config: Value, grants: Grants) -> (RunOutcome, String) {
    let plugin = load(runtime, guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST);
    let (outcome, log) = sync(runtime, &plugin, config, grants, &[]).await;
    (outcome, log.text())
}

/// Grants reaching `spy` as the private host the tight runtime's operator allows.
fn reaching(spy: &Spy) -> Grants {
    Grants {
        private_hosts: hosts(&[&format!("127.0.0.1:{}", spy.port)]),
        ..Grants::default()
    }
}

fn error_of(outcome: &RunOutcome) -> Option<String> {
    outcome.error.as_ref().map(ToString::to_string)
}

fn state_of<'a>(outcome: &'a RunOutcome, key: &str) -> &'a str {
    outcome.state.get(key).map_or("(unset)", String::as_str)
}

/// Asserts the run was stopped at the memory cap, before the host saw the value.
fn assert_memory_cap(outcome: &RunOutcome) {
    assert_eq!(outcome.status, RunStatus::Failed);
    match &outcome.error {
        Some(RunError::MemoryCap { desired, cap }) => {
            assert_eq!(*cap, MEMORY_CAP);
            assert!(*desired > *cap);
        }
        other => panic!("expected the memory cap, got {other:?}"),
    }
}

#[tokio::test]
async fn files_cannot_be_read_or_listed() {
    let runtime = tight_runtime();
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "read-file" }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    // No directory is opened to the connector, so no path names a file.
    let no_file = "error: NotFound: No such file or directory (os error 44)";
    assert_eq!(state_of(&outcome, "read-file"), no_file);
    assert_eq!(state_of(&outcome, "read-relative"), no_file);
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "list-root" }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(state_of(&outcome, "list-root"), no_file);
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn the_environment_is_empty() {
    let runtime = tight_runtime();
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "environment" }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(state_of(&outcome, "vars"), "", "no variable of the host's");
    assert_eq!(state_of(&outcome, "args"), "");
    assert_eq!(state_of(&outcome, "home"), "Err(NotPresent)");
    // WASI's libc answers `/` when nothing is opened; `/` itself does not list.
    assert_eq!(state_of(&outcome, "cwd"), "ok: \"/\"");
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn sockets_cannot_be_opened_and_names_cannot_be_looked_up() {
    let spy = Spy::start().await;
    let runtime = tight_runtime();
    let url = format!("http://127.0.0.1:{}/", spy.port);
    // Even granted as a private host, the address is reached only through `http.send`.
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "socket", "url": url }),
        reaching(&spy),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let refused = "error: PermissionDenied: Permission denied (os error 2)";
    assert_eq!(state_of(&outcome, "tcp"), refused);
    assert_eq!(state_of(&outcome, "udp"), refused);
    assert_eq!(state_of(&outcome, "listen"), refused);
    assert_eq!(
        state_of(&outcome, "lookup"),
        "error: Uncategorized: failed to lookup address information: Non-recoverable error"
    );
    assert!(spy.hits().is_empty(), "nothing reached the spy");
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn the_clock_is_the_hosts_and_random_bytes_differ_between_runs() {
    let runtime = tight_runtime();
    let config = json!({ "behaviour": "clock-random" });
    let (first, _) = attempt(&runtime, config.clone(), Grants::default()).await;
    let (second, _) = attempt(&runtime, config, Grants::default()).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.error);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let seen: u128 = state_of(&first, "now_ms").parse().expect("milliseconds");
    // The guest reads the host's wall clock, not a frozen or zero one: the same minute.
    assert!(now.abs_diff(seen) < 60_000, "guest {seen}, host {now}");
    assert_ne!(
        state_of(&first, "random"),
        state_of(&second, "random"),
        "each run draws its own random bytes"
    );
}

#[tokio::test]
async fn stdout_without_end_is_cut_at_the_log_budget_and_stopped_at_the_cpu_deadline() {
    let runtime = tight_runtime();
    let (outcome, log) = attempt(
        &runtime,
        json!({ "behaviour": "stdout-flood" }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        error_of(&outcome).as_deref(),
        Some("stopped: the connector ran for more than 1s of CPU time (an endless loop?)")
    );
    assert_eq!(
        outcome.stats.log_lines, 1_000,
        "the tight runtime's line budget"
    );
    assert!(outcome.stats.dropped_log_lines > 0);
    assert!(
        log.contains("[stdio] stdout line 999\n"),
        "{:?}",
        log.lines().take(3).collect::<Vec<_>>()
    );
    assert!(!log.contains("[stdio] stdout line 1000\n"));
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn endless_recursion_ends_the_run_when_its_stack_runs_out() {
    let runtime = tight_runtime();
    // Frames on the engine's call stack run out of it.
    let (outcome, log) = attempt(
        &runtime,
        json!({ "behaviour": "recurse" }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        error_of(&outcome).as_deref(),
        Some("the connector crashed: wasm trap: call stack exhausted"),
        "{log}"
    );
    assert!(
        log.contains("[host] error while executing at wasm backtrace:"),
        "where it happened is in the log: {log}"
    );
    // Frames in the connector's memory run below its start, which traps rather than
    // writing over its data: the stack is laid out first.
    let (outcome, log) = attempt(
        &runtime,
        json!({ "behaviour": "recurse-in-memory" }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        error_of(&outcome).as_deref(),
        Some("the connector crashed: wasm trap: out of bounds memory access"),
        "{log}"
    );
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn a_gigantic_note_or_error_is_cut_to_a_log_lines_length() {
    let runtime = tight_runtime();
    let size = 8 << 20;
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "giant-note", "count": size }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    let kept = 16 << 10;
    assert_eq!(
        outcome.note,
        Some(format!(
            "{}… [{} more bytes cut]",
            "n".repeat(kept),
            size - kept
        ))
    );

    let (outcome, log) = attempt(
        &runtime,
        json!({ "behaviour": "giant-error", "count": size }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = format!(
        "upstream error: {}… [{} more bytes cut]",
        "e".repeat(kept),
        size - kept
    );
    assert_eq!(error_of(&outcome), Some(error));
    assert!(log.len() < 64 << 10, "the log's line is cut too");
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn random_bytes_are_capped_per_call_before_the_host_draws_them() {
    let runtime = tight_runtime();
    let cap = sluice::runtime::Limits::default().random_bytes;
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "random-bytes", "count": cap }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert_eq!(state_of(&outcome, "random-bytes"), cap.to_string());
    // One byte more, and WASI's own default cap (64 MiB), are refused whole: the run ends
    // naming the request, and the host never drew the bytes.
    for asked in [cap + 1, 64 << 20] {
        let (outcome, log) = attempt(
            &runtime,
            json!({ "behaviour": "random-bytes", "count": asked }),
            Grants::default(),
        )
        .await;
        assert_eq!(outcome.status, RunStatus::Failed);
        assert_eq!(
            error_of(&outcome),
            Some(format!(
                "the connector crashed: requested len {asked} exceeds limit {cap}"
            )),
            "{log}"
        );
        assert!(
            log.contains("[host] error while executing at wasm backtrace:"),
            "where it asked is in the log: {log}"
        );
    }
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn a_note_larger_than_the_guests_memory_stops_at_the_memory_cap() {
    let runtime = tight_runtime();
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "giant-note", "count": 40 << 20 }),
        Grants::default(),
    )
    .await;
    assert_memory_cap(&outcome);
    assert_eq!(outcome.note, None);
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn a_gigantic_list_is_refused_by_the_host_or_stopped_at_the_memory_cap() {
    let runtime = tight_runtime();
    // Half a million empty records fit in the guest's 32 MiB; the host copies the list
    // out, then refuses the batch.
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "giant-list", "count": 500_000 }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        error_of(&outcome).as_deref(),
        Some("connector bug: a batch of 500000 records is over the cap of 10000")
    );
    assert!(outcome.records.is_empty());
    // Four million do not: building the list stops at the memory cap, so no list that the
    // host would copy can be larger than the guest's memory.
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "giant-list", "count": 4_000_000 }),
        Grants::default(),
    )
    .await;
    assert_memory_cap(&outcome);
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn a_record_over_the_cap_is_refused_with_its_size() {
    let runtime = tight_runtime();
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "giant-record", "count": 4 << 20 }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    // `{"filler":"…"}` is the filler and 13 bytes; the key `big` 3 more.
    assert_eq!(
        error_of(&outcome).as_deref(),
        Some(
            "connector bug: emit to `flood`: record `big` of `flood`: 4194320 bytes, over the cap of 4194304 bytes"
        )
    );
    assert!(outcome.records.is_empty());
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn names_over_the_cap_are_refused() {
    let runtime = tight_runtime();
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "long-key", "count": 513 }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        error_of(&outcome),
        Some(format!(
            "connector bug: emit to `flood`: record `{}` of `flood`: the key must be 1 to 512 bytes, not 513",
            "k".repeat(80)
        ))
    );
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "long-state-key", "count": 513 }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        error_of(&outcome).as_deref(),
        Some("stopped: a state key must be 1 to 512 bytes, not 513")
    );
    assert!(outcome.state.is_empty());
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn state_entries_over_the_cap_stop_the_run() {
    let runtime = tight_runtime();
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "state-entries", "count": 10_001 }),
        Grants::default(),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        error_of(&outcome).as_deref(),
        Some("stopped: more than 10000 state entries")
    );
    assert!(!outcome.keeps_output());
    assert_still_serving(&runtime).await;
}

/// Runs `behaviour` toward a spy with `count`, expecting it refused before anything is sent;
/// returns the run's log.
async fn refused_before_sending(behaviour: &str, count: usize) -> String {
    let spy = Spy::start().await;
    let runtime = tight_runtime();
    let url = format!("http://127.0.0.1:{}/", spy.port);
    let (outcome, log) = attempt(
        &runtime,
        json!({ "behaviour": behaviour, "url": url, "count": count }),
        reaching(&spy),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        error_of(&outcome).as_deref(),
        Some("upstream error: the request or its response is larger than the host allows")
    );
    assert!(spy.hits().is_empty(), "nothing was sent");
    assert_eq!(outcome.stats.http_requests, 0);
    assert_still_serving(&runtime).await;
    log
}

#[tokio::test]
async fn too_many_request_headers_are_refused_before_sending() {
    let log = refused_before_sending("many-headers", 65).await;
    assert!(
        log.contains(": too large: 65 request headers, over the cap of 64\n"),
        "{log}"
    );
}

#[tokio::test]
async fn a_request_body_over_the_cap_is_refused_before_sending() {
    let log = refused_before_sending("big-body", (8 << 20) + 1).await;
    assert!(
        log.contains(": too large: request body of 8388609 bytes, over the cap of 8388608\n"),
        "{log}"
    );
}

#[tokio::test]
async fn a_response_over_the_cap_is_refused_announced_or_not() {
    let spy = Spy::start().await;
    let runtime = tight_runtime();
    let over = (32 << 20) + 1;
    for query in [format!("n={over}"), format!("n={over}&chunked")] {
        let url = format!("http://127.0.0.1:{}/bytes?{query}", spy.port);
        let (outcome, log) = attempt(
            &runtime,
            json!({ "behaviour": "big-response", "url": url }),
            reaching(&spy),
        )
        .await;
        assert_eq!(outcome.status, RunStatus::Failed, "{query}");
        assert_eq!(
            error_of(&outcome).as_deref(),
            Some("upstream error: the request or its response is larger than the host allows")
        );
        assert!(
            log.contains(&format!(
                "GET {url}: too large: response body over the cap of 33554432 bytes\n"
            )),
            "{log}"
        );
    }
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn a_response_within_the_cap_but_over_the_guests_memory_stops_at_the_memory_cap() {
    let spy = Spy::start().await;
    let runtime = tight_runtime();
    // The whole response cap: the host takes it, and copying it into the guest needs more
    // memory than the guest's 32 MiB.
    let url = format!("http://127.0.0.1:{}/bytes?n={}", spy.port, 32 << 20);
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "big-response", "url": url }),
        reaching(&spy),
    )
    .await;
    assert_memory_cap(&outcome);
    assert_still_serving(&runtime).await;
}

#[tokio::test]
async fn more_redirects_than_allowed_end_the_request() {
    let spy = Spy::start().await;
    let runtime = tight_runtime();
    let url = format!("http://127.0.0.1:{}/loop", spy.port);
    let (outcome, _) = attempt(
        &runtime,
        json!({ "behaviour": "fetch", "url": url }),
        reaching(&spy),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        error_of(&outcome),
        Some(format!(
            "upstream error: network error: more than 10 redirects starting at {url}"
        ))
    );
    assert_eq!(spy.hits().len(), 11, "the first request and 10 redirects");
    assert_eq!(outcome.stats.http_requests, 11);
    assert_still_serving(&runtime).await;
}
