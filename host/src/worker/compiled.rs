//! Compiled connectors, cached by artifact digest: a connector is compiled once per host
//! (and cached on disk by the runtime), whatever the number of its installs and runs.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{WorkerError, lock};
use crate::marketplace::Catalogue;
use crate::runtime::{Plugin, Runtime};
use crate::store::Install;

/// The compiled connectors of one host.
#[derive(Default)]
pub(super) struct Compiled {
    by_digest: Mutex<HashMap<String, Plugin>>,
}

impl Compiled {
    /// The compiled connector of an install, checked against the catalogue's digest.
    pub(super) fn plugin(
        &self,
        catalogue: &Catalogue,
        runtime: &Runtime,
        install: &Install,
    ) -> Result<Plugin, WorkerError> {
        let offer = catalogue.offer(&install.plugin, Some(&install.version))?;
        if let Some(plugin) = lock(&self.by_digest).get(&offer.sha256) {
            return Ok(plugin.clone());
        }
        let bytes = offer.artifact_bytes()?;
        let plugin = runtime
            .load(&bytes, offer.manifest.clone())
            .map_err(|e| WorkerError::Load(e.to_string()))?;
        lock(&self.by_digest).insert(offer.sha256.clone(), plugin.clone());
        Ok(plugin)
    }
}
