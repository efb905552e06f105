//! Calls to Slack's Web API, whose failures come as `{"ok": false, "error": "…"}` with a
//! 200 status, and whose listings page by `response_metadata.next_cursor`.

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
}
