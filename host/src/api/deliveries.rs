//! Webhook deliveries: what GitHub and Slack sent to the company's hooks, verified or
//! not, the runs each became, and an admin's replay of one.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiPath, ApiQuery, AppState, Caller, Page};
use crate::store::{Delivery, NewDelivery, Role, RoutedRun};

/// Which deliveries to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Only those received by this install's hook.
    pub install: Option<String>,
    /// The `next` of the previous page (deliveries come newest first).
    pub after: Option<String>,
    /// How many at most (1–500, default 100).
    pub limit: Option<i64>,
}

/// What a replay queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Replayed {
    /// The new delivery, whose `replay_of` is the one replayed.
    pub delivery: String,
    /// The runs it became.
    pub runs: Vec<RoutedRun>,
}

/// The company's webhook deliveries, newest first (admins): refused ones with why, verified
/// ones with the runs they became.
#[utoipa::path(get, path = "/api/companies/{company}/deliveries", tag = "webhooks",
    params(("company" = String, Path, description = "The company's id"), DeliveriesQuery),
    responses((status = 200, description = "Deliveries, newest first", body = Page<Delivery>),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<axum::Json<Page<Delivery>>, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let items = state
        .store
        .deliveries(
            &company,
            query.install.as_deref(),
            query.after.as_deref(),
            query.limit,
        )
        .await?;
    Ok(axum::Json(Page::new(items, query.limit, |d| d.id.clone())))
}

/// One delivery, with its payload when it was verified and the status of each run it
/// became (admins).
#[utoipa::path(get, path = "/api/companies/{company}/deliveries/{delivery}", tag = "webhooks",
    params(("company" = String, Path, description = "The company's id"),
           ("delivery" = String, Path, description = "The delivery's id")),
    responses((status = 200, description = "The delivery", body = Delivery),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such delivery", body = super::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, delivery)): ApiPath<(String, String)>,
) -> Result<axum::Json<Delivery>, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let mut delivery = state
        .store
        .delivery(&company, &delivery)
        .await?
        .ok_or(ApiError::NotFound)?;
    for routed in &mut delivery.routed {
        routed.status = state
            .runs
            .status(&company, &routed.run_id)
            .await?
            .map(|run| run.status);
    }
    Ok(axum::Json(delivery))
}

/// Delivers a verified delivery again (admins): its payload becomes a run of every
/// install that handles its event now, as a new delivery that names the one replayed.
/// What the connector does twice is the connector's to handle; the survey, for one,
/// never messages anyone twice for one pull request.
#[utoipa::path(post, path = "/api/companies/{company}/deliveries/{delivery}/replay", tag = "webhooks",
    params(("company" = String, Path, description = "The company's id"),
           ("delivery" = String, Path, description = "The delivery's id")),
    responses((status = 202, description = "Queued again", body = Replayed),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such delivery", body = super::ErrorBody),
              (status = 409, description = "Refused or answered at once: nothing to replay", body = super::ErrorBody)))]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, id)): ApiPath<(String, String)>,
) -> Result<(StatusCode, axum::Json<Replayed>), ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let original = state
        .store
        .delivery(&company, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (Some(kind), Some(payload)) = (&original.kind, &original.payload) else {
        return Err(ApiError::Conflict(format!(
            "delivery {id} was {}: it has no verified payload to replay",
            original.status
        )));
    };
    if original.status == "answered" {
        return Err(ApiError::Conflict(format!(
            "delivery {id} was answered at once ({kind}); it becomes no run"
        )));
    }
    let handlers = crate::hooks::handlers(&state, &company, kind).await?;
    let delivery = NewDelivery {
        install_id: &original.install_id,
        source: &original.source,
        kind,
        external_id: original.external_id.as_deref(),
        payload: payload.get(),
        answered: false,
        replay_of: Some(&original.id),
    };
    let (delivery, runs) = state
        .runs
        .receive(&company, &delivery, &handlers)
        .await?
        .ok_or_else(|| ApiError::Internal("a replay conflicted with another delivery".into()))?;
    state
        .store
        .audit(&company, &caller.actor(), "delivery.replay", &id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Replayed { delivery, runs }),
    ))
}
