//! Hosts as real `sluice serve` processes around one database: a host killed with
//! `kill -9` in the middle of 50 runs and a new one that finishes them, three hosts on one
//! PostgreSQL sharing a few hundred due runs, a second host refused on an SQLite file, and
//! SIGTERM letting runs finish and handing back the rest. Everything is checked from
//! outside, through the API and the database.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sluice::store::Store;
use sluice_tests::guests;

use crate::harness::{TestDatabase, databases};
use crate::process::{
    Client, Server, bootstrap, line_value, publish, serve, serve_command, storage_args,
};

/// A data folder bootstrapped with one company, and the trivial connector published.
struct Fleet {
    label: &'static str,
    data: std::path::PathBuf,
    storage: Vec<String>,
    marketplace: std::path::PathBuf,
    company: String,
    token: String,
    log: std::path::PathBuf,
}

impl Fleet {
    async fn new(database: &TestDatabase, dir: &Path, name: &str) -> Fleet {
        let data = dir.join(format!("{name}-{}", database.label));
        let storage = storage_args(database, &data);
        let marketplace = dir.join("marketplace");
        if !marketplace.exists() {
            publish(guests::TRIVIAL_WASM, guests::TRIVIAL_MANIFEST, &marketplace).await;
        }
        let output = bootstrap(&storage, "ops@acme.test", "Acme").await;
        Fleet {
            label: database.label,
            log: dir.join(format!("{name}-{}.log", database.label)),
            company: line_value(&output, "company:")
                .split(' ')
                .next()
                .expect("company id")
                .to_owned(),
            token: line_value(&output, "api token:").to_owned(),
            data,
            storage,
            marketplace,
        }
    }

    /// `sluice serve` on this data with `flags`.
    fn args(&self, flags: &[&str]) -> Vec<String> {
        let mut args = self.storage.clone();
        args.extend([
            "--marketplace".to_owned(),
            self.marketplace.display().to_string(),
        ]);
        args.extend(flags.iter().map(|flag| (*flag).to_owned()));
        args
    }

    async fn serve(&self, flags: &[&str]) -> Server {
        serve(&self.args(flags), &self.log).await
    }

    /// `count` installs of the trivial connector with `config` and no schedule; their ids.
    async fn installs(&self, client: &mut Client, count: usize, config: Value) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            let (status, install) = client
                .call(
                    reqwest::Method::POST,
                    &format!("/api/companies/{}/installs", self.company),
                    Some(json!({ "plugin": "trivial", "config": config })),
                )
                .await;
            assert_eq!(status, 201, "{}: {install}", self.label);
            ids.push(install["id"].as_str().expect("install id").to_owned());
        }
        ids
    }

    /// Every run of the company, by install.
    async fn runs(&self, client: &mut Client) -> BTreeMap<String, Vec<Value>> {
        let mut by_install: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for run in client
            .all(&format!("/api/companies/{}/runs", self.company))
            .await
        {
            let install = run["install_id"].as_str().expect("install").to_owned();
            by_install.entry(install).or_default().push(run);
        }
        by_install
    }

    /// Waits until every run has ended, for at most `seconds`.
    async fn settled(&self, client: &mut Client, seconds: u64) -> BTreeMap<String, Vec<Value>> {
        let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let runs = self.runs(client).await;
            let open = runs.values().flatten().filter(|run| !ended(run)).count();
            if open == 0 {
                return runs;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "{}: {open} runs still open after {seconds} s",
                self.label
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The database, opened from outside the hosts.
    async fn database(&self, database: &TestDatabase) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let url = if database.label == "SQLite" {
            Store::sqlite_url(&self.data.join("sluice.db"))
        } else {
            database.url.clone()
        };
        sqlx::AnyPool::connect(&url)
            .await
            .expect("open the database")
    }
}

fn ended(run: &Value) -> bool {
    !matches!(run["status"].as_str(), Some("queued" | "running"))
}

/// The messages of the host's lines in a run's log.
async fn host_lines(client: &mut Client, company: &str, run: &str) -> Vec<String> {
    client
        .all(&format!("/api/companies/{company}/logs?run={run}"))
        .await
        .iter()
        .filter(|line| line["source"] == "host")
        .map(|line| line["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Records per install and runs not ended, read straight from the database.
async fn database_counts(pool: &sqlx::AnyPool) -> (BTreeMap<String, i64>, i64) {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT install_id, COUNT(*) FROM records GROUP BY install_id")
            .fetch_all(pool)
            .await
            .expect("count records");
    let (open,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM runs WHERE status IN ('queued', 'running')")
            .fetch_one(pool)
            .await
            .expect("count open runs");
    (rows.into_iter().collect(), open)
}

#[tokio::test]
async fn a_host_killed_mid_run_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let fleet = Fleet::new(&database, dir.path(), "killed").await;
        let label = fleet.label;
        let flags = [
            "--run-lease",
            "2s",
            "--concurrency",
            "50",
            "--company-concurrency",
            "50",
        ];
        let first = fleet.serve(&flags).await;
        let mut client = Client::new(&first, &fleet.token);
        let installs = fleet
            .installs(&mut client, 50, json!({ "pause_ms": 6000 }))
            .await;
        for install in &installs {
            client.start_run(&fleet.company, install).await;
        }
        // Killed only once every first attempt is running and its start is in its log,
        // so the log of each run shows the attempt that died.
        let until = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let running = fleet
                .runs(&mut client)
                .await
                .values()
                .flatten()
                .filter(|run| run["status"] == "running")
                .count();
            let started: BTreeSet<String> = client
                .all(&format!(
                    "/api/companies/{}/logs?source=host",
                    fleet.company
                ))
                .await
                .iter()
                .filter(|line| {
                    line["source"] == "host"
                        && line["message"]
                            .as_str()
                            .is_some_and(|m| m.starts_with("run started"))
                })
                .filter_map(|line| line["run_id"].as_str().map(str::to_owned))
                .collect();
            if running == 50 && started.len() == 50 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "{label}: 50 runs running together, their starts logged (saw {running} running, {} logged)",
                started.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        first.kill();

        let second = fleet.serve(&flags).await;
        client.base = second.base.clone();
        let runs = fleet.settled(&mut client, 90).await;
        assert_eq!(runs.len(), 50, "{label}: every install has its run");
        for (install, runs) in &runs {
            assert_eq!(runs.len(), 1, "{label}: one run per install: {runs:#?}");
            let run = &runs[0];
            assert_eq!(run["status"], "succeeded", "{label}: {run}");
            assert_eq!(
                run["attempt"], 2,
                "{label}: the killed attempt was taken back and run again: {run}"
            );
            assert_eq!(run["records_written"], 1, "{label}: {run}");
            assert_ne!(run["claimed_by"], Value::Null, "{label}: {run}");
            let lines =
                host_lines(&mut client, &fleet.company, run["id"].as_str().expect("id")).await;
            let started = lines
                .iter()
                .filter(|l| l.starts_with("run started"))
                .count();
            let succeeded = lines
                .iter()
                .filter(|l| l.starts_with("run succeeded"))
                .count();
            assert_eq!(
                (started, succeeded),
                (2, 1),
                "{label}: {install}: two starts, one success: {lines:#?}"
            );
            let records = client
                .all(&format!(
                    "/api/companies/{}/records?install={install}",
                    fleet.company
                ))
                .await;
            assert_eq!(records.len(), 1, "{label}: one record, once");
            assert_eq!(records[0]["run_id"], run["id"], "{label}: {records:?}");
        }
        let hosts = client.get("/api/hosts").await;
        let hosts = hosts.as_array().expect("hosts");
        assert_eq!(hosts.len(), 2, "{label}: both hosts are listed: {hosts:?}");
        assert_eq!(
            hosts.iter().filter(|h| h["alive"] == true).count(),
            1,
            "{label}: the killed host is not alive: {hosts:?}"
        );
        drop(second);

        let pool = fleet.database(&database).await;
        let (records, open) = database_counts(&pool).await;
        pool.close().await;
        assert_eq!(open, 0, "{label}: nothing is left queued or running");
        assert_eq!(records.len(), 50, "{label}: {records:?}");
        assert!(
            records.values().all(|n| *n == 1),
            "{label}: one record per install in the database: {records:?}"
        );
        database.drop_schema().await;
    }
}

#[tokio::test]
async fn three_hosts_on_one_postgres_run_each_due_run_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(database) = databases(dir.path())
        .await
        .into_iter()
        .find(|database| database.label == "PostgreSQL")
    else {
        // Several hosts need PostgreSQL; SQLite refuses a second host (tested below).
        return;
    };
    let fleet = Fleet::new(&database, dir.path(), "three").await;
    let flags = ["--company-concurrency", "16"];
    let hosts = [
        fleet.serve(&flags).await,
        fleet.serve(&flags).await,
        fleet.serve(&flags).await,
    ];
    let mut client = Client::new(&hosts[0], &fleet.token);
    let installs = fleet.installs(&mut client, 300, json!({})).await;

    // Every install is due at the same second, a few seconds from now, in one slot.
    let slot = chrono::Utc::now() + chrono::Duration::seconds(12);
    let cron = slot.format("%S %M %H * * *").to_string();
    for install in &installs {
        let (status, schedule) = client
            .call(
                reqwest::Method::PUT,
                &format!(
                    "/api/companies/{}/installs/{install}/schedule",
                    fleet.company
                ),
                Some(json!({ "cron": cron, "timezone": "UTC" })),
            )
            .await;
        assert_eq!(status, 200, "{schedule}");
    }
    assert!(
        chrono::Utc::now() < slot,
        "the schedules were all set before their slot"
    );
    tokio::time::sleep((slot - chrono::Utc::now()).to_std().unwrap_or_default()).await;
    let until = tokio::time::Instant::now() + Duration::from_secs(90);
    let runs = loop {
        let runs = fleet.runs(&mut client).await;
        let done = runs.values().flatten().filter(|run| ended(run)).count();
        if done == installs.len() {
            break fleet.settled(&mut client, 30).await;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "300 due runs ended within 90 s of their slot (saw {done})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut claimed_by = BTreeSet::new();
    assert_eq!(runs.len(), 300, "every install ran");
    for runs in runs.values() {
        assert_eq!(runs.len(), 1, "each due run once: {runs:#?}");
        let run = &runs[0];
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["trigger"], "schedule", "{run}");
        assert_eq!(run["attempt"], 1, "{run}");
        assert_eq!(run["records_written"], 1, "{run}");
        claimed_by.insert(run["claimed_by"].as_str().expect("a host").to_owned());
    }
    let listed = client.get("/api/hosts").await;
    let alive: BTreeSet<String> = listed
        .as_array()
        .expect("hosts")
        .iter()
        .filter(|host| host["alive"] == true)
        .map(|host| host["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(alive.len(), 3, "three hosts alive: {listed}");
    assert!(
        claimed_by.len() >= 2 && claimed_by.is_subset(&alive),
        "the hosts shared the work: {claimed_by:?} of {alive:?}"
    );
    let pool = fleet.database(&database).await;
    let (records, open) = database_counts(&pool).await;
    pool.close().await;
    assert_eq!(open, 0);
    assert_eq!(records.len(), 300);
    assert!(records.values().all(|n| *n == 1), "{records:?}");
    drop(hosts);
    database.drop_schema().await;
}

#[tokio::test]
async fn a_second_host_on_the_same_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = databases(dir.path())
        .await
        .into_iter()
        .find(|database| database.label == "SQLite")
        .expect("SQLite is always tested");
    let fleet = Fleet::new(&sqlite, dir.path(), "single").await;
    let first = fleet.serve(&[]).await;
    let refused_log = dir.path().join("refused.log");
    let (mut command, _) = serve_command(&fleet.args(&[]), &refused_log);
    let status = tokio::task::spawn_blocking(move || command.status())
        .await
        .expect("join")
        .expect("run the second host");
    assert!(!status.success(), "the second host exits with an error");
    let stderr = std::fs::read_to_string(&refused_log).expect("its stderr");
    assert!(
        stderr.contains("another sluice host")
            && stderr.contains("is already serving the SQLite database")
            && stderr.contains("move to PostgreSQL to run several"),
        "{stderr}"
    );
    let mut client = Client::new(&first, &fleet.token);
    let install = fleet.installs(&mut client, 1, json!({})).await.remove(0);
    let run = client.run(&fleet.company, &install).await;
    assert_eq!(run["status"], "succeeded", "the first host goes on: {run}");
}

#[tokio::test]
async fn sigterm_lets_runs_finish_and_hands_the_rest_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let fleet = Fleet::new(&database, dir.path(), "sigterm").await;
        let label = fleet.label;
        // A long lease: the next host must not need to wait for it.
        let flags = ["--shutdown-grace", "3s", "--run-lease", "60s"];
        let first = fleet.serve(&flags).await;
        let mut client = Client::new(&first, &fleet.token);
        let quick = fleet
            .installs(&mut client, 1, json!({ "pause_ms": 1000 }))
            .await
            .remove(0);
        let slow = fleet
            .installs(&mut client, 1, json!({ "pause_ms": 8000 }))
            .await
            .remove(0);
        let quick_run = client.start_run(&fleet.company, &quick).await;
        let slow_run = client.start_run(&fleet.company, &slow).await;
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        while fleet
            .runs(&mut client)
            .await
            .values()
            .flatten()
            .filter(|run| run["status"] == "running")
            .count()
            < 2
        {
            assert!(tokio::time::Instant::now() < until, "{label}: both run");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let exit = first.terminate(Duration::from_secs(15)).await;
        assert!(exit.success(), "{label}: a clean exit: {exit}");

        let second = fleet.serve(&flags).await;
        client.base = second.base.clone();
        let finished = client
            .get(&format!(
                "/api/companies/{}/runs/{quick_run}",
                fleet.company
            ))
            .await;
        assert_eq!(
            (&finished["status"], &finished["attempt"]),
            (&json!("succeeded"), &json!(1)),
            "{label}: the quick run finished within the grace: {finished}"
        );
        let runs = fleet.settled(&mut client, 30).await;
        let handed_back = &runs[&slow];
        assert_eq!(handed_back.len(), 1, "{label}: {handed_back:#?}");
        assert_eq!(handed_back[0]["id"], json!(slow_run));
        assert_eq!(
            (&handed_back[0]["status"], &handed_back[0]["attempt"]),
            (&json!("succeeded"), &json!(1)),
            "{label}: handed back, not failed nor counted as an attempt: {}",
            handed_back[0]
        );
        assert_ne!(
            handed_back[0]["claimed_by"], finished["claimed_by"],
            "{label}: the next host ran it"
        );
        let log = std::fs::read_to_string(&fleet.log).expect("server log");
        assert!(log.contains("handed back"), "{label}: {log}");
        drop(second);
        database.drop_schema().await;
    }
}
