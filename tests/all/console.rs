//! The console: its pages and files as the server answers them, and a person using it in a
//! real headless Chromium against the `sluice` binary — sign in, install GitHub against the
//! fake GitHub, test the connection, set secrets, add a member, create an API token,
//! correct the directory of people, run it, watch its log lines arrive live, pause and
//! resume, filter by level and text, open a link to one line, see a hostile line stay
//! inert text, find another company's pages closed and a member offered no admin action;
//! on SQLite and, when its URL is set, PostgreSQL. `flood` floods the logs viewer.

use std::panic::AssertUnwindSafe;
use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures::FutureExt as _;
use serde_json::{Value, json};
use sluice_tests::fakes::github::{FakeGitHub, ORG};
use sluice_tests::guests;

mod flood;

use crate::browser::Browser;
use crate::harness::{Answer, Harness, databases, on_every_database};
use crate::process::{Client, Server, bootstrap, line_value, publish, serve, storage_args};

const TOKEN: &str = "ghp_console7f3c9e1d5b2a8046e4c7d9f1a3b5";

/// What a connector could log when an admin (or the service) hands it hostile text: HTML,
/// a colour code, a terminal title change.
const HOSTILE_ORG: &str = "<img src=x onerror=alert(1)>\u{1b}[31mRED\u{1b}[0m\u{1b}]0;owned\u{7}";

async fn get(h: &Harness, path: &str) -> Answer {
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .body(Body::empty())
        .expect("a request");
    h.send(request).await
}

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no `{name}` header"))
}

#[tokio::test]
async fn every_page_path_answers_the_shell_under_a_strict_policy_and_files_are_cached_by_digest() {
    on_every_database!(shell_and_files);
}

async fn shell_and_files(h: &Harness) {
    let mut prefix = String::new();
    for path in [
        "/",
        "/signin",
        "/password",
        "/companies/co_anything",
        "/companies/co_anything/logs",
        "/companies/co_anything/runs/run_1",
    ] {
        let page = get(h, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
        let policy = header(&page, "content-security-policy");
        for rule in [
            "default-src 'none'",
            "script-src 'self';",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
        ] {
            assert!(policy.contains(rule), "{path}: `{rule}` in {policy}");
        }
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(header(&page, "cache-control"), "no-cache");
        assert_eq!(header(&page, "x-frame-options"), "DENY");
        assert_eq!(header(&page, "x-content-type-options"), "nosniff");
        let shell = page.text();
        let at = shell
            .find("src=\"/assets/")
            .expect("the shell loads its script from /assets/");
        let rest = &shell[at + 5..];
        prefix = rest[..rest.find("/js/app.js").expect("app.js")].to_owned();
    }

    let script = get(h, &format!("{prefix}/js/app.js")).await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(
        header(&script, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header(&script, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&script, "x-content-type-options"), "nosniff");
    assert!(script.text().contains("import "), "a JavaScript module");
    let style = get(h, &format!("{prefix}/console.css")).await;
    assert_eq!(header(&style, "content-type"), "text/css; charset=utf-8");

    // A page from before an upgrade still gets its files, but revalidated.
    let stale = get(h, "/assets/0123456789abcdef/js/app.js").await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(header(&stale, "cache-control"), "no-cache");
    for missing in [
        format!("{prefix}/js/missing.js"),
        format!("{prefix}/%2e%2e/Cargo.toml"),
        format!("{prefix}/index.html"),
    ] {
        assert_eq!(
            get(h, &missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    // The API keeps answering JSON, its unknown routes included.
    let unknown = get(h, "/api/nothing-here").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["code"], "not_found");
    assert_eq!(get(h, "/healthz").await.json()["status"], "ok");
}

/// A company made by `sluice admin bootstrap`.
struct Bootstrapped {
    email: &'static str,
    company: String,
    token: String,
    password: String,
}

async fn bootstrapped(data_args: &[String], email: &'static str, name: &str) -> Bootstrapped {
    let output = bootstrap(data_args, email, name).await;
    Bootstrapped {
        email,
        company: line_value(&output, "company:")
            .split(' ')
            .next()
            .expect("an id")
            .to_owned(),
        token: line_value(&output, "api token:").to_owned(),
        password: line_value(&output, "one-time password:").to_owned(),
    }
}

#[tokio::test]
async fn in_chromium_a_person_installs_github_runs_it_and_follows_its_log_lines_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marketplace = dir.path().join("marketplace");
    publish(guests::GITHUB_WASM, guests::GITHUB_MANIFEST, &marketplace).await;
    publish(guests::PEOPLE_WASM, guests::PEOPLE_MANIFEST, &marketplace).await;
    publish(guests::SURVEY_WASM, guests::SURVEY_MANIFEST, &marketplace).await;
    let fake = FakeGitHub::start(TOKEN).await.expect("fake GitHub");
    for database in databases(dir.path()).await {
        let label = database.label;
        let data = dir.path().join(format!("data-{label}"));
        let data_args = storage_args(&database, &data);
        let acme = bootstrapped(&data_args, "ada@acme.test", "Acme").await;
        let globex = bootstrapped(&data_args, "grace@globex.test", "Globex").await;
        let server = start(&data_args, &marketplace, dir.path(), label).await;
        let browser = Browser::open(&format!("console-{label}")).await;
        let outcome = AssertUnwindSafe(scenario(&browser, &server, &fake, &acme, &globex, label))
            .catch_unwind()
            .await;
        browser.close_after(outcome).await;
        drop(server);
        database.drop_schema().await;
    }
}

async fn start(data_args: &[String], marketplace: &Path, dir: &Path, label: &str) -> Server {
    let mut args = data_args.to_vec();
    // The operator allows loopback, where the fake GitHub listens; a failed run stays
    // failed, so the test sees its end at once.
    args.extend(
        [
            "--marketplace",
            &marketplace.display().to_string(),
            "--allow-private",
            "127.0.0.1",
            "--max-attempts",
            "1",
        ]
        .map(str::to_owned),
    );
    serve(&args, &dir.join(format!("console-server-{label}.log"))).await
}

async fn scenario(
    b: &Browser,
    server: &Server,
    fake: &FakeGitHub,
    acme: &Bootstrapped,
    globex: &Bootstrapped,
    label: &str,
) {
    let base = &server.base;
    let company = &acme.company;
    let mut api = Client::new(server, &acme.token);

    // A shared link opened before signing in leads to the sign-in page, which remembers it.
    b.client
        .goto(&format!("{base}/companies/{company}/logs?level=warn"))
        .await
        .expect("open the console");
    b.find("#signin").await;
    let at = b.location().await;
    assert!(
        at.starts_with("/signin?next=%2Fcompanies%2F"),
        "{label}: {at}"
    );
    sign_in(b, acme.email, "not the password").await;
    let refused = b
        .eventually("the refusal", || async {
            b.texts("#signin .error").await.into_iter().next()
        })
        .await;
    assert_eq!(refused, "Wrong email or password.", "{label}");
    sign_in(b, acme.email, &acme.password).await;
    choose_password(b).await;
    wait_for_location(b, &format!("/companies/{company}/installs")).await;
    let empty = b
        .eventually("the empty installs list", || async {
            b.texts(".empty").await.into_iter().next()
        })
        .await;
    assert!(
        empty.starts_with("Nothing is installed yet."),
        "{label}: {empty}"
    );
    b.screenshot("1-signed-in").await;

    // The marketplace card says what GitHub would be given.
    b.click("#bar nav a[href$='/marketplace']").await;
    let card = b.find("[data-connector=github]").await;
    let text = card.text().await.expect("the card's text");
    for expected in [
        "github 0.1.0",
        "Members, teams, repositories",
        "api.github.com",
        "{config.api_base_url}",
        "github_token",
        "pull_requests",
    ] {
        assert!(text.contains(expected), "{label}: `{expected}` in {text}");
    }
    b.click("[data-connector=github] a.button").await;
    wait_for_location(b, &format!("/companies/{company}/marketplace/github")).await;

    // The install form: configuration from the schema, the hosts to grant, the secret.
    b.fill("input[name='config.org']", ORG).await;
    b.fill("input[name='config.api_base_url']", &fake.url())
        .await;
    let private_host = format!("127.0.0.1:{}", fake.port());
    b.eventually("the fake's host in the review", || async {
        b.texts(".grants code")
            .await
            .contains(&private_host)
            .then_some(())
    })
    .await;
    let kind = b
        .js(
            "return document.querySelector(`select[name=\"kind:${arguments[0]}\"]`).value",
            vec![json!(private_host)],
        )
        .await;
    assert_eq!(kind, "private", "{label}: a loopback host is private");
    b.click("#test-connection").await;
    let missing = b
        .eventually("the missing secret named", || async {
            b.texts("#outcome .error").await.into_iter().next()
        })
        .await;
    assert!(
        missing.contains("Give the new secret for github_token a name and a value"),
        "{label}: {missing}"
    );
    b.fill("input[name='secret-value:github_token']", TOKEN)
        .await;
    b.click("#test-connection").await;
    let works = b
        .eventually("the connection test", || async {
            b.texts("#outcome .ok").await.into_iter().next()
        })
        .await;
    assert_eq!(works, "The connection works.", "{label}");
    b.screenshot("2-connection-tested").await;
    b.click("#install").await;
    let installed = b
        .eventually("the installs page", || async {
            b.location()
                .await
                .split_once("installed=")
                .map(|(_, id)| id.to_owned())
        })
        .await;
    b.find(&format!("[data-install='{installed}']")).await;
    // Its default schedule, with the next due times; disabled here so no slot runs mid-test.
    let schedule = format!("[data-install='{installed}'] .schedule");
    let shown = b
        .eventually("the default schedule", || async {
            let text = b.texts(&format!("{schedule} .row p")).await.join(" ");
            text.contains("next:").then_some(text)
        })
        .await;
    assert!(
        shown.starts_with("Runs on 0 * * * * (UTC)"),
        "{label}: {shown}"
    );
    b.click(&format!("{schedule} .toggle-schedule")).await;
    b.eventually("the schedule disabled", || async {
        let text = b.texts(&format!("{schedule} .row p")).await.join(" ");
        (text.contains("— disabled") && !text.contains("next:")).then_some(())
    })
    .await;
    let kept = api
        .get(&format!(
            "/api/companies/{company}/installs/{installed}/schedule"
        ))
        .await;
    assert_eq!(kept["enabled"], false, "{label}: {kept}");
    b.click(&format!("{schedule} details summary")).await;
    b.fill(&format!("{schedule} input[name=cron]"), "*/30 * * * *")
        .await;
    b.click(&format!("{schedule} details button[type=submit]"))
        .await;
    b.eventually("the schedule changed", || async {
        let text = b.texts(&format!("{schedule} .row p")).await.join(" ");
        text.starts_with("Runs on */30 * * * * (UTC) — disabled")
            .then_some(())
    })
    .await;
    let source = b.client.source().await.expect("the page");
    assert!(
        !source.contains(TOKEN),
        "{label}: a secret's value is never shown"
    );
    let secrets = api.get(&format!("/api/companies/{company}/secrets")).await;
    assert_eq!(secrets["items"][0]["name"], "github-token", "{label}");

    // Secrets are write-only: names and dates, never values; a bad name is refused precisely.
    b.click("#bar nav a[href$='/secrets']").await;
    b.find("tr[data-secret='github-token']").await;
    b.fill("#secret-form input[name=name]", "bad name!").await;
    b.fill("#secret-form input[name=value]", "anything").await;
    b.click("#secret-form button[type=submit]").await;
    let refused = b
        .eventually("the bad name refused", || async {
            b.texts("main .error").await.into_iter().next()
        })
        .await;
    assert!(
        refused.contains("a secret's name is 1 to 100 letters, digits"),
        "{label}: {refused}"
    );
    let source = b.client.source().await.expect("the page");
    assert!(
        !source.contains(TOKEN),
        "{label}: a secret's value is never shown"
    );

    // The owner adds a member; the new account's one-time password is shown once.
    b.click("#bar nav a[href$='/members']").await;
    b.find("tr[data-member='ada@acme.test']").await;
    b.fill("#member-form input[name=email]", "mo@acme.test")
        .await;
    b.choose("#member-form select[name=role]", "member").await;
    b.click("#member-form button[type=submit]").await;
    let member_password = b
        .find("#one-time-password")
        .await
        .text()
        .await
        .expect("a password");
    assert!(member_password.len() >= 12, "{label}: {member_password}");
    b.click("#added a").await;
    let role = "tr[data-member='mo@acme.test'] select";
    for wanted in ["admin", "member"] {
        b.choose(role, wanted).await;
        let mut now = String::new();
        for _ in 0..300 {
            now = role_of(&mut api, company, "mo@acme.test").await;
            if now == wanted {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(now, wanted, "{label}: the owner changed mo's role");
    }

    // The owner creates an API token; its value, shown once, works for a script.
    b.click("#bar nav a[href$='/tokens']").await;
    b.fill("#token-form input[name=name]", "nightly export")
        .await;
    b.choose("#token-form select[name=role]", "member").await;
    b.click("#token-form button[type=submit]").await;
    let value = b.find("#token-value").await.text().await.expect("a value");
    let script = reqwest::Client::new()
        .get(format!("{base}/api/companies/{company}/installs"))
        .bearer_auth(&value)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(script.status(), 200, "{label}: the new token works");
    b.click("#created a").await;
    b.click("tr[data-token='nightly export'] button.danger")
        .await;
    b.client.accept_alert().await.expect("the confirmation");
    b.eventually("the token revoked", || async {
        b.texts("tr[data-token='nightly export'] button")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    let refused = reqwest::Client::new()
        .get(format!("{base}/api/companies/{company}/installs"))
        .bearer_auth(&value)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(
        refused.status(),
        401,
        "{label}: a revoked token stops working"
    );

    // The directory of people: an admin moves an identity to a person and splits one off.
    let (status, directory) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/companies/{company}/installs"),
            Some(json!({ "plugin": "people", "config": { "logins": ["mona", "hubot"] } })),
        )
        .await;
    assert_eq!(status, 201, "{label}: {directory}");
    let seen = api
        .run(company, directory["id"].as_str().expect("an install"))
        .await;
    assert_eq!(seen["status"], "succeeded", "{label}: {seen}");
    b.click("#bar nav a[href$='/people']").await;
    b.fill("#people-search input[name=q]", "mona").await;
    b.click("#people-search button[type=submit]").await;
    wait_for_location(b, &format!("/companies/{company}/people?q=mona")).await;
    b.find("[data-identity='github:mona']").await;
    assert_eq!(
        b.texts("[data-person]").await.len(),
        1,
        "{label}: only mona matches"
    );
    let mona = b
        .js(
            "return document.querySelector(\"[data-identity='github:mona']\").closest('[data-person]').dataset.person",
            vec![],
        )
        .await;
    let mona = mona.as_str().expect("a person").to_owned();
    b.fill(
        &format!("[data-person='{mona}'] input[name=system]"),
        "slack",
    )
    .await;
    b.fill(&format!("[data-person='{mona}'] input[name=id]"), "U042")
        .await;
    b.click(&format!("[data-person='{mona}'] form button"))
        .await;
    b.find(&format!(
        "[data-person='{mona}'] [data-identity='slack:U042']"
    ))
    .await;
    b.js(
        "document.querySelector(`[data-person='${arguments[0]}'] [data-identity='github:mona'] .split`).click(); return true",
        vec![json!(mona)],
    )
    .await;
    let split = b
        .eventually("github:mona split off", || async {
            let owner = b
                .js(
                    "const found = document.querySelector(\"[data-identity='github:mona']\"); return found && found.closest('[data-person]').dataset.person",
                    vec![],
                )
                .await;
            owner.as_str().filter(|p| *p != mona).map(str::to_owned)
        })
        .await;
    assert_ne!(split, mona, "{label}");
    let kept = b
        .texts(&format!("[data-person='{mona}'] [data-identity] code"))
        .await;
    assert!(
        kept.contains(&"slack: U042".to_owned()),
        "{label}: {kept:?}"
    );
    b.click("#bar nav a[href$='/installs']").await;

    // Run now: the run page follows the run to its end.
    b.click(&format!("[data-install='{installed}'] .run-now"))
        .await;
    let run = b
        .eventually("the run page", || async {
            b.location()
                .await
                .rsplit_once(&format!("/companies/{company}/runs/"))
                .map(|(_, id)| id.to_owned())
        })
        .await;
    let status = b
        .eventually("the run's end", || async {
            let status = b.texts("#run-status").await.into_iter().next()?;
            (status != "queued" && status != "running").then_some(status)
        })
        .await;
    assert_eq!(status, "succeeded", "{label}");
    let lines = b
        .eventually("the run's last line", || async {
            let lines = b.texts(".loglist .line .msg").await;
            lines
                .iter()
                .any(|l| l.starts_with("run succeeded"))
                .then_some(lines)
        })
        .await;
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("syncing GitHub organisation {ORG} at "))),
        "{label}: {lines:?}"
    );
    let figures = api
        .get(&format!("/api/companies/{company}/runs/{run}"))
        .await;
    let records = figures["records_written"].as_i64().expect("records");
    assert!(records > 400, "{label}: {figures}");
    let facts = b.texts("#run-facts dd").await;
    assert!(
        facts.contains(&format_count(records)),
        "{label}: the run's records ({records}) in {facts:?}"
    );
    b.screenshot("3-run").await;

    // The run history.
    b.click("#bar nav a[href$='/runs']").await;
    let row = b.find(&format!("tr[data-run='{run}']")).await;
    let row = row.text().await.expect("the row's text");
    for expected in ["succeeded", "manual", "1 of 1", &format_count(records)] {
        assert!(row.contains(expected), "{label}: `{expected}` in {row}");
    }

    // The logs viewer, then lines of runs started elsewhere arrive without a reload.
    b.click("#bar nav a[href$='/logs']").await;
    wait_for_location(b, &format!("/companies/{company}/logs")).await;
    wait_live(b).await;
    b.js(
        "window.__samePage = true; window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m)); \
         window.__violations = []; document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective)); \
         return true",
        vec![],
    )
    .await;
    let (status, hostile) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/companies/{company}/installs"),
            Some(json!({
                "plugin": "github",
                "config": { "org": HOSTILE_ORG, "api_base_url": fake.url() },
                "grants": { "private_hosts": [private_host], "secrets": { "github_token": "github-token" } },
            })),
        )
        .await;
    assert_eq!(status, 201, "{label}: {hostile}");
    let hostile = hostile["id"].as_str().expect("an install").to_owned();
    let hostile_run = api.start_run(company, &hostile).await;
    let shown = b
        .eventually("the hostile line, live", || async {
            b.texts(".loglist .line .msg")
                .await
                .into_iter()
                .find(|l| l.starts_with("syncing GitHub organisation <img"))
        })
        .await;
    assert!(
        shown.starts_with(
            "syncing GitHub organisation <img src=x onerror=alert(1)>RED at http://127.0.0.1:"
        ),
        "{label}: the hostile text is shown literally, its escape codes taken out: {shown:?}"
    );
    assert!(
        !shown.contains('\u{1b}') && !shown.contains("[31m") && !shown.contains("owned"),
        "{shown:?}"
    );
    b.eventually("the hostile run's failure, live", || async {
        let levels: Vec<Value> = serde_json::from_value(
            b.js(
                "return [...document.querySelectorAll('.loglist .line')].filter((l) => l.querySelector('a.run').title === 'Run ' + arguments[0]).map((l) => l.dataset.level)",
                vec![json!(hostile_run)],
            )
            .await,
        )
        .ok()?;
        levels.contains(&json!("error")).then_some(())
    })
    .await;
    let page = b
        .js(
            "return { samePage: window.__samePage === true, images: document.querySelectorAll('img').length, alerts: window.__alerts, violations: window.__violations }",
            vec![],
        )
        .await;
    assert_eq!(
        page,
        json!({ "samePage": true, "images": 0, "alerts": [], "violations": [] }),
        "{label}: lines arrived live into the same page, and nothing in them ran"
    );
    assert!(
        b.client.get_alert_text().await.is_err(),
        "{label}: no dialog is open"
    );
    b.screenshot("4-live-hostile-line").await;

    // Pause holds new lines back and counts them; resume shows them.
    b.click("#pause").await;
    let paused_run = api.start_run(company, &installed).await;
    let held = b
        .eventually("lines held while paused", || async {
            let state = b.texts("#live-state").await.into_iter().next()?;
            state.contains("new line").then_some(state)
        })
        .await;
    assert!(held.starts_with("❚❚ Paused — "), "{label}: {held}");
    assert_eq!(
        rows_of_run(b, &paused_run).await,
        0,
        "{label}: nothing shown while paused"
    );
    b.click("#pause").await;
    b.eventually("the held lines after resuming", || async {
        (rows_of_run(b, &paused_run).await > 0).then_some(())
    })
    .await;

    // The counts follow the log: the lines of all three installs, and the hour's bar.
    b.eventually("lines counted by install", || async {
        let installs = b.texts("ul[aria-label='Lines by install'] li").await;
        (installs.len() == 3).then_some(())
    })
    .await;
    let hours = b.texts(".timeline .bar").await;
    assert!(!hours.is_empty(), "{label}: an hourly timeline");

    // Filter by level: the address keeps it, the server filters, the counts agree.
    b.choose("#log-filters select[name=level]", "error").await;
    b.click("#apply-filters").await;
    wait_for_location(b, &format!("/companies/{company}/logs?level=error")).await;
    let levels = b
        .eventually("only error lines", || async {
            let levels = b
                .js(
                    "return [...document.querySelectorAll('.loglist .line')].map((l) => l.dataset.level)",
                    vec![],
                )
                .await;
            let levels: Vec<String> = serde_json::from_value(levels).ok()?;
            (!levels.is_empty() && levels.iter().all(|l| l == "error")).then_some(levels)
        })
        .await;
    let summary = api
        .get(&format!(
            "/api/companies/{company}/logs/summary?level=error"
        ))
        .await;
    let errors = summary["by_level"]["error"].as_i64().expect("a count");
    assert_eq!(
        levels.len(),
        usize::try_from(errors).expect("small"),
        "{label}"
    );
    let counted = b
        .eventually("the error count", || async {
            b.js(
                "const chip = document.querySelector('#level-counts [data-level=error]'); return chip && chip.dataset.count",
                vec![],
            )
            .await
            .as_str()
            .map(str::to_owned)
        })
        .await;
    assert_eq!(counted, errors.to_string(), "{label}");

    // Filter by text, in any case.
    b.choose("#log-filters select[name=level]", "").await;
    b.fill("#log-filters input[name=q]", "ONERROR").await;
    b.click("#apply-filters").await;
    wait_for_location(b, &format!("/companies/{company}/logs?q=ONERROR")).await;
    let matching = b
        .eventually("only lines with the text", || async {
            let lines = b.texts(".loglist .line .msg").await;
            (!lines.is_empty() && lines.iter().all(|l| l.to_lowercase().contains("onerror")))
                .then_some(lines)
        })
        .await;
    assert!(
        matching
            .iter()
            .any(|l| l.starts_with("syncing GitHub organisation <img")),
        "{label}: {matching:?}"
    );
    b.screenshot("5-filtered").await;

    // A link to one line opens the same view, at that line.
    let seq = b
        .js(
            "const row = [...document.querySelectorAll('.loglist .line')].find((l) => l.querySelector('.msg').textContent.startsWith('syncing GitHub organisation <img')); \
             row.querySelector('.permalink').click(); return row.dataset.seq",
            vec![],
        )
        .await;
    let seq = seq.as_str().expect("a seq").to_owned();
    let link = b
        .eventually("the line's link in the address", || async {
            let at = b.location().await;
            at.ends_with(&format!("line={seq}")).then_some(at)
        })
        .await;
    assert_eq!(
        link,
        format!("/companies/{company}/logs?q=ONERROR&line={seq}"),
        "{label}"
    );
    b.client
        .goto(&format!("{base}{link}"))
        .await
        .expect("open the link");
    let focused = b.find(".loglist .line.focused").await;
    assert_eq!(
        focused
            .attr("data-seq")
            .await
            .expect("an attribute")
            .as_deref(),
        Some(seq.as_str()),
        "{label}"
    );
    let kept = b
        .js(
            "return document.querySelector('#log-filters input[name=q]').value",
            vec![],
        )
        .await;
    assert_eq!(
        kept, "ONERROR",
        "{label}: the link keeps the view's filters"
    );
    b.screenshot("6-link-to-a-line").await;

    // Filter by install and source, then a time range that ends in the past.
    b.choose("#log-filters select[name=install]", &hostile)
        .await;
    b.choose("#log-filters select[name=source]", "host").await;
    b.fill("#log-filters input[name=q]", "").await;
    b.click("#apply-filters").await;
    wait_for_location(
        b,
        &format!("/companies/{company}/logs?install={hostile}&source=host"),
    )
    .await;
    b.eventually("only the hostile install's host lines", || async {
        let rows = b
            .js(
                "return [...document.querySelectorAll('.loglist .line')].map((l) => [l.querySelector('a.run').title, l.querySelector('.source').textContent])",
                vec![],
            )
            .await;
        let rows = rows.as_array()?.clone();
        let expected = json!([format!("Run {hostile_run}"), "host"]);
        (!rows.is_empty() && rows.iter().all(|r| *r == expected)).then_some(())
    })
    .await;
    b.client
        .goto(&format!(
            "{base}/companies/{company}/logs?until=2020-01-01T00:00:00Z"
        ))
        .await
        .expect("open a past range");
    let none = b
        .eventually("the empty range", || async {
            b.texts("#no-lines").await.into_iter().next()
        })
        .await;
    assert_eq!(none, "No log line matches these filters.", "{label}");
    let toolbar = b.texts(".logview .toolbar").await.join(" ");
    assert!(
        toolbar.contains("This view ends in the past: no live tail."),
        "{label}: {toolbar}"
    );

    // An admin reads the webhook deliveries of a hook and replays one.
    deliveries(b, &mut api, base, company, label).await;

    // The audit log says who did what.
    b.click("#bar nav a[href$='/audit']").await;
    b.find("tr[data-action]").await;
    let actions = b
        .js(
            "return [...document.querySelectorAll('tr[data-action]')].map((r) => r.dataset.action)",
            vec![],
        )
        .await;
    for action in [
        "secret.put",
        "install.create",
        "run.start",
        "member.add",
        "person.link",
    ] {
        assert!(
            actions
                .as_array()
                .expect("actions")
                .contains(&json!(action)),
            "{label}: `{action}` in {actions}"
        );
    }

    // Another company's person finds acme's pages closed.
    b.click("#sign-out").await;
    b.find("#signin").await;
    sign_in(b, globex.email, &globex.password).await;
    choose_password(b).await;
    wait_for_location(b, &format!("/companies/{}/installs", globex.company)).await;
    let companies = b.texts("#bar select option").await;
    assert_eq!(companies, ["Globex (owner)"], "{label}");
    for page in ["logs", "installs", &format!("runs/{run}")] {
        b.client
            .goto(&format!("{base}/companies/{company}/{page}"))
            .await
            .expect("open acme's page");
        let heading = b
            .eventually("the page's heading", || async {
                b.texts("main h1").await.into_iter().next()
            })
            .await;
        assert_eq!(heading, "Company not found", "{label}: {page}");
        assert!(
            b.texts(".line, [data-install], #run-facts")
                .await
                .is_empty(),
            "{label}: {page}"
        );
    }
    b.screenshot("7-another-company").await;

    // A member of acme reads its installs, runs and log lines, and is offered no admin action.
    b.click("#sign-out").await;
    b.find("#signin").await;
    sign_in(b, "mo@acme.test", &member_password).await;
    choose_password(b).await;
    wait_for_location(b, &format!("/companies/{company}/installs")).await;
    let sections = b.texts("#bar nav a").await;
    assert_eq!(
        sections,
        [
            "Installs",
            "Marketplace",
            "Runs",
            "Logs",
            "People",
            "Secrets",
            "Members"
        ],
        "{label}: a member's sections"
    );
    b.find(&format!("[data-install='{installed}'] .schedule .row"))
        .await;
    let offered = b
        .texts(".run-now, .toggle-schedule, button.danger, a.button, .schedule details")
        .await;
    assert!(
        offered.is_empty(),
        "{label}: a member is offered {offered:?}"
    );
    b.click("#bar nav a[href$='/marketplace']").await;
    let note = b
        .eventually("the marketplace card's note", || async {
            b.texts("[data-connector=github] p.muted")
                .await
                .into_iter()
                .find(|t| t.starts_with("Only an admin"))
        })
        .await;
    assert_eq!(
        note, "Only an admin of the company can install it.",
        "{label}"
    );
    b.client
        .goto(&format!("{base}/companies/{company}/marketplace/github"))
        .await
        .expect("open the install form");
    let refused = b
        .eventually("the install form refused", || async {
            b.texts("main .error").await.into_iter().next()
        })
        .await;
    assert_eq!(
        refused, "Only an admin of the company can install connectors.",
        "{label}"
    );
    assert!(b.texts("#install-form").await.is_empty(), "{label}");
    b.click("#bar nav a[href$='/logs']").await;
    b.eventually("acme's log lines, for its member", || async {
        (!b.texts(".loglist .line").await.is_empty()).then_some(())
    })
    .await;
    b.screenshot("8-member").await;
}

/// GitHub sends a survey install's hook a ping, an opened pull request and a forged
/// delivery; the Deliveries page shows all three, and replaying the verified one queues it
/// again.
async fn deliveries(b: &Browser, api: &mut Client, base: &str, company: &str, label: &str) {
    let (status, survey) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/companies/{company}/installs"),
            Some(json!({ "plugin": "survey", "config": {}, "grants": { "secrets": { "slack_bot_token": "github-token" } } })),
        )
        .await;
    assert_eq!(status, 201, "{label}: {survey}");
    let survey = survey["id"].as_str().expect("an install").to_owned();
    let (status, hook) = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/companies/{company}/installs/{survey}/hooks/github/secret"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{label}: {hook}");
    let secret = hook["secret"].as_str().expect("the secret").to_owned();
    let github = reqwest::Client::new();
    let send = |event: &'static str, delivery: &'static str, body: String, key: String| {
        github
            .post(format!("{base}/hooks/github/{survey}"))
            .header("content-type", "application/json")
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header(
                "x-hub-signature-256",
                sluice::hooks::github_signature(key.as_bytes(), body.as_bytes()),
            )
            .body(body)
            .send()
    };
    let opened = json!({ "action": "opened", "number": 9, "pull_request": { "number": 9, "merged": false } }).to_string();
    for (event, delivery, body, key, expected) in [
        ("ping", "c-ping", "{}".to_owned(), secret.clone(), 200),
        ("pull_request", "c-opened", opened, secret.clone(), 202),
        (
            "pull_request",
            "c-forged",
            "{}".to_owned(),
            "a guess".to_owned(),
            401,
        ),
    ] {
        let answer = send(event, delivery, body, key)
            .await
            .expect("the hook answers");
        assert_eq!(answer.status().as_u16(), expected, "{label}: {delivery}");
    }
    b.click("#bar nav a[href$='/deliveries']").await;
    b.find("tr[data-delivery]").await;
    let mut statuses = b.texts("tr[data-delivery] .status").await;
    statuses.sort();
    assert_eq!(statuses, ["answered", "refused", "routed"], "{label}");
    let refusal = b.texts("tr[data-status=refused] .refusal").await;
    assert_eq!(
        refusal,
        ["the signature does not match the body: the secret differs or the body was changed"],
        "{label}"
    );
    assert_eq!(
        b.texts("tr[data-status=refused] button.replay").await.len(),
        0,
        "{label}: nothing to replay"
    );
    assert_eq!(
        b.texts("tr[data-status=routed] a.run").await.len(),
        1,
        "{label}"
    );
    b.click("tr[data-status=routed] button.replay").await;
    b.eventually("the replayed delivery", || async {
        (b.texts("tr[data-status=routed]").await.len() == 2).then_some(())
    })
    .await;
    assert_eq!(
        b.texts(".replay-of").await,
        ["replayed by an admin"],
        "{label}"
    );
    b.screenshot("6b-deliveries").await;
}

/// A member's role, as the API says.
async fn role_of(api: &mut Client, company: &str, email: &str) -> String {
    let members = api.get(&format!("/api/companies/{company}/members")).await;
    members["items"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["email"] == email)
        .and_then(|m| m["role"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn sign_in(b: &Browser, email: &str, password: &str) {
    b.fill("#signin input[name=email]", email).await;
    b.fill("#signin input[name=password]", password).await;
    b.click("#signin button[type=submit]").await;
}

/// After signing in with the one-time password: the console asks for a password.
async fn choose_password(b: &Browser) {
    b.find("#password input[name=password]").await;
    assert_eq!(b.location().await, "/password");
    b.fill("#password input[name=password]", "a password long enough")
        .await;
    b.click("#password button[type=submit]").await;
}

async fn wait_for_location(b: &Browser, expected: &str) {
    b.eventually(&format!("the address {expected}"), || async {
        (b.location().await == expected).then_some(())
    })
    .await;
}

async fn wait_live(b: &Browser) {
    b.eventually("the live tail", || async {
        let state = b
            .js(
                "const state = document.querySelector('#live-state'); return state && state.dataset.state",
                vec![],
            )
            .await;
        (state == "live").then_some(())
    })
    .await;
}

async fn rows_of_run(b: &Browser, run: &str) -> u64 {
    b.js(
        "return [...document.querySelectorAll('.loglist .line a.run')].filter((a) => a.title === 'Run ' + arguments[0]).length",
        vec![json!(run)],
    )
    .await
    .as_u64()
    .expect("a count")
}

/// A count as the console writes it: `1,234`.
fn format_count(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
