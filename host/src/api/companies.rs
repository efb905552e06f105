//! Companies: the caller's list, creating one, reading one.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, Caller, Page, PageQuery};
use crate::store::{Company, Membership, Role, new_id};

/// A company to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    /// Its name.
    pub name: String,
}

/// The companies the caller belongs to (a token: only its own).
#[utoipa::path(get, path = "/api/companies", tag = "companies", params(PageQuery),
    responses((status = 200, description = "The caller's companies", body = Page<Membership>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<axum::Json<Page<Membership>>, ApiError> {
    let mut items = state
        .store
        .companies_of(&caller.user_id, page.after.as_deref(), page.limit)
        .await?;
    if let Some(token) = &caller.token {
        items.retain(|m| m.company.id == token.company_id);
        for membership in &mut items {
            membership.role = token.role;
        }
    }
    Ok(axum::Json(Page::new(items, page.limit, |m| {
        m.company.id.clone()
    })))
}

/// Creates a company with the caller as its owner.
#[utoipa::path(post, path = "/api/companies", tag = "companies", request_body = NewCompany,
    responses((status = 201, description = "Created", body = Company),
              (status = 400, description = "No name", body = super::ErrorBody),
              (status = 403, description = "Called with an API token", body = super::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewCompany>,
) -> Result<(StatusCode, axum::Json<Company>), ApiError> {
    if caller.token.is_some() {
        return Err(ApiError::Forbidden(
            "an API token belongs to one company and cannot create others; sign in to create a company".into(),
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "a company needs a name of 1 to 200 characters".into(),
        ));
    }
    let id = new_id("co");
    let key = state
        .vault
        .new_data_key(&id, 1)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let company = state
        .store
        .create_company(&id, name, &caller.user_id, key)
        .await?;
    state
        .store
        .audit(
            &company.id,
            &caller.actor(),
            "company.create",
            &company.name,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(company)))
}

/// One company the caller belongs to.
#[utoipa::path(get, path = "/api/companies/{company}", tag = "companies",
    params(("company" = String, Path, description = "The company's id")),
    responses((status = 200, description = "The company", body = Company),
              (status = 404, description = "No such company, or not the caller's", body = super::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
) -> Result<axum::Json<Company>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let company = state
        .store
        .company(&company)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(company))
}
