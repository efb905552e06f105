//! The company's directory of people: who is who across GitHub, Jira, Slack and email.
//! Connectors fill it; members read it; admins link an identity to a person or split it off.

use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, Caller, Page};
use crate::people::{AdjustError, Directory as _, Identity, Person};
use crate::store::{PeopleFilter, Role};

/// The longest system name and identity id accepted.
const MAX_SYSTEM: usize = 40;
const MAX_ID: usize = 256;

/// Which people to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeopleQuery {
    /// Words in a person's name or in one of their identities, in any case.
    pub q: Option<String>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// How many at most (1–500, default 100).
    pub limit: Option<i64>,
}

/// A person an identity was split off into.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Split {
    /// The person the identity was taken from, as they are now; null when it was their last.
    pub from: Option<Person>,
    /// The new person who has only that identity.
    pub to: Person,
}

/// The company's people with their identities, by id.
#[utoipa::path(get, path = "/api/companies/{company}/people", tag = "people",
    params(("company" = String, Path, description = "The company's id"), PeopleQuery),
    responses((status = 200, description = "People", body = Page<Person>),
              (status = 404, description = "No such company", body = super::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(company): ApiPath<String>,
    ApiQuery(query): ApiQuery<PeopleQuery>,
) -> Result<axum::Json<Page<Person>>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let filter = PeopleFilter {
        q: query.q.filter(|q| !q.trim().is_empty()),
        after: query.after,
        limit: query.limit,
    };
    let items = state.store.people(&company, &filter).await?;
    Ok(axum::Json(Page::new(items, query.limit, |p| p.id.clone())))
}

/// One person.
#[utoipa::path(get, path = "/api/companies/{company}/people/{person}", tag = "people",
    params(("company" = String, Path, description = "The company's id"),
           ("person" = String, Path, description = "The person's id")),
    responses((status = 200, description = "The person", body = Person),
              (status = 404, description = "No such person", body = super::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, person)): ApiPath<(String, String)>,
) -> Result<axum::Json<Person>, ApiError> {
    caller.role_in(&state, &company, Role::Member).await?;
    let person = state
        .store
        .person(&company, &person)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(person))
}

/// Checks an identity an admin names.
fn checked(identity: Identity) -> Result<Identity, ApiError> {
    let system_fine = !identity.system.is_empty()
        && identity.system.len() <= MAX_SYSTEM
        && identity
            .system
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !system_fine {
        return Err(ApiError::BadRequest(format!(
            "an identity's system is 1 to {MAX_SYSTEM} lower-case letters, digits or `-`, such as `github`, `slack` or `email`; `{}` is not",
            identity.system
        )));
    }
    if identity.id.trim().is_empty() || identity.id.len() > MAX_ID {
        return Err(ApiError::BadRequest(format!(
            "an identity's id is 1 to {MAX_ID} bytes"
        )));
    }
    Ok(identity)
}

/// Links an identity to a person (admins): it leaves whoever had it, and connectors'
/// observations never move it back.
#[utoipa::path(post, path = "/api/companies/{company}/people/{person}/identities", tag = "people",
    params(("company" = String, Path, description = "The company's id"),
           ("person" = String, Path, description = "The person's id")),
    request_body = Identity,
    responses((status = 200, description = "The person with the identity", body = Person),
              (status = 400, description = "Not an identity", body = super::ErrorBody),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "No such person", body = super::ErrorBody)))]
pub async fn link(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, person)): ApiPath<(String, String)>,
    ApiJson(identity): ApiJson<Identity>,
) -> Result<axum::Json<Person>, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let identity = checked(identity)?;
    state
        .store
        .change_people(&company, |book| book.link(&identity, &person))
        .await?
        .ok_or(ApiError::NotFound)?
        .map_err(adjust_error)?;
    state
        .store
        .audit(
            &company,
            &caller.actor(),
            "person.link",
            &format!("{}:{} to {person}", identity.system, identity.id),
        )
        .await?;
    get(State(state), caller, ApiPath((company, person))).await
}

/// Splits an identity off a person into a person of its own (admins).
#[utoipa::path(delete, path = "/api/companies/{company}/people/{person}/identities/{system}/{id}", tag = "people",
    params(("company" = String, Path, description = "The company's id"),
           ("person" = String, Path, description = "The person's id"),
           ("system" = String, Path, description = "The identity's system, such as `github`"),
           ("id" = String, Path, description = "The identity's id in that system")),
    responses((status = 200, description = "Both people after the split", body = Split),
              (status = 403, description = "Not an admin", body = super::ErrorBody),
              (status = 404, description = "The person has no such identity", body = super::ErrorBody)))]
pub async fn unlink(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((company, person, system, id)): ApiPath<(String, String, String, String)>,
) -> Result<axum::Json<Split>, ApiError> {
    caller.role_in(&state, &company, Role::Admin).await?;
    let identity = Identity { system, id };
    let split = state
        .store
        .change_people(&company, |book| {
            // Only the person named may lose it: a stale page must not split someone else.
            let theirs = book.find(&identity).is_some_and(|owner| owner.id == person);
            if theirs {
                book.unlink(&identity).map(Some)
            } else {
                Ok(None)
            }
        })
        .await?
        .ok_or(ApiError::NotFound)?
        .map_err(adjust_error)?
        .ok_or(ApiError::NotFound)?;
    state
        .store
        .audit(
            &company,
            &caller.actor(),
            "person.unlink",
            &format!(
                "{}:{} from {person} to {split}",
                identity.system, identity.id
            ),
        )
        .await?;
    let from = state.store.person(&company, &person).await?;
    let to =
        state.store.person(&company, &split).await?.ok_or_else(|| {
            ApiError::Internal(format!("the split-off person {split} is missing"))
        })?;
    Ok(axum::Json(Split { from, to }))
}

fn adjust_error(error: AdjustError) -> ApiError {
    match error {
        AdjustError::UnknownPerson(_) | AdjustError::UnknownIdentity(..) => ApiError::NotFound,
    }
}
