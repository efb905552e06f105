//! A fake Slack Web API on 127.0.0.1: `auth.test`, `users.list` (a user can be removed
//! from it), `conversations.list` (cursor paging by `response_metadata.next_cursor`, pages
//! that may hold fewer items than `limit` before the end, as Slack warns),
//! `chat.postMessage` (to a channel, or to a user's direct-message channel, in a thread)
//! and `chat.update`, failing the way Slack does —
//! `{"ok": false, "error": …}` with status 200, `not_authed` without a token and
//! `invalid_auth` with a wrong one — and rate-limiting with 429 + `Retry-After`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::lock;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

struct Data {
    token: String,
    users: Vec<Value>,
    channels: Vec<Value>,
    posted: Vec<Value>,
    /// Where each posted message went (a user's id becomes their direct-message
    /// channel) and its `ts`, in order.
    messages: Vec<(String, String)>,
    updated: Vec<Value>,
    rate_limit_once: bool,
    requests: Vec<String>,
}

type Shared = Arc<Mutex<Data>>;

/// A running fake Slack workspace.
pub struct FakeSlack {
    port: u16,
    data: Shared,
}

impl FakeSlack {
    /// Starts a workspace accepting the bot token `token`: 250 people (two pages of 200),
    /// Slackbot, a bot user and a deleted user; 12 channels, one private and one archived.
    pub async fn start(token: &str) -> anyhow::Result<FakeSlack> {
        let mut users: Vec<Value> = (0..250)
            .map(|i| user(&format!("U{i:08}"), &format!("person{i}"), false, false))
            .collect();
        users.push(user("USLACKBOT", "slackbot", true, false));
        users.push(user("U0BOT00001", "sluice", true, false));
        users.push(user("U0GONE0001", "former", false, true));
        let channels = (0..12)
            .map(|i| json!({
                "id": format!("C{i:08}"), "name": format!("channel-{i}"), "is_channel": true, "is_group": false, "is_im": false,
                "created": 1_700_000_000 + i, "creator": "U00000000", "is_archived": i == 11, "is_general": i == 0,
                "is_private": i == 10, "is_member": true, "num_members": 20 + i,
                "topic": { "value": "", "creator": "", "last_set": 0 }, "purpose": { "value": "", "creator": "", "last_set": 0 }
            }))
            .collect();
        let data = Arc::new(Mutex::new(Data {
            token: token.to_owned(),
            users,
            channels,
            posted: Vec::new(),
            messages: Vec::new(),
            updated: Vec::new(),
            rate_limit_once: false,
            requests: Vec::new(),
        }));
        let app = Router::new()
            .route("/api/auth.test", get(auth_test).post(auth_test))
            .route("/api/users.list", get(users_list))
            .route("/api/conversations.list", get(conversations_list))
            .route("/api/chat.postMessage", post(post_message))
            .route("/api/chat.update", post(update_message))
            .layer(axum::middleware::from_fn_with_state(data.clone(), gate))
            .with_state(data.clone());
        let port = super::serve(app).await?;
        Ok(FakeSlack { port, data })
    }

    /// The Web API base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Users and channels the fake holds.
    pub fn counts(&self) -> (usize, usize) {
        let data = lock(&self.data);
        (data.users.len(), data.channels.len())
    }

    /// The bodies of the messages posted so far.
    pub fn posted(&self) -> Vec<Value> {
        lock(&self.data).posted.clone()
    }

    /// Where each posted message went, as (channel, ts); a message to a user goes to
    /// their direct-message channel `D…`.
    pub fn messages(&self) -> Vec<(String, String)> {
        lock(&self.data).messages.clone()
    }

    /// The bodies of the `chat.update` calls that changed a message.
    pub fn updated(&self) -> Vec<Value> {
        lock(&self.data).updated.clone()
    }

    /// The path and query of every request, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.data).requests.clone()
    }

    /// Removes the user `id` from the workspace: `users.list` no longer lists them at all,
    /// unlike a deactivated user, whom Slack keeps listing with `deleted: true`. Returns
    /// whether they were there.
    pub fn remove_user(&self, id: &str) -> bool {
        let mut data = lock(&self.data);
        let before = data.users.len();
        data.users.retain(|user| user["id"] != id);
        data.users.len() < before
    }

    /// Makes the next request answer 429 with `Retry-After: 1`.
    pub fn set_rate_limit_once(&self) {
        lock(&self.data).rate_limit_once = true;
    }
}

fn user(id: &str, name: &str, is_bot: bool, deleted: bool) -> Value {
    let real_name = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
    let mut profile = json!({ "real_name": real_name, "display_name": name, "status_text": "", "team": "T0ACME001" });
    if !is_bot {
        profile["email"] = Value::from(format!("{name}@acme.example"));
    }
    json!({ "id": id, "team_id": "T0ACME001", "name": name, "deleted": deleted, "real_name": real_name,
            "tz": "Europe/Berlin", "tz_offset": 3600, "profile": profile, "is_admin": false, "is_owner": false,
            "is_bot": is_bot, "is_app_user": false, "updated": 1_700_000_000 })
}

fn not_ok(error: &str) -> Response {
    Json(json!({ "ok": false, "error": error })).into_response()
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
        let authorised = presented.map(|p| p == format!("Bearer {}", data.token));
        (
            authorised,
            authorised == Some(true) && std::mem::take(&mut data.rate_limit_once),
        )
    };
    match authorised {
        None => return not_ok("not_authed"),
        Some(false) => return not_ok("invalid_auth"),
        Some(true) => {}
    }
    if limited {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({ "ok": false, "error": "ratelimited" })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    next.run(request).await
}

async fn auth_test() -> Json<Value> {
    Json(
        json!({ "ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "sluice", "team_id": "T0ACME001", "user_id": "U0BOT00001", "bot_id": "B0BOT00001" }),
    )
}

/// The most items a page holds whatever `limit` asks: Slack may answer fewer items than
/// `limit` before the end of a listing, so only an empty `next_cursor` ends it.
const PAGE_CAP: usize = 90;

/// One page of `items` by Slack's cursor: an opaque base64 offset.
fn page(items: &[Value], field: &str, q: &BTreeMap<String, String>) -> Json<Value> {
    let limit = q
        .get("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 1000)
        .min(PAGE_CAP);
    let start = q
        .get("cursor")
        .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.strip_prefix("offset:")
                .and_then(|n| n.parse::<usize>().ok())
        })
        .unwrap_or(0);
    let slice: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let next = if start + limit < items.len() {
        base64::engine::general_purpose::STANDARD.encode(format!("offset:{}", start + limit))
    } else {
        String::new()
    };
    Json(
        json!({ "ok": true, field: slice, "cache_ts": 1_700_000_000, "response_metadata": { "next_cursor": next } }),
    )
}

async fn users_list(
    State(data): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Json<Value> {
    page(&lock(&data).users, "members", &q)
}

async fn conversations_list(
    State(data): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Json<Value> {
    let data = lock(&data);
    let types = q
        .get("types")
        .cloned()
        .unwrap_or_else(|| "public_channel".into());
    let archived = q.get("exclude_archived").map(String::as_str) != Some("true");
    let channels: Vec<Value> = data
        .channels
        .iter()
        .filter(|c| archived || c["is_archived"] == false)
        .filter(|c| {
            if c["is_private"] == true {
                types.contains("private_channel")
            } else {
                types.contains("public_channel")
            }
        })
        .cloned()
        .collect();
    page(&channels, "channels", &q)
}

/// The channel a message to `target` goes to: a user's id (`U…`, `W…`) opens the bot's
/// direct-message channel with them, `D` and the rest of the id; a channel is itself.
fn channel_of(data: &Data, target: &str) -> Option<String> {
    if data.channels.iter().any(|c| c["id"] == target) {
        return Some(target.to_owned());
    }
    let user_of_dm = target.strip_prefix('D');
    data.users
        .iter()
        .filter_map(|u| u["id"].as_str())
        .find(|id| *id == target || user_of_dm == id.get(1..))
        .map(|id| format!("D{}", &id[1..]))
}

async fn post_message(State(data): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut data = lock(&data);
    let target = body
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(channel) = channel_of(&data, &target) else {
        return not_ok("channel_not_found");
    };
    if body.get("text").is_none() && body.get("blocks").is_none() {
        return not_ok("no_text");
    }
    let ts = format!("1700000000.{:06}", data.posted.len() + 1);
    data.posted.push(body.clone());
    data.messages.push((channel.clone(), ts.clone()));
    Json(json!({ "ok": true, "channel": channel, "ts": ts, "message": { "type": "message", "text": body["text"], "ts": ts, "bot_id": "B0BOT00001" } })).into_response()
}

/// `chat.update`: only a message the bot posted, found by its channel and `ts`.
async fn update_message(State(data): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut data = lock(&data);
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    let (channel, ts) = (field("channel").to_owned(), field("ts").to_owned());
    if channel_of(&data, &channel).is_none() {
        return not_ok("channel_not_found");
    }
    if !data.messages.iter().any(|(c, t)| *c == channel && *t == ts) {
        return not_ok("message_not_found");
    }
    if body.get("text").is_none() && body.get("blocks").is_none() {
        return not_ok("no_text");
    }
    data.updated.push(body.clone());
    Json(json!({ "ok": true, "channel": channel, "ts": ts, "text": body["text"] })).into_response()
}
