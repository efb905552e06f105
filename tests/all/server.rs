//! The `sluice` binary as a process, driven only through its documented CLI and REST API:
//! publish, bootstrap, serve, set a secret, install GitHub against a fake GitHub, check,
//! run, read records and logs, rotate the master key, restart and run again — on SQLite
//! and, when its URL is set, PostgreSQL. A canary secret is searched for everywhere.

use std::path::Path;

use serde_json::json;
use sluice_tests::fakes::github::{FakeGitHub, ORG};
use sluice_tests::guests;

use crate::harness::{TestDatabase, databases};
use crate::process::{Client, line_value, publish, serve, storage_args};
use crate::support::sluice;

const CANARY: &str = "ghp_CANARY7f3c9e1d5b2a8046e4c7d9f1a3b5";

#[tokio::test]
async fn the_binary_serves_a_github_install_end_to_end_and_never_leaks_the_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marketplace = dir.path().join("marketplace");
    let published = publish(guests::GITHUB_WASM, guests::GITHUB_MANIFEST, &marketplace).await;
    assert!(published.starts_with("published github 0.1.0 to "));
    for database in databases(dir.path()).await {
        scenario(&database, dir.path(), &marketplace).await;
        database.drop_schema().await;
    }
}

async fn scenario(database: &TestDatabase, dir: &Path, marketplace: &Path) {
    let label = database.label;
    let data = dir.join(format!("data-{label}"));
    let data_args = storage_args(database, &data);
    let mut bootstrap = vec![
        "admin".into(),
        "bootstrap".into(),
        "--email".into(),
        "ada@acme.test".into(),
        "--company".into(),
        "Acme".into(),
    ];
    bootstrap.extend(data_args.clone());
    let output = sluice(bootstrap).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let company = line_value(&stdout, "company:")
        .split(' ')
        .next()
        .expect("id")
        .to_owned();
    let token = line_value(&stdout, "api token:").to_owned();
    assert!(token.starts_with("sluice_pat_"), "{stdout}");
    assert!(!line_value(&stdout, "one-time password:").is_empty());
    if label == "SQLite" {
        assert!(
            data.join("sluice.db").is_file(),
            "the SQLite file is created"
        );
        assert!(
            data.join("master.key").is_file(),
            "a master key is generated"
        );
    }

    let server_log = dir.join(format!("server-{label}.log"));
    let mut serve_args = data_args.clone();
    // The operator allows loopback, where the fake GitHub listens.
    serve_args.extend([
        "--marketplace".to_owned(),
        marketplace.display().to_string(),
        "--allow-private".to_owned(),
        "127.0.0.1".to_owned(),
    ]);
    let server = serve(&serve_args, &server_log).await;
    let mut client = Client::new(&server, &token);
    let fake = FakeGitHub::start(CANARY).await.expect("fake GitHub");

    let market = client.get("/api/marketplace").await;
    assert_eq!(market[0]["name"], "github");
    assert_eq!(market[0]["available"], true);
    let (status, _) = client
        .call(
            reqwest::Method::PUT,
            &format!("/api/companies/{company}/secrets/github-token"),
            Some(json!({ "value": CANARY })),
        )
        .await;
    assert_eq!(status, 201, "{label}");
    // A GitHub install against the fake, its token in the company secret `secret`.
    let github_against_fake = |secret: &str| {
        json!({
            "plugin": "github",
            "config": { "org": ORG, "api_base_url": fake.url() },
            "grants": { "private_hosts": [format!("127.0.0.1:{}", fake.port())], "secrets": { "github_token": secret } },
        })
    };
    let (status, install) = client
        .call(
            reqwest::Method::POST,
            &format!("/api/companies/{company}/installs"),
            Some(github_against_fake("github-token")),
        )
        .await;
    assert_eq!(status, 201, "{label}: {install}");
    let install = install["id"].as_str().expect("install").to_owned();
    let (status, check) = client
        .call(
            reqwest::Method::POST,
            &format!("/api/companies/{company}/installs/{install}/check"),
            None,
        )
        .await;
    assert_eq!(
        (status, &check["ok"]),
        (200, &json!(true)),
        "{label}: {check}"
    );
    // A check with a token GitHub rejects says exactly that, and what to do.
    let (status, _) = client
        .call(
            reqwest::Method::PUT,
            &format!("/api/companies/{company}/secrets/stale-token"),
            Some(json!({ "value": "ghp_expired_long_ago" })),
        )
        .await;
    assert_eq!(status, 201, "{label}");
    let (status, failed) = client
        .call(
            reqwest::Method::POST,
            &format!("/api/companies/{company}/installs/check"),
            Some(github_against_fake("stale-token")),
        )
        .await;
    assert_eq!(
        (status, &failed["ok"]),
        (200, &json!(false)),
        "{label}: {failed}"
    );
    assert_eq!(
        failed["error"],
        "authentication failed: GitHub rejected the token `github_token` (401 Bad credentials): check that it is valid and not expired",
        "{label}: {failed}"
    );

    let first = client.run(&company, &install).await;
    assert_eq!(first["status"], "succeeded", "{label}: {first}");
    let expected = fake.expected();
    let total = expected.members
        + expected.teams
        + expected.repositories
        + expected.pull_requests
        + expected.reviews
        + expected.commits;
    assert_eq!(first["records_written"], total, "{label}");
    assert!(first["http_requests"].as_i64().expect("count") > 5);
    let records = client
        .all(&format!(
            "/api/companies/{company}/records?install={install}"
        ))
        .await;
    assert_eq!(records.len(), total, "{label}: every record once");
    let members = client
        .all(&format!("/api/companies/{company}/records?stream=members"))
        .await;
    assert_eq!(members.len(), expected.members);
    let logs = client
        .all(&format!(
            "/api/companies/{company}/logs?run={}",
            first["id"].as_str().expect("id")
        ))
        .await;
    assert!(
        logs.iter().any(|l| l["source"] == "plugin"),
        "{label}: the connector's lines are kept"
    );
    assert!(logs.iter().any(|l| {
        l["source"] == "host"
            && l["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("run succeeded")
    }));

    fake.add_activity();
    let second = client.run(&company, &install).await;
    assert_eq!(second["status"], "succeeded", "{label}: {second}");
    assert_eq!(
        second["records_written"], 6,
        "{label}: only what changed (2 pull requests, 2 reviews, 1 commit, 1 repository)"
    );
    let after_second = client
        .all(&format!(
            "/api/companies/{company}/records?install={install}"
        ))
        .await;
    let now = fake.expected();
    let total_now =
        now.members + now.teams + now.repositories + now.pull_requests + now.reviews + now.commits;
    assert_eq!(
        after_second.len(),
        total_now,
        "{label}: new records added, changed ones upserted"
    );
    drop(server);

    let mut rotate = vec!["admin".to_owned(), "rotate-keys".to_owned()];
    rotate.extend(data_args.clone());
    let rotated = sluice(rotate).await;
    assert!(
        rotated.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&rotated.stdout).trim(),
        "re-wrapped 1 data keys of 1 companies with master key version 2"
    );
    let server = serve(&serve_args, &server_log).await;
    client.base = server.base.clone();
    let third = client.run(&company, &install).await;
    assert_eq!(
        third["status"], "succeeded",
        "{label}: the secret opens after rotation: {third}"
    );
    let history = client
        .all(&format!("/api/companies/{company}/runs?install={install}"))
        .await;
    assert_eq!(history.len(), 3);
    let audit = client.all(&format!("/api/companies/{company}/audit")).await;
    assert!(
        audit.iter().any(|e| e["action"] == "keys.rotate"),
        "{label}: rotation is audited"
    );
    drop(server);

    for text in &client.seen {
        assert!(
            !text.contains(CANARY),
            "{label}: the canary is in an API answer: {text}"
        );
    }
    let log = std::fs::read_to_string(&server_log).expect("server log");
    assert!(
        log.contains("sluice is serving"),
        "{label}: structured logs: {log}"
    );
    assert!(
        !log.contains(CANARY),
        "{label}: the canary is in the server log"
    );
    assert_canary_absent_from_database(database, &data).await;
}

async fn assert_canary_absent_from_database(database: &TestDatabase, data: &Path) {
    if database.label == "SQLite" {
        let mut searched = 0;
        for name in ["sluice.db", "sluice.db-wal"] {
            if let Ok(bytes) = std::fs::read(data.join(name)) {
                searched += bytes.len();
                assert!(
                    !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
                    "the canary is in {name} in plaintext"
                );
            }
        }
        assert!(searched > 0, "the database files were read");
        return;
    }
    let pool = sqlx::PgPool::connect(&database.url)
        .await
        .expect("PostgreSQL");
    let mut rows = 0;
    for table in [
        "companies",
        "users",
        "memberships",
        "sessions",
        "api_tokens",
        "data_keys",
        "secrets",
        "installs",
        "runs",
        "records",
        "logs",
        "audit",
    ] {
        let texts: Vec<(String,)> = sqlx::query_as(&format!("SELECT t::text FROM {table} t"))
            .fetch_all(&pool)
            .await
            .expect("read a table");
        rows += texts.len();
        for (text,) in texts {
            assert!(
                !text.contains(CANARY),
                "the canary is in {table} in plaintext"
            );
        }
    }
    assert!(rows > 100, "the tables were read ({rows} rows)");
    pool.close().await;
}

#[tokio::test]
async fn serve_takes_its_settings_from_the_environment_and_logs_json_for_machines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let log = dir.path().join("serve.log");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"));
    command
        .arg("serve")
        .env("SLUICE_DATA_DIR", &data)
        .env("SLUICE_LISTEN", format!("127.0.0.1:{port}"))
        .env("SLUICE_LOG_FORMAT", "json")
        .env("SLUICE_MARKETPLACE", dir.path().join("marketplace"))
        .env_remove("SLUICE_MASTER_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"));
    let server = crate::process::start(
        command,
        format!("http://127.0.0.1:{port}"),
        std::time::Duration::from_secs(15),
    )
    .await;
    server.kill();
    assert!(
        data.join("sluice.db").is_file(),
        "the database is in SLUICE_DATA_DIR"
    );
    assert!(
        data.join("master.key").is_file(),
        "and so is the generated master key"
    );
    let text = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["fields"]["message"].as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("GENERATED A NEW MASTER KEY")),
        "the first start warns of the generated key: {messages:?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line["fields"]["message"] == "sluice is serving"
                && line["fields"]["address"] == format!("127.0.0.1:{port}")),
        "{text}"
    );
}

#[tokio::test]
async fn serve_takes_its_database_master_key_and_log_level_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let database = dir.path().join("elsewhere").join("custom.db");
    std::fs::create_dir_all(database.parent().expect("a folder")).expect("a folder");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let log = dir.path().join("serve.log");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"));
    command
        .arg("serve")
        .env("SLUICE_DATA_DIR", &data)
        .env(
            "SLUICE_DATABASE_URL",
            format!("sqlite://{}", database.display()),
        )
        .env(
            "SLUICE_MASTER_KEY",
            sluice::vault::SecretKey::generate().to_base64().as_str(),
        )
        .env("SLUICE_LOG", "warn")
        .env("SLUICE_LISTEN", format!("127.0.0.1:{port}"))
        .env("SLUICE_MARKETPLACE", dir.path().join("marketplace"))
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"));
    let server = crate::process::start(
        command,
        format!("http://127.0.0.1:{port}"),
        std::time::Duration::from_secs(15),
    )
    .await;
    server.kill();
    assert!(database.is_file(), "the database is at SLUICE_DATABASE_URL");
    assert!(
        !data.join("sluice.db").exists(),
        "and not in the data folder"
    );
    assert!(
        !data.join("master.key").exists(),
        "SLUICE_MASTER_KEY is the master key: none is generated"
    );
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        !text.contains("GENERATED A NEW MASTER KEY"),
        "no warning of a generated key: {text}"
    );
    assert!(
        !text.contains("sluice is serving"),
        "SLUICE_LOG=warn leaves out what is only information: {text}"
    );
    assert!(
        text.contains("no company exists yet"),
        "and keeps the warnings: {text}"
    );
}

#[tokio::test]
async fn serve_refuses_a_bad_setting_in_the_environment_and_names_it_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (variable, value, said) in [
        (
            "SLUICE_SESSION_IDLE",
            "soon",
            "error: invalid value 'soon' for '--session-idle <SESSION_IDLE>'",
        ),
        (
            "SLUICE_ALLOW_PRIVATE",
            "the-moon",
            "`the-moon` is not a private destination: a host needs its port",
        ),
        (
            "SLUICE_LISTEN",
            "nowhere",
            "error: invalid value 'nowhere' for '--listen <LISTEN>'",
        ),
        (
            "SLUICE_DATABASE_URL",
            "mysql://sluice:hunter2@db.internal/sluice",
            "error: cannot open the database (db.internal/sluice): unsupported database URL scheme `mysql`: use sqlite://PATH or postgres://…",
        ),
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("serve")
            .env("SLUICE_DATA_DIR", dir.path().join("data"))
            .env("SLUICE_MARKETPLACE", dir.path().join("marketplace"))
            .env(variable, value)
            .output()
            .await
            .expect("run sluice serve");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "{variable}: {stderr}");
        assert_eq!(stderr.matches(said).count(), 1, "{variable}: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "no password in the error: {stderr}"
        );
    }
}

#[tokio::test]
async fn serve_builds_the_bundled_connectors_that_the_environment_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sources, marketplace) = crate::newcomer::bundled_workspace(dir.path(), &[("hollow", "")]);
    let log = dir.path().join("serve.log");
    // No `--bundled-connectors`: the folder comes from the environment alone, and the
    // default (`plugins` in the working directory) does not exist here.
    let (mut command, base) = crate::process::serve_command(&[], &log);
    command
        .current_dir(dir.path())
        .env("SLUICE_BUNDLED_CONNECTORS", &sources)
        .env("SLUICE_DATA_DIR", dir.path().join("data"))
        .env("SLUICE_MARKETPLACE", &marketplace)
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .env("NO_COLOR", "1");
    let server = crate::process::start(command, base, std::time::Duration::from_secs(600)).await;
    server.kill();
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains(&format!("sources={}", sources.display()))
            && text.contains("connector built and published progress=1/1 connector=hollow"),
        "{text}"
    );
    let artifact = std::fs::read(marketplace.join("hollow/0.1.0/hollow.wasm")).expect("built");
    let index = std::fs::read_to_string(marketplace.join("index.toml")).expect("index");
    assert!(
        index.contains(&format!(
            "sha256 = \"{}\"",
            sluice::marketplace::sha256_hex(&artifact)
        )),
        "the index records what was built: {index}"
    );
}
