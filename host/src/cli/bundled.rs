//! The connectors that ship with Sluice: on `serve`'s start, each one the marketplace
//! lists whose source folder is at hand is built (one cargo build, which does nothing when
//! nothing changed) and published when what it built differs from the published artifact,
//! so a fresh clone serves installable connectors with no other command and a changed
//! connector is served as it now is. One whose build fails keeps its published artifact
//! if it has one, or is listed with its error; the others still work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::artifact;
use super::plugin_build::cargo_build_components;
use crate::manifest::Manifest;
use crate::marketplace::{self, Catalogue};

/// A listed connector whose source is at hand.
#[derive(Debug)]
struct Bundled {
    manifest: Manifest,
    manifest_text: String,
    /// The crate's folder, as cargo names it in its messages.
    crate_dir: PathBuf,
    /// The digest the marketplace records, when its artifact is there and matches it.
    published: Option<String>,
}

/// Builds every connector `marketplace` lists whose source is in `sources` (a cargo
/// workspace of connector crates, one folder per connector name) and publishes each one
/// whose build differs from its published artifact; returns why each one that is left
/// without an artifact could not be built, by (name, version).
pub fn build_and_publish(
    marketplace: &Path,
    sources: &Path,
) -> anyhow::Result<BTreeMap<(String, String), String>> {
    let bundled = bundled(&Catalogue::load(marketplace)?, sources);
    let mut failed = BTreeMap::new();
    if bundled.is_empty() {
        return Ok(failed);
    }
    let names: Vec<&str> = bundled.iter().map(|b| b.manifest.name.as_str()).collect();
    tracing::info!(
        connectors = %names.join(", "),
        sources = %sources.display(),
        "building the connectors that ship with Sluice (minutes the first time, a moment when nothing changed); cargo's progress follows"
    );
    let built = match cargo_build_components(sources, true) {
        Ok(built) => built,
        Err(error) => {
            for connector in bundled.iter().filter(|b| b.published.is_none()) {
                failed.insert(key(&connector.manifest), format!("{error:#}"));
            }
            return Ok(failed);
        }
    };
    for (n, connector) in bundled.iter().enumerate() {
        let Manifest { name, version, .. } = &connector.manifest;
        let progress = format!("{}/{}", n + 1, bundled.len());
        let packaged = built
            .components
            .get(&connector.crate_dir)
            .ok_or_else(|| {
                built.errors.get(&connector.crate_dir).map_or_else(
                    || "cargo built no component for it; is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`".to_owned(),
                    |error| format!("cargo reported: {error}"),
                )
            })
            .and_then(|component| {
                let bytes = std::fs::read(component)
                    .map_err(|e| format!("cannot read {}: {e}", component.display()))?;
                Ok(artifact::embed_manifest(&bytes, &connector.manifest_text))
            });
        let published = match packaged {
            Ok(packaged)
                if connector.published.as_deref()
                    == Some(marketplace::sha256_hex(&packaged).as_str()) =>
            {
                tracing::debug!(connector = %name, %version, "connector unchanged");
                continue;
            }
            Ok(packaged) => marketplace::publish(marketplace, &connector.manifest_text, &packaged)
                .map_err(|e| e.to_string()),
            Err(error) => Err(error),
        };
        match (published, &connector.published) {
            (Ok(sha256), _) => {
                tracing::info!(%progress, connector = %name, %version, %sha256, "connector built and published");
            }
            (Err(error), Some(_)) => {
                tracing::warn!(%progress, connector = %name, %version, %error, "connector could not be rebuilt; its published artifact is served");
            }
            (Err(error), None) => {
                tracing::warn!(%progress, connector = %name, %version, %error, "connector could not be built; the others still work");
                failed.insert(key(&connector.manifest), error);
            }
        }
    }
    Ok(failed)
}

/// The catalogue's offers whose source folder holds the same connector at the same
/// version.
fn bundled(catalogue: &Catalogue, sources: &Path) -> Vec<Bundled> {
    catalogue
        .offers()
        .iter()
        .filter_map(|offer| {
            let crate_dir = sources.join(&offer.manifest.name);
            let manifest_text = std::fs::read_to_string(crate_dir.join("sluice.toml")).ok()?;
            let manifest = Manifest::from_toml(&manifest_text).ok()?;
            let same =
                manifest.name == offer.manifest.name && manifest.version == offer.manifest.version;
            same.then(|| Bundled {
                manifest,
                manifest_text,
                crate_dir: crate_dir.canonicalize().unwrap_or(crate_dir),
                published: offer.artifact_bytes().ok().map(|_| offer.sha256.clone()),
            })
        })
        .collect()
}

/// A connector's (name, version).
fn key(manifest: &Manifest) -> (String, String) {
    (manifest.name.clone(), manifest.version.clone())
}
