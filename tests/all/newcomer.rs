//! A newcomer's first run, as the README's Quick start tells it: `sluice serve` on a fresh
//! data folder builds and publishes the connectors that ship with Sluice and says how to
//! create the first company; `sluice admin bootstrap` says what to do next; its steps sync
//! GitHub (here the fake one). A connector that fails to build is listed with its error.
//! The log is plain text when it does not go to a terminal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use sluice_tests::fakes::github::{FakeGitHub, ORG};

use crate::process::{Client, Server, line_value, serve_command, start};
use crate::support::sluice;

/// The repository's folder.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository")
}

/// A copy of the repository's marketplace as a fresh clone has it: the index and the
/// manifests, no artifact.
fn fresh_marketplace(to: &Path) {
    let from = repository().join("marketplace");
    for entry in walk(&from) {
        if entry.extension().is_some_and(|e| e == "toml") {
            let target = to.join(entry.strip_prefix(&from).expect("inside"));
            std::fs::create_dir_all(target.parent().expect("a folder")).expect("mkdir");
            std::fs::copy(&entry, &target).expect("copy");
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Starts `sluice serve` and waits for it, allowing for a build of the connectors.
async fn serve_building(args: &[String], log: &Path, cargo_target: &Path) -> Server {
    let (mut command, base) = serve_command(args, log);
    command.env("CARGO_TARGET_DIR", cargo_target);
    start(command, base, Duration::from_secs(600)).await
}

#[tokio::test]
async fn a_fresh_clone_serves_the_five_connectors_and_the_quick_start_syncs_github() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marketplace = dir.path().join("marketplace");
    fresh_marketplace(&marketplace);
    let data = dir.path().join("data");
    let repo = repository();
    let args: Vec<String> = [
        "--data-dir",
        &data.display().to_string(),
        "--marketplace",
        &marketplace.display().to_string(),
        "--bundled-connectors",
        &repo.join("plugins").display().to_string(),
        // The operator allows loopback, where the fake GitHub listens.
        "--allow-private",
        "127.0.0.1",
    ]
    .map(str::to_owned)
    .to_vec();
    // The build shares the folder where the tests' own build put the connectors, so it
    // finds them fresh instead of building them again.
    let cargo_target = repo.join("target").join("guests");
    let log = dir.path().join("first-start.log");
    let server = serve_building(&args, &log, &cargo_target).await;
    let first_start = std::fs::read_to_string(&log).expect("log");
    assert!(
        !first_start.contains('\u{1b}'),
        "no colour codes when the log is not a terminal: {first_start}"
    );
    assert!(
        first_start.contains("no company exists yet")
            && first_start.contains(&format!(
                "sluice admin bootstrap --email you@example.com --company \"Your company\" --data-dir {}",
                data.display()
            )),
        "the log says how to create the first company: {first_start}"
    );
    for name in ["copilot", "github", "grafana", "jira", "slack"] {
        assert!(
            first_start
                .lines()
                .any(|l| l.contains("connector built and published") && l.contains(name)),
            "{name} is built on first start: {first_start}"
        );
    }

    let output = sluice(
        [
            "admin",
            "bootstrap",
            "--email",
            "ada@acme.test",
            "--company",
            "Acme",
            "--data-dir",
            &data.display().to_string(),
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let company = line_value(&stdout, "company:")
        .split(' ')
        .next()
        .expect("id")
        .to_owned();
    let token = line_value(&stdout, "api token:").to_owned();
    assert!(
        stderr.contains(&format!(
            "POST /api/companies/{company}/installs   {{\"plugin\": \"github\""
        )),
        "bootstrap says what to do next: {stderr}"
    );

    let mut client = Client::new(&server, &token);
    let market = client.get("/api/marketplace").await;
    let listed: Vec<(&str, bool)> = market
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default(),
                c["available"] == true && c["unavailable_because"].is_null(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("copilot", true),
            ("github", true),
            ("grafana", true),
            ("jira", true),
            ("slack", true)
        ]
    );

    // The Quick start's steps, against the fake GitHub.
    let fake = FakeGitHub::start("ghp_quickstart").await.expect("fake");
    let (status, _) = client
        .call(
            reqwest::Method::PUT,
            &format!("/api/companies/{company}/secrets/github-token"),
            Some(json!({ "value": "ghp_quickstart" })),
        )
        .await;
    assert_eq!(status, 201);
    let (status, install) = client
        .call(
            reqwest::Method::POST,
            &format!("/api/companies/{company}/installs"),
            Some(json!({
                "plugin": "github",
                "config": { "org": ORG, "api_base_url": fake.url() },
                "grants": {
                    "private_hosts": [format!("127.0.0.1:{}", fake.port())],
                    "secrets": { "github_token": "github-token" },
                },
            })),
        )
        .await;
    assert_eq!(status, 201, "{install}");
    let install = install["id"].as_str().expect("install").to_owned();
    let run = client.run(&company, &install).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let records = client
        .all(&format!(
            "/api/companies/{company}/records?install={install}"
        ))
        .await;
    assert!(
        !records.is_empty() && json!(records.len()) == run["records_written"],
        "{run}"
    );
    server.kill();

    // A second start builds nothing and no longer asks for a first company.
    let log = dir.path().join("second-start.log");
    let server = serve_building(&args, &log, &cargo_target).await;
    let second_start = std::fs::read_to_string(&log).expect("log");
    assert!(
        !second_start.contains("building the connectors")
            && !second_start.contains("no company exists yet"),
        "{second_start}"
    );
    server.kill();
}

#[tokio::test]
async fn a_connector_that_fails_to_build_is_listed_with_its_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = dir.path().join("sources");
    let broken = sources.join("broken");
    std::fs::create_dir_all(broken.join("src")).expect("mkdir");
    std::fs::write(
        sources.join("Cargo.toml"),
        "[workspace]\nresolver = \"3\"\nmembers = [\"broken\"]\n",
    )
    .expect("write");
    std::fs::write(
        broken.join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n",
    )
    .expect("write");
    std::fs::write(broken.join("src/lib.rs"), "pub fn sync( {}\n").expect("write");
    let manifest = std::fs::read_to_string(sluice_tests::guests::TRIVIAL_MANIFEST)
        .expect("manifest")
        .replacen("name = \"trivial\"", "name = \"broken\"", 1);
    std::fs::write(broken.join("sluice.toml"), &manifest).expect("write");
    let marketplace = dir.path().join("marketplace");
    std::fs::create_dir_all(marketplace.join("broken/0.1.0")).expect("mkdir");
    std::fs::write(marketplace.join("broken/0.1.0/sluice.toml"), &manifest).expect("write");
    std::fs::write(
        marketplace.join("index.toml"),
        format!(
            "[[connector]]\nname = \"broken\"\nversion = \"0.1.0\"\nmanifest = \"broken/0.1.0/sluice.toml\"\n\
             artifact = \"broken/0.1.0/broken.wasm\"\nsha256 = \"{}\"\n",
            "0".repeat(64)
        ),
    )
    .expect("write");
    let data = dir.path().join("data");
    let args: Vec<String> = [
        "--data-dir",
        &data.display().to_string(),
        "--marketplace",
        &marketplace.display().to_string(),
        "--bundled-connectors",
        &sources.display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    let log = dir.path().join("serve.log");
    let server = serve_building(&args, &log, &dir.path().join("target")).await;
    let output = sluice(
        [
            "admin",
            "bootstrap",
            "--email",
            "ada@acme.test",
            "--company",
            "Acme",
            "--data-dir",
            &data.display().to_string(),
        ]
        .map(str::to_owned)
        .to_vec(),
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut client = Client::new(&server, line_value(&stdout, "api token:"));
    let market = client.get("/api/marketplace").await;
    assert_eq!(market[0]["name"], "broken");
    assert_eq!(market[0]["available"], false);
    let because = market[0]["unavailable_because"]
        .as_str()
        .unwrap_or_default();
    assert!(
        because.starts_with("its build failed: cargo reported: ")
            && because.contains("unclosed delimiter"),
        "the listing says why: {because}"
    );
    let served = std::fs::read_to_string(&log).expect("log");
    assert!(
        served.contains("connector could not be built; the others still work")
            && served.contains("1/1"),
        "{served}"
    );
    server.kill();
}
