//! The marketplace as the API shows it.

use axum::extract::State;

use super::{ApiError, ApiPath, AppState, Caller};
use crate::marketplace::Listing;

/// Every connector the marketplace offers.
#[utoipa::path(get, path = "/api/marketplace", tag = "marketplace",
    responses((status = 200, description = "Connectors, by name then version", body = Vec<Listing>)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<axum::Json<Vec<Listing>>, ApiError> {
    Ok(axum::Json(
        state
            .catalogue
            .offers()
            .iter()
            .map(|o| o.listing())
            .collect(),
    ))
}

/// The newest version of one connector.
#[utoipa::path(get, path = "/api/marketplace/{plugin}", tag = "marketplace",
    params(("plugin" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The connector", body = Listing),
              (status = 404, description = "No such connector", body = super::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(plugin): ApiPath<String>,
) -> Result<axum::Json<Listing>, ApiError> {
    let offer = state
        .catalogue
        .offer(&plugin, None)
        .map_err(|_| ApiError::NotFound)?;
    Ok(axum::Json(offer.listing()))
}
