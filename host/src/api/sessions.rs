//! Signing in and out, and the signed-in person's own account.

use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, AppState, Caller, SESSION_COOKIE};
use crate::access::{SESSION_PREFIX, csrf_token, hash_password, new_bearer, verify_password};
use crate::store::now_ms;

/// How long a session lasts.
const SESSION_DAYS: i64 = 14;

/// The shortest password accepted.
const MIN_PASSWORD: usize = 12;

/// Credentials to sign in with.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The account's email.
    pub email: String,
    /// Its password (or the one-time password it was given).
    pub password: String,
}

/// Who is signed in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// Their id.
    pub user_id: String,
    /// Their email.
    pub email: String,
    /// True after signing in with a one-time password: set a password now
    /// (`PUT /api/me/password`), because the one-time password no longer works.
    pub must_set_password: bool,
    /// For a browser signed in with the session cookie: the token its state-changing
    /// requests carry in the `X-CSRF-Token` header. None for an API token.
    pub csrf_token: Option<String>,
}

/// A new password.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    /// The current password; not needed right after signing in with a one-time password.
    #[serde(default)]
    pub current: Option<String>,
    /// The new password, at least 12 characters.
    pub password: String,
}

/// Signs in with email and password; sets an httpOnly session cookie.
#[utoipa::path(post, path = "/api/login", tag = "sessions", request_body = Login,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = Me),
        (status = 401, description = "Wrong email or password", body = super::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    ApiJson(login): ApiJson<Login>,
) -> Result<(CookieJar, axum::Json<Me>), ApiError> {
    let user = state.store.user_by_email(login.email.trim()).await?;
    let Some((user, hash)) = user.and_then(|u| u.password_hash.clone().map(|h| (u, h))) else {
        // Spend the same time as a real check, so timing does not tell who has an account.
        let _ = hash_password(&login.password);
        return Err(ApiError::BadCredentials);
    };
    if !verify_password(&login.password, &hash) {
        return Err(ApiError::BadCredentials);
    }
    if user.password_one_time {
        state.store.set_password(&user.id, None, false).await?;
    }
    let (value, value_hash) = new_bearer(SESSION_PREFIX);
    state
        .store
        .create_session(&value_hash, &user.id, now_ms() + SESSION_DAYS * 86_400_000)
        .await?;
    let cookie = Cookie::build((SESSION_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .path("/")
        .max_age(time_days(SESSION_DAYS))
        .build();
    Ok((
        jar.add(cookie),
        axum::Json(Me {
            user_id: user.id,
            email: user.email,
            must_set_password: user.password_one_time,
            csrf_token: Some(csrf_token(&value_hash)),
        }),
    ))
}

fn time_days(days: i64) -> time::Duration {
    time::Duration::days(days)
}

/// Signs out: ends the session and clears its cookie.
#[utoipa::path(post, path = "/api/logout", tag = "sessions",
    responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    jar: CookieJar,
) -> Result<(CookieJar, StatusCode), ApiError> {
    if let Some(hash) = &caller.session_hash {
        state.store.delete_session(hash).await?;
    }
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        StatusCode::NO_CONTENT,
    ))
}

/// Who is calling.
#[utoipa::path(get, path = "/api/me", tag = "sessions",
    responses((status = 200, description = "The caller", body = Me),
              (status = 401, description = "Not signed in", body = super::ErrorBody)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<Me>, ApiError> {
    let user = state
        .store
        .user(&caller.user_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(axum::Json(Me {
        user_id: user.id,
        must_set_password: user.password_hash.is_none(),
        email: user.email,
        csrf_token: caller.session_hash.as_deref().map(csrf_token),
    }))
}

/// Sets the signed-in person's password.
#[utoipa::path(put, path = "/api/me/password", tag = "sessions", request_body = NewPassword,
    responses((status = 204, description = "Password set"),
              (status = 400, description = "Too short", body = super::ErrorBody),
              (status = 401, description = "Wrong current password", body = super::ErrorBody)))]
pub async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewPassword>,
) -> Result<StatusCode, ApiError> {
    if caller.token.is_some() {
        return Err(ApiError::Forbidden(
            "an API token cannot change a password; sign in as the person".into(),
        ));
    }
    if body.password.chars().count() < MIN_PASSWORD {
        return Err(ApiError::BadRequest(format!(
            "a password needs at least {MIN_PASSWORD} characters"
        )));
    }
    let user = state
        .store
        .user(&caller.user_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if let Some(hash) = &user.password_hash
        && !body
            .current
            .as_deref()
            .is_some_and(|current| verify_password(current, hash))
    {
        return Err(ApiError::BadCredentials);
    }
    let hash = hash_password(&body.password).map_err(|e| ApiError::Internal(e.to_string()))?;
    state
        .store
        .set_password(&user.id, Some(&hash), false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
