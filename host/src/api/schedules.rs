//! An install's schedule: when it runs by itself. One schedule per install: a cron
//! expression in an IANA timezone, or a fixed interval.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, AppState, Caller};
use crate::scheduler::{Every, Overlap, Schedule};
use crate::store::{Role, StoredSchedule, format_ms, now_ms, rfc3339};

/// How many upcoming slots a schedule shows.
const UPCOMING: usize = 5;

/// A schedule to set.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// A cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6
    /// with a second first. Give this or `interval_seconds`.
    #[serde(default)]
    pub cron: Option<String>,
    /// A fixed interval in seconds, from one slot to the next.
    #[serde(default)]
    pub interval_seconds: Option<u64>,
    /// The IANA timezone the cron expression is read in (default `UTC`).
    #[serde(default = "utc")]
    pub timezone: String,
    /// Whether it runs (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What a slot does while the previous run goes on (default `skip`).
    #[serde(default)]
    pub overlap: Overlap,
    /// Runs start up to this many seconds after their slot, the same delay for every slot
    /// of this install, so many installs due at once spread out (default 0).
    #[serde(default)]
    pub jitter_seconds: u64,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn yes() -> bool {
    true
}

/// A schedule as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    /// The cron expression, when it is one.
    pub cron: Option<String>,
    /// The interval in seconds, when it is one.
    pub interval_seconds: Option<u64>,
    /// The timezone the cron expression is read in.
    pub timezone: String,
    /// Whether it runs.
    pub enabled: bool,
    /// What a slot does while the previous run goes on.
    pub overlap: Overlap,
    /// The most a run starts after its slot, in seconds.
    pub jitter_seconds: u64,
    /// The next slots (RFC 3339), soonest first; empty while disabled.
    pub next_due: Vec<String>,
    /// When it was set.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    /// When it was last changed.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: i64,
}

fn view(stored: &StoredSchedule) -> Result<ScheduleView, ApiError> {
    let schedule = Schedule::from_stored(stored).map_err(|e| ApiError::Internal(e.to_string()))?;
    let next_due = match (stored.enabled, stored.next_due_at) {
        (true, Some(first)) => std::iter::once(first)
            .chain(schedule.upcoming(first, UPCOMING - 1))
            .map(format_ms)
            .collect(),
        _ => Vec::new(),
    };
    Ok(ScheduleView {
        cron: stored.cron.clone(),
        interval_seconds: match schedule.every {
            Every::Interval(interval) => Some(interval.as_secs()),
            Every::Cron { .. } => None,
        },
        timezone: stored.timezone.clone(),
        enabled: stored.enabled,
        overlap: schedule.overlap,
        jitter_seconds: schedule.jitter.as_secs(),
        next_due,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    })
}

/// The stored form of a checked schedule, its first slot after now.
pub(super) fn stored(
    company: &str,
    install: &str,
    schedule: &Schedule,
    timezone: &str,
) -> StoredSchedule {
    let (cron, interval_ms) = match &schedule.every {
        Every::Cron { expression, .. } => (Some(expression.clone()), None),
        Every::Interval(interval) => (
            None,
            Some(i64::try_from(interval.as_millis()).unwrap_or(i64::MAX)),
        ),
    };
    StoredSchedule {
        install_id: install.to_owned(),
        company_id: company.to_owned(),
        cron,
        interval_ms,
        timezone: timezone.to_owned(),
        enabled: schedule.enabled,
        overlap: schedule.overlap.as_str().to_owned(),
        jitter_ms: i64::try_from(schedule.jitter.as_millis()).unwrap_or(0),
        next_due_at: schedule.next_after(now_ms()),
        created_at: 0,
        updated_at: 0,
    }
}

/// An install's schedule.
#[utoipa::path(get, path = "/api/companies/{company}/installs/{install}/schedule", tag = "schedules",
    params(("company" = String, Path, description = "The company's id"),
           ("install" = String, Path, description = "The install's id")),
    responses((status = 200, description = "The schedule, with its next slots", body = ScheduleView),
              (status = 404, description = "No such install, or it has no schedule", body = super::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, install)): ApiPath<(String, String)>,
) -> Result<axum::Json<ScheduleView>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let stored = state
        .store
        .schedule(&company, &install)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(view(&stored)?))
}

/// Sets an install's schedule, replacing the one it had (admins).
#[utoipa::path(put, path = "/api/companies/{company}/installs/{install}/schedule", tag = "schedules",
    params(("company" = String, Path, description = "The company's id"),
           ("install" = String, Path, description = "The install's id")),
    request_body = ScheduleRequest,
    responses((status = 200, description = "Set", body = ScheduleView),
              (status = 400, description = "A bad cron expression, timezone, interval or jitter; the message names the field", body = super::ErrorBody),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such install", body = super::ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, install)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ScheduleRequest>,
) -> Result<axum::Json<ScheduleView>, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    super::installs::find(&state, &company, &install).await?;
    let schedule = Schedule::new(
        body.cron.as_deref(),
        body.interval_seconds.map(Duration::from_secs),
        &body.timezone,
        body.enabled,
        body.overlap,
        Duration::from_secs(body.jitter_seconds),
    )
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let kept = state
        .store
        .put_schedule(&stored(&company, &install, &schedule, &body.timezone))
        .await?;
    state.runs.schedules_changed();
    state
        .store
        .audit(&company, &caller.actor(), "schedule.set", &install)
        .await?;
    Ok(axum::Json(view(&kept)?))
}

/// Removes an install's schedule: it runs only when started (admins).
#[utoipa::path(delete, path = "/api/companies/{company}/installs/{install}/schedule", tag = "schedules",
    params(("company" = String, Path, description = "The company's id"),
           ("install" = String, Path, description = "The install's id")),
    responses((status = 204, description = "Removed"),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such install, or it has no schedule", body = super::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, install)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    if !state.store.delete_schedule(&company, &install).await? {
        return Err(ApiError::NotFound);
    }
    state.runs.schedules_changed();
    state
        .store
        .audit(&company, &caller.actor(), "schedule.delete", &install)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
