//! Issues of the configured projects, via the enhanced search (`/rest/api/3/search/jql`,
//! paged by `nextPageToken` / `isLast`), incremental on `updated`.

use serde::Deserialize;
use serde_json::Value;
use sluice_sdk::{Error, Result, log, records, state};

use crate::config::Config;
use crate::times;
use sluice_sdk::http::Client;

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
pub fn sync(jira: &Client, config: &Config) -> Result<()> {
    let cursor = state::get(CURSOR);
    let query = jql(config, cursor.as_deref());
    let mut token: Option<String> = None;
    let cursor_at = cursor.as_deref().and_then(times::instant);
    let mut newest = cursor.clone().zip(cursor_at).map(|(text, at)| (at, text));
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
        let response = request.send()?;
        // Jira answers JQL it cannot run — a bad `jql`, a project that does not exist — with 400.
        if response.status == 400 {
            return Err(Error::Config(format!(
                "Jira refused the search of `projects` and `jql` (400 {}): check `jql`",
                response.service_message()
            )));
        }
        let page: Page = jira.check(response)?.json()?;
        for issue in page.issues {
            let key = issue
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let updated = issue
                .pointer("/fields/updated")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let at = times::instant(&updated).ok_or_else(|| {
                Error::Upstream(format!(
                    "Jira sent issue {key} with `updated` {updated:?}, not a time"
                ))
            })?;
            if cursor_at.is_some_and(|c| at <= c) {
                continue;
            }
            records::emit_one("issues", key, &issue)?;
            emitted += 1;
            if newest.as_ref().is_none_or(|(n, _)| at > *n) {
                newest = Some((at, updated));
            }
        }
        match (page.is_last, page.next_page_token) {
            (Some(false) | None, Some(next)) => token = Some(next),
            _ => break,
        }
    }
    if let Some((_, newest)) = newest {
        state::set(CURSOR, &newest);
    }
    log::info!("issues: {emitted} emitted"; stream = "issues", count = emitted);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(jql: Option<&str>) -> Config {
        Config {
            site_url: "https://acme.atlassian.net".into(),
            email: "bot@acme.example".into(),
            projects: vec!["ENG".into(), "O\"PS".into()],
            jql: jql.map(str::to_owned),
        }
    }

    #[test]
    fn the_query_names_the_projects_and_orders_by_update() {
        assert_eq!(
            jql(&config(None), None),
            r#"project in ("ENG", "OPS") ORDER BY updated ASC"#
        );
    }

    #[test]
    fn the_cursor_is_compared_to_the_minute_and_extra_jql_is_bracketed() {
        assert_eq!(
            jql(
                &config(Some("labels = x OR labels = y")),
                Some("2026-01-01T10:30:59.123+0000")
            ),
            r#"project in ("ENG", "OPS") AND (labels = x OR labels = y) AND updated >= "2026-01-01 10:30" ORDER BY updated ASC"#
        );
        assert!(!jql(&config(Some("  ")), None).contains("AND"));
    }
}
