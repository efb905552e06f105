//! `sluice plugin build`: builds a connector and packages it with its manifest.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use sha2::Digest as _;

use super::artifact;
use crate::manifest::Manifest;
use crate::runtime::{Limits, Runtime};

/// Options of `sluice plugin build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The connector's crate (holding `Cargo.toml` and `sluice.toml`).
    #[arg(default_value = ".")]
    pub(super) dir: PathBuf,
}

/// A packaged connector.
#[derive(Debug)]
pub struct Built {
    /// The artifact: the component with its manifest embedded.
    pub path: PathBuf,
    /// The manifest.
    pub manifest: Manifest,
}

/// Builds, checks and packages; prints path, size and sha256.
pub async fn build(args: &BuildArgs) -> anyhow::Result<Built> {
    let dir = &args.dir;
    let manifest_path = dir.join("sluice.toml");
    let manifest_text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "cannot read {}: a connector needs a manifest",
            manifest_path.display()
        )
    })?;
    let manifest =
        Manifest::from_toml(&manifest_text).with_context(|| manifest_path.display().to_string())?;
    eprintln!(
        "building connector `{}` {} …",
        manifest.name, manifest.version
    );
    let component_path = cargo_build(dir)?;
    let component = std::fs::read(&component_path)
        .with_context(|| format!("cannot read {}", component_path.display()))?;
    let runtime = Runtime::new(Some(&super::compiled_cache_dir(None)), Limits::default())?;
    runtime
        .load(&component, manifest.clone())
        .with_context(|| format!("{} is not a Sluice connector", component_path.display()))?;
    let packaged = artifact::embed_manifest(&component, &manifest_text);
    let out_dir = component_path
        .parent()
        .context("the component has no directory")?
        .join("sluice");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let path = out_dir.join(format!("{}-{}.wasm", manifest.name, manifest.version));
    std::fs::write(&path, &packaged).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    println!("size    {} bytes", packaged.len());
    println!("sha256  {}", hex::encode(sha2::Sha256::digest(&packaged)));
    Ok(Built { path, manifest })
}

/// Runs cargo in `dir` and returns the component it produced. Cargo's own progress goes
/// to stderr.
fn cargo_build(dir: &Path) -> anyhow::Result<PathBuf> {
    let built = cargo_build_components(dir, false)?;
    if !built.succeeded {
        bail!(
            "cargo build failed; see its messages above. Is the target installed? `rustup target add wasm32-wasip2`"
        );
    }
    let here = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    let mut components = built.components;
    components
        .remove(&here)
        .or_else(|| components.into_values().next())
        .context("cargo built no component: the crate needs `crate-type = [\"cdylib\"]`")
}

/// What one `cargo build` for wasm32-wasip2 made: each crate's component, and the first
/// error of each crate that failed, both by the crate's folder.
#[derive(Debug, Default)]
pub(super) struct CargoBuilt {
    /// Components built, by crate folder.
    pub(super) components: BTreeMap<PathBuf, PathBuf>,
    /// The first error cargo reported for a crate, by crate folder.
    pub(super) errors: BTreeMap<PathBuf, String>,
    /// Whether cargo succeeded.
    pub(super) succeeded: bool,
}

/// Cargo's `--config` that names cargo's home folder `/cargo` in what rustc writes.
///
/// A connector's panic messages name the source files of its crates.io dependencies, which
/// cargo keeps under its home folder (`$CARGO_HOME`, `~/.cargo` by default): a path that
/// differs from one machine or user to another, and with it the connector's bytes and
/// digest. The flag joins the target's own `rustflags` (the connectors' stack size); a
/// crate that sets only `build.rustflags` has them replaced, as target flags always do.
/// `tests/build.rs` passes the same flag, so the suite's build and this one share their work.
fn cargo_home_remap() -> Option<String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|home| home.join(".cargo")))?;
    let flag = toml::Value::String(format!("--remap-path-prefix={}=/cargo", home.display()));
    Some(format!("target.wasm32-wasip2.rustflags=[{flag}]"))
}

/// Runs `cargo build --release --target wasm32-wasip2` in `dir` (with `--keep-going`
/// when asked, so one broken crate of a workspace does not stop the others) and reads
/// what it made from its JSON messages. Cargo's own progress and rustc's messages go to
/// stderr.
pub(super) fn cargo_build_components(dir: &Path, keep_going: bool) -> anyhow::Result<CargoBuilt> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--message-format=json",
    ]);
    if keep_going {
        command.arg("--keep-going");
    }
    if let Some(remap) = cargo_home_remap() {
        command.arg("--config").arg(remap);
    }
    let mut child = command
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run cargo; is the Rust toolchain installed?")?;
    let stdout = child.stdout.take().context("cargo's output is missing")?;
    let mut built = CargoBuilt::default();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let Some(crate_dir) = message["manifest_path"]
            .as_str()
            .and_then(|path| Path::new(path).parent())
            .map(|dir| dir.canonicalize().unwrap_or_else(|_| dir.to_owned()))
        else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && message["target"]["crate_types"]
                .as_array()
                .is_some_and(|t| t.iter().any(|c| c == "cdylib"))
            && let Some(files) = message["filenames"].as_array()
            && let Some(wasm) = files
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
        {
            built.components.insert(crate_dir, PathBuf::from(wasm));
        } else if message["reason"] == "compiler-message" {
            // Cargo leaves rustc's messages to its reader: shown as rustc wrote them.
            if let Some(rendered) = message["message"]["rendered"].as_str() {
                eprint!("{rendered}");
            }
            if message["message"]["level"] == "error"
                && let Some(text) = message["message"]["message"].as_str()
            {
                built
                    .errors
                    .entry(crate_dir)
                    .or_insert_with(|| text.to_owned());
            }
        }
    }
    built.succeeded = child.wait().context("waiting for cargo")?.success();
    Ok(built)
}
