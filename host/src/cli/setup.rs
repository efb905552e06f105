//! What `serve` and the admin commands share: where the data lives, the database, the
//! master keys.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::store::Store;
use crate::vault::MasterKeys;

/// Where the server keeps its data.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// The database: `sqlite://PATH` or `postgres://USER@HOST/DB`. Without it, an SQLite
    /// file in the data folder, created on first start.
    #[arg(long, env = "SLUICE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The data folder: the SQLite file, the master key file and compiled connectors.
    /// Default: $XDG_DATA_HOME/sluice or ~/.local/share/sluice.
    #[arg(long, env = "SLUICE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The master key file (VERSION:BASE64 lines). Default: master.key in the data folder.
    /// SLUICE_MASTER_KEY, when set, holds the keys instead.
    #[arg(long, env = "SLUICE_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl DataArgs {
    /// The data folder, created if missing.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME")
                        .map(|home| PathBuf::from(home).join(".local").join("share"))
                })
                .unwrap_or_else(|| PathBuf::from("."))
                .join("sluice"),
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
        Ok(dir)
    }

    /// The flags that point another `sluice` command at the same data as this one: what
    /// a log line tells an operator to add to `sluice admin …`. A database URL is named,
    /// never shown, as it may hold a password.
    pub fn same_place_flags(&self) -> String {
        let mut flags = String::new();
        if let Some(dir) = &self.data_dir {
            flags.push_str(&format!(" --data-dir {}", dir.display()));
        }
        if let Some(file) = &self.master_key_file {
            flags.push_str(&format!(" --master-key-file {}", file.display()));
        }
        if self.database_url.is_some() {
            flags.push_str(" --database-url <the same database URL>");
        }
        flags
    }

    /// The database's URL: the one given, or the SQLite file in the data folder.
    pub fn database_url(&self) -> anyhow::Result<String> {
        Ok(match &self.database_url {
            Some(url) => url.clone(),
            None => Store::sqlite_url(&self.data_dir()?.join("sluice.db")),
        })
    }

    /// The database, migrated.
    pub async fn store(&self) -> anyhow::Result<Store> {
        let url = self.database_url()?;
        let shown = url.split('@').next_back().unwrap_or_default().to_owned();
        Store::open(&url)
            .await
            .with_context(|| format!("cannot open the database ({shown})"))
    }

    /// The master keys; a first start generates one, with a loud warning.
    pub fn master_keys(&self) -> anyhow::Result<MasterKeys> {
        let file = match &self.master_key_file {
            Some(file) => file.clone(),
            None => self.data_dir()?.join("master.key"),
        };
        let env = std::env::var("SLUICE_MASTER_KEY").ok();
        let (keys, generated) = MasterKeys::load(env.as_deref(), &file)?;
        if generated {
            tracing::warn!(
                file = %file.display(),
                "GENERATED A NEW MASTER KEY. Every secret in the database is encrypted under it: \
                 back this file up and keep it apart from the database, or set SLUICE_MASTER_KEY. \
                 Lose it and no secret can be decrypted."
            );
        }
        Ok(keys)
    }
}
