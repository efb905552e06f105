//! `sluice admin`: setting up the first company, and rotating master keys.

use anyhow::Context as _;

use super::setup::DataArgs;
use crate::onboarding::onboard;

/// Options of `sluice admin bootstrap`.
#[derive(Debug, clap::Args)]
pub struct BootstrapArgs {
    /// The first owner's email.
    #[arg(long)]
    email: String,
    /// The company's name.
    #[arg(long)]
    company: String,
    #[command(flatten)]
    data: DataArgs,
}

/// Options of `sluice admin rotate-keys`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// Add no key: re-wrap every data key with the newest master key, then remove the
    /// older ones from the key file. Run it once every host runs with the newest key file:
    /// a host started before the last rotation still wraps new data keys with an older key.
    #[arg(long)]
    retire_old: bool,
    #[command(flatten)]
    data: DataArgs,
}

/// Creates a company and its owner (or gives an existing person a new one-time password),
/// and prints an owner API token and the one-time password.
pub async fn bootstrap(args: BootstrapArgs) -> anyhow::Result<()> {
    let store = args.data.store().await?;
    let vault = args.data.master_keys()?.vault();
    let onboarded = onboard(&store, &vault, &args.email, &args.company).await?;
    store.close().await;
    println!(
        "company:           {} ({})",
        onboarded.company.id, onboarded.company.name
    );
    println!("owner:             {}", args.email.trim().to_lowercase());
    println!("api token:         {}", onboarded.token);
    println!("one-time password: {}", onboarded.one_time_password);
    let company = &onboarded.company.id;
    eprintln!(
        "\nBoth are shown only now. Use the token as `Authorization: Bearer …`; sign in once with \
         the password (POST /api/login), then set your own (PUT /api/me/password).\n\
         \nNext steps, with `sluice serve` running (README, \"Quick start\"):\n\
         1. set a secret:   PUT  /api/companies/{company}/secrets/github-token   {{\"value\": \"ghp_…\"}}\n\
         2. install GitHub: POST /api/companies/{company}/installs   {{\"plugin\": \"github\", \"config\": {{\"org\": \"your-org\"}}, \
         \"grants\": {{\"hosts\": [\"api.github.com\"], \"secrets\": {{\"github_token\": \"github-token\"}}}}}}\n\
         3. run it now:     POST /api/companies/{company}/installs/INSTALL/runs, then read GET /api/companies/{company}/records"
    );
    Ok(())
}

/// Adds a new master key (or, to retire the older ones, takes the newest) and re-wraps
/// every company's data keys with it, in one transaction; no secret value is decrypted.
/// Older keys leave the key file only after every data key is wrapped by the newest.
pub async fn rotate_keys(args: RotateArgs) -> anyhow::Result<()> {
    let store = args.data.store().await?;
    let mut keys = args.data.master_keys()?;
    let version = if args.retire_old {
        keys.current_version()
    } else {
        keys.add_new_key()?
    };
    let vault = keys.vault();
    let mut rewrapped = Vec::new();
    for (company, key) in store.all_data_keys().await? {
        let key = vault
            .rewrap(&company, &key)
            .with_context(|| format!("cannot re-wrap a data key of company {company}"))?;
        rewrapped.push((company, key));
    }
    store.replace_data_keys(&rewrapped).await?;
    let mut companies: Vec<&str> = rewrapped.iter().map(|(c, _)| c.as_str()).collect();
    companies.dedup();
    for company in &companies {
        store
            .audit(
                company,
                "cli",
                "keys.rotate",
                &format!("master key version {version}"),
            )
            .await?;
    }
    println!(
        "re-wrapped {} data keys of {} companies with master key version {version}",
        rewrapped.len(),
        companies.len()
    );
    if args.retire_old {
        let retired = keys.retire_older()?;
        let versions = retired
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        if retired.is_empty() {
            println!("no older master key to retire: version {version} is the only one");
        } else {
            for company in &companies {
                store
                    .audit(
                        company,
                        "cli",
                        "keys.retire",
                        &format!("master key versions {versions}"),
                    )
                    .await?;
            }
            println!("retired master key versions {versions}; only version {version} remains");
        }
    }
    store.close().await;
    Ok(())
}
