//! Webhooks in: the signed requests GitHub and Slack send to an install's hook.
//!
//! Each install has its own hook address (`/hooks/github/{install}`,
//! `/hooks/slack/{install}/events`, `/hooks/slack/{install}/interactions`) and its own
//! signing secret, kept as the company secret `hooks.<service>.<install>`. A request is
//! verified against that secret before anything else is read; a bad or missing signature
//! is a 401 that queues nothing and is kept as a refused delivery, without its body. A
//! verified delivery is kept with its payload and becomes one run of each of the company's
//! installs whose manifest lists its event (`events = ["github.pull_request"]`), queued in
//! the same transaction, so the answer goes back well within the services' deadlines
//! (GitHub 10 s, Slack 3 s) and the work happens in the run queue. A service's retry of a
//! delivery it already made is answered 200 and processed once.

mod github;
mod signature;
mod slack;

use axum::body::{Body, Bytes};
use zeroize::Zeroizing;

pub use github::{__path_github, github};
pub use signature::{
    SLACK_WINDOW_SECS, SignatureError, github_signature, slack_signature, verify_github,
    verify_slack,
};
pub use slack::{__path_slack_events, __path_slack_interactions, slack_events, slack_interactions};

use crate::api::{ApiError, AppState};
use crate::store::{Install, NewDelivery, RoutedRun, hook_secret_name};

/// An install's hook, found by the install id in its address.
struct Hook {
    company: String,
    install: Install,
    /// The key its service signs with, when an admin has set one.
    secret: Option<Zeroizing<String>>,
}

impl Hook {
    /// The install `install`'s hook for `source`; 404 when there is no such install.
    async fn find(state: &AppState, install: &str, source: &str) -> Result<Self, ApiError> {
        let (company, install) = state
            .store
            .install_by_id(install)
            .await?
            .ok_or(ApiError::NotFound)?;
        let name = hook_secret_name(source, &install.id);
        let secret = match state.store.secret_ciphertext(&company, &name).await? {
            Some(sealed) => {
                let keys = state.store.data_keys(&company).await?;
                Some(
                    state
                        .vault
                        .decrypt(&company, &keys, &name, &sealed)
                        .map_err(|e| {
                            ApiError::Internal(format!("cannot open a hook's secret: {e}"))
                        })?,
                )
            }
            None => None,
        };
        Ok(Self {
            company,
            install,
            secret,
        })
    }

    /// The signing secret, or the refusal a hook without one gives.
    fn secret(&self, source: &str) -> Result<&[u8], SignatureError> {
        self.secret
            .as_ref()
            .map(|s| s.as_bytes())
            .ok_or(SignatureError::NoSecret(if source == "github" {
                "an admin creates it with `PUT /api/companies/{company}/installs/{install}/hooks/github/secret`"
            } else {
                "an admin sets it (the Slack app's signing secret) with `PUT /api/companies/{company}/installs/{install}/hooks/slack/secret`"
            }))
    }

    /// Keeps the refusal (never the body), logs it, and answers 401.
    async fn refuse(
        &self,
        state: &AppState,
        source: &str,
        external_id: Option<&str>,
        error: &SignatureError,
    ) -> ApiError {
        let reason = error.to_string();
        tracing::warn!(
            install = %self.install.id,
            source,
            external_id,
            %reason,
            "a webhook was refused"
        );
        if let Err(error) = state
            .store
            .refuse_delivery(
                &self.company,
                &self.install.id,
                source,
                external_id,
                &reason,
            )
            .await
        {
            return ApiError::from(error);
        }
        ApiError::BadSignature(format!("{reason}; nothing was queued"))
    }

    /// Keeps a verified delivery and queues a run of every install of the company that
    /// handles `kind` (none when `answered`). `None` for a delivery already made.
    async fn deliver(
        &self,
        state: &AppState,
        source: &str,
        kind: &str,
        external_id: Option<&str>,
        payload: &str,
        answered: bool,
    ) -> Result<Option<(String, Vec<RoutedRun>)>, ApiError> {
        let handlers = if answered {
            Vec::new()
        } else {
            handlers(state, &self.company, kind).await?
        };
        let delivery = NewDelivery {
            install_id: &self.install.id,
            source,
            kind,
            external_id,
            payload,
            answered,
            replay_of: None,
        };
        Ok(state
            .runs
            .receive(&self.company, &delivery, &handlers)
            .await?)
    }
}

/// The company's installs whose connector handles `kind`, by its manifest's `events`.
pub async fn handlers(
    state: &AppState,
    company: &str,
    kind: &str,
) -> Result<Vec<Install>, ApiError> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = state
            .store
            .installs(company, after.as_deref(), Some(crate::store::MAX_PAGE))
            .await?;
        let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= crate::store::MAX_PAGE;
        after = page.last().map(|install| install.id.clone());
        found.extend(page.into_iter().filter(|install| {
            state
                .catalogue
                .offer(&install.plugin, Some(&install.version))
                .is_ok_and(|offer| offer.manifest.events.iter().any(|e| e == kind))
        }));
        if !full {
            return Ok(found);
        }
    }
}

/// The answer to a delivery the service already made: 200, so it stops retrying.
fn already_received() -> axum::response::Response {
    use axum::response::IntoResponse as _;
    axum::Json(serde_json::json!({
        "duplicate": true,
        "message": "this delivery was already received; it is processed once"
    }))
    .into_response()
}

/// Reads a hook's body up to `limit` bytes; larger is a 413 that says the cap.
async fn read_body(body: Body, limit: usize, service: &str) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::TooLarge(format!(
            "a {service} webhook's body is at most {} MiB",
            limit / (1024 * 1024)
        ))
    })
}
