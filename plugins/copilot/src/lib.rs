//! The GitHub Copilot connector: the organisation's daily usage-metrics reports (the
//! legacy `/copilot/metrics` endpoint closed on 2026-04-02) and its seats.

mod days;
mod reports;

use serde::Deserialize;
use serde_json::Value;
use sluice_sdk::http::{self, Auth, Request};
use sluice_sdk::{Connector, Error, Result, Summary, config, log, records};

/// What an admin configures.
#[derive(Deserialize)]
pub struct Config {
    org: String,
    #[serde(default = "default_api_base_url")]
    api_base_url: String,
    #[serde(default = "default_backfill_days")]
    backfill_days: u32,
    #[serde(default = "default_report_delay_days")]
    report_delay_days: u32,
}

fn default_api_base_url() -> String {
    "https://api.github.com".to_owned()
}

fn default_backfill_days() -> u32 {
    28
}

fn default_report_delay_days() -> u32 {
    3
}

impl Config {
    /// A GET of `path` on the GitHub API with the token.
    fn get(&self, path: &str) -> Request {
        http::get(format!("{}{path}", self.api_base_url.trim_end_matches('/')))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .auth(Auth::bearer("github_token"))
    }

    /// What GitHub's 401, 403 and 404 mean here.
    fn explain(&self, error: Error) -> Error {
        match error {
            Error::Auth(m) => Error::Auth(format!("GitHub rejected the token `github_token`: {m}")),
            Error::Permission(m) => Error::Permission(format!(
                "GitHub refused Copilot data of `{}`: the token needs `manage_billing:copilot` or `read:org` from an owner or billing manager, and the org's Copilot usage metrics policy must be enabled ({m})",
                self.org
            )),
            Error::Upstream(m) if m.contains(" answered 404") => Error::Config(format!(
                "GitHub organisation `{}` not found at {}, or it has no Copilot subscription",
                self.org, self.api_base_url
            )),
            other => other,
        }
    }
}

/// The connector.
#[derive(Default)]
struct Copilot;

/// Emits every seat, paging by `link`.
fn seats(config: &Config) -> Result<usize> {
    let mut count = 0;
    for page in http::pages(
        config
            .get(&format!("/orgs/{}/copilot/billing/seats", config.org))
            .query("per_page", 100),
    ) {
        let page: Value = page.map_err(|e| config.explain(e))?.json()?;
        for seat in page
            .get("seats")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let login = seat
                .pointer("/assignee/login")
                .and_then(Value::as_str)
                .unwrap_or_default();
            records::emit_one("copilot_seats", login, seat)?;
            count += 1;
        }
    }
    Ok(count)
}

impl Connector for Copilot {
    fn check(&mut self) -> Result<()> {
        let config: Config = config::get()?;
        config
            .get(&format!("/orgs/{}/copilot/billing/seats", config.org))
            .query("per_page", 1)
            .send()?
            .error_for_status()
            .map(|_| ())
            .map_err(|e| config.explain(e))
    }

    fn sync(&mut self) -> Result<Summary> {
        let config: Config = config::get()?;
        let seats = seats(&config)?;
        log::info!("{seats} seats"; stream = "copilot_seats", count = seats);
        let note = reports::sync(&config)?;
        Ok(note.map(Summary::note).unwrap_or_default())
    }
}

sluice_sdk::export_connector!(Copilot);
