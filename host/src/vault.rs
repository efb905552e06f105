//! The vault: envelope encryption of company secrets.
//!
//! A master key, kept outside the database, wraps each company's data keys; data keys
//! encrypt secret values with AES-256-GCM and a fresh nonce per value. The associated data
//! binds a ciphertext to its company and secret name, so a row copied to another company or
//! name does not decrypt. Every ciphertext names its data-key version, and every wrapped data
//! key its master-key version, so keys rotate without re-encrypting what they protect:
//! [`Vault::rewrap`] moves data keys to a new master key without revealing any secret value.

mod master_keys;

pub use master_keys::{MasterKeyError, MasterKeys};

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use zeroize::Zeroizing;

/// The format byte that starts every ciphertext this module writes.
const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

/// Why the vault refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The key is not 32 bytes of base64.
    #[error("a master key must be 32 bytes, base64-encoded")]
    BadMasterKey,
    /// The bytes are not a ciphertext of this vault.
    #[error("not a vault ciphertext")]
    Malformed,
    /// The ciphertext names a key version the vault does not hold.
    #[error("key version {0} is not in the vault")]
    UnknownKeyVersion(u32),
    /// Wrong key, wrong company or name, or tampered bytes. Deliberately says no more.
    #[error("the value does not decrypt with this key for this company and name")]
    Decrypt,
}

/// A 256-bit key, wiped from memory when dropped.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let key = Aes256Gcm::generate_key(&mut OsRng);
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&key);
        Self(bytes)
    }

    /// A key from its base64 text (as `SLUICE_MASTER_KEY` holds it).
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| VaultError::BadMasterKey)?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::BadMasterKey)?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// The key as base64, to store it outside the database.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*self.0))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&*self.0))
    }
}

/// `version ‖ nonce ‖ ciphertext+tag`, behind a format byte.
fn seal(
    key: &SecretKey,
    version: u32,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = key
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| VaultError::Decrypt)?;
    let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
    out.push(FORMAT);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The key version a sealed value names.
pub fn key_version(sealed: &[u8]) -> Result<u32, VaultError> {
    if sealed.len() < HEADER_LEN + 16 || sealed[0] != FORMAT {
        return Err(VaultError::Malformed);
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&sealed[1..5]);
    Ok(u32::from_be_bytes(version))
}

fn open(key: &SecretKey, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    key_version(sealed)?;
    let nonce = Nonce::from_slice(&sealed[5..HEADER_LEN]);
    key.cipher()
        .decrypt(
            nonce,
            Payload {
                msg: &sealed[HEADER_LEN..],
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| VaultError::Decrypt)
}

fn data_key_aad(company: &str, version: u32) -> Vec<u8> {
    format!("sluice/data-key\0{company}\0{version}").into_bytes()
}

fn secret_aad(company: &str, name: &str) -> Vec<u8> {
    format!("sluice/secret\0{company}\0{name}").into_bytes()
}

/// A company's data key as stored: wrapped by a master-key version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDataKey {
    /// The data key's version within its company.
    pub version: u32,
    /// The master key sealed it (its version is inside).
    pub sealed: Vec<u8>,
}

/// The master keys the vault holds, by version; the newest wraps new data keys.
#[derive(Debug, Clone)]
pub struct Vault {
    masters: Vec<(u32, SecretKey)>,
    current: u32,
}

impl Vault {
    /// A vault with one master key.
    pub fn new(version: u32, master: SecretKey) -> Self {
        Self {
            masters: vec![(version, master)],
            current: version,
        }
    }

    /// Adds an older (or newer) master key, so data keys wrapped by it still open.
    pub fn with_master(mut self, version: u32, master: SecretKey) -> Self {
        self.masters.push((version, master));
        self.current = self.current.max(version);
        self
    }

    /// The version of the master key that wraps new data keys.
    pub fn current_version(&self) -> u32 {
        self.current
    }

    fn master(&self, version: u32) -> Result<&SecretKey, VaultError> {
        self.masters
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, k)| k)
            .ok_or(VaultError::UnknownKeyVersion(version))
    }

    /// A new data key of `version` for `company`, wrapped by the current master key.
    pub fn new_data_key(&self, company: &str, version: u32) -> Result<WrappedDataKey, VaultError> {
        let key = SecretKey::generate();
        self.wrap(company, version, &key)
    }

    fn wrap(
        &self,
        company: &str,
        version: u32,
        key: &SecretKey,
    ) -> Result<WrappedDataKey, VaultError> {
        let master = self.master(self.current)?;
        Ok(WrappedDataKey {
            version,
            sealed: seal(
                master,
                self.current,
                &*key.0,
                &data_key_aad(company, version),
            )?,
        })
    }

    fn unwrap_key(&self, company: &str, wrapped: &WrappedDataKey) -> Result<SecretKey, VaultError> {
        let master = self.master(key_version(&wrapped.sealed)?)?;
        let bytes = open(
            master,
            &wrapped.sealed,
            &data_key_aad(company, wrapped.version),
        )?;
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Malformed)?;
        Ok(SecretKey(Zeroizing::new(array)))
    }

    /// Encrypts a secret's value with the company's newest data key.
    pub fn encrypt(
        &self,
        company: &str,
        keys: &[WrappedDataKey],
        name: &str,
        value: &str,
    ) -> Result<Vec<u8>, VaultError> {
        let newest = keys
            .iter()
            .max_by_key(|k| k.version)
            .ok_or(VaultError::UnknownKeyVersion(0))?;
        let key = self.unwrap_key(company, newest)?;
        seal(
            &key,
            newest.version,
            value.as_bytes(),
            &secret_aad(company, name),
        )
    }

    /// Decrypts a secret's value with the data key its ciphertext names.
    pub fn decrypt(
        &self,
        company: &str,
        keys: &[WrappedDataKey],
        name: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<String>, VaultError> {
        let version = key_version(sealed)?;
        let wrapped = keys
            .iter()
            .find(|k| k.version == version)
            .ok_or(VaultError::UnknownKeyVersion(version))?;
        let key = self.unwrap_key(company, wrapped)?;
        let bytes = open(&key, sealed, &secret_aad(company, name))?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Malformed)
    }

    /// Seals a secret's value again with the company's newest data key: what a data-key
    /// rotation does to every secret. The value is open only in memory that is wiped.
    pub fn reseal(
        &self,
        company: &str,
        keys: &[WrappedDataKey],
        name: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        let value = self.decrypt(company, keys, name, sealed)?;
        self.encrypt(company, keys, name, &value)
    }

    /// Re-wraps a data key with the current master key: what `sluice admin rotate-keys`
    /// does to every data key after a new master key is added. No secret value is decrypted.
    pub fn rewrap(
        &self,
        company: &str,
        wrapped: &WrappedDataKey,
    ) -> Result<WrappedDataKey, VaultError> {
        let key = self.unwrap_key(company, wrapped)?;
        self.wrap(company, wrapped.version, &key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::new(1, SecretKey::generate())
    }

    #[test]
    fn a_secret_round_trips_and_its_ciphertext_hides_it() {
        let vault = vault();
        let keys = vec![vault.new_data_key("acme", 1).expect("data key")];
        let sealed = vault
            .encrypt("acme", &keys, "github_token", "ghp_canary_value")
            .expect("encrypt");
        assert!(
            !sealed.windows(6).any(|w| w == b"canary"),
            "no plaintext in the ciphertext"
        );
        assert_eq!(key_version(&sealed), Ok(1));
        let opened = vault
            .decrypt("acme", &keys, "github_token", &sealed)
            .expect("decrypt");
        assert_eq!(opened.as_str(), "ghp_canary_value");
        let again = vault
            .encrypt("acme", &keys, "github_token", "ghp_canary_value")
            .expect("encrypt");
        assert_ne!(sealed, again, "a fresh nonce every time");
    }

    #[test]
    fn a_ciphertext_moved_to_another_company_or_name_does_not_decrypt() {
        let vault = vault();
        let acme = vec![vault.new_data_key("acme", 1).expect("data key")];
        let sealed = vault
            .encrypt("acme", &acme, "github_token", "value")
            .expect("encrypt");
        assert_eq!(
            vault.decrypt("acme", &acme, "slack_token", &sealed),
            Err(VaultError::Decrypt)
        );
        assert_eq!(
            vault.decrypt("globex", &acme, "github_token", &sealed),
            Err(VaultError::Decrypt)
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            vault.decrypt("acme", &acme, "github_token", &tampered),
            Err(VaultError::Decrypt)
        );
    }

    #[test]
    fn rotating_the_master_key_rewraps_data_keys_and_old_secrets_still_open() {
        let old = SecretKey::generate();
        let before = Vault::new(1, old.clone());
        let keys = vec![before.new_data_key("acme", 1).expect("data key")];
        let sealed = before
            .encrypt("acme", &keys, "token", "value")
            .expect("encrypt");

        let after = Vault::new(2, SecretKey::generate()).with_master(1, old);
        let rewrapped: Vec<WrappedDataKey> = keys
            .iter()
            .map(|k| after.rewrap("acme", k).expect("rewrap"))
            .collect();
        assert_eq!(
            key_version(&rewrapped[0].sealed),
            Ok(2),
            "wrapped by the new master key"
        );
        assert_eq!(
            after
                .decrypt("acme", &rewrapped, "token", &sealed)
                .expect("decrypt")
                .as_str(),
            "value"
        );

        let newest = after.master(2).expect("master key 2").clone();
        let only_new = Vault::new(2, newest);
        assert_eq!(
            only_new.decrypt("acme", &keys, "token", &sealed),
            Err(VaultError::UnknownKeyVersion(1)),
            "the old wrapping needs the old master key"
        );
        assert_eq!(
            only_new
                .decrypt("acme", &rewrapped, "token", &sealed)
                .expect("decrypt")
                .as_str(),
            "value"
        );
    }

    #[test]
    fn a_new_data_key_version_encrypts_new_values_and_old_ones_still_open() {
        let vault = vault();
        let mut keys = vec![vault.new_data_key("acme", 1).expect("data key")];
        let old = vault
            .encrypt("acme", &keys, "token", "old")
            .expect("encrypt");
        keys.push(vault.new_data_key("acme", 2).expect("data key"));
        let new = vault
            .encrypt("acme", &keys, "token", "new")
            .expect("encrypt");
        assert_eq!((key_version(&old), key_version(&new)), (Ok(1), Ok(2)));
        assert_eq!(
            vault
                .decrypt("acme", &keys, "token", &old)
                .expect("old")
                .as_str(),
            "old"
        );
    }

    #[test]
    fn a_resealed_secret_names_the_newest_data_key_and_opens_to_the_same_value() {
        let vault = vault();
        let mut keys = vec![vault.new_data_key("acme", 1).expect("data key")];
        let old = vault
            .encrypt("acme", &keys, "token", "value")
            .expect("encrypt");
        keys.push(vault.new_data_key("acme", 2).expect("data key"));
        let resealed = vault.reseal("acme", &keys, "token", &old).expect("reseal");
        assert_eq!(key_version(&resealed), Ok(2));
        assert_eq!(
            vault
                .decrypt("acme", &keys[1..], "token", &resealed)
                .expect("opens without the old data key")
                .as_str(),
            "value"
        );
        assert_eq!(
            vault.reseal("acme", &keys, "other", &old),
            Err(VaultError::Decrypt),
            "bound to its name"
        );
    }

    #[test]
    fn master_keys_parse_from_base64_and_never_print() {
        let key = SecretKey::generate();
        let parsed = SecretKey::from_base64(&key.to_base64()).expect("parse");
        assert_eq!(*parsed.0, *key.0);
        assert_eq!(
            SecretKey::from_base64("c2hvcnQ=").err(),
            Some(VaultError::BadMasterKey)
        );
        assert_eq!(format!("{key:?}"), "SecretKey([redacted])");
    }
}
