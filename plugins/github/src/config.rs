//! The install's configuration.

use serde::Deserialize;

/// What an admin configures.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// The organisation's login.
    pub org: String,
    /// Only these repositories, by name; all when absent.
    #[serde(default)]
    pub repos: Option<Vec<String>>,
    /// The REST API's base URL.
    #[serde(default = "default_api_base_url")]
    pub api_base_url: String,
}

fn default_api_base_url() -> String {
    "https://api.github.com".to_owned()
}

impl Config {
    /// Whether a repository (by name) is one the admin wants.
    pub fn wants(&self, name: &str) -> bool {
        self.repos
            .as_ref()
            .is_none_or(|repos| repos.iter().any(|r| r.eq_ignore_ascii_case(name)))
    }
}
