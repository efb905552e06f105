//! The records the company's connectors wrote.

use axum::extract::State;
use serde::Deserialize;

use super::pages::numeric_cursor;
use super::{ApiError, ApiPath, ApiQuery, AppState, Caller, Page};
use crate::store::{RecordFilter, Role, StoredRecord};

/// Which records to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordsQuery {
    /// Only this install's records.
    pub install: Option<String>,
    /// Only this stream's records.
    pub stream: Option<String>,
    /// `true`: only records whose item was deleted at the service (`deleted_at` set);
    /// `false`: only those present. Default: both.
    pub deleted: Option<bool>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// How many at most (1–500, default 100); fewer when they pass 8 MiB.
    pub limit: Option<i64>,
}

/// The company's records, in the order they were first written; a page holds about
/// 8 MiB of records at most, and says `next` whenever more follow. A record whose item a
/// successful run of a full-refresh stream no longer found has `deleted_at` set.
#[utoipa::path(get, path = "/api/companies/{company}/records", tag = "records",
    params(("company" = String, Path, description = "The company's id"), RecordsQuery),
    responses((status = 200, description = "Records", body = Page<StoredRecord>),
              (status = 400, description = "Bad cursor", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(query): ApiQuery<RecordsQuery>,
) -> Result<axum::Json<Page<StoredRecord>>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let filter = RecordFilter {
        install: query.install,
        stream: query.stream,
        deleted: query.deleted,
        after: numeric_cursor(query.after.as_deref())?,
        limit: query.limit,
    };
    let page = state.store.records(&company, &filter).await?;
    Ok(axum::Json(Page::cut(
        page.records,
        query.limit,
        page.cut_at_bytes,
        |r| r.seq.to_string(),
    )))
}
