//! A hello connector: fetches one URL and emits what it answered.
use serde::Deserialize;
use sluice_sdk::{Connector, Result, Summary, config, http, json, log, records};

#[derive(Deserialize)]
struct Config {
    url: String,
}

#[derive(Default)]
struct Hello;

impl Connector for Hello {
    fn sync(&mut self) -> Result<Summary> {
        let Config { url } = config::get()?;
        let response = http::get(&url).send()?.error_for_status()?;
        log::info!("{url} answered {}", response.status; bytes = response.body.len());
        let page = json!({ "url": url, "status": response.status, "bytes": response.body.len() });
        records::emit_one("pages", &url, &page)?;
        Ok(Summary::default())
    }
}

sluice_sdk::export_connector!(Hello);
