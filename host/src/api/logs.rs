//! The company's log lines across runs, filtered, in either order, and counted by hour,
//! level and install for the logs viewer's timeline.

use axum::extract::State;
use serde::Deserialize;

use super::pages::numeric_cursor;
use super::{ApiError, ApiPath, ApiQuery, AppState, Caller, Page};
use crate::runtime::Level;
use crate::store::{LogFilter, LogSummary, Role, StoredLogLine, parse_rfc3339};

/// Which log lines to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Only this install's lines.
    pub install: Option<String>,
    /// Only this run's lines.
    pub run: Option<String>,
    /// Only lines at this level or more serious: trace, debug, info, warn, error.
    pub level: Option<String>,
    /// Only lines from this source: plugin, stdio, host.
    pub source: Option<String>,
    /// Only lines containing this text, in any case.
    pub q: Option<String>,
    /// Only lines written at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only lines written before this RFC 3339 time.
    pub until: Option<String>,
    /// `oldest` first (the default) or `newest` first; newest first, `after` pages toward
    /// older lines.
    pub order: Option<String>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// How many at most (1–500, default 100).
    pub limit: Option<i64>,
}

/// Which log lines to count.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// Only this install's lines.
    pub install: Option<String>,
    /// Only this run's lines.
    pub run: Option<String>,
    /// Only lines at this level or more serious: trace, debug, info, warn, error.
    pub level: Option<String>,
    /// Only lines from this source: plugin, stdio, host.
    pub source: Option<String>,
    /// Only lines containing this text, in any case.
    pub q: Option<String>,
    /// Only lines written at or after this RFC 3339 time; default 24 hours ago.
    pub since: Option<String>,
    /// Only lines written before this RFC 3339 time.
    pub until: Option<String>,
}

/// How far back the timeline looks when no `since` is given.
const SUMMARY_DEFAULT_MS: i64 = 24 * 3_600_000;

/// The filter every log view shares, checked: its level and source must be ones that
/// exist, so a typo is an error rather than an empty view.
pub fn parse_log_filter(
    install: Option<String>,
    run: Option<String>,
    level: Option<&str>,
    source: Option<String>,
    contains: Option<String>,
) -> Result<LogFilter, ApiError> {
    if let Some(source) = &source
        && !["plugin", "stdio", "host"].contains(&source.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "`source` must be plugin, stdio or host; `{source}` is not"
        )));
    }
    Ok(LogFilter {
        install,
        run,
        level: level.map(parse_level).transpose()?,
        source,
        contains: contains.filter(|text| !text.is_empty()),
        ..LogFilter::default()
    })
}

/// A level from its name, or a clear error.
pub(super) fn parse_level(text: &str) -> Result<Level, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        ApiError::BadRequest(format!(
            "`level` must be trace, debug, info, warn or error; `{text}` is not"
        ))
    })
}

fn parse_time(name: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.map(|t| {
        parse_rfc3339(t).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`{name}` must be an RFC 3339 time such as 2026-11-22T09:30:00Z; `{t}` is not"
            ))
        })
    })
    .transpose()
}

/// The company's log lines, oldest (or newest) first.
#[utoipa::path(get, path = "/api/companies/{company}/logs", tag = "logs",
    params(("company" = String, Path, description = "The company's id"), LogsQuery),
    responses((status = 200, description = "Log lines", body = Page<StoredLogLine>),
              (status = 400, description = "Bad filter", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(query): ApiQuery<LogsQuery>,
) -> Result<axum::Json<Page<StoredLogLine>>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let newest_first = match query.order.as_deref() {
        None | Some("oldest") => false,
        Some("newest") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "`order` must be oldest or newest; `{other}` is not"
            )));
        }
    };
    let filter = LogFilter {
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
        after: numeric_cursor(query.after.as_deref())?,
        limit: query.limit,
        newest_first,
        ..parse_log_filter(
            query.install,
            query.run,
            query.level.as_deref(),
            query.source,
            query.q,
        )?
    };
    let items = state.store.logs(&company, &filter).await?;
    Ok(axum::Json(Page::new(items, query.limit, |l| {
        l.seq.to_string()
    })))
}

/// Counts of the company's log lines by hour, level and install: the viewer's timeline.
#[utoipa::path(get, path = "/api/companies/{company}/logs/summary", tag = "logs",
    params(("company" = String, Path, description = "The company's id"), SummaryQuery),
    responses((status = 200, description = "Counts", body = LogSummary),
              (status = 400, description = "Bad filter", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<axum::Json<LogSummary>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let since = parse_time("since", query.since.as_deref())?
        .unwrap_or_else(|| crate::store::now_ms() - SUMMARY_DEFAULT_MS);
    let filter = LogFilter {
        since: Some(since),
        until: parse_time("until", query.until.as_deref())?,
        ..parse_log_filter(
            query.install,
            query.run,
            query.level.as_deref(),
            query.source,
            query.q,
        )?
    };
    Ok(axum::Json(
        state.store.log_summary(&company, &filter).await?,
    ))
}
