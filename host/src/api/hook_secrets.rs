//! An install's webhook signing secrets: GitHub's, generated here and shown once for the
//! admin to paste into the repository's or organisation's webhook settings; Slack's, the
//! Slack app's signing secret, which Slack issues and the admin pastes here.

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore as _;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{ApiError, ApiJson, ApiPath, AppState, Caller};
use crate::store::{HOOK_SOURCES, Role, hook_secret_name};

/// What to set.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookSecretRequest {
    /// The secret; leave it out for GitHub to have one generated. Slack's is the app's
    /// signing secret ("Basic Information" in the app's settings).
    pub value: Option<String>,
}

/// Where the service sends, and the secret when it was generated (shown this once).
#[derive(Serialize, utoipa::ToSchema)]
pub struct HookSecret {
    /// The hook's path on this server: the service's "Payload URL" or "Request URL"
    /// (for Slack, with `/events` or `/interactions`).
    pub hook_path: String,
    /// The generated secret, for the service's webhook settings; never shown again.
    pub secret: Option<String>,
}

/// Sets an install's signing secret for `github` or `slack` (admins). A new secret
/// replaces the old at once: deliveries signed with the old one are refused from now on.
#[utoipa::path(put, path = "/api/companies/{company}/installs/{install}/hooks/{source}/secret", tag = "webhooks",
    params(("company" = String, Path, description = "The company's id"),
           ("install" = String, Path, description = "The install's id"),
           ("source" = String, Path, description = "`github` or `slack`")),
    request_body = HookSecretRequest,
    responses((status = 200, description = "Set; a generated secret is in the answer, once", body = HookSecret),
              (status = 400, description = "Unknown service, or Slack without its secret", body = super::ErrorBody),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such install", body = super::ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, install, source)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<HookSecretRequest>,
) -> Result<(StatusCode, axum::Json<HookSecret>), ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    if !HOOK_SOURCES.contains(&source.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "hooks receive from {}, not `{source}`",
            HOOK_SOURCES.join(" or ")
        )));
    }
    state
        .store
        .install(&company, &install)
        .await?
        .ok_or(ApiError::NotFound)?;
    let generated = body.value.is_none();
    let value = Zeroizing::new(match body.value {
        Some(value) if value.len() < 16 || value.len() > 256 => {
            return Err(ApiError::BadRequest(
                "a signing secret is 16 to 256 characters".into(),
            ));
        }
        Some(value) => value,
        None if source == "slack" => {
            return Err(ApiError::BadRequest(
                "Slack issues the signing secret: send it as `value` (the app's settings, Basic Information)".into(),
            ));
        }
        None => {
            let mut bytes = [0u8; 32];
            OsRng.fill_bytes(&mut bytes);
            hex::encode(bytes)
        }
    });
    let name = hook_secret_name(&source, &install);
    let keys = state.store.data_keys(&company).await?;
    let sealed = state
        .vault
        .encrypt(&company, &keys, &name, &value)
        .map_err(|e| ApiError::Internal(format!("cannot encrypt a hook's secret: {e}")))?;
    state.store.put_secret(&company, &name, sealed).await?;
    state
        .store
        .audit(&company, &caller.actor(), "hook.secret.put", &name)
        .await?;
    let hook_path = match source.as_str() {
        "github" => format!("/hooks/github/{install}"),
        _ => format!("/hooks/slack/{install}"),
    };
    Ok((
        StatusCode::OK,
        axum::Json(HookSecret {
            hook_path,
            secret: generated.then(|| value.to_string()),
        }),
    ))
}
