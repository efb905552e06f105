//! `sluice serve`: the server.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::routing::get;
use axum::{Json, Router};

/// Options of `sluice serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SLUICE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

/// The server's routes.
pub fn app() -> Router {
    Router::new().route(
        "/healthz",
        get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
    )
}

/// Serves until interrupted.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(address = %args.listen, "sluice is serving");
    axum::serve(listener, app())
        .with_graceful_shutdown(async {
            // An error here means no signal handler; then the server runs until killed.
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the server stopped")
}
