//! `POST /hooks/github/{install}`: GitHub's webhook deliveries.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Hook, already_received, read_body};
use crate::api::{ApiError, ApiPath, AppState};

/// GitHub caps a delivery's payload at 25 MB; larger is not a GitHub delivery.
const MAX_BODY: usize = 25 * 1024 * 1024;

const SOURCE: &str = "github";

/// A delivery from GitHub: verified with `X-Hub-Signature-256` against the install's
/// webhook secret, kept once per `X-GitHub-Delivery`, and queued as a run of every
/// install of the company that handles `github.<X-GitHub-Event>`. A `ping` is answered
/// at once. The payload may be sent as JSON or, when the hook was set up with GitHub's
/// form content type, as its `payload` field.
#[utoipa::path(post, path = "/hooks/github/{install}", tag = "webhooks",
    params(("install" = String, Path, description = "The install whose hook this is"),
           ("X-GitHub-Event" = String, Header, description = "The event, such as `pull_request`"),
           ("X-GitHub-Delivery" = String, Header, description = "The delivery's id"),
           ("X-Hub-Signature-256" = String, Header, description = "`sha256=` and the HMAC-SHA256 of the body")),
    request_body(content = Object, description = "The event's payload as GitHub sends it"),
    responses((status = 200, description = "A ping answered, or a delivery already received (processed once)", body = Object),
              (status = 202, description = "Kept; the runs it became are queued", body = Object),
              (status = 400, description = "Not a GitHub delivery", body = crate::api::ErrorBody),
              (status = 401, description = "The signature did not verify; nothing was queued", body = crate::api::ErrorBody),
              (status = 404, description = "No such install", body = crate::api::ErrorBody),
              (status = 413, description = "Larger than GitHub's 25 MB", body = crate::api::ErrorBody)))]
pub async fn github(
    State(state): State<AppState>,
    ApiPath(install): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let hook = Hook::find(&state, &install, SOURCE).await?;
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let delivery = text("x-github-delivery");
    let body = read_body(body, MAX_BODY, "GitHub").await?;
    let verified = hook
        .secret(SOURCE)
        .and_then(|secret| super::verify_github(secret, text("x-hub-signature-256"), &body));
    if let Err(error) = verified {
        return Err(hook.refuse(&state, SOURCE, delivery, &error).await);
    }
    let (Some(event), Some(delivery)) = (text("x-github-event"), delivery) else {
        return Err(ApiError::BadRequest(
            "a GitHub delivery has `X-GitHub-Event` and `X-GitHub-Delivery` headers".into(),
        ));
    };
    let payload = payload(&body, text(header::CONTENT_TYPE.as_str()))?;
    let kind = format!("{SOURCE}.{event}");
    let ping = event == "ping";
    let Some((id, routed)) = hook
        .deliver(&state, SOURCE, &kind, Some(delivery), &payload, ping)
        .await?
    else {
        return Ok(already_received());
    };
    if ping {
        return Ok((
            StatusCode::OK,
            axum::Json(json!({ "delivery": id, "message": "pong" })),
        )
            .into_response());
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "delivery": id, "runs": routed })),
    )
        .into_response())
}

/// The payload as JSON text: the body itself, or the `payload` field of a form.
fn payload(body: &[u8], content_type: Option<&str>) -> Result<String, ApiError> {
    let form = content_type.is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let text = if form {
        form_urlencoded::parse(body)
            .find(|(name, _)| name == "payload")
            .map(|(_, value)| value.into_owned())
            .ok_or_else(|| {
                ApiError::BadRequest("a form-encoded GitHub delivery has a `payload` field".into())
            })?
    } else {
        String::from_utf8(body.to_vec())
            .map_err(|_| ApiError::BadRequest("a GitHub delivery's body is UTF-8 JSON".into()))?
    };
    serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
        ApiError::BadRequest(format!("a GitHub delivery's payload is not JSON: {e}"))
    })?;
    Ok(text)
}
