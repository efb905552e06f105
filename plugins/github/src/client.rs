//! Requests to GitHub's REST API: its headers, its pagination, and what its errors mean.

use serde_json::Value;
use sluice_sdk::http::{self, Auth, Request, Response};
use sluice_sdk::{Error, Result};

/// The secret holding the token, as the manifest requests it.
const TOKEN: &str = "github_token";
/// The most items GitHub returns in one page; fewer pages cost fewer requests.
pub const PER_PAGE: usize = 100;

/// A client for one GitHub API base URL.
pub struct GitHub {
    base: String,
}

impl GitHub {
    /// A client for `base` (`https://api.github.com`, or a GHES `…/api/v3`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The API base URL, for messages.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A GET of `path`, below the base URL.
    pub fn get(&self, path: &str) -> Request {
        self.get_url(format!("{}{path}", self.base))
    }

    /// A GET of an absolute URL (a page's, from a `link` header) with GitHub's headers and
    /// the token.
    pub fn get_url(&self, url: impl Into<String>) -> Request {
        http::get(url)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .auth(Auth::bearer(TOKEN))
    }

    /// Sends one request: a 2xx or 304 answer, or an error that says what GitHub meant.
    pub fn send(&self, request: &Request) -> Result<Response> {
        request
            .send()
            .and_then(Response::error_for_status)
            .map_err(explain)
    }

    /// Walks a listing 100 items a page, following `link: rel="next"`, until `each` returns
    /// `false` (no further page is fetched then) or the pages run out.
    pub fn walk(&self, first: Request, mut each: impl FnMut(Value) -> Result<bool>) -> Result<()> {
        for page in http::pages(first.query("per_page", PER_PAGE)) {
            for item in page.map_err(explain)?.json::<Vec<Value>>()? {
                if !each(item)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// What GitHub's 401 and 403 mean for this connector. GitHub's rate limits (a 403 or 429
/// with `retry-after`, or `x-ratelimit-remaining: 0`) never arrive here as permission
/// errors: the host waits them out, or ends the call as rate-limited when the wait is longer
/// than the run has left.
fn explain(error: Error) -> Error {
    match error {
        Error::Auth(m) => Error::Auth(format!(
            "GitHub rejected the token `{TOKEN}`: {m}. Check that it is valid and not expired"
        )),
        Error::Permission(m) => Error::Permission(format!(
            "GitHub refused the token `{TOKEN}`: {m}. It needs read access to the organisation's \
             members, teams, repositories, pull requests and contents (classic tokens: `read:org` and `repo`)"
        )),
        other => other,
    }
}

/// The string field `field` of a GitHub object.
pub fn text<'a>(item: &'a Value, field: &str) -> Result<&'a str> {
    item.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Upstream(format!("GitHub sent an object without `{field}`")))
}

/// The number field `field` of a GitHub object, such as an id.
pub fn number(item: &Value, field: &str) -> Result<u64> {
    item.get(field).and_then(Value::as_u64).ok_or_else(|| {
        Error::Upstream(format!("GitHub sent an object without a numeric `{field}`"))
    })
}

/// A 404 on an organisation's own URLs means the organisation is not there (or the token
/// cannot see it, which GitHub does not tell apart).
pub fn org_not_found(error: Error, org: &str, github: &GitHub) -> Error {
    match error {
        Error::Upstream(message) if message.contains(" answered 404") => Error::Config(format!(
            "GitHub organisation `{org}` not found at {}: check `org` and `api_base_url`",
            github.base()
        )),
        other => other,
    }
}
