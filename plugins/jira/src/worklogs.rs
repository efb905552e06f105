//! Worklogs changed since the cursor: the ids from `/rest/api/3/worklog/updated`, then
//! the worklogs themselves from `/rest/api/3/worklog/list`, 1000 at a time.

use serde::Deserialize;
use serde_json::{Value, json};
use sluice_sdk::{Result, log, records, state};

use sluice_sdk::http::Client;

/// Epoch milliseconds up to which worklog changes were emitted.
const CURSOR: &str = "worklogs_since";
/// The most ids `worklog/list` takes at once.
const LIST_MAX: usize = 1000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Updated {
    values: Vec<Change>,
    until: u64,
    last_page: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    worklog_id: u64,
}

/// Emits the worklogs changed since the cursor.
pub fn sync(jira: &Client) -> Result<()> {
    let mut since: u64 = state::get(CURSOR).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut emitted = 0usize;
    loop {
        let page: Updated = jira
            .send(
                &jira
                    .get("/rest/api/3/worklog/updated")
                    .query("since", since),
            )?
            .json()?;
        let ids: Vec<u64> = page.values.iter().map(|c| c.worklog_id).collect();
        for chunk in ids.chunks(LIST_MAX) {
            let worklogs: Vec<Value> = jira
                .send(
                    &jira
                        .post("/rest/api/3/worklog/list")
                        .json(&json!({ "ids": chunk }))?,
                )?
                .json()?;
            for worklog in worklogs {
                let id = match worklog.get("id") {
                    Some(Value::String(id)) => id.clone(),
                    Some(other) => other.to_string(),
                    None => continue,
                };
                records::emit_one("worklogs", id, &worklog)?;
                emitted += 1;
            }
        }
        // Moving the cursor page by page keeps what was emitted if a later page fails.
        since = page.until.max(since);
        state::set(CURSOR, &since.to_string());
        if page.last_page || page.values.is_empty() {
            break;
        }
    }
    log::info!("worklogs: {emitted} emitted"; stream = "worklogs", count = emitted);
    Ok(())
}
