//! A fake Grafana on 127.0.0.1: health, dashboard search (paged by `limit`/`page`),
//! datasources, provisioned alert rules, and Prometheus / Loki `query_range` through the
//! datasource proxy, answered with Grafana's and the datasources' documented shapes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::lock;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// Dashboards the fake holds: more than one search page of 1,000.
pub const DASHBOARDS: usize = 1_050;

struct Data {
    token: String,
    rate_limit_once: bool,
    requests: Vec<String>,
    /// The dashboards deleted since the start, by number.
    deleted_dashboards: BTreeSet<usize>,
}

type Shared = Arc<Mutex<Data>>;

/// A running fake Grafana.
pub struct FakeGrafana {
    port: u16,
    data: Shared,
}

type Q = Query<BTreeMap<String, String>>;

impl FakeGrafana {
    /// Starts a Grafana accepting the service-account token `token`, with 1,050 dashboards,
    /// a Prometheus (`prom1`) and a Loki (`loki1`) datasource and 3 alert rules.
    pub async fn start(token: &str) -> anyhow::Result<FakeGrafana> {
        let data = Arc::new(Mutex::new(Data {
            token: token.to_owned(),
            rate_limit_once: false,
            requests: Vec::new(),
            deleted_dashboards: BTreeSet::new(),
        }));
        let app = Router::new()
            .route("/api/search", get(search))
            .route("/api/datasources", get(datasources))
            .route("/api/v1/provisioning/alert-rules", get(alert_rules))
            .route(
                "/api/datasources/proxy/uid/prom1/api/v1/query_range",
                get(prometheus),
            )
            .route(
                "/api/datasources/proxy/uid/loki1/loki/api/v1/query_range",
                get(loki),
            )
            .layer(axum::middleware::from_fn_with_state(data.clone(), gate))
            .route(
                "/api/health",
                get(|| async {
                    Json(json!({ "commit": "8a1b2c3", "database": "ok", "version": "11.4.0" }))
                }),
            )
            .with_state(data.clone());
        let port = super::serve(app).await?;
        Ok(FakeGrafana { port, data })
    }

    /// Grafana's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Makes the next request answer 429 with `Retry-After: 1`.
    pub fn set_rate_limit_once(&self) {
        lock(&self.data).rate_limit_once = true;
    }

    /// The path and query of every request, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.data).requests.clone()
    }

    /// Deletes dashboard `uid` (`dash00007`): search no longer finds it. False when no
    /// such dashboard is there.
    pub fn delete_dashboard(&self, uid: &str) -> bool {
        let number = uid
            .strip_prefix("dash")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n < DASHBOARDS);
        number.is_some_and(|n| lock(&self.data).deleted_dashboards.insert(n))
    }
}

async fn gate(State(data): State<Shared>, request: Request, next: Next) -> Response {
    let (authorised, limited) = {
        let mut data = lock(&data);
        data.requests.push(
            request
                .uri()
                .path_and_query()
                .map(ToString::to_string)
                .unwrap_or_default(),
        );
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let authorised = presented == Some(format!("Bearer {}", data.token).as_str());
        (
            authorised,
            authorised && std::mem::take(&mut data.rate_limit_once),
        )
    };
    if !authorised {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "message": "Invalid API key", "messageId": "api-key.invalid", "statusCode": 401, "traceID": "" }))).into_response();
    }
    if limited {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({ "message": "Too many requests" })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    next.run(request).await
}

fn number(q: &BTreeMap<String, String>, name: &str) -> Option<u64> {
    q.get(name)
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse().ok())
}

async fn search(State(data): State<Shared>, Query(q): Q) -> Json<Value> {
    let limit = number(&q, "limit").unwrap_or(1000).clamp(1, 5000) as usize;
    let page = number(&q, "page").unwrap_or(1).max(1) as usize;
    let deleted = lock(&data).deleted_dashboards.clone();
    let found: Vec<Value> = (0..DASHBOARDS)
        .filter(|i| !deleted.contains(i))
        .skip((page - 1) * limit)
        .take(limit)
        .map(|i| json!({
            "id": i + 1, "uid": format!("dash{i:05}"), "title": format!("Service {i}"), "uri": format!("db/service-{i}"),
            "url": format!("/d/dash{i:05}/service-{i}"), "slug": "", "type": "dash-db", "tags": ["prod"], "isStarred": false,
            "folderId": 1, "folderUid": "ops", "folderTitle": "Ops", "folderUrl": "/dashboards/f/ops/ops", "sortMeta": 0
        }))
        .collect();
    Json(Value::from(found))
}

async fn datasources() -> Json<Value> {
    Json(json!([
        { "id": 1, "uid": "prom1", "orgId": 1, "name": "Prometheus", "type": "prometheus", "typeName": "Prometheus", "access": "proxy",
          "url": "http://prometheus:9090", "user": "", "database": "", "basicAuth": false, "isDefault": true, "jsonData": {}, "readOnly": false },
        { "id": 2, "uid": "loki1", "orgId": 1, "name": "Loki", "type": "loki", "typeName": "Loki", "access": "proxy",
          "url": "http://loki:3100", "user": "", "database": "", "basicAuth": false, "isDefault": false, "jsonData": {}, "readOnly": false }
    ]))
}

async fn alert_rules() -> Json<Value> {
    let rules: Vec<Value> = (0..3)
        .map(|i| json!({
            "id": i + 1, "uid": format!("rule{i}"), "orgID": 1, "folderUID": "ops", "ruleGroup": "latency", "title": format!("High latency {i}"),
            "condition": "C", "data": [{ "refId": "A", "datasourceUid": "prom1", "model": { "expr": "histogram_quantile(0.99, rate(http_duration_seconds_bucket[5m])) > 1" } }],
            "updated": "2026-01-01T00:00:00Z", "noDataState": "NoData", "execErrState": "Error", "for": "5m", "isPaused": false
        }))
        .collect();
    Json(Value::from(rules))
}

/// A matrix of two series, one sample every `step` seconds from `start` to `end`.
async fn prometheus(Query(q): Q) -> Response {
    let (Some(start), Some(end), Some(step)) =
        (number(&q, "start"), number(&q, "end"), number(&q, "step"))
    else {
        return (StatusCode::BAD_REQUEST, Json(json!({ "status": "error", "errorType": "bad_data", "error": "missing start, end or step" }))).into_response();
    };
    let first = start.div_ceil(step.max(1)) * step.max(1);
    let result: Vec<Value> = ["api", "web"]
        .iter()
        .map(|job| {
            let values: Vec<Value> = (first..=end).step_by(step.max(1) as usize).map(|t| json!([t, "1"])).collect();
            json!({ "metric": { "__name__": "up", "job": job, "instance": format!("{job}:9090") }, "values": values })
        })
        .collect();
    Json(json!({ "status": "success", "data": { "resultType": "matrix", "result": result } }))
        .into_response()
}

/// Loki's default `max_entries_limit_per_query`: a larger `limit` is refused.
const LOKI_MAX_ENTRIES: usize = 5000;

/// Two streams (`level` error and warn) with a line each every five minutes from `start`
/// to `end` (nanoseconds, both inclusive), as Loki answers them: at most `limit` lines
/// (default 100) across streams, the newest with `direction=backward` (the default) or the
/// oldest with `forward`, each stream's lines in that order.
async fn loki(Query(q): Q) -> Response {
    let (Some(start), Some(end)) = (
        q.get("start").and_then(|v| v.parse::<u128>().ok()),
        q.get("end").and_then(|v| v.parse::<u128>().ok()),
    ) else {
        return (StatusCode::BAD_REQUEST, "invalid start or end").into_response();
    };
    let Ok(limit) = q.get("limit").map_or(Ok(100), |v| v.parse::<usize>()) else {
        return (StatusCode::BAD_REQUEST, "invalid limit").into_response();
    };
    if limit > LOKI_MAX_ENTRIES {
        return (
            StatusCode::BAD_REQUEST,
            format!("max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {LOKI_MAX_ENTRIES})"),
        )
            .into_response();
    }
    let forward = match q.get("direction").map(String::as_str) {
        None | Some("backward") => false,
        Some("forward") => true,
        Some(other) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("invalid direction: {other}"),
            )
                .into_response();
        }
    };
    const FIVE_MINUTES: u128 = 300 * 1_000_000_000;
    const LEVELS: [&str; 2] = ["error", "warn"];
    let first = start.div_ceil(FIVE_MINUTES) * FIVE_MINUTES;
    let mut lines: Vec<(u128, usize)> = Vec::new();
    let mut t = first;
    while t <= end {
        lines.extend((0..LEVELS.len()).map(|stream| (t, stream)));
        t += FIVE_MINUTES;
    }
    if !forward {
        lines.reverse();
    }
    lines.truncate(limit);
    let result: Vec<Value> = LEVELS
        .iter()
        .enumerate()
        .filter_map(|(stream, level)| {
            let values: Vec<Value> = lines
                .iter()
                .filter(|(_, s)| *s == stream)
                .map(|(t, _)| {
                    json!([
                        t.to_string(),
                        format!("level={level} msg=\"timeout\" at={t}")
                    ])
                })
                .collect();
            (!values.is_empty())
                .then(|| json!({ "stream": { "app": "api", "level": level }, "values": values }))
        })
        .collect();
    Json(json!({ "status": "success", "data": { "resultType": "streams", "result": result, "stats": {} } }))
        .into_response()
}
