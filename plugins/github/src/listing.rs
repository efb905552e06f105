//! Listings walked with conditional requests, page by page.
//!
//! GitHub has no "changed since" for an organisation's members, teams or repositories, but
//! it answers a page whose ETag still matches with a 304 that costs nothing against the rate
//! limit. Every page keeps its own ETag: a change lands on whichever page it sorts into,
//! often not the first, so the first page's ETag alone would hide it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_sdk::{Result, state};

use crate::client::{GitHub, PER_PAGE, text};

/// What a listing keeps of each page besides its ETag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remember {
    /// How many items it held: enough to tell whether a page may follow it.
    Count,
    /// The key (this field) of every item too, for a caller that needs every key, unchanged
    /// pages' included. It costs state in proportion to the listing, so only where needed.
    Keys(&'static str),
}

/// What a page held when it was last fetched.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PageTag {
    /// The page's URL, as the previous page's `link` gave it.
    url: String,
    /// Its ETag, if GitHub sent one.
    etag: Option<String>,
    /// How many items it held.
    count: usize,
    /// The keys of its items, with [`Remember::Keys`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    keys: Vec<String>,
}

/// A listing as this run found it.
pub struct Listing {
    state_key: String,
    pages: Vec<PageTag>,
    changed_pages: usize,
    /// The items of the pages that changed since the last run: every item on a first run.
    pub changed: Vec<Value>,
}

impl Listing {
    /// Walks the listing at `path`, 100 items a page, asking each page only if it changed
    /// since the ETag kept under `state_key`.
    pub fn fetch(github: &GitHub, path: &str, state_key: &str, remember: Remember) -> Result<Self> {
        let stored: Vec<PageTag> = state::get_json(state_key)?.unwrap_or_default();
        let mut listing = Self {
            state_key: state_key.to_owned(),
            pages: Vec::new(),
            changed_pages: 0,
            changed: Vec::new(),
        };
        let mut next = Some(github.get(path).query("per_page", PER_PAGE).url());
        while let Some(url) = next.take() {
            let index = listing.pages.len();
            // A stored ETag is only good for the same page: same place, same URL.
            let known = stored.get(index).filter(|tag| tag.url == url);
            let mut request = github.get_url(&url);
            if let Some(etag) = known.and_then(|tag| tag.etag.as_deref()) {
                request = request.header("if-none-match", etag);
            }
            let mut response = github.send(&request)?;
            if response.status == 304
                && let Some(tag) = known
            {
                // GitHub may leave pagination headers off a 304; the page is as it was, so
                // the page after it is too.
                next = response
                    .next_link()
                    .or_else(|| stored.get(index + 1).map(|after| after.url.clone()));
                if next.is_some() || tag.count < PER_PAGE {
                    listing.pages.push(tag.clone());
                    continue;
                }
                // An exactly full last page may have gained a page after it, which its 304
                // does not show: ask for it again, unconditionally, to read its `link`.
                response = github.send(&github.get_url(&url))?;
            }
            let etag = response.header("etag").map(str::to_owned);
            next = response.next_link();
            let items: Vec<Value> = response.json()?;
            let keys = match remember {
                Remember::Count => Vec::new(),
                Remember::Keys(field) => items
                    .iter()
                    .map(|item| text(item, field).map(str::to_owned))
                    .collect::<Result<Vec<_>>>()?,
            };
            let count = items.len();
            let same = etag.is_some() && known.is_some_and(|tag| tag.etag == etag);
            if !same {
                listing.changed_pages += 1;
                listing.changed.extend(items);
            }
            listing.pages.push(PageTag {
                url,
                etag,
                count,
                keys,
            });
        }
        Ok(listing)
    }

    /// With [`Remember::Keys`], the key of every item in the listing, changed or not, in the
    /// listing's order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.pages
            .iter()
            .flat_map(|page| page.keys.iter().map(String::as_str))
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
