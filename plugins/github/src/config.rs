//! The install's configuration.

use serde::Deserialize;

/// What an admin configures.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// The organisation's login.
    pub org: String,
    /// Only these repositories, by name (`widgets`) or full name (`acme/widgets`); all of
    /// the organisation's when absent.
    #[serde(default)]
    pub repos: Option<Vec<String>>,
    /// The REST API's base URL.
    #[serde(default = "default_api_base_url")]
    pub api_base_url: String,
}

/// GitHub.com's API; GitHub Enterprise Server's is `https://HOST/api/v3`.
fn default_api_base_url() -> String {
    "https://api.github.com".to_owned()
}

impl Config {
    /// Whether the admin wants the repository `full_name` (`owner/name`).
    pub fn wants(&self, full_name: &str) -> bool {
        let name = full_name
            .rsplit_once('/')
            .map_or(full_name, |(_, name)| name);
        // GitHub's names are case-insensitive: `Widgets` and `widgets` are one repository.
        self.repos.as_ref().is_none_or(|repos| {
            repos
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name) || r.eq_ignore_ascii_case(full_name))
        })
    }
}
