//! Shared helpers of the integration tests: a spy server, a log collector, runtimes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::get;
use sluice::egress::{Grants, HostPattern, PrivateReach};
use sluice::manifest::Manifest;
use sluice::people::StaticDirectory;
use sluice::runtime::{Call, Limits, LogLine, LogSink, RunContext, RunOutcome, Runtime};
use sluice::secrets::SecretSet;

/// A server on 127.0.0.1 that records every request it gets with its headers, answers
/// `/redirect?to=URL` with a 302, `/loop` with a 302 to itself, `/bytes?n=N` with N bytes
/// (`&chunked` without a `content-length`), `/echo-auth` with the `authorization` header
/// it received, `/echo-encodings` with the bearer token it received raw, base64- and
/// URL-encoded, anything else 200.
#[derive(Clone)]
pub struct Spy {
    pub port: u16,
    hits: Hits,
}

/// What a spy received: each request's path and query, and its headers.
type Hits = Arc<Mutex<Vec<(String, HeaderMap)>>>;

impl Spy {
    pub async fn start() -> Spy {
        let hits: Hits = Arc::default();
        let app = Router::new()
            .route("/redirect", get(redirect))
            .route(
                "/loop",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
            )
            .route("/bytes", get(bytes))
            .route("/echo-auth", get(echo_auth))
            .route("/echo-encodings", get(echo_encodings))
            .route("/limited", get(limited))
            .route("/limited-once", get(limited_once))
            .fallback(|| async { "hello from the spy" })
            .layer(axum::middleware::from_fn_with_state(hits.clone(), record))
            .with_state(());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the spy");
        let port = listener.local_addr().expect("spy address").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Spy { port, hits }
    }

    /// The path and query of every request, in order.
    pub fn hits(&self) -> Vec<String> {
        self.requests().into_iter().map(|(uri, _)| uri).collect()
    }

    /// Every request's path and query with the headers it arrived with.
    pub fn requests(&self) -> Vec<(String, HeaderMap)> {
        self.hits.lock().expect("spy lock").clone()
    }
}

async fn record(
    State(hits): State<Hits>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    hits.lock()
        .expect("spy lock")
        .push((request.uri().to_string(), request.headers().clone()));
    next.run(request).await
}

/// `n` bytes of `x`, with their length announced, or `chunked` without it.
async fn bytes(Query(query): Query<BTreeMap<String, String>>) -> axum::response::Response {
    let n: usize = query.get("n").and_then(|n| n.parse().ok()).unwrap_or(0);
    let body = vec![b'x'; n];
    if !query.contains_key("chunked") {
        return body.into_response();
    }
    let chunks = body
        .chunks(64 << 10)
        .map(|chunk| Ok::<_, std::io::Error>(axum::body::Bytes::copy_from_slice(chunk)))
        .collect::<Vec<_>>();
    axum::body::Body::from_stream(futures::stream::iter(chunks)).into_response()
}

async fn redirect(Query(query): Query<BTreeMap<String, String>>) -> impl IntoResponse {
    let to = query.get("to").cloned().unwrap_or_default();
    (StatusCode::FOUND, [(header::LOCATION, to)])
}

async fn echo_auth(headers: HeaderMap, _uri: Uri) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned()
}

async fn echo_encodings(headers: HeaderMap) -> String {
    use base64::Engine as _;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("none");
    let url: String = token
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let base64 = base64::engine::general_purpose::STANDARD.encode(token);
    format!("raw={token} base64={base64} url={url}")
}

/// A secondary rate limit that lasts an hour.
async fn limited() -> impl IntoResponse {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "3600")],
        "slow down",
    )
}

/// GitHub's secondary rate limit on every other request: 403 with `retry-after: 1`.
async fn limited_once() -> axum::response::Response {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if CALLS
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        .is_multiple_of(2)
    {
        (
            StatusCode::FORBIDDEN,
            [(header::RETRY_AFTER, "1")],
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
        )
            .into_response()
    } else {
        "allowed now".into_response()
    }
}

/// Collects a run's log lines.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<LogLine>>);

impl LogSink for Collect {
    fn write(&self, line: LogLine) {
        self.0.lock().expect("log lock").push(line);
    }
}

impl Collect {
    pub fn text(&self) -> String {
        self.0
            .lock()
            .expect("log lock")
            .iter()
            .map(|l| {
                let fields: String = l.fields.iter().map(|(k, v)| format!(" {k}={v}")).collect();
                format!("[{}] {}{fields}\n", l.source.as_str(), l.message)
            })
            .collect()
    }
}

/// A runtime with tight caps, so hostile guests hit them quickly, whose operator allows
/// 127.0.0.1, where the spy and the fakes listen.
pub fn tight_runtime() -> Runtime {
    tight_runtime_allowing(PrivateReach::parse(["127.0.0.1"]).expect("an address"))
}

/// [`tight_runtime`] whose operator allows `private` and nothing else private.
pub fn tight_runtime_allowing(private: PrivateReach) -> Runtime {
    let limits = Limits {
        memory_bytes: 32 << 20,
        cpu_time: std::time::Duration::from_secs(1),
        wall_time: std::time::Duration::from_secs(3),
        log_lines: 1_000,
        run_record_bytes: 8 << 20,
        state_bytes: 4 << 20,
        check_wall_time: std::time::Duration::from_secs(1),
        ..Limits::default()
    };
    Runtime::new(None, limits)
        .expect("a runtime")
        .allowing_private(Arc::new(private))
}

pub fn load(runtime: &Runtime, wasm: &str, manifest: &str) -> sluice::runtime::Plugin {
    let bytes = std::fs::read(wasm).expect("a built component");
    let manifest = Manifest::load(std::path::Path::new(manifest)).expect("a valid manifest");
    runtime
        .load(&bytes, manifest)
        .expect("a loadable component")
}

pub fn hosts(list: &[&str]) -> Vec<HostPattern> {
    list.iter()
        .map(|h| HostPattern::parse(h).expect("a host pattern"))
        .collect()
}

/// Runs a sync and returns its outcome and log.
pub async fn sync(
    runtime: &Runtime,
    plugin: &sluice::runtime::Plugin,
    config: serde_json::Value,
    grants: Grants,
    secrets: &[(&str, &str)],
) -> (RunOutcome, Arc<Collect>) {
    run_call(runtime, plugin, Call::Sync, config, grants, secrets).await
}

/// Runs one call of a connector and returns its outcome and log.
pub async fn run_call(
    runtime: &Runtime,
    plugin: &sluice::runtime::Plugin,
    call: Call,
    config: serde_json::Value,
    grants: Grants,
    secrets: &[(&str, &str)],
) -> (RunOutcome, Arc<Collect>) {
    let log = Arc::new(Collect::default());
    let outcome = runtime
        .run(
            plugin,
            call,
            RunContext {
                config,
                secrets: SecretSet::new(
                    secrets
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                grants,
                state: BTreeMap::new(),
                log: log.clone(),
                people: Arc::new(StaticDirectory::default()),
            },
        )
        .await;
    (outcome, log)
}

/// What `sluice plugin run` did: its process output and the records it wrote.
pub struct Run {
    pub output: std::process::Output,
    pub records: Vec<serde_json::Value>,
}

impl Run {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Keys by stream, sorted; fails if a stream holds a key twice.
    pub fn by_stream(&self) -> BTreeMap<String, Vec<String>> {
        let mut streams: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for record in &self.records {
            let stream = record["stream"].as_str().expect("stream").to_owned();
            let key = record["key"].as_str().expect("key").to_owned();
            streams.entry(stream).or_default().push(key);
        }
        for (stream, keys) in streams.iter_mut() {
            keys.sort();
            let before = keys.len();
            keys.dedup();
            assert_eq!(keys.len(), before, "every `{stream}` record exactly once");
        }
        streams
    }

    pub fn count(&self, stream: &str) -> usize {
        self.by_stream().get(stream).map_or(0, Vec::len)
    }
}

/// Runs `sluice plugin run` on a connector with `config`, `state` as its cursor file, and
/// `extra` flags (secrets, grants), and reads back the records it wrote.
pub async fn run_connector(
    wasm: &str,
    manifest: &str,
    dir: &std::path::Path,
    state: &std::path::Path,
    config: &serde_json::Value,
    extra: &[&str],
) -> Run {
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, config.to_string()).expect("config");
    let out = dir.join("records.jsonl");
    let _ = std::fs::remove_file(&out);
    let mut args: Vec<String> = vec![
        "plugin".into(),
        "run".into(),
        wasm.into(),
        "--manifest".into(),
        manifest.into(),
    ];
    for (flag, path) in [
        ("--config", &config_path),
        ("--state", &state.to_path_buf()),
        ("--out", &out),
    ] {
        args.push(flag.into());
        args.push(path.display().to_string());
    }
    args.extend(extra.iter().map(ToString::to_string));
    let output = sluice(args).await;
    let records = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    Run { output, records }
}

/// Runs the `sluice` command with `args`, off the async runtime's threads.
pub async fn sluice(args: Vec<String>) -> std::process::Output {
    sluice_with_env(args, &[]).await
}

/// [`sluice`] with `env` added to the process's environment.
pub async fn sluice_with_env(args: Vec<String>, env: &[(&str, String)]) -> std::process::Output {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(&args)
            .env(
                "SLUICE_CACHE_DIR",
                std::env::temp_dir().join("sluice-test-cache"),
            )
            .envs(env)
            .output()
            .expect("run sluice")
    })
    .await
    .expect("join")
}
