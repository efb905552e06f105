//! Prometheus and Loki `query_range` queries run through Grafana's datasource proxy; each
//! sample becomes a record. Each query resumes where the previous run's range ended.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};
use sluice_sdk::{Error, Result, log, records, state};

use crate::client::Grafana;

/// A query from the configuration.
#[derive(Deserialize)]
pub struct Query {
    name: String,
    datasource_uid: String,
    kind: Kind,
    expr: String,
    #[serde(default = "default_step")]
    step_seconds: u64,
    #[serde(default = "default_lookback")]
    lookback_seconds: u64,
}

/// Which query language the datasource speaks.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Prometheus,
    Loki,
}

fn default_step() -> u64 {
    60
}

fn default_lookback() -> u64 {
    3600
}

/// The series' labels as `k=v,k=v`, sorted, for the record key.
fn labels(metric: Option<&Value>) -> String {
    let mut pairs: Vec<String> = metric
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    pairs.join(",")
}

/// Runs `query` over (cursor or now − lookback, now] and emits its samples.
pub fn sync(grafana: &Grafana, query: &Query) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let cursor_key = format!("query_end:{}", query.name);
    let resumed = state::get(&cursor_key).and_then(|s| s.parse::<u64>().ok());
    let start = resumed.unwrap_or_else(|| now.saturating_sub(query.lookback_seconds));
    let uid = &query.datasource_uid;
    let request = match query.kind {
        Kind::Prometheus => grafana
            .get(&format!(
                "/api/datasources/proxy/uid/{uid}/api/v1/query_range"
            ))
            .query("query", &query.expr)
            .query("start", start)
            .query("end", now)
            .query("step", query.step_seconds),
        Kind::Loki => grafana
            .get(&format!(
                "/api/datasources/proxy/uid/{uid}/loki/api/v1/query_range"
            ))
            .query("query", &query.expr)
            // Loki takes nanoseconds.
            .query("start", u128::from(start) * 1_000_000_000)
            .query("end", u128::from(now) * 1_000_000_000)
            .query("limit", 5000)
            .query("direction", "forward"),
    };
    let answer: Value = grafana
        .send_json(request)
        .map_err(|e| e.context(format!("query `{}`", query.name)))?;
    if answer.get("status").and_then(Value::as_str) != Some("success") {
        return Err(Error::Upstream(format!(
            "query `{}` failed: {}",
            query.name,
            answer
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
        )));
    }
    let mut emitted = 0usize;
    let series = answer
        .pointer("/data/result")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for one in &series {
        let metric = one.get("metric").or_else(|| one.get("stream"));
        let labels = labels(metric);
        for sample in one
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(time), Some(value)) = (sample.get(0), sample.get(1)) else {
                continue;
            };
            let time = match time {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            // Both ends are inclusive: a sample at exactly the old end was emitted last run.
            let seconds = time
                .split('.')
                .next()
                .and_then(|s| s.parse::<u128>().ok())
                .unwrap_or_default();
            let seconds = if matches!(query.kind, Kind::Loki) {
                seconds / 1_000_000_000
            } else {
                seconds
            };
            if resumed.is_some() && seconds <= u128::from(start) {
                continue;
            }
            let record =
                json!({ "query": query.name, "labels": metric, "time": time, "value": value });
            records::emit_one(
                "query_samples",
                format!("{}|{labels}|{time}", query.name),
                &record,
            )?;
            emitted += 1;
        }
    }
    state::set(&cursor_key, &now.to_string());
    log::info!("query {}: {emitted} samples", query.name; query = query.name, count = emitted);
    Ok(())
}
