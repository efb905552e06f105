//! The hosts serving this database: which are alive and what each runs.

use axum::extract::State;

use super::{ApiError, AppState, Caller};
use crate::store::{HostInfo, Role};

/// Hosts that stopped longer ago than this are no longer listed.
const LISTED_FOR_MS: i64 = 24 * 3600 * 1000;

/// The hosts of this database seen in the last day, newest first (admins of any company).
#[utoipa::path(get, path = "/api/hosts", tag = "server",
    responses((status = 200, description = "Hosts, alive or recently gone, with the runs each holds", body = Vec<HostInfo>),
              (status = 403, description = "Not an admin of any company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<HostInfo>>, ApiError> {
    let admin = match &caller.token {
        Some(token) => token.role >= Role::Admin,
        None => state
            .store
            .companies_of(&caller.user_id, None, Some(crate::store::MAX_PAGE))
            .await?
            .iter()
            .any(|m| m.role >= Role::Admin),
    };
    if !admin {
        return Err(ApiError::Forbidden(
            "this needs the admin role in a company".into(),
        ));
    }
    // Alive: a heartbeat within three lease renewals' worth of time.
    let alive_ms = i64::try_from(state.runs.settings().lease.as_millis())
        .unwrap_or(i64::MAX)
        .max(3000);
    Ok(axum::Json(
        state.store.hosts(LISTED_FOR_MS, alive_ms).await?,
    ))
}
