//! The one error type of the API: it decides every status code, and turns internal
//! failures into a logged 500 whose text never reaches the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::sign_in::Throttled;
use crate::store::StoreError;

/// What went wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or its content is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// No valid session or token.
    #[error("sign in, or send an API token as `Authorization: Bearer …`")]
    Unauthenticated,
    /// The email or password is wrong.
    #[error("wrong email or password")]
    BadCredentials,
    /// A credential that was good has ended: an expired one-time password or API token,
    /// or an API token that ended with the one that created it.
    #[error("{0}")]
    Ended(String),
    /// Too many sign-in attempts; the answer says when to try again.
    #[error("{}", .0.message())]
    Throttled(Throttled),
    /// Signed in, but the role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// Missing — or belonging to another company, which looks exactly the same.
    #[error("not found")]
    NotFound,
    /// It conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// The request is well-formed but cannot be done (a configuration the connector's
    /// schema refuses, a grant that does not fit the request).
    #[error("{0}")]
    Unprocessable(String),
    /// A webhook whose signature did not verify: nothing was queued.
    #[error("{0}")]
    BadSignature(String),
    /// The request's body is larger than the route takes.
    #[error("{0}")]
    TooLarge(String),
    /// Too much at once: the caller should try again later.
    #[error("{0}")]
    TooManyRequests(String),
    /// A failure of the host; logged, never shown.
    #[error("internal error")]
    Internal(String),
}

/// The JSON body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: `bad_request`, `unauthenticated`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `unprocessable`, `bad_signature`, `too_large`,
    /// `too_many_requests` or `internal`.
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthenticated | Self::BadCredentials | Self::Ended(_) => {
                (StatusCode::UNAUTHORIZED, "unauthenticated")
            }
            Self::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            Self::BadSignature(_) => (StatusCode::UNAUTHORIZED, "bad_signature"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error answering a request");
        }
        let (status, code) = self.status_and_code();
        let body = ErrorBody {
            code,
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::Throttled(throttled) = &self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(throttled.retry_after_secs()),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => Self::Conflict(message),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::PathRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

/// A JSON body whose rejection is an [`ApiError`].
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// A query string whose rejection is an [`ApiError`].
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Path parameters whose rejection is an [`ApiError`].
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<crate::worker::ChecksBusy> for ApiError {
    fn from(busy: crate::worker::ChecksBusy) -> Self {
        Self::TooManyRequests(busy.to_string())
    }
}
