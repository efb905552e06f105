//! The run queue and schedules inside one host: schedules set and refused through the API,
//! slots that run by themselves, a missed slot run once as a catch-up, the overlap
//! policies, cancel, retries, leases taken back from a dead host, and fairness between
//! companies — on SQLite and, when its URL is set, PostgreSQL.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sluice::scheduler::{QueueSettings, RetryPolicy};
use sluice::store::{Claim, NewRun, RunCall, RunTrigger, StoredSchedule, now_ms, parse_rfc3339};

use crate::harness::{Harness, databases, on_every_database};

/// Installs the trivial connector into acme with `config`; its id.
pub(crate) async fn install_trivial(h: &Harness, config: Value) -> String {
    h.install_of_acme(json!({ "plugin": "trivial", "config": config }))
        .await
}

/// Every run of an install, oldest first.
async fn runs_of(h: &Harness, install: &str) -> Vec<Value> {
    let company = &h.acme.company;
    let page = h
        .get(&format!(
            "/api/companies/{company}/runs?install={install}&limit=500"
        ))
        .await
        .json();
    let mut runs = page["items"].as_array().expect("items").clone();
    runs.reverse();
    runs
}

/// Waits until `done` holds for the install's runs, for at most `seconds`.
async fn wait_for(
    h: &Harness,
    install: &str,
    seconds: u64,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let runs = runs_of(h, install).await;
        if done(&runs) {
            return runs;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "{}: {what} within {seconds} s; runs: {runs:#?}",
            h.label
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ended(run: &Value) -> bool {
    !matches!(run["status"].as_str(), Some("queued" | "running"))
}

/// Settings for tests that watch schedules and retries: short waits.
fn quick() -> QueueSettings {
    QueueSettings {
        lease: Duration::from_secs(2),
        poll: Duration::from_millis(100),
        retry: RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(200),
            max: Duration::from_secs(1),
        },
        ..QueueSettings::default()
    }
}

#[tokio::test]
async fn schedules_are_set_shown_and_refused_with_the_field_named() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        let install = install_trivial(h, json!({})).await;
        let path = format!("/api/companies/{company}/installs/{install}/schedule");
        assert_eq!(
            h.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "a connector without a default schedule gets none"
        );

        let set = h
            .call(
                Method::PUT,
                &path,
                owner,
                Some(json!({ "cron": "30 2 * * *", "timezone": "Europe/Berlin", "overlap": "queue_one", "jitter_seconds": 30 })),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text());
        let shown = h.get(&path).await.json();
        assert_eq!(shown["cron"], "30 2 * * *");
        assert_eq!(shown["timezone"], "Europe/Berlin");
        assert_eq!(shown["overlap"], "queue_one");
        assert_eq!(shown["jitter_seconds"], 30);
        let next: Vec<i64> = shown["next_due"]
            .as_array()
            .expect("next_due")
            .iter()
            .map(|t| parse_rfc3339(t.as_str().expect("a time")).expect("RFC 3339"))
            .collect();
        assert_eq!(next.len(), 5, "{shown}");
        assert!(next[0] > now_ms(), "the next slot is ahead: {shown}");
        assert!(next.windows(2).all(|w| w[0] < w[1]), "{shown}");
        for slot in &next {
            // 02:30 in Berlin is 00:30 or 01:30 UTC, by the season.
            let minute_of_day = slot / 60_000 % (24 * 60);
            assert!(
                [30, 90].contains(&minute_of_day),
                "{} is not 02:30 in Berlin: {shown}",
                sluice::store::format_ms(*slot)
            );
        }

        for (body, expected) in [
            (
                json!({ "cron": "61 * * * *" }),
                "`cron`: `61 * * * *` is not a cron expression",
            ),
            (json!({ "cron": "* * *" }), "`cron`: `* * *` has 3 fields"),
            (
                json!({ "cron": "0 * * * *", "timezone": "Mars/Olympus" }),
                "`timezone`: `Mars/Olympus` is not an IANA timezone name",
            ),
            (
                json!({ "interval_seconds": 0 }),
                "`interval`: 0s is shorter",
            ),
            (
                json!({ "cron": "0 * * * *", "interval_seconds": 60 }),
                "`cron`: give `cron` or `interval`, not both",
            ),
            (
                json!({ "overlap": "sometimes", "interval_seconds": 60 }),
                "overlap",
            ),
        ] {
            let refused = h.call(Method::PUT, &path, owner, Some(body.clone())).await;
            assert_eq!(
                refused.status,
                StatusCode::BAD_REQUEST,
                "{body}: {}",
                refused.text()
            );
            let message = refused.json()["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(message.contains(expected), "{body}: {message}");
        }
        assert_eq!(
            h.get(&path).await.json()["cron"],
            "30 2 * * *",
            "a refusal changes nothing"
        );

        let interval = h
            .call(
                Method::PUT,
                &path,
                owner,
                Some(json!({ "interval_seconds": 3600, "enabled": false })),
            )
            .await
            .json();
        assert_eq!(interval["interval_seconds"], 3600);
        assert_eq!(
            interval["next_due"],
            json!([]),
            "a disabled schedule has no next slot"
        );

        let member = h
            .call(Method::DELETE, &path, Some(&h.globex.token), None)
            .await;
        assert_eq!(
            member.status,
            StatusCode::NOT_FOUND,
            "another company's install"
        );
        let deleted = h.call(Method::DELETE, &path, owner, None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(h.get(&path).await.status, StatusCode::NOT_FOUND);
        assert!(
            h.audit_actions(company)
                .await
                .contains(&"schedule.set".to_owned())
        );

        let openapi = h.get("/api/openapi.json").await.json();
        let documented = &openapi["paths"]["/api/companies/{company}/installs/{install}/schedule"];
        for method in ["get", "put", "delete"] {
            assert!(documented[method].is_object(), "{method} is documented");
        }
    }
    on_every_database!(test);
}

#[tokio::test]
async fn a_new_install_gets_its_connectors_default_schedule() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        let secret = h
            .call(
                Method::PUT,
                &format!("/api/companies/{company}/secrets/gh"),
                owner,
                Some(json!({ "value": "ghp_x" })),
            )
            .await;
        assert_eq!(secret.status, StatusCode::CREATED);
        let installed = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs"),
                owner,
                Some(json!({ "plugin": "github", "config": { "org": "acme" },
                    "grants": { "hosts": ["api.github.com"], "secrets": { "github_token": "gh" } } })),
            )
            .await;
        assert_eq!(
            installed.status,
            StatusCode::CREATED,
            "{}",
            installed.text()
        );
        let install = installed.json()["id"].as_str().expect("id").to_owned();
        let schedule = h
            .get(&format!(
                "/api/companies/{company}/installs/{install}/schedule"
            ))
            .await
            .json();
        assert_eq!(
            schedule["cron"], "0 * * * *",
            "the GitHub connector's default: {schedule}"
        );
        assert_eq!(schedule["timezone"], "UTC");
        assert_eq!(schedule["enabled"], true);
        let first =
            parse_rfc3339(schedule["next_due"][0].as_str().expect("a slot")).expect("a time");
        assert_eq!(first % 3_600_000, 0, "on the hour: {schedule}");
    }
    on_every_database!(test);
}

#[tokio::test]
async fn due_slots_run_by_themselves_and_a_missed_schedule_runs_once_as_a_catch_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let sub = tempfile::tempdir_in(dir.path()).expect("tempdir");
        let h = Harness::start_with(&database, sub.path(), quick()).await;
        let company = h.acme.company.clone();
        let owner = Some(h.acme.token.as_str());

        let every_second = install_trivial(&h, json!({})).await;
        let set = h
            .call(
                Method::PUT,
                &format!("/api/companies/{company}/installs/{every_second}/schedule"),
                owner,
                Some(json!({ "interval_seconds": 1 })),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text());
        let runs = wait_for(
            &h,
            &every_second,
            20,
            "three scheduled runs succeed",
            |runs| runs.iter().filter(|r| r["status"] == "succeeded").count() >= 3,
        )
        .await;
        for run in runs.iter().filter(|r| ended(r)) {
            assert_eq!(run["trigger"], "schedule", "{run}");
            assert_eq!(run["attempt"], 1, "{run}");
            assert_eq!(run["claimed_by"], h.state.runs.host(), "{run}");
            let slot = parse_rfc3339(run["scheduled_for"].as_str().expect("a slot")).expect("time");
            let due = parse_rfc3339(run["due_at"].as_str().expect("due")).expect("time");
            assert_eq!(slot, due, "no jitter asked: {run}");
            assert!(run["start_delay_ms"].as_i64().is_some(), "{run}");
        }
        let slots: Vec<&str> = runs
            .iter()
            .filter_map(|r| r["scheduled_for"].as_str())
            .collect();
        let distinct: std::collections::BTreeSet<&&str> = slots.iter().collect();
        assert_eq!(
            distinct.len(),
            slots.len(),
            "each slot runs once: {slots:?}"
        );
        let removed = h
            .call(
                Method::DELETE,
                &format!("/api/companies/{company}/installs/{every_second}/schedule"),
                owner,
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);

        // A host that was down for an hour finds a schedule due every minute sixty slots
        // behind: it runs once, as a catch-up, and the schedule moves ahead of now.
        let missed = install_trivial(&h, json!({})).await;
        let hour_ago = now_ms() - 3_600_000;
        h.store
            .put_schedule(&StoredSchedule {
                install_id: missed.clone(),
                company_id: company.clone(),
                cron: Some("* * * * *".into()),
                interval_ms: None,
                timezone: "UTC".into(),
                enabled: true,
                overlap: "skip".into(),
                jitter_ms: 0,
                next_due_at: Some(hour_ago - hour_ago % 60_000),
                created_at: 0,
                updated_at: 0,
            })
            .await
            .expect("a schedule an hour behind");
        h.state.runs.schedules_changed();
        let runs = wait_for(&h, &missed, 20, "the catch-up run succeeds", |runs| {
            runs.iter().any(|r| r["status"] == "succeeded")
        })
        .await;
        let caught_up_at = now_ms();
        tokio::time::sleep(Duration::from_millis(500)).await;
        // A minute's slot may fall due during the wait; only slots before the catch-up
        // count as missed.
        let runs_after: Vec<Value> = runs_of(&h, &missed)
            .await
            .into_iter()
            .filter(|r| {
                r["scheduled_for"]
                    .as_str()
                    .and_then(sluice::store::parse_rfc3339)
                    .is_some_and(|at| at < caught_up_at - caught_up_at % 60_000)
            })
            .collect();
        assert_eq!(
            runs_after.len(),
            1,
            "one run for sixty missed slots: {runs_after:#?}"
        );
        assert_eq!(runs[0]["trigger"], "catch_up", "{}", runs[0]);
        let schedule = h
            .store
            .schedule(&company, &missed)
            .await
            .expect("read")
            .expect("kept");
        assert!(
            schedule.next_due_at.expect("a next slot") > now_ms() - 1000,
            "the schedule moved past now"
        );
        h.stop().await;
        database.drop_schema().await;
    }
}

#[tokio::test]
async fn overlapping_slots_are_skipped_or_queue_one_as_the_schedule_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let sub = tempfile::tempdir_in(dir.path()).expect("tempdir");
        let h = Harness::start_with(&database, sub.path(), quick()).await;
        let company = h.acme.company.clone();
        let owner = Some(h.acme.token.as_str());
        let mut installs = Vec::new();
        for overlap in ["skip", "queue_one"] {
            let install = install_trivial(&h, json!({ "pause_ms": 60_000 })).await;
            let set = h
                .call(
                    Method::PUT,
                    &format!("/api/companies/{company}/installs/{install}/schedule"),
                    owner,
                    Some(json!({ "interval_seconds": 1, "overlap": overlap })),
                )
                .await;
            assert_eq!(set.status, StatusCode::OK, "{}", set.text());
            installs.push(install);
        }
        // Four slots come and go while the first runs of each go on.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let skip = runs_of(&h, &installs[0]).await;
        let statuses: Vec<&str> = skip.iter().filter_map(|r| r["status"].as_str()).collect();
        assert_eq!(
            statuses,
            ["running"],
            "{}: skip keeps one run: {skip:#?}",
            h.label
        );
        let queue_one = runs_of(&h, &installs[1]).await;
        let statuses: Vec<&str> = queue_one
            .iter()
            .filter_map(|r| r["status"].as_str())
            .collect();
        assert_eq!(
            statuses,
            ["running", "queued"],
            "{}: queue_one keeps one waiting: {queue_one:#?}",
            h.label
        );
        for install in &installs {
            let removed = h
                .call(
                    Method::DELETE,
                    &format!("/api/companies/{company}/installs/{install}"),
                    owner,
                    None,
                )
                .await;
            assert_eq!(removed.status, StatusCode::NO_CONTENT);
        }
        assert_eq!(h.state.runs.in_flight(), 0, "uninstalling stopped them");
        h.stop().await;
        database.drop_schema().await;
    }
}

#[tokio::test]
async fn a_run_is_cancelled_wherever_it_runs_and_keeps_nothing() {
    async fn test(h: &Harness) {
        let company = &h.acme.company;
        let owner = Some(h.acme.token.as_str());
        let install = install_trivial(h, json!({ "pause_ms": 60_000 })).await;
        let run = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs/{install}/runs"),
                owner,
                None,
            )
            .await
            .json();
        let id = run["id"].as_str().expect("run").to_owned();
        wait_for(h, &install, 10, "the run starts", |runs| {
            runs.iter().any(|r| r["status"] == "running")
        })
        .await;
        let path = format!("/api/companies/{company}/runs/{id}/cancel");
        let by_member_of_another = h
            .call(Method::POST, &path, Some(&h.globex.token), None)
            .await;
        assert_eq!(by_member_of_another.status, StatusCode::NOT_FOUND);
        let cancelled = h.call(Method::POST, &path, owner, None).await;
        assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text());
        let cancelled = cancelled.json();
        assert_eq!(cancelled["status"], "cancelled");
        assert!(
            cancelled["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with("cancelled by token:"),
            "{cancelled}"
        );
        assert_eq!(h.state.runs.in_flight(), 0, "the run stopped");
        let again = h.call(Method::POST, &path, owner, None).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(
            again.json()["message"],
            "the run has already ended (cancelled)"
        );
        let records = h
            .get(&format!(
                "/api/companies/{company}/records?install={install}"
            ))
            .await
            .json();
        assert_eq!(records["items"], json!([]), "a cancelled run keeps nothing");
    }
    on_every_database!(test);
}

#[tokio::test]
async fn a_flaky_service_is_retried_with_backoff_until_the_attempts_run_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let sub = tempfile::tempdir_in(dir.path()).expect("tempdir");
        let h = Harness::start_with(&database, sub.path(), quick()).await;
        let company = h.acme.company.clone();
        let owner = Some(h.acme.token.as_str());

        let flaky = install_trivial(&h, json!({ "fail": "upstream" })).await;
        let started = h
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs/{flaky}/runs"),
                owner,
                None,
            )
            .await;
        assert_eq!(started.status, StatusCode::ACCEPTED);
        let runs = wait_for(&h, &flaky, 30, "three failed attempts", |runs| {
            runs.len() == 3 && runs.iter().all(ended)
        })
        .await;
        for (i, run) in runs.iter().enumerate() {
            assert_eq!(run["status"], "failed", "{run}");
            assert_eq!(run["attempt"], i + 1, "{run}");
            assert_eq!(run["max_attempts"], 3, "{run}");
            assert_eq!(
                run["trigger"],
                if i == 0 { "manual" } else { "retry" },
                "{run}"
            );
            assert_eq!(
                run["error"], "upstream error: the service answered 503",
                "{run}"
            );
            if i > 0 {
                assert_eq!(run["retry_of"], runs[i - 1]["id"], "{run}");
                let due = parse_rfc3339(run["due_at"].as_str().expect("due")).expect("time");
                let before = parse_rfc3339(runs[i - 1]["finished_at"].as_str().expect("ended"))
                    .expect("time");
                assert!(
                    due - before >= 100,
                    "waited at least half the backoff: {run}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(runs_of(&h, &flaky).await.len(), 3, "no fourth attempt");

        // A rate-limited end keeps its cursor and waits as long as the service asked.
        let limited =
            install_trivial(&h, json!({ "fail": "rate-limited", "wait_seconds": 7 })).await;
        h.call(
            Method::POST,
            &format!("/api/companies/{company}/installs/{limited}/runs"),
            owner,
            None,
        )
        .await;
        let runs = wait_for(&h, &limited, 10, "the retry is queued", |runs| {
            runs.len() == 2
        })
        .await;
        assert_eq!(runs[0]["status"], "rate_limited", "{}", runs[0]);
        assert_eq!(
            runs[0]["records_written"], 1,
            "the cursor and records are kept"
        );
        assert_eq!(runs[1]["status"], "queued");
        assert_eq!(runs[1]["trigger"], "retry");
        let due = parse_rfc3339(runs[1]["due_at"].as_str().expect("due")).expect("time");
        let ended_at =
            parse_rfc3339(runs[0]["finished_at"].as_str().expect("ended")).expect("time");
        assert!(
            (6_900..7_500).contains(&(due - ended_at)),
            "waits the 7 s asked: {:#?}",
            runs
        );
        h.stop().await;
        database.drop_schema().await;
    }
}

#[tokio::test]
async fn a_dead_hosts_runs_are_taken_back_and_failed_after_their_last_attempt() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let sub = tempfile::tempdir_in(dir.path()).expect("tempdir");
        let h = Harness::start_with(&database, sub.path(), quick()).await;
        let company = h.acme.company.clone();
        let owner = Some(h.acme.token.as_str());
        // Four long runs fill acme's share of this host, so it leaves the next ones to
        // the other host.
        let mut blockers = Vec::new();
        for _ in 0..4 {
            let blocker = install_trivial(&h, json!({ "pause_ms": 60_000 })).await;
            h.call(
                Method::POST,
                &format!("/api/companies/{company}/installs/{blocker}/runs"),
                owner,
                None,
            )
            .await;
            wait_for(&h, &blocker, 10, "the blocking run goes on", |runs| {
                runs.iter().any(|r| r["status"] == "running")
            })
            .await;
            blockers.push(blocker);
        }
        let (first, second) = (
            install_trivial(&h, json!({})).await,
            install_trivial(&h, json!({})).await,
        );
        let stranded = |install: &str, attempt: i64| NewRun {
            install_id: install.to_owned(),
            plugin: "trivial".into(),
            trigger: RunTrigger::Manual,
            call: RunCall::Sync,
            due_at: now_ms(),
            scheduled_for: None,
            attempt,
            max_attempts: 3,
            retry_of: None,
        };
        let retried = h
            .store
            .enqueue_run(&company, &stranded(&first, 1))
            .await
            .expect("enqueue")
            .expect("run");
        let last = h
            .store
            .enqueue_run(&company, &stranded(&second, 3))
            .await
            .expect("enqueue")
            .expect("run");
        // Another host claims both and dies at once: its one-millisecond leases lapse.
        let claim = Claim {
            host: "host_dead",
            limit: 2,
            per_company: 10,
            lease_ms: 1,
        };
        let claimed = h.store.claim_runs(&claim).await.expect("claim");
        assert_eq!(claimed.len(), 2, "{}: the dead host held both", h.label);
        for blocker in &blockers {
            h.state
                .runs
                .cancel_install(&company, blocker)
                .await
                .expect("cancel a blocker");
        }

        let retried = h.finished_run(&company, &h.acme.token, &retried.id).await;
        assert_eq!(retried["status"], "succeeded", "{retried}");
        assert_eq!(retried["attempt"], 2, "{retried}");
        assert_eq!(retried["claimed_by"], h.state.runs.host(), "{retried}");
        let last = h.finished_run(&company, &h.acme.token, &last.id).await;
        assert_eq!(last["status"], "failed", "{last}");
        assert_eq!(
            last["error"],
            "its host stopped answering before the run finished, on its last attempt; nothing it wrote was kept"
        );
        let hosts = h.get("/api/hosts").await;
        assert_eq!(hosts.status, StatusCode::OK, "{}", hosts.text());
        let hosts = hosts.json();
        let this = hosts
            .as_array()
            .expect("hosts")
            .iter()
            .find(|host| host["id"] == h.state.runs.host())
            .cloned()
            .unwrap_or_else(|| panic!("this host is listed: {hosts}"));
        assert_eq!(this["alive"], true, "{this}");
        assert_eq!(this["runs_in_flight"], 0, "{this}");
        h.stop().await;
        database.drop_schema().await;
    }
}

#[tokio::test]
async fn one_company_with_a_thousand_due_runs_does_not_starve_another() {
    async fn test(h: &Harness) {
        let acme = h.acme.company.clone();
        let busy = install_trivial(h, json!({})).await;
        let now = now_ms();
        for _ in 0..1000 {
            let run = NewRun {
                install_id: busy.clone(),
                plugin: "trivial".into(),
                trigger: RunTrigger::Manual,
                call: RunCall::Sync,
                due_at: now,
                scheduled_for: None,
                attempt: 1,
                max_attempts: 1,
                retry_of: None,
            };
            h.store.enqueue_run(&acme, &run).await.expect("enqueue");
        }
        let globex = &h.globex.company;
        let installed = h
            .call(
                Method::POST,
                &format!("/api/companies/{globex}/installs"),
                Some(&h.globex.token),
                Some(json!({ "plugin": "trivial" })),
            )
            .await
            .json();
        let install = installed["id"].as_str().expect("install");
        let run = h
            .call(
                Method::POST,
                &format!("/api/companies/{globex}/installs/{install}/runs"),
                Some(&h.globex.token),
                None,
            )
            .await
            .json();
        let run = h
            .finished_run(globex, &h.globex.token, run["id"].as_str().expect("run"))
            .await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let delay = run["start_delay_ms"].as_i64().expect("a start delay");
        assert!(
            delay < 1000,
            "{}: the single run started {delay} ms after it was due",
            h.label
        );
        let acme_left = h
            .get(&format!(
                "/api/companies/{acme}/runs?status=queued&limit=500"
            ))
            .await
            .json();
        assert!(
            !acme_left["items"].as_array().expect("items").is_empty(),
            "{}: acme's backlog was still waiting when globex's run was done",
            h.label
        );
        h.state
            .runs
            .cancel_install(&acme, &busy)
            .await
            .expect("cancel the backlog");
    }
    on_every_database!(test);
}
