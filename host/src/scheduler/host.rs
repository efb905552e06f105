//! This host's identity, and the lock that keeps a second host off an SQLite database.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why this host may not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Another host serves the same SQLite file.
    #[error(
        "another sluice host ({holder}) is already serving the SQLite database {path}; SQLite runs one host: stop that one, or move to PostgreSQL to run several"
    )]
    SqliteTaken {
        /// The database file.
        path: String,
        /// Who holds it, as it wrote in the lock file.
        holder: String,
    },
    /// The lock file cannot be made.
    #[error("cannot lock the SQLite database {path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Where this host runs: the machine's name and the process id.
pub fn host_name() -> String {
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{machine}:{}", std::process::id())
}

/// An exclusive lock beside an SQLite database, held while the host runs; the operating
/// system lets go of it when the process dies, even by `kill -9`.
#[derive(Debug)]
pub struct SqliteHostLock {
    _file: File,
}

impl SqliteHostLock {
    /// Takes the lock of the database file `database`, writing `holder` into it.
    pub fn acquire(database: &Path, holder: &str) -> Result<Self, HostError> {
        let path = lock_path(database);
        let io = |source| HostError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .map(|text| text.trim().to_owned())
                    .ok()
                    .filter(|text| !text.is_empty())
                    .unwrap_or_else(|| "unknown".to_owned());
                return Err(HostError::SqliteTaken {
                    path: database.display().to_string(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(io(error)),
        }
        file.set_len(0).map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        Ok(Self { _file: file })
    }
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".host-lock");
    PathBuf::from(name)
}
