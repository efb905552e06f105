//! The logs viewer under a flood: a connector logs 200,000 lines while a person follows the
//! live log; the page keeps a window of them and reads older ones from the server on scroll.

use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use serde_json::{Value, json};
use sluice_tests::guests;

use super::{
    Bootstrapped, bootstrapped, choose_password, sign_in, start, wait_for_location, wait_live,
};
use crate::browser::Browser;
use crate::harness::databases;
use crate::process::{Client, Server, publish, storage_args};

#[tokio::test]
async fn in_chromium_a_flood_of_live_log_lines_stays_a_window_the_page_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marketplace = dir.path().join("marketplace");
    publish(guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST, &marketplace).await;
    for database in databases(dir.path()).await {
        let label = database.label;
        let data = dir.path().join(format!("data-{label}"));
        let data_args = storage_args(&database, &data);
        let acme = bootstrapped(&data_args, "ada@acme.test", "Acme").await;
        let server = start(&data_args, &marketplace, dir.path(), label).await;
        let browser = Browser::open(&format!("flood-{label}")).await;
        let outcome = AssertUnwindSafe(flood(&browser, &server, &acme, label))
            .catch_unwind()
            .await;
        browser.close_after(outcome).await;
        drop(server);
        database.drop_schema().await;
    }
}

/// The most rows the logs viewer keeps on the page.
const WINDOW: u64 = 2_000;

async fn flood(b: &Browser, server: &Server, acme: &Bootstrapped, label: &str) {
    let base = &server.base;
    let company = &acme.company;
    let mut api = Client::new(server, &acme.token);
    let (status, _) = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/companies/{company}/secrets/t"),
            Some(json!({ "value": "v" })),
        )
        .await;
    assert_eq!(status, 201, "{label}");
    // The connector logs 200,000 lines as fast as it can: a run keeps at most 100,000, and
    // fewer when the store falls behind, counting the rest dropped.
    let (status, install) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/companies/{company}/installs"),
            Some(json!({ "plugin": "hostile", "config": { "behaviour": "log-flood" }, "grants": { "secrets": { "token": "t" } } })),
        )
        .await;
    assert_eq!(status, 201, "{label}: {install}");
    let install = install["id"].as_str().expect("an install").to_owned();

    b.client
        .goto(&format!("{base}/signin"))
        .await
        .expect("open the console");
    sign_in(b, acme.email, &acme.password).await;
    choose_password(b).await;
    wait_for_location(b, &format!("/companies/{company}/installs")).await;
    b.click("#bar nav a[href$='/logs']").await;
    wait_live(b).await;
    b.js("window.__samePage = true; return true", vec![]).await;

    let started = std::time::Instant::now();
    let run = api.start_run(company, &install).await;
    let (mut most_rows, mut slowest_probe) = (0, std::time::Duration::ZERO);
    let mut ended: Option<Value> = None;
    let deadline = started + std::time::Duration::from_secs(180);
    let newest = loop {
        let asked = std::time::Instant::now();
        let window = window_of(b).await;
        slowest_probe = slowest_probe.max(asked.elapsed());
        most_rows = most_rows.max(window.rows);
        if ended.is_none() {
            let now = api
                .get(&format!("/api/companies/{company}/runs/{run}"))
                .await;
            if !matches!(now["status"].as_str(), Some("queued" | "running")) {
                ended = Some(now);
            }
        }
        if ended.is_some() {
            let page = api
                .get(&format!(
                    "/api/companies/{company}/logs?order=newest&limit=1"
                ))
                .await;
            let newest = page["items"][0]["seq"].as_i64().expect("a line");
            if window.last == newest {
                break newest;
            }
        }
        if std::time::Instant::now() > deadline {
            b.screenshot("timed-out").await;
            panic!("{label}: the flood's last line did not reach the page within 180 s");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let shown_in = started.elapsed();
    let ended = ended.unwrap_or_default();
    assert_eq!(ended["status"], "succeeded", "{label}: {ended}");
    let kept = ended["log_lines"].as_i64().expect("a count");
    assert!(
        kept > WINDOW as i64,
        "{label}: {kept} lines kept: more than a window"
    );
    assert!(
        most_rows <= WINDOW && most_rows > 0,
        "{label}: the page held {most_rows} rows"
    );
    eprintln!(
        "{label}: the run kept {kept} of 200,000 log lines ({} dropped); the newest reached the page {shown_in:?} after the run was started; the page answered every probe within {slowest_probe:?}; at most {most_rows} rows on the page",
        ended["dropped_log_lines"]
    );
    let same = b.js("return window.__samePage === true", vec![]).await;
    assert_eq!(same, true, "{label}: the lines arrived into the same page");
    let total = b
        .eventually("the count of every line", || async {
            let text = b.texts("#total-lines").await.into_iter().next()?;
            let total: i64 = text.replace(',', "").parse().ok()?;
            (total >= kept).then_some(total)
        })
        .await;
    assert!(
        total < kept + 10,
        "{label}: {total} lines counted, {kept} kept"
    );
    b.screenshot("1-flood-followed").await;

    // Scrolling to the top reads older lines from the server and lets the newest go.
    let before = window_of(b).await;
    let mut seen = window_of(b).await;
    while seen.last == before.last {
        b.js(
            "const list = document.querySelector('.loglist'); list.scrollTop = 0; list.dispatchEvent(new Event('scroll')); return true",
            vec![],
        )
        .await;
        let first = seen.first;
        seen = b
            .eventually("older lines, read on scroll", || async {
                let window = window_of(b).await;
                (window.first < first).then_some(window)
            })
            .await;
        assert!(seen.rows <= WINDOW, "{label}: {} rows", seen.rows);
        assert!(seen.first > 0, "{label}: more than a window was kept");
    }
    assert_eq!(
        seen.rows, WINDOW,
        "{label}: the window is full, its newest rows let go"
    );
    let note = b.texts(".lognote").await.join(" ");
    assert!(note.contains("Newer lines below"), "{label}: {note}");
    b.screenshot("2-flood-scrolled-up").await;
    b.click("#newest").await;
    b.eventually("the newest lines again", || async {
        let window = window_of(b).await;
        (window.last == newest && window.rows <= WINDOW).then_some(())
    })
    .await;
}

/// What the logs viewer holds: its rows and their first and last positions.
struct Window {
    rows: u64,
    first: i64,
    last: i64,
}

async fn window_of(b: &Browser) -> Window {
    let found = b
        .js(
            "const rows = document.querySelectorAll('.loglist .line'); \
             return { rows: rows.length, first: rows.length ? Number(rows[0].dataset.seq) : 0, \
               last: rows.length ? Number(rows[rows.length - 1].dataset.seq) : 0 }",
            vec![],
        )
        .await;
    Window {
        rows: found["rows"].as_u64().expect("rows"),
        first: found["first"].as_i64().expect("first"),
        last: found["last"].as_i64().expect("last"),
    }
}
