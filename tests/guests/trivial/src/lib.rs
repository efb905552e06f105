//! The smallest connector: one log line, one record.

use sluice_sdk::{Connector, Result, Summary, json, log, records};

#[derive(Default)]
struct Trivial;

impl Connector for Trivial {
    fn sync(&mut self) -> Result<Summary> {
        log::info!("tick");
        records::emit_one("ticks", "1", &json!({ "n": 1 }))?;
        Ok(Summary::default())
    }
}

sluice_sdk::export_connector!(Trivial);
