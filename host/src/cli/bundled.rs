//! The connectors that ship with Sluice: on `serve`'s start, each one the marketplace
//! lists but has not built (or whose artifact no longer matches its digest) is built from
//! its source folder and published, so a fresh clone serves installable connectors with
//! no other command. A connector already built is not built again; one whose build fails
//! is listed with its error, and the others still work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::artifact;
use super::plugin_build::cargo_build_components;
use crate::manifest::Manifest;
use crate::marketplace::{self, Catalogue};

/// A listed connector whose source is at hand but whose artifact is missing or stale.
#[derive(Debug)]
struct Unbuilt {
    manifest: Manifest,
    manifest_text: String,
    /// The crate's folder, as cargo names it in its messages.
    crate_dir: PathBuf,
}

/// Builds and publishes into `marketplace` every connector it lists without a usable
/// artifact whose source is in `sources` (a cargo workspace of connector crates, one
/// folder per connector name); returns why each one that failed could not be built,
/// by (name, version).
pub fn build_missing(
    marketplace: &Path,
    sources: &Path,
) -> anyhow::Result<BTreeMap<(String, String), String>> {
    let unbuilt = unbuilt(&Catalogue::load(marketplace)?, sources);
    let mut failed = BTreeMap::new();
    if unbuilt.is_empty() {
        return Ok(failed);
    }
    let names: Vec<&str> = unbuilt.iter().map(|u| u.manifest.name.as_str()).collect();
    tracing::info!(
        connectors = %names.join(", "),
        sources = %sources.display(),
        "building the connectors that ship with Sluice, once; cargo's progress follows"
    );
    let built = match cargo_build_components(sources, true) {
        Ok(built) => built,
        Err(error) => {
            for connector in &unbuilt {
                failed.insert(key(&connector.manifest), format!("{error:#}"));
            }
            return Ok(failed);
        }
    };
    for (n, connector) in unbuilt.iter().enumerate() {
        let Manifest { name, version, .. } = &connector.manifest;
        let progress = format!("{}/{}", n + 1, unbuilt.len());
        let published = built
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
                let packaged = artifact::embed_manifest(&bytes, &connector.manifest_text);
                marketplace::publish(marketplace, &connector.manifest_text, &packaged)
                    .map_err(|e| e.to_string())
            });
        match published {
            Ok(sha256) => {
                tracing::info!(%progress, connector = %name, %version, %sha256, "connector built and published");
            }
            Err(error) => {
                tracing::warn!(%progress, connector = %name, %version, %error, "connector could not be built; the others still work");
                failed.insert(key(&connector.manifest), error);
            }
        }
    }
    Ok(failed)
}

/// The catalogue's offers without a usable artifact whose source folder holds the same
/// connector at the same version.
fn unbuilt(catalogue: &Catalogue, sources: &Path) -> Vec<Unbuilt> {
    catalogue
        .offers()
        .iter()
        .filter(|offer| offer.artifact_bytes().is_err())
        .filter_map(|offer| {
            let crate_dir = sources.join(&offer.manifest.name);
            let manifest_text = std::fs::read_to_string(crate_dir.join("sluice.toml")).ok()?;
            let manifest = Manifest::from_toml(&manifest_text).ok()?;
            let same =
                manifest.name == offer.manifest.name && manifest.version == offer.manifest.version;
            same.then(|| Unbuilt {
                manifest,
                manifest_text,
                crate_dir: crate_dir.canonicalize().unwrap_or(crate_dir),
            })
        })
        .collect()
}

/// A connector's (name, version).
fn key(manifest: &Manifest) -> (String, String) {
    (manifest.name.clone(), manifest.version.clone())
}
