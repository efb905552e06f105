//! A fake of GitHub's Copilot APIs on 127.0.0.1: seats (paged by `link`) and the
//! organisation's 1-day usage-metrics reports — `download_links` to signed, time-limited
//! report files (NDJSON) on a second origin, as GitHub's point to its storage service, whose
//! file server checks the signature as a storage service does, refusing a link unsigned,
//! altered or expired with 403 `AuthenticationFailed` — 204 for days without a report, 403
//! when the metrics policy is off.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::lock;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// How the fake answers report requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reports {
    /// Reports for the three days before today; 204 before that.
    LastThreeDays,
    /// As `LastThreeDays`, but GitHub publishes each report late: the first time a day
    /// is asked it answers 204, as GitHub does before the report exists.
    PublishedLate,
    /// 204 for every day: no licensed activity.
    None,
    /// 403: the organisation's Copilot usage metrics policy is disabled.
    Forbidden,
}

/// Seats the fake holds: two pages of 100.
pub const SEATS: usize = 130;

struct Data {
    token: String,
    reports: Reports,
    /// The port of the report files' origin.
    storage_port: u16,
    downloads_with_token: usize,
    /// Report downloads refused: a signature that does not match, or an expired link.
    downloads_refused: usize,
    requests: Vec<String>,
    /// How often each day's report was asked for.
    asked: BTreeMap<String, usize>,
}

type Shared = Arc<Mutex<Data>>;

/// A running fake: the API on one port, the report files on another.
pub struct FakeCopilot {
    port: u16,
    storage_port: u16,
    data: Shared,
}

/// Today's day number in UTC.
fn today() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs() / 86_400) as i64)
        .unwrap_or_default()
}

/// `YYYY-MM-DD` of a day number.
pub fn day_name(days: i64) -> String {
    let (year, month, day) = super::civil_date(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `YYYY-MM-DD` of the day `back` days before today.
pub fn days_ago(back: i64) -> String {
    day_name(today() - back)
}

/// The days with a report under [`Reports::LastThreeDays`].
pub fn report_days() -> Vec<String> {
    (1..=3).map(days_ago).collect()
}

impl FakeCopilot {
    /// Starts the fake for organisation `acme`, accepting `token`.
    pub async fn start(token: &str, reports: Reports) -> anyhow::Result<FakeCopilot> {
        let data = Arc::new(Mutex::new(Data {
            token: token.to_owned(),
            reports,
            storage_port: 0,
            downloads_with_token: 0,
            downloads_refused: 0,
            requests: Vec::new(),
            asked: BTreeMap::new(),
        }));
        let storage = Router::new()
            .route("/reports/{file}", get(report_file))
            .with_state(data.clone());
        let storage_port = super::serve(storage).await?;
        lock(&data).storage_port = storage_port;
        let app = Router::new()
            .route("/orgs/{org}/copilot/billing/seats", get(seats))
            .route(
                "/orgs/{org}/copilot/metrics/reports/organization-1-day",
                get(report_links),
            )
            .with_state(data.clone());
        let port = super::serve(app).await?;
        Ok(FakeCopilot {
            port,
            storage_port,
            data,
        })
    }

    /// The API base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The report files' origin, which the report links point to.
    pub fn storage_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.storage_port)
    }

    /// The port the report files' origin listens on.
    pub fn storage_port(&self) -> u16 {
        self.storage_port
    }

    /// How many report downloads carried an `authorization` header (there must be none).
    pub fn downloads_with_token(&self) -> usize {
        lock(&self.data).downloads_with_token
    }

    /// How many report downloads were refused for their signature or expiry.
    pub fn downloads_refused(&self) -> usize {
        lock(&self.data).downloads_refused
    }

    /// The path and query of every request, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.data).requests.clone()
    }
}

/// The key the fake signs report links with, as a storage service holds its account key.
const SIGNING_KEY: &str = "fake-storage-account-key";

/// The signature of a link to `path` valid until `expires`: base64 of SHA-256 over the
/// key, the path and the expiry, as a shared-access signature covers what it grants.
fn signature(path: &str, expires: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{SIGNING_KEY}\n{path}\n{expires}"));
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// A signed, time-limited link to the report file `path` on `host`, with its signature
/// percent-encoded in the query as storage services write it (`+`, `/`, `=` escaped).
fn signed_link(host: &str, path: &str) -> String {
    const EXPIRES: &str = "2099-01-01T00:00:00Z";
    let sig: String = signature(path, EXPIRES)
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_owned(),
            '/' => "%2F".to_owned(),
            '=' => "%3D".to_owned(),
            other => other.to_string(),
        })
        .collect();
    format!("http://{host}{path}?sv=2023-11-03&sr=b&sp=r&se=2099-01-01T00%3A00%3A00Z&sig={sig}")
}

fn log_and_authorise<'a>(
    data: &'a Shared,
    request_target: String,
    headers: &HeaderMap,
) -> Result<MutexGuard<'a, Data>, Box<Response>> {
    let mut data = lock(data);
    data.requests.push(request_target);
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if presented != Some(format!("Bearer {}", data.token).as_str()) {
        return Err(Box::new((StatusCode::UNAUTHORIZED, Json(json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401" }))).into_response()));
    }
    Ok(data)
}

async fn seats(
    State(data): State<Shared>,
    Path(org): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    if let Err(denied) = log_and_authorise(&data, target, &headers) {
        return *denied;
    }
    if org != "acme" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Not Found", "status": "404" })),
        )
            .into_response();
    }
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let page = q
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let seats: Vec<Value> = (0..SEATS)
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|i| json!({
            "created_at": "2026-01-03T18:00:00-06:00", "updated_at": "2026-02-23T15:00:00-06:00", "pending_cancellation_date": null,
            "last_activity_at": "2026-04-14T00:53:32-06:00", "last_activity_editor": "vscode/1.99.3/copilot/1.300.0",
            "last_authenticated_at": "2026-04-14T00:53:32-06:00", "plan_type": "business",
            "assignee": { "login": format!("member-{i}"), "id": 1000 + i, "type": "User", "site_admin": false }
        }))
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut response = Json(json!({ "total_seats": SEATS, "seats": seats })).into_response();
    if page * per_page < SEATS
        && let Ok(link) = HeaderValue::from_str(&format!(
            "<http://{host}/orgs/{org}/copilot/billing/seats?per_page={per_page}&page={}>; rel=\"next\"",
            page + 1
        ))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

async fn report_links(
    State(data): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    let day = q.get("day").cloned().unwrap_or_default();
    let (reports, asked, storage_port) = match log_and_authorise(&data, target, &headers) {
        Ok(mut data) => {
            let asked = data.asked.entry(day.clone()).or_default();
            *asked += 1;
            let asked = *asked;
            (data.reports, asked, data.storage_port)
        }
        Err(denied) => return *denied,
    };
    let published = match reports {
        Reports::LastThreeDays => report_days().contains(&day),
        Reports::PublishedLate => report_days().contains(&day) && asked > 1,
        Reports::None | Reports::Forbidden => false,
    };
    match reports {
        Reports::Forbidden => (StatusCode::FORBIDDEN, Json(json!({ "message": "Copilot Usage Metrics API setting is disabled at the organization or enterprise level.", "status": "403" }))).into_response(),
        _ if published => {
            let storage = format!("127.0.0.1:{storage_port}");
            Json(json!({ "download_links": [signed_link(&storage, &format!("/reports/{day}.ndjson"))], "report_day": day })).into_response()
        }
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

/// One line of NDJSON per file: the organisation's report object for that day.
async fn report_file(
    State(data): State<Shared>,
    Path(file): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let expires = q.get("se").map(String::as_str).unwrap_or_default();
    let signed = q.get("sig").map(String::as_str) == Some(&signature(&format!("/reports/{file}"), expires))
        // ISO 8601 in UTC compares as text.
        && expires > days_ago(0).as_str();
    {
        let mut data = lock(&data);
        data.requests.push(format!("/reports/{file}"));
        if headers.contains_key(header::AUTHORIZATION) {
            data.downloads_with_token += 1;
        }
        if !signed {
            data.downloads_refused += 1;
        }
    }
    if !signed {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/xml")],
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.</Message></Error>",
        )
            .into_response();
    }
    let day = file.trim_end_matches(".ndjson");
    let line = json!({ "day_totals": [{
        "day": day, "organization_id": "100000001", "daily_active_users": 12, "weekly_active_users": 30, "monthly_active_users": 41,
        "user_initiated_interaction_count": 240, "code_generation_activity_count": 250, "code_acceptance_activity_count": 120,
        "totals_by_ide": [
            { "ide": "vscode", "user_initiated_interaction_count": 200, "code_generation_activity_count": 210, "code_acceptance_activity_count": 100 },
            { "ide": "intellij", "user_initiated_interaction_count": 40, "code_generation_activity_count": 40, "code_acceptance_activity_count": 20 }
        ],
        "totals_by_feature": [
            { "feature": "code_completion", "code_generation_activity_count": 200, "code_acceptance_activity_count": 110 },
            { "feature": "chat_panel_ask_mode", "user_initiated_interaction_count": 40, "code_generation_activity_count": 50 }
        ],
        "totals_by_language_feature": [{ "language": "rust", "feature": "code_completion", "code_generation_activity_count": 90, "code_acceptance_activity_count": 45 }],
        "totals_by_model_feature": [{ "model": "gpt-4.1", "feature": "chat_panel_ask_mode", "user_initiated_interaction_count": 40 }]
    }] });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        format!("{line}\n"),
    )
        .into_response()
}
