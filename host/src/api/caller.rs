//! Who is calling: a signed-in person (session cookie) or a script (API token), and what
//! they may do in a company.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;

use super::{ApiError, AppState};
use crate::access::{SESSION_PREFIX, TOKEN_PREFIX, bearer_hash, csrf_token, tokens_equal};
use crate::store::{Role, TokenGrant, TokenStatus, USE_RECORDED_EVERY_MS, format_ms, now_ms};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sluice_session";

/// The header a browser's state-changing request carries its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The person, or the creator of the token.
    pub user_id: String,
    /// The token, when a script calls.
    pub token: Option<TokenGrant>,
    /// The hash of the session value, when a browser calls.
    pub session_hash: Option<String>,
}

impl Caller {
    /// Who did it, for the audit log.
    pub fn actor(&self) -> String {
        match &self.token {
            Some(token) => format!("token:{}", token.token_id),
            None => format!("user:{}", self.user_id),
        }
    }

    /// The caller's role in `company`, which must be at least `needed`. A company the
    /// caller cannot see answers exactly like one that does not exist.
    pub async fn role_in(
        &self,
        state: &AppState,
        company: &str,
        needed: Role,
    ) -> Result<Role, ApiError> {
        let role = match &self.token {
            Some(token) if token.company_id != company => return Err(ApiError::NotFound),
            Some(token) => Some(token.role),
            None => state.store.role_in(company, &self.user_id).await?,
        };
        let Some(role) = role else {
            return Err(ApiError::NotFound);
        };
        if role < needed {
            return Err(ApiError::Forbidden(format!(
                "this needs the {} role in the company; {} the {} role",
                needed.as_str(),
                if self.token.is_some() {
                    "this token has"
                } else {
                    "you have"
                },
                role.as_str()
            )));
        }
        Ok(role)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|v| v.starts_with(TOKEN_PREFIX))
                .ok_or(ApiError::Unauthenticated)?;
            let grant = match state.store.token_status(&bearer_hash(token)).await? {
                TokenStatus::Live(grant) => grant,
                TokenStatus::Expired(at) => {
                    return Err(ApiError::Ended(format!(
                        "this API token expired at {}; an owner of its company can create a new one",
                        format_ms(at)
                    )));
                }
                TokenStatus::ParentEnded => {
                    return Err(ApiError::Ended(
                        "this API token was created with another API token, which has been \
                         revoked or has expired, and it ended with it"
                            .into(),
                    ));
                }
                TokenStatus::Unknown => return Err(ApiError::Unauthenticated),
            };
            return Ok(Caller {
                user_id: grant.user_id.clone(),
                token: Some(grant),
                session_hash: None,
            });
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let value = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|v| v.starts_with(SESSION_PREFIX))
            .ok_or(ApiError::Unauthenticated)?;
        let hash = bearer_hash(&value);
        // A cookie goes with every request to this server, whoever's page made it: a change
        // must come from this server's own pages (`Origin`), and carry the token that only
        // the console, which read it from an answer, can name.
        if !parts.method.is_safe() {
            state.sign_in.origin.check(&parts.headers, &parts.uri)?;
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !tokens_equal(sent, &csrf_token(&hash)) {
                return Err(ApiError::Forbidden(
                    "a request signed in with the session cookie must carry its CSRF token \
                     (`csrf_token` of /api/me) in the X-CSRF-Token header"
                        .into(),
                ));
            }
        }
        let now = now_ms();
        let session = state
            .store
            .session(&hash, now.saturating_sub(state.sign_in.sessions.idle_ms()))
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        // Idleness is counted to the minute, so most requests read the session and write
        // nothing.
        if now - session.last_seen_at >= USE_RECORDED_EVERY_MS {
            state.store.touch_session(&hash).await?;
        }
        Ok(Caller {
            user_id: session.user_id,
            token: None,
            session_hash: Some(hash),
        })
    }
}
