//! The GitHub connector: an organisation's members, teams, repositories, pull requests,
//! reviews and commits, on GitHub.com or GitHub Enterprise Server, incrementally.

mod client;
mod commits;
mod config;
mod cursor;
mod org;
mod pulls;

use sluice_sdk::{Connector, Result, Summary, config as install_config, log};

use client::org_not_found;
use config::Config;

/// The connector.
#[derive(Default)]
struct GitHubConnector;

impl Connector for GitHubConnector {
    /// Reads the organisation: proves the base URL, the token and the org's name at once.
    fn check(&mut self) -> Result<()> {
        let config: Config = install_config::get()?;
        let github = client::client(&config.api_base_url);
        github
            .send(&github.get(&format!("/orgs/{}", config.org)))
            .map_err(|e| org_not_found(e, &config.org, &github))?;
        Ok(())
    }

    fn sync(&mut self) -> Result<Summary> {
        let config: Config = install_config::get()?;
        let github = client::client(&config.api_base_url);
        log::info!("syncing GitHub organisation {} at {}", config.org, github.base(); org = config.org);
        org::sync_list(&github, &config.org, "members", "login")?;
        org::sync_list(&github, &config.org, "teams", "slug")?;
        let repos = org::repositories(&github, &config)?;
        let (mut pulls, mut reviews, mut commits) = (0usize, 0usize, 0usize);
        for repo in &repos {
            let counts = pulls::sync(&github, &repo.full_name)?;
            pulls += counts.pulls;
            reviews += counts.reviews;
            commits += commits::sync(&github, &repo.full_name, repo.default_branch.as_deref())?;
        }
        let walked = repos.len();
        log::info!("pull_requests: {pulls} emitted from {walked} repositories"; stream = "pull_requests", count = pulls);
        log::info!("reviews: {reviews} emitted"; stream = "reviews", count = reviews);
        log::info!("commits: {commits} emitted from {walked} repositories"; stream = "commits", count = commits);
        Ok(Summary::default())
    }
}

sluice_sdk::export_connector!(GitHubConnector);
