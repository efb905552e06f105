//! The two Slack Web API methods the survey uses, `chat.postMessage` and `chat.update`,
//! whose failures come as `{"ok": false, "error": …}` with a 200 status.

use serde_json::Value;
use sluice_sdk::http::{self, Auth};
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

    /// Calls `method` with a JSON body and returns Slack's answer when it is `ok`.
    pub fn call(&self, method: &str, body: &Value) -> Result<Value> {
        let answer: Value = http::post(format!("{}/{method}", self.base))
            .auth(Auth::bearer(TOKEN))
            .json(body)?
            .send()?
            .error_for_status()?
            .json()?;
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
                "Slack's {method} needs a scope the bot token lacks (chat:write): add it to the app and reinstall"
            )),
            other => Error::Upstream(format!("Slack's {method} failed: {other}")),
        })
    }

    /// Posts `text` with `blocks` to a channel or a user (a direct message), in the thread
    /// of `thread_ts` when given. Returns where it went and its `ts`.
    pub fn post(
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
        let posted = self.call("chat.postMessage", &body)?;
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

    /// Replaces the message at `channel`/`ts` with `text` and `blocks`.
    pub fn update(&self, channel: &str, ts: &str, text: &str, blocks: Value) -> Result<()> {
        let body =
            serde_json::json!({ "channel": channel, "ts": ts, "text": text, "blocks": blocks });
        self.call("chat.update", &body).map(|_| ())
    }
}
