//! The smallest connector: one log line, one record. Its configuration can make it pause
//! first (in its check too), or fail the way a flaky service makes a connector fail, so the queue's tests can
//! hold runs in flight and watch retries.

use serde::Deserialize;
use sluice_sdk::{Connector, Error, Result, Summary, config, json, log, records};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    /// Pause this long before doing anything.
    pause_ms: u64,
    /// End as `upstream` (the service failed) or `rate-limited` (for `wait_seconds`).
    fail: Option<String>,
    /// How long a rate-limited end asks to wait.
    wait_seconds: u32,
}

#[derive(Default)]
struct Trivial;

impl Connector for Trivial {
    fn check(&mut self) -> Result<()> {
        let config: Config = config::get()?;
        std::thread::sleep(std::time::Duration::from_millis(config.pause_ms));
        Ok(())
    }

    fn sync(&mut self) -> Result<Summary> {
        let config: Config = config::get()?;
        if config.pause_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(config.pause_ms));
        }
        log::info!("tick");
        records::emit_one("ticks", "1", &json!({ "n": 1 }))?;
        match config.fail.as_deref() {
            None => Ok(Summary::default()),
            Some("upstream") => Err(Error::Upstream("the service answered 503".into())),
            Some("rate-limited") => Err(Error::RateLimited(config.wait_seconds)),
            Some(other) => Err(Error::Config(format!("unknown failure `{other}`"))),
        }
    }
}

sluice_sdk::export_connector!(Trivial);
