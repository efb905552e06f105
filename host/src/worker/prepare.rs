//! Everything a run is given but its log: the compiled connector, its secrets, grants,
//! committed state and the company's directory of people.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Worker, internal, secrets};
use crate::egress::{Grants, HostPattern};
use crate::people::{Directory, StaticDirectory};
use crate::runtime::{LogSink, Plugin, RunContext};
use crate::secrets::SecretSet;
use crate::store::Install;

/// Everything a run of an install is given but its log.
pub(super) struct Prepared {
    pub(super) plugin: Plugin,
    pub(super) secrets: SecretSet,
    grants: Grants,
    state: BTreeMap<String, String>,
    people: Arc<dyn Directory>,
}

impl Worker {
    /// Gathers what a run of `install` from `state` is given; the admin's words for what
    /// is wrong.
    pub(super) async fn prepare(
        &self,
        company: &str,
        install: &Install,
        state: BTreeMap<String, String>,
    ) -> Result<Prepared, String> {
        let plugin = self
            .compiled
            .plugin(&self.catalogue, &self.runtime, install)
            .map_err(|e| e.to_string())?;
        let secrets = secrets::open(&self.store, &self.vault, company, install).await?;
        let parse = |hosts: &[String]| -> Result<Vec<HostPattern>, String> {
            hosts
                .iter()
                .map(|h| HostPattern::parse(h).map_err(|e| format!("granted host `{h}`: {e}")))
                .collect()
        };
        let grants = Grants {
            hosts: parse(&install.grants.hosts)?,
            private_hosts: parse(&install.grants.private_hosts)?,
            secret_hosts: install
                .grants
                .secret_hosts
                .iter()
                .map(|(name, hosts)| Ok((name.clone(), parse(hosts)?)))
                .collect::<Result<_, String>>()?,
        };
        let people: Arc<dyn Directory> = if plugin.looks_up_people() {
            Arc::new(
                self.store
                    .people_book(company)
                    .await
                    .map_err(|e| internal(&e))?,
            )
        } else {
            Arc::new(StaticDirectory::default())
        };
        Ok(Prepared {
            plugin,
            secrets,
            grants,
            state,
            people,
        })
    }
}

impl Prepared {
    /// The connector and what its run is given, with `log` for its log lines.
    pub(super) fn into_run(self, install: &Install, log: Arc<dyn LogSink>) -> (Plugin, RunContext) {
        let context = RunContext {
            config: install.config.clone(),
            secrets: self.secrets,
            grants: self.grants,
            state: self.state,
            log,
            people: self.people,
        };
        (self.plugin, context)
    }
}
