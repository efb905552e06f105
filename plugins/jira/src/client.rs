//! Requests to Jira Cloud's REST APIs, and Jira's way of saying what went wrong.

use serde::Serialize;
use sluice_sdk::http::{self, Auth, Request, Response};
use sluice_sdk::{Error, Result};

/// The secret holding the API token, as the manifest requests it.
const TOKEN: &str = "jira_api_token";

/// A client for one Jira site, authenticating as one account.
pub struct Jira {
    base: String,
    email: String,
}

impl Jira {
    /// A client for `site_url` as `email`.
    pub fn new(site_url: &str, email: &str) -> Self {
        Self {
            base: site_url.trim_end_matches('/').to_owned(),
            email: email.to_owned(),
        }
    }

    /// The site, for messages.
    pub fn site(&self) -> &str {
        &self.base
    }

    /// A GET of `path` with Basic auth (email + API token).
    pub fn get(&self, path: &str) -> Request {
        http::get(format!("{}{path}", self.base))
            .header("accept", "application/json")
            .auth(Auth::basic(&self.email, TOKEN))
    }

    /// A POST of `body` as JSON to `path`.
    pub fn post<T: Serialize>(&self, path: &str, body: &T) -> Result<Request> {
        http::post(format!("{}{path}", self.base))
            .header("accept", "application/json")
            .auth(Auth::basic(&self.email, TOKEN))
            .json(body)
    }

    /// Sends and checks a request.
    pub fn send(&self, request: Request) -> Result<Response> {
        self.checked(request.send()?)
    }

    fn checked(&self, response: Response) -> Result<Response> {
        match response.status {
            401 => Err(Error::Auth(format!(
                "Jira at {} rejected the email `{}` with the API token `{TOKEN}` (401 {}): check both, and that the token belongs to that account",
                self.base,
                self.email,
                response.service_message()
            ))),
            403 => Err(Error::Permission(format!(
                "Jira at {} refused the account `{}` (403 {}): it needs Browse projects on the configured projects",
                self.base,
                self.email,
                response.service_message()
            ))),
            _ => response.error_for_status(),
        }
    }
}
