//! Runs: starting one by hand, the run history, one run and its log.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::logs::parse_level;
use super::pages::numeric_cursor;
use super::{ApiError, ApiPath, ApiQuery, AppState, Caller, Page};
use crate::store::{LogFilter, Role, Run, RunCall, RunFilter, RunTrigger, StoredLogLine};

/// The run statuses there are.
const STATUSES: &[&str] = &[
    "queued",
    "running",
    "succeeded",
    "rate_limited",
    "failed",
    "cancelled",
];

/// Which runs to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// Only this install's runs.
    pub install: Option<String>,
    /// Only runs with this status.
    pub status: Option<String>,
    /// The `next` of the previous page (runs come newest first).
    pub after: Option<String>,
    /// How many at most (1–500, default 100).
    pub limit: Option<i64>,
}

/// Which lines of a run's log to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunLogsQuery {
    /// Only lines at this level or more serious.
    pub level: Option<String>,
    /// Only lines containing this text, in any case.
    pub q: Option<String>,
    /// The `next` of the previous page, or the last `seq` seen, to follow a live run.
    pub after: Option<String>,
    /// How many at most (1–500, default 100).
    pub limit: Option<i64>,
}

/// Queues a run of an install, due now (admins); a host of the server claims it.
#[utoipa::path(post, path = "/api/companies/{company}/installs/{install}/runs", tag = "runs",
    params(("company" = String, Path, description = "The company's id"),
           ("install" = String, Path, description = "The install's id")),
    responses((status = 202, description = "Queued; follow it at …/runs/{run}", body = Run),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such install", body = super::ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, id)): ApiPath<(String, String)>,
) -> Result<(StatusCode, axum::Json<Run>), ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let install = super::installs::find(&state, &company, &id).await?;
    let run = state
        .runs
        .enqueue(&company, &install, RunTrigger::Manual, RunCall::Sync)
        .await?;
    state
        .store
        .audit(&company, &caller.actor(), "run.start", &run.id)
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(run)))
}

/// The company's run history, newest first.
#[utoipa::path(get, path = "/api/companies/{company}/runs", tag = "runs",
    params(("company" = String, Path, description = "The company's id"), RunsQuery),
    responses((status = 200, description = "Runs", body = Page<Run>),
              (status = 400, description = "Unknown status", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> Result<axum::Json<Page<Run>>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    if let Some(status) = &query.status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "`status` must be one of {}; `{status}` is not",
            STATUSES.join(", ")
        )));
    }
    let items = state
        .store
        .runs(
            &company,
            &RunFilter {
                install: query.install,
                status: query.status,
                before: query.after,
                limit: query.limit,
            },
        )
        .await?;
    Ok(axum::Json(Page::new(items, query.limit, |r| r.id.clone())))
}

/// One run: status, trigger, timings, records written, HTTP requests, peak memory, error.
#[utoipa::path(get, path = "/api/companies/{company}/runs/{run}", tag = "runs",
    params(("company" = String, Path, description = "The company's id"),
           ("run" = String, Path, description = "The run's id")),
    responses((status = 200, description = "The run", body = Run),
              (status = 404, description = "No such run", body = super::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, id)): ApiPath<(String, String)>,
) -> Result<axum::Json<Run>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let run = state
        .store
        .run(&company, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(run))
}

/// Cancels a queued or running run, on whichever host it runs (admins); nothing it wrote
/// is kept.
#[utoipa::path(post, path = "/api/companies/{company}/runs/{run}/cancel", tag = "runs",
    params(("company" = String, Path, description = "The company's id"),
           ("run" = String, Path, description = "The run's id")),
    responses((status = 200, description = "Cancelled", body = Run),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such run", body = super::ErrorBody),
              (status = 409, description = "The run has already ended", body = super::ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, id)): ApiPath<(String, String)>,
) -> Result<axum::Json<Run>, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let run = state
        .runs
        .status(&company, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !state.runs.cancel(&company, &id, &caller.actor()).await? {
        return Err(ApiError::Conflict(format!(
            "the run has already ended ({})",
            run.status
        )));
    }
    state
        .store
        .audit(&company, &caller.actor(), "run.cancel", &id)
        .await?;
    let run = state
        .runs
        .status(&company, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(run))
}

/// A run's log lines, oldest first.
#[utoipa::path(get, path = "/api/companies/{company}/runs/{run}/logs", tag = "runs",
    params(("company" = String, Path, description = "The company's id"),
           ("run" = String, Path, description = "The run's id"), RunLogsQuery),
    responses((status = 200, description = "Log lines", body = Page<StoredLogLine>),
              (status = 400, description = "Bad level or cursor", body = super::ErrorBody),
              (status = 404, description = "No such run", body = super::ErrorBody)))]
pub async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<RunLogsQuery>,
) -> Result<axum::Json<Page<StoredLogLine>>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    state
        .store
        .run(&company, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let filter = LogFilter {
        run: Some(id),
        level: query.level.as_deref().map(parse_level).transpose()?,
        contains: query.q,
        after: numeric_cursor(query.after.as_deref())?,
        limit: query.limit,
        ..LogFilter::default()
    };
    let items = state.store.logs(&company, &filter).await?;
    Ok(axum::Json(Page::new(items, query.limit, |l| {
        l.seq.to_string()
    })))
}
