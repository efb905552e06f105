//! A company with one install, and runs of it claimed straight from the store: what the
//! store's own tests and benchmarks commit to, without a worker in between.

use sluice::store::{Claim, InstallGrants, NewInstall, NewRun, Run, RunCall, RunTrigger, Store};
use sluice::vault::{SecretKey, Vault};

/// A new company `Acme` with an install of `plugin`: their ids.
pub async fn company_with_install(store: &Store, plugin: &str) -> anyhow::Result<(String, String)> {
    let vault = Vault::new(1, SecretKey::generate());
    let company = sluice::onboarding::onboard(store, &vault, "ada@acme.example", "Acme")
        .await?
        .company
        .id;
    let install = install(store, &company, plugin).await?;
    Ok((company, install))
}

/// A new install of `plugin` 0.1.0 in `company`, with an empty configuration and no
/// grants: its id.
pub async fn install(store: &Store, company: &str, plugin: &str) -> anyhow::Result<String> {
    let install = store
        .create_install(
            company,
            NewInstall {
                plugin: plugin.into(),
                version: "0.1.0".into(),
                config: serde_json::json!({}),
                grants: InstallGrants::default(),
            },
        )
        .await?;
    Ok(install.id)
}

/// A manual run of `install`, due now, with one attempt.
pub fn manual_run(install: &str) -> NewRun {
    NewRun {
        install_id: install.to_owned(),
        plugin: "github".into(),
        trigger: RunTrigger::Manual,
        call: RunCall::Sync,
        due_at: sluice::store::now_ms(),
        scheduled_for: None,
        attempt: 1,
        max_attempts: 1,
        retry_of: None,
    }
}

/// A manual run of `install`, enqueued and claimed by the host `bench`, ready to commit.
pub async fn claimed_run(store: &Store, company: &str, install: &str) -> anyhow::Result<Run> {
    let new = manual_run(install);
    store.enqueue_run(company, &new).await?;
    let claim = Claim {
        host: "bench",
        limit: 1,
        per_company: 1,
        lease_ms: 60_000,
    };
    store
        .claim_runs(&claim)
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("the enqueued run was not claimed"))
}
