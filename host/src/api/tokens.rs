//! API tokens for scripts: scoped to one company, stored hashed, revocable, optionally
//! expiring; owners manage them. A token created with an API token ends when that one ends.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, Caller, Page, PageQuery};
use crate::access::{TOKEN_PREFIX, new_bearer};
use crate::store::{ApiToken, Role, TokenEnds, format_ms, now_ms, parse_rfc3339};

/// A token to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for.
    pub name: String,
    /// What it may do; at most the creator's role. `member` when absent.
    #[serde(default)]
    pub role: Option<Role>,
    /// Seconds until it expires (at most ten years). It never expires when neither this
    /// nor `expires_at` is given.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// When it expires, an RFC 3339 time in the future (`2027-01-31T00:00:00Z`); instead of
    /// `expires_in`.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// The longest `expires_in`: ten years.
const MAX_EXPIRES_IN: u64 = 10 * 365 * 86_400;

impl NewToken {
    /// When the token should expire, from `expires_in` or `expires_at`, checked.
    fn expiry(&self, now: i64) -> Result<Option<i64>, ApiError> {
        match (self.expires_in, self.expires_at.as_deref()) {
            (Some(_), Some(_)) => Err(ApiError::BadRequest(
                "give `expires_in` or `expires_at`, not both".into(),
            )),
            (Some(seconds), None) => {
                if !(1..=MAX_EXPIRES_IN).contains(&seconds) {
                    return Err(ApiError::BadRequest(format!(
                        "`expires_in` is in seconds, from 1 to {MAX_EXPIRES_IN} (ten years)"
                    )));
                }
                let millis = i64::try_from(seconds * 1000).unwrap_or(i64::MAX);
                Ok(Some(now.saturating_add(millis)))
            }
            (None, Some(text)) => {
                let at = parse_rfc3339(text).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "`expires_at` `{text}` is not an RFC 3339 time such as 2027-01-31T00:00:00Z"
                    ))
                })?;
                if at <= now {
                    return Err(ApiError::BadRequest(format!(
                        "`expires_at` {} is not in the future",
                        format_ms(at)
                    )));
                }
                Ok(Some(at))
            }
            (None, None) => Ok(None),
        }
    }
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

/// Creates an API token (owners only). One created with an API token ends when that one
/// ends (revoked or expired), and expires no later than it.
#[utoipa::path(post, path = "/api/companies/{company}/tokens", tag = "tokens",
    params(("company" = String, Path, description = "The company's id")),
    request_body = NewToken,
    responses((status = 201, description = "Created; the value is shown once", body = CreatedToken),
              (status = 400, description = "No name, or an expiry that is not in the future", body = super::ErrorBody),
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
    let mut ends = TokenEnds {
        expires_at: body.expiry(now_ms())?,
        parent_id: None,
    };
    if let Some(parent) = &caller.token {
        let parent_expiry = state.store.token_expiry(&company, &parent.token_id).await?;
        ends.expires_at = match (ends.expires_at, parent_expiry) {
            (Some(asked), Some(theirs)) => Some(asked.min(theirs)),
            (asked, theirs) => asked.or(theirs),
        };
        ends.parent_id = Some(parent.token_id.clone());
    }
    let (value, hash) = new_bearer(TOKEN_PREFIX);
    let token = state
        .store
        .create_token(&company, &caller.user_id, name, role, &hash, ends)
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

/// Revokes an API token (owners only), and with it every API token created with it.
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
