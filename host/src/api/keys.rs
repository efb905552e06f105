//! A company's data key: owners rotate it, and every secret is sealed again with the new
//! one, without a value leaving the host.

use axum::extract::State;
use serde::Serialize;

use super::{ApiError, ApiPath, AppState, Caller};
use crate::store::{Resealed, Role};

/// A data-key rotation done.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedDataKey {
    /// The new data key's version: new secrets are sealed with it.
    pub version: u32,
    /// How many secrets were sealed again with it.
    pub resealed: usize,
}

/// Rotates the company's data key (owners only): a new data key seals new secrets, and
/// every existing secret is sealed again with it.
#[utoipa::path(post, path = "/api/companies/{company}/keys/rotate", tag = "secrets",
    params(("company" = String, Path, description = "The company's id")),
    responses((status = 200, description = "Rotated", body = RotatedDataKey),
              (status = 403, description = "Not an owner", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody),
              (status = 409, description = "A secret changed, or another rotation finished, meanwhile; rotate again", body = super::ErrorBody)))]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
) -> Result<axum::Json<RotatedDataKey>, ApiError> {
    caller.role_in(&state, &company, Role::Owner).await?;
    let internal =
        |e: crate::vault::VaultError| ApiError::Internal(format!("data-key rotation: {e}"));
    let mut keys = state.store.data_keys(&company).await?;
    let version = keys.iter().map(|k| k.version).max().unwrap_or(0) + 1;
    let key = state
        .vault
        .new_data_key(&company, version)
        .map_err(internal)?;
    keys.push(key.clone());
    let mut resealed = Vec::new();
    for (name, before) in state.store.secret_ciphertexts(&company).await? {
        let after = state
            .vault
            .reseal(&company, &keys, &name, &before)
            .map_err(internal)?;
        resealed.push(Resealed {
            name,
            before,
            after,
        });
    }
    state
        .store
        .rotate_data_key(&company, &key, &resealed)
        .await?;
    state
        .store
        .audit(
            &company,
            &caller.actor(),
            "keys.rotate_data",
            &format!("data key version {version}"),
        )
        .await?;
    Ok(axum::Json(RotatedDataKey {
        version,
        resealed: resealed.len(),
    }))
}
