//! How fast the store keeps what runs write: records committed with their run, and log
//! lines as the worker writes them (batches of 500), on SQLite and, when
//! `SLUICE_TEST_DATABASE_URL` is set, PostgreSQL. Each figure is printed beside the same
//! rows written the plainest way the database takes them — SQLite's prepared INSERTs in
//! one transaction, PostgreSQL's `COPY`, into a table with no keys, indexes or conflict
//! handling — so the ratio says what the store's keys, upserts and bookkeeping cost on
//! this machine, in this run. The same load into a table with the records' keys (their
//! unique key and the company's index) shows how much of that is the keys' own cost,
//! whoever writes the rows. Beside them, the path the store took before (sqlx's `Any`
//! driver, numbered placeholders) shows where the time went.
//!
//! `cargo bench -p sluice-tests --bench store`

use std::time::{Duration, Instant, SystemTime};

use sluice::runtime::{EmittedRecord, Level, LogLine, Source};
use sluice::store::{RunEnd, RunFinish, Store};
use sluice_tests::queued::{claimed_run, company_with_install};
use sluice_tests::scratch::measure_on_each_database;
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

/// Creates `table` with `columns` text columns and no keys or indexes, dropping any
/// earlier one; returns the column names.
async fn keyless_table(
    pool: &sqlx::AnyPool,
    table: &str,
    columns: usize,
) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = (0..columns).map(|c| format!("c{c}")).collect();
    pool.execute(format!("DROP TABLE IF EXISTS {table}").as_str())
        .await?;
    let definition: Vec<String> = names.iter().map(|n| format!("{n} TEXT")).collect();
    pool.execute(format!("CREATE TABLE {table} ({})", definition.join(", ")).as_str())
        .await?;
    Ok(names)
}

/// Gives `table` (a record floor's, columns company, install, stream, key, …) the keys
/// the store's records carry: the unique key and the company's index in write order.
async fn add_record_keys(url: &str, table: &str) -> anyhow::Result<()> {
    let pool = sqlx::AnyPool::connect(url).await?;
    let company = if url.starts_with("sqlite:") {
        // SQLite's rowid is its write order already, and every index entry ends with it.
        "c0"
    } else {
        pool.execute(format!("ALTER TABLE {table} ADD COLUMN seq BIGSERIAL").as_str())
            .await?;
        "c0, seq"
    };
    pool.execute(format!("CREATE UNIQUE INDEX {table}_key ON {table} (c0, c1, c2, c3)").as_str())
        .await?;
    pool.execute(format!("CREATE INDEX {table}_company ON {table} ({company})").as_str())
        .await?;
    pool.close().await;
    Ok(())
}

/// The database's floor for `rows`: the plainest bulk load it takes, into a table with no
/// keys. SQLite: one prepared single-row INSERT run for every row in one transaction, or
/// multi-row INSERTs, whichever is faster here. PostgreSQL: `COPY … FROM STDIN`.
async fn floor(url: &str, table: &str, rows: &[Vec<String>]) -> anyhow::Result<Duration> {
    floor_with(url, table, rows, false).await
}

/// The same load as [`floor`], into a table that also has the keys of the store's
/// records (`keyed`): what the keys cost by themselves, whoever writes the rows.
async fn floor_with(
    url: &str,
    table: &str,
    rows: &[Vec<String>],
    keyed: bool,
) -> anyhow::Result<Duration> {
    let pool = sqlx::AnyPool::connect(url).await?;
    let columns = rows.first().map_or(0, Vec::len);
    let names = keyless_table(&pool, table, columns).await?;
    if keyed {
        add_record_keys(url, table).await?;
    }
    let elapsed = if url.starts_with("sqlite:") {
        let sqlite = sqlx::SqlitePool::connect(url).await?;
        let single = sqlite_load(&sqlite, table, &names, rows, 1).await?;
        pool.execute(format!("DELETE FROM {table}").as_str())
            .await?;
        let multi = sqlite_load(&sqlite, table, &names, rows, 3_000 / columns.max(1)).await?;
        sqlite.close().await;
        single.min(multi)
    } else {
        let postgres = sqlx::PgPool::connect(url).await?;
        let mut data = Vec::new();
        for row in rows {
            for (i, value) in row.iter().enumerate() {
                if i > 0 {
                    data.push(b'\t');
                }
                copy_text(&mut data, value);
            }
            data.push(b'\n');
        }
        let start = Instant::now();
        let mut conn = postgres.acquire().await?;
        let mut copy = conn
            .copy_in_raw(&format!("COPY {table} ({}) FROM STDIN", names.join(", ")))
            .await?;
        copy.send(data).await?;
        copy.finish().await?;
        let elapsed = start.elapsed();
        drop(conn);
        postgres.close().await;
        elapsed
    };
    pool.execute(format!("DROP TABLE {table}").as_str()).await?;
    pool.close().await;
    Ok(elapsed)
}

/// Loads `rows` into SQLite in one transaction, `per_statement` rows per INSERT.
async fn sqlite_load(
    pool: &sqlx::SqlitePool,
    table: &str,
    names: &[String],
    rows: &[Vec<String>],
    per_statement: usize,
) -> anyhow::Result<Duration> {
    let tuple = format!("({})", vec!["?"; names.len()].join(", "));
    let start = Instant::now();
    let mut tx = pool.begin().await?;
    for chunk in rows.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            names.join(", "),
            vec![tuple.as_str(); chunk.len()].join(", ")
        );
        let mut query = sqlx::query::<sqlx::Sqlite>(&sql);
        for row in chunk {
            for value in row {
                query = query.bind(value.as_str());
            }
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(start.elapsed())
}

/// What the store did before it took each database's own driver: multi-row INSERTs with
/// numbered placeholders through sqlx's `Any` driver, in one transaction, into a table
/// with no keys. Kept to show where the time went: SQLite looks each numbered parameter's
/// name up in a list, so binding a statement's N values costs N² steps.
async fn any_numbered(url: &str, table: &str, rows: &[Vec<String>]) -> anyhow::Result<Duration> {
    let pool = sqlx::AnyPool::connect(url).await?;
    let columns = rows.first().map_or(0, Vec::len);
    let names = keyless_table(&pool, table, columns).await?;
    let start = Instant::now();
    let mut tx = pool.begin().await?;
    for chunk in rows.chunks(3_000 / columns.max(1)) {
        let tuples: Vec<String> = (0..chunk.len())
            .map(|i| {
                let numbers: Vec<String> = (1..=columns)
                    .map(|c| format!("${}", i * columns + c))
                    .collect();
                format!("({})", numbers.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            names.join(", "),
            tuples.join(", ")
        );
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

/// Appends `value` in COPY's text format.
fn copy_text(out: &mut Vec<u8>, value: &str) {
    for byte in value.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

async fn measure(label: &str, url: &str) -> anyhow::Result<()> {
    let store = Store::open(url).await?;
    let (company, install) = company_with_install(&store, "github").await?;
    let finish = RunFinish {
        status: "succeeded",
        finished_at: sluice::store::now_ms(),
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
        let run = claimed_run(&store, &company, &install).await?;
        let start = Instant::now();
        anyhow::ensure!(
            store
                .finish_run(
                    &run,
                    RunEnd {
                        finish: &finish,
                        records: &records,
                        full_refresh: &[],
                        state: Some(&Default::default()),
                        retry: None,
                        log: &[],
                    },
                )
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
                install.clone(),
                r.stream.clone(),
                r.key.clone(),
                r.json.clone(),
                "run".into(),
                "0".into(),
            ]
        })
        .collect();
    let record_floor = floor(url, "bench_record_floor", &record_rows).await?;
    let keyed_floor = floor_with(url, "bench_record_keyed", &record_rows, true).await?;
    let record_any = any_numbered(url, "bench_record_any", &record_rows).await?;

    let lines = log_lines();
    let run = claimed_run(&store, &company, &install).await?;
    let start = Instant::now();
    for batch in lines.chunks(LOG_BATCH) {
        store
            .append_logs(&company, &install, &run.id, batch)
            .await?;
    }
    let logs = start.elapsed();
    let line_rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                company.clone(),
                install.clone(),
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
    let keyed = per_second(RECORDS, keyed_floor);
    println!(
        "{label}: the same records loaded the floor's way into a table with the records' keys: {keyed:>9.0}/s → {:.2}× the floor; the store's new records are {:.2}× this",
        keyed / floor_records,
        per_second(RECORDS, commit[0]) / keyed
    );
    let any = per_second(RECORDS, record_any);
    println!(
        "{label}: the same records through sqlx's Any driver with numbered placeholders, keyless: {any:>9.0}/s → {:.2}× the floor",
        any / floor_records
    );
    let rate = per_second(LOG_LINES, logs);
    println!(
        "{label}: log lines: {rate:>9.0}/s persisted in batches of {LOG_BATCH} ({LOG_LINES} in {:.0} ms); floor {floor_lines:>9.0}/s → {:.2}× the floor",
        logs.as_secs_f64() * 1e3,
        rate / floor_lines
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    measure_on_each_database(|label, url, _| async move { measure(label, &url).await })
}
