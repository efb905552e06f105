//! The Grafana connector: dashboards, datasources, alert rules, and samples of Prometheus
//! and Loki queries run through Grafana's datasource proxy.

mod client;
mod queries;

use serde::Deserialize;
use serde_json::Value;
use sluice_sdk::{Connector, Result, Summary, config, log, records};

use queries::Query;

/// What an admin configures.
#[derive(Deserialize)]
struct Config {
    base_url: String,
    #[serde(default)]
    queries: Vec<Query>,
}

/// The connector.
#[derive(Default)]
struct GrafanaConnector;

/// Emits every object of `items` under the string field `key`.
fn emit_all(stream: &str, items: &[Value], key: &str) -> Result<()> {
    for item in items {
        let id = match item.get(key) {
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
            None => continue,
        };
        records::emit_one(stream, id, item)?;
    }
    log::info!("{stream}: {} emitted", items.len(); stream = stream, count = items.len());
    Ok(())
}

impl Connector for GrafanaConnector {
    fn check(&mut self) -> Result<()> {
        let config: Config = config::get()?;
        let grafana = client::client(&config.base_url);
        let health: Value = grafana.get_json("/api/health")?;
        grafana.get_json::<Value>("/api/search?limit=1")?;
        log::info!("connected to Grafana {}", health["version"]; version = health["version"]);
        Ok(())
    }

    fn sync(&mut self) -> Result<Summary> {
        let config: Config = config::get()?;
        let grafana = client::client(&config.base_url);
        emit_all("dashboards", &client::dashboards(&grafana)?, "uid")?;
        emit_all(
            "datasources",
            &grafana.get_json::<Vec<Value>>("/api/datasources")?,
            "uid",
        )?;
        emit_all(
            "alert_rules",
            &grafana.get_json::<Vec<Value>>("/api/v1/provisioning/alert-rules")?,
            "uid",
        )?;
        for query in &config.queries {
            queries::sync(&grafana, query)?;
        }
        Ok(Summary::default())
    }
}

sluice_sdk::export_connector!(GrafanaConnector);
