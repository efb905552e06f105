//! Prometheus and Loki `query_range` queries run through Grafana's datasource proxy; each
//! sample becomes a record. Each query resumes where the previous run's range ended.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};
use sluice_sdk::{Error, Result, log, records, state};

use sluice_sdk::http::{Client, Request};

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
    /// Loki: lines per request; a full answer is followed by another request.
    #[serde(default = "default_limit")]
    limit: u64,
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

/// Loki's own default `max_entries_limit_per_query`: the most lines it answers at once.
fn default_limit() -> u64 {
    5000
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

/// A sample's time in its query's unit, whole: Prometheus gives seconds (`1767225600.5`),
/// Loki nanoseconds as text (`"1767225600000000000"`).
fn sample_time(time: &str) -> u128 {
    time.split('.')
        .next()
        .and_then(|s| s.parse::<u128>().ok())
        .unwrap_or_default()
}

/// Runs `query` over (cursor or now − lookback, now] and emits its samples.
pub fn sync(grafana: &Client, query: &Query) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let cursor_key = format!("query_end:{}", query.name);
    let resumed = state::get(&cursor_key).and_then(|s| s.parse::<u64>().ok());
    let start = resumed.unwrap_or_else(|| now.saturating_sub(query.lookback_seconds));
    let emitted = match query.kind {
        Kind::Prometheus => {
            let request = grafana
                .get(&format!(
                    "/api/datasources/proxy/uid/{}/api/v1/query_range",
                    query.datasource_uid
                ))
                .query("query", &query.expr)
                .query("start", start)
                .query("end", now)
                .query("step", query.step_seconds);
            let series = ask(grafana, query, &request)?;
            // Both ends are inclusive: a sample at exactly the old end was emitted last run.
            let old_end = resumed.map(u128::from);
            emit(query, &series, |time, _| {
                old_end.is_some_and(|end| time <= end)
            })?
            .len()
        }
        Kind::Loki => loki(grafana, query, start, now, resumed.is_some())?,
    };
    state::set(&cursor_key, &now.to_string());
    log::info!("query {}: {emitted} samples", query.name; query = query.name, count = emitted);
    Ok(())
}

/// Nanoseconds in a second: Loki's times are nanoseconds.
const NS: u128 = 1_000_000_000;

/// Runs a Loki query over [start, end] (seconds) page by page and returns how many lines it
/// emitted. Loki answers at most `limit` lines — the oldest, with `direction=forward` — so
/// a full answer is followed by a request from its newest line's time; `start` is
/// inclusive, so the lines at that time come again and are skipped by key.
fn loki(grafana: &Client, query: &Query, start: u64, end: u64, resumed: bool) -> Result<usize> {
    let mut from = u128::from(start) * NS;
    // Both ends are inclusive: a line at exactly the old end was emitted last run.
    let old_end = resumed.then_some(from);
    let mut at_from: BTreeSet<String> = BTreeSet::new();
    let mut emitted = 0usize;
    loop {
        let request = grafana
            .get(&format!(
                "/api/datasources/proxy/uid/{}/loki/api/v1/query_range",
                query.datasource_uid
            ))
            .query("query", &query.expr)
            .query("start", from)
            .query("end", u128::from(end) * NS)
            .query("limit", query.limit)
            .query("direction", "forward");
        let series = ask(grafana, query, &request)?;
        let times: Vec<u128> = series
            .iter()
            .flat_map(values)
            .map(|(time, _)| sample_time(&time))
            .collect();
        let new = emit(query, &series, |time, key| {
            old_end.is_some_and(|end| time <= end) || at_from.contains(key)
        })?;
        emitted += new.len();
        let Some(newest) = times.iter().copied().max() else {
            break;
        };
        if (times.len() as u64) < query.limit {
            break;
        }
        if newest == from && new.is_empty() {
            return Err(Error::Upstream(format!(
                "query `{}`: more than {} lines share the time {from} ns; raise the query's `limit`",
                query.name, query.limit
            )));
        }
        if newest != from {
            at_from.clear();
            from = newest;
        }
        at_from.extend(
            new.into_iter()
                .filter(|(time, _)| *time == newest)
                .map(|(_, key)| key),
        );
    }
    Ok(emitted)
}

/// Sends a `query_range` request and returns its series, or why the query failed.
fn ask(grafana: &Client, query: &Query, request: &Request) -> Result<Vec<Value>> {
    let answer: Value = grafana
        .send(request)
        .and_then(|response| response.json())
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
    Ok(answer
        .pointer("/data/result")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// The `[time, value]` pairs of one series, the time as text.
fn values(series: &Value) -> impl Iterator<Item = (String, &Value)> {
    series
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|sample| {
            let time = match sample.get(0)? {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            Some((time, sample.get(1)?))
        })
}

/// Emits every sample of `series` but those `skip(time, key)` names; returns the time and
/// key of each one emitted.
fn emit(
    query: &Query,
    series: &[Value],
    skip: impl Fn(u128, &str) -> bool,
) -> Result<Vec<(u128, String)>> {
    let mut emitted = Vec::new();
    for one in series {
        let metric = one.get("metric").or_else(|| one.get("stream"));
        let labels = labels(metric);
        for (time, value) in values(one) {
            let key = format!("{}|{labels}|{time}", query.name);
            let at = sample_time(&time);
            if skip(at, &key) {
                continue;
            }
            let record =
                json!({ "query": query.name, "labels": metric, "time": time, "value": value });
            records::emit_one("query_samples", &key, &record)?;
            emitted.push((at, key));
        }
    }
    Ok(emitted)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn labels_make_one_sorted_key_whatever_their_order() {
        assert_eq!(
            labels(Some(&json!({ "job": "api", "instance": "a:9090" }))),
            "instance=a:9090,job=api"
        );
        assert_eq!(labels(None), "");
    }

    #[test]
    fn sample_times_are_read_whole_in_their_own_unit() {
        assert_eq!(sample_time("1767225600.5"), 1_767_225_600);
        assert_eq!(sample_time("1767225600"), 1_767_225_600);
        assert_eq!(
            sample_time("1767225600123456789"),
            1_767_225_600_123_456_789
        );
        assert_eq!(sample_time("soon"), 0);
    }

    #[test]
    fn a_series_values_come_with_their_time_as_text() {
        let series =
            json!({ "values": [[1767225600.5, "1"], ["1767225600123456789", "line"], ["bad"]] });
        let pairs: Vec<(String, &Value)> = values(&series).collect();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].0, "1767225600.5");
        assert_eq!(pairs[1], ("1767225600123456789".to_owned(), &json!("line")));
    }
}
