//! The Jira Cloud connector: issues (incremental on `updated`), users, boards, sprints and
//! worklogs (incremental on the updated-worklogs API).

mod client;
mod config;
mod directory;
mod issues;
mod times;
mod worklogs;

use serde_json::Value;
use sluice_sdk::{Connector, Error, Result, Summary, config as install_config, log};

use config::Config;

/// The connector.
#[derive(Default)]
struct JiraConnector;

impl Connector for JiraConnector {
    fn check(&mut self) -> Result<()> {
        let config: Config = install_config::get()?;
        let jira = client::client(&config.site_url, &config.email);
        let me: Value = jira
            .send(&jira.get("/rest/api/3/myself"))
            .map_err(|e| match e.status() {
                Some(404) => Error::Config(format!(
                    "{} does not look like a Jira Cloud site: check `site_url`",
                    jira.base()
                )),
                _ => e,
            })?
            .json()?;
        log::info!("connected to {} as {}", jira.base(), me["displayName"]; site = jira.base());
        Ok(())
    }

    fn sync(&mut self) -> Result<Summary> {
        let config: Config = install_config::get()?;
        let jira = client::client(&config.site_url, &config.email);
        issues::sync(&jira, &config)?;
        directory::users(&jira)?;
        directory::boards_and_sprints(&jira)?;
        worklogs::sync(&jira)?;
        Ok(Summary::default())
    }
}

sluice_sdk::export_connector!(JiraConnector);
