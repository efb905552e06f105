//! The REST API: JSON over HTTP, a bearer token or a session cookie on every call but
//! sign-in, a tenancy guard on every company route, and an OpenAPI document generated
//! from the same handlers that answer, so it lists every route.

mod audit;
mod caller;
mod companies;
mod deliveries;
mod error;
mod hook_secrets;
mod hosts;
mod installs;
mod keys;
mod logs;
mod marketplace;
mod members;
mod pages;
mod people;
mod records;
mod runs;
mod schedules;
mod secrets;
mod sessions;
mod sign_in;
mod tokens;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use caller::{CSRF_HEADER, Caller, SESSION_COOKIE};
pub use error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
pub use logs::parse_log_filter;
pub use pages::{Page, PageQuery};
pub use sign_in::{
    ClientAddress, SessionPolicy, SignIn, SignInThrottle, SiteOrigin, Throttled, secure_cookies,
};

use crate::egress::PrivateReach;
use crate::log_feed::LogFeed;
use crate::marketplace::Catalogue;
use crate::scheduler::Runs;
use crate::store::Store;
use crate::vault::Vault;
use crate::worker::Worker;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Opens and seals secrets.
    pub vault: Arc<Vault>,
    /// What can be installed.
    pub catalogue: Arc<Catalogue>,
    /// Runs connection checks.
    pub worker: Arc<Worker>,
    /// The run queue: every run is enqueued, cancelled and read through it.
    pub runs: Arc<Runs>,
    /// Whether the session cookie is marked `Secure` (the server is behind HTTPS).
    pub secure_cookies: bool,
    /// The private destinations the server's operator allows; a company's private grant
    /// must fit within them.
    pub private_reach: Arc<PrivateReach>,
    /// Every company's live log, for its viewers.
    pub log_feed: Arc<LogFeed>,
    /// Sign-in's throttle, password hashing, session lengths and this server's site.
    pub sign_in: Arc<SignIn>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Sluice",
        description = "A multi-tenant host that runs data connectors as sandboxed WebAssembly components."
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

/// Every documented route, with the document.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(sessions::login))
        .routes(routes!(sessions::logout))
        .routes(routes!(sessions::me))
        .routes(routes!(sessions::set_password))
        .routes(routes!(companies::list, companies::create))
        .routes(routes!(companies::get))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::update, members::remove))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(secrets::list))
        .routes(routes!(secrets::put, secrets::delete))
        .routes(routes!(keys::rotate))
        .routes(routes!(marketplace::list))
        .routes(routes!(marketplace::get))
        .routes(routes!(installs::list, installs::create))
        .routes(routes!(installs::get, installs::update, installs::remove))
        .routes(routes!(installs::check))
        .routes(routes!(installs::check_new))
        .routes(routes!(schedules::get, schedules::put, schedules::delete))
        .routes(routes!(hook_secrets::put))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::get))
        .routes(routes!(deliveries::replay))
        .routes(routes!(crate::hooks::github))
        .routes(routes!(crate::hooks::slack_events))
        .routes(routes!(crate::hooks::slack_interactions))
        .routes(routes!(runs::start))
        .routes(routes!(runs::list))
        .routes(routes!(runs::get))
        .routes(routes!(runs::cancel))
        .routes(routes!(runs::logs))
        .routes(routes!(logs::list))
        .routes(routes!(logs::summary))
        .routes(routes!(crate::web::stream))
        .routes(routes!(records::list))
        .routes(routes!(people::list))
        .routes(routes!(people::get))
        .routes(routes!(people::link))
        .routes(routes!(people::unlink))
        .routes(routes!(audit::list))
        .routes(routes!(hosts::list))
        .routes(routes!(openapi_json))
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().into_openapi()
}

/// The server's routes, without a socket: tests call it with `oneshot`.
pub fn app(state: AppState) -> Router {
    let (router, _) = documented().split_for_parts();
    router
        .merge(crate::web::console())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async {
            (
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                Json(ErrorBody {
                    code: "method_not_allowed",
                    message: "this route does not answer that method; /api/openapi.json lists what it does".into(),
                }),
            )
        })
        .with_state(state)
}

/// Whether the server is up.
#[utoipa::path(get, path = "/healthz", tag = "server",
    responses((status = 200, description = "The server is up", body = Object)))]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "server",
    responses((status = 200, description = "The OpenAPI 3 document of every route", body = Object)))]
async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    static DOCUMENT: std::sync::LazyLock<utoipa::openapi::OpenApi> =
        std::sync::LazyLock::new(openapi);
    Json(&DOCUMENT)
}
