//! Slack's Web API for the connectors that talk to Slack (the Slack connector, the
//! pull-request survey): failures come as `{"ok": false, "error": "…"}` with a 200 status,
//! listings page by `response_metadata.next_cursor`, and the bot token is the secret
//! `slack_bot_token` the connector's manifest requests.

use serde_json::Value;
use sluice_sdk::http::{self, Auth, Request};
use sluice_sdk::{Error, Result};

/// The secret holding the bot token, as the manifest requests it.
const TOKEN: &str = "slack_bot_token";

/// A client for one Web API base URL.
pub struct Slack {
    base: String,
}

impl Slack {
    /// A client for `base` (`https://slack.com/api`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// A GET of a Web API method with the bot token.
    pub fn get(&self, method: &str) -> Request {
        http::get(format!("{}/{method}", self.base)).auth(Auth::bearer(TOKEN))
    }

    /// A POST of a JSON body to a Web API method with the bot token.
    pub fn post(&self, method: &str, body: &Value) -> Result<Request> {
        http::post(format!("{}/{method}", self.base))
            .auth(Auth::bearer(TOKEN))
            .json(body)
    }

    /// Calls a method and returns its answer if `ok`, else an error naming Slack's reason.
    pub fn call(&self, method: &str, request: Request) -> Result<Value> {
        let answer: Value = request.send()?.error_for_status()?.json()?;
        if answer.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(answer);
        }
        let reason = answer
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error");
        Err(match reason {
            "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked"
            | "token_expired" => Error::Auth(format!(
                "Slack rejected the bot token `{TOKEN}` ({reason}): reinstall the app or paste a current xoxb- token"
            )),
            "missing_scope" => Error::Permission(format!(
                "Slack's {method} needs the scope `{}` that the bot token lacks: add it to the app and reinstall",
                answer.get("needed").and_then(Value::as_str).unwrap_or("?")
            )),
            "channel_not_found" | "not_in_channel" | "is_archived" => Error::Config(format!(
                "Slack's {method} cannot post there ({reason}): invite the bot to the channel"
            )),
            other => Error::Upstream(format!("Slack's {method} failed: {other}")),
        })
    }

    /// Every item of a cursor-paged listing, under `field`.
    pub fn list(&self, method: &str, params: &[(&str, &str)], field: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut request = self.get(method).query("limit", 200);
            for (name, value) in params {
                request = request.query(*name, *value);
            }
            if !cursor.is_empty() {
                request = request.query("cursor", &cursor);
            }
            let mut answer = self.call(method, request)?;
            if let Some(Value::Array(page)) = answer.get_mut(field).map(Value::take) {
                items.extend(page);
            }
            cursor = answer
                .pointer("/response_metadata/next_cursor")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if cursor.is_empty() {
                return Ok(items);
            }
        }
    }

    /// Posts `text` (and `blocks`) to a channel, or to a user id (the bot's direct
    /// message with them), in the thread of `thread_ts` when given. Returns the channel
    /// it went to (a user's direct-message channel `D…`) and the message's `ts`.
    pub fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<Value>,
        thread_ts: Option<&str>,
    ) -> Result<(String, String)> {
        let mut body = serde_json::json!({ "channel": channel, "text": text });
        if let Some(blocks) = blocks {
            body["blocks"] = blocks;
        }
        if let Some(thread_ts) = thread_ts {
            body["thread_ts"] = Value::from(thread_ts);
        }
        let posted = self.call("chat.postMessage", self.post("chat.postMessage", &body)?)?;
        let field = |name: &str| {
            posted
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Error::Upstream(format!("Slack's chat.postMessage answered no `{name}`"))
                })
        };
        Ok((field("channel")?, field("ts")?))
    }

    /// Replaces the bot's message at `channel` / `ts` with `text` and `blocks`.
    pub fn update_message(&self, channel: &str, ts: &str, text: &str, blocks: Value) -> Result<()> {
        let body =
            serde_json::json!({ "channel": channel, "ts": ts, "text": text, "blocks": blocks });
        self.call("chat.update", self.post("chat.update", &body)?)
            .map(|_| ())
    }
}
