//! The company's audit log: who did what, when.

use axum::extract::State;

use super::pages::numeric_cursor;
use super::{ApiError, ApiPath, ApiQuery, AppState, Caller, Page, PageQuery};
use crate::store::{AuditEntry, Role};

/// The company's audit log, newest first (admins).
#[utoipa::path(get, path = "/api/companies/{company}/audit", tag = "audit",
    params(("company" = String, Path, description = "The company's id"), PageQuery),
    responses((status = 200, description = "Audit entries", body = Page<AuditEntry>),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<axum::Json<Page<AuditEntry>>, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let before = numeric_cursor(page.after.as_deref())?;
    let items = state.store.audit_log(&company, before, page.limit).await?;
    Ok(axum::Json(Page::new(items, page.limit, |e| {
        e.seq.to_string()
    })))
}
