//! A company's secrets: write-only. Names and dates come back, values never do.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, Caller, Page, PageQuery};
use crate::store::{Role, SecretInfo};

/// The longest secret value accepted.
const MAX_VALUE: usize = 64 * 1024;

/// A secret's new value.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// The value; stored encrypted, never shown again.
    pub value: String,
}

/// The company's secrets: names and dates only.
#[utoipa::path(get, path = "/api/companies/{company}/secrets", tag = "secrets",
    params(("company" = String, Path, description = "The company's id"), PageQuery),
    responses((status = 200, description = "Secret names and dates", body = Page<SecretInfo>),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<axum::Json<Page<SecretInfo>>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let items = state
        .store
        .secrets(&company, page.after.as_deref(), page.limit)
        .await?;
    Ok(axum::Json(Page::new(items, page.limit, |s| s.name.clone())))
}

/// Checks a secret's name: what installs map requested secrets to.
fn check_name(name: &str) -> Result<(), ApiError> {
    let fine = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if fine {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "a secret's name is 1 to 100 letters, digits, `_`, `-` or `.`".into(),
        ))
    }
}

/// Sets a secret's value (admins).
#[utoipa::path(put, path = "/api/companies/{company}/secrets/{name}", tag = "secrets",
    params(("company" = String, Path, description = "The company's id"),
           ("name" = String, Path, description = "The secret's name")),
    request_body = SecretValue,
    responses((status = 201, description = "Created"),
              (status = 204, description = "Replaced"),
              (status = 400, description = "Bad name or value", body = super::ErrorBody),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, name)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<SecretValue>,
) -> Result<StatusCode, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    check_name(&name)?;
    if body.value.is_empty() || body.value.len() > MAX_VALUE {
        return Err(ApiError::BadRequest(format!(
            "a secret's value is 1 byte to {} KiB",
            MAX_VALUE / 1024
        )));
    }
    // The plaintext is wiped from memory once sealed.
    let value = zeroize::Zeroizing::new(body.value);
    let keys = state.store.data_keys(&company).await?;
    let sealed = state
        .vault
        .encrypt(&company, &keys, &name, &value)
        .map_err(|e| ApiError::Internal(format!("cannot encrypt a secret: {e}")))?;
    let created = state.store.put_secret(&company, &name, sealed).await?;
    state
        .store
        .audit(&company, &caller.actor(), "secret.put", &name)
        .await?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    })
}

/// Deletes a secret (admins).
#[utoipa::path(delete, path = "/api/companies/{company}/secrets/{name}", tag = "secrets",
    params(("company" = String, Path, description = "The company's id"),
           ("name" = String, Path, description = "The secret's name")),
    responses((status = 204, description = "Deleted"),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such secret", body = super::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    if !state.store.delete_secret(&company, &name).await? {
        return Err(ApiError::NotFound);
    }
    state
        .store
        .audit(&company, &caller.actor(), "secret.delete", &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
