//! Listings walked with conditional requests, page by page, for services that have no
//! "changed since" for a listing but answer a page whose ETag still matches with a 304
//! (GitHub's members, teams and repositories; a 304 costs nothing against its rate limit).
//!
//! ```ignore
//! let listing = Listing::fetch(&github, github.get("/orgs/acme/members").query("per_page", 100),
//!     100, "pages:members", &[])?;
//! for member in &listing.changed { records::emit_one("members", text(member, "login")?, member)?; }
//! listing.save()?;
//! ```
//!
//! Every page keeps its own ETag in state: a change lands on whichever page it sorts into,
//! often not the first, so the first page's ETag alone would hide it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::http::{Client, Request};
use crate::{Result, state};

/// What a page held when it was last fetched.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageTag {
    /// The page's URL, as the previous page's `link` gave it.
    url: String,
    /// Its ETag, if the service sent one.
    etag: Option<String>,
    /// How many items it held.
    count: usize,
    /// The remembered fields of each of its items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    remembered: Vec<Value>,
}

impl PageTag {
    /// Whether this stored page stands for the page at `url` as this run wants it kept: same
    /// place and URL, and every item's fields remembered when they are asked for (state
    /// written before they were asked for has none, so such a page is fetched whole again).
    fn stands_for(&self, url: &str, remember: &[&str]) -> bool {
        self.url == url && (remember.is_empty() || self.remembered.len() == self.count)
    }
}

/// An object with only `fields` of `item`.
fn project(item: &Value, fields: &[&str]) -> Value {
    let kept: Map<String, Value> = fields
        .iter()
        .filter_map(|field| Some(((*field).to_owned(), item.get(*field)?.clone())))
        .collect();
    Value::Object(kept)
}

/// A listing as this run found it.
#[derive(Debug)]
pub struct Listing {
    state_key: String,
    pages: Vec<PageTag>,
    changed_pages: usize,
    /// The items of the pages that changed since the last run: every item on a first run.
    pub changed: Vec<Value>,
}

impl Listing {
    /// Walks the listing whose first page `first` asks for, following `link: rel="next"`,
    /// asking each page only if it changed since the ETag kept under `state_key`.
    /// `page_size` is the most items a page holds (what `first` asked for): a full last
    /// page may have gained a page after it. `remember` names fields kept in state for every
    /// item, changed or not, for a caller that needs them on every run ([`Listing::remembered`]);
    /// they cost state in proportion to the listing, so only where needed.
    pub fn fetch(
        client: &Client,
        first: Request,
        page_size: usize,
        state_key: &str,
        remember: &[&str],
    ) -> Result<Self> {
        let stored: Vec<PageTag> = state::get_json(state_key)?.unwrap_or_default();
        let mut listing = Self {
            state_key: state_key.to_owned(),
            pages: Vec::new(),
            changed_pages: 0,
            changed: Vec::new(),
        };
        let mut next = Some(first.url());
        while let Some(url) = next.take() {
            let index = listing.pages.len();
            let known = stored
                .get(index)
                .filter(|tag| tag.stands_for(&url, remember));
            let mut request = first.with_url(&url);
            if let Some(etag) = known.and_then(|tag| tag.etag.as_deref()) {
                request = request.header("if-none-match", etag);
            }
            let mut response = client.send(&request)?;
            if response.status == 304
                && let Some(tag) = known
            {
                // A service may leave pagination headers off a 304 (GitHub does); the page
                // is as it was, so the page after it is too.
                next = response
                    .next_link()
                    .or_else(|| stored.get(index + 1).map(|after| after.url.clone()));
                if next.is_some() || tag.count < page_size {
                    listing.pages.push(tag.clone());
                    continue;
                }
                // An exactly full last page may have gained a page after it, which its 304
                // does not show: ask for it again, unconditionally, to read its `link`.
                response = client.send(&first.with_url(&url))?;
            }
            let etag = response.header("etag").map(str::to_owned);
            next = response.next_link();
            let items: Vec<Value> = response.json()?;
            let remembered = if remember.is_empty() {
                Vec::new()
            } else {
                items.iter().map(|item| project(item, remember)).collect()
            };
            let same = etag.is_some() && known.is_some_and(|tag| tag.etag == etag);
            if !same {
                listing.changed_pages += 1;
                listing.changed.extend(items.iter().cloned());
            }
            listing.pages.push(PageTag {
                url,
                etag,
                count: items.len(),
                remembered,
            });
        }
        Ok(listing)
    }

    /// The remembered fields of every item in the listing, changed or not, in the
    /// listing's order, as objects holding only those fields.
    pub fn remembered(&self) -> impl Iterator<Item = &Value> {
        self.pages.iter().flat_map(|page| page.remembered.iter())
    }

    /// How many items the listing has, changed or not.
    pub fn total(&self) -> usize {
        self.pages.iter().map(|page| page.count).sum()
    }

    /// How many pages the listing has, and how many of them changed since the last run.
    pub fn pages(&self) -> (usize, usize) {
        (self.pages.len(), self.changed_pages)
    }

    /// Keeps the pages' ETags for the next run. Call it once the changed items were emitted,
    /// so a page is never marked seen before its records are.
    pub fn save(&self) -> Result<()> {
        state::set_json(&self.state_key, &self.pages)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn remembered_items_keep_only_the_fields_asked_for() {
        let repo = json!({ "full_name": "acme/widgets", "default_branch": "main", "size": 108 });
        assert_eq!(
            project(&repo, &["full_name", "default_branch", "missing"]),
            json!({ "full_name": "acme/widgets", "default_branch": "main" })
        );
    }

    #[test]
    fn a_stored_page_without_the_fields_asked_for_is_fetched_again() {
        let tag = PageTag {
            url: "https://api.github.com/orgs/acme/repos?per_page=100".into(),
            etag: Some("W/\"1\"".into()),
            count: 2,
            remembered: Vec::new(),
        };
        assert!(tag.stands_for(&tag.url, &[]));
        assert!(!tag.stands_for(&tag.url, &["full_name"]));
        assert!(!tag.stands_for("https://api.github.com/orgs/acme/repos?page=2", &[]));
        let remembered = PageTag {
            remembered: vec![json!({ "full_name": "a" }), json!({ "full_name": "b" })],
            ..tag
        };
        assert!(remembered.stands_for(&remembered.url, &["full_name"]));
    }
}
