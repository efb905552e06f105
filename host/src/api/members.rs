//! A company's members and their roles; owners manage them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, Caller, Page, PageQuery};
use crate::access::new_one_time_password;
use crate::store::{Member, Role};

/// Someone to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// Their email; an account is created when they have none.
    pub email: String,
    /// Their role.
    pub role: Role,
}

/// A member added.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddedMember {
    /// The member.
    #[serde(flatten)]
    pub member: Member,
    /// When the account was new: the password to sign in with once. Shown only now.
    pub one_time_password: Option<String>,
}

/// A role change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// The new role.
    pub role: Role,
}

/// The company's members.
#[utoipa::path(get, path = "/api/companies/{company}/members", tag = "members",
    params(("company" = String, Path, description = "The company's id"), PageQuery),
    responses((status = 200, description = "Members", body = Page<Member>),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<axum::Json<Page<Member>>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let items = state
        .store
        .members(&company, page.after.as_deref(), page.limit)
        .await?;
    Ok(axum::Json(Page::new(items, page.limit, |m| {
        m.user_id.clone()
    })))
}

/// Adds a member (owners only).
#[utoipa::path(post, path = "/api/companies/{company}/members", tag = "members",
    params(("company" = String, Path, description = "The company's id")),
    request_body = NewMember,
    responses((status = 201, description = "Added", body = AddedMember),
              (status = 400, description = "Not an email", body = super::ErrorBody),
              (status = 403, description = "Not an owner", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody),
              (status = 409, description = "Already a member", body = super::ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiJson(body): ApiJson<NewMember>,
) -> Result<(StatusCode, axum::Json<AddedMember>), ApiError> {
    caller.role_in(&state, &company, Role::Owner).await?;
    let email = body.email.trim().to_lowercase();
    if !valid_email(&email) {
        return Err(ApiError::BadRequest(format!(
            "`{}` is not an email address",
            body.email
        )));
    }
    let (user, one_time_password) = match state.store.user_by_email(&email).await? {
        Some(user) => (user, None),
        None => {
            let password = new_one_time_password();
            let hash = state
                .sign_in
                .hashing
                .hash(zeroize::Zeroizing::new(password.clone()))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            (
                state.store.create_user(&email, &hash, true).await?,
                Some(password),
            )
        }
    };
    state
        .store
        .add_member(&company, &user.id, body.role)
        .await?;
    state
        .store
        .audit(
            &company,
            &caller.actor(),
            "member.add",
            &format!("{} as {}", user.email, body.role.as_str()),
        )
        .await?;
    let member = state
        .store
        .member(&company, &user.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AddedMember {
            member,
            one_time_password,
        }),
    ))
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(char::is_whitespace)
}

/// Refuses to leave the company without an owner.
async fn keep_an_owner(state: &AppState, company: &str, user: &str) -> Result<(), ApiError> {
    let current = state
        .store
        .role_in(company, user)
        .await?
        .ok_or(ApiError::NotFound)?;
    if current == Role::Owner && state.store.owner_count(company).await? <= 1 {
        return Err(ApiError::Conflict(
            "this is the company's last owner; make someone else an owner first".into(),
        ));
    }
    Ok(())
}

/// Changes a member's role (owners only).
#[utoipa::path(patch, path = "/api/companies/{company}/members/{user}", tag = "members",
    params(("company" = String, Path, description = "The company's id"),
           ("user" = String, Path, description = "The member's user id")),
    request_body = RoleChange,
    responses((status = 200, description = "Changed", body = Member),
              (status = 403, description = "Not an owner", body = super::ErrorBody),
              (status = 404, description = "No such member", body = super::ErrorBody),
              (status = 409, description = "The last owner", body = super::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, user)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RoleChange>,
) -> Result<axum::Json<Member>, ApiError> {
    caller.role_in(&state, &company, Role::Owner).await?;
    if body.role != Role::Owner {
        keep_an_owner(&state, &company, &user).await?;
    }
    if !state.store.set_role(&company, &user, body.role).await? {
        return Err(ApiError::NotFound);
    }
    state
        .store
        .audit(
            &company,
            &caller.actor(),
            "member.role",
            &format!("{user} to {}", body.role.as_str()),
        )
        .await?;
    let member = state
        .store
        .member(&company, &user)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(member))
}

/// Removes a member (owners only); their tokens for the company stop working.
#[utoipa::path(delete, path = "/api/companies/{company}/members/{user}", tag = "members",
    params(("company" = String, Path, description = "The company's id"),
           ("user" = String, Path, description = "The member's user id")),
    responses((status = 204, description = "Removed"),
              (status = 403, description = "Not an owner", body = super::ErrorBody),
              (status = 404, description = "No such member", body = super::ErrorBody),
              (status = 409, description = "The last owner", body = super::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, user)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.role_in(&state, &company, Role::Owner).await?;
    keep_an_owner(&state, &company, &user).await?;
    if !state.store.remove_member(&company, &user).await? {
        return Err(ApiError::NotFound);
    }
    state
        .store
        .audit(&company, &caller.actor(), "member.remove", &user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
