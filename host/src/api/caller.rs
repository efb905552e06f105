//! Who is calling: a signed-in person (session cookie) or a script (API token), and what
//! they may do in a company.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;

use super::{ApiError, AppState};
use crate::access::{SESSION_PREFIX, TOKEN_PREFIX, bearer_hash, csrf_token, tokens_equal};
use crate::store::{Role, TokenGrant};

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
            let grant = state
                .store
                .token_grant(&bearer_hash(token))
                .await?
                .ok_or(ApiError::Unauthenticated)?;
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
        // A cookie goes with every request to this server, whoever's page made it; only
        // the console, which read the token from an answer, can name it.
        if !parts.method.is_safe() {
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
        let session = state
            .store
            .session(&hash)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        Ok(Caller {
            user_id: session.user_id,
            token: None,
            session_hash: Some(hash),
        })
    }
}
