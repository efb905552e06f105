//! Jira Cloud's REST APIs, and what Jira's 401 and 403 mean.

use sluice_sdk::http::{Auth, Client};

/// The secret holding the API token, as the manifest requests it.
const TOKEN: &str = "jira_api_token";

/// A client for the site `site_url`, authenticating as `email` with the API token.
pub fn client(site_url: &str, email: &str) -> Client {
    let site = site_url.trim_end_matches('/');
    Client::new(site)
        .accept("application/json")
        .auth(Auth::basic(email, TOKEN))
        .on_unauthorized(
            format!("Jira at {site} rejected the email `{email}` with the API token `{TOKEN}`"),
            "check both, and that the token belongs to that account",
        )
        .on_forbidden(
            format!("Jira at {site} refused the account `{email}`"),
            "it needs Browse projects on the configured projects",
        )
}
