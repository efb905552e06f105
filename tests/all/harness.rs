//! A server under test without a socket: a fresh database (SQLite always, PostgreSQL when
//! `SLUICE_TEST_DATABASE_URL` is set), a marketplace with real built connectors, two
//! companies, and the router called with `oneshot`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use sluice::api::{AppState, app};
use sluice::egress::PrivateReach;
use sluice::marketplace::Catalogue;
use sluice::onboarding::onboard;
use sluice::runtime::{Limits, Runtime};
use sluice::scheduler::{QueueSettings, Runs, Scheduler};
use sluice::store::Store;
use sluice::vault::{SecretKey, Vault};
use sluice::worker::Worker;
use sluice_tests::guests;
use sluice_tests::scratch::ScratchSchema;
use tower::ServiceExt as _;

/// Runs `test` once per database; with `allowing`, on a server whose operator allows only
/// those private destinations.
macro_rules! on_every_database {
    ($test:ident, allowing $private:expr) => {{
        let dir = tempfile::tempdir().expect("tempdir");
        for database in $crate::harness::databases(dir.path()).await {
            let sub = tempfile::tempdir_in(dir.path()).expect("tempdir");
            let settings = sluice::scheduler::QueueSettings {
                schedules: false,
                ..sluice::scheduler::QueueSettings::default()
            };
            let harness =
                $crate::harness::Harness::start_allowing(&database, sub.path(), settings, $private)
                    .await;
            $test(&harness).await;
            harness.stop().await;
            database.drop_schema().await;
        }
    }};
    ($test:ident) => {{
        let dir = tempfile::tempdir().expect("tempdir");
        for database in $crate::harness::databases(dir.path()).await {
            let sub = tempfile::tempdir_in(dir.path()).expect("tempdir");
            let harness = $crate::harness::Harness::start(&database, sub.path()).await;
            $test(&harness).await;
            harness.stop().await;
            database.drop_schema().await;
        }
    }};
}
pub(crate) use on_every_database;

/// A database for one test.
pub struct TestDatabase {
    /// Which kind, for messages.
    pub label: &'static str,
    /// Its URL.
    pub url: String,
    /// The PostgreSQL schema to drop afterwards.
    schema: Option<ScratchSchema>,
}

impl TestDatabase {
    /// Drops what the test created in PostgreSQL.
    pub async fn drop_schema(&self) {
        if let Some(schema) = &self.schema {
            schema.drop().await.expect("drop the test schema");
        }
    }
}

/// The databases every store test runs on: an SQLite file in `dir`, and a fresh schema in
/// the PostgreSQL at `SLUICE_TEST_DATABASE_URL` when it is set.
pub async fn databases(dir: &Path) -> Vec<TestDatabase> {
    let mut all = vec![TestDatabase {
        label: "SQLite",
        url: Store::sqlite_url(&dir.join("sluice.db")),
        schema: None,
    }];
    if let Ok(base) = std::env::var("SLUICE_TEST_DATABASE_URL") {
        let schema = ScratchSchema::create(&base, "sluice_test")
            .await
            .expect("SLUICE_TEST_DATABASE_URL is set, so PostgreSQL must be reachable");
        all.push(TestDatabase {
            label: "PostgreSQL",
            url: schema.url.clone(),
            schema: Some(schema),
        });
    }
    note_databases(&all);
    all
}

/// Where each test notes the databases it runs on; `./test.sh` sums them up at its end.
const DATABASES_USED: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/databases-used.tsv");

/// Appends a line per database, `<label>\t<test>`, to [`DATABASES_USED`].
fn note_databases(databases: &[TestDatabase]) {
    use std::io::Write as _;
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned();
    let lines: String = databases
        .iter()
        .map(|d| format!("{}\t{test}\n", d.label))
        .collect();
    let noted = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(DATABASES_USED)
        .and_then(|mut file| file.write_all(lines.as_bytes()));
    noted.expect("note the databases a test runs on");
}

/// Publishes the test connectors into a marketplace folder.
pub fn marketplace(dir: &Path) -> PathBuf {
    let marketplace = dir.join("marketplace");
    for (wasm, manifest) in [
        (guests::GITHUB_WASM, guests::GITHUB_MANIFEST),
        (guests::TRIVIAL_WASM, guests::TRIVIAL_MANIFEST),
        (guests::HOSTILE_WASM, guests::HOSTILE_MANIFEST),
        (guests::PEOPLE_WASM, guests::PEOPLE_MANIFEST),
        (guests::STATE_WASM, guests::STATE_MANIFEST),
        (guests::SURVEY_WASM, guests::SURVEY_MANIFEST),
        (guests::SLACK_WASM, guests::SLACK_MANIFEST),
        (guests::GRAFANA_WASM, guests::GRAFANA_MANIFEST),
        (guests::JIRA_WASM, guests::JIRA_MANIFEST),
    ] {
        let bytes = std::fs::read(wasm).expect("a built connector");
        let text = std::fs::read_to_string(manifest).expect("its manifest");
        sluice::marketplace::publish(&marketplace, &text, &bytes).expect("publish");
    }
    marketplace
}

/// One company's owner, as bootstrap left them.
pub struct Tenant {
    pub company: String,
    pub owner: String,
    pub token: String,
    pub password: String,
    pub email: String,
}

/// The server under test.
pub struct Harness {
    pub label: &'static str,
    pub store: Store,
    pub state: AppState,
    pub acme: Tenant,
    pub globex: Tenant,
    pub marketplace: PathBuf,
    /// This host's loops over the queue.
    pub scheduler: Scheduler,
}

/// An answer: status, headers and body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Harness {
    /// A server whose host works the queue but leaves schedules alone, so a connector's
    /// default schedule never adds a run to a test.
    pub async fn start(database: &TestDatabase, dir: &Path) -> Harness {
        let settings = QueueSettings {
            schedules: false,
            ..QueueSettings::default()
        };
        Self::start_with(database, dir, settings).await
    }

    /// A server whose host works the queue with `settings`. Its operator allows
    /// 127.0.0.1, where the tests' fake services listen.
    pub async fn start_with(
        database: &TestDatabase,
        dir: &Path,
        settings: QueueSettings,
    ) -> Harness {
        let loopback = PrivateReach::parse(["127.0.0.1"]).expect("an address");
        Self::start_allowing(database, dir, settings, loopback).await
    }

    /// A server whose operator allows `private` and nothing else private.
    pub async fn start_allowing(
        database: &TestDatabase,
        dir: &Path,
        settings: QueueSettings,
        private: PrivateReach,
    ) -> Harness {
        let private = Arc::new(private);
        let store = Store::open(&database.url).await.expect("open the store");
        let vault = Arc::new(Vault::new(1, SecretKey::generate()));
        let marketplace = marketplace(dir);
        let catalogue = Arc::new(Catalogue::load(&marketplace).expect("catalogue"));
        let runtime = Runtime::new(Some(&dir.join("compiled")), Limits::default())
            .expect("runtime")
            .allowing_private(private.clone());
        let worker = Arc::new(Worker::new(
            store.clone(),
            vault.clone(),
            catalogue.clone(),
            runtime,
        ));
        let host = sluice::store::new_id("host");
        store
            .register_host(&host, "test-harness")
            .await
            .expect("register the host");
        let runs = Runs::new(store.clone(), host, settings);
        let scheduler = Scheduler::start(runs.clone(), worker.clone());
        let state = AppState {
            store: store.clone(),
            vault: vault.clone(),
            catalogue,
            worker,
            runs,
            secure_cookies: false,
            private_reach: private,
            log_feed: sluice::log_feed::LogFeed::start(store.clone()),
            sign_in: Arc::new(sluice::api::SignIn::default()),
        };
        let mut tenants = Vec::new();
        for (email, company) in [("ada@acme.test", "Acme"), ("grace@globex.test", "Globex")] {
            let onboarded = onboard(&store, &vault, email, company)
                .await
                .expect("onboard");
            tenants.push(Tenant {
                company: onboarded.company.id,
                owner: onboarded.owner_id,
                token: onboarded.token,
                password: onboarded.one_time_password,
                email: email.to_owned(),
            });
        }
        let globex = tenants.pop().expect("globex");
        let acme = tenants.pop().expect("acme");
        Harness {
            label: database.label,
            store,
            state,
            acme,
            globex,
            marketplace,
            scheduler,
        }
    }

    /// Stops the host's loops, handing back what runs, and closes the store.
    pub async fn stop(self) {
        self.scheduler
            .shutdown(std::time::Duration::from_secs(5))
            .await
            .expect("the host stops");
        self.store.close().await;
    }

    /// Sends a request to the router.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("a request");
        self.send(request).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = app(self.state.clone())
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .expect("a body")
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// GET as acme's owner.
    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, Some(&self.acme.token), None)
            .await
    }

    /// The actions in a company's audit log, as acme's owner reads them.
    pub async fn audit_actions(&self, company: &str) -> Vec<String> {
        let audit = self
            .get(&format!("/api/companies/{company}/audit"))
            .await
            .json();
        audit["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|e| e["action"].as_str().map(str::to_owned))
            .collect()
    }

    /// Starts a run of acme's `install` as its owner and waits for its end; the run.
    pub async fn run_of_acme(&self, install: &str) -> Value {
        let company = &self.acme.company;
        let started = self
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs/{install}/runs"),
                Some(&self.acme.token),
                None,
            )
            .await;
        assert_eq!(
            started.status,
            StatusCode::ACCEPTED,
            "{}: {}",
            self.label,
            started.text()
        );
        let id = started.json()["id"].as_str().expect("a run id").to_owned();
        self.finished_run(company, &self.acme.token, &id).await
    }

    /// Acme's install of `plugin` with `config`, granted the fake Slack on `slack_port`
    /// and `token` as its `slack_bot_token` (kept as the company secret `slack-bot`); its id.
    pub async fn install_talking_to_slack(
        &self,
        plugin: &str,
        config: Value,
        slack_port: u16,
        token: &str,
    ) -> String {
        self.install_talking_to(
            plugin,
            config,
            slack_port,
            ("slack_bot_token", "slack-bot", token),
        )
        .await
    }

    /// Acme's install of `plugin` with `config`, granted the fake service on `port` and,
    /// as its secret `slot`, the company secret `name` holding `value`; its id.
    pub async fn install_talking_to(
        &self,
        plugin: &str,
        config: Value,
        port: u16,
        (slot, name, value): (&str, &str, &str),
    ) -> String {
        let company = &self.acme.company;
        let owner = Some(self.acme.token.as_str());
        let secret = self
            .call(
                Method::PUT,
                &format!("/api/companies/{company}/secrets/{name}"),
                owner,
                Some(serde_json::json!({ "value": value })),
            )
            .await;
        assert!(secret.status.is_success(), "{}", secret.text());
        self.install_of_acme(serde_json::json!({
            "plugin": plugin,
            "config": config,
            "grants": {
                "private_hosts": [format!("127.0.0.1:{port}")],
                "secrets": { slot: name }
            }
        }))
        .await
    }

    /// Installs into acme what `install` (the body of `POST …/installs`) says, as its
    /// owner; fails unless it is created. Its id.
    pub async fn install_of_acme(&self, install: Value) -> String {
        let company = &self.acme.company;
        let answer = self
            .call(
                Method::POST,
                &format!("/api/companies/{company}/installs"),
                Some(self.acme.token.as_str()),
                Some(install),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
        answer.json()["id"].as_str().expect("an id").to_owned()
    }

    /// Acme's records of `stream` from `install`, every page of them: all, or only those
    /// `deleted` or not.
    pub async fn records_of_acme(
        &self,
        install: &str,
        stream: &str,
        deleted: Option<bool>,
    ) -> Vec<Value> {
        let company = &self.acme.company;
        let filter = deleted.map_or(String::new(), |deleted| format!("&deleted={deleted}"));
        let mut records = Vec::new();
        let mut after = String::new();
        loop {
            let page = self
                .get(&format!(
                    "/api/companies/{company}/records?install={install}&stream={stream}&limit=500{filter}{after}"
                ))
                .await
                .json();
            records.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next"].as_str() {
                Some(next) => after = format!("&after={next}"),
                None => return records,
            }
        }
    }

    /// Runs a sync of `install` after one item of its full-refresh `stream` (of `total`
    /// before) left the service, `first` being the sync before: the run succeeded and
    /// marked exactly `key` deleted, with its last data kept and its own id, and left the
    /// other items as `first` wrote them. Returns the deleted record.
    pub async fn sync_seeing_one_item_gone(
        &self,
        install: &str,
        stream: &str,
        (key, total): (&str, usize),
        first: &Value,
    ) -> Value {
        let label = self.label;
        let second = self.run_of_acme(install).await;
        assert_eq!(second["status"], "succeeded", "{label}: {second}");
        assert_eq!(second["records_deleted"], 1, "{label}: {second}");
        let mut deleted = self.records_of_acme(install, stream, Some(true)).await;
        assert_eq!(deleted.len(), 1, "{label}: {deleted:?}");
        let deleted = deleted.remove(0);
        assert_eq!(deleted["key"], key, "{label}: {deleted}");
        assert!(deleted["deleted_at"].is_string(), "{label}: {deleted}");
        assert_eq!(
            deleted["run_id"], second["id"],
            "{label}: the run that saw it gone"
        );
        let present = self.records_of_acme(install, stream, Some(false)).await;
        assert_eq!(present.len(), total - 1, "{label}");
        assert!(
            present.iter().all(|r| r["run_id"] == first["id"]),
            "{label}: unchanged {stream} are not written again"
        );
        deleted
    }

    /// Acme's directory of people, read once: a run's people join it before the run's
    /// commit, so once a run is seen finished its people are there. Fails unless it holds
    /// `count` people.
    pub async fn directory_of_acme(&self, count: usize) -> Value {
        let path = format!("/api/companies/{}/people", self.acme.company);
        let people = self.get(&path).await.json();
        assert_eq!(
            people["items"].as_array().map_or(0, Vec::len),
            count,
            "{}: acme's directory: {people}",
            self.label
        );
        people
    }

    /// Waits until a run of acme's has finished, and returns it.
    pub async fn finished_run(&self, company: &str, token: &str, run: &str) -> Value {
        for _ in 0..600 {
            let answer = self
                .call(
                    Method::GET,
                    &format!("/api/companies/{company}/runs/{run}"),
                    Some(token),
                    None,
                )
                .await;
            let run = answer.json();
            if !matches!(run["status"].as_str(), Some("queued" | "running")) {
                return run;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the run did not finish in 30 s");
    }
}

/// A PostgreSQL test that fails before dropping its schema leaves none behind: the schema
/// goes when its value is dropped on the way out. Without `SLUICE_TEST_DATABASE_URL` there
/// is no PostgreSQL to look at, and the test says so.
#[tokio::test]
async fn a_failed_test_leaves_no_postgresql_schema_behind() {
    let Ok(base) = std::env::var("SLUICE_TEST_DATABASE_URL") else {
        eprintln!("SLUICE_TEST_DATABASE_URL is not set: no PostgreSQL schema to check");
        return;
    };
    let schema = ScratchSchema::create(&base, "sluice_test")
        .await
        .expect("a schema");
    let name = schema
        .url
        .rsplit("search_path%3D")
        .next()
        .expect("the schema's name")
        .to_owned();
    let failed = std::panic::AssertUnwindSafe(async move {
        let _schema = schema;
        panic!("a test fails while its schema exists");
    });
    assert!(futures::FutureExt::catch_unwind(failed).await.is_err());
    let pool = sqlx::PgPool::connect(&base).await.expect("connect");
    let left: Option<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname = $1")
            .bind(&name)
            .fetch_optional(&pool)
            .await
            .expect("look");
    pool.close().await;
    assert_eq!(left, None, "the schema {name} was dropped");
}
