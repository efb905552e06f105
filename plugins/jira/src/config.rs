//! The install's configuration.

use serde::Deserialize;

/// What an admin configures.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// The site's base URL.
    pub site_url: String,
    /// The email of the account the API token belongs to.
    pub email: String,
    /// Project keys.
    pub projects: Vec<String>,
    /// Extra JQL.
    #[serde(default)]
    pub jql: Option<String>,
}
