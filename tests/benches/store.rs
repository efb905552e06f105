//! How fast the store keeps what runs write: records committed with their run, and log
//! lines as the worker writes them (batches of 500), on SQLite and, when
//! `SLUICE_TEST_DATABASE_URL` is set, PostgreSQL. Each figure is printed beside the same
//! rows written the plainest way the database takes them — multi-row INSERTs in one
//! transaction into a table with no keys, indexes or conflict handling — so the ratio says
//! what the store's keys, upserts and bookkeeping cost on this machine, in this run.
//!
//! `cargo bench -p sluice-tests --bench store`

use std::time::{Duration, Instant, SystemTime};

use sluice::runtime::{EmittedRecord, Level, LogLine, Source};
use sluice::store::{
    Claim, InstallGrants, NewInstall, NewRun, Run, RunCall, RunFinish, RunTrigger, Store,
};
use sluice::vault::{SecretKey, Vault};
use sluice_tests::scratch::ScratchSchema;
use sqlx::Executor as _;

const RECORDS: usize = 100_000;
const LOG_LINES: usize = 200_000;
/// Lines per `append_logs` call, as the worker batches them.
const LOG_BATCH: usize = 500;

fn records() -> Vec<EmittedRecord> {
    (0..RECORDS)
        .map(|n| EmittedRecord {
            stream: "pull_requests".into(),
            key: format!("acme/widgets#{n}"),
            json: serde_json::json!({
                "number": n,
                "title": format!("Make the widgets faster, part {n}"),
                "state": "merged",
                "author": "mona",
                "updated_at": "2026-11-20T10:00:00Z",
            })
            .to_string(),
        })
        .collect()
}

fn log_lines() -> Vec<LogLine> {
    (0..LOG_LINES)
        .map(|n| LogLine {
            time: SystemTime::now(),
            level: Level::Info,
            source: Source::Plugin,
            message: format!("fetched page {n} of pull requests"),
            fields: vec![("page".into(), n.to_string())],
        })
        .collect()
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Writes `rows` rows of `columns` text columns with multi-row INSERTs in one transaction
/// into a table with no keys: the database's floor for that volume.
async fn floor(url: &str, table: &str, rows: &[Vec<String>]) -> anyhow::Result<Duration> {
    let pool = sqlx::AnyPool::connect(url).await?;
    let columns = rows.first().map_or(0, Vec::len);
    let names: Vec<String> = (0..columns).map(|c| format!("c{c}")).collect();
    pool.execute(format!("DROP TABLE IF EXISTS {table}").as_str())
        .await?;
    pool.execute(
        format!(
            "CREATE TABLE {table} ({})",
            names
                .iter()
                .map(|n| format!("{n} TEXT"))
                .collect::<Vec<_>>()
                .join(", ")
        )
        .as_str(),
    )
    .await?;
    let per_statement = 3_000 / columns.max(1);
    let start = Instant::now();
    let mut tx = pool.begin().await?;
    for chunk in rows.chunks(per_statement) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            let placeholders: Vec<String> = (1..=columns)
                .map(|c| format!("${}", i * columns + c))
                .collect();
            sql.push_str(&format!("({})", placeholders.join(", ")));
        }
        let mut query = sqlx::query(&sql);
        for row in chunk {
            for value in row {
                query = query.bind(value.as_str());
            }
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let elapsed = start.elapsed();
    pool.execute(format!("DROP TABLE {table}").as_str()).await?;
    pool.close().await;
    Ok(elapsed)
}

async fn measure(label: &str, url: &str) -> anyhow::Result<()> {
    let store = Store::open(url).await?;
    let vault = Vault::new(1, SecretKey::generate());
    let company = sluice::onboarding::onboard(&store, &vault, "bench@acme.example", "Acme")
        .await?
        .company
        .id;
    let install = store
        .create_install(
            &company,
            NewInstall {
                plugin: "github".into(),
                version: "0.1.0".into(),
                config: serde_json::json!({}),
                grants: InstallGrants::default(),
            },
        )
        .await?;
    let finish = RunFinish {
        status: "succeeded",
        error: None,
        note: None,
        start_delay_ms: None,
        http_requests: 0,
        peak_memory_bytes: 0,
        log_lines: 0,
        dropped_log_lines: 0,
    };
    let records = records();
    let mut commit = Vec::new();
    for _ in 0..2 {
        let run = claimed_run(&store, &company, &install.id).await?;
        let start = Instant::now();
        anyhow::ensure!(
            store
                .finish_run(&run, &finish, &records, Some(&Default::default()), None)
                .await?,
            "run not committed"
        );
        commit.push(start.elapsed());
    }
    let record_rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                company.clone(),
                install.id.clone(),
                r.stream.clone(),
                r.key.clone(),
                r.json.clone(),
                "run".into(),
                "0".into(),
            ]
        })
        .collect();
    let record_floor = floor(url, "bench_record_floor", &record_rows).await?;

    let lines = log_lines();
    let run = claimed_run(&store, &company, &install.id).await?;
    let start = Instant::now();
    for batch in lines.chunks(LOG_BATCH) {
        store
            .append_logs(&company, &install.id, &run.id, batch)
            .await?;
    }
    let logs = start.elapsed();
    let line_rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                company.clone(),
                install.id.clone(),
                run.id.clone(),
                "0".into(),
                "info".into(),
                "2".into(),
                "plugin".into(),
                l.message.clone(),
                "{}".into(),
            ]
        })
        .collect();
    let line_floor = floor(url, "bench_log_floor", &line_rows).await?;
    store.close().await;

    let floor_records = per_second(RECORDS, record_floor);
    let floor_lines = per_second(LOG_LINES, line_floor);
    for (what, elapsed) in [
        ("new records", commit[0]),
        ("records upserted over the same keys", commit[1]),
    ] {
        let rate = per_second(RECORDS, elapsed);
        println!(
            "{label}: {what}: {rate:>9.0}/s committed with their run ({RECORDS} in {:.0} ms); floor {floor_records:>9.0}/s → {:.2}× the floor",
            elapsed.as_secs_f64() * 1e3,
            rate / floor_records
        );
    }
    let rate = per_second(LOG_LINES, logs);
    println!(
        "{label}: log lines: {rate:>9.0}/s persisted in batches of {LOG_BATCH} ({LOG_LINES} in {:.0} ms); floor in one transaction {floor_lines:>9.0}/s → {:.2}× the floor",
        logs.as_secs_f64() * 1e3,
        rate / floor_lines
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir()?;
        measure("SQLite", &Store::sqlite_url(&dir.path().join("bench.db"))).await?;
        if let Ok(base) = std::env::var("SLUICE_TEST_DATABASE_URL") {
            let schema = ScratchSchema::create(&base, "sluice_bench").await?;
            let measured = measure("PostgreSQL", &schema.url).await;
            schema.drop().await?;
            measured?;
        }
        Ok(())
    })
}

/// A run of `install`, enqueued and claimed by a bench host, ready to commit.
async fn claimed_run(store: &Store, company: &str, install: &str) -> anyhow::Result<Run> {
    let new = NewRun {
        install_id: install.to_owned(),
        plugin: "github".into(),
        trigger: RunTrigger::Manual,
        call: RunCall::Sync,
        due_at: sluice::store::now_ms(),
        scheduled_for: None,
        attempt: 1,
        max_attempts: 1,
        retry_of: None,
    };
    store.enqueue_run(company, &new).await?;
    let claim = Claim {
        host: "bench",
        limit: 1,
        per_company: 1,
        lease_ms: 60_000,
    };
    store
        .claim_runs(&claim)
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("the enqueued run was not claimed"))
}
