//! The marketplace: the catalogue of connectors a company can install, and the artifacts
//! behind it, each checked against the digest the catalogue records.
//!
//! A marketplace is a folder: `index.toml` lists each connector's name, version, manifest
//! and artifact with its sha256; the manifest files are committed, the artifacts are built
//! (`sluice marketplace publish`) and never committed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::manifest::{Manifest, ManifestError};

/// The catalogue's file name inside a marketplace folder.
pub const INDEX_FILE: &str = "index.toml";

/// Why the marketplace refused.
#[derive(Debug, thiserror::Error)]
pub enum MarketplaceError {
    /// The index could not be read or parsed.
    #[error("the marketplace index {path} is not valid: {message}")]
    Index {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A listed manifest is broken.
    #[error("the marketplace lists {name} {version} with a broken manifest: {source}")]
    Manifest {
        /// The connector.
        name: String,
        /// Its version.
        version: String,
        /// What is wrong.
        source: ManifestError,
    },
    /// No such connector or version.
    #[error("the marketplace has no connector `{0}`")]
    Unknown(String),
    /// The connector exists, but not in that version.
    #[error("the marketplace has no version {version} of `{name}` (it has {available})")]
    UnknownVersion {
        /// The connector.
        name: String,
        /// The version asked for.
        version: String,
        /// The versions it has.
        available: String,
    },
    /// The artifact has not been built.
    #[error(
        "the artifact of {name} {version} is not built ({path} is missing): run `sluice marketplace publish` for it"
    )]
    NotBuilt {
        /// The connector.
        name: String,
        /// Its version.
        version: String,
        /// Where it should be.
        path: String,
    },
    /// The artifact is not what the catalogue recorded.
    #[error(
        "the artifact of {name} {version} does not match the catalogue: its sha256 is {actual}, the catalogue records {expected}; it was not installed"
    )]
    Digest {
        /// The connector.
        name: String,
        /// Its version.
        version: String,
        /// What the catalogue says.
        expected: String,
        /// What the file hashes to.
        actual: String,
    },
    /// Writing the marketplace failed.
    #[error("cannot write the marketplace: {0}")]
    Write(String),
}

/// One entry of `index.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexEntry {
    name: String,
    version: String,
    /// The manifest, relative to the marketplace folder.
    manifest: String,
    /// The artifact, relative to the marketplace folder.
    artifact: String,
    /// The artifact's sha256, hex.
    sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    #[serde(default)]
    connector: Vec<IndexEntry>,
}

/// A connector the marketplace offers.
#[derive(Debug, Clone)]
pub struct Offer {
    /// Its manifest.
    pub manifest: Manifest,
    /// The artifact's sha256, hex.
    pub sha256: String,
    /// Where the artifact is.
    pub artifact: PathBuf,
    /// Why the host could not build it, when it ships with Sluice and its build failed.
    pub build_error: Option<String>,
}

/// A connector as the marketplace API lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Listing {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it does.
    pub description: String,
    /// The `sluice:connector` interface version it was built against.
    pub api_version: String,
    /// Hosts it asks to reach; `{config.FIELD}` is the host of the URL in that field.
    pub hosts: Vec<String>,
    /// Secrets it asks for, with what each is for.
    pub secrets: BTreeMap<String, String>,
    /// The streams it writes, with their keys.
    pub streams: BTreeMap<String, String>,
    /// Events it handles.
    pub events: Vec<String>,
    /// When it runs by default (cron).
    pub default_schedule: Option<String>,
    /// The JSON Schema its configuration must match.
    #[schema(value_type = Object)]
    pub config_schema: serde_json::Value,
    /// The artifact's sha256.
    pub sha256: String,
    /// Whether the artifact is built and can be installed.
    pub available: bool,
    /// Why it cannot be installed, when it is not available.
    pub unavailable_because: Option<String>,
}

impl Offer {
    /// The offer as the API lists it.
    pub fn listing(&self) -> Listing {
        let m = &self.manifest;
        Listing {
            name: m.name.clone(),
            version: m.version.clone(),
            description: m.description.clone(),
            api_version: m.api_version.clone(),
            hosts: m.hosts.clone(),
            secrets: m
                .secrets
                .iter()
                .map(|(name, request)| (name.clone(), request.description.clone()))
                .collect(),
            streams: m
                .streams
                .iter()
                .map(|s| (s.name.clone(), s.key.clone()))
                .collect(),
            events: m.events.clone(),
            default_schedule: m.default_schedule.clone(),
            config_schema: m.config_schema.clone(),
            sha256: self.sha256.clone(),
            available: self.artifact.is_file(),
            unavailable_because: match (&self.build_error, self.artifact.is_file()) {
                (_, true) => None,
                (Some(error), false) => Some(format!("its build failed: {error}")),
                (None, false) => Some(format!(
                    "it is not built: run `sluice marketplace publish` for it ({} is missing)",
                    self.artifact.display()
                )),
            },
        }
    }

    /// The artifact's bytes, checked against the catalogue's digest.
    pub fn artifact_bytes(&self) -> Result<Vec<u8>, MarketplaceError> {
        let bytes = std::fs::read(&self.artifact).map_err(|_| MarketplaceError::NotBuilt {
            name: self.manifest.name.clone(),
            version: self.manifest.version.clone(),
            path: self.artifact.display().to_string(),
        })?;
        let actual = sha256_hex(&bytes);
        if actual != self.sha256 {
            return Err(MarketplaceError::Digest {
                name: self.manifest.name.clone(),
                version: self.manifest.version.clone(),
                expected: self.sha256.clone(),
                actual,
            });
        }
        Ok(bytes)
    }
}

/// The sha256 of `bytes`, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The catalogue of a marketplace folder.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    offers: Vec<Offer>,
}

impl Catalogue {
    /// Reads the catalogue of the marketplace in `dir`; an empty one when it has no index.
    pub fn load(dir: &Path) -> Result<Self, MarketplaceError> {
        let path = dir.join(INDEX_FILE);
        let index = read_index(&path)?;
        let mut offers = Vec::with_capacity(index.connector.len());
        for entry in index.connector {
            let manifest = Manifest::load(&dir.join(&entry.manifest)).map_err(|source| {
                MarketplaceError::Manifest {
                    name: entry.name.clone(),
                    version: entry.version.clone(),
                    source,
                }
            })?;
            if manifest.name != entry.name || manifest.version != entry.version {
                return Err(MarketplaceError::Index {
                    path: path.display().to_string(),
                    message: format!(
                        "the entry {} {} points at the manifest of {} {}",
                        entry.name, entry.version, manifest.name, manifest.version
                    ),
                });
            }
            offers.push(Offer {
                manifest,
                sha256: entry.sha256,
                artifact: dir.join(entry.artifact),
                build_error: None,
            });
        }
        offers.sort_by(|a, b| {
            (&a.manifest.name, &a.manifest.version).cmp(&(&b.manifest.name, &b.manifest.version))
        });
        Ok(Self { offers })
    }

    /// Notes why `name` `version` could not be built; its listing says so.
    pub fn note_build_error(&mut self, name: &str, version: &str, error: String) {
        if let Some(offer) = self
            .offers
            .iter_mut()
            .find(|o| o.manifest.name == name && o.manifest.version == version)
        {
            offer.build_error = Some(error);
        }
    }

    /// Every offer, by name then version.
    pub fn offers(&self) -> &[Offer] {
        &self.offers
    }

    /// The offer of `name` at `version`, or its newest version when none is given.
    pub fn offer(&self, name: &str, version: Option<&str>) -> Result<&Offer, MarketplaceError> {
        let versions: Vec<&Offer> = self
            .offers
            .iter()
            .filter(|o| o.manifest.name == name)
            .collect();
        if versions.is_empty() {
            return Err(MarketplaceError::Unknown(name.to_owned()));
        }
        match version {
            Some(version) => versions
                .iter()
                .find(|o| o.manifest.version == version)
                .copied()
                .ok_or_else(|| MarketplaceError::UnknownVersion {
                    name: name.to_owned(),
                    version: version.to_owned(),
                    available: versions
                        .iter()
                        .map(|o| o.manifest.version.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            None => versions
                .into_iter()
                .max_by(|a, b| compare_versions(&a.manifest.version, &b.manifest.version))
                .ok_or_else(|| MarketplaceError::Unknown(name.to_owned())),
        }
    }
}

/// Orders versions by semantic-version precedence (a pre-release comes before its
/// release). Every offer's manifest was checked to carry a semantic version; text order is
/// only a fallback that keeps the order total.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => a.cmp(b),
    }
}

fn read_index(path: &Path) -> Result<Index, MarketplaceError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| MarketplaceError::Index {
            path: path.display().to_string(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index::default()),
        Err(e) => Err(MarketplaceError::Index {
            path: path.display().to_string(),
            message: e.to_string(),
        }),
    }
}

/// Publishes a built connector into the marketplace in `dir`: copies its manifest and
/// artifact there and records the artifact's digest in the index, replacing an earlier
/// publication of the same version. Returns the digest.
pub fn publish(
    dir: &Path,
    manifest_text: &str,
    artifact: &[u8],
) -> Result<String, MarketplaceError> {
    let manifest =
        Manifest::from_toml(manifest_text).map_err(|source| MarketplaceError::Manifest {
            name: "(published)".into(),
            version: String::new(),
            source,
        })?;
    let write = |e: std::io::Error| MarketplaceError::Write(e.to_string());
    let folder = format!("{}/{}", manifest.name, manifest.version);
    std::fs::create_dir_all(dir.join(&folder)).map_err(write)?;
    let manifest_rel = format!("{folder}/sluice.toml");
    let artifact_rel = format!("{folder}/{}.wasm", manifest.name);
    std::fs::write(dir.join(&manifest_rel), manifest_text).map_err(write)?;
    std::fs::write(dir.join(&artifact_rel), artifact).map_err(write)?;
    let sha256 = sha256_hex(artifact);
    let index_path = dir.join(INDEX_FILE);
    let mut index = read_index(&index_path)?;
    index
        .connector
        .retain(|e| !(e.name == manifest.name && e.version == manifest.version));
    index.connector.push(IndexEntry {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        manifest: manifest_rel,
        artifact: artifact_rel,
        sha256: sha256.clone(),
    });
    index
        .connector
        .sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    let text = toml::to_string(&index).map_err(|e| MarketplaceError::Write(e.to_string()))?;
    std::fs::write(&index_path, format!("{INDEX_HEADER}{text}")).map_err(write)?;
    Ok(sha256)
}

const INDEX_HEADER: &str = "# The Sluice marketplace catalogue, written by `sluice marketplace publish`.\n\
# Each connector's manifest sits beside this file; its artifact is built, never committed,\n\
# and checked against `sha256` when a company installs it.\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
name = "demo"
version = "1.2.0"
api_version = "0.1.0"
description = "A demo."
"#;

    #[test]
    fn a_published_artifact_installs_and_a_tampered_one_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let digest = publish(dir.path(), MANIFEST, b"component bytes").expect("publish");
        let catalogue = Catalogue::load(dir.path()).expect("load");
        let offer = catalogue.offer("demo", None).expect("offer");
        assert_eq!(offer.sha256, digest);
        assert!(offer.listing().available);
        assert_eq!(offer.artifact_bytes().expect("bytes"), b"component bytes");

        std::fs::write(&offer.artifact, b"component bytes, changed").expect("tamper");
        let error = offer.artifact_bytes().expect_err("tampered");
        assert!(
            error.to_string().starts_with(
                "the artifact of demo 1.2.0 does not match the catalogue: its sha256 is "
            ),
            "{error}"
        );
        std::fs::remove_file(&offer.artifact).expect("remove");
        assert!(!offer.listing().available);
        assert!(matches!(
            offer.artifact_bytes(),
            Err(MarketplaceError::NotBuilt { .. })
        ));
    }

    #[test]
    fn the_newest_version_is_by_semantic_version_a_pre_release_before_its_release() {
        let dir = tempfile::tempdir().expect("tempdir");
        for version in ["1.10.0-rc.1", "1.9.0", "1.10.0", "1.10.0-beta.2"] {
            publish(dir.path(), &MANIFEST.replace("1.2.0", version), b"x").expect("publish");
        }
        let catalogue = Catalogue::load(dir.path()).expect("load");
        let newest = catalogue.offer("demo", None).expect("newest");
        assert_eq!(newest.manifest.version, "1.10.0");
    }

    #[test]
    fn unknown_connectors_and_versions_say_what_exists() {
        let dir = tempfile::tempdir().expect("tempdir");
        publish(dir.path(), MANIFEST, b"x").expect("publish");
        let newer = MANIFEST.replace("1.2.0", "1.10.0");
        publish(dir.path(), &newer, b"y").expect("publish");
        let catalogue = Catalogue::load(dir.path()).expect("load");
        assert_eq!(
            catalogue
                .offer("demo", None)
                .expect("newest")
                .manifest
                .version,
            "1.10.0"
        );
        assert_eq!(
            catalogue
                .offer("demo", Some("9.9.9"))
                .expect_err("no such version")
                .to_string(),
            "the marketplace has no version 9.9.9 of `demo` (it has 1.10.0, 1.2.0)"
        );
        assert_eq!(
            catalogue
                .offer("nope", None)
                .expect_err("unknown")
                .to_string(),
            "the marketplace has no connector `nope`"
        );
    }
}
