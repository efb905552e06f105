//! `POST /hooks/slack/{install}/events` and `/interactions`: Slack's Events API and
//! interactive components (button presses).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Hook, already_received, read_body};
use crate::api::{ApiError, ApiPath, AppState};
use crate::store::now_ms;

/// Slack's requests are small; a megabyte is far above any event or interaction.
const MAX_BODY: usize = 1024 * 1024;

const SOURCE: &str = "slack";

/// Verifies a Slack request: the install's signing secret over `v0:{timestamp}:{body}`,
/// within five minutes of now.
async fn verified(
    state: &AppState,
    install: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Hook, axum::body::Bytes), ApiError> {
    let hook = Hook::find(state, install, SOURCE).await?;
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let body = read_body(body, MAX_BODY, "Slack").await?;
    let checked = hook.secret(SOURCE).and_then(|secret| {
        super::verify_slack(
            secret,
            text("x-slack-request-timestamp"),
            text("x-slack-signature"),
            &body,
            now_ms() / 1000,
        )
    });
    match checked {
        Ok(()) => Ok((hook, body)),
        Err(error) => Err(hook.refuse(state, SOURCE, None, &error).await),
    }
}

/// An Events API request: `url_verification` is answered with its challenge; an
/// `event_callback` is kept once per `event_id` and queued as a run of every install of
/// the company that handles `slack.<event.type>`.
#[utoipa::path(post, path = "/hooks/slack/{install}/events", tag = "webhooks",
    params(("install" = String, Path, description = "The install whose hook this is"),
           ("X-Slack-Request-Timestamp" = String, Header, description = "When Slack signed it, in seconds"),
           ("X-Slack-Signature" = String, Header, description = "`v0=` and the HMAC-SHA256 of `v0:{timestamp}:{body}`")),
    request_body(content = Object, description = "The Events API request as Slack sends it"),
    responses((status = 200, description = "Answered, kept and queued, or already received", body = Object),
              (status = 400, description = "Not an Events API request", body = crate::api::ErrorBody),
              (status = 401, description = "The signature did not verify or is too old; nothing was queued", body = crate::api::ErrorBody),
              (status = 404, description = "No such install", body = crate::api::ErrorBody),
              (status = 413, description = "Larger than 1 MiB", body = crate::api::ErrorBody)))]
pub async fn slack_events(
    State(state): State<AppState>,
    ApiPath(install): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (hook, body) = verified(&state, &install, &headers, body).await?;
    let request: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("a Slack event is JSON: {e}")))?;
    let payload = String::from_utf8_lossy(&body);
    match request.get("type").and_then(Value::as_str) {
        Some("url_verification") => {
            let challenge = request
                .get("challenge")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::BadRequest("a URL check has a `challenge`".into()))?;
            hook.deliver(
                &state,
                SOURCE,
                "slack.url_verification",
                None,
                &payload,
                true,
            )
            .await?;
            Ok(axum::Json(json!({ "challenge": challenge })).into_response())
        }
        Some("event_callback") => {
            let event_type = request
                .pointer("/event/type")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::BadRequest("an event callback has `event.type`".into()))?;
            let event_id = request.get("event_id").and_then(Value::as_str);
            let kind = format!("{SOURCE}.{event_type}");
            let kept = hook
                .deliver(&state, SOURCE, &kind, event_id, &payload, false)
                .await?;
            Ok(answer(kept))
        }
        other => {
            let kind = format!("{SOURCE}.{}", other.unwrap_or("unknown"));
            hook.deliver(&state, SOURCE, &kind, None, &payload, true)
                .await?;
            Ok(StatusCode::OK.into_response())
        }
    }
}

/// An interaction (a button pressed in a message, a form submitted): the form field
/// `payload` holds its JSON. Kept once per `trigger_id` and queued as a run of every
/// install of the company that handles `slack.<type>`, such as `slack.block_actions`.
/// The answer is an empty 200, as Slack expects within 3 s; the connector updates the
/// message itself.
#[utoipa::path(post, path = "/hooks/slack/{install}/interactions", tag = "webhooks",
    params(("install" = String, Path, description = "The install whose hook this is"),
           ("X-Slack-Request-Timestamp" = String, Header, description = "When Slack signed it, in seconds"),
           ("X-Slack-Signature" = String, Header, description = "`v0=` and the HMAC-SHA256 of `v0:{timestamp}:{body}`")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`payload=` and the interaction as JSON"),
    responses((status = 200, description = "Kept and queued, or already received"),
              (status = 400, description = "Not an interaction", body = crate::api::ErrorBody),
              (status = 401, description = "The signature did not verify or is too old; nothing was queued", body = crate::api::ErrorBody),
              (status = 404, description = "No such install", body = crate::api::ErrorBody),
              (status = 413, description = "Larger than 1 MiB", body = crate::api::ErrorBody)))]
pub async fn slack_interactions(
    State(state): State<AppState>,
    ApiPath(install): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (hook, body) = verified(&state, &install, &headers, body).await?;
    let payload = form_urlencoded::parse(&body)
        .find(|(name, _)| name == "payload")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| ApiError::BadRequest("an interaction has a `payload` field".into()))?;
    let interaction: Value = serde_json::from_str(&payload)
        .map_err(|e| ApiError::BadRequest(format!("an interaction's payload is not JSON: {e}")))?;
    let kind_of = interaction
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::BadRequest("an interaction has a `type`".into()))?;
    let kind = format!("{SOURCE}.{kind_of}");
    let trigger = interaction.get("trigger_id").and_then(Value::as_str);
    let kept = hook
        .deliver(&state, SOURCE, &kind, trigger, &payload, false)
        .await?;
    Ok(match kept {
        Some(_) => StatusCode::OK.into_response(),
        None => already_received(),
    })
}

/// What a kept, or already received, delivery answers.
fn answer(kept: Option<(String, Vec<crate::store::RoutedRun>)>) -> Response {
    match kept {
        Some((id, routed)) => axum::Json(json!({ "delivery": id, "runs": routed })).into_response(),
        None => already_received(),
    }
}
