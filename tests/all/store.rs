//! The store's bulk writes on every database: a run's records commit exactly as the
//! connector produced them, across statement boundaries, last emission winning; a commit
//! that no longer holds its run keeps nothing; runs that commit together (on SQLite, in
//! one transaction) each keep their own outcome; log lines keep their order and text.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use sluice::runtime::{EmittedRecord, Level, LogLine, Source};
use sluice::store::{Claim, LogFilter, PAGE_BYTES, RecordFilter, Run, RunEnd, RunFinish, Store};
use sluice_tests::queued::{claimed_run, company_with_install, manual_run};

use crate::harness::{TestDatabase, databases};

/// More records than one SQLite statement takes, so the commit spans several.
const RECORDS: usize = 1_234;

fn succeeded() -> RunFinish {
    RunFinish {
        status: "succeeded",
        finished_at: sluice::store::now_ms(),
        error: None,
        note: None,
        start_delay_ms: Some(3),
        http_requests: 7,
        peak_memory_bytes: 1 << 20,
        log_lines: 0,
        dropped_log_lines: 0,
    }
}

/// A successful run's end with `records` and `state`, and no retry or log lines.
fn succeeding<'a>(
    finish: &'a RunFinish,
    records: &'a [EmittedRecord],
    state: Option<&'a BTreeMap<String, String>>,
) -> RunEnd<'a> {
    RunEnd {
        finish,
        records,
        full_refresh: &[],
        state,
        retry: None,
        log: &[],
    }
}

/// Records whose JSON is spelled the way a connector may spell it: spaces, escapes,
/// characters beyond ASCII.
fn records(run: usize) -> Vec<EmittedRecord> {
    (0..RECORDS)
        .map(|n| EmittedRecord {
            stream: if n % 2 == 0 { "pull_requests" } else { "reviews" }.into(),
            key: format!("acme/widgets#{n}"),
            json: format!(
                "{{ \"number\" : {n}, \"title\": \"caf\\u00e9 \\\"{run}\\\"\\tñ 🚀\", \"run\": {run} }}"
            ),
        })
        .collect()
}

/// The store on `database`, with a company and one install of GitHub: their ids.
async fn acme_with_an_install(database: &TestDatabase) -> (Store, String, String) {
    let store = Store::open(&database.url).await.expect("open the store");
    let (company, install) = company_with_install(&store, "github")
        .await
        .expect("install");
    (store, company, install)
}

#[tokio::test]
async fn a_runs_records_commit_as_the_connector_wrote_them_and_only_while_it_holds_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let label = database.label;
        let (store, company, install) = acme_with_an_install(&database).await;

        // The same key twice in one run: the later emission is the one kept.
        let mut first = records(1);
        first.push(EmittedRecord {
            stream: "pull_requests".into(),
            key: "acme/widgets#0".into(),
            json: "{\"number\": 0, \"title\": \"edited later in the run\"}".into(),
        });
        let run = claimed_run(&store, &company, &install)
            .await
            .expect("claim");
        let state = [("cursor".to_owned(), "2026-12-01".to_owned())].into();
        assert!(
            store
                .finish_run(&run, succeeding(&succeeded(), &first, Some(&state)))
                .await
                .expect("commit"),
            "{label}: the run was held"
        );
        let committed = store
            .run(&company, &run.id)
            .await
            .expect("run")
            .expect("exists");
        assert_eq!(committed.status, "succeeded", "{label}");
        assert_eq!(committed.records_written, RECORDS as i64, "{label}");
        assert_eq!(
            (committed.http_requests, committed.start_delay_ms),
            (7, Some(3)),
            "{label}"
        );

        let raw = sqlx::AnyPool::connect(&database.url)
            .await
            .expect("raw connection");
        let data_of = |key: &'static str| {
            let raw = raw.clone();
            let company = company.clone();
            async move {
                let (data,): (String,) = sqlx::query_as(
                    "SELECT data FROM records WHERE company_id = $1 AND record_key = $2",
                )
                .bind(company)
                .bind(key)
                .fetch_one(&raw)
                .await
                .expect("one record");
                data
            }
        };
        assert_eq!(
            data_of("acme/widgets#7").await,
            first[7].json,
            "{label}: the bytes the connector produced"
        );
        assert_eq!(
            data_of("acme/widgets#0").await,
            "{\"number\": 0, \"title\": \"edited later in the run\"}",
            "{label}: the last emission of a key"
        );

        // A second run upserts over the same keys.
        let run = claimed_run(&store, &company, &install)
            .await
            .expect("claim");
        assert!(
            store
                .finish_run(&run, succeeding(&succeeded(), &records(2), Some(&state)))
                .await
                .expect("commit")
        );
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let filter = RecordFilter {
                install: Some(install.clone()),
                after,
                limit: Some(500),
                ..RecordFilter::default()
            };
            let page = store
                .records(&company, &filter)
                .await
                .expect("records")
                .records;
            let Some(last) = page.last() else { break };
            after = Some(last.seq);
            all.extend(page);
        }
        assert_eq!(all.len(), RECORDS, "{label}: one row per key");
        assert!(
            all.iter().all(|r| r.run_id == run.id && r.data["run"] == 2),
            "{label}: every record is the second run's"
        );
        assert_eq!(all[1].data["title"], "café \"2\"\tñ 🚀", "{label}");

        // A run cancelled before its commit keeps nothing: not its records, not its state.
        let run = claimed_run(&store, &company, &install)
            .await
            .expect("claim");
        assert!(
            store
                .cancel_run(&company, &run.id, "ada")
                .await
                .expect("cancel")
        );
        let late = vec![EmittedRecord {
            stream: "pull_requests".into(),
            key: "acme/widgets#new".into(),
            json: "{}".into(),
        }];
        let other_state = [("cursor".to_owned(), "never".to_owned())].into();
        let last_words = [LogLine {
            time: SystemTime::now(),
            level: Level::Info,
            source: Source::Host,
            message: "run succeeded: 1 records".into(),
            fields: Vec::new(),
        }];
        assert!(
            !store
                .finish_run(
                    &run,
                    RunEnd {
                        finish: &succeeded(),
                        records: &late,
                        full_refresh: &[],
                        state: Some(&other_state),
                        retry: None,
                        log: &last_words,
                    },
                )
                .await
                .expect("commit"),
            "{label}: a cancelled run is not held"
        );
        let filter = RecordFilter {
            install: Some(install.clone()),
            after: all.last().map(|r| r.seq),
            ..RecordFilter::default()
        };
        assert!(
            store
                .records(&company, &filter)
                .await
                .expect("records")
                .records
                .is_empty(),
            "{label}"
        );
        let state = store
            .install_state(&company, &install)
            .await
            .expect("state");
        assert_eq!(
            state.get("cursor").map(String::as_str),
            Some("2026-12-01"),
            "{label}: the cursor stays the last committed one"
        );
        let kept: Vec<String> = store
            .logs(
                &company,
                &LogFilter {
                    run: Some(run.id.clone()),
                    ..LogFilter::default()
                },
            )
            .await
            .expect("logs")
            .into_iter()
            .map(|line| line.message)
            .collect();
        assert_eq!(
            kept,
            ["run succeeded: 1 records"],
            "{label}: the log of a run that kept nothing is still kept"
        );
        raw.close().await;
        store.close().await;
        database.drop_schema().await;
    }
}

#[tokio::test]
async fn log_lines_keep_their_order_text_and_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let label = database.label;
        let (store, company, install) = acme_with_an_install(&database).await;
        let run = claimed_run(&store, &company, &install)
            .await
            .expect("claim");
        let start = SystemTime::UNIX_EPOCH + Duration::from_millis(1_780_000_000_000);
        let lines: Vec<LogLine> = (0..1_500u64)
            .map(|n| LogLine {
                time: start + Duration::from_millis(n),
                level: if n % 100 == 0 {
                    Level::Warn
                } else {
                    Level::Info
                },
                source: if n % 3 == 0 {
                    Source::Stdio
                } else {
                    Source::Plugin
                },
                message: format!("page {n}\tof «pull requests»\nnext\\"),
                fields: if n % 2 == 0 {
                    vec![
                        ("page".into(), n.to_string()),
                        ("quote".into(), "\"x\"".into()),
                    ]
                } else {
                    Vec::new()
                },
            })
            .collect();
        // Batches as the log pipe writes them while the run goes on, then its last lines
        // in the run's commit.
        let (streamed, last) = lines.split_at(1_400);
        for batch in streamed.chunks(700) {
            store
                .append_logs(&company, &install, &run.id, batch)
                .await
                .expect("append");
        }
        assert!(
            store
                .finish_run(&run, RunEnd::keeping_nothing(&succeeded(), last))
                .await
                .expect("commit"),
            "{label}: the run was held"
        );
        let mut kept = Vec::new();
        let mut after = None;
        loop {
            let filter = LogFilter {
                run: Some(run.id.clone()),
                after,
                limit: Some(500),
                ..LogFilter::default()
            };
            let page = store.logs(&company, &filter).await.expect("logs");
            let Some(last) = page.last() else { break };
            after = Some(last.seq);
            kept.extend(page);
        }
        assert_eq!(kept.len(), lines.len(), "{label}");
        for (n, (line, stored)) in lines.iter().zip(&kept).enumerate() {
            assert_eq!(stored.message, line.message, "{label}: line {n}");
            assert_eq!(stored.level, line.level.as_str(), "{label}: line {n}");
            assert_eq!(stored.source, line.source.as_str(), "{label}: line {n}");
            assert_eq!(
                stored.time,
                1_780_000_000_000 + n as i64,
                "{label}: line {n}"
            );
            let fields: Vec<(String, String)> = stored
                .fields
                .as_object()
                .expect("fields are an object")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            let mut expected = line.fields.clone();
            expected.sort();
            assert_eq!(fields, expected, "{label}: line {n}");
        }
        let warnings = LogFilter {
            run: Some(run.id.clone()),
            level: Some(Level::Warn),
            ..LogFilter::default()
        };
        assert_eq!(
            store.logs(&company, &warnings).await.expect("logs").len(),
            15,
            "{label}"
        );
        store.close().await;
        database.drop_schema().await;
    }
}

#[tokio::test]
async fn a_page_of_large_records_stops_at_its_byte_budget_and_says_more_follow() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let label = database.label;
        let (store, company, install) = acme_with_an_install(&database).await;
        let blob = "b".repeat(3 << 20);
        let large: Vec<EmittedRecord> = (0..4)
            .map(|n| EmittedRecord {
                stream: "blobs".into(),
                key: format!("blob-{n}"),
                json: format!("{{\"n\": {n}, \"blob\": \"{blob}\"}}"),
            })
            .collect();
        let run = claimed_run(&store, &company, &install)
            .await
            .expect("claim");
        assert!(
            store
                .finish_run(&run, succeeding(&succeeded(), &large, None))
                .await
                .expect("commit")
        );
        let filter = RecordFilter {
            install: Some(install.clone()),
            limit: Some(500),
            ..RecordFilter::default()
        };
        let first = store.records(&company, &filter).await.expect("records");
        let held: usize = first.records.iter().map(|r| r.data.to_string().len()).sum();
        assert_eq!(first.records.len(), 3, "{label}: 3 × 3 MiB reach 8 MiB");
        assert!(first.cut_at_bytes, "{label}");
        assert!(held < PAGE_BYTES + (3 << 20) + 64, "{label}: {held}");
        let rest = RecordFilter {
            after: first.records.last().map(|r| r.seq),
            ..filter
        };
        let second = store.records(&company, &rest).await.expect("records");
        assert_eq!(second.records.len(), 1, "{label}");
        assert_eq!(second.records[0].data["n"], 3, "{label}");
        assert!(!second.cut_at_bytes, "{label}");
        store.close().await;
        database.drop_schema().await;
    }
}

/// Makes the database refuse a record whose key is `refused`, as it refuses a write it
/// cannot make.
async fn refuse_a_record_key(raw: &sqlx::AnyPool, label: &str) {
    let statements: &[&str] = if label == "SQLite" {
        &[
            "CREATE TRIGGER refuse_key BEFORE INSERT ON records WHEN NEW.record_key = 'refused' \
           BEGIN SELECT RAISE(ABORT, 'this record is refused'); END",
        ]
    } else {
        &[
            "CREATE FUNCTION refuse_key() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.record_key = 'refused' THEN RAISE EXCEPTION 'this record is refused'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER refuse_key BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION refuse_key()",
        ]
    };
    for statement in statements {
        sqlx::query(statement)
            .execute(raw)
            .await
            .expect("a trigger that refuses a record");
    }
}

#[tokio::test]
async fn runs_that_commit_together_each_keep_their_own_outcome() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let label = database.label;
        let (store, company, first) = acme_with_an_install(&database).await;
        let raw = sqlx::AnyPool::connect(&database.url)
            .await
            .expect("raw connection");
        refuse_a_record_key(&raw, label).await;
        let mut installs = vec![first];
        for _ in 0..3 {
            installs.push(
                sluice_tests::queued::install(&store, &company, "github")
                    .await
                    .expect("install"),
            );
        }
        for install in &installs {
            store
                .enqueue_run(&company, &manual_run(install))
                .await
                .expect("enqueue");
        }
        let claimed = store
            .claim_runs(&Claim {
                host: "bench",
                limit: 4,
                per_company: 4,
                lease_ms: 60_000,
            })
            .await
            .expect("claim");
        let runs: Vec<Run> = installs
            .iter()
            .map(|install| {
                claimed
                    .iter()
                    .find(|run| run.install_id == *install)
                    .expect("each install's run is claimed")
                    .clone()
            })
            .collect();
        // The second run is cancelled before its commit; the third wrote a record the
        // database refuses; the first and the last are fine.
        assert!(
            store
                .cancel_run(&company, &runs[1].id, "ada")
                .await
                .expect("cancel")
        );
        let records: Vec<Vec<EmittedRecord>> = (0..4)
            .map(|n| {
                vec![EmittedRecord {
                    stream: "pull_requests".into(),
                    key: if n == 2 { "refused" } else { "acme/widgets#1" }.into(),
                    json: format!("{{\"run\": {n}}}"),
                }]
            })
            .collect();
        let state = [("cursor".to_owned(), "2026-12-06".to_owned())].into();
        let finish = succeeded();
        let lines: Vec<[LogLine; 1]> = (0..4)
            .map(|n| {
                [LogLine {
                    time: SystemTime::now(),
                    level: Level::Info,
                    source: Source::Host,
                    message: format!("run {n} ends"),
                    fields: Vec::new(),
                }]
            })
            .collect();
        let end = |n: usize| RunEnd {
            finish: &finish,
            records: &records[n],
            full_refresh: &[],
            state: Some(&state),
            retry: None,
            log: &lines[n],
        };
        // All four at once: on SQLite they wait for the same transaction.
        let (fine, cancelled, refused, last) = tokio::join!(
            store.finish_run(&runs[0], end(0)),
            store.finish_run(&runs[1], end(1)),
            store.finish_run(&runs[2], end(2)),
            store.finish_run(&runs[3], end(3)),
        );
        assert!(fine.expect("commit"), "{label}: the first run was held");
        assert!(last.expect("commit"), "{label}: the last run was held");
        assert!(
            !cancelled.expect("commit"),
            "{label}: the cancelled run was not held"
        );
        let refused = refused.expect_err("the refused record fails its run's commit");
        assert!(
            refused.to_string().contains("this record is refused"),
            "{label}: {refused}"
        );

        for (n, install) in installs.iter().enumerate() {
            let kept = store
                .records(
                    &company,
                    &RecordFilter {
                        install: Some(install.clone()),
                        ..RecordFilter::default()
                    },
                )
                .await
                .expect("records")
                .records;
            let cursor = store
                .install_state(&company, install)
                .await
                .expect("state")
                .get("cursor")
                .cloned();
            let status = store
                .run(&company, &runs[n].id)
                .await
                .expect("run")
                .expect("exists")
                .status;
            let logged: Vec<String> = store
                .logs(
                    &company,
                    &LogFilter {
                        run: Some(runs[n].id.clone()),
                        ..LogFilter::default()
                    },
                )
                .await
                .expect("logs")
                .into_iter()
                .map(|line| line.message)
                .collect();
            if n == 0 || n == 3 {
                assert_eq!(kept.len(), 1, "{label}: run {n} keeps its record");
                assert_eq!(kept[0].data["run"], n, "{label}");
                assert_eq!(cursor.as_deref(), Some("2026-12-06"), "{label}: run {n}");
                assert_eq!(status, "succeeded", "{label}: run {n}");
                assert_eq!(logged, [format!("run {n} ends")], "{label}: run {n}");
            } else {
                assert!(kept.is_empty(), "{label}: run {n} keeps no record");
                assert_eq!(cursor, None, "{label}: run {n} keeps no cursor");
            }
            if n == 1 {
                assert_eq!(
                    logged,
                    ["run 1 ends"],
                    "{label}: a run that keeps nothing keeps its log"
                );
            }
        }
        assert_eq!(
            store
                .run(&company, &runs[1].id)
                .await
                .expect("run")
                .expect("exists")
                .status,
            "cancelled",
            "{label}"
        );
        assert_eq!(
            store
                .run(&company, &runs[2].id)
                .await
                .expect("run")
                .expect("exists")
                .status,
            "running",
            "{label}: a commit that failed leaves its run to be taken back"
        );
        raw.close().await;
        store.close().await;
        database.drop_schema().await;
    }
}

/// A record of stream `stream`, key `key`, whose data names `name`.
fn record(stream: &str, key: &str, name: &str) -> EmittedRecord {
    EmittedRecord {
        stream: stream.into(),
        key: key.into(),
        json: format!("{{\"name\": \"{name}\"}}"),
    }
}

/// Claims a run of `install` and commits it as `finish` says, with `records` and
/// `users` as its one full-refresh stream: the run's id.
async fn commit_users(
    store: &Store,
    company: &str,
    install: &str,
    finish: RunFinish,
    records: &[EmittedRecord],
) -> String {
    let run = claimed_run(store, company, install).await.expect("claim");
    let full_refresh = ["users".to_owned()];
    let end = RunEnd {
        full_refresh: &full_refresh,
        ..succeeding(&finish, records, None)
    };
    assert!(store.finish_run(&run, end).await.expect("commit"));
    run.id
}

/// The install's records by key, all of them or only those `deleted` says.
async fn kept_by_key(
    store: &Store,
    company: &str,
    install: &str,
    deleted: Option<bool>,
) -> BTreeMap<String, sluice::store::StoredRecord> {
    let filter = RecordFilter {
        install: Some(install.to_owned()),
        deleted,
        ..RecordFilter::default()
    };
    let page = store.records(company, &filter).await.expect("records");
    page.records
        .into_iter()
        .map(|record| (record.key.clone(), record))
        .collect()
}

#[tokio::test]
async fn a_full_refresh_stream_marks_deleted_what_a_successful_run_no_longer_emits() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let label = database.label;
        let (store, company, install) = acme_with_an_install(&database).await;
        let first = commit_users(
            &store,
            &company,
            &install,
            succeeded(),
            &[
                record("users", "ada", "Ada"),
                record("users", "grace", "Grace"),
                record("users", "linus", "Linus"),
                record("teams", "core", "Core"),
            ],
        )
        .await;
        let before = kept_by_key(&store, &company, &install, None).await;
        assert!(before.values().all(|r| r.deleted_at.is_none()), "{label}");

        // Linus left the service; Ada changed her name; Grace did not change; the teams
        // stream is not listed whole, so its record stays whatever the run emits.
        let second = commit_users(
            &store,
            &company,
            &install,
            succeeded(),
            &[
                record("users", "ada", "Ada L."),
                record("users", "grace", "Grace"),
            ],
        )
        .await;
        let after = kept_by_key(&store, &company, &install, None).await;
        assert!(after["linus"].deleted_at.is_some(), "{label}: {after:?}");
        assert_eq!(
            after["linus"].data["name"], "Linus",
            "{label}: its last data stays"
        );
        assert_eq!(after["ada"].deleted_at, None, "{label}");
        assert_eq!(
            after["ada"].run_id, second,
            "{label}: a changed record is written"
        );
        assert_eq!(after["ada"].data["name"], "Ada L.", "{label}");
        assert_eq!(
            (after["grace"].run_id.as_str(), after["grace"].updated_at),
            (first.as_str(), before["grace"].updated_at),
            "{label}: an unchanged record is not written again"
        );
        assert_eq!(after["core"].deleted_at, None, "{label}");
        let figures = |id: String| {
            let store = store.clone();
            let company = company.clone();
            async move {
                let run = store
                    .run(&company, &id)
                    .await
                    .expect("run")
                    .expect("exists");
                (run.records_written, run.records_deleted)
            }
        };
        assert_eq!(figures(first.clone()).await, (4, 0), "{label}");
        assert_eq!(figures(second.clone()).await, (2, 1), "{label}");
        let deleted = kept_by_key(&store, &company, &install, Some(true)).await;
        assert_eq!(deleted.keys().collect::<Vec<_>>(), ["linus"], "{label}");
        let present = kept_by_key(&store, &company, &install, Some(false)).await;
        assert_eq!(
            present.keys().collect::<Vec<_>>(),
            ["ada", "core", "grace"],
            "{label}"
        );

        // A run that ended rate-limited or failed stopped part of the way: it marks
        // nothing deleted, though the rate-limited one keeps what it emitted.
        for status in ["rate_limited", "failed"] {
            let run = commit_users(
                &store,
                &company,
                &install,
                RunFinish {
                    status,
                    ..succeeded()
                },
                &[record("users", "ada", "Ada L.")],
            )
            .await;
            let now = kept_by_key(&store, &company, &install, None).await;
            assert_eq!(now["grace"].deleted_at, None, "{label}: {status}");
            assert_eq!(figures(run).await, (1, 0), "{label}: {status}");
        }

        // Linus is back: present again, written by the run that saw him.
        let fourth = commit_users(
            &store,
            &company,
            &install,
            succeeded(),
            &[
                record("users", "ada", "Ada L."),
                record("users", "grace", "Grace"),
                record("users", "linus", "Linus"),
            ],
        )
        .await;
        let last = kept_by_key(&store, &company, &install, None).await;
        assert_eq!(last["linus"].deleted_at, None, "{label}");
        assert_eq!(last["linus"].run_id, fourth, "{label}");
        assert_eq!(figures(fourth).await, (3, 0), "{label}");
        assert!(last.values().all(|r| r.deleted_at.is_none()), "{label}");
        store.close().await;
        database.drop_schema().await;
    }
}
