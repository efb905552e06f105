//! The company's log lines across runs, filtered.

use axum::extract::State;
use serde::Deserialize;

use super::pages::numeric_cursor;
use super::{ApiError, ApiPath, ApiQuery, AppState, Caller, Page};
use crate::runtime::Level;
use crate::store::{LogFilter, Role, StoredLogLine, parse_rfc3339};

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
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// How many at most (1–500, default 100).
    pub limit: Option<i64>,
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

/// The company's log lines, oldest first.
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
    if let Some(source) = &query.source
        && !["plugin", "stdio", "host"].contains(&source.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "`source` must be plugin, stdio or host; `{source}` is not"
        )));
    }
    let filter = LogFilter {
        install: query.install,
        run: query.run,
        level: query.level.as_deref().map(parse_level).transpose()?,
        source: query.source,
        contains: query.q,
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
        after: numeric_cursor(query.after.as_deref())?,
        limit: query.limit,
    };
    let items = state.store.logs(&company, &filter).await?;
    Ok(axum::Json(Page::new(items, query.limit, |l| {
        l.seq.to_string()
    })))
}
