//! Users (paged by `startAt`), boards and their sprints (paged by `startAt` / `isLast`).
//! Jira has no "changed since" for these, so they are listed whole each run.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;
use sluice_sdk::people::{self, Identity};
use sluice_sdk::{Result, log, records};

use sluice_sdk::http::Client;

const PAGE: usize = 100;

/// Emits the site's users and reports each as a Jira identity for the people directory.
pub fn users(jira: &Client) -> Result<()> {
    let mut start = 0usize;
    let mut emitted = 0usize;
    loop {
        let request = jira
            .get("/rest/api/3/users/search")
            .query("startAt", start)
            .query("maxResults", PAGE);
        let page: Vec<Value> = jira.send(&request)?.json()?;
        if page.is_empty() {
            break;
        }
        start += page.len();
        for user in page {
            let Some(account_id) = user.get("accountId").and_then(Value::as_str) else {
                continue;
            };
            if user.get("accountType").and_then(Value::as_str) == Some("atlassian") {
                people::observe(
                    &Identity::jira(account_id),
                    user.get("emailAddress").and_then(Value::as_str),
                    user.get("displayName").and_then(Value::as_str),
                );
            }
            records::emit_one("users", account_id, &user)?;
            emitted += 1;
        }
    }
    log::info!("users: {emitted} emitted"; stream = "users", count = emitted);
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Paged {
    values: Vec<Value>,
    #[serde(default)]
    is_last: Option<bool>,
}

/// Every value of an agile listing.
fn agile(jira: &Client, path: &str) -> Result<Vec<Value>> {
    let mut values = Vec::new();
    loop {
        let request = jira
            .get(path)
            .query("startAt", values.len())
            .query("maxResults", 50);
        let page: Paged = jira.send(&request)?.json()?;
        let got = page.values.len();
        values.extend(page.values);
        if page.is_last != Some(false) || got == 0 {
            return Ok(values);
        }
    }
}

/// Emits boards, and the sprints of the scrum boards (a sprint shared by boards once).
pub fn boards_and_sprints(jira: &Client) -> Result<()> {
    let boards = agile(jira, "/rest/agile/1.0/board")?;
    let mut sprints = BTreeSet::new();
    for board in &boards {
        let id = board.get("id").and_then(Value::as_u64).unwrap_or_default();
        records::emit_one("boards", id.to_string(), board)?;
        // Kanban boards have no sprints; Jira answers 400 for them.
        if board.get("type").and_then(Value::as_str) != Some("scrum") {
            continue;
        }
        let listed = agile(jira, &format!("/rest/agile/1.0/board/{id}/sprint"))
            .map_err(|e| e.context(format!("sprints of board {id}")))?;
        for sprint in listed {
            let sprint_id = sprint.get("id").and_then(Value::as_u64).unwrap_or_default();
            if sprints.insert(sprint_id) {
                records::emit_one("sprints", sprint_id.to_string(), &sprint)?;
            }
        }
    }
    log::info!("boards: {}, sprints: {}", boards.len(), sprints.len(); stream = "boards");
    Ok(())
}
