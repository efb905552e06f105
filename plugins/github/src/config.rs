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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(repos: Option<&[&str]>) -> Config {
        Config {
            org: "acme".into(),
            repos: repos.map(|names| names.iter().map(|n| (*n).to_owned()).collect()),
            api_base_url: default_api_base_url(),
        }
    }

    #[test]
    fn repositories_are_wanted_by_name_or_full_name_whatever_their_case() {
        let some = config(Some(&["widgets", "acme/Gadgets"]));
        assert!(some.wants("acme/widgets"));
        assert!(some.wants("acme/Widgets"));
        assert!(some.wants("acme/gadgets"));
        assert!(!some.wants("acme/docs"));
        assert!(
            !some.wants("other/gadgets"),
            "a full name names its owner too"
        );
        assert!(
            config(None).wants("acme/docs"),
            "no filter: every repository"
        );
    }
}
