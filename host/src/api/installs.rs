//! Installs: putting a marketplace connector into a company with a checked configuration
//! and grants; changing, checking and removing it.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, Caller, Page, PageQuery};
use crate::egress::{HostPattern, non_public_reason};
use crate::marketplace::{MarketplaceError, Offer};
use crate::scheduler::{Overlap, Schedule};
use crate::store::{Install, InstallGrants, NewInstall, Role};
use crate::worker::CheckResult;

/// A connector to install.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    /// The connector's name in the marketplace.
    pub plugin: String,
    /// Its version; the newest when absent.
    #[serde(default)]
    pub version: Option<String>,
    /// Its configuration, checked against the connector's JSON Schema.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// The hosts and secrets granted to it.
    #[serde(default)]
    pub grants: InstallGrants,
}

/// A change to an install; what is absent stays.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallChange {
    /// Another version of the connector.
    #[serde(default)]
    pub version: Option<String>,
    /// A new configuration.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    /// New grants.
    #[serde(default)]
    pub grants: Option<InstallGrants>,
}

/// An install with what its connector asks for, so the admin sees what is granted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstallView {
    /// The install.
    #[serde(flatten)]
    pub install: Install,
    /// The hosts the connector asks for under this configuration.
    pub requested_hosts: Vec<String>,
    /// The secrets it asks for, with what each is for.
    pub requested_secrets: std::collections::BTreeMap<String, String>,
}

/// A default schedule spreads its installs' runs over the minute after each slot, so a
/// thousand installs of one connector do not all start in the same millisecond.
const DEFAULT_SCHEDULE_JITTER: std::time::Duration = std::time::Duration::from_secs(60);

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

fn unprocessable(error: MarketplaceError) -> ApiError {
    match error {
        MarketplaceError::Unknown(_)
        | MarketplaceError::UnknownVersion { .. }
        | MarketplaceError::NotBuilt { .. }
        | MarketplaceError::Digest { .. } => ApiError::Unprocessable(error.to_string()),
        other => ApiError::Internal(other.to_string()),
    }
}

/// Checks a configuration and grants against the connector; the precise reason when they
/// do not fit.
async fn checked(
    state: &AppState,
    company: &str,
    offer: &Offer,
    config: serde_json::Value,
    grants: InstallGrants,
) -> Result<NewInstall, ApiError> {
    let manifest = &offer.manifest;
    manifest
        .validate_config(&config)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let requested = manifest
        .requested_hosts(&config)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let shown: Vec<String> = requested.iter().map(ToString::to_string).collect();
    for (field, hosts) in [
        ("grants.hosts", &grants.hosts),
        ("grants.private_hosts", &grants.private_hosts),
    ] {
        for host in hosts {
            let pattern = HostPattern::parse(host)
                .map_err(|e| ApiError::Unprocessable(format!("{field}: {e}")))?;
            private_fits(state, field, &pattern)?;
            if !requested.iter().any(|r| pattern.within(r)) {
                return Err(ApiError::Unprocessable(format!(
                    "{field}: `{host}` is not a host the `{}` connector asks for under this configuration; it asks for: {}",
                    manifest.name,
                    if shown.is_empty() {
                        "no hosts".to_owned()
                    } else {
                        shown.join(", ")
                    }
                )));
            }
        }
    }
    for requested in grants.secrets.keys() {
        if !manifest.secrets.contains_key(requested) {
            return Err(ApiError::Unprocessable(format!(
                "grants.secrets: the `{}` connector asks for no secret `{requested}`; it asks for: {}",
                manifest.name,
                manifest
                    .secrets
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    for (name, request) in &manifest.secrets {
        let Some(company_secret) = grants.secrets.get(name) else {
            return Err(ApiError::Unprocessable(format!(
                "grants.secrets: the `{}` connector needs the secret `{name}` ({}); map it to one of the company's secrets",
                manifest.name, request.description
            )));
        };
        if !state.store.secret_exists(company, company_secret).await? {
            return Err(ApiError::Unprocessable(format!(
                "grants.secrets: `{name}` is mapped to `{company_secret}`, but the company has no such secret; set it first with PUT /api/companies/{company}/secrets/{company_secret}"
            )));
        }
    }
    secret_hosts_fit(offer, &config, &grants)?;
    Ok(NewInstall {
        plugin: manifest.name.clone(),
        version: manifest.version.clone(),
        config,
        grants,
    })
}

/// Refuses `grants.secret_hosts` that would send a secret beyond where the connector's
/// manifest binds it: an admin may narrow a binding, never widen it.
fn secret_hosts_fit(
    offer: &Offer,
    config: &serde_json::Value,
    grants: &InstallGrants,
) -> Result<(), ApiError> {
    let manifest = &offer.manifest;
    let bindings = manifest
        .secret_bindings(config)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    for (name, hosts) in &grants.secret_hosts {
        let field = format!("grants.secret_hosts.{name}");
        let Some(binding) = bindings.get(name) else {
            return Err(ApiError::Unprocessable(format!(
                "{field}: the `{}` connector asks for no secret `{name}`",
                manifest.name
            )));
        };
        for host in hosts {
            let pattern = HostPattern::parse(host)
                .map_err(|e| ApiError::Unprocessable(format!("{field}: {e}")))?;
            if !binding.hosts.iter().any(|bound| pattern.within(bound)) {
                let bound: Vec<String> = binding.hosts.iter().map(ToString::to_string).collect();
                return Err(ApiError::Unprocessable(format!(
                    "{field}: `{host}` is not a host the `{}` connector binds `{name}` to under this configuration; it binds it to: {}",
                    manifest.name,
                    bound.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// Refuses a grant that would reach a private address the server's operator did not allow:
/// a company's grant may only narrow what the operator allowed.
fn private_fits(state: &AppState, field: &str, pattern: &HostPattern) -> Result<(), ApiError> {
    let refused = |message: String| ApiError::Unprocessable(format!("{field}: {message}"));
    if field == "grants.private_hosts" {
        return state.private_reach.admits_grant(pattern).map_err(refused);
    }
    // A public grant of a private address would only be refused at run time; say so now.
    match pattern.ip().and_then(non_public_reason) {
        Some(reason) => Err(refused(format!(
            "`{pattern}` is a {reason} address; a private address is reached only as a private host (grants.private_hosts) that the server's operator allows ({} {pattern})",
            state.private_reach.flag()
        ))),
        None => Ok(()),
    }
}

fn view(state: &AppState, install: Install) -> InstallView {
    let offer = state
        .catalogue
        .offer(&install.plugin, Some(&install.version))
        .ok();
    let requested_hosts = offer
        .and_then(|o| o.manifest.requested_hosts(&install.config).ok())
        .map(|hosts| hosts.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let requested_secrets = offer
        .map(|o| {
            o.manifest
                .secrets
                .iter()
                .map(|(name, r)| (name.clone(), r.description.clone()))
                .collect()
        })
        .unwrap_or_default();
    InstallView {
        install,
        requested_hosts,
        requested_secrets,
    }
}

/// Gives a new install its connector's `default_schedule`, read in UTC.
async fn default_schedule(
    state: &AppState,
    company: &str,
    install: &str,
    offer: &Offer,
) -> Result<(), ApiError> {
    let Some(cron) = &offer.manifest.default_schedule else {
        return Ok(());
    };
    let schedule = Schedule::new(
        Some(cron),
        None,
        "UTC",
        true,
        Overlap::Skip,
        DEFAULT_SCHEDULE_JITTER,
    )
    .map_err(|e| ApiError::Unprocessable(format!("the connector's default_schedule: {e}")))?;
    state
        .store
        .put_schedule(&super::schedules::stored(
            company, install, &schedule, "UTC",
        ))
        .await?;
    state.runs.schedules_changed();
    Ok(())
}

/// The install `id` of `company`, or the 404 a missing one gets.
pub(super) async fn find(state: &AppState, company: &str, id: &str) -> Result<Install, ApiError> {
    state
        .store
        .install(company, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The company's installs.
#[utoipa::path(get, path = "/api/companies/{company}/installs", tag = "installs",
    params(("company" = String, Path, description = "The company's id"), PageQuery),
    responses((status = 200, description = "Installs", body = Page<InstallView>),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<axum::Json<Page<InstallView>>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let installs = state
        .store
        .installs(&company, page.after.as_deref(), page.limit)
        .await?;
    let items = installs.into_iter().map(|i| view(&state, i)).collect();
    Ok(axum::Json(Page::new(
        items,
        page.limit,
        |v: &InstallView| v.install.id.clone(),
    )))
}

/// Installs a connector from the marketplace (admins); it gets the connector's default
/// schedule, if it has one.
#[utoipa::path(post, path = "/api/companies/{company}/installs", tag = "installs",
    params(("company" = String, Path, description = "The company's id")),
    request_body = InstallRequest,
    responses((status = 201, description = "Installed", body = InstallView),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody),
              (status = 422, description = "Unknown connector, bad configuration or grants, artifact not matching its digest", body = super::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiJson(body): ApiJson<InstallRequest>,
) -> Result<(StatusCode, axum::Json<InstallView>), ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let offer = state
        .catalogue
        .offer(&body.plugin, body.version.as_deref())
        .map_err(unprocessable)?;
    // The digest is checked now, so an install never points at an artifact that changed.
    offer.artifact_bytes().map_err(unprocessable)?;
    let new = checked(&state, &company, offer, body.config, body.grants).await?;
    let install = state.store.create_install(&company, new).await?;
    default_schedule(&state, &company, &install.id, offer).await?;
    state
        .store
        .audit(
            &company,
            &caller.actor(),
            "install.create",
            &format!("{} ({} {})", install.id, install.plugin, install.version),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(view(&state, install))))
}

/// One install.
#[utoipa::path(get, path = "/api/companies/{company}/installs/{install}", tag = "installs",
    params(("company" = String, Path, description = "The company's id"),
           ("install" = String, Path, description = "The install's id")),
    responses((status = 200, description = "The install", body = InstallView),
              (status = 404, description = "No such install", body = super::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, id)): ApiPath<(String, String)>,
) -> Result<axum::Json<InstallView>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let install = find(&state, &company, &id).await?;
    Ok(axum::Json(view(&state, install)))
}

/// Changes an install's version, configuration or grants (admins).
#[utoipa::path(patch, path = "/api/companies/{company}/installs/{install}", tag = "installs",
    params(("company" = String, Path, description = "The company's id"),
           ("install" = String, Path, description = "The install's id")),
    request_body = InstallChange,
    responses((status = 200, description = "Changed", body = InstallView),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such install", body = super::ErrorBody),
              (status = 422, description = "Bad version, configuration or grants", body = super::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<InstallChange>,
) -> Result<axum::Json<InstallView>, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let current = find(&state, &company, &id).await?;
    let version = body.version.unwrap_or(current.version);
    let offer = state
        .catalogue
        .offer(&current.plugin, Some(&version))
        .map_err(unprocessable)?;
    offer.artifact_bytes().map_err(unprocessable)?;
    let new = checked(
        &state,
        &company,
        offer,
        body.config.unwrap_or(current.config),
        body.grants.unwrap_or(current.grants),
    )
    .await?;
    if !state.store.update_install(&company, &id, &new).await? {
        return Err(ApiError::NotFound);
    }
    state
        .store
        .audit(&company, &caller.actor(), "install.update", &id)
        .await?;
    let install = find(&state, &company, &id).await?;
    Ok(axum::Json(view(&state, install)))
}

/// Uninstalls (admins): runs going on are stopped, records and state are deleted; run
/// history and logs stay.
#[utoipa::path(delete, path = "/api/companies/{company}/installs/{install}", tag = "installs",
    params(("company" = String, Path, description = "The company's id"),
           ("install" = String, Path, description = "The install's id")),
    responses((status = 204, description = "Uninstalled"),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such install", body = super::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    find(&state, &company, &id).await?;
    state.runs.cancel_install(&company, &id).await?;
    if !state.store.delete_install(&company, &id).await? {
        return Err(ApiError::NotFound);
    }
    state
        .store
        .audit(&company, &caller.actor(), "install.delete", &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs the connector's connection check now and says what is wrong, keeping nothing
/// (admins).
#[utoipa::path(post, path = "/api/companies/{company}/installs/{install}/check", tag = "installs",
    params(("company" = String, Path, description = "The company's id"),
           ("install" = String, Path, description = "The install's id")),
    responses((status = 200, description = "The check's result", body = CheckResult),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such install", body = super::ErrorBody),
              (status = 429, description = "The company has as many checks going as it may", body = super::ErrorBody)))]
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, id)): ApiPath<(String, String)>,
) -> Result<axum::Json<CheckResult>, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let install = find(&state, &company, &id).await?;
    Ok(axum::Json(state.worker.check(&company, &install).await?))
}

/// Runs a connector's connection check with a configuration and grants before they are
/// installed (admins), so the install form can test the connection before saving.
/// Nothing is kept.
#[utoipa::path(post, path = "/api/companies/{company}/installs/check", tag = "installs",
    params(("company" = String, Path, description = "The company's id")),
    request_body = InstallRequest,
    responses((status = 200, description = "What the check found", body = CheckResult),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 422, description = "Bad connector, configuration or grants", body = super::ErrorBody),
              (status = 429, description = "The company has as many checks going as it may", body = super::ErrorBody)))]
pub async fn check_new(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiJson(body): ApiJson<InstallRequest>,
) -> Result<axum::Json<CheckResult>, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let offer = state
        .catalogue
        .offer(&body.plugin, body.version.as_deref())
        .map_err(unprocessable)?;
    offer.artifact_bytes().map_err(unprocessable)?;
    let new = checked(&state, &company, offer, body.config, body.grants).await?;
    let now = crate::store::now_ms();
    let install = Install {
        // Not an install's id: nothing is kept under it, and it reads no state.
        id: "inst_unsaved".to_owned(),
        plugin: new.plugin,
        version: new.version,
        config: new.config,
        grants: new.grants,
        created_at: now,
        updated_at: now,
    };
    Ok(axum::Json(state.worker.check(&company, &install).await?))
}
