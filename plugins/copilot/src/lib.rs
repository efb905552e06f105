//! The GitHub Copilot connector: the organisation's daily usage-metrics reports (the
//! legacy `/copilot/metrics` endpoint closed on 2026-04-02) and its seats.

mod days;
mod reports;

use serde::Deserialize;
use serde_json::Value;
use sluice_sdk::http::{Auth, Client};
use sluice_sdk::{Connector, Error, Result, Summary, config, log, records};

/// What to do when GitHub refuses Copilot data.
const PERMISSION_ADVICE: &str = "the token needs `manage_billing:copilot` or `read:org` from an \
     owner or billing manager, and the org's Copilot usage metrics policy must be enabled";

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
    /// The GitHub API with the token, and what GitHub's 401 and 403 mean here.
    fn github(&self) -> Client {
        Client::new(&self.api_base_url)
            .accept("application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .auth(Auth::bearer("github_token"))
            .on_unauthorized("GitHub rejected the token `github_token`", "")
            .on_forbidden(
                format!("GitHub refused Copilot data of `{}`", self.org),
                PERMISSION_ADVICE,
            )
    }

    /// What GitHub's 404 means here.
    fn explain(&self, error: Error) -> Error {
        match error.status() {
            Some(404) => Error::Config(format!(
                "GitHub organisation `{}` not found at {}, or it has no Copilot subscription",
                self.org, self.api_base_url
            )),
            _ => error,
        }
    }
}

/// The connector.
#[derive(Default)]
struct Copilot;

/// Emits every seat, paging by `link`.
fn seats(config: &Config) -> Result<usize> {
    let mut count = 0;
    let github = config.github();
    for page in github.pages(
        github
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
        let github = config.github();
        github
            .send(
                &github
                    .get(&format!("/orgs/{}/copilot/billing/seats", config.org))
                    .query("per_page", 1),
            )
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
