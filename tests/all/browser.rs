//! A real headless Chromium for the console's tests, driven over WebDriver: one
//! chromedriver per test binary, started on first use, and a fresh browser with its own
//! profile per session. Debian's `chromium` and `chromium-driver` (installed by
//! `./test.sh`); nothing is downloaded.

use std::future::Future;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page gets to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// The WebDriver URL of this test binary's chromedriver, started on first use.
fn driver() -> &'static str {
    static DRIVER: OnceLock<Result<String, String>> = OnceLock::new();
    match DRIVER.get_or_init(start_driver) {
        Ok(url) => url,
        Err(why) => panic!("{why}"),
    }
}

fn start_driver() -> Result<String, String> {
    for path in [CHROMIUM, CHROMEDRIVER] {
        if !std::path::Path::new(path).is_file() {
            return Err(format!(
                "{path} is missing: the console's tests need Debian's chromium and chromium-driver \
                 (./test.sh installs them: apt-get install -y chromium chromium-driver)"
            ));
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    // A static is never dropped, so a watchdog ends chromedriver (and the browsers it
    // started) once this test binary is gone.
    Command::new("sh")
        .args([
            "-c",
            "\"$1\" --port=\"$2\" --silent & d=$!; while kill -0 \"$3\" 2>/dev/null; do sleep 1; done; kill $d",
            "sh",
            CHROMEDRIVER,
            &port.to_string(),
            &std::process::id().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start chromedriver: {e}"))?;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("chromedriver did not listen within 10 s".into())
}

/// One browser: a WebDriver session with a profile of its own.
pub struct Browser {
    pub client: Client,
    _profile: tempfile::TempDir,
    /// Where screenshots go, named after the test.
    shots: PathBuf,
}

impl Browser {
    /// A fresh headless Chromium; `name` prefixes its screenshots.
    pub async fn open(name: &str) -> Browser {
        let url = driver().to_owned();
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-dev-shm-usage",
                    "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("a Chromium session");
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/console-screenshots")
            .join(name);
        std::fs::create_dir_all(&shots).expect("the screenshot folder");
        Browser {
            client,
            _profile: profile,
            shots,
        }
    }

    /// Ends the session and its browser.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }

    /// Ends the session and its browser, then raises the test's panic if it had one: a
    /// failed test still ends its Chromium.
    pub async fn close_after(self, outcome: std::thread::Result<()>) {
        self.close().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    /// Saves a screenshot as `target/console-screenshots/<test>/<step>.png`.
    pub async fn screenshot(&self, step: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.shots.join(format!("{step}.png")), png);
        }
    }

    /// Runs `script` (its `arguments` are `args`) in the page; its return value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed ({e}): {script}"))
    }

    /// The text of every element matching `css`.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let found = self
            .js(
                "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(found).expect("texts")
    }

    /// The element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                self.screenshot("not-found").await;
                panic!("no `{css}` on the page within 30 s: {e}")
            }
        }
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// Types `text` into the field matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear a field");
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
    }

    /// Chooses the option with `value` in the select matching `css`.
    pub async fn choose(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("no option `{value}` in `{css}`: {e}"));
    }

    /// The current address's path and query.
    pub async fn location(&self) -> String {
        let url = self.client.current_url().await.expect("the current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits until `probe` gives a value; panics naming `what` after 30 s.
    pub async fn eventually<T, F, Fut>(&self, what: &str, probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        self.eventually_within(PATIENCE, what, probe).await
    }

    /// Waits until `probe` gives a value; panics naming `what` after `patience`.
    pub async fn eventually_within<T, F, Fut>(
        &self,
        patience: Duration,
        what: &str,
        mut probe: F,
    ) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                self.screenshot("timed-out").await;
                panic!("{what}: not seen within {patience:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
