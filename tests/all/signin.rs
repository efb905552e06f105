//! Sign-in that ends and cannot be hammered, on SQLite and (when its URL is set)
//! PostgreSQL: a password change ends the person's other sessions, idle sessions and
//! one-time passwords expire, API tokens expire and end with the API token that created
//! them, a change signed in with the cookie must come from this server's site — and, with
//! the binary over real HTTP, sign-in attempts are throttled per account and per client
//! while everyone else is served, and the cookie is `Secure` unless plain HTTP is served on
//! loopback. Time is moved by
//! writing timestamps in the database, never by waiting.

use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use sluice::access::bearer_hash;
use sluice::store::now_ms;

use crate::api::{Session, login, session_of, with_cookie};
use crate::harness::{Harness, TestDatabase, databases, on_every_database};
use crate::process::{bootstrap, line_value, serve, storage_args};

const HOUR_MS: i64 = 3_600_000;

/// Runs `test` once per database with a server and a connection of its own to the
/// database, to move a row's times.
macro_rules! on_every_database_with_sql {
    ($test:ident) => {{
        let dir = tempfile::tempdir().expect("tempdir");
        for database in databases(dir.path()).await {
            let sub = tempfile::tempdir_in(dir.path()).expect("tempdir");
            let harness = Harness::start(&database, sub.path()).await;
            sqlx::any::install_default_drivers();
            let sql = sqlx::AnyPool::connect(&database.url)
                .await
                .expect("open the database");
            $test(&harness, &sql).await;
            sql.close().await;
            harness.stop().await;
            database.drop_schema().await;
        }
    }};
}

/// Sets a time column of the rows where `key_column = key`.
async fn set_time(
    sql: &sqlx::AnyPool,
    table: &str,
    column: &str,
    key_column: &str,
    key: &str,
    at: i64,
) {
    let updated = sqlx::query(&format!(
        "UPDATE {table} SET {column} = $1 WHERE {key_column} = $2"
    ))
    .bind(at)
    .bind(key)
    .execute(sql)
    .await
    .expect("update");
    assert_eq!(updated.rows_affected(), 1, "{table}.{key_column} = {key}");
}

/// A time column of the row where `key_column = key`.
async fn time_of(
    sql: &sqlx::AnyPool,
    table: &str,
    column: &str,
    key_column: &str,
    key: &str,
) -> Option<i64> {
    let (at,): (Option<i64>,) = sqlx::query_as(&format!(
        "SELECT {column} FROM {table} WHERE {key_column} = $1"
    ))
    .bind(key)
    .fetch_one(sql)
    .await
    .expect("select");
    at
}

/// The stored hash of a session, from its cookie.
fn session_hash(session: &Session) -> String {
    let value = session
        .cookie
        .strip_prefix("sluice_session=")
        .expect("the session cookie");
    bearer_hash(value)
}

/// Signs ada in with her one-time password and sets `password`; her first session.
async fn ada_with_password(h: &Harness, password: &str) -> Session {
    let first = session_of(&login(h, &h.acme.email, &h.acme.password).await);
    let set = with_cookie(
        h,
        Method::PUT,
        "/api/me/password",
        &first,
        Some(json!({ "password": password })),
    )
    .await;
    assert_eq!(
        set.status,
        StatusCode::NO_CONTENT,
        "{}: {}",
        h.label,
        set.text()
    );
    first
}

async fn me(h: &Harness, session: &Session) -> StatusCode {
    with_cookie(h, Method::GET, "/api/me", session, None)
        .await
        .status
}

#[tokio::test]
async fn a_password_change_ends_the_persons_other_sessions_and_keeps_this_one() {
    async fn test(h: &Harness) {
        let first = ada_with_password(h, "the first long password").await;
        let laptop = session_of(&login(h, &h.acme.email, "the first long password").await);
        let phone = session_of(&login(h, &h.acme.email, "the first long password").await);
        let grace = session_of(&login(h, &h.globex.email, &h.globex.password).await);

        let wrong = with_cookie(
            h,
            Method::PUT,
            "/api/me/password",
            &laptop,
            Some(json!({ "current": "not the password", "password": "the second long password" })),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", h.label);
        assert_eq!(
            me(h, &phone).await,
            StatusCode::OK,
            "a refused change ends nothing"
        );

        let changed = with_cookie(
            h,
            Method::PUT,
            "/api/me/password",
            &laptop,
            Some(json!({ "current": "the first long password", "password": "the second long password" })),
        )
        .await;
        assert_eq!(
            changed.status,
            StatusCode::NO_CONTENT,
            "{}: {}",
            h.label,
            changed.text()
        );
        assert_eq!(
            me(h, &laptop).await,
            StatusCode::OK,
            "the session that changed it stays"
        );
        assert_eq!(me(h, &phone).await, StatusCode::UNAUTHORIZED, "{}", h.label);
        assert_eq!(me(h, &first).await, StatusCode::UNAUTHORIZED, "{}", h.label);
        assert_eq!(
            me(h, &grace).await,
            StatusCode::OK,
            "another person's session stays"
        );
        let token = h.get(&format!("/api/companies/{}", h.acme.company)).await;
        assert_eq!(token.status, StatusCode::OK, "API tokens are not sessions");
        assert_eq!(
            login(h, &h.acme.email, "the first long password")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login(h, &h.acme.email, "the second long password")
                .await
                .status,
            StatusCode::OK
        );
    }
    on_every_database!(test);
}

#[tokio::test]
async fn an_idle_session_ends_and_its_use_is_recorded_to_the_minute() {
    async fn test(h: &Harness, sql: &sqlx::AnyPool) {
        let session = ada_with_password(h, "a long enough password").await;
        let hash = session_hash(&session);
        let seen = |at| set_time(sql, "sessions", "last_seen_at", "token_hash", &hash, at);
        let last_seen = || time_of(sql, "sessions", "last_seen_at", "token_hash", &hash);

        let recently = now_ms() - 30_000;
        seen(recently).await;
        assert_eq!(me(h, &session).await, StatusCode::OK, "{}", h.label);
        assert_eq!(
            last_seen().await,
            Some(recently),
            "used within the minute: nothing written"
        );

        let before = now_ms();
        seen(before - 2 * 60_000).await;
        assert_eq!(me(h, &session).await, StatusCode::OK, "{}", h.label);
        assert!(
            last_seen().await.is_some_and(|at| at >= before),
            "{}: a use after a minute is recorded",
            h.label
        );

        seen(now_ms() - 11 * HOUR_MS).await;
        assert_eq!(
            me(h, &session).await,
            StatusCode::OK,
            "11 hours idle is not 12"
        );
        seen(now_ms() - 12 * HOUR_MS - 60_000).await;
        let ended = with_cookie(h, Method::GET, "/api/me", &session, None).await;
        assert_eq!(ended.status, StatusCode::UNAUTHORIZED, "{}", h.label);
        assert_eq!(
            ended.json()["message"],
            "sign in, or send an API token as `Authorization: Bearer …`"
        );

        // A busy session still ends at its absolute end.
        let busy = session_of(&login(h, &h.acme.email, "a long enough password").await);
        let busy_hash = session_hash(&busy);
        let (kept,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE token_hash = $1")
            .bind(&hash)
            .fetch_one(sql)
            .await
            .expect("count");
        assert_eq!(
            kept, 0,
            "{}: signing in forgets the person's ended sessions",
            h.label
        );
        assert_eq!(me(h, &busy).await, StatusCode::OK);
        set_time(
            sql,
            "sessions",
            "expires_at",
            "token_hash",
            &busy_hash,
            now_ms() - 1,
        )
        .await;
        assert_eq!(me(h, &busy).await, StatusCode::UNAUTHORIZED, "{}", h.label);
    }
    on_every_database_with_sql!(test);
}

#[tokio::test]
async fn a_one_time_password_works_for_a_day() {
    async fn test(h: &Harness, sql: &sqlx::AnyPool) {
        let expires = time_of(sql, "users", "password_expires_at", "id", &h.acme.owner)
            .await
            .expect("a one-time password expires");
        let now = now_ms();
        assert!(
            expires > now + 23 * HOUR_MS && expires <= now + 24 * HOUR_MS,
            "{}: {expires} is a day after bootstrap",
            h.label
        );
        let added = h
            .call(
                Method::POST,
                &format!("/api/companies/{}/members", h.acme.company),
                Some(&h.acme.token),
                Some(json!({ "email": "bob@acme.test", "role": "member" })),
            )
            .await
            .json();
        let bob = added["user_id"].as_str().expect("bob");
        assert!(
            time_of(sql, "users", "password_expires_at", "id", bob)
                .await
                .is_some_and(|at| at > now + 23 * HOUR_MS),
            "{}: a new member's one-time password expires too",
            h.label
        );

        let expired_at = now - 1000;
        set_time(
            sql,
            "users",
            "password_expires_at",
            "id",
            &h.acme.owner,
            expired_at,
        )
        .await;
        let wrong = login(h, &h.acme.email, "not the one-time password").await;
        assert_eq!(
            wrong.json()["message"],
            "wrong email or password",
            "{}",
            h.label
        );
        let refused = login(h, &h.acme.email, &h.acme.password).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", h.label);
        assert_eq!(
            refused.json()["message"],
            format!(
                "this one-time password expired at {}: one-time passwords work for 24 hours; \
                 ask whoever gave it to you for a new one",
                sluice::store::format_ms(expired_at)
            )
        );

        let grace = login(h, &h.globex.email, &h.globex.password).await;
        assert_eq!(grace.status, StatusCode::OK, "an unexpired one still works");
        assert_eq!(
            time_of(sql, "users", "password_expires_at", "id", &h.globex.owner).await,
            None,
            "{}: used, it is gone, and a chosen password does not expire",
            h.label
        );
    }
    on_every_database_with_sql!(test);
}

/// Creates a token in acme with `auth` (a token) or `cookie`; the created token's JSON.
async fn create_token(h: &Harness, auth: Result<&str, &Session>, body: Value) -> Value {
    let path = format!("/api/companies/{}/tokens", h.acme.company);
    let answer = match auth {
        Ok(token) => h.call(Method::POST, &path, Some(token), Some(body)).await,
        Err(session) => with_cookie(h, Method::POST, &path, session, Some(body)).await,
    };
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "{}: {}",
        h.label,
        answer.text()
    );
    answer.json()
}

async fn acme_with(h: &Harness, token: &Value) -> (StatusCode, String) {
    let answer = h
        .call(
            Method::GET,
            &format!("/api/companies/{}", h.acme.company),
            token["value"].as_str(),
            None,
        )
        .await;
    let message = answer.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (answer.status, message)
}

#[tokio::test]
async fn api_tokens_expire_and_end_with_the_api_token_that_created_them() {
    async fn test(h: &Harness, sql: &sqlx::AnyPool) {
        let owner = ada_with_password(h, "a long enough password").await;
        let before = now_ms();
        let root = create_token(
            h,
            Err(&owner),
            json!({ "name": "ci", "role": "owner", "expires_in": 3600 }),
        )
        .await;
        let root_expiry =
            sluice::store::parse_rfc3339(root["expires_at"].as_str().expect("an expiry"))
                .expect("RFC 3339");
        assert!(
            (before + HOUR_MS..=now_ms() + HOUR_MS).contains(&root_expiry),
            "{}: {root}",
            h.label
        );
        assert_eq!(root["created_by_token"], Value::Null, "created by a person");
        let root_value = root["value"].as_str().expect("value");
        let child = create_token(
            h,
            Ok(root_value),
            json!({ "name": "child", "role": "owner", "expires_in": 7200 }),
        )
        .await;
        assert_eq!(child["created_by_token"], root["id"]);
        assert_eq!(
            child["expires_at"], root["expires_at"],
            "no later than its creator"
        );
        let grandchild = create_token(
            h,
            Ok(child["value"].as_str().expect("value")),
            json!({ "name": "grandchild" }),
        )
        .await;
        assert_eq!(grandchild["expires_at"], root["expires_at"]);
        assert_eq!(
            acme_with(h, &grandchild).await.0,
            StatusCode::OK,
            "{}",
            h.label
        );

        let listed = h
            .get(&format!("/api/companies/{}/tokens", h.acme.company))
            .await
            .json();
        let listed_child = listed["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|t| t["id"] == child["id"])
            .expect("the child is listed")
            .clone();
        assert_eq!(listed_child["expires_at"], root["expires_at"]);
        assert_eq!(listed_child["created_by_token"], root["id"]);

        let root_id = root["id"].as_str().expect("id");
        set_time(
            sql,
            "api_tokens",
            "expires_at",
            "id",
            root_id,
            now_ms() - 1000,
        )
        .await;
        let (status, message) = acme_with(h, &root).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", h.label);
        let expired_at = time_of(sql, "api_tokens", "expires_at", "id", root_id)
            .await
            .expect("an expiry");
        assert_eq!(
            message,
            format!(
                "this API token expired at {}; an owner of its company can create a new one",
                sluice::store::format_ms(expired_at)
            )
        );
        let ended_with = "this API token was created with another API token, which has been \
                          revoked or has expired, and it ended with it";
        assert_eq!(
            acme_with(h, &child).await,
            (StatusCode::UNAUTHORIZED, ended_with.into())
        );
        assert_eq!(
            acme_with(h, &grandchild).await,
            (StatusCode::UNAUTHORIZED, ended_with.into())
        );

        // Revoking a token revokes what it created, and theirs in turn.
        let parent = create_token(
            h,
            Err(&owner),
            json!({ "name": "deploys", "role": "owner" }),
        )
        .await;
        assert_eq!(
            parent["expires_at"],
            Value::Null,
            "no expiry asked, none given"
        );
        let minted = create_token(
            h,
            Ok(parent["value"].as_str().expect("value")),
            json!({ "name": "minted", "role": "owner" }),
        )
        .await;
        let deeper = create_token(
            h,
            Ok(minted["value"].as_str().expect("value")),
            json!({ "name": "deeper" }),
        )
        .await;
        let revoked = with_cookie(
            h,
            Method::DELETE,
            &format!(
                "/api/companies/{}/tokens/{}",
                h.acme.company,
                parent["id"].as_str().expect("id")
            ),
            &owner,
            None,
        )
        .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text());
        for token in [&parent, &minted, &deeper] {
            assert_eq!(
                acme_with(h, token).await.0,
                StatusCode::UNAUTHORIZED,
                "{}: {token}",
                h.label
            );
            let id = token["id"].as_str().expect("id");
            assert!(
                time_of(sql, "api_tokens", "revoked_at", "id", id)
                    .await
                    .is_some(),
                "{}: {id} is listed as revoked",
                h.label
            );
        }

        // A token whose creator was revoked behind its back still ends with it.
        let lone = create_token(h, Err(&owner), json!({ "name": "lone", "role": "owner" })).await;
        let under = create_token(
            h,
            Ok(lone["value"].as_str().expect("value")),
            json!({ "name": "under" }),
        )
        .await;
        set_time(
            sql,
            "api_tokens",
            "revoked_at",
            "id",
            lone["id"].as_str().expect("id"),
            now_ms(),
        )
        .await;
        assert_eq!(
            acme_with(h, &under).await,
            (StatusCode::UNAUTHORIZED, ended_with.into())
        );
    }
    on_every_database_with_sql!(test);
}

#[tokio::test]
async fn a_token_expiry_that_is_not_in_the_future_is_refused_with_the_reason() {
    async fn test(h: &Harness) {
        let path = format!("/api/companies/{}/tokens", h.acme.company);
        for (body, message) in [
            (
                json!({ "name": "x", "expires_in": 60, "expires_at": "2099-01-01T00:00:00Z" }),
                "give `expires_in` or `expires_at`, not both".to_owned(),
            ),
            (
                json!({ "name": "x", "expires_in": 0 }),
                "`expires_in` is in seconds, from 1 to 315360000 (ten years)".to_owned(),
            ),
            (
                json!({ "name": "x", "expires_at": "tomorrow" }),
                "`expires_at` `tomorrow` is not an RFC 3339 time such as 2027-01-31T00:00:00Z"
                    .to_owned(),
            ),
            (
                json!({ "name": "x", "expires_at": "2020-01-01T00:00:00Z" }),
                "`expires_at` 2020-01-01T00:00:00.000Z is not in the future".to_owned(),
            ),
        ] {
            let answer = h
                .call(Method::POST, &path, Some(&h.acme.token), Some(body.clone()))
                .await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{}: {body}",
                h.label
            );
            assert_eq!(answer.json()["message"], message, "{body}");
        }
        let negative = h
            .call(
                Method::POST,
                &path,
                Some(&h.acme.token),
                Some(json!({ "name": "x", "expires_in": -5 })),
            )
            .await;
        assert_eq!(
            negative.status,
            StatusCode::BAD_REQUEST,
            "{}",
            negative.text()
        );

        let document = h
            .call(Method::GET, "/api/openapi.json", None, None)
            .await
            .json();
        let schemas = &document["components"]["schemas"];
        for field in ["expires_in", "expires_at"] {
            assert!(
                schemas["NewToken"]["properties"][field].is_object(),
                "NewToken.{field} is documented"
            );
        }
        for field in ["expires_at", "created_by_token"] {
            assert!(
                schemas["ApiToken"]["properties"][field].is_object(),
                "ApiToken.{field} is documented"
            );
        }
    }
    on_every_database!(test);
}

/// A request signed in with `session`, from the page at `origin`, to `host`.
fn from_site(
    method: Method,
    path: &str,
    session: &Session,
    origin: &str,
    host: &str,
    body: Option<Value>,
) -> Request<Body> {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("cookie", &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header("origin", origin)
        .header("host", host)
        .header("content-type", "application/json");
    request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("a request")
}

#[tokio::test]
async fn a_change_signed_in_with_the_cookie_must_come_from_this_servers_site() {
    async fn test(h: &Harness) {
        let session = session_of(&login(h, &h.acme.email, &h.acme.password).await);
        let company = json!({ "name": "Acme Labs" });
        let forged = h
            .send(from_site(
                Method::POST,
                "/api/companies",
                &session,
                "https://evil.example",
                "sluice.test:8080",
                Some(company.clone()),
            ))
            .await;
        assert_eq!(
            forged.status,
            StatusCode::FORBIDDEN,
            "{}: {}",
            h.label,
            forged.text()
        );
        assert_eq!(
            forged.json()["message"],
            "this request comes from the site `https://evil.example`, not from this server's \
             own pages (`sluice.test:8080`): a change signed in with the session cookie must \
             come from the console; scripts use an API token. Behind a proxy, the operator \
             sets --public-url (SLUICE_PUBLIC_URL) to the address users open"
        );
        let sandboxed = h
            .send(from_site(
                Method::POST,
                "/api/companies",
                &session,
                "null",
                "sluice.test:8080",
                Some(company.clone()),
            ))
            .await;
        assert_eq!(
            sandboxed.status,
            StatusCode::FORBIDDEN,
            "an opaque origin is nobody's site"
        );
        let other_port = h
            .send(from_site(
                Method::POST,
                "/api/companies",
                &session,
                "http://sluice.test:9090",
                "sluice.test:8080",
                Some(company.clone()),
            ))
            .await;
        assert_eq!(
            other_port.status,
            StatusCode::FORBIDDEN,
            "another port is another site"
        );

        let read = h
            .send(from_site(
                Method::GET,
                "/api/me",
                &session,
                "https://evil.example",
                "sluice.test:8080",
                None,
            ))
            .await;
        assert_eq!(read.status, StatusCode::OK, "reading changes nothing");
        let own = h
            .send(from_site(
                Method::POST,
                "/api/companies",
                &session,
                "http://sluice.test:8080",
                "sluice.test:8080",
                Some(company.clone()),
            ))
            .await;
        assert_eq!(
            own.status,
            StatusCode::CREATED,
            "{}: {}",
            h.label,
            own.text()
        );

        // The CSRF token is still needed from the server's own site.
        let without_csrf = h
            .send(
                Request::builder()
                    .method(Method::POST)
                    .uri("/api/companies")
                    .header("cookie", &session.cookie)
                    .header("origin", "http://sluice.test:8080")
                    .header("host", "sluice.test:8080")
                    .header("content-type", "application/json")
                    .body(Body::from(company.to_string()))
                    .expect("a request"),
            )
            .await;
        assert_eq!(without_csrf.status, StatusCode::FORBIDDEN);
        assert!(
            without_csrf.json()["message"]
                .as_str()
                .is_some_and(|m| m.contains("X-CSRF-Token")),
            "{}",
            without_csrf.text()
        );

        // A script's bearer token is no cookie: any page's `Origin` is beside the point.
        let script = h
            .send(
                Request::builder()
                    .method(Method::POST)
                    .uri(format!("/api/companies/{}/tokens", h.acme.company))
                    .header("authorization", format!("Bearer {}", h.acme.token))
                    .header("origin", "https://evil.example")
                    .header("content-type", "application/json")
                    .body(Body::from(json!({ "name": "script" }).to_string()))
                    .expect("a request"),
            )
            .await;
        assert_eq!(script.status, StatusCode::CREATED, "{}", script.text());

        // Nor can another site's page sign a browser in.
        let signed_in_elsewhere = h
            .send(
                Request::builder()
                    .method(Method::POST)
                    .uri("/api/login")
                    .header("origin", "https://evil.example")
                    .header("host", "sluice.test:8080")
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({ "email": h.globex.email, "password": h.globex.password })
                            .to_string(),
                    ))
                    .expect("a request"),
            )
            .await;
        assert_eq!(signed_in_elsewhere.status, StatusCode::FORBIDDEN);
        assert!(signed_in_elsewhere.headers.get("set-cookie").is_none());
    }
    on_every_database!(test);
}

/// The binary over real HTTP, with two companies bootstrapped: acme's owner ada and
/// globex's owner grace, their API tokens and one-time passwords.
struct Served {
    server: crate::process::Server,
    ada_password: String,
    grace_password: String,
    ada_token: String,
    ada_company: String,
    log: std::path::PathBuf,
}

async fn served(database: &TestDatabase, dir: &Path, extra: &[&str]) -> Served {
    let data = dir.join(format!("data-{}", database.label));
    let data_args = storage_args(database, &data);
    let ada = bootstrap(&data_args, "ada@acme.test", "Acme").await;
    let grace = bootstrap(&data_args, "grace@globex.test", "Globex").await;
    let mut args = data_args;
    args.extend([
        "--marketplace".to_owned(),
        dir.join("marketplace").display().to_string(),
    ]);
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let log = dir.join(format!("server-{}.log", database.label));
    let server = serve(&args, &log).await;
    Served {
        server,
        ada_password: line_value(&ada, "one-time password:").to_owned(),
        grace_password: line_value(&grace, "one-time password:").to_owned(),
        ada_token: line_value(&ada, "api token:").to_owned(),
        ada_company: line_value(&ada, "company:")
            .split(' ')
            .next()
            .expect("id")
            .to_owned(),
        log,
    }
}

async fn login_over_http(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{base}/api/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test]
async fn fifty_sign_in_attempts_at_one_account_are_throttled_while_everyone_else_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let sub = tempfile::tempdir_in(dir.path()).expect("tempdir");
        let served = served(&database, sub.path(), &[]).await;
        let base = served.server.base.clone();
        let http = reqwest::Client::new();
        let guess = "Guess-0f-the-Attacker";

        let (client, at) = (&http, base.as_str());
        let flood = futures::future::join_all((0..50).map(|_| async move {
            let answer = login_over_http(client, at, "ada@acme.test", guess).await;
            let status = answer.status().as_u16();
            let retry_after = answer
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let body: Value = answer.json().await.expect("a JSON body");
            (status, retry_after, body)
        }));
        let others = async {
            let health = http
                .get(format!("{base}/healthz"))
                .send()
                .await
                .expect("healthz");
            let grace =
                login_over_http(&http, &base, "grace@globex.test", &served.grace_password).await;
            let script = http
                .get(format!("{base}/api/companies/{}", served.ada_company))
                .bearer_auth(&served.ada_token)
                .send()
                .await
                .expect("a script's request");
            (
                health.status().as_u16(),
                grace.status().as_u16(),
                script.status().as_u16(),
            )
        };
        let (flood, (health, grace, script)) = tokio::join!(flood, others);
        let label = database.label;
        assert_eq!(
            (health, grace, script),
            (200, 200, 200),
            "{label}: everyone else is served"
        );

        let wrong = flood.iter().filter(|(status, ..)| *status == 401).count();
        let throttled: Vec<_> = flood.iter().filter(|(status, ..)| *status == 429).collect();
        assert_eq!(wrong + throttled.len(), 50, "{label}: {flood:?}");
        // Five at once, and one more only if the test took longer than the 12 seconds
        // that let one through.
        assert!(
            (5..=6).contains(&wrong),
            "{label}: {wrong} attempts were checked"
        );
        for (_, retry_after, body) in &throttled {
            let seconds = retry_after.expect("Retry-After on a 429");
            assert!(
                (1..=12).contains(&seconds),
                "{label}: Retry-After {seconds}"
            );
            assert_eq!(body["code"], "too_many_requests");
            assert_eq!(
                body["message"],
                format!(
                    "too many sign-in attempts for this account; try again in {seconds} seconds"
                )
            );
        }
        let right = login_over_http(&http, &base, "ada@acme.test", &served.ada_password).await;
        assert_eq!(
            right.status().as_u16(),
            429,
            "{label}: even the right password waits"
        );

        // Through a proxy on this machine, each client has its own allowance across accounts.
        let through_proxy = |client: &'static str, account: String| {
            http.post(format!("{base}/api/login"))
                .header("x-forwarded-for", format!("198.51.100.1, {client}"))
                .json(&json!({ "email": account, "password": guess }))
                .send()
        };
        for i in 0..20 {
            let answer = through_proxy("203.0.113.9", format!("nobody{i}@acme.test"))
                .await
                .expect("an answer");
            assert_eq!(answer.status().as_u16(), 401, "{label}: attempt {i}");
        }
        let sprayed = through_proxy("203.0.113.9", "nobody20@acme.test".into())
            .await
            .expect("an answer");
        assert_eq!(sprayed.status().as_u16(), 429, "{label}");
        let sprayed: Value = sprayed.json().await.expect("JSON");
        assert!(
            sprayed["message"].as_str().is_some_and(
                |m| m.starts_with("too many sign-in attempts for your address; try again in ")
            ),
            "{label}: {sprayed}"
        );
        let neighbour = through_proxy("203.0.113.10", "nobody21@acme.test".into())
            .await
            .expect("an answer");
        assert_eq!(
            neighbour.status().as_u16(),
            401,
            "{label}: another client is not held back"
        );

        let log = std::fs::read_to_string(&served.log).expect("the server log");
        assert!(log.contains("sign-in attempt throttled"), "{label}: {log}");
        assert!(
            log.contains("ada@acme.test"),
            "{label}: the account is named"
        );
        assert!(
            !log.contains(guess),
            "{label}: a password never reaches the log"
        );
        assert!(!log.contains(&served.ada_password), "{label}");
        drop(served);
        database.drop_schema().await;
    }
}

#[tokio::test]
async fn the_cookie_is_secure_unless_plain_http_is_served_on_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    for database in databases(dir.path()).await {
        let label = database.label;
        let http = reqwest::Client::new();
        let loopback = tempfile::tempdir_in(dir.path()).expect("tempdir");
        let served_plain = served(&database, loopback.path(), &[]).await;
        let answer = login_over_http(
            &http,
            &served_plain.server.base,
            "ada@acme.test",
            &served_plain.ada_password,
        )
        .await;
        assert_eq!(answer.status().as_u16(), 200, "{label}");
        let cookie = answer.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            !cookie.contains("Secure"),
            "{label}: plain HTTP on loopback: {cookie}"
        );
        drop(served_plain);
        database.drop_schema().await;
    }
    // Behind a proxy: users open https://sluice.example.com, which is the only site whose
    // pages may make changes.
    for database in databases(dir.path()).await {
        let label = database.label;
        let http = reqwest::Client::new();
        let proxied = tempfile::tempdir_in(dir.path()).expect("tempdir");
        let served = served(
            &database,
            proxied.path(),
            &["--public-url", "https://sluice.example.com"],
        )
        .await;
        let base = &served.server.base;
        let answer = login_over_http(&http, base, "ada@acme.test", &served.ada_password).await;
        assert_eq!(answer.status().as_u16(), 200, "{label}");
        let set = answer.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(set.contains("; Secure"), "{label}: {set}");
        let cookie = set.split(';').next().expect("name=value").to_owned();
        let body: Value = answer.json().await.expect("JSON");
        let csrf = body["csrf_token"]
            .as_str()
            .expect("a CSRF token")
            .to_owned();
        let logout = |origin: String| {
            http.post(format!("{base}/api/logout"))
                .header("cookie", &cookie)
                .header("x-csrf-token", &csrf)
                .header("origin", origin)
                .send()
        };
        let from_listen_address = logout(base.clone()).await.expect("an answer");
        assert_eq!(from_listen_address.status().as_u16(), 403, "{label}");
        let message = from_listen_address.json::<Value>().await.expect("JSON")["message"].clone();
        assert!(
            message
                .as_str()
                .is_some_and(|m| m.contains("(`https://sluice.example.com`)")),
            "{label}: {message}"
        );
        let from_public = logout("https://sluice.example.com".into())
            .await
            .expect("an answer");
        assert_eq!(from_public.status().as_u16(), 204, "{label}");
        drop(served);
        database.drop_schema().await;
    }
}

#[tokio::test]
async fn a_session_idle_time_under_a_minute_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let args = [
        "--data-dir".to_owned(),
        dir.path().join("data").display().to_string(),
        "--session-idle".to_owned(),
        "30s".to_owned(),
    ];
    let (mut command, _) = crate::process::serve_command(&args, &log);
    let status = command.status().expect("run sluice serve");
    assert!(!status.success());
    let said = std::fs::read_to_string(&log).expect("its output");
    assert!(
        said.contains(
            "error: --session-idle must be at least a minute: a session's use is recorded to the minute"
        ),
        "{said}"
    );
}
