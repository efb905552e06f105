//! Requests to Grafana's HTTP API with the service-account token.

use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_sdk::http::{self, Auth, Request};
use sluice_sdk::{Error, Result};

/// The secret holding the service-account token, as the manifest requests it.
const TOKEN: &str = "grafana_token";
/// Dashboards per search page.
const SEARCH_PAGE: usize = 1000;

/// A client for one Grafana.
pub struct Grafana {
    base: String,
}

impl Grafana {
    /// A client for `base_url`.
    pub fn new(base_url: &str) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// A GET of `path` (which may carry its own query) with the token.
    pub fn get(&self, path: &str) -> Request {
        http::get(format!("{}{path}", self.base))
            .header("accept", "application/json")
            .auth(Auth::bearer(TOKEN))
    }

    /// Sends a request and parses the answer, turning Grafana's errors into words.
    pub fn send_json<T: DeserializeOwned>(&self, request: Request) -> Result<T> {
        let response = request.send()?;
        match response.status {
            401 => Err(Error::Auth(format!(
                "Grafana at {} rejected the service-account token `{TOKEN}` (401 {})",
                self.base,
                response.service_message()
            ))),
            403 => Err(Error::Permission(format!(
                "Grafana at {} refused the service account (403 {}): give it the Viewer role and alert rule read access",
                self.base,
                response.service_message()
            ))),
            _ => response.error_for_status()?.json(),
        }
    }

    /// GET `path` as JSON.
    pub fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send_json(self.get(path))
    }

    /// Every dashboard, from the search API, page by page.
    pub fn dashboards(&self) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        for page in 1.. {
            let request = self
                .get("/api/search")
                .query("type", "dash-db")
                .query("limit", SEARCH_PAGE)
                .query("page", page);
            let found: Vec<Value> = self.send_json(request)?;
            let last = found.len() < SEARCH_PAGE;
            all.extend(found);
            if last {
                break;
            }
        }
        Ok(all)
    }
}
