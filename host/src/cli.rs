//! The `sluice` command: `serve`; `admin bootstrap | rotate-keys` for operators;
//! `plugin new | build | run | check | event` for authors; `marketplace publish`.

mod admin;
mod artifact;
mod bundled;
mod marketplace;
mod plugin_build;
mod plugin_new;
mod plugin_run;
mod serve;
mod setup;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sluice runs data connectors as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the Sluice server.
    Serve(Box<serve::ServeArgs>),
    /// Sets up the first company and rotates master keys.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Scaffolds, builds and runs connectors.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Publishes connectors to a marketplace folder.
    #[command(subcommand)]
    Marketplace(MarketplaceCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Creates a company and its first owner; prints an API token and a one-time password.
    Bootstrap(admin::BootstrapArgs),
    /// Adds a new master key and re-wraps every data key with it; `--retire-old` removes
    /// the older keys once every data key is wrapped by the newest.
    RotateKeys(admin::RotateArgs),
}

#[derive(Debug, Subcommand)]
enum MarketplaceCommand {
    /// Builds (if given a crate) and publishes a connector: copies its manifest and
    /// artifact into the marketplace and records the artifact's sha256.
    Publish(marketplace::PublishArgs),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Scaffolds a connector crate that builds as it is.
    New(plugin_new::NewArgs),
    /// Builds a connector to wasm32-wasip2, checks it against the interface and its
    /// manifest, and embeds the manifest in the artifact.
    Build(plugin_build::BuildArgs),
    /// Runs a connector's sync once, without a server.
    Run(Box<plugin_run::RunArgs>),
    /// Runs a connector's connection check once, without a server.
    Check(Box<plugin_run::RunArgs>),
    /// Hands a connector one event (a webhook or interaction), without a server.
    Event(Box<plugin_run::EventArgs>),
}

/// Parses the command line, runs the command and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(colour_on_stderr());
    // One JSON object per line for log collectors; readable text otherwise.
    if std::env::var("SLUICE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::serve(*args).await.map(|()| ExitCode::SUCCESS),
            Command::Admin(AdminCommand::Bootstrap(args)) => {
                admin::bootstrap(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Admin(AdminCommand::RotateKeys(args)) => {
                admin::rotate_keys(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Marketplace(MarketplaceCommand::Publish(args)) => {
                marketplace::publish(args).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Plugin(PluginCommand::New(args)) => {
                plugin_new::new(&args).map(|()| ExitCode::SUCCESS)
            }
            Command::Plugin(PluginCommand::Build(args)) => {
                plugin_build::build(&args).await.map(|_| ExitCode::SUCCESS)
            }
            Command::Plugin(PluginCommand::Run(args)) => {
                plugin_run::run(*args, crate::runtime::Call::Sync).await
            }
            Command::Plugin(PluginCommand::Check(args)) => {
                plugin_run::run(*args, crate::runtime::Call::Check).await
            }
            Command::Plugin(PluginCommand::Event(args)) => plugin_run::event(*args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where compiled components are cached: the flag, else `SLUICE_CACHE_DIR`, else the
/// user's cache directory. `plugin build` and `plugin run` share it, so a run right after a
/// build does not compile the component again.
/// Whether log output may be coloured: only on a terminal, and never when `NO_COLOR` is
/// set to anything but the empty string (<https://no-color.org>).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn compiled_cache_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_owned();
    }
    if let Some(dir) = std::env::var_os("SLUICE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("sluice")
        .join("compiled")
}
