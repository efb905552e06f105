//! `sluice plugin run` and `sluice plugin check`: one call of a connector, no server.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::{artifact, plugin_build};
use crate::egress::{Grants, HostPattern, PrivateEntry, PrivateReach};
use crate::manifest::Manifest;
use crate::people::StaticDirectory;
use crate::runtime::{Call, Limits, LogLine, LogSink, RunContext, RunOutcome, RunStatus, Runtime};
use crate::secrets::SecretSet;

/// The exit code of a run that ended rate-limited: try again later (sysexits' TEMPFAIL).
const EXIT_RATE_LIMITED: u8 = 75;

/// Options of `sluice plugin run` and `sluice plugin check`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A packaged connector (`.wasm`) or a connector's crate, which is built first.
    plugin: PathBuf,
    /// The manifest, when the `.wasm` has none embedded (one not built by `sluice plugin build`).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// The configuration, a JSON file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A secret the connector may name: NAME=VALUE. Repeatable.
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    secrets: Vec<String>,
    /// Grants a host the connector requests: HOST or HOST:PORT. Repeatable.
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    allow_hosts: Vec<String>,
    /// Grants a host even on a private address (self-hosted services): HOST:PORT. Repeatable.
    #[arg(long = "allow-private-host", value_name = "HOST:PORT")]
    allow_private_hosts: Vec<String>,
    /// The cursor file: read before the run, written after it.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Where records go, as JSON lines (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// A JSON list of people standing in for the company's directory:
    /// `[{"id", "name", "identities": [{"system", "id"}]}]`.
    #[arg(long)]
    people: Option<PathBuf>,
    /// Where the identities the connector reported go, as JSON lines.
    #[arg(long)]
    identities: Option<PathBuf>,
    /// Wall-clock deadline of the run, e.g. `30s`, `5m`.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// CPU time the connector may spend executing, e.g. `10s`.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    cpu_limit: Duration,
    /// Memory cap of the instance, in MiB.
    #[arg(long, default_value_t = 128)]
    memory_mib: usize,
    /// Where compiled components are cached.
    #[arg(long, env = "SLUICE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

/// Options of `sluice plugin event`.
#[derive(Debug, clap::Args)]
pub struct EventArgs {
    #[command(flatten)]
    run: RunArgs,
    /// The event's kind, as `<service>.<type>`: `github.pull_request`, `slack.post_message`.
    #[arg(long)]
    kind: String,
    /// The event's payload, a JSON file.
    #[arg(long)]
    payload: PathBuf,
}

/// Hands the connector one event and reports.
pub async fn event(args: EventArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.payload)
        .with_context(|| format!("cannot read the payload {}", args.payload.display()))?;
    serde_json::from_str::<serde_json::Value>(&text)
        .with_context(|| format!("the payload {} is not valid JSON", args.payload.display()))?;
    run(
        args.run,
        Call::Event {
            kind: args.kind,
            json: text,
        },
    )
    .await
}

/// Prints log lines to standard error as they come.
struct StderrLog;

impl LogSink for StderrLog {
    fn write(&self, line: LogLine) {
        let fields: String = line
            .fields
            .iter()
            .map(|(k, v)| format!(" {k}={v}"))
            .collect();
        let time = humantime::format_rfc3339_millis(line.time);
        eprintln!(
            "{time} {:>5} [{}] {}{fields}",
            line.level.as_str().to_uppercase(),
            line.source.as_str(),
            line.message
        );
    }
}

/// Runs the call and reports; the exit code says how it ended.
pub async fn run(args: RunArgs, call: Call) -> anyhow::Result<ExitCode> {
    let (wasm, manifest) = load_plugin(&args).await?;
    let config = read_config(args.config.as_deref())?;
    let state = read_state(args.state.as_deref())?;
    let grants = Grants {
        hosts: parse_hosts(&args.allow_hosts, "--allow-host")?,
        private_hosts: parse_hosts(&args.allow_private_hosts, "--allow-private-host")?,
        secret_hosts: BTreeMap::new(),
    };
    let secrets = parse_secrets(&args.secrets)?;
    let people = match &args.people {
        Some(path) => StaticDirectory::load(path)?,
        None => StaticDirectory::default(),
    };
    let limits = Limits {
        wall_time: args.timeout,
        check_wall_time: args.timeout,
        cpu_time: args.cpu_limit,
        memory_bytes: args.memory_mib << 20,
        ..Limits::default()
    };
    // On the author's own machine the author is the operator: a private host they grant
    // is also one they allow.
    let private_reach = PrivateReach::new(
        grants
            .private_hosts
            .iter()
            .cloned()
            .map(PrivateEntry::Host)
            .collect(),
        "sluice plugin run --allow-private-host",
    );
    let runtime = Runtime::new(
        Some(&super::compiled_cache_dir(args.cache_dir.as_deref())),
        limits,
    )?
    .allowing_private(Arc::new(private_reach));
    let plugin = runtime.load(&wasm, manifest)?;
    let is_sync = matches!(call, Call::Sync);
    let writes_output = !matches!(call, Call::Check);
    let done = match call {
        Call::Sync => "sync succeeded",
        Call::Check => "connection check passed",
        Call::Event { .. } => "event handled",
    };
    let outcome = runtime
        .run(
            &plugin,
            call,
            RunContext {
                config,
                secrets,
                grants,
                state,
                log: Arc::new(StderrLog),
                people: Arc::new(people),
            },
        )
        .await;
    if outcome.keeps_output() && writes_output {
        write_records(&outcome, args.out.as_deref())?;
        if let Some(path) = &args.identities {
            write_identities(&outcome, path)?;
        }
        if let Some(path) = &args.state {
            let text =
                serde_json::to_string_pretty(&outcome.state).context("encoding the state")?;
            std::fs::write(path, text)
                .with_context(|| format!("cannot write the state to {}", path.display()))?;
        }
    }
    report(&outcome, is_sync, done);
    Ok(match outcome.status {
        RunStatus::Succeeded => ExitCode::SUCCESS,
        RunStatus::RateLimited => ExitCode::from(EXIT_RATE_LIMITED),
        RunStatus::Failed => ExitCode::FAILURE,
    })
}

async fn load_plugin(args: &RunArgs) -> anyhow::Result<(Vec<u8>, Manifest)> {
    let (path, built_manifest) = if args.plugin.is_dir() {
        let built = plugin_build::build(&plugin_build::BuildArgs {
            dir: args.plugin.clone(),
        })
        .await?;
        (built.path, Some(built.manifest))
    } else {
        (args.plugin.clone(), None)
    };
    let wasm = std::fs::read(&path)
        .with_context(|| format!("cannot read the connector {}", path.display()))?;
    let manifest = match (&args.manifest, built_manifest) {
        (Some(file), _) => Manifest::load(file)?,
        (None, Some(manifest)) => manifest,
        (None, None) => match artifact::embedded_manifest(&wasm) {
            Some(text) => Manifest::from_toml(&text).context("the embedded manifest")?,
            None => bail!(
                "{} carries no manifest: build it with `sluice plugin build`, or pass --manifest sluice.toml",
                path.display()
            ),
        },
    };
    Ok((wasm, manifest))
}

fn read_config(path: Option<&Path>) -> anyhow::Result<serde_json::Value> {
    let Some(path) = path else {
        return Ok(serde_json::json!({}));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("the config {} is not valid JSON", path.display()))
}

fn read_state(path: Option<&Path>) -> anyhow::Result<BTreeMap<String, String>> {
    match path {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the state {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "the state {} is not a JSON object of strings; delete it to start over",
                    path.display()
                )
            })
        }
        _ => Ok(BTreeMap::new()),
    }
}

fn parse_hosts(values: &[String], flag: &str) -> anyhow::Result<Vec<HostPattern>> {
    values
        .iter()
        .map(|v| HostPattern::parse(v).with_context(|| format!("{flag} {v}")))
        .collect()
}

fn parse_secrets(values: &[String]) -> anyhow::Result<SecretSet> {
    let mut secrets = BTreeMap::new();
    for value in values {
        let Some((name, secret)) = value.split_once('=') else {
            // The value may be a secret itself: never echo it.
            bail!("--secret takes NAME=VALUE; one of them has no `=`");
        };
        secrets.insert(name.to_owned(), secret.to_owned());
    }
    Ok(SecretSet::new(secrets))
}

fn write_records(outcome: &RunOutcome, out: Option<&Path>) -> anyhow::Result<()> {
    let mut writer: Box<dyn std::io::Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write records to {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    for record in &outcome.records {
        let data: serde_json::Value =
            serde_json::from_str(&record.json).context("a record's JSON")?;
        let line = serde_json::json!({ "stream": record.stream, "key": record.key, "data": data });
        writeln!(writer, "{line}").context("writing records")?;
    }
    writer.flush().context("writing records")
}

fn write_identities(outcome: &RunOutcome, path: &Path) -> anyhow::Result<()> {
    let mut text = String::new();
    for observation in &outcome.identities {
        text.push_str(&serde_json::to_string(observation).context("encoding an identity")?);
        text.push('\n');
    }
    std::fs::write(path, text)
        .with_context(|| format!("cannot write identities to {}", path.display()))
}

fn report(outcome: &RunOutcome, is_sync: bool, done: &str) {
    let stats = &outcome.stats;
    let streams: Vec<String> = stats
        .records_by_stream
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    let total: u64 = stats.records_by_stream.values().sum();
    let status = match outcome.status {
        RunStatus::Succeeded => done,
        RunStatus::RateLimited => "rate limited: records and cursor so far are kept",
        RunStatus::Failed => "failed",
    };
    eprintln!("── {status}");
    if let Some(error) = &outcome.error {
        eprintln!("   error:       {error}");
    }
    if let Some(note) = &outcome.note {
        eprintln!("   note:        {note}");
    }
    if is_sync {
        eprintln!(
            "   records:     {total}{}",
            if streams.is_empty() {
                String::new()
            } else {
                format!(" ({})", streams.join(", "))
            }
        );
    }
    if !outcome.identities.is_empty() {
        eprintln!("   identities:  {}", outcome.identities.len());
    }
    eprintln!("   http:        {} requests", stats.http_requests);
    eprintln!("   wall time:   {:.3} s", stats.wall_time.as_secs_f64());
    eprintln!(
        "   peak memory: {:.1} MiB",
        stats.peak_memory_bytes as f64 / (1 << 20) as f64
    );
    if stats.dropped_log_lines > 0 {
        eprintln!(
            "   log lines:   {} kept, {} dropped",
            stats.log_lines, stats.dropped_log_lines
        );
    }
}
