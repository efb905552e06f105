//! A fake Jira Cloud site on 127.0.0.1: projects with issues, users, agile boards with
//! sprints and worklogs, answered with Jira's shapes and paging — `nextPageToken`/`isLast`
//! for the enhanced JQL search, `startAt`/`maxResults`/`isLast` for the agile API, `since`/
//! `until`/`lastPage` for updated worklogs — Basic auth, `errorMessages` and `Retry-After`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::lock;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z in milliseconds.
const EPOCH_MS: u64 = 1_767_225_600_000;

/// How many of each entity the fake holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// Issues in all projects.
    pub issues: usize,
    /// Users.
    pub users: usize,
    /// Boards.
    pub boards: usize,
    /// Sprints.
    pub sprints: usize,
    /// Worklogs.
    pub worklogs: usize,
}

struct Data {
    authorization: String,
    issues: Vec<Value>,
    users: Vec<Value>,
    boards: Vec<Value>,
    sprints: Vec<Value>,
    worklogs: Vec<(u64, Value)>,
    minute: u64,
    rate_limit_once: bool,
    requests: Vec<String>,
}

type Shared = Arc<Mutex<Data>>;

/// The offset of the account's time zone (`Europe/Berlin` in January), in minutes: Jira
/// writes times, and reads JQL dates, in the user's time zone.
const USER_OFFSET_MINUTES: u64 = 60;

/// `minute` minutes after the epoch as Jira writes times, in the user's time zone:
/// `2026-01-01T01:05:00.000+0100` for 00:05 UTC.
fn jira_time(minute: u64) -> String {
    let local = minute + USER_OFFSET_MINUTES;
    format!(
        "2026-01-{:02}T{:02}:{:02}:00.000+{:02}{:02}",
        1 + local / 1440,
        local % 1440 / 60,
        local % 60,
        USER_OFFSET_MINUTES / 60,
        USER_OFFSET_MINUTES % 60
    )
}

impl Data {
    fn tick(&mut self) -> u64 {
        self.minute += 1;
        self.minute
    }

    fn add_issue(&mut self, project: &str) {
        let minute = self.tick();
        let number = self
            .issues
            .iter()
            .filter(|i| i["fields"]["project"]["key"] == project)
            .count()
            + 1;
        let id = 10_000 + self.issues.len();
        let assignee = &self.users[number % self.users.len()];
        self.issues.push(json!({
            "expand": "renderedFields,names,schema,operations", "id": id.to_string(),
            "self": format!("https://acme.atlassian.net/rest/api/3/issue/{id}"), "key": format!("{project}-{number}"),
            "fields": {
                "summary": format!("Task {number} of {project}"),
                "project": { "key": project, "name": project, "id": if project == "ENG" { "10000" } else { "10001" } },
                "issuetype": { "name": "Task", "id": "10002" }, "status": { "name": "In Progress", "id": "3" },
                "assignee": { "accountId": assignee["accountId"], "displayName": assignee["displayName"] },
                "created": jira_time(minute), "updated": jira_time(minute),
                "timetracking": {}
            }
        }));
    }

    fn add_worklog(&mut self, issue: usize) {
        let minute = self.tick();
        let id = 100_000 + self.worklogs.len() as u64;
        let author = &self.users[issue % self.users.len()];
        let issue_id = self.issues[issue]["id"].clone();
        let worklog = json!({
            "id": id.to_string(), "issueId": issue_id,
            "self": format!("https://acme.atlassian.net/rest/api/3/issue/{issue_id}/worklog/{id}"),
            "author": { "accountId": author["accountId"], "displayName": author["displayName"], "active": true },
            "updateAuthor": { "accountId": author["accountId"], "displayName": author["displayName"], "active": true },
            "comment": { "type": "doc", "version": 1, "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": "Worked on it." }] }] },
            "started": jira_time(minute), "created": jira_time(minute), "updated": jira_time(minute),
            "timeSpent": "1h 30m", "timeSpentSeconds": 5400
        });
        self.worklogs.push((EPOCH_MS + minute * 60_000, worklog));
    }
}

/// A running fake Jira site.
pub struct FakeJira {
    port: u16,
    data: Shared,
}

impl FakeJira {
    /// Starts a site accepting `email` with `token`: projects ENG (130 issues: two search
    /// pages) and OPS (5), 120 users (two pages), a scrum board with 55 sprints (two pages)
    /// and a kanban board, and 30 worklogs.
    pub async fn start(email: &str, token: &str) -> anyhow::Result<FakeJira> {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"));
        let mut data = Data {
            authorization: format!("Basic {credentials}"),
            issues: Vec::new(),
            users: (0..120)
                .map(|i| json!({
                    "accountId": format!("5b10ac8d82e05b22cc7d{i:04}"), "accountType": "atlassian", "active": true,
                    "displayName": format!("Person {i}"), "emailAddress": format!("person{i}@acme.example"),
                    "self": format!("https://acme.atlassian.net/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d{i:04}"),
                    "timeZone": "Europe/Berlin"
                }))
                .collect(),
            boards: vec![
                json!({ "id": 84, "self": "https://acme.atlassian.net/rest/agile/1.0/board/84", "name": "ENG board", "type": "scrum" }),
                json!({ "id": 92, "self": "https://acme.atlassian.net/rest/agile/1.0/board/92", "name": "OPS board", "type": "kanban" }),
            ],
            sprints: (0..55)
                .map(|i| json!({
                    "id": 300 + i, "self": format!("https://acme.atlassian.net/rest/agile/1.0/sprint/{}", 300 + i),
                    "state": if i < 54 { "closed" } else { "active" }, "name": format!("Sprint {i}"),
                    "startDate": "2025-04-11T15:22:00.000+10:00", "endDate": "2025-04-20T01:22:00.000+10:00",
                    "originBoardId": 84, "goal": format!("Goal {i}")
                }))
                .collect(),
            worklogs: Vec::new(),
            minute: 0,
            rate_limit_once: false,
            requests: Vec::new(),
        };
        for _ in 0..130 {
            data.add_issue("ENG");
        }
        for _ in 0..5 {
            data.add_issue("OPS");
        }
        for i in 0..30 {
            data.add_worklog(i * 4);
        }
        // The seed is older than the minute `worklog/updated` holds back.
        data.minute += 2;
        let data = Arc::new(Mutex::new(data));
        let app = Router::new()
            .route("/rest/api/3/myself", get(myself))
            .route("/rest/api/3/search/jql", get(search))
            .route("/rest/api/3/users/search", get(users))
            .route("/rest/agile/1.0/board", get(boards))
            .route("/rest/agile/1.0/board/{id}/sprint", get(sprints))
            .route("/rest/api/3/worklog/updated", get(worklogs_updated))
            .route("/rest/api/3/worklog/list", post(worklogs_list))
            .layer(axum::middleware::from_fn_with_state(data.clone(), gate))
            .with_state(data.clone());
        let port = super::serve(app).await?;
        Ok(FakeJira { port, data })
    }

    /// The site URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// New activity: ENG-1 is updated, OPS-6 is created, a worklog is logged on ENG-2.
    pub fn add_activity(&self) {
        let mut data = lock(&self.data);
        let minute = data.tick();
        data.issues[0]["fields"]["updated"] = Value::from(jira_time(minute));
        data.add_issue("OPS");
        data.add_worklog(1);
    }

    /// Lets `minutes` pass on the site's clock, so changes leave the minute that
    /// `worklog/updated` holds back.
    pub fn pass_minutes(&self, minutes: u64) {
        lock(&self.data).minute += minutes;
    }

    /// Makes the next request answer 429 with `Retry-After: 1`.
    pub fn set_rate_limit_once(&self) {
        lock(&self.data).rate_limit_once = true;
    }

    /// The path and query of every request, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.data).requests.clone()
    }

    /// Deletes sprint `id`, as `DELETE /rest/agile/1.0/sprint/{id}` does: its board no
    /// longer lists it. False when there is no such sprint.
    pub fn delete_sprint(&self, id: u64) -> bool {
        let mut data = lock(&self.data);
        let before = data.sprints.len();
        data.sprints.retain(|sprint| sprint["id"] != id);
        data.sprints.len() < before
    }

    /// How many of each entity the fake holds now.
    pub fn expected(&self) -> Expected {
        let data = lock(&self.data);
        Expected {
            issues: data.issues.len(),
            users: data.users.len(),
            boards: data.boards.len(),
            sprints: data.sprints.len(),
            worklogs: data.worklogs.len(),
        }
    }
}

fn errors(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "errorMessages": [message], "errors": {} })),
    )
        .into_response()
}

async fn gate(State(data): State<Shared>, request: Request, next: Next) -> Response {
    let (authorised, limited) = {
        let mut data = lock(&data);
        data.requests.push(
            request
                .uri()
                .path_and_query()
                .map(ToString::to_string)
                .unwrap_or_default(),
        );
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let authorised = presented == Some(data.authorization.as_str());
        let limited = authorised && std::mem::take(&mut data.rate_limit_once);
        (authorised, limited)
    };
    if !authorised {
        // Jira Cloud answers bad Basic credentials with a bare 401.
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"protected-area\"")],
            "Client must be authenticated to access this resource.",
        )
            .into_response();
    }
    if limited {
        let mut response = errors(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded.");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    next.run(request).await
}

type Q = Query<BTreeMap<String, String>>;

fn number(q: &BTreeMap<String, String>, name: &str, default: usize) -> usize {
    q.get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn myself(State(data): State<Shared>) -> Json<Value> {
    Json(lock(&data).users[0].clone())
}

/// What the fake understands of JQL: clauses joined by `AND` — `project in ("A", "B")`,
/// `project = A`, `updated >= "YYYY-MM-DD HH:mm"` (a time in the user's time zone), any of
/// them in parentheses — and `ORDER BY` `updated`, `created` or `key`, `ASC` or `DESC`.
#[derive(Debug, Default)]
struct Jql {
    projects: Option<Vec<String>>,
    /// The local minute, `YYYY-MM-DDTHH:mm`, comparable with the start of Jira's times.
    updated_from: Option<String>,
    order: Option<(String, bool)>,
}

/// Parses `text`, or says, as Jira's 400 does, what it could not understand.
fn parse_jql(text: &str) -> Result<Jql, String> {
    let mut jql = Jql::default();
    let upper = text.to_ascii_uppercase();
    let (filter, order) = match upper.find(" ORDER BY ") {
        Some(at) => (&text[..at], Some(&text[at + " ORDER BY ".len()..])),
        None => (text, None),
    };
    if let Some(order) = order {
        let mut words = order.split_whitespace();
        let field = words.next().unwrap_or_default().to_ascii_lowercase();
        let direction = words.next().map(str::to_ascii_uppercase);
        if !["updated", "created", "key"].contains(&field.as_str())
            || words.next().is_some()
            || direction
                .as_deref()
                .is_some_and(|d| d != "ASC" && d != "DESC")
        {
            return Err(format!(
                "Error in the JQL Query: the ORDER BY `{order}` is not understood."
            ));
        }
        jql.order = Some((field, direction.as_deref() == Some("DESC")));
    }
    for clause in filter.split(" AND ") {
        let clause = clause.trim();
        let clause = clause
            .strip_prefix('(')
            .and_then(|c| c.strip_suffix(')'))
            .unwrap_or(clause)
            .trim();
        if let Some(list) = clause
            .strip_prefix("project in (")
            .and_then(|rest| rest.strip_suffix(')'))
        {
            jql.projects = Some(
                list.split(',')
                    .map(|p| p.trim().trim_matches('"').to_owned())
                    .collect(),
            );
        } else if let Some(key) = clause.strip_prefix("project = ") {
            jql.projects = Some(vec![key.trim_matches('"').to_owned()]);
        } else if let Some(minute) = clause
            .strip_prefix("updated >= \"")
            .and_then(|rest| rest.strip_suffix('"'))
            .filter(|m| m.len() == 16 && m.as_bytes()[10] == b' ')
        {
            jql.updated_from = Some(minute.replace(' ', "T"));
        } else {
            return Err(format!(
                "Error in the JQL Query: Expecting a field, an operator and a value but got '{clause}'."
            ));
        }
    }
    Ok(jql)
}

impl Jql {
    fn matches(&self, issue: &Value) -> bool {
        let in_project = self.projects.as_ref().is_none_or(|projects| {
            issue["fields"]["project"]["key"]
                .as_str()
                .is_some_and(|k| projects.iter().any(|p| p == k))
        });
        // Times are written in the user's zone, as the JQL date is read: compare the minutes.
        let updated = issue["fields"]["updated"].as_str().unwrap_or_default();
        in_project
            && self
                .updated_from
                .as_deref()
                .is_none_or(|from| &updated[..16] >= from)
    }
}

async fn search(State(data): State<Shared>, Query(q): Q) -> Response {
    let data = lock(&data);
    let Some(text) = q.get("jql") else {
        return errors(StatusCode::BAD_REQUEST, "The JQL query is missing.");
    };
    let jql = match parse_jql(text) {
        Ok(jql) => jql,
        Err(message) => return errors(StatusCode::BAD_REQUEST, &message),
    };
    // Without ORDER BY, in the order the issues were created: not by update.
    let mut found: Vec<&Value> = data.issues.iter().filter(|i| jql.matches(i)).collect();
    if let Some((field, descending)) = &jql.order {
        let sort_key = |issue: &Value| -> (String, u64) {
            match field.as_str() {
                "key" => {
                    let key = issue["key"].as_str().unwrap_or_default();
                    let (project, number) = key.split_once('-').unwrap_or((key, "0"));
                    (project.to_owned(), number.parse().unwrap_or_default())
                }
                name => (
                    issue["fields"][name]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    0,
                ),
            }
        };
        found.sort_by_key(|issue| sort_key(issue));
        if *descending {
            found.reverse();
        }
    }
    let max = number(&q, "maxResults", 50).clamp(1, 100);
    let start = q
        .get("nextPageToken")
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let page: Vec<&Value> = found.iter().skip(start).take(max).copied().collect();
    let is_last = start + max >= found.len();
    let mut body = json!({ "issues": page, "isLast": is_last });
    if !is_last {
        body["nextPageToken"] = Value::from(format!("page-{}", start + max));
    }
    Json(body).into_response()
}

async fn users(State(data): State<Shared>, Query(q): Q) -> Json<Value> {
    let data = lock(&data);
    let start = number(&q, "startAt", 0);
    let max = number(&q, "maxResults", 50).clamp(1, 100);
    Json(Value::from(
        data.users
            .iter()
            .skip(start)
            .take(max)
            .cloned()
            .collect::<Vec<_>>(),
    ))
}

fn agile_page(values: &[Value], q: &BTreeMap<String, String>) -> Json<Value> {
    let start = number(q, "startAt", 0);
    let max = number(q, "maxResults", 50).clamp(1, 50);
    let page: Vec<Value> = values.iter().skip(start).take(max).cloned().collect();
    Json(
        json!({ "maxResults": max, "startAt": start, "total": values.len(), "isLast": start + max >= values.len(), "values": page }),
    )
}

async fn boards(State(data): State<Shared>, Query(q): Q) -> Json<Value> {
    agile_page(&lock(&data).boards, &q)
}

async fn sprints(State(data): State<Shared>, Path(id): Path<u64>, Query(q): Q) -> Response {
    let data = lock(&data);
    match data
        .boards
        .iter()
        .find(|b| b["id"] == id)
        .and_then(|b| b["type"].as_str())
    {
        Some("scrum") => agile_page(&data.sprints, &q).into_response(),
        Some(_) => errors(
            StatusCode::BAD_REQUEST,
            "The board does not support sprints",
        ),
        None => errors(
            StatusCode::NOT_FOUND,
            "Board does not exist or you do not have permission to see it.",
        ),
    }
}

/// `GET /rest/api/3/worklog/updated`: worklogs changed after `since`, up to 1000 a page,
/// without those of the last minute, which Jira holds back until they are older.
async fn worklogs_updated(State(data): State<Shared>, Query(q): Q) -> Json<Value> {
    const PAGE: usize = 1000;
    let data = lock(&data);
    let since = q
        .get("since")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let now = EPOCH_MS + data.minute * 60_000;
    let mut changed: Vec<&(u64, Value)> = data
        .worklogs
        .iter()
        .filter(|(time, _)| *time > since && *time <= now.saturating_sub(60_000))
        .collect();
    changed.sort_by_key(|(time, _)| *time);
    let page: Vec<&(u64, Value)> = changed.iter().take(PAGE).copied().collect();
    let until = page.last().map_or(since, |(time, _)| *time);
    let values: Vec<Value> = page
        .iter()
        .map(|(time, w)| json!({ "worklogId": w["id"].as_str().and_then(|i| i.parse::<u64>().ok()), "updatedTime": time, "properties": [] }))
        .collect();
    Json(json!({
        "values": values, "since": since, "until": until, "lastPage": changed.len() <= PAGE,
        "self": format!("https://acme.atlassian.net/rest/api/3/worklog/updated?since={since}"),
        "nextPage": format!("https://acme.atlassian.net/rest/api/3/worklog/updated?since={until}")
    }))
}

async fn worklogs_list(State(data): State<Shared>, Json(body): Json<Value>) -> Response {
    let Some(ids) = body.get("ids").and_then(Value::as_array) else {
        return errors(StatusCode::BAD_REQUEST, "ids: must not be null");
    };
    if ids.len() > 1000 {
        return errors(
            StatusCode::BAD_REQUEST,
            "The number of worklog IDs must be at most 1000.",
        );
    }
    let data = lock(&data);
    let found: Vec<Value> = data
        .worklogs
        .iter()
        .filter(|(_, w)| {
            ids.iter()
                .any(|id| id.as_u64().map(|n| n.to_string()).as_deref() == w["id"].as_str())
        })
        .map(|(_, w)| w.clone())
        .collect();
    Json(Value::from(found)).into_response()
}
