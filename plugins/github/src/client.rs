//! GitHub's REST API: its headers, its pagination, and what its errors mean.

use serde_json::Value;
use sluice_sdk::http::{Auth, Client, Request};
use sluice_sdk::{Error, Result};

/// The secret holding the token, as the manifest requests it.
const TOKEN: &str = "github_token";
/// The most items GitHub returns in one page; fewer pages cost fewer requests.
pub const PER_PAGE: usize = 100;

/// A client for one GitHub API base URL (`https://api.github.com`, or a GHES `…/api/v3`).
///
/// GitHub's rate limits (a 403 or 429 with `retry-after`, or `x-ratelimit-remaining: 0`)
/// never arrive as permission errors: the host waits them out, or ends the call as
/// rate-limited when the wait is longer than the run has left.
pub fn client(base: &str) -> Client {
    Client::new(base)
        .accept("application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .auth(Auth::bearer(TOKEN))
        .on_unauthorized(
            format!("GitHub rejected the token `{TOKEN}`"),
            "check that it is valid and not expired",
        )
        .on_forbidden(
            format!("GitHub refused the token `{TOKEN}`"),
            "it needs read access to the organisation's members, teams, repositories, pull \
             requests and contents (classic tokens: `read:org` and `repo`)",
        )
}

/// Walks a listing 100 items a page, following `link: rel="next"`, until `each` returns
/// `false` (no further page is fetched then) or the pages run out.
pub fn walk(
    github: &Client,
    first: Request,
    mut each: impl FnMut(Value) -> Result<bool>,
) -> Result<()> {
    for page in github.pages(first.query("per_page", PER_PAGE)) {
        for item in page?.json::<Vec<Value>>()? {
            if !each(item)? {
                return Ok(());
            }
        }
    }
    Ok(())
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
pub fn org_not_found(error: Error, org: &str, github: &Client) -> Error {
    match error.status() {
        Some(404) => Error::Config(format!(
            "GitHub organisation `{org}` not found at {}: check `org` and `api_base_url`",
            github.base()
        )),
        _ => error,
    }
}
