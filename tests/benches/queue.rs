//! The whole path of a run through the queue: due → claimed under a lease → instantiated →
//! the trivial connector writes one log line and one record → committed with its run. On
//! SQLite and, when `SLUICE_TEST_DATABASE_URL` is set, PostgreSQL:
//!
//! - **throughput**: a backlog of runs, all due, over many installs, worked by one host;
//! - **start delay** (due time to the connector's entry, as the run records it): runs due
//!   one after another at a steady pace below the host's capacity, as schedules make them.
//!
//! The baseline, measured in the same run, is the runtime alone: the same component
//! instantiated and run with the same concurrency, with no queue and no store.
//!
//! `cargo bench -p sluice-tests --bench queue`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice::marketplace::Catalogue;
use sluice::people::StaticDirectory;
use sluice::runtime::{Call, Limits, RunContext, Runtime};
use sluice::scheduler::{QueueSettings, Runs, Scheduler};
use sluice::secrets::SecretSet;
use sluice::store::{NewRun, RunCall, RunTrigger, Store, now_ms};
use sluice::vault::{SecretKey, Vault};
use sluice::worker::Worker;
use sluice_tests::queued::install;
use sluice_tests::scratch::measure_on_each_database;
use sluice_tests::{DiscardLog, guests};

/// Installs the runs spread over (an install runs one run at a time).
const INSTALLS: usize = 1_000;
/// Runs in the backlog.
const BACKLOG: usize = 5_000;
/// Runs due at a steady pace, for the start delay.
const PACED: usize = 2_000;
/// Time between two paced runs' due times.
const PACE: Duration = Duration::from_millis(2);
/// Runs one host works at once.
const CONCURRENCY: usize = 32;

/// Runs of the bare runtime per second, `CONCURRENCY` at a time.
async fn baseline(runtime: Arc<Runtime>, plugin: &sluice::runtime::Plugin) -> anyhow::Result<f64> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..BACKLOG {
        let permit = semaphore.clone().acquire_owned().await?;
        let (runtime, plugin) = (runtime.clone(), plugin.clone());
        tasks.spawn(async move {
            let outcome = runtime
                .run(
                    &plugin,
                    Call::Sync,
                    RunContext {
                        config: serde_json::json!({}),
                        secrets: SecretSet::new(BTreeMap::new()),
                        grants: Default::default(),
                        state: BTreeMap::new(),
                        log: Arc::new(DiscardLog),
                        people: Arc::new(StaticDirectory::default()),
                    },
                )
                .await;
            drop(permit);
            outcome.error.is_none()
        });
    }
    let mut ok = 0;
    while let Some(done) = tasks.join_next().await {
        ok += usize::from(done?);
    }
    anyhow::ensure!(ok == BACKLOG, "{} baseline runs failed", BACKLOG - ok);
    Ok(BACKLOG as f64 / start.elapsed().as_secs_f64())
}

/// Waits until `count` runs have succeeded in all; fails on a failed run.
async fn succeeded(pool: &sqlx::AnyPool, count: i64) -> anyhow::Result<()> {
    loop {
        let (done, failed): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN status IN ('failed', 'cancelled') THEN 1 ELSE 0 END), 0) FROM runs",
        )
        .fetch_one(pool)
        .await?;
        anyhow::ensure!(failed == 0, "{failed} runs failed");
        if done >= count {
            return Ok(());
        }
        // Rarely, so the bench's own reads take little of the host's time.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

async fn measure(label: &str, url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let store = Store::open(url).await?;
    let vault = Arc::new(Vault::new(1, SecretKey::generate()));
    let company = sluice::onboarding::onboard(&store, &vault, "bench@acme.example", "Acme")
        .await?
        .company
        .id;
    let marketplace = dir.join(format!("marketplace-{label}"));
    sluice::marketplace::publish(
        &marketplace,
        &std::fs::read_to_string(guests::TRIVIAL_MANIFEST)?,
        &std::fs::read(guests::TRIVIAL_WASM)?,
    )?;
    let runtime = Runtime::new(Some(&dir.join("compiled")), Limits::default())?;
    let catalogue = Arc::new(Catalogue::load(&marketplace)?);
    let worker = Arc::new(Worker::new(
        store.clone(),
        vault.clone(),
        catalogue,
        runtime,
    ));
    let mut installs = Vec::with_capacity(INSTALLS);
    for _ in 0..INSTALLS {
        installs.push(install(&store, &company, "trivial").await?);
    }
    let enqueue = |n: usize, due_at: i64| {
        let store = store.clone();
        let company = company.clone();
        let install = installs[n % INSTALLS].clone();
        async move {
            store
                .enqueue_run(
                    &company,
                    &NewRun {
                        install_id: install,
                        plugin: "trivial".into(),
                        trigger: RunTrigger::Manual,
                        call: RunCall::Sync,
                        due_at,
                        scheduled_for: None,
                        attempt: 1,
                        max_attempts: 1,
                        retry_of: None,
                    },
                )
                .await
        }
    };
    // One run first, so compiling the component is not counted.
    enqueue(0, now_ms()).await?;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await?;
    let settings = QueueSettings {
        concurrency: CONCURRENCY,
        per_company: CONCURRENCY,
        schedules: false,
        ..QueueSettings::default()
    };
    let runs = Runs::new(store.clone(), sluice::store::new_id("host"), settings);
    store.register_host(runs.host(), "bench").await?;
    let scheduler = Scheduler::start(runs.clone(), worker);
    succeeded(&pool, 1).await?;

    // The backlog is queued for later, then falls due all at once, a moment after the
    // claimer's next look at the queue.
    let queued = Instant::now();
    for n in 0..BACKLOG {
        enqueue(n, now_ms() + 3_600_000).await?;
    }
    let per_enqueue = queued.elapsed() / u32::try_from(BACKLOG)?;
    let due = now_ms() + 700;
    sqlx::query("UPDATE runs SET due_at = $1 WHERE status = 'queued'")
        .bind(due)
        .execute(&pool)
        .await?;
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(due - now_ms()).unwrap_or(0),
    ))
    .await;
    succeeded(&pool, 1 + BACKLOG as i64).await?;
    let (last,): (i64,) = sqlx::query_as("SELECT MAX(finished_at) FROM runs WHERE due_at = $1")
        .bind(due)
        .fetch_one(&pool)
        .await?;
    let throughput = BACKLOG as f64 / ((last - due) as f64 / 1e3);

    // The paced runs are all queued before the first falls due.
    let lead = per_enqueue * u32::try_from(PACED)? * 2 + Duration::from_millis(500);
    let first_due = now_ms() + i64::try_from(lead.as_millis())?;
    let pace = i64::try_from(PACE.as_millis())?;
    for n in 0..PACED {
        enqueue(n, first_due + pace * i64::try_from(n)?).await?;
    }
    succeeded(&pool, 1 + (BACKLOG + PACED) as i64).await?;
    let mut delays: Vec<i64> = sqlx::query_as::<_, (i64,)>(
        "SELECT start_delay_ms FROM runs WHERE due_at >= $1 AND start_delay_ms IS NOT NULL",
    )
    .bind(first_due)
    .fetch_all(&pool)
    .await?
    .into_iter()
    .map(|(delay,)| delay)
    .collect();
    anyhow::ensure!(
        delays.len() == PACED,
        "{} paced runs measured",
        delays.len()
    );
    delays.sort_unstable();
    let (records,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM records")
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(
        records == INSTALLS as i64,
        "one record per install, upserted ({records})"
    );
    scheduler.shutdown(Duration::from_secs(5)).await?;

    let runtime = Arc::new(Runtime::new(
        Some(&dir.join("compiled")),
        Limits::default(),
    )?);
    let plugin = runtime.load(
        &std::fs::read(guests::TRIVIAL_WASM)?,
        sluice::manifest::Manifest::load(std::path::Path::new(guests::TRIVIAL_MANIFEST))?,
    )?;
    let bare = baseline(runtime, &plugin).await?;
    pool.close().await;
    store.close().await;
    println!(
        "{label}: {throughput:>6.0} runs/s due → claimed → run → committed ({BACKLOG} runs over {INSTALLS} installs, {CONCURRENCY} at a time); \
         the runtime alone {bare:>6.0} runs/s → {:.2}× the runtime alone",
        throughput / bare
    );
    println!(
        "{label}: start delay at one run due every {} ms: p50 {} ms, p99 {} ms, max {} ms ({PACED} runs)",
        PACE.as_millis(),
        percentile(&delays, 0.50),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or_default(),
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    measure_on_each_database(|label, url, dir| async move { measure(label, &url, &dir).await })
}
