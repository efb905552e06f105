//! Credentials: argon2 password hashes for people, random bearer values for sessions and
//! API tokens, kept only as SHA-256 hashes (they are long and random, so a fast hash is
//! enough and lets the host look them up).

mod hashing;

pub use hashing::PasswordHashing;

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore as _;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use base64::Engine as _;
use sha2::Digest as _;

/// The prefix of API token values, so a leaked one is easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "sluice_pat_";

/// The prefix of session values.
pub const SESSION_PREFIX: &str = "sluice_ses_";

/// How long a one-time password works: long enough to reach the person and be used,
/// short enough that one left in a chat or an inbox soon opens nothing.
pub const ONE_TIME_PASSWORD_LIFETIME: std::time::Duration =
    std::time::Duration::from_secs(24 * 3600);

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

/// The argon2id hash of `password`, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A fresh random value with `prefix`, and its hash to store.
pub fn new_bearer(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let value = format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = bearer_hash(&value);
    (value, hash)
}

/// The stored hash of a bearer value.
pub fn bearer_hash(value: &str) -> String {
    hex::encode(sha2::Sha256::digest(value.as_bytes()))
}

/// The CSRF token of a session: a browser's state-changing request must carry it in the
/// `X-CSRF-Token` header. Derived from the stored hash, so it needs no storage of its own,
/// and another site, which cannot read the console's answers, cannot know it.
pub fn csrf_token(session_hash: &str) -> String {
    bearer_hash(&format!("csrf:{session_hash}"))
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |differ, (x, y)| differ | (x ^ y))
            == 0
}

/// A one-time password people can type: 20 letters and digits, without look-alikes.
pub fn new_one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse!", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn bearer_values_are_random_and_stored_hashed() {
        let (a, hash) = new_bearer(TOKEN_PREFIX);
        let (b, _) = new_bearer(TOKEN_PREFIX);
        assert!(a.starts_with(TOKEN_PREFIX) && a != b);
        assert_eq!(hash, bearer_hash(&a));
        assert!(!hash.contains(&a[TOKEN_PREFIX.len()..]));
        assert_eq!(new_one_time_password().len(), 20);
    }
}
