//! The `sluice` binary as a process: start `sluice serve`, stop it gently or kill it, and
//! talk to it through its REST API like a user's script would.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::TestDatabase;
use crate::support::sluice;

/// A running `sluice serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// Its base URL.
    pub base: String,
}

impl Server {
    /// `kill -9`: the host dies with no chance to hand anything back.
    pub fn kill(mut self) {
        self.child.kill().expect("kill sluice serve");
        self.child.wait().expect("reap sluice serve");
    }

    /// SIGTERM, as a service manager stops a host; waits for the exit.
    pub async fn terminate(mut self, within: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "SIGTERM to {pid}");
        let until = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for sluice serve") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "sluice serve did not exit within {within:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `sluice serve` with `args` on a free port, its stderr appended to `log`.
pub fn serve_command(args: &[String], log: &Path) -> (Command, String) {
    let port = free_port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("server log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env(
            "SLUICE_CACHE_DIR",
            std::env::temp_dir().join("sluice-test-cache"),
        )
        .stdout(Stdio::null())
        .stderr(log);
    (command, format!("http://127.0.0.1:{port}"))
}

/// Starts `sluice serve` and waits until it answers `/healthz`.
pub async fn serve(args: &[String], log: &Path) -> Server {
    let (command, base) = serve_command(args, log);
    start(command, base, Duration::from_secs(15)).await
}

/// Starts the prepared `sluice serve` and waits until it answers `/healthz` at `base`,
/// for at most `within`.
pub async fn start(mut command: Command, base: String, within: Duration) -> Server {
    let child = command.spawn().expect("start sluice serve");
    let server = Server { child, base };
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if let Ok(answer) = client.get(format!("{}/healthz", server.base)).send().await
            && answer.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sluice serve did not answer /healthz within {within:?}");
}

/// The `--data-dir` (and, for PostgreSQL, `--database-url`) arguments for `database`.
pub fn storage_args(database: &TestDatabase, data: &Path) -> Vec<String> {
    let mut args = vec!["--data-dir".to_owned(), data.display().to_string()];
    // SQLite is the embedded default: no URL, the file is created in the data folder.
    if database.label != "SQLite" {
        args.extend(["--database-url".to_owned(), database.url.clone()]);
    }
    args
}

/// `sluice marketplace publish` of a built component into `marketplace`; its stdout.
pub async fn publish(wasm: &str, manifest: &str, marketplace: &Path) -> String {
    let published = sluice(vec![
        "marketplace".into(),
        "publish".into(),
        wasm.into(),
        "--manifest".into(),
        manifest.into(),
        "--marketplace".into(),
        marketplace.display().to_string(),
    ])
    .await;
    assert!(
        published.status.success(),
        "publish {wasm}: {}",
        String::from_utf8_lossy(&published.stderr)
    );
    String::from_utf8_lossy(&published.stdout).into_owned()
}

/// `sluice admin bootstrap` of a company; its whole output.
pub async fn bootstrap(data_args: &[String], email: &str, company: &str) -> String {
    let mut args: Vec<String> = vec![
        "admin".into(),
        "bootstrap".into(),
        "--email".into(),
        email.into(),
        "--company".into(),
        company.into(),
    ];
    args.extend(data_args.iter().cloned());
    let output = sluice(args).await;
    assert!(
        output.status.success(),
        "bootstrap: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The value after `label` on the line of `output` that starts with it.
pub fn line_value<'a>(output: &'a str, label: &str) -> &'a str {
    output
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("`{label}` in {output}"))
}

/// A client that keeps every answer's text, to search it afterwards.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub seen: Vec<String>,
}

impl Client {
    /// A client of `server` with `token`.
    pub fn new(server: &Server, token: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: server.base.clone(),
            token: token.to_owned(),
            seen: Vec::new(),
        }
    }

    pub async fn call(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.expect("the server answers");
        let status = answer.status().as_u16();
        let text = answer.text().await.expect("a body");
        self.seen.push(text.clone());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&mut self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Every item of a paginated list.
    pub async fn all(&mut self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut next: Option<String> = None;
        loop {
            let page = match &next {
                Some(after) => {
                    self.get(&format!("{path}{separator}limit=500&after={after}"))
                        .await
                }
                None => self.get(&format!("{path}{separator}limit=500")).await,
            };
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next"].as_str() {
                Some(after) => next = Some(after.to_owned()),
                None => return items,
            }
        }
    }

    /// Queues a manual run of `install`; its id.
    pub async fn start_run(&mut self, company: &str, install: &str) -> String {
        let (status, run) = self
            .call(
                reqwest::Method::POST,
                &format!("/api/companies/{company}/installs/{install}/runs"),
                None,
            )
            .await;
        assert_eq!(status, 202, "{run}");
        run["id"].as_str().expect("run id").to_owned()
    }

    /// Runs `install` and waits until the run has ended.
    pub async fn run(&mut self, company: &str, install: &str) -> Value {
        let id = self.start_run(company, install).await;
        for _ in 0..1200 {
            let run = self
                .get(&format!("/api/companies/{company}/runs/{id}"))
                .await;
            if !matches!(run["status"].as_str(), Some("queued" | "running")) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {id} did not finish in 60 s");
    }
}
