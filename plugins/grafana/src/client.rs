//! Grafana's HTTP API with the service-account token.

use serde_json::Value;
use sluice_sdk::Result;
use sluice_sdk::http::{Auth, Client};

/// The secret holding the service-account token, as the manifest requests it.
const TOKEN: &str = "grafana_token";
/// Dashboards per search page.
const SEARCH_PAGE: usize = 1000;

/// A client for the Grafana at `base_url`, and what its 401 and 403 mean.
pub fn client(base_url: &str) -> Client {
    let base = base_url.trim_end_matches('/');
    Client::new(base)
        .accept("application/json")
        .auth(Auth::bearer(TOKEN))
        .on_unauthorized(
            format!("Grafana at {base} rejected the service-account token `{TOKEN}`"),
            "",
        )
        .on_forbidden(
            format!("Grafana at {base} refused the service account"),
            "give it the Viewer role and alert rule read access",
        )
}

/// Every dashboard, from the search API, page by page.
pub fn dashboards(grafana: &Client) -> Result<Vec<Value>> {
    let mut all = Vec::new();
    for page in 1.. {
        let request = grafana
            .get("/api/search")
            .query("type", "dash-db")
            .query("limit", SEARCH_PAGE)
            .query("page", page);
        let found: Vec<Value> = grafana.send(&request)?.json()?;
        let last = found.len() < SEARCH_PAGE;
        all.extend(found);
        if last {
            break;
        }
    }
    Ok(all)
}
