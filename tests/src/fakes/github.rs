//! A fake GitHub REST API on 127.0.0.1: an organisation with members, teams, repositories,
//! pull requests, reviews and commits, answered with GitHub's shapes, `link` pagination,
//! `x-ratelimit-*` headers, ETags and 304s, `since` and `sort=updated` as documented.
//!
//! The objects carry the fields of the examples in GitHub's OpenAPI description
//! (`simple-user`, `team`, `minimal-repository`, `pull-request-simple`, `pull-request-review`,
//! `commit`, `organization-full`), built here so the tests read nothing from outside the repo.
//! Its clock is its own: the seed starts at 2026-01-01T00:00:00Z and every change takes the
//! next minute, so runs are deterministic and later activity is always strictly newer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::lock;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// The organisation the fake holds.
pub const ORG: &str = "acme";

/// A rate limit the next request answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// GitHub's secondary limit: 403 with `retry-after: 1`.
    SecondaryRetryAfter,
    /// 429 with `retry-after: 1`.
    TooManyRequests,
    /// The primary limit: 403, `x-ratelimit-remaining: 0`, reset a second from now.
    PrimaryReset,
}

/// How many of each entity the fake holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expected {
    /// Organisation members.
    pub members: usize,
    /// Teams.
    pub teams: usize,
    /// Repositories.
    pub repositories: usize,
    /// Pull requests, all repositories.
    pub pull_requests: usize,
    /// Reviews, all pull requests.
    pub reviews: usize,
    /// Commits, all repositories.
    pub commits: usize,
}

struct Repo {
    json: Value,
    pulls: Vec<Value>,
    reviews: BTreeMap<u64, Vec<Value>>,
    /// Every commit of the repository, newest made first; the branch is what `head` reaches.
    commits: Vec<Value>,
    /// The sha the default branch points at; none while the repository is empty.
    head: Option<String>,
}

impl Repo {
    /// The commits reachable from `sha` through their parents, `sha` first; none for an
    /// unknown sha.
    fn reachable(&self, sha: &str) -> Vec<&Value> {
        let by_sha: BTreeMap<&str, &Value> = self
            .commits
            .iter()
            .filter_map(|c| Some((c["sha"].as_str()?, c)))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut found = Vec::new();
        let mut queue = std::collections::VecDeque::from([sha.to_owned()]);
        while let Some(next) = queue.pop_front() {
            let Some(commit) = by_sha.get(next.as_str()) else {
                continue;
            };
            if !seen.insert(next) {
                continue;
            }
            found.push(*commit);
            for parent in commit["parents"].as_array().into_iter().flatten() {
                if let Some(parent) = parent["sha"].as_str() {
                    queue.push_back(parent.to_owned());
                }
            }
        }
        found
    }
}

/// Newest committer date first, as GitHub lists a branch's commits.
fn by_date_newest_first(commits: &mut [&Value]) {
    commits.sort_by(|a, b| {
        b["commit"]["committer"]["date"]
            .as_str()
            .cmp(&a["commit"]["committer"]["date"].as_str())
    });
}

struct Data {
    token: String,
    members: Vec<Value>,
    teams: Vec<Value>,
    repos: Vec<Repo>,
    /// Minutes since the seed's epoch; every change takes the next minute.
    clock: u64,
    next_id: u64,
    rate_limit: Option<RateLimit>,
    requests: Vec<String>,
    /// Requests counted against the rate limit: every answer but a 304.
    used: u64,
}

/// A running fake GitHub.
pub struct FakeGitHub {
    port: u16,
    data: Arc<Mutex<Data>>,
}

/// Requests an hour a token gets, as GitHub's primary rate limit for a user.
const LIMIT: u64 = 5000;

/// 2026-01-01T00:00:00Z, the seed's first timestamp.
const EPOCH: u64 = 1_767_225_600;

fn timestamp(minute: u64) -> String {
    format_time(EPOCH + minute * 60)
}

/// The time `minutes` before the seed's first timestamp.
fn timestamp_before_seed(minutes: u64) -> String {
    format_time(EPOCH - minutes * 60)
}

fn format_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = super::civil_date(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A `simple-user`.
fn user(login: &str, id: u64) -> Value {
    let api = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": id, "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"), "gravatar_id": "",
        "url": api, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{api}/followers"), "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"), "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"), "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"), "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": "User", "site_admin": false
    })
}

/// The organisation as an `owner`: a `simple-user` of type `Organization`.
fn org_owner() -> Value {
    let mut owner = user(ORG, 1);
    owner["node_id"] = Value::from("O_kgDOAAAAAQ");
    owner["type"] = Value::from("Organization");
    owner
}

/// A `team`.
fn team(i: u64, slug: &str) -> Value {
    let id = 500 + i;
    json!({
        "id": id, "node_id": format!("T_kwDOAAAB{id}"), "url": format!("https://api.github.com/teams/{id}"),
        "html_url": format!("https://github.com/orgs/{ORG}/teams/{slug}"), "name": slug.to_uppercase(), "slug": slug,
        "description": format!("The {slug} team"), "privacy": "closed", "notification_setting": "notifications_enabled",
        "permission": "pull", "members_url": format!("https://api.github.com/teams/{id}/members{{/member}}"),
        "repositories_url": format!("https://api.github.com/teams/{id}/repos"), "parent": null
    })
}

/// A `minimal-repository`, as the organisation's repository listing shows it.
fn repository(id: u64, name: &str, now: &str) -> Value {
    let full_name = format!("{ORG}/{name}");
    let api = format!("https://api.github.com/repos/{full_name}");
    let mut repo = json!({
        "id": id, "node_id": format!("R_kgDO{id}"), "name": name, "full_name": full_name, "owner": org_owner(),
        "private": false, "html_url": format!("https://github.com/{full_name}"), "description": format!("The {name}"),
        "fork": false, "url": api,
        "git_url": format!("git://github.com/{full_name}.git"), "ssh_url": format!("git@github.com:{full_name}.git"),
        "clone_url": format!("https://github.com/{full_name}.git"), "svn_url": format!("https://github.com/{full_name}"),
        "mirror_url": null, "homepage": null, "language": "Rust", "forks_count": 0, "stargazers_count": 3,
        "watchers_count": 3, "size": 108, "default_branch": "main", "open_issues_count": 0, "is_template": false,
        "topics": [], "has_issues": true, "has_projects": true, "has_wiki": false, "has_pages": false,
        "has_downloads": true, "has_discussions": false, "archived": false, "disabled": false, "visibility": "public",
        "pushed_at": now, "created_at": now, "updated_at": now,
        "permissions": { "admin": false, "push": true, "pull": true }
    });
    // The URL templates every repository object carries, as GitHub spells them.
    for (field, suffix) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        repo[field] = Value::from(format!("{api}{suffix}"));
    }
    repo
}

/// An `href` object of `_links`.
fn href(url: &str) -> Value {
    json!({ "href": url })
}

impl Data {
    fn tick(&mut self) -> String {
        self.clock += 1;
        timestamp(self.clock)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn add_pull(&mut self, repo: usize, author: usize) -> u64 {
        let now = self.tick();
        let id = self.id();
        let full_name = self.repos[repo].json["full_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let number = self.repos[repo].pulls.len() as u64 + 1;
        let merged = number.is_multiple_of(2);
        let login = format!("member-{author}");
        let author = user(&login, 1000 + author as u64);
        let api = format!("https://api.github.com/repos/{full_name}");
        let html = format!("https://github.com/{full_name}/pull/{number}");
        let head_sha = format!("{:040x}", id + 1);
        let statuses = format!("{api}/statuses/{head_sha}");
        let side = |label: String, name: String, sha: String| json!({ "label": label, "ref": name, "sha": sha, "user": org_owner(), "repo": self.repos[repo].json.clone() });
        let pull = json!({
            "url": format!("{api}/pulls/{number}"), "id": id, "node_id": format!("PR_kwDO{id}"),
            "html_url": html, "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
            "issue_url": format!("{api}/issues/{number}"), "commits_url": format!("{api}/pulls/{number}/commits"),
            "review_comments_url": format!("{api}/pulls/{number}/comments"),
            "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
            "comments_url": format!("{api}/issues/{number}/comments"), "statuses_url": statuses,
            "number": number, "state": if merged { "closed" } else { "open" }, "locked": false,
            "title": format!("Change number {number}"), "user": author, "body": "Please review.",
            "labels": [], "milestone": null, "active_lock_reason": null,
            "created_at": now, "updated_at": now,
            "closed_at": if merged { Value::from(now.clone()) } else { Value::Null },
            "merged_at": if merged { Value::from(now.clone()) } else { Value::Null },
            "merge_commit_sha": format!("{id:040x}"), "assignee": null, "assignees": [],
            "requested_reviewers": [], "requested_teams": [],
            "head": side(format!("{ORG}:feature-{number}"), format!("feature-{number}"), head_sha),
            "base": side(format!("{ORG}:main"), "main".to_owned(), format!("{:040x}", id + 2)),
            "_links": {
                "self": href(&format!("{api}/pulls/{number}")), "html": href(&html),
                "issue": href(&format!("{api}/issues/{number}")), "comments": href(&format!("{api}/issues/{number}/comments")),
                "review_comments": href(&format!("{api}/pulls/{number}/comments")),
                "review_comment": href(&format!("{api}/pulls/comments{{/number}}")),
                "commits": href(&format!("{api}/pulls/{number}/commits")), "statuses": href(&statuses)
            },
            "author_association": "MEMBER", "auto_merge": null, "draft": false
        });
        self.repos[repo].pulls.push(pull);
        self.repos[repo].json["updated_at"] = Value::from(now);
        number
    }

    fn add_review(&mut self, repo: usize, number: u64, reviewer: usize) {
        let now = self.tick();
        let id = self.id();
        let full_name = self.repos[repo].json["full_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let login = format!("member-{reviewer}");
        let html = format!("https://github.com/{full_name}/pull/{number}#pullrequestreview-{id}");
        let pull_url = format!("https://api.github.com/repos/{full_name}/pulls/{number}");
        let review = json!({
            "id": id, "node_id": format!("PRR_kwDO{id}"), "user": user(&login, 1000 + reviewer as u64),
            "body": "Looks good.", "state": "APPROVED", "html_url": html, "pull_request_url": pull_url,
            "_links": { "html": href(&html), "pull_request": href(&pull_url) },
            "submitted_at": now, "commit_id": format!("{id:040x}"), "author_association": "MEMBER"
        });
        self.repos[repo]
            .reviews
            .entry(number)
            .or_default()
            .push(review);
        if let Some(pull) = self.repos[repo].pulls.get_mut(number as usize - 1) {
            pull["updated_at"] = Value::from(now);
        }
    }

    fn add_commit(&mut self, repo: usize, author: usize) {
        let now = self.tick();
        let parents: Vec<String> = self.repos[repo].head.iter().cloned().collect();
        let sha = self.make_commit(repo, author, &now, &parents);
        self.repos[repo].head = Some(sha);
        self.repos[repo].json["pushed_at"] = Value::from(now);
    }

    /// A commit dated `date` with `parents` (shas), kept in the repository but on no branch
    /// until `head` reaches it; returns its sha.
    fn make_commit(
        &mut self,
        repo: usize,
        author: usize,
        date: &str,
        parents: &[String],
    ) -> String {
        let id = self.id();
        let full_name = self.repos[repo].json["full_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let sha = format!("{:040x}", id * 7919);
        let login = format!("member-{author}");
        let signature =
            json!({ "name": login, "email": format!("{login}@acme.example"), "date": date });
        let api = format!("https://api.github.com/repos/{full_name}");
        let tree = format!("{:040x}", id * 31);
        let parents: Vec<Value> = parents
            .iter()
            .map(|parent| {
                json!({
                    "url": format!("{api}/commits/{parent}"), "sha": parent,
                    "html_url": format!("https://github.com/{full_name}/commit/{parent}")
                })
            })
            .collect();
        let commit = json!({
            "url": format!("{api}/commits/{sha}"), "sha": sha, "node_id": format!("C_kwDO{id}"),
            "html_url": format!("https://github.com/{full_name}/commit/{sha}"),
            "comments_url": format!("{api}/commits/{sha}/comments"),
            "commit": {
                "url": format!("{api}/git/commits/{sha}"), "author": signature, "committer": signature,
                "message": format!("Commit {id}"), "tree": { "url": format!("{api}/git/trees/{tree}"), "sha": tree },
                "comment_count": 0,
                "verification": { "verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null }
            },
            "author": user(&login, 1000 + author as u64), "committer": user(&login, 1000 + author as u64),
            "parents": parents
        });
        self.repos[repo].commits.insert(0, commit);
        sha
    }
}

impl FakeGitHub {
    /// Starts the fake, accepting `token`, with a seeded organisation: 130 members (two
    /// pages), 3 teams, 3 repositories — `widgets` with 120 pull requests (two pages) and 150
    /// commits, `gadgets` with 5 and 3, `docs` empty — and reviews on every third pull request.
    pub async fn start(token: &str) -> anyhow::Result<FakeGitHub> {
        let mut data = Data {
            token: token.to_owned(),
            members: (0..130)
                .map(|i| user(&format!("member-{i}"), 1000 + i))
                .collect(),
            teams: Vec::new(),
            repos: Vec::new(),
            clock: 0,
            next_id: 10_000,
            rate_limit: None,
            used: 0,
            requests: Vec::new(),
        };
        for (i, slug) in (0..).zip(["platform", "web", "data"]) {
            data.teams.push(team(i, slug));
        }
        for name in ["widgets", "gadgets", "docs"] {
            let id = data.id();
            let now = data.tick();
            data.repos.push(Repo {
                json: repository(id, name, &now),
                pulls: Vec::new(),
                reviews: BTreeMap::new(),
                commits: Vec::new(),
                head: None,
            });
        }
        for (repo, pulls, commits) in [(0, 120, 150), (1, 5, 3)] {
            for i in 0..pulls {
                let number = data.add_pull(repo, i % 130);
                if number.is_multiple_of(3) {
                    data.add_review(repo, number, (i + 1) % 130);
                }
            }
            for i in 0..commits {
                data.add_commit(repo, i % 130);
            }
        }
        let data = Arc::new(Mutex::new(data));
        let app = Router::new()
            .route("/orgs/{org}", get(org))
            .route("/orgs/{org}/members", get(members))
            .route("/orgs/{org}/teams", get(teams))
            .route("/orgs/{org}/repos", get(repos))
            .route("/repos/{owner}/{repo}/pulls", get(pulls))
            .route("/repos/{owner}/{repo}/pulls/{number}/reviews", get(reviews))
            .route("/repos/{owner}/{repo}/commits", get(commits))
            .route("/repos/{owner}/{repo}/branches/{branch}", get(branch))
            .route("/repos/{owner}/{repo}/compare/{basehead}", get(compare))
            .layer(axum::middleware::from_fn_with_state(data.clone(), gate))
            .with_state(data.clone());
        let port = super::serve(app).await?;
        Ok(FakeGitHub { port, data })
    }

    /// The API base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }

    /// New activity: a pull request in `gadgets`, a review on `widgets`#3 (which updates
    /// that pull request), and a commit in `gadgets`.
    pub fn add_activity(&self) {
        let mut data = self.data();
        data.add_pull(1, 7);
        data.add_review(0, 3, 9);
        data.add_commit(1, 11);
    }

    /// A branch of `commits` commits in `widgets`, started from its oldest commit and dated
    /// a day before the seed — older than any cursor — merged now with a merge commit.
    /// Returns the branch's shas, which a connector reading commits by date never sees.
    pub fn merge_old_branch(&self, commits: usize) -> Vec<String> {
        let mut data = self.data();
        let oldest = data.repos[0]
            .commits
            .last()
            .and_then(|c| c["sha"].as_str())
            .map(str::to_owned);
        let mut tip: Vec<String> = oldest.into_iter().collect();
        let mut branch = Vec::new();
        for i in 0..commits {
            let date = timestamp_before_seed(1440 - i as u64);
            let sha = data.make_commit(0, 3, &date, &tip);
            tip = vec![sha.clone()];
            branch.push(sha);
        }
        let now = data.tick();
        let parents: Vec<String> = data.repos[0].head.iter().cloned().chain(tip).collect();
        let merge = data.make_commit(0, 3, &now, &parents);
        data.repos[0].head = Some(merge);
        data.repos[0].json["pushed_at"] = Value::from(now);
        branch
    }

    /// The sha of the newest commit of `widgets`' default branch.
    pub fn widgets_head(&self) -> Option<String> {
        self.data().repos[0].head.clone()
    }

    /// `count` new members, listed after the existing ones (new accounts have higher ids),
    /// so they land on the last page or on a new one.
    pub fn add_members(&self, count: usize) {
        let mut data = self.data();
        for _ in 0..count {
            let i = data.members.len() as u64;
            data.members.push(user(&format!("member-{i}"), 1000 + i));
        }
    }

    /// The logins of the members, in the order the fake lists them.
    pub fn member_logins(&self) -> Vec<String> {
        self.data()
            .members
            .iter()
            .filter_map(|m| m["login"].as_str().map(str::to_owned))
            .collect()
    }

    /// The path and query of every request, in order.
    pub fn requests(&self) -> Vec<String> {
        self.data().requests.clone()
    }

    /// Makes the next request answer with a rate limit.
    pub fn set_rate_limit_once(&self, kind: RateLimit) {
        self.data().rate_limit = Some(kind);
    }

    /// How many of each entity the fake holds now.
    pub fn expected(&self) -> Expected {
        let data = self.data();
        Expected {
            members: data.members.len(),
            teams: data.teams.len(),
            repositories: data.repos.len(),
            pull_requests: data.repos.iter().map(|r| r.pulls.len()).sum(),
            reviews: data
                .repos
                .iter()
                .flat_map(|r| r.reviews.values())
                .map(Vec::len)
                .sum(),
            commits: data.repos.iter().map(|r| r.commits.len()).sum(),
        }
    }
}

type Shared = Arc<Mutex<Data>>;

fn message(status: StatusCode, text: &str) -> Response {
    let body = json!({ "message": text, "documentation_url": "https://docs.github.com/rest", "status": status.as_u16().to_string() });
    (status, axum::Json(body)).into_response()
}

/// The epoch second `seconds` from now, as `x-ratelimit-reset` gives it.
fn epoch_in(seconds: u64) -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        + seconds
}

/// Logs the request, checks the token, answers a pending rate limit, and adds GitHub's
/// rate-limit headers to every response.
async fn gate(State(data): State<Shared>, request: Request, next: Next) -> Response {
    let (authorised, limit) = {
        let mut data = lock(&data);
        let target = request
            .uri()
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default();
        data.requests.push(target);
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let authorised = presented == format!("Bearer {}", data.token)
            || presented == format!("token {}", data.token);
        (
            authorised,
            if authorised {
                data.rate_limit.take()
            } else {
                None
            },
        )
    };
    let mut response = if !authorised {
        message(StatusCode::UNAUTHORIZED, "Bad credentials")
    } else if let Some(limit) = limit {
        let mut response = match limit {
            RateLimit::SecondaryRetryAfter => message(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            ),
            RateLimit::TooManyRequests => {
                message(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
            }
            RateLimit::PrimaryReset => message(
                StatusCode::FORBIDDEN,
                "API rate limit exceeded for user ID 1.",
            ),
        };
        if limit != RateLimit::PrimaryReset {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    } else {
        next.run(request).await
    };
    let used = {
        let mut data = lock(&data);
        // A 304 does not count against GitHub's rate limit.
        if response.status() != StatusCode::NOT_MODIFIED {
            data.used += 1;
        }
        data.used
    };
    let exhausted = limit == Some(RateLimit::PrimaryReset);
    let remaining = if exhausted {
        0
    } else {
        LIMIT.saturating_sub(used)
    };
    let reset = if exhausted {
        epoch_in(1)
    } else {
        epoch_in(3600)
    };
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", LIMIT.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-used", used.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", "core".to_owned()),
        ("x-github-api-version-selected", "2022-11-28".to_owned()),
        ("x-github-media-type", "github.v3; format=json".to_owned()),
        (
            "x-github-request-id",
            "0000:00000:0000000:0000000:00000000".to_owned(),
        ),
        ("x-accepted-oauth-scopes", "repo".to_owned()),
        ("x-oauth-scopes", "read:org, repo".to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

/// One page of `items` as GitHub pages it: `per_page` (default 30, at most 100) and `page`,
/// a `link` header, and on the first page an ETag honoured by `if-none-match`.
fn page(
    items: &[Value],
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    path: &str,
) -> Response {
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let start = (page - 1) * per_page;
    let slice: Vec<&Value> = items.iter().skip(start).take(per_page).collect();
    let body = serde_json::to_string(&slice).unwrap_or_default();
    let etag = format!("W/\"{:016x}\"", fnv(body.as_bytes()));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        // Without `link`: GitHub has been seen to leave pagination headers off a 304 even when
        // a page was added after it, so a connector must not count on them here.
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let link_to = |n: usize| {
        let mut params = query.clone();
        params.insert("page".into(), n.to_string());
        params.insert("per_page".into(), per_page.to_string());
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        format!("<http://{host}{path}?{}>", query.join("&"))
    };
    // In GitHub's order: prev, next, last, first.
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if !links.is_empty()
        && let Ok(value) = HeaderValue::from_str(&links.join(", "))
    {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

/// Percent-encodes a query value (the characters GitHub's own links encode).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn find_repo<'a>(data: &'a Data, owner: &str, repo: &str) -> Option<&'a Repo> {
    data.repos
        .iter()
        .find(|r| r.json["full_name"] == format!("{owner}/{repo}"))
}

type Q = Query<BTreeMap<String, String>>;

async fn org(State(data): State<Shared>, Path(org): Path<String>) -> Response {
    if org != ORG {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    let data = lock(&data);
    let api = format!("https://api.github.com/orgs/{ORG}");
    axum::Json(json!({
        "login": ORG, "id": 1, "node_id": "O_kgDOAAAAAQ", "url": api, "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events"), "hooks_url": format!("{api}/hooks"), "issues_url": format!("{api}/issues"),
        "members_url": format!("{api}/members{{/member}}"), "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4", "description": "Acme builds widgets.",
        "name": "Acme", "company": null, "blog": "https://acme.example", "location": null, "email": null,
        "twitter_username": null, "is_verified": false, "has_organization_projects": true,
        "has_repository_projects": true, "public_repos": data.repos.len(), "public_gists": 0, "followers": 0,
        "following": 0, "html_url": format!("https://github.com/{ORG}"), "created_at": timestamp(0),
        "updated_at": timestamp(0), "type": "Organization", "total_private_repos": 0, "owned_private_repos": 0,
        "collaborators": 0, "default_repository_permission": "read", "two_factor_requirement_enabled": true,
        "plan": { "name": "team", "space": 976_562_499, "private_repos": 999_999, "filled_seats": data.members.len(), "seats": 500 }
    }))
    .into_response()
}

async fn members(
    State(data): State<Shared>,
    Path(org): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    if org != ORG {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    page(
        &lock(&data).members,
        &q,
        &headers,
        &format!("/orgs/{org}/members"),
    )
}

async fn teams(
    State(data): State<Shared>,
    Path(org): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    if org != ORG {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    page(
        &lock(&data).teams,
        &q,
        &headers,
        &format!("/orgs/{org}/teams"),
    )
}

async fn repos(
    State(data): State<Shared>,
    Path(org): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    if org != ORG {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    let data = lock(&data);
    let mut repos: Vec<Value> = data.repos.iter().map(|r| r.json.clone()).collect();
    if q.get("sort").map(String::as_str) == Some("updated") {
        repos.sort_by(|a, b| b["updated_at"].as_str().cmp(&a["updated_at"].as_str()));
        if q.get("direction").map(String::as_str) == Some("asc") {
            repos.reverse();
        }
    }
    page(&repos, &q, &headers, &format!("/orgs/{org}/repos"))
}

async fn pulls(
    State(data): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let data = lock(&data);
    let Some(found) = find_repo(&data, &owner, &repo) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    let mut pulls: Vec<Value> = found
        .pulls
        .iter()
        .filter(|p| state == "all" || p["state"] == state)
        .cloned()
        .collect();
    let key = if q.get("sort").map(String::as_str) == Some("updated") {
        "updated_at"
    } else {
        "created_at"
    };
    pulls.sort_by(|a, b| b[key].as_str().cmp(&a[key].as_str()));
    if q.get("direction").map(String::as_str) == Some("asc") {
        pulls.reverse();
    }
    page(
        &pulls,
        &q,
        &headers,
        &format!("/repos/{owner}/{repo}/pulls"),
    )
}

async fn reviews(
    State(data): State<Shared>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let data = lock(&data);
    let Some(found) = find_repo(&data, &owner, &repo) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    if number == 0 || number as usize > found.pulls.len() {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    let reviews = found.reviews.get(&number).cloned().unwrap_or_default();
    page(
        &reviews,
        &q,
        &headers,
        &format!("/repos/{owner}/{repo}/pulls/{number}/reviews"),
    )
}

async fn commits(
    State(data): State<Shared>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let data = lock(&data);
    let Some(found) = find_repo(&data, &owner, &repo) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(head) = &found.head else {
        return message(StatusCode::CONFLICT, "Git Repository is empty.");
    };
    // `sha`: a sha or the branch to list from; the default branch when absent.
    let from = match q.get("sha").map(String::as_str) {
        None | Some("main") => head.clone(),
        Some(sha) => sha.to_owned(),
    };
    let mut reachable = found.reachable(&from);
    if reachable.is_empty() {
        return message(
            StatusCode::NOT_FOUND,
            &format!("No commit found for SHA: {from}"),
        );
    }
    by_date_newest_first(&mut reachable);
    let since = q.get("since").cloned();
    let commits: Vec<Value> = reachable
        .into_iter()
        .filter(|c| {
            since.as_deref().is_none_or(|s| {
                c["commit"]["committer"]["date"]
                    .as_str()
                    .is_some_and(|d| d >= s)
            })
        })
        .cloned()
        .collect();
    page(
        &commits,
        &q,
        &headers,
        &format!("/repos/{owner}/{repo}/commits"),
    )
}

/// `GET /repos/{owner}/{repo}/branches/{branch}`: the default branch with its head commit;
/// 404 for another branch, or for any branch of an empty repository.
async fn branch(
    State(data): State<Shared>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
) -> Response {
    let data = lock(&data);
    let Some(found) = find_repo(&data, &owner, &repo) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let head = found
        .head
        .as_deref()
        .and_then(|head| found.reachable(head).first().map(|c| (*c).clone()));
    let (true, Some(commit)) = (found.json["default_branch"] == branch.as_str(), head) else {
        return message(StatusCode::NOT_FOUND, "Branch not found");
    };
    let api = format!("https://api.github.com/repos/{owner}/{repo}");
    axum::Json(json!({
        "name": branch, "commit": commit,
        "_links": { "self": format!("{api}/branches/{branch}"), "html": format!("https://github.com/{owner}/{repo}/tree/{branch}") },
        "protected": false,
        "protection": { "enabled": false, "required_status_checks": { "enforcement_level": "off", "contexts": [], "checks": [] } },
        "protection_url": format!("{api}/branches/{branch}/protection")
    }))
    .into_response()
}

/// `GET /repos/{owner}/{repo}/compare/{base}...{head}`: the commits reachable from head and
/// not from base, oldest first, paged by `per_page` (default 250) and `page`, with
/// `total_commits`; 404 when either end is unknown.
async fn compare(
    State(data): State<Shared>,
    Path((owner, repo, basehead)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    let data = lock(&data);
    let Some(found) = find_repo(&data, &owner, &repo) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some((base, head)) = basehead.split_once("...") else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let (from_base, from_head) = (found.reachable(base), found.reachable(head));
    let (Some(base_commit), Some(_)) = (from_base.first(), from_head.first()) else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let behind: Vec<&Value> = from_base
        .iter()
        .filter(|c| !from_head.contains(c))
        .copied()
        .collect();
    let mut ahead: Vec<&Value> = from_head
        .iter()
        .filter(|c| !from_base.contains(c))
        .copied()
        .collect();
    let merge_base = from_head.iter().find(|c| from_base.contains(c)).copied();
    by_date_newest_first(&mut ahead);
    ahead.reverse();
    let per_page = q
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(250)
        .clamp(1, 250);
    let page = q
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let commits: Vec<&Value> = ahead
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .copied()
        .collect();
    let status = match (ahead.is_empty(), behind.is_empty()) {
        (true, true) => "identical",
        (false, true) => "ahead",
        (true, false) => "behind",
        (false, false) => "diverged",
    };
    let html = format!("https://github.com/{owner}/{repo}/compare/{basehead}");
    axum::Json(json!({
        "url": format!("https://api.github.com/repos/{owner}/{repo}/compare/{basehead}"),
        "html_url": html, "permalink_url": html,
        "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
        "base_commit": base_commit, "merge_base_commit": merge_base,
        "status": status, "ahead_by": ahead.len(), "behind_by": behind.len(),
        "total_commits": ahead.len(), "commits": commits,
        // GitHub lists the changed files on the first page only.
        "files": []
    }))
    .into_response()
}
