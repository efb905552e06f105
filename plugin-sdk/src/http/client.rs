//! A service's API below one base URL, with its headers, its credentials and what its 401
//! and 403 mean, so a connector states them once instead of on every request.
//!
//! ```ignore
//! let github = Client::new("https://api.github.com")
//!     .accept("application/vnd.github+json")
//!     .header("x-github-api-version", "2022-11-28")
//!     .auth(Auth::bearer("github_token"))
//!     .on_unauthorized("GitHub rejected the token `github_token`", "check that it is valid")
//!     .on_forbidden("GitHub refused the token `github_token`", "it needs `read:org`");
//! let org: Value = github.get_json("/orgs/acme")?;
//! ```

use serde::de::DeserializeOwned;

use super::{Auth, Pages, Request, Response};
use crate::{Error, Result};

/// What an error status means for this service, in the admin's words.
#[derive(Debug, Clone, Default)]
struct Meaning {
    /// Who refused what: "GitHub rejected the token `github_token`".
    what: String,
    /// What to do about it, if anything can be said.
    advice: String,
}

impl Meaning {
    /// `what (401 service message): advice`.
    fn explain(&self, response: &Response) -> String {
        let mut text = format!(
            "{} ({} {})",
            self.what,
            response.status,
            response.service_message()
        );
        if !self.advice.is_empty() {
            text.push_str(": ");
            text.push_str(&self.advice);
        }
        text
    }
}

/// Requests to one service's API: every request gets the base URL, the default headers
/// and the credentials; every answer is checked with [`Response::error_for_status`], 401
/// and 403 explained the way [`Client::on_unauthorized`] and [`Client::on_forbidden`] say.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    headers: Vec<(String, String)>,
    auth: Option<Auth>,
    unauthorized: Option<Meaning>,
    forbidden: Option<Meaning>,
}

impl Client {
    /// A client for the API at `base` (`https://api.github.com`); a trailing `/` is dropped.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            headers: Vec::new(),
            auth: None,
            unauthorized: None,
            forbidden: None,
        }
    }

    /// Adds a header every request carries.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The `accept` header every request carries.
    #[must_use]
    pub fn accept(self, media_type: impl Into<String>) -> Self {
        self.header("accept", media_type)
    }

    /// The credentials the host injects into every request.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// What a 401 means: `what` names who rejected which credentials, `advice` what to do
    /// (may be empty). The [`Error::Auth`] reads `what (401 service message): advice`.
    #[must_use]
    pub fn on_unauthorized(mut self, what: impl Into<String>, advice: impl Into<String>) -> Self {
        self.unauthorized = Some(Meaning {
            what: what.into(),
            advice: advice.into(),
        });
        self
    }

    /// What a 403 means (one that is not a rate limit), as [`Client::on_unauthorized`]
    /// says it; the [`Error::Permission`] reads `what (403 service message): advice`.
    #[must_use]
    pub fn on_forbidden(mut self, what: impl Into<String>, advice: impl Into<String>) -> Self {
        self.forbidden = Some(Meaning {
            what: what.into(),
            advice: advice.into(),
        });
        self
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request with any method to `path`, below the base URL (`/orgs/acme`).
    pub fn request(&self, method: &str, path: &str) -> Request {
        self.request_url(method, format!("{}{path}", self.base))
    }

    /// A GET of `path`, below the base URL.
    pub fn get(&self, path: &str) -> Request {
        self.request("GET", path)
    }

    /// A POST to `path`, below the base URL.
    pub fn post(&self, path: &str) -> Request {
        self.request("POST", path)
    }

    /// A GET of an absolute URL, such as the next page's from a `link` header, with the
    /// client's headers and credentials.
    pub fn get_url(&self, url: impl Into<String>) -> Request {
        self.request_url("GET", url.into())
    }

    fn request_url(&self, method: &str, url: String) -> Request {
        let mut request = Request::new(method, url);
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        match &self.auth {
            Some(auth) => request.auth(auth.clone()),
            None => request,
        }
    }

    /// Sends `request`: its answer if 2xx or 304, else the error it means.
    pub fn send(&self, request: &Request) -> Result<Response> {
        self.check(request.send()?)
    }

    /// GETs `path` and parses the answer as JSON.
    pub fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(&self.get(path))?.json()
    }

    /// The pages of a listing that paginates with `link` headers, each checked as
    /// [`Client::send`] checks an answer.
    pub fn pages(&self, first: Request) -> impl Iterator<Item = Result<Response>> + '_ {
        Pages::unchecked(first).map(move |page| page.and_then(|response| self.check(response)))
    }

    /// `response` if 2xx or 304, else its error, with this service's meaning of 401 and 403.
    pub fn check(&self, response: Response) -> Result<Response> {
        let meaning = match response.status {
            401 => self.unauthorized.as_ref(),
            // A 403 that is a rate limit stays one.
            403 if response.header("retry-after").is_none() => self.forbidden.as_ref(),
            _ => None,
        };
        match meaning {
            Some(meaning) if response.status == 401 => Err(Error::Auth(meaning.explain(&response))),
            Some(meaning) => Err(Error::Permission(meaning.explain(&response))),
            None => response.error_for_status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github() -> Client {
        Client::new("https://api.github.com/")
            .accept("application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .auth(Auth::bearer("github_token"))
            .on_unauthorized("GitHub rejected the token `github_token`", "check it")
            .on_forbidden("GitHub refused the token `github_token`", "")
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            method: "GET".into(),
            url: "https://api.github.com/orgs/acme".into(),
            status,
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body: br#"{"message": "Bad credentials"}"#.to_vec(),
        }
    }

    #[test]
    fn requests_carry_the_base_url_the_headers_and_the_credentials() {
        let request = github().get("/orgs/acme").query("per_page", 100);
        assert_eq!(
            request.url(),
            "https://api.github.com/orgs/acme?per_page=100"
        );
        assert_eq!(
            request.headers,
            [
                (
                    "accept".to_owned(),
                    "application/vnd.github+json".to_owned()
                ),
                ("x-github-api-version".to_owned(), "2022-11-28".to_owned())
            ]
        );
        assert_eq!(request.auth, Some(Auth::bearer("github_token")));
        assert_eq!(request.method, "GET");
        assert_eq!(github().post("/x").method, "POST");
    }

    #[test]
    fn a_401_and_a_403_say_what_they_mean_for_the_service() {
        assert_eq!(
            github().check(answer(401, &[])).expect_err("a 401"),
            Error::Auth(
                "GitHub rejected the token `github_token` (401 Bad credentials): check it".into()
            )
        );
        assert_eq!(
            github().check(answer(403, &[])).expect_err("a 403"),
            Error::Permission(
                "GitHub refused the token `github_token` (403 Bad credentials)".into()
            )
        );
        assert_eq!(
            github()
                .check(answer(403, &[("retry-after", "5")]))
                .expect_err("a rate limit"),
            Error::RateLimited(5)
        );
        assert_eq!(
            github()
                .check(answer(404, &[]))
                .expect_err("a 404")
                .status(),
            Some(404)
        );
        assert!(github().check(answer(200, &[])).is_ok());
    }

    #[test]
    fn without_meanings_the_statuses_map_as_error_for_status_does() {
        let plain = Client::new("https://example.com");
        assert!(matches!(
            plain.check(answer(401, &[])),
            Err(Error::Auth(message)) if message.contains("answered 401: Bad credentials")
        ));
    }
}
