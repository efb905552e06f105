//! Requests to GitHub's REST API: headers, pagination, conditional requests and GitHub's
//! way of saying what went wrong.

use serde::de::DeserializeOwned;
use sluice_sdk::http::{self, Auth, Request, Response};
use sluice_sdk::{Error, Result, state};

/// The secret holding the token, as the manifest requests it.
const TOKEN: &str = "github_token";
/// The most GitHub returns in one page.
const PER_PAGE: &str = "100";

/// A client for one GitHub API base URL.
pub struct GitHub {
    base: String,
}

/// What a conditional listing found.
pub enum Listing<T> {
    /// Nothing changed since the stored ETag.
    Unchanged,
    /// Every item, and the first page's ETag to store once they are emitted.
    Changed {
        /// The items.
        items: Vec<T>,
        /// The first page's ETag.
        etag: Option<String>,
    },
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

    /// A GET of `path` with GitHub's headers and the token.
    pub fn get(&self, path: &str) -> Request {
        http::get(format!("{}{path}", self.base))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .auth(Auth::bearer(TOKEN))
    }

    /// Walks a paginated listing 100 at a time, following `link: rel="next"`, until
    /// `each` returns `false` or the pages run out.
    pub fn walk<T: DeserializeOwned>(&self, first: Request, mut each: impl FnMut(T) -> Result<bool>) -> Result<()> {
        let mut next = Some(first.query("per_page", PER_PAGE));
        while let Some(request) = next.take() {
            let response = checked(request.send()?)?;
            let link = response.next_link();
            for item in response.json::<Vec<T>>()? {
                if !each(item)? {
                    return Ok(());
                }
            }
            next = link.map(|url| request.with_url(url));
        }
        Ok(())
    }

    /// Lists everything under `path` unless its first page still has the ETag stored under
    /// `etag_key`: a 304 costs nothing against GitHub's rate limit.
    pub fn list_if_changed<T: DeserializeOwned>(&self, path: &str, etag_key: &str) -> Result<Listing<T>> {
        let mut first = self.get(path).query("per_page", PER_PAGE);
        if let Some(etag) = state::get(etag_key) {
            first = first.header("if-none-match", etag);
        }
        let response = checked(first.send()?)?;
        if response.status == 304 {
            return Ok(Listing::Unchanged);
        }
        let etag = response.header("etag").map(str::to_owned);
        let mut items: Vec<T> = response.json()?;
        if let Some(url) = response.next_link() {
            self.walk(first.with_url(url), |item| {
                items.push(item);
                Ok(true)
            })?;
        }
        Ok(Listing::Changed { items, etag })
    }
}

/// The response if GitHub answered it well, else an error that says what GitHub said.
pub fn checked(response: Response) -> Result<Response> {
    let message = || response.service_message();
    match response.status {
        401 => Err(Error::Auth(format!(
            "GitHub rejected the token `{TOKEN}` (401 {}): check that it is valid and not expired",
            message()
        ))),
        403 | 429 if response.header("retry-after").is_some() || response.header("x-ratelimit-remaining") == Some("0") => {
            response.error_for_status().map_err(|e| match e {
                Error::RateLimited(seconds) => Error::RateLimited(seconds),
                // GitHub's primary limit without retry-after: wait for the reset.
                _ => Error::RateLimited(60),
            })
        }
        403 => Err(Error::Permission(format!(
            "GitHub refused the token `{TOKEN}` (403 {}): it needs read access to the organisation's members, teams, repositories and pull requests",
            message()
        ))),
        _ => response.error_for_status(),
    }
}
