//! The `sluice` command as a plugin author meets it: a process, its exit code, its words.

use std::path::Path;
use std::process::Output;

use serde_json::json;
use sluice_tests::guests;

use crate::support::{Spy, sluice, sluice_with_env};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_json(dir: &Path, name: &str, value: &serde_json::Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("write json");
    path.display().to_string()
}

fn hostile_run(config: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "plugin",
        "run",
        guests::HOSTILE_WASM,
        "--manifest",
        guests::HOSTILE_MANIFEST,
        "--config",
        config,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    args.extend(extra.iter().map(ToString::to_string));
    args
}

#[tokio::test]
async fn an_endless_loop_is_stopped_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_json(
        dir.path(),
        "config.json",
        &json!({ "behaviour": "endless-loop" }),
    );
    let output = sluice(hostile_run(&config, &["--cpu-limit", "1s"])).await;
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("error:       stopped: the connector ran for more than 1s of CPU time (an endless loop?)"), "{text}");
}

#[tokio::test]
async fn a_private_address_without_a_grant_is_refused_with_how_to_grant_it() {
    let spy = Spy::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://127.0.0.1:{}/", spy.port);
    let config = write_json(
        dir.path(),
        "config.json",
        &json!({ "behaviour": "fetch", "url": url }),
    );
    let grant = format!("127.0.0.1:{}", spy.port);
    let output = sluice(hostile_run(&config, &["--allow-host", &grant])).await;
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains(&format!("`127.0.0.1` is a loopback address; connectors reach non-public addresses only when the server's operator allows them (sluice plugin run --allow-private-host {grant}) and an admin grants that exact host as private")),
        "{text}"
    );
    assert!(spy.hits().is_empty());

    let output = sluice(hostile_run(&config, &["--allow-private-host", &grant])).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(spy.hits(), ["/"]);
}

#[tokio::test]
async fn a_config_that_breaks_the_schema_is_refused_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_json(dir.path(), "config.json", &json!({ "behaviour": "dance" }));
    let output = sluice(hostile_run(&config, &[])).await;
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains("configuration does not match the `hostile` connector's schema"),
        "{text}"
    );
    assert!(
        text.contains("at /behaviour: \"dance\" is not one of"),
        "{text}"
    );
}

#[tokio::test]
async fn a_component_without_a_manifest_says_how_to_fix_it() {
    let output = sluice(vec![
        "plugin".into(),
        "run".into(),
        guests::TRIVIAL_WASM.into(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains(
        "carries no manifest: build it with `sluice plugin build`, or pass --manifest sluice.toml"
    ));
}

#[tokio::test]
async fn check_reports_a_passed_connection_check() {
    let args = [
        "plugin",
        "check",
        guests::TRIVIAL_WASM,
        "--manifest",
        guests::TRIVIAL_MANIFEST,
    ];
    let output = sluice(args.iter().map(ToString::to_string).collect()).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("connection check passed"));
}

/// The hello connector of the SDK's README is the one `plugin new` writes, and it builds
/// and runs as it is.
#[tokio::test]
async fn a_scaffolded_connector_builds_and_runs() {
    let template = include_str!("../../plugin-sdk/template/src/lib.rs");
    let readme = include_str!("../../plugin-sdk/README.md");
    assert!(
        readme.contains(template),
        "the SDK README shows the scaffolded hello connector"
    );
    assert!(template.lines().count() <= 25);

    let dir = tempfile::tempdir().expect("tempdir");
    let crate_dir = dir.path().join("hello");
    let output = sluice(vec![
        "plugin".into(),
        "new".into(),
        "hello".into(),
        "--dir".into(),
        crate_dir.display().to_string(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // Share the compiled SDK with the test guests' builds.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests");
    let build = tokio::task::spawn_blocking({
        let (crate_dir, target) = (crate_dir.clone(), target.clone());
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
                .args(["plugin", "build"])
                .arg(&crate_dir)
                .env("CARGO_TARGET_DIR", target)
                .output()
                .expect("run sluice plugin build")
        }
    })
    .await
    .expect("join");
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    let printed = String::from_utf8_lossy(&build.stdout);
    let artifact = printed
        .lines()
        .next()
        .expect("the artifact's path")
        .to_owned();
    assert!(artifact.ends_with("hello-0.1.0.wasm"), "{printed}");
    assert!(printed.contains("sha256  "), "{printed}");
    let digest = printed
        .lines()
        .find_map(|l| l.strip_prefix("sha256  "))
        .expect("the digest")
        .to_owned();

    // `marketplace publish` of the crate's folder builds it and publishes what it built.
    let marketplace = dir.path().join("marketplace");
    let published = tokio::task::spawn_blocking({
        let (crate_dir, marketplace, target) =
            (crate_dir.clone(), marketplace.clone(), target.clone());
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
                .args(["marketplace", "publish"])
                .arg(&crate_dir)
                .arg("--marketplace")
                .arg(&marketplace)
                .env("CARGO_TARGET_DIR", target)
                .output()
                .expect("run sluice marketplace publish")
        }
    })
    .await
    .expect("join");
    assert_eq!(published.status.code(), Some(0), "{}", stderr(&published));
    assert!(
        String::from_utf8_lossy(&published.stdout).contains(&format!(
            "published hello 0.1.0 to {}",
            marketplace.display()
        )),
        "{}",
        String::from_utf8_lossy(&published.stdout)
    );
    let index = std::fs::read_to_string(marketplace.join("index.toml")).expect("the index");
    assert!(index.contains(&format!("sha256 = \"{digest}\"")), "{index}");

    let spy = Spy::start().await;
    let config = write_json(
        dir.path(),
        "config.json",
        &json!({ "url": format!("http://127.0.0.1:{}/page", spy.port) }),
    );
    let out = dir.path().join("records.jsonl");
    let grant = format!("127.0.0.1:{}", spy.port);
    let args = [
        "plugin",
        "run",
        &artifact,
        "--config",
        &config,
        "--allow-private-host",
        &grant,
        "--out",
        &out.display().to_string(),
    ];
    let output = sluice(args.iter().map(ToString::to_string).collect()).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let records = std::fs::read_to_string(&out).expect("records");
    let record: serde_json::Value = serde_json::from_str(records.trim()).expect("one JSON line");
    assert_eq!(record["stream"], "pages");
    assert_eq!(record["data"]["status"], 200);
    assert_eq!(record["data"]["bytes"], "hello from the spy".len());
}

/// `sluice plugin run` of the trivial connector with `config`, and `extra` flags.
async fn trivial_run(dir: &Path, config: &serde_json::Value, extra: &[&str]) -> Output {
    let config = write_json(dir, "config.json", config);
    let mut args: Vec<String> = [
        "plugin",
        "run",
        guests::TRIVIAL_WASM,
        "--manifest",
        guests::TRIVIAL_MANIFEST,
        "--config",
        &config,
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(ToString::to_string));
    sluice(args).await
}

#[tokio::test]
async fn plugin_run_exits_0_1_or_75_and_sums_the_run_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let succeeded = trivial_run(dir.path(), &json!({}), &[]).await;
    assert_eq!(succeeded.status.code(), Some(0), "{}", stderr(&succeeded));
    let text = stderr(&succeeded);
    for line in [
        "records:     1 (ticks 1)",
        "http:        0 requests",
        "wall time:   ",
        "peak memory: ",
    ] {
        assert!(text.contains(line), "the summary has `{line}`: {text}");
    }
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&succeeded.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(
        records,
        [json!({ "stream": "ticks", "key": "1", "data": { "n": 1 } })],
        "records go to stdout as JSON lines"
    );

    let failed = trivial_run(dir.path(), &json!({ "fail": "upstream" }), &[]).await;
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("── failed"), "{}", stderr(&failed));

    let limited = trivial_run(
        dir.path(),
        &json!({ "fail": "rate-limited", "wait_seconds": 3600 }),
        &[],
    )
    .await;
    assert_eq!(limited.status.code(), Some(75), "{}", stderr(&limited));
    assert!(
        stderr(&limited).contains("── rate limited: records and cursor so far are kept"),
        "{}",
        stderr(&limited)
    );
}

#[tokio::test]
async fn plugin_run_timeout_and_memory_flags_set_the_runs_caps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paused = trivial_run(
        dir.path(),
        &json!({ "pause_ms": 5_000 }),
        &["--timeout", "1s"],
    )
    .await;
    assert_eq!(paused.status.code(), Some(1));
    assert!(
        stderr(&paused).contains("error:       stopped: the run passed its 1s deadline"),
        "{}",
        stderr(&paused)
    );

    let config = write_json(
        dir.path(),
        "hog.json",
        &json!({ "behaviour": "memory-hog" }),
    );
    let hog = sluice(hostile_run(&config, &["--memory-mib", "24"])).await;
    assert_eq!(hog.status.code(), Some(1));
    let text = stderr(&hog);
    assert!(
        text.contains("error:       stopped: the connector tried to grow its memory to ")
            && text.contains(&format!("over the cap of {} bytes", 24 << 20)),
        "{text}"
    );
}

#[tokio::test]
async fn proxy_variables_of_the_hosts_environment_never_carry_a_connectors_requests() {
    let proxy = Spy::start().await;
    let service = Spy::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_json(
        dir.path(),
        "config.json",
        &json!({ "behaviour": "fetch", "url": format!("http://127.0.0.1:{}/", service.port) }),
    );
    let through = format!("http://127.0.0.1:{}", proxy.port);
    let env: Vec<(&str, String)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, through.clone()))
    .chain([("NO_PROXY", String::new()), ("no_proxy", String::new())])
    .collect();
    let grant = format!("127.0.0.1:{}", service.port);
    let output = sluice_with_env(
        hostile_run(&config, &["--allow-private-host", &grant]),
        &env,
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        service.hits(),
        ["/"],
        "the request went straight to the service"
    );
    assert!(proxy.hits().is_empty(), "the proxy saw nothing");
}
