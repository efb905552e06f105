//! `sluice marketplace publish`: puts a built connector into a marketplace folder.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use super::{artifact, plugin_build};
use crate::manifest::Manifest;

/// Options of `sluice marketplace publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// A connector's crate (built first) or a built artifact (`.wasm`).
    plugin: PathBuf,
    /// The manifest, when the artifact carries none.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// The marketplace folder.
    #[arg(long, env = "SLUICE_MARKETPLACE", default_value = "marketplace")]
    marketplace: PathBuf,
}

/// Builds if needed, then copies the manifest and artifact into the marketplace and
/// records the artifact's digest.
pub async fn publish(args: PublishArgs) -> anyhow::Result<()> {
    let artifact_path = if args.plugin.is_dir() {
        plugin_build::build(&plugin_build::BuildArgs {
            dir: args.plugin.clone(),
        })
        .await?
        .path
    } else {
        args.plugin.clone()
    };
    let bytes = std::fs::read(&artifact_path)
        .with_context(|| format!("cannot read {}", artifact_path.display()))?;
    let (manifest_text, packaged) = match &args.manifest {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let packaged = artifact::embed_manifest(&bytes, &text);
            (text, packaged)
        }
        None => match artifact::embedded_manifest(&bytes) {
            Some(text) => (text, bytes),
            None => bail!(
                "{} carries no manifest: build it with `sluice plugin build`, or pass --manifest sluice.toml",
                artifact_path.display()
            ),
        },
    };
    let manifest = Manifest::from_toml(&manifest_text).context("the connector's manifest")?;
    let digest = crate::marketplace::publish(&args.marketplace, &manifest_text, &packaged)?;
    println!(
        "published {} {} to {} (sha256 {digest})",
        manifest.name,
        manifest.version,
        args.marketplace.display()
    );
    Ok(())
}
