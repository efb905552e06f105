//! Instantiate + call of a trivial connector in a fresh sandbox per run, against the same
//! trivial work done by a native process spawned per run (a container-per-run design's
//! floor). Prints p50 and p99 in µs, and the ratio.
//!
//! `cargo bench -p sluice-tests --bench runtime`

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::egress::Grants;
use sluice::manifest::Manifest;
use sluice::people::StaticDirectory;
use sluice::runtime::{Call, Limits, LogSink, RunContext, RunStatus, Runtime};
use sluice::secrets::SecretSet;
use sluice_tests::{DiscardLog, guests};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

/// The context of a benchmark run: no config, secrets, grants or state.
fn context(log: Arc<dyn LogSink>, people: Arc<dyn sluice::people::Directory>) -> RunContext {
    RunContext {
        config: serde_json::json!({}),
        secrets: SecretSet::default(),
        grants: Grants::default(),
        state: BTreeMap::new(),
        log,
        people,
    }
}

/// Time from a runtime's start to the end of its first run, with the compiled-component
/// cache in `cache` (empty: the component is compiled; filled: it is read back).
fn first_run(tokio: &tokio::runtime::Runtime, cache: &std::path::Path) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let runtime = Runtime::new(Some(cache), Limits::default())?;
    let manifest = Manifest::load(std::path::Path::new(guests::TRIVIAL_MANIFEST))?;
    let plugin = runtime.load(&std::fs::read(guests::TRIVIAL_WASM)?, manifest)?;
    let outcome = tokio.block_on(runtime.run(
        &plugin,
        Call::Sync,
        context(Arc::new(DiscardLog), Arc::new(StaticDirectory::default())),
    ));
    anyhow::ensure!(
        outcome.status == RunStatus::Succeeded,
        "the first run failed: {:?}",
        outcome.error
    );
    Ok(start.elapsed())
}

fn main() -> anyhow::Result<()> {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cache = tempfile::tempdir()?;
    let cold = first_run(&tokio, cache.path())?;
    let warm = first_run(&tokio, cache.path())?;
    println!("start + first run of the trivial connector:");
    println!(
        "  compiled on start         {:9.1} ms",
        cold.as_secs_f64() * 1e3
    );
    println!(
        "  read from the disk cache  {:9.1} ms",
        warm.as_secs_f64() * 1e3
    );
    let runtime = Runtime::new(None, Limits::default())?;
    let manifest = Manifest::load(std::path::Path::new(guests::TRIVIAL_MANIFEST))?;
    let plugin = runtime.load(&std::fs::read(guests::TRIVIAL_WASM)?, manifest)?;
    let log: Arc<dyn LogSink> = Arc::new(DiscardLog);
    let people: Arc<dyn sluice::people::Directory> = Arc::new(StaticDirectory::default());
    let run_once = || async {
        let outcome = runtime
            .run(&plugin, Call::Sync, context(log.clone(), people.clone()))
            .await;
        assert_eq!(outcome.status, RunStatus::Succeeded);
        assert_eq!(outcome.records.len(), 1);
    };

    const WASM_RUNS: usize = 20_000;
    let mut wasm = Vec::with_capacity(WASM_RUNS);
    tokio.block_on(async {
        for _ in 0..1_000 {
            run_once().await;
        }
        for _ in 0..WASM_RUNS {
            let start = Instant::now();
            run_once().await;
            wasm.push(start.elapsed());
        }
    });
    wasm.sort();

    const NATIVE_RUNS: usize = 500;
    let mut native = Vec::with_capacity(NATIVE_RUNS);
    for _ in 0..NATIVE_RUNS {
        let start = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_native-connector"))
            .stdout(Stdio::piped())
            .output()?;
        assert!(output.status.success());
        native.push(start.elapsed());
    }
    native.sort();

    let (wasm_p50, wasm_p99) = (percentile(&wasm, 0.5), percentile(&wasm, 0.99));
    let (native_p50, native_p99) = (percentile(&native, 0.5), percentile(&native, 0.99));
    println!("trivial connector, one fresh sandbox per run ({WASM_RUNS} runs):");
    println!("  wasm instantiate + call   p50 {wasm_p50:9.1} µs   p99 {wasm_p99:9.1} µs");
    println!("native process per run ({NATIVE_RUNS} runs):");
    println!("  spawn + run + exit        p50 {native_p50:9.1} µs   p99 {native_p99:9.1} µs");
    println!(
        "ratio (native / wasm)       p50 {:9.1}×        p99 {:9.1}×",
        native_p50 / wasm_p50,
        native_p99 / wasm_p99
    );
    Ok(())
}
