//! A connector that misbehaves in the way its config names, so the tests can prove the
//! sandbox holds and the host keeps answering.

use serde::Deserialize;
use sluice_sdk::http::{self, Auth};
use sluice_sdk::{Connector, Error, Result, Summary, config, json, log, records, state};

#[derive(Deserialize)]
struct Config {
    behaviour: String,
    url: Option<String>,
    redirect_target: Option<String>,
    header_name: Option<String>,
    header_value: Option<String>,
    count: Option<usize>,
}

impl Config {
    fn url(&self) -> Result<String> {
        self.url
            .clone()
            .ok_or_else(|| Error::Config(format!("`{}` needs `url`", self.behaviour)))
    }

    fn count(&self) -> Result<usize> {
        self.count
            .ok_or_else(|| Error::Config(format!("`{}` needs `count`", self.behaviour)))
    }
}

#[derive(Default)]
struct Hostile;

impl Connector for Hostile {
    fn sync(&mut self) -> Result<Summary> {
        let config: Config = config::get()?;
        match config.behaviour.as_str() {
            "endless-loop" => endless_loop(),
            "memory-hog" => memory_hog(),
            "log-flood" => {
                for i in 0..200_000u32 {
                    log::info!("flood line {i}");
                }
            }
            "record-flood" => {
                let filler = "x".repeat(60_000);
                for i in 0u64.. {
                    records::emit_one(
                        "flood",
                        i.to_string(),
                        &json!({ "i": i, "filler": filler }),
                    )?;
                }
            }
            "giant-string" => state::set("cursor", &"g".repeat(8 << 20)),
            "state-flood" => {
                let value = "s".repeat(1 << 20);
                for i in 0..10_000u32 {
                    state::set(&format!("page-{i}"), &value);
                }
            }
            "fetch" => {
                let url = config
                    .url
                    .ok_or_else(|| Error::Config("`fetch` needs `url`".into()))?;
                let response = http::get(url).send()?;
                log::info!("fetched: status {}", response.status);
            }
            "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
            "print" => {
                println!("to stdout");
                eprintln!("to stderr");
            }
            "leak-secret" => {
                let url = config
                    .url
                    .ok_or_else(|| Error::Config("`leak-secret` needs `url`".into()))?;
                let echoed = http::get(url).auth(Auth::bearer("token")).send()?.text();
                log::info!("the service echoed: {echoed}"; header = echoed);
                // State is not redacted: what lands here is exactly what the host handed over.
                state::set("echoed", &echoed);
            }
            "leak-basic" => {
                let url = config
                    .url
                    .ok_or_else(|| Error::Config("`leak-basic` needs `url`".into()))?;
                let echoed = http::get(url)
                    .auth(Auth::basic("ada@acme.test", "token"))
                    .send()?
                    .text();
                state::set("echoed", &echoed);
            }
            "misdirect-secret" => {
                let target = config.redirect_target.ok_or_else(|| {
                    Error::Config("`misdirect-secret` needs `redirect_target`".into())
                })?;
                let response = http::get(target).auth(Auth::bearer("token")).send()?;
                log::info!("misdirected: status {}", response.status);
            }
            "secret-in-header" => {
                let url = config
                    .url
                    .ok_or_else(|| Error::Config("`secret-in-header` needs `url`".into()))?;
                let response = http::get(url)
                    .auth(Auth::header("x-forwarded-token", "token"))
                    .send()?;
                log::info!("sent in a header: status {}", response.status);
            }
            "read-file" => {
                let read = std::fs::read_to_string("/etc/passwd");
                state::set("read-file", &outcome(read.map(|text| text.len())));
                let here = std::fs::read_to_string("sluice.toml");
                state::set("read-relative", &outcome(here.map(|text| text.len())));
            }
            "list-root" => {
                let listed = std::fs::read_dir("/").map(|entries| entries.count());
                state::set("list-root", &outcome(listed));
            }
            "environment" => {
                let vars: Vec<String> = std::env::vars().map(|(name, _)| name).collect();
                state::set("vars", &vars.join(","));
                let args: Vec<String> = std::env::args().collect();
                state::set("args", &args.join(","));
                state::set("home", &format!("{:?}", std::env::var("HOME")));
                state::set("cwd", &outcome(std::env::current_dir()));
            }
            "socket" => {
                // The address of `url`, `http://HOST:PORT/`, reached without `http.send`.
                let url = config.url()?;
                let address = url
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_owned();
                let tcp = std::net::TcpStream::connect(&address).map(|_| "connected");
                state::set("tcp", &outcome(tcp));
                let udp = std::net::UdpSocket::bind("0.0.0.0:0").map(|_| "bound");
                state::set("udp", &outcome(udp));
                let listen = std::net::TcpListener::bind("0.0.0.0:0").map(|_| "listening");
                state::set("listen", &outcome(listen));
                use std::net::ToSocketAddrs as _;
                let lookup = ("localhost", 80)
                    .to_socket_addrs()
                    .map(|found| found.count());
                state::set("lookup", &outcome(lookup));
            }
            "clock-random" => {
                let since_epoch = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                state::set("now_ms", &since_epoch.as_millis().to_string());
                // A fresh `RandomState` is keyed from the host's random source, so the
                // hash of a fixed word shows whether two runs drew the same bytes.
                use std::hash::BuildHasher as _;
                let keyed = std::collections::hash_map::RandomState::new().hash_one("sluice");
                state::set("random", &keyed.to_string());
            }
            "random-bytes" => {
                // WASI's own call, not the standard library's 16-byte draws: one request
                // for `count` bytes at once.
                let count = u64::try_from(config.count()?)
                    .map_err(|e| Error::Config(format!("`count`: {e}")))?;
                let bytes = wasip2::random::random::get_random_bytes(count);
                state::set("random-bytes", &bytes.len().to_string());
            }
            "stdout-flood" => {
                for i in 0u64.. {
                    println!("stdout line {i}");
                }
            }
            "recurse" => {
                let depth = recurse(std::hint::black_box(u64::MAX));
                log::info!("recursion returned {depth}");
            }
            "recurse-in-memory" => {
                let depth = recurse_in_memory(std::hint::black_box(u64::MAX));
                log::info!("recursion returned {depth}");
            }
            "giant-note" => {
                return Ok(Summary::note("n".repeat(config.count()?)));
            }
            "giant-error" => return Err(Error::Upstream("e".repeat(config.count()?))),
            "giant-list" => {
                // The SDK sends at most 256 records per call; a hostile connector calls the
                // import itself with one list of `count` empty records.
                use sluice_sdk::__private::bindings::sluice::connector::{records as raw, types};
                let items: Vec<types::Item> = (0..config.count()?)
                    .map(|_| types::Item {
                        key: String::new(),
                        json: String::new(),
                    })
                    .collect();
                raw::emit("flood", &items).map_err(Error::Internal)?;
            }
            "giant-record" => {
                let filler = "r".repeat(config.count()?);
                records::emit_one("flood", "big", &json!({ "filler": filler }))?;
            }
            "long-key" => {
                let key = "k".repeat(config.count()?);
                records::emit_one("flood", key, &json!({}))?;
            }
            "long-state-key" => state::set(&"k".repeat(config.count()?), "v"),
            "state-entries" => {
                for i in 0..config.count()? {
                    state::set(&format!("e{i}"), "v");
                }
            }
            "many-headers" => {
                let mut request = http::get(config.url()?);
                for i in 0..config.count()? {
                    request = request.header(format!("x-header-{i}"), "v");
                }
                request.send()?;
            }
            "big-body" => {
                http::post(config.url()?)
                    .body(vec![b'b'; config.count()?])
                    .send()?;
            }
            "own-header" => {
                let name = config.header_name.clone().unwrap_or_default();
                let value = config.header_value.clone().unwrap_or_default();
                let response = http::get(config.url()?).header(name, value).send()?;
                log::info!("sent its own header: status {}", response.status);
            }
            "big-response" => {
                let response = http::get(config.url()?).send()?;
                log::info!("read {} bytes", response.body.len());
            }
            "auth-header" => {
                let echoed = http::get(config.url()?)
                    .auth(Auth::header("x-api-key", "token"))
                    .send()?
                    .text();
                state::set("echoed", &echoed);
            }
            other => return Err(Error::Config(format!("unknown behaviour `{other}`"))),
        }
        Ok(Summary::default())
    }
}

/// What a call gave, in words the tests compare: `ok: …` or `error: <kind>: <message>`.
fn outcome<T: std::fmt::Debug>(result: std::io::Result<T>) -> String {
    match result {
        Ok(value) => format!("ok: {value:?}"),
        Err(error) => format!("error: {:?}: {error}", error.kind()),
    }
}

/// Recurses `depth` times on the engine's call stack: nothing of a frame lives in linear
/// memory. The arithmetic after the call keeps it from becoming a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if depth == 0 {
        return 0;
    }
    recurse(depth - 1).wrapping_mul(3).wrapping_add(1)
}

/// Recurses `depth` times with a buffer in each frame whose address escapes, so the frames
/// live on the stack in the connector's own memory, as most Rust code's do.
#[inline(never)]
fn recurse_in_memory(depth: u64) -> u64 {
    let frame = [depth.to_le_bytes()[0]; 256];
    std::hint::black_box(&frame);
    if depth == 0 {
        return 0;
    }
    recurse_in_memory(depth - 1) + u64::from(frame[255])
}

/// Spins without end; `black_box` keeps the optimiser from reasoning the loop away.
fn endless_loop() {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Allocates and touches memory without end.
fn memory_hog() {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

sluice_sdk::export_connector!(Hostile);
