//! The Grafana connector end to end through `sluice plugin run`, and through the server's
//! API, against a fake Grafana.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::json;
use sluice_tests::fakes::grafana::{DASHBOARDS, FakeGrafana};
use sluice_tests::guests;

use crate::harness::{Harness, on_every_database};
use crate::support::{Run, run_connector};

const TOKEN: &str = "glsa_canaryGrafanaToken_0123456789";

fn config(fake: &FakeGrafana) -> serde_json::Value {
    json!({ "base_url": fake.url(), "queries": [
        { "name": "up", "datasource_uid": "prom1", "kind": "prometheus", "expr": "up", "step_seconds": 60 },
        { "name": "errors", "datasource_uid": "loki1", "kind": "loki", "expr": "{app=\"api\"} |= \"timeout\"" }
    ] })
}

async fn run(fake: &FakeGrafana, dir: &Path, token: &str, grant: &str) -> Run {
    run_configured(fake, dir, token, grant, &config(fake)).await
}

async fn run_configured(
    fake: &FakeGrafana,
    dir: &Path,
    token: &str,
    grant: &str,
    config: &serde_json::Value,
) -> Run {
    let secret = format!("grafana_token={token}");
    let state = dir.join("state.json");
    run_connector(
        guests::GRAFANA_WASM,
        guests::GRAFANA_MANIFEST,
        dir,
        &state,
        config,
        &[
            "--secret",
            &secret,
            grant,
            &format!("127.0.0.1:{}", fake.port()),
        ],
    )
    .await
}

fn sample_keys(run: &Run) -> BTreeSet<String> {
    run.by_stream()
        .remove("query_samples")
        .unwrap_or_default()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn everything_is_emitted_and_queries_resume_where_they_ended() {
    let fake = FakeGrafana::start(TOKEN).await.expect("fake Grafana");
    let dir = tempfile::tempdir().expect("tempdir");
    let first = run(&fake, dir.path(), TOKEN, "--allow-private-host").await;
    assert_eq!(first.output.status.code(), Some(0), "{}", first.stderr());
    assert_eq!(first.count("dashboards"), DASHBOARDS);
    assert_eq!(first.count("datasources"), 2);
    assert_eq!(first.count("alert_rules"), 3);
    let samples = sample_keys(&first);
    let prometheus = samples.iter().filter(|k| k.starts_with("up|")).count();
    let loki = samples.iter().filter(|k| k.starts_with("errors|")).count();
    assert!(
        (120..=122).contains(&prometheus),
        "two series over an hour at one a minute: {prometheus}"
    );
    assert!(
        (24..=26).contains(&loki),
        "two streams with a line every five minutes over an hour: {loki}"
    );
    assert!(
        fake.requests().iter().any(|r| r.contains("page=2")),
        "search paged"
    );

    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state.json")).expect("state"),
    )
    .expect("JSON");
    let first_end = state["query_end:up"]
        .as_str()
        .expect("a cursor for `up`")
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = run(&fake, dir.path(), TOKEN, "--allow-private-host").await;
    assert_eq!(second.output.status.code(), Some(0), "{}", second.stderr());
    let again = sample_keys(&second);
    assert!(
        again.is_disjoint(&samples),
        "no sample twice across runs: {:?}",
        again.intersection(&samples).collect::<Vec<_>>()
    );
    let resumed = fake
        .requests()
        .into_iter()
        .rfind(|r| r.contains("/prom1/api/v1/query_range"))
        .expect("a query");
    assert!(
        resumed.contains(&format!("start={first_end}&")),
        "the second run starts where the first ended: {resumed}"
    );
}

#[tokio::test]
async fn a_private_grafana_without_a_private_grant_is_refused_with_how_to_grant_it() {
    let fake = FakeGrafana::start(TOKEN).await.expect("fake Grafana");
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run(&fake, dir.path(), TOKEN, "--allow-host").await;
    assert_eq!(run.output.status.code(), Some(1));
    assert!(
        run.stderr().contains(&format!("`127.0.0.1` is a loopback address; connectors reach non-public addresses only when the server's operator allows them (sluice plugin run --allow-private-host 127.0.0.1:{}) and an admin grants that exact host as private", fake.port())),
        "{}",
        run.stderr()
    );
    assert!(fake.requests().is_empty(), "nothing reached Grafana");
}

#[tokio::test]
async fn bad_tokens_and_rate_limits() {
    let fake = FakeGrafana::start(TOKEN).await.expect("fake Grafana");
    let dir = tempfile::tempdir().expect("tempdir");
    let run1 = run(&fake, dir.path(), "glsa_wrong", "--allow-private-host").await;
    assert_eq!(run1.output.status.code(), Some(1));
    assert!(
        run1.stderr().contains(&format!("authentication failed: Grafana at {} rejected the service-account token `grafana_token` (401 Invalid API key)", fake.url())),
        "{}",
        run1.stderr()
    );
    fake.set_rate_limit_once();
    let run2 = run(&fake, dir.path(), TOKEN, "--allow-private-host").await;
    assert_eq!(run2.output.status.code(), Some(0), "{}", run2.stderr());
    assert_eq!(run2.count("dashboards"), DASHBOARDS);
}

#[tokio::test]
async fn a_loki_answer_cut_at_its_limit_is_followed_to_the_end_of_the_range() {
    let fake = FakeGrafana::start(TOKEN).await.expect("fake Grafana");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = json!({ "base_url": fake.url(), "queries": [
        { "name": "errors", "datasource_uid": "loki1", "kind": "loki", "expr": "{app=\"api\"}", "limit": 5 }
    ] });
    let run = run_configured(&fake, dir.path(), TOKEN, "--allow-private-host", &config).await;
    assert_eq!(run.output.status.code(), Some(0), "{}", run.stderr());
    // `errors|app=api,level=error|1767225600000000000`: every five minutes of the hour, both
    // streams, each line once (`sample_keys` fails on a key emitted twice).
    let keys = sample_keys(&run);
    let mut times: Vec<u128> = keys
        .iter()
        .filter_map(|key| key.rsplit('|').next()?.parse().ok())
        .collect();
    times.sort_unstable();
    times.dedup();
    assert!((12..=13).contains(&times.len()), "{keys:?}");
    assert_eq!(
        keys.len(),
        2 * times.len(),
        "both streams at every time: {keys:?}"
    );
    assert!(
        times
            .windows(2)
            .all(|pair| pair[1] - pair[0] == 300_000_000_000),
        "no five minutes missing: {times:?}"
    );
    let asked: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.contains("/loki/api/v1/query_range"))
        .collect();
    assert!(asked.len() >= 5, "one request per five lines: {asked:?}");
    assert!(
        asked
            .iter()
            .all(|r| r.contains("limit=5&direction=forward")),
        "{asked:?}"
    );
}

/// A dashboard deleted in Grafana is reported deleted by the next sync through the
/// server, while the dashboards that did not change are not written again.
#[tokio::test]
async fn a_dashboard_deleted_in_grafana_is_reported_deleted_by_the_next_run() {
    async fn test(h: &Harness) {
        let label = h.label;
        let fake = FakeGrafana::start(TOKEN).await.expect("fake Grafana");
        let install = h
            .install_talking_to(
                "grafana",
                json!({ "base_url": fake.url() }),
                fake.port(),
                ("grafana_token", "grafana", TOKEN),
            )
            .await;

        let first = h.run_of_acme(&install).await;
        assert_eq!(first["status"], "succeeded", "{label}: {first}");
        assert_eq!(first["records_deleted"], 0, "{label}: {first}");
        assert_eq!(
            h.records_of_acme(&install, "dashboards", None).await.len(),
            DASHBOARDS,
            "{label}"
        );

        assert!(fake.delete_dashboard("dash00007"));
        let deleted = h
            .sync_seeing_one_item_gone(&install, "dashboards", ("dash00007", DASHBOARDS), &first)
            .await;
        assert_eq!(
            deleted["data"]["title"], "Service 7",
            "{label}: its last data stays"
        );
        assert_eq!(
            h.records_of_acme(&install, "alert_rules", Some(true)).await,
            Vec::<serde_json::Value>::new(),
            "{label}: every alert rule is still there"
        );
    }
    on_every_database!(test);
}
