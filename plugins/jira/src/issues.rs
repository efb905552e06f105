//! Issues of the configured projects, via the enhanced search (`/rest/api/3/search/jql`,
//! paged by `nextPageToken` / `isLast`), incremental on `updated`.

use serde::Deserialize;
use serde_json::Value;
use sluice_sdk::{Result, log, records, state};

use crate::client::Jira;
use crate::config::Config;

/// The newest `updated` of the issues emitted so far, as Jira wrote it.
const CURSOR: &str = "issues_updated";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    issues: Vec<Value>,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    is_last: Option<bool>,
}

/// The JQL for the projects, the extra JQL and the cursor. JQL compares dates to the
/// minute, so issues of the cursor's minute come back and are skipped by full timestamp.
pub fn jql(config: &Config, cursor: Option<&str>) -> String {
    let projects: Vec<String> = config
        .projects
        .iter()
        .map(|p| format!("\"{}\"", p.replace('"', "")))
        .collect();
    let mut jql = format!("project in ({})", projects.join(", "));
    if let Some(extra) = config.jql.as_deref().filter(|j| !j.trim().is_empty()) {
        jql.push_str(&format!(" AND ({extra})"));
    }
    if let Some(cursor) = cursor {
        // `2026-01-01T10:30:00.000+0000` → `2026-01-01 10:30`.
        let minute: String = cursor
            .chars()
            .take(16)
            .collect::<String>()
            .replace('T', " ");
        jql.push_str(&format!(" AND updated >= \"{minute}\""));
    }
    jql.push_str(" ORDER BY updated ASC");
    jql
}

/// Emits the issues updated since the cursor.
pub fn sync(jira: &Jira, config: &Config) -> Result<()> {
    let cursor = state::get(CURSOR);
    let query = jql(config, cursor.as_deref());
    let mut token: Option<String> = None;
    let mut newest = cursor.clone();
    let mut emitted = 0usize;
    loop {
        let mut request = jira
            .get("/rest/api/3/search/jql")
            .query("jql", &query)
            .query("maxResults", 100)
            .query("fields", "*all");
        if let Some(token) = &token {
            request = request.query("nextPageToken", token);
        }
        let page: Page = jira.send(request)?.json()?;
        for issue in page.issues {
            let updated = issue
                .pointer("/fields/updated")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if cursor.as_deref().is_some_and(|c| updated.as_str() <= c) {
                continue;
            }
            let key = issue
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            records::emit_one("issues", key, &issue)?;
            emitted += 1;
            if newest.as_deref().is_none_or(|n| updated.as_str() > n) {
                newest = Some(updated);
            }
        }
        match (page.is_last, page.next_page_token) {
            (Some(false) | None, Some(next)) => token = Some(next),
            _ => break,
        }
    }
    if let Some(newest) = newest {
        state::set(CURSOR, &newest);
    }
    log::info!("issues: {emitted} emitted"; stream = "issues", count = emitted);
    Ok(())
}
