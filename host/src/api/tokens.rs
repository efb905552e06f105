//! API tokens for scripts: scoped to one company, stored hashed, revocable; owners
//! manage them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, Caller, Page, PageQuery};
use crate::access::{TOKEN_PREFIX, new_bearer};
use crate::store::{ApiToken, Role};

/// A token to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for.
    pub name: String,
    /// What it may do; at most the creator's role. `member` when absent.
    #[serde(default)]
    pub role: Option<Role>,
}

/// A token just created: its value is shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token.
    #[serde(flatten)]
    pub token: ApiToken,
    /// Its value, for `Authorization: Bearer …`. Never shown again.
    pub value: String,
}

/// The company's API tokens, without their values (owners only).
#[utoipa::path(get, path = "/api/companies/{company}/tokens", tag = "tokens",
    params(("company" = String, Path, description = "The company's id"), PageQuery),
    responses((status = 200, description = "Tokens", body = Page<ApiToken>),
              (status = 403, description = "Not an owner", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<axum::Json<Page<ApiToken>>, ApiError> {
    caller.role_in(&state, &company, Role::Owner).await?;
    let items = state
        .store
        .tokens(&company, page.after.as_deref(), page.limit)
        .await?;
    Ok(axum::Json(Page::new(items, page.limit, |t| t.id.clone())))
}

/// Creates an API token (owners only).
#[utoipa::path(post, path = "/api/companies/{company}/tokens", tag = "tokens",
    params(("company" = String, Path, description = "The company's id")),
    request_body = NewToken,
    responses((status = 201, description = "Created; the value is shown once", body = CreatedToken),
              (status = 400, description = "No name", body = super::ErrorBody),
              (status = 403, description = "Not an owner", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<(StatusCode, axum::Json<CreatedToken>), ApiError> {
    let own = caller.role_in(&state, &company, Role::Owner).await?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "a token needs a name of 1 to 200 characters saying what it is for".into(),
        ));
    }
    let role = body.role.unwrap_or(Role::Member).min(own);
    let (value, hash) = new_bearer(TOKEN_PREFIX);
    let token = state
        .store
        .create_token(&company, &caller.user_id, name, role, &hash)
        .await?;
    state
        .store
        .audit(&company, &caller.actor(), "token.create", &token.id)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedToken { token, value }),
    ))
}

/// Revokes an API token (owners only).
#[utoipa::path(delete, path = "/api/companies/{company}/tokens/{token}", tag = "tokens",
    params(("company" = String, Path, description = "The company's id"),
           ("token" = String, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"),
              (status = 403, description = "Not an owner", body = super::ErrorBody),
              (status = 404, description = "No such token", body = super::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, token)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.role_in(&state, &company, Role::Owner).await?;
    if !state.store.revoke_token(&company, &token).await? {
        return Err(ApiError::NotFound);
    }
    state
        .store
        .audit(&company, &caller.actor(), "token.revoke", &token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
