//! Log lines from a run to the browsers following the company's live log: lines kept in
//! batches as the worker's log pipe keeps them, each carrying the moment it was emitted,
//! read by 1 and by 20 viewers over the real server's event stream (`GET …/logs/live`) on
//! a socket. On SQLite and, when `SLUICE_TEST_DATABASE_URL` is set, PostgreSQL.
//!
//! Figures: lines per second reaching every viewer (from the first line kept to the last
//! line read by the slowest viewer), and the p50 / p99 delay from emit to arrival. The
//! baseline, in the same run, is the store alone keeping the same batches with no viewer.
//!
//! `cargo bench -p sluice-tests --bench live_log`

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt as _;
use sluice::api::{AppState, SignIn, app};
use sluice::egress::PrivateReach;
use sluice::log_feed::LogFeed;
use sluice::marketplace::Catalogue;
use sluice::runtime::{Level, Limits, LogLine, Runtime, Source};
use sluice::scheduler::{QueueSettings, Runs};
use sluice::store::Store;
use sluice::vault::{SecretKey, Vault};
use sluice::worker::Worker;
use sluice_tests::queued::{claimed_run, install};
use sluice_tests::scratch::measure_on_each_database;

/// Lines one measurement keeps.
const LINES: usize = 50_000;
/// Lines per batch, as the log pipe writes them.
const BATCH: usize = 500;

/// Microseconds since the epoch: what each line carries as its message.
fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default()
}

/// A batch of lines stamped with the moment they are emitted.
fn batch() -> Vec<LogLine> {
    let stamp = now_micros().to_string();
    (0..BATCH)
        .map(|_| LogLine {
            time: SystemTime::now(),
            level: Level::Info,
            source: Source::Plugin,
            message: stamp.clone(),
            fields: Vec::new(),
        })
        .collect()
}

/// Reads `expected` lines from the event stream at `url`; the delay of each, in µs.
async fn view(url: String, token: String, expected: usize) -> anyhow::Result<Vec<u128>> {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?;
    let mut body = response.bytes_stream();
    let mut pending = String::new();
    let mut delays = Vec::with_capacity(expected);
    while delays.len() < expected {
        let Some(chunk) = body.next().await else {
            anyhow::bail!("the stream ended after {} lines", delays.len());
        };
        pending.push_str(std::str::from_utf8(&chunk?)?);
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            if let Some(data) = line.strip_prefix("data: ") {
                let kept: serde_json::Value = serde_json::from_str(data.trim_end())?;
                let emitted: u128 = kept["message"].as_str().unwrap_or("0").parse()?;
                delays.push(now_micros().saturating_sub(emitted));
            }
        }
    }
    Ok(delays)
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// Keeps `LINES` lines in batches; the time it took.
async fn keep(store: &Store, company: &str, install: &str, run: &str) -> anyhow::Result<Duration> {
    let start = Instant::now();
    for _ in 0..LINES / BATCH {
        store.append_logs(company, install, run, &batch()).await?;
    }
    Ok(start.elapsed())
}

async fn measure(label: &str, url: &str) -> anyhow::Result<()> {
    let store = Store::open(url).await?;
    let vault = Arc::new(Vault::new(1, SecretKey::generate()));
    let onboarded = sluice::onboarding::onboard(&store, &vault, "ada@acme.example", "Acme").await?;
    let company = onboarded.company.id;
    let install = install(&store, &company, "trivial").await?;
    let run = claimed_run(&store, &company, &install).await?.id;
    let catalogue = Arc::new(Catalogue::default());
    let state = AppState {
        store: store.clone(),
        vault: vault.clone(),
        catalogue: catalogue.clone(),
        worker: Arc::new(Worker::new(
            store.clone(),
            vault,
            catalogue,
            Runtime::new(None, Limits::default())?,
        )),
        runs: Runs::new(
            store.clone(),
            sluice::store::new_id("host"),
            QueueSettings::default(),
        ),
        secure_cookies: false,
        private_reach: Arc::new(PrivateReach::parse(Vec::<&str>::new())?),
        log_feed: LogFeed::start(store.clone()),
        sign_in: Arc::new(SignIn::default()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app(state)).await });

    let alone = keep(&store, &company, &install, &run).await?;
    let baseline = LINES as f64 / alone.as_secs_f64();
    println!("{label}: the store alone keeps {baseline:>9.0} lines/s (batches of {BATCH})");
    for viewers in [1usize, 20] {
        let live = format!("http://{address}/api/companies/{company}/logs/live");
        let mut readers = Vec::with_capacity(viewers);
        for _ in 0..viewers {
            readers.push(tokio::spawn(view(
                live.clone(),
                onboarded.token.clone(),
                LINES,
            )));
        }
        // Every viewer is connected before the first line is kept.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let start = Instant::now();
        keep(&store, &company, &install, &run).await?;
        let mut delays = Vec::with_capacity(viewers * LINES);
        for reader in readers {
            delays.extend(reader.await??);
        }
        let elapsed = start.elapsed();
        delays.sort_unstable();
        let rate = LINES as f64 / elapsed.as_secs_f64();
        println!(
            "{label}: {viewers:>2} viewer(s): {rate:>9.0} lines/s reach every viewer ({:.2}× the store alone), delay emit → arrival p50 {} ms, p99 {} ms, max {} ms",
            rate / baseline,
            percentile(&delays, 0.50) / 1_000,
            percentile(&delays, 0.99) / 1_000,
            delays.last().copied().unwrap_or_default() / 1_000,
        );
    }
    server.abort();
    store.close().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    measure_on_each_database(|label, url, _| async move { measure(label, &url).await })
}
