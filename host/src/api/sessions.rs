//! Signing in and out, and the signed-in person's own account.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{ApiError, ApiJson, AppState, Caller, ClientAddress, SESSION_COOKIE};
use crate::access::{ONE_TIME_PASSWORD_LIFETIME, SESSION_PREFIX, csrf_token, new_bearer};
use crate::store::{format_ms, now_ms};

/// The shortest password accepted.
const MIN_PASSWORD: usize = 12;

/// Credentials to sign in with.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The account's email.
    pub email: String,
    /// Its password (or the one-time password it was given).
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
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
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    /// The current password; not needed right after signing in with a one-time password.
    #[serde(default)]
    pub current: Option<String>,
    /// The new password, at least 12 characters.
    pub password: String,
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword { .. }")
    }
}

/// Signs in with email and password; sets an httpOnly session cookie. Attempts are
/// throttled per account and per client address.
#[utoipa::path(post, path = "/api/login", tag = "sessions", request_body = Login,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = Me),
        (status = 401, description = "Wrong email or password, or an expired one-time password", body = super::ErrorBody),
        (status = 403, description = "Sent from another site's page", body = super::ErrorBody),
        (status = 429, description = "Too many attempts for the account or from the address; `Retry-After` says when to try again", body = super::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    uri: Uri,
    jar: CookieJar,
    ApiJson(login): ApiJson<Login>,
) -> Result<(CookieJar, axum::Json<Me>), ApiError> {
    // Another site's page could otherwise sign a browser in to an account of its choosing.
    state.sign_in.origin.check(&headers, &uri)?;
    let email = login.email.trim().to_lowercase();
    let password = Zeroizing::new(login.password);
    if let Err(throttled) = state.sign_in.throttle.check(&email, address) {
        tracing::warn!(
            %email,
            address = ?address,
            retry_after_secs = throttled.retry_after_secs(),
            "sign-in attempt throttled"
        );
        return Err(ApiError::Throttled(throttled));
    }
    let hashing = &state.sign_in.hashing;
    let user = state.store.user_by_email(&email).await?;
    let Some((user, hash)) = user.and_then(|u| u.password_hash.clone().map(|h| (u, h))) else {
        // Spend the same time as a real check, so timing does not tell who has an account.
        let _ = hashing.hash(password).await;
        return Err(ApiError::BadCredentials);
    };
    if !hashing.verify(password, hash).await {
        return Err(ApiError::BadCredentials);
    }
    let now = now_ms();
    if user.password_one_time {
        if let Some(expired) = user.password_expires_at.filter(|at| *at <= now) {
            return Err(ApiError::Ended(format!(
                "this one-time password expired at {}: one-time passwords work for {} hours; \
                 ask whoever gave it to you for a new one",
                format_ms(expired),
                ONE_TIME_PASSWORD_LIFETIME.as_secs() / 3600
            )));
        }
        state.store.set_password(&user.id, None, false).await?;
    }
    let policy = state.sign_in.sessions;
    let (value, value_hash) = new_bearer(SESSION_PREFIX);
    state
        .store
        .create_session(
            &value_hash,
            &user.id,
            now.saturating_add(policy.lifetime_ms()),
        )
        .await?;
    state
        .store
        .delete_ended_sessions(&user.id, now.saturating_sub(policy.idle_ms()))
        .await?;
    let cookie = Cookie::build((SESSION_COOKIE, value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .path("/")
        .max_age(time::Duration::seconds(
            i64::try_from(policy.lifetime.as_secs()).unwrap_or(i64::MAX),
        ))
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

/// Sets the signed-in person's password, and ends their other sessions: whoever else was
/// signed in as them is signed out.
#[utoipa::path(put, path = "/api/me/password", tag = "sessions", request_body = NewPassword,
    responses((status = 204, description = "Password set; every other session of the person ended"),
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
    let hashing = &state.sign_in.hashing;
    if let Some(hash) = user.password_hash.clone() {
        let current = Zeroizing::new(body.current.unwrap_or_default());
        if current.is_empty() || !hashing.verify(current, hash).await {
            return Err(ApiError::BadCredentials);
        }
    }
    let hash = hashing
        .hash(Zeroizing::new(body.password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    state
        .store
        .set_password(&user.id, Some(&hash), false)
        .await?;
    state
        .store
        .end_other_sessions(&user.id, caller.session_hash.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
