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
            other => return Err(Error::Config(format!("unknown behaviour `{other}`"))),
        }
        Ok(Summary::default())
    }
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
