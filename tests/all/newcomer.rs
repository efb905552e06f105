//! A newcomer's first run, as the README's Quick start tells it: `sluice serve` on a fresh
//! data folder builds and publishes the connectors that ship with Sluice and says how to
//! create the first company; `sluice admin bootstrap` says what to do next; its steps sync
//! GitHub (here the fake one), and leaves the committed marketplace as it was: what a fresh
//! clone builds, wherever it lies, is what the repository published. A connector that
//! fails to build is listed with its error. The log is plain text when it does not go to a
//! terminal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use sluice_tests::fakes::github::{FakeGitHub, ORG};

use crate::process::{Client, Server, bootstrap, line_value, serve_command, start};
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

#[test]
fn every_crate_the_bundled_connectors_build_from_the_checkout_is_inside_their_folder() {
    // Cargo names a crate of the checkout in its build hashes by its path relative to the
    // connectors' workspace when it lies inside it, by its absolute path otherwise: one
    // crate outside would make the connectors' bytes, and their digests, depend on where
    // the repository was cloned.
    let plugins = repository().join("plugins");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(&plugins)
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let root = metadata["workspace_root"].as_str().expect("workspace_root");
    let local: Vec<&str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|package| package["source"].is_null())
        .map(|package| package["manifest_path"].as_str().expect("manifest_path"))
        .collect();
    assert!(
        local
            .iter()
            .any(|path| path.ends_with("sluice-sdk/Cargo.toml")),
        "the SDK is among them: {local:?}"
    );
    let outside: Vec<&&str> = local
        .iter()
        .filter(|path| !Path::new(path).starts_with(root))
        .collect();
    assert!(outside.is_empty(), "outside {root}: {outside:?}");
}

#[test]
fn the_connectors_name_no_folder_of_the_machine_that_built_them() {
    let mut folders = vec![repository().display().to_string()];
    if let Some(home) = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|home| home.join(".cargo")))
    {
        folders.push(home.display().to_string());
    }
    for wasm in [
        sluice_tests::guests::COPILOT_WASM,
        sluice_tests::guests::GITHUB_WASM,
        sluice_tests::guests::GRAFANA_WASM,
        sluice_tests::guests::JIRA_WASM,
        sluice_tests::guests::SLACK_WASM,
        sluice_tests::guests::SURVEY_WASM,
    ] {
        let bytes = std::fs::read(wasm).expect("a built connector");
        for folder in &folders {
            assert!(
                !bytes
                    .windows(folder.len())
                    .any(|window| window == folder.as_bytes()),
                "{wasm} names {folder}"
            );
        }
        assert!(
            bytes
                .windows(b"/cargo/registry/src/".len())
                .any(|window| window == b"/cargo/registry/src/"),
            "{wasm} names its crates.io sources from /cargo"
        );
    }
}

/// Starts `sluice serve` and waits for it, allowing for a build of the connectors.
async fn serve_building(args: &[String], log: &Path, cargo_target: &Path) -> Server {
    let (mut command, base) = serve_command(args, log);
    command.env("CARGO_TARGET_DIR", cargo_target);
    start(command, base, Duration::from_secs(600)).await
}

#[tokio::test]
async fn a_fresh_clone_serves_the_bundled_connectors_and_the_quick_start_syncs_github() {
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
    for name in ["copilot", "github", "grafana", "jira", "slack", "survey"] {
        assert!(
            first_start
                .lines()
                .any(|l| l.contains("connector built and published") && l.contains(name)),
            "{name} is built on first start: {first_start}"
        );
    }
    // What a fresh clone builds is what the repository publishes: the index serve wrote is
    // the committed one, so a first `sluice serve` leaves `git status` clean.
    assert_eq!(
        std::fs::read_to_string(marketplace.join("index.toml")).expect("index"),
        std::fs::read_to_string(repo.join("marketplace/index.toml")).expect("committed index"),
        "the connectors build other bytes than marketplace/index.toml records: publish them again \
         (`sluice marketplace publish plugins/NAME`), or find what made the build depend on where it ran"
    );

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
            ("slack", true),
            ("survey", true)
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

    // A second start publishes nothing again and no longer asks for a first company.
    let log = dir.path().join("second-start.log");
    let server = serve_building(&args, &log, &cargo_target).await;
    let second_start = std::fs::read_to_string(&log).expect("log");
    assert!(
        !second_start.contains("connector built and published")
            && !second_start.contains("no company exists yet"),
        "{second_start}"
    );
    server.kill();
}

/// A bundled workspace in `dir/sources` whose members are connector crates with these
/// names and code, each listed in `dir/marketplace`; the two folders.
pub(crate) fn bundled_workspace(dir: &Path, crates: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let sources = dir.join("sources");
    let marketplace = dir.join("marketplace");
    std::fs::create_dir_all(&sources).expect("mkdir");
    let members: Vec<String> = crates.iter().map(|(name, _)| format!("{name:?}")).collect();
    std::fs::write(
        sources.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )
    .expect("write");
    for (name, code) in crates {
        bundled_crate(&sources, &marketplace, name, code);
    }
    (sources, marketplace)
}

/// A connector crate of the bundled workspace in `sources`, listed in `marketplace`.
fn bundled_crate(sources: &Path, marketplace: &Path, name: &str, code: &str) {
    let dir = sources.join(name);
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n"
        ),
    )
    .expect("write");
    std::fs::write(dir.join("src/lib.rs"), code).expect("write");
    let manifest = std::fs::read_to_string(sluice_tests::guests::TRIVIAL_MANIFEST)
        .expect("manifest")
        .replacen("name = \"trivial\"", &format!("name = \"{name}\""), 1);
    std::fs::write(dir.join("sluice.toml"), &manifest).expect("write");
    let listed = marketplace.join(name).join("0.1.0");
    std::fs::create_dir_all(&listed).expect("mkdir");
    std::fs::write(listed.join("sluice.toml"), &manifest).expect("write");
    let index = marketplace.join("index.toml");
    let mut text = std::fs::read_to_string(&index).unwrap_or_default();
    text.push_str(&format!(
        "[[connector]]\nname = \"{name}\"\nversion = \"0.1.0\"\nmanifest = \"{name}/0.1.0/sluice.toml\"\n\
         artifact = \"{name}/0.1.0/{name}.wasm\"\nsha256 = \"{}\"\n\n",
        "0".repeat(64)
    ));
    std::fs::write(index, text).expect("write");
}

#[tokio::test]
async fn a_changed_connector_is_published_again_and_one_that_fails_to_build_is_listed_with_its_error()
 {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sources, marketplace) = bundled_workspace(
        dir.path(),
        &[("broken", "pub fn sync( {}\n"), ("hollow", "")],
    );
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
    let target = dir.path().join("target");
    let data_args = ["--data-dir".to_owned(), data.display().to_string()];
    let stdout = bootstrap(&data_args, "ada@acme.test", "Acme").await;
    let token = line_value(&stdout, "api token:").to_owned();
    let start = |name: &str| {
        let log = dir.path().join(format!("{name}.log"));
        let (args, target) = (args.clone(), target.clone());
        async move {
            let server = serve_building(&args, &log, &target).await;
            let text = std::fs::read_to_string(&log).expect("log");
            (server, text)
        }
    };
    let hollow_digest = || {
        let index = std::fs::read_to_string(marketplace.join("index.toml")).expect("index");
        index
            .split("[[connector]]")
            .find(|entry| entry.contains("name = \"hollow\""))
            .and_then(|entry| {
                entry
                    .lines()
                    .find(|l| l.starts_with("sha256"))
                    .map(str::to_owned)
            })
            .expect("hollow is listed")
    };

    let (server, first) = start("first").await;
    let mut client = Client::new(&server, &token);
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
    assert_eq!(
        (&market[1]["name"], &market[1]["available"]),
        (&json!("hollow"), &json!(true)),
        "the others still work"
    );
    assert!(
        first.contains("connector could not be built; the others still work")
            && first.contains("connector built and published progress=2/2 connector=hollow"),
        "{first}"
    );
    server.kill();
    let published = hollow_digest();

    // A changed connector is built and published again.
    std::fs::write(
        sources.join("hollow/src/lib.rs"),
        "#[unsafe(no_mangle)]\npub extern \"C\" fn version() -> u32 {\n    2\n}\n",
    )
    .expect("write");
    let (server, second) = start("second").await;
    assert!(
        second.contains("connector built and published progress=2/2 connector=hollow"),
        "{second}"
    );
    assert_ne!(
        hollow_digest(),
        published,
        "the new build is what is published"
    );
    server.kill();

    // A connector that no longer builds keeps serving what was published.
    let republished = hollow_digest();
    std::fs::write(sources.join("hollow/src/lib.rs"), "pub fn sync( {}\n").expect("write");
    let (server, third) = start("third").await;
    assert!(
        third.contains("connector could not be rebuilt; its published artifact is served"),
        "{third}"
    );
    assert_eq!(hollow_digest(), republished);
    let mut client = Client::new(&server, &token);
    let market = client.get("/api/marketplace").await;
    assert_eq!(market[1]["available"], true, "{market}");
    server.kill();
}
