//! The GitHub connector: an organisation's members, teams, repositories, pull requests,
//! reviews and commits, incrementally.

mod client;
mod commits;
mod config;
mod cursor;
mod org;
mod pulls;

use sluice_sdk::{Connector, Result, Summary, config as install_config, log};

use client::{GitHub, checked};
use config::Config;

/// The connector.
#[derive(Default)]
struct GitHubConnector;

impl Connector for GitHubConnector {
    fn check(&mut self) -> Result<()> {
        let config: Config = install_config::get()?;
        let github = GitHub::new(&config.api_base_url);
        checked(github.get(&format!("/orgs/{}", config.org)).send()?)
            .map(|_| ())
            .map_err(|e| org::not_found(e, &config.org, &github))
    }

    fn sync(&mut self) -> Result<Summary> {
        let config: Config = install_config::get()?;
        let github = GitHub::new(&config.api_base_url);
        log::info!("syncing GitHub organisation {}", config.org; org = config.org);
        org::members_and_teams(&github, &config.org)?;
        let repos = org::repositories(&github, &config)?;
        for repo in &repos {
            pulls::sync(&github, repo)?;
            commits::sync(&github, repo)?;
        }
        Ok(Summary::default())
    }
}

sluice_sdk::export_connector!(GitHubConnector);
