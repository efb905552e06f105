//! The Slack connector: users (with emails, reported to the directory of people) and
//! channels; posts messages — text or blocks with buttons — for `slack.post_message` events.

use serde::Deserialize;
use serde_json::Value;
use sluice_sdk::people::{self, Identity};
use sluice_sdk::{Connector, Error, Event, Result, Summary, config, log, records};

use sluice_slack_web::Slack;

/// What an admin configures.
#[derive(Deserialize)]
struct Config {
    #[serde(default = "default_api_base_url")]
    api_base_url: String,
}

fn default_api_base_url() -> String {
    "https://slack.com/api".to_owned()
}

/// A message to post, as a `slack.post_message` event carries it: `chat.postMessage`'s own
/// fields (`channel` is a channel or user id; `blocks` may hold buttons).
#[derive(Deserialize)]
struct PostMessage {
    channel: String,
    text: String,
    #[serde(default)]
    blocks: Option<Value>,
    #[serde(default)]
    thread_ts: Option<String>,
}

/// The connector.
#[derive(Default)]
struct SlackConnector;

fn slack() -> Result<Slack> {
    let config: Config = config::get()?;
    Ok(Slack::new(&config.api_base_url))
}

impl Connector for SlackConnector {
    fn check(&mut self) -> Result<()> {
        let slack = slack()?;
        let me = slack.call("auth.test", slack.get("auth.test"))?;
        log::info!("connected to Slack workspace {} as {}", me["team"], me["user"]; team = me["team"]);
        Ok(())
    }

    fn sync(&mut self) -> Result<Summary> {
        let slack = slack()?;
        let users = slack.list("users.list", &[], "members")?;
        for user in &users {
            let id = user.get("id").and_then(Value::as_str).unwrap_or_default();
            let is_person = !user.get("is_bot").and_then(Value::as_bool).unwrap_or(false)
                && !user
                    .get("deleted")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                && id != "USLACKBOT";
            if is_person {
                // Slack shows only confirmed addresses in profile.email.
                people::observe(
                    &Identity::slack(id),
                    user.pointer("/profile/email").and_then(Value::as_str),
                    user.get("real_name").and_then(Value::as_str),
                );
            }
            records::emit_one("users", id, user)?;
        }
        let channels = slack.list(
            "conversations.list",
            &[
                ("types", "public_channel,private_channel"),
                ("exclude_archived", "false"),
            ],
            "channels",
        )?;
        for channel in &channels {
            let id = channel
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            records::emit_one("channels", id, channel)?;
        }
        log::info!("{} users and {} channels", users.len(), channels.len(); users = users.len(), channels = channels.len());
        Ok(Summary::default())
    }

    fn handle_event(&mut self, event: Event) -> Result<()> {
        if event.kind != "slack.post_message" {
            return Err(Error::Config(format!(
                "the Slack connector does not handle `{}` events",
                event.kind
            )));
        }
        let message: PostMessage = event.payload()?;
        let (channel, ts) = slack()?.post_message(
            &message.channel,
            &message.text,
            message.blocks,
            message.thread_ts.as_deref(),
        )?;
        log::info!("posted to {channel} at {ts}"; channel = channel);
        Ok(())
    }
}

sluice_sdk::export_connector!(SlackConnector);
