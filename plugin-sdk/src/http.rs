//! Outbound HTTP through the host.
//!
//! ```ignore
//! let repos: Vec<Repo> = http::get(format!("{base}/orgs/{org}/repos"))
//!     .query("per_page", "100")
//!     .auth(Auth::bearer("github_token"))
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! ```
//!
//! A request names the secret it needs ([`Auth`]); the host checks the destination against
//! the install's grants, injects the secret's value, follows redirects and honours the
//! service's rate-limit headers.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::sluice::connector::{http as host, types};
use crate::{Error, Result};

mod client;

pub use client::Client;

/// The credentials the host injects into a request, by secret name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <secret>`.
    Bearer {
        /// The secret's name, as the manifest requests it.
        secret: String,
    },
    /// `Authorization: Basic base64(username:<secret>)`.
    Basic {
        /// The user part, in plain text.
        username: String,
        /// The name of the secret holding the password or API token.
        secret: String,
    },
    /// `<header>: <secret>`.
    Header {
        /// The header to set.
        header: String,
        /// The secret's name.
        secret: String,
    },
}

impl Auth {
    /// `Authorization: Bearer <value of secret>`: GitHub, Slack, Grafana.
    pub fn bearer(secret: impl Into<String>) -> Self {
        Self::Bearer {
            secret: secret.into(),
        }
    }

    /// `Authorization: Basic base64(username:<value of secret>)`: Jira Cloud.
    pub fn basic(username: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::Basic {
            username: username.into(),
            secret: secret.into(),
        }
    }

    /// `<header>: <value of secret>`.
    pub fn header(header: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::Header {
            header: header.into(),
            secret: secret.into(),
        }
    }
}

impl From<Auth> for types::Auth {
    fn from(auth: Auth) -> Self {
        match auth {
            Auth::Bearer { secret } => Self::Bearer(secret),
            Auth::Basic { username, secret } => Self::Basic(types::BasicAuth { username, secret }),
            Auth::Header { header, secret } => Self::Header(types::HeaderAuth {
                name: header,
                secret,
            }),
        }
    }
}

/// An outbound request being built.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until it is sent"]
pub struct Request {
    method: String,
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    auth: Option<Auth>,
}

/// A `GET` request.
pub fn get(url: impl Into<String>) -> Request {
    Request::new("GET", url)
}

/// A `POST` request.
pub fn post(url: impl Into<String>) -> Request {
    Request::new("POST", url)
}

/// A `PUT` request.
pub fn put(url: impl Into<String>) -> Request {
    Request::new("PUT", url)
}

/// A `PATCH` request.
pub fn patch(url: impl Into<String>) -> Request {
    Request::new("PATCH", url)
}

/// A `DELETE` request.
pub fn delete(url: impl Into<String>) -> Request {
    Request::new("DELETE", url)
}

impl Request {
    /// A request with any method.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            method: method.to_owned(),
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            auth: None,
        }
    }

    /// Adds a query parameter, percent-encoded.
    pub fn query(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((name.into(), value.to_string()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Names the credentials the host injects.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets a JSON body and its `content-type`.
    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Result<Self> {
        let bytes =
            serde_json::to_vec(body).map_err(|e| Error::Internal(format!("request body: {e}")))?;
        Ok(self
            .header("content-type", "application/json; charset=utf-8")
            .body(bytes))
    }

    /// The URL with its query parameters.
    pub fn url(&self) -> String {
        if self.query.is_empty() {
            return self.url.clone();
        }
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.query)
            .finish();
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}{query}", self.url)
    }

    /// The same request sent to another URL, as pagination does; the query parameters are
    /// dropped because the next URL carries its own.
    pub fn with_url(&self, url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            query: Vec::new(),
            ..self.clone()
        }
    }

    /// Sends the request. Statuses like 404 are responses, not errors: see
    /// [`Response::error_for_status`].
    pub fn send(&self) -> Result<Response> {
        let request = types::HttpRequest {
            method: self.method.clone(),
            url: self.url(),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| types::Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            body: self.body.clone(),
            auth: self.auth.clone().map(Into::into),
        };
        let response = host::send(&request)?;
        Ok(Response {
            method: self.method.clone(),
            url: request.url,
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            body: response.body,
        })
    }
}

/// An answer from a service.
#[derive(Debug, Clone)]
pub struct Response {
    method: String,
    url: String,
    /// HTTP status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Upstream(format!(
                "{} {} answered JSON that does not fit: {e}",
                self.method, self.url
            ))
        })
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The URL of the next page, from a `link: <…>; rel="next"` header.
    pub fn next_link(&self) -> Option<String> {
        self.header("link").and_then(next_link)
    }

    /// This response if its status is 2xx (or 304), else an error that names the request,
    /// the status and the service's own message: 401 is [`Error::Auth`], 403
    /// [`Error::Permission`] (or [`Error::RateLimited`] when the service says so), 429
    /// [`Error::RateLimited`], anything else [`Error::Http`] with the status.
    pub fn error_for_status(self) -> Result<Self> {
        if self.is_success() || self.status == 304 {
            return Ok(self);
        }
        let message = format!(
            "{} {} answered {}: {}",
            self.method,
            self.url,
            self.status,
            self.service_message()
        );
        let retry_after = self
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u32>().ok());
        Err(match (self.status, retry_after) {
            (401, _) => Error::Auth(message),
            (403 | 429, Some(seconds)) => Error::RateLimited(seconds),
            (429, None) => Error::RateLimited(60),
            (403, None) => Error::Permission(message),
            (status, _) => Error::Http { status, message },
        })
    }

    /// The service's own explanation: the `message` or `error` field of a JSON body, or
    /// the start of the body.
    pub fn service_message(&self) -> String {
        const MAX: usize = 300;
        let json: Option<serde_json::Value> = serde_json::from_slice(&self.body).ok();
        let field = json.as_ref().and_then(|body| {
            ["message", "error", "errorMessages"]
                .iter()
                .find_map(|name| body.get(name))
                .map(|value| match value {
                    serde_json::Value::String(text) => text.clone(),
                    // Jira's `errorMessages`: a list of sentences.
                    serde_json::Value::Array(items)
                        if items.iter().all(serde_json::Value::is_string) =>
                    {
                        items
                            .iter()
                            .filter_map(serde_json::Value::as_str)
                            .collect::<Vec<_>>()
                            .join("; ")
                    }
                    other => other.to_string(),
                })
        });
        let mut text = field.unwrap_or_else(|| self.text());
        if text.len() > MAX {
            let cut = (0..=MAX)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            text.truncate(cut);
            text.push('…');
        }
        text
    }
}

/// Pages of a listing that paginates with `link` headers, as GitHub does.
///
/// Each item is one page's response, already checked with [`Response::error_for_status`].
/// Stop iterating early (with `break` or `take_while`) to fetch no further pages.
pub fn pages(first: Request) -> Pages {
    Pages {
        next: Some(first),
        checked: true,
    }
}

/// The iterator returned by [`pages`].
#[derive(Debug)]
pub struct Pages {
    next: Option<Request>,
    /// Whether each page goes through [`Response::error_for_status`] here, or its caller
    /// checks it (a [`Client`], with the service's own meanings).
    checked: bool,
}

impl Pages {
    /// Pages whose answers are handed on as they are, for a caller that checks them.
    fn unchecked(first: Request) -> Self {
        Self {
            next: Some(first),
            checked: false,
        }
    }
}

impl Iterator for Pages {
    type Item = Result<Response>;

    fn next(&mut self) -> Option<Self::Item> {
        let request = self.next.take()?;
        let sent = request.send();
        let sent = if self.checked {
            sent.and_then(Response::error_for_status)
        } else {
            sent
        };
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Some(Err(error)),
        };
        if response.is_success() {
            self.next = response.next_link().map(|url| request.with_url(url));
        }
        Some(Ok(response))
    }
}

/// The `rel="next"` URL of an RFC 8288 `link` header.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let mut parts = link.split(';');
        let target = parts.next()?.trim();
        let url = target.strip_prefix('<')?.strip_suffix('>')?;
        parts
            .any(|param| {
                let param = param.trim();
                param
                    .strip_prefix("rel=")
                    .map(|rel| {
                        rel.trim_matches('"')
                            .split_whitespace()
                            .any(|r| r == "next")
                    })
                    .unwrap_or(false)
            })
            .then(|| url.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_reads_github_link_headers() {
        let header = r#"<https://api.github.com/orgs/acme/repos?per_page=100&page=2>; rel="next", <https://api.github.com/orgs/acme/repos?per_page=100&page=5>; rel="last""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/orgs/acme/repos?per_page=100&page=2")
        );
    }

    #[test]
    fn next_link_is_none_on_the_last_page() {
        let header = r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=1>; rel="first""#;
        assert_eq!(next_link(header), None);
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            method: "GET".into(),
            url: "https://api.example.com/things".into(),
            status,
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn error_statuses_map_to_what_they_mean() {
        let body = r#"{"message": "Not Found"}"#;
        let not_found = response(404, &[], body)
            .error_for_status()
            .expect_err("a 404");
        assert_eq!(not_found.status(), Some(404));
        assert_eq!(
            not_found.to_string(),
            "upstream error: GET https://api.example.com/things answered 404: Not Found"
        );
        assert!(matches!(
            response(401, &[], body).error_for_status(),
            Err(Error::Auth(_))
        ));
        assert!(matches!(
            response(403, &[], body).error_for_status(),
            Err(Error::Permission(_))
        ));
        assert!(matches!(
            response(403, &[("retry-after", "7")], body).error_for_status(),
            Err(Error::RateLimited(7))
        ));
        assert!(matches!(
            response(429, &[], body).error_for_status(),
            Err(Error::RateLimited(60))
        ));
        assert!(response(304, &[], "").error_for_status().is_ok());
    }

    #[test]
    fn the_service_s_own_message_is_read_from_its_json() {
        let jira = r#"{"errorMessages": ["Error in the JQL Query.", "Field 'x' does not exist."], "errors": {}}"#;
        assert_eq!(
            response(400, &[], jira).service_message(),
            "Error in the JQL Query.; Field 'x' does not exist."
        );
        assert_eq!(
            response(500, &[], "plain text").service_message(),
            "plain text"
        );
    }

    #[test]
    fn query_parameters_are_percent_encoded() {
        let request = get("https://example.com/search?x=1")
            .query("q", "a b&c")
            .query("per_page", 100);
        assert_eq!(
            request.url(),
            "https://example.com/search?x=1&q=a+b%26c&per_page=100"
        );
    }
}
