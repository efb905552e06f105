//! `sluice serve`: the server — the REST API and this host's share of the run queue.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::bundled;
use super::setup::DataArgs;
use crate::api::{AppState, SessionPolicy, SignIn, SiteOrigin, app, secure_cookies};
use crate::egress::{PrivateEntry, PrivateReach};
use crate::marketplace::Catalogue;
use crate::runtime::{Limits, Runtime};
use crate::scheduler::{QueueSettings, RetryPolicy, Runs, Scheduler, SqliteHostLock, host_name};
use crate::store::{Store, USE_RECORDED_EVERY_MS, new_id};
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
    /// The source folder of the connectors that ship with Sluice (a cargo workspace, one
    /// crate per connector): on start, each one the marketplace lists is built, and
    /// published when it changed. Needs cargo and the wasm32-wasip2 target; nothing is
    /// built when the folder does not exist.
    #[arg(long, env = "SLUICE_BUNDLED_CONNECTORS", default_value = "plugins")]
    bundled_connectors: PathBuf,
    /// Mark the session cookie `Secure` whatever the addresses. It is `Secure` anyway unless
    /// plain HTTP is served on loopback (the listen address, or the public URL if given).
    #[arg(long, env = "SLUICE_SECURE_COOKIES")]
    secure_cookies: bool,
    /// The address users open, such as `https://sluice.example.com`, when it is not the
    /// listen address (behind a proxy): browsers' changes must come from this site.
    #[arg(long, env = "SLUICE_PUBLIC_URL")]
    public_url: Option<url::Url>,
    /// A session unused this long ends.
    #[arg(long, env = "SLUICE_SESSION_IDLE", default_value = "12h", value_parser = humantime::parse_duration)]
    session_idle: Duration,
    /// On SIGTERM or Ctrl-C, how long running runs get to finish before they are stopped
    /// and handed back to the queue.
    #[arg(long, env = "SLUICE_SHUTDOWN_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    shutdown_grace: Duration,
    /// How long a claimed run is held without renewal: when a host dies, its runs are
    /// taken back this long after its last renewal.
    #[arg(long, env = "SLUICE_RUN_LEASE", default_value = "30s", value_parser = humantime::parse_duration)]
    run_lease: Duration,
    /// Runs this host runs at once.
    #[arg(long, env = "SLUICE_CONCURRENCY", default_value_t = 16)]
    concurrency: usize,
    /// Runs one company may have running at once, across all hosts.
    #[arg(long, env = "SLUICE_COMPANY_CONCURRENCY", default_value_t = 4)]
    company_concurrency: usize,
    /// Attempts a run gets when it fails with an error worth retrying (or its host dies).
    #[arg(long, env = "SLUICE_MAX_ATTEMPTS", default_value_t = 3)]
    max_attempts: u32,
    /// The wait before a failed run's second attempt; it doubles with each attempt.
    #[arg(long, env = "SLUICE_RETRY_BACKOFF", default_value = "30s", value_parser = humantime::parse_duration)]
    retry_backoff: Duration,
    /// A private (non-public) destination connectors may reach: a CIDR such as
    /// `10.0.0.0/8`, an address, or HOST:PORT such as `gitlab.internal:443`. Repeatable.
    /// Companies then grant exact hosts within it; cloud metadata addresses
    /// (169.254.0.0/16, fd00:ec2::254, …) are reached only when named exactly.
    #[arg(long = "allow-private", env = "SLUICE_ALLOW_PRIVATE", value_delimiter = ',',
          value_name = "CIDR|HOST:PORT", value_parser = PrivateEntry::parse)]
    allow_private: Vec<PrivateEntry>,
    #[command(flatten)]
    data: DataArgs,
}

/// How often a session's use is recorded, as a duration.
const USE_RECORDED_EVERY: Duration = Duration::from_millis(USE_RECORDED_EVERY_MS.unsigned_abs());

/// Serves until SIGTERM or Ctrl-C, then stops as the grace period allows.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.company_concurrency == 0 || args.max_attempts == 0 {
        anyhow::bail!("--concurrency, --company-concurrency and --max-attempts must be at least 1");
    }
    if args.session_idle < USE_RECORDED_EVERY {
        anyhow::bail!(
            "--session-idle must be at least a minute: a session's use is recorded to the minute"
        );
    }
    let host = new_id("host");
    let name = host_name();
    let url = args.data.database_url()?;
    // SQLite has one writer: one host per file, refused before anything is opened.
    let _lock = Store::sqlite_file(&url)
        .map(|file| SqliteHostLock::acquire(&file, &format!("host {host} on {name}")))
        .transpose()?;
    let store = args.data.store().await?;
    tracing::info!(database = ?store.backend(), %host, "database ready");
    store.register_host(&host, &name).await?;
    if !store.has_companies().await? {
        tracing::warn!(
            "no company exists yet: create the first one with `sluice admin bootstrap --email you@example.com --company \"Your company\"{}`; it prints an owner API token and a one-time password to sign in with",
            args.data.same_place_flags()
        );
    }
    let vault = Arc::new(args.data.master_keys()?.vault());
    let build_errors = if args.bundled_connectors.is_dir() {
        bundled::build_and_publish(&args.marketplace, &args.bundled_connectors)?
    } else {
        Default::default()
    };
    let mut catalogue = Catalogue::load(&args.marketplace)?;
    for ((name, version), error) in build_errors {
        catalogue.note_build_error(&name, &version, error);
    }
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
    let private_reach = Arc::new(PrivateReach::new(
        args.allow_private.clone(),
        PrivateReach::SERVE_FLAG,
    ));
    let runtime =
        Runtime::new(Some(&cache), Limits::default())?.allowing_private(private_reach.clone());
    let worker = Arc::new(Worker::new(
        store.clone(),
        vault.clone(),
        catalogue.clone(),
        runtime,
    ));
    let settings = QueueSettings {
        lease: args.run_lease,
        concurrency: args.concurrency,
        per_company: args.company_concurrency,
        retry: RetryPolicy {
            max_attempts: i64::from(args.max_attempts),
            base: args.retry_backoff,
            ..RetryPolicy::default()
        },
        ..QueueSettings::default()
    };
    let runs = Runs::new(store.clone(), host.clone(), settings);
    let scheduler = Scheduler::start(runs.clone(), worker.clone());
    let state = AppState {
        store: store.clone(),
        vault,
        catalogue,
        worker,
        runs,
        secure_cookies: secure_cookies(args.listen, args.public_url.as_ref(), args.secure_cookies),
        private_reach,
        log_feed: crate::log_feed::LogFeed::start(store.clone()),
        sign_in: Arc::new(SignIn {
            sessions: SessionPolicy {
                idle: args.session_idle,
                ..SessionPolicy::default()
            },
            origin: SiteOrigin::new(args.public_url.as_ref()),
            ..SignIn::default()
        }),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr().unwrap_or(args.listen);
    tracing::info!(%address, %host, "sluice is serving");
    let router = app(state).layer(axum::middleware::from_fn(log_request));
    let (stop_serving, serving_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        // The peer's address, for the sign-in throttle.
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = serving_stopped.await;
        })
        .await
    });
    stop_signal().await;
    tracing::info!(
        grace = %humantime::format_duration(args.shutdown_grace),
        "stopping: no new runs are claimed; running runs get the grace period to finish"
    );
    let handed_back = scheduler.shutdown(args.shutdown_grace).await?;
    if handed_back > 0 {
        tracing::warn!(
            runs = handed_back,
            "runs handed back to the queue for another host or the next start"
        );
    }
    let _ = stop_serving.send(());
    server
        .await
        .context("the server task failed")?
        .context("the server stopped")?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C. Without signal handlers it never resolves, and the
/// host runs until killed.
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
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
