//! The live log: a company's kept lines as a server-sent event stream, filtered, resumable
//! with `Last-Event-ID`, closed to other companies; and the logs viewer's other views,
//! newest lines first and counts by hour, level and install.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures::StreamExt as _;
use serde_json::{Value, json};
use sluice::api::app;
use sluice::log_feed::LogFeed;
use sluice::store::{Heard, Store};
use tower::ServiceExt as _;

use crate::harness::{Harness, on_every_database};
use crate::queue::install_trivial;

/// An open event stream, read event by event.
struct Live {
    body: axum::body::BodyDataStream,
    buffer: String,
}

/// One server-sent event.
#[derive(Debug)]
struct LiveEvent {
    id: i64,
    line: Value,
}

impl Live {
    /// Opens the live log at `query` as `token`, optionally resuming after `last_event`.
    async fn open(h: &Harness, token: &str, query: &str, last_event: Option<&str>) -> Live {
        let answer = live_answer(h, token, query, last_event).await;
        assert_eq!(answer.status(), StatusCode::OK, "{}", h.label);
        assert_eq!(
            answer.headers()["content-type"],
            "text/event-stream",
            "{}",
            h.label
        );
        Live {
            body: answer.into_body().into_data_stream(),
            buffer: String::new(),
        }
    }

    /// The next event, waiting at most 20 s for it.
    async fn next(&mut self) -> LiveEvent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                for field in block.lines() {
                    if let Some(value) = field.strip_prefix("id:") {
                        id = value.trim().parse().ok();
                    } else if let Some(value) = field.strip_prefix("data:") {
                        data = Some(value.trim().to_owned());
                    } else if let Some(value) = field.strip_prefix("event:") {
                        assert_eq!(value.trim(), "line", "{block}");
                    }
                }
                if let (Some(id), Some(data)) = (id, data) {
                    let line: Value = serde_json::from_str(&data).expect("a line as JSON");
                    return LiveEvent { id, line };
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.body.next())
                .await
                .expect("an event within 20 s")
                .expect("the stream stays open")
                .expect("a chunk");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Events until one whose message starts with `last`, that one included.
    async fn until(&mut self, last: &str) -> Vec<LiveEvent> {
        let mut events = Vec::new();
        loop {
            let event = self.next().await;
            let done = event.line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(last));
            events.push(event);
            if done {
                return events;
            }
        }
    }
}

async fn live_answer(
    h: &Harness,
    token: &str,
    query: &str,
    last_event: Option<&str>,
) -> axum::response::Response {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(format!(
            "/api/companies/{}/logs/live{query}",
            h.acme.company
        ))
        .header("authorization", format!("Bearer {token}"));
    if let Some(id) = last_event {
        request = request.header("last-event-id", id);
    }
    app(h.state.clone())
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

fn messages(events: &[LiveEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.line["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn kept_lines_stream_live_filtered_and_resume_after_the_last_event() {
    async fn test(h: &Harness) {
        let label = h.label;
        let install = install_trivial(h, json!({})).await;
        let mut everything = Live::open(h, &h.acme.token, "", None).await;
        let mut plugin_only = Live::open(h, &h.acme.token, "?source=plugin", None).await;
        let run = h.run_of_acme(&install).await;
        assert_eq!(run["status"], "succeeded", "{label}: {run}");

        let events = everything.until("run succeeded").await;
        let said = messages(&events);
        assert!(said[0].starts_with("run started"), "{label}: {said:?}");
        assert!(said.contains(&"tick".to_owned()), "{label}: {said:?}");
        assert!(
            events.windows(2).all(|pair| pair[0].id < pair[1].id),
            "{label}: positions rise: {events:?}"
        );
        for event in &events {
            assert_eq!(
                event.line["seq"], event.id,
                "{label}: the id is the line's seq"
            );
            assert_eq!(event.line["run_id"], run["id"], "{label}");
        }
        let tick = plugin_only.next().await;
        assert_eq!(tick.line["message"], "tick", "{label}");
        assert_eq!(tick.line["source"], "plugin", "{label}");

        // A viewer that reconnects sends the last id it saw and gets what followed.
        let first = events[0].id.to_string();
        let mut resumed = Live::open(h, &h.acme.token, "", Some(&first)).await;
        let again = resumed.until("run succeeded").await;
        assert_eq!(
            messages(&again),
            said[1..].to_vec(),
            "{label}: everything after the first line, once"
        );
        let mut from_start = Live::open(h, &h.acme.token, "?level=info&after=0", None).await;
        let history = from_start.until("run succeeded").await;
        assert!(
            history
                .iter()
                .all(|e| e.line["level"] != "debug" && e.line["level"] != "trace"),
            "{label}: {history:?}"
        );

        let bad = live_answer(h, &h.acme.token, "?level=loud", None).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "{label}");
        let bad_id = live_answer(h, &h.acme.token, "", Some("yesterday")).await;
        assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST, "{label}");
        let stranger = live_answer(h, &h.globex.token, "", None).await;
        assert_eq!(
            stranger.status(),
            StatusCode::NOT_FOUND,
            "{label}: another company's live log does not exist for globex"
        );
    }
    on_every_database!(test);
}

#[tokio::test]
async fn the_viewer_lists_newest_lines_first_and_counts_them_by_hour_level_and_install() {
    async fn test(h: &Harness) {
        let label = h.label;
        let company = &h.acme.company;
        let install = install_trivial(h, json!({})).await;
        for _ in 0..2 {
            let run = h.run_of_acme(&install).await;
            assert_eq!(run["status"], "succeeded", "{label}: {run}");
        }
        let oldest = h
            .call(
                Method::GET,
                &format!("/api/companies/{company}/logs"),
                Some(&h.acme.token),
                None,
            )
            .await
            .json();
        let newest = h
            .call(
                Method::GET,
                &format!("/api/companies/{company}/logs?order=newest&limit=2"),
                Some(&h.acme.token),
                None,
            )
            .await
            .json();
        let all = oldest["items"].as_array().expect("items");
        let latest = newest["items"].as_array().expect("items");
        assert_eq!(latest[0]["seq"], all[all.len() - 1]["seq"], "{label}");
        assert_eq!(latest[1]["seq"], all[all.len() - 2]["seq"], "{label}");
        let older = h
            .call(
                Method::GET,
                &format!(
                    "/api/companies/{company}/logs?order=newest&limit=2&after={}",
                    newest["next"].as_str().expect("a next page")
                ),
                Some(&h.acme.token),
                None,
            )
            .await
            .json();
        assert_eq!(
            older["items"][0]["seq"],
            all[all.len() - 3]["seq"],
            "{label}"
        );
        let sideways = h
            .call(
                Method::GET,
                &format!("/api/companies/{company}/logs?order=sideways"),
                Some(&h.acme.token),
                None,
            )
            .await;
        assert_eq!(sideways.status, StatusCode::BAD_REQUEST, "{label}");

        let summary = h
            .call(
                Method::GET,
                &format!("/api/companies/{company}/logs/summary"),
                Some(&h.acme.token),
                None,
            )
            .await
            .json();
        let total = i64::try_from(all.len()).expect("small");
        assert_eq!(summary["total"], total, "{label}: {summary}");
        assert_eq!(summary["by_install"][&install], total, "{label}: {summary}");
        let hours = summary["hours"].as_array().expect("hours");
        assert!(!hours.is_empty(), "{label}: {summary}");
        let in_hours: i64 = hours.iter().filter_map(|h| h["total"].as_i64()).sum();
        assert_eq!(in_hours, total, "{label}: {summary}");
        let infos = all.iter().filter(|l| l["level"] == "info").count();
        assert_eq!(
            summary["by_level"]["info"],
            i64::try_from(infos).expect("small"),
            "{label}: {summary}"
        );
        let ticks = h
            .call(
                Method::GET,
                &format!("/api/companies/{company}/logs/summary?q=TICK&source=plugin"),
                Some(&h.acme.token),
                None,
            )
            .await
            .json();
        assert_eq!(ticks["total"], 2, "{label}: one tick per run: {ticks}");
    }
    on_every_database!(test);
}

#[tokio::test]
async fn lines_kept_by_one_host_reach_the_live_log_of_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in crate::harness::databases(dir.path()).await {
        let sub = tempfile::tempdir_in(dir.path()).expect("tempdir");
        let h = Harness::start(&database, sub.path()).await;
        let label = h.label;
        // A second host on the same database: its own store, its own feed.
        let other = Store::open(&database.url).await.expect("open the store");
        let listener = other.log_appends_elsewhere().await.expect("listen");
        match (label, listener) {
            ("SQLite", listener) => assert!(
                listener.is_none(),
                "SQLite has one host: nothing to listen to"
            ),
            (_, None) => panic!("{label}: PostgreSQL hosts listen for each other's lines"),
            (_, Some(mut listener)) => {
                let feed = LogFeed::start(other.clone());
                let mut subscription = feed.subscribe(&h.acme.company).await.expect("subscribe");
                let install = install_trivial(&h, json!({})).await;
                let run = h.run_of_acme(&install).await;
                assert_eq!(run["status"], "succeeded", "{label}: {run}");
                // Other tests' hosts share this database and its channel: their notices
                // name their own companies.
                let heard = tokio::time::timeout(Duration::from_secs(20), async {
                    loop {
                        match listener.next().await {
                            Ok(Heard::Company(company)) if company == h.acme.company => {
                                return Ok(company);
                            }
                            Ok(_) => continue,
                            Err(error) => return Err(error),
                        }
                    }
                })
                .await
                .expect("a notification naming the company within 20 s")
                .expect("the listener works");
                assert_eq!(heard, h.acme.company, "{label}");
                let mut seen = Vec::new();
                while !seen.iter().any(|m: &String| m.starts_with("run succeeded")) {
                    let line =
                        tokio::time::timeout(Duration::from_secs(20), subscription.lines.recv())
                            .await
                            .expect("a line within 20 s")
                            .expect("the feed stays open");
                    assert_eq!(line.run_id, run["id"].as_str().expect("id"), "{label}");
                    seen.push(line.message.clone());
                }
                assert!(seen.contains(&"tick".to_owned()), "{label}: {seen:?}");
            }
        }
        h.stop().await;
        database.drop_schema().await;
    }
}
