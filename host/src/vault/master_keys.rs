//! Master keys: where they live (outside the database), how they are read, generated and
//! rotated.
//!
//! A master-key list is text: one `VERSION:BASE64` entry per line (or separated by commas
//! in `SLUICE_MASTER_KEY`); `#` starts a comment; a bare base64 key is version 1. The
//! highest version wraps new data keys; older versions stay until every data key has been
//! re-wrapped by `sluice admin rotate-keys`, and `rotate-keys --retire-old` removes them.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{SecretKey, Vault};

/// Why the master keys could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// An entry is not `VERSION:BASE64` with a 32-byte key.
    #[error("master key entry {entry} is not valid: {reason}")]
    Entry {
        /// Which entry (1-based).
        entry: usize,
        /// What is wrong; never the key.
        reason: String,
    },
    /// No key at all.
    #[error("no master key in {0}")]
    Empty(String),
    /// The file could not be read or written.
    #[error("cannot {action} the master key file {path}: {source}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Keys from the environment cannot be rotated by Sluice.
    #[error(
        "the master keys come from SLUICE_MASTER_KEY, which Sluice cannot change: add a new `VERSION:BASE64` entry there yourself, or keep the keys in a file (--master-key-file)"
    )]
    FromEnvironment,
}

/// Where the master keys come from.
#[derive(Debug, Clone)]
enum Origin {
    Environment,
    File(PathBuf),
}

/// The master keys, by version, and where they came from.
#[derive(Debug, Clone)]
pub struct MasterKeys {
    keys: Vec<(u32, SecretKey)>,
    origin: Origin,
}

impl MasterKeys {
    /// Parses a master-key list.
    pub fn parse(text: &str, from: &str) -> Result<Vec<(u32, SecretKey)>, MasterKeyError> {
        let mut keys = Vec::new();
        let entries = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (i, entry) in entries.enumerate() {
            let bad = |reason: &str| MasterKeyError::Entry {
                entry: i + 1,
                reason: reason.to_owned(),
            };
            let (version, key) = match entry.split_once(':') {
                Some((version, key)) => (
                    version
                        .trim()
                        .parse::<u32>()
                        .map_err(|_| bad("the version before `:` is not a whole number"))?,
                    key,
                ),
                None => (1, entry),
            };
            let key = SecretKey::from_base64(key).map_err(|e| bad(&e.to_string()))?;
            if keys.iter().any(|(v, _)| *v == version) {
                return Err(bad(&format!("version {version} appears twice")));
            }
            keys.push((version, key));
        }
        if keys.is_empty() {
            return Err(MasterKeyError::Empty(from.to_owned()));
        }
        Ok(keys)
    }

    /// The keys in `SLUICE_MASTER_KEY` when it is set, else those in `file`; when neither
    /// exists, a new key is generated into `file` and `generated` says so, for a loud warning.
    pub fn load(env: Option<&str>, file: &Path) -> Result<(Self, bool), MasterKeyError> {
        if let Some(text) = env {
            let keys = Self::parse(text, "SLUICE_MASTER_KEY")?;
            return Ok((
                Self {
                    keys,
                    origin: Origin::Environment,
                },
                false,
            ));
        }
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let keys = Self::parse(&text, &file.display().to_string())?;
                Ok((
                    Self {
                        keys,
                        origin: Origin::File(file.to_owned()),
                    },
                    false,
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = Self {
                    keys: vec![(1, SecretKey::generate())],
                    origin: Origin::File(file.to_owned()),
                };
                keys.write(file)?;
                Ok((keys, true))
            }
            Err(source) => Err(MasterKeyError::Io {
                action: "read",
                path: file.display().to_string(),
                source,
            }),
        }
    }

    /// The vault these keys open.
    pub fn vault(&self) -> Vault {
        let mut keys = self.keys.iter();
        let mut vault = match keys.next() {
            Some((version, key)) => Vault::new(*version, key.clone()),
            None => Vault::new(1, SecretKey::generate()),
        };
        for (version, key) in keys {
            vault = vault.with_master(*version, key.clone());
        }
        vault
    }

    /// Adds a new master key, one version above the newest, and saves the file. Returns
    /// the new version.
    pub fn add_new_key(&mut self) -> Result<u32, MasterKeyError> {
        let Origin::File(file) = &self.origin else {
            return Err(MasterKeyError::FromEnvironment);
        };
        let file = file.clone();
        let version = self.current_version() + 1;
        self.keys.push((version, SecretKey::generate()));
        self.write(&file)?;
        Ok(version)
    }

    /// The version of the newest key: the one that wraps new data keys.
    pub fn current_version(&self) -> u32 {
        self.keys.iter().map(|(v, _)| *v).max().unwrap_or(0)
    }

    /// Removes every key but the newest from the file, once no data key needs them;
    /// returns the versions removed.
    pub fn retire_older(&mut self) -> Result<Vec<u32>, MasterKeyError> {
        let Origin::File(file) = &self.origin else {
            return Err(MasterKeyError::FromEnvironment);
        };
        let file = file.clone();
        let current = self.current_version();
        let retired: Vec<u32> = self
            .keys
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| *v != current)
            .collect();
        self.keys.retain(|(v, _)| *v == current);
        self.write(&file)?;
        Ok(retired)
    }

    /// Writes the keys to `file`, readable by its owner only, replacing it atomically.
    fn write(&self, file: &Path) -> Result<(), MasterKeyError> {
        let io = |source| MasterKeyError::Io {
            action: "write",
            path: file.display().to_string(),
            source,
        };
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut text = Zeroizing::new(String::from(
            "# Sluice master keys: VERSION:BASE64, newest last. Keep this file secret and backed up:\n\
             # without it no secret in the database can be decrypted.\n",
        ));
        for (version, key) in &self.keys {
            text.push_str(&format!("{version}:"));
            text.push_str(key.to_base64().as_str());
            text.push('\n');
        }
        let temporary = file.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut out = options.open(&temporary).map_err(io)?;
        // The mode above applies only to a file it creates: one left by an earlier attempt
        // keeps its own mode, so the mode is set again before a key is written.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            out.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        out.write_all(text.as_bytes()).map_err(io)?;
        out.sync_all().map_err(io)?;
        std::fs::rename(&temporary, file).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_gets_a_new_key_that_is_read_back_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("keys").join("master.key");
        let (keys, generated) = MasterKeys::load(None, &file).expect("generate");
        assert!(generated);
        let company_key = keys.vault().new_data_key("acme", 1).expect("data key");
        let (again, generated) = MasterKeys::load(None, &file).expect("read");
        assert!(!generated);
        again
            .vault()
            .rewrap("acme", &company_key)
            .expect("the same key opens it");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_owner_only_whatever_was_left_before() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("master.key");
        let left = file.with_extension("tmp");
        std::fs::write(&left, "left by a crash").expect("write");
        std::fs::set_permissions(&left, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let (mut keys, _) = MasterKeys::load(None, &file).expect("generate");
        let mode =
            |path: &Path| std::fs::metadata(path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        std::fs::write(&left, "left again").expect("write");
        std::fs::set_permissions(&left, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        keys.add_new_key().expect("rotate");
        assert_eq!(
            mode(&file),
            0o600,
            "a rotation writes an owner-only file too"
        );
    }

    #[test]
    fn bad_entries_are_named_without_showing_the_key() {
        let key = SecretKey::generate();
        let text = format!("1:{}\n2:not-base64-secretish", key.to_base64().as_str());
        let error = MasterKeys::parse(&text, "test").expect_err("bad");
        assert_eq!(
            error.to_string(),
            "master key entry 2 is not valid: a master key must be 32 bytes, base64-encoded"
        );
        let error = MasterKeys::parse("x:abc", "test").expect_err("bad version");
        assert!(error.to_string().contains("not a whole number"), "{error}");
        assert!(matches!(
            MasterKeys::parse("# only a comment\n", "test"),
            Err(MasterKeyError::Empty(_))
        ));
    }

    #[test]
    fn retiring_keeps_only_the_newest_key_and_what_it_wrapped_still_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("master.key");
        let (mut keys, _) = MasterKeys::load(None, &file).expect("generate");
        keys.add_new_key().expect("rotate");
        keys.add_new_key().expect("rotate");
        let wrapped = keys.vault().new_data_key("acme", 1).expect("data key");
        assert_eq!(keys.retire_older().expect("retire"), [1, 2]);
        let (read, _) = MasterKeys::load(None, &file).expect("read");
        assert_eq!(read.keys.len(), 1);
        assert_eq!(read.current_version(), 3);
        read.vault()
            .rewrap("acme", &wrapped)
            .expect("the newest key still opens what it wrapped");

        let env = SecretKey::generate().to_base64().as_str().to_owned();
        let (mut from_env, _) = MasterKeys::load(Some(&env), &file).expect("env");
        assert!(matches!(
            from_env.retire_older(),
            Err(MasterKeyError::FromEnvironment)
        ));
    }

    #[test]
    fn a_new_key_becomes_current_and_environment_keys_are_not_rotated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("master.key");
        let (mut keys, _) = MasterKeys::load(None, &file).expect("generate");
        assert_eq!(keys.add_new_key().expect("rotate"), 2);
        let (read, _) = MasterKeys::load(None, &file).expect("read");
        assert_eq!(read.vault().current_version(), 2);

        let env = SecretKey::generate().to_base64().as_str().to_owned();
        let (mut from_env, _) = MasterKeys::load(Some(&env), &file).expect("env");
        assert_eq!(from_env.vault().current_version(), 1);
        assert!(matches!(
            from_env.add_new_key(),
            Err(MasterKeyError::FromEnvironment)
        ));
    }
}
