//! `sluice serve`: the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

use super::setup::DataArgs;
use crate::api::{AppState, app};
use crate::marketplace::Catalogue;
use crate::runtime::{Limits, Runtime};
use crate::worker::Worker;

/// Options of `sluice serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SLUICE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The marketplace folder: its `index.toml` lists what companies can install.
    #[arg(long, env = "SLUICE_MARKETPLACE", default_value = "marketplace")]
    marketplace: PathBuf,
    /// Mark the session cookie `Secure`: set it when users reach the server over HTTPS.
    #[arg(long, env = "SLUICE_SECURE_COOKIES")]
    secure_cookies: bool,
    #[command(flatten)]
    data: DataArgs,
}

/// Serves until interrupted.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = args.data.store().await?;
    tracing::info!(database = ?store.backend(), "database ready");
    let abandoned = store.fail_abandoned_runs().await?;
    if abandoned > 0 {
        tracing::warn!(
            runs = abandoned,
            "runs left unfinished by the last stop are marked failed"
        );
    }
    let vault = Arc::new(args.data.master_keys()?.vault());
    let catalogue = Catalogue::load(&args.marketplace)?;
    if catalogue.offers().is_empty() {
        tracing::warn!(
            marketplace = %args.marketplace.display(),
            "the marketplace is empty: nothing can be installed until connectors are published to it"
        );
    }
    let catalogue = Arc::new(catalogue);
    let cache = std::env::var_os("SLUICE_CACHE_DIR")
        .map(PathBuf::from)
        .map_or_else(|| args.data.data_dir().map(|d| d.join("compiled")), Ok)?;
    let runtime = Runtime::new(Some(&cache), Limits::default())?;
    let worker = Arc::new(Worker::new(
        store.clone(),
        vault.clone(),
        catalogue.clone(),
        runtime,
    ));
    let state = AppState {
        store: store.clone(),
        vault,
        catalogue,
        worker,
        secure_cookies: args.secure_cookies,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr().unwrap_or(args.listen);
    tracing::info!(%address, "sluice is serving");
    let router = app(state).layer(axum::middleware::from_fn(log_request));
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            // An error here means no signal handler; then the server runs until killed.
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the server stopped")?;
    store.close().await;
    Ok(())
}

/// One structured log line per request: method, path (never the query, which may carry
/// search text), status and time taken.
async fn log_request(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        millis = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}
