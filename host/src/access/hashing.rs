//! Password hashing off the async threads: argon2 takes tens of milliseconds of CPU and
//! 19 MiB of memory per hash, so a flood of sign-ins run on the async threads would stall
//! every other request. Each hash runs on the blocking pool, and a small semaphore bounds
//! how many run at once, and with it their memory.

use std::sync::Arc;

use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::{HashError, hash_password, verify_password};

/// Runs argon2 on the blocking pool, a few hashes at a time.
#[derive(Debug, Clone)]
pub struct PasswordHashing {
    permits: Arc<Semaphore>,
}

impl Default for PasswordHashing {
    /// As many hashes at once as the machine has cores, at most 4: more would only queue
    /// for the cores and hold their memory meanwhile.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::new(cores.min(4))
    }
}

impl PasswordHashing {
    /// At most `at_once` hashes at a time (at least one).
    pub fn new(at_once: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(at_once.max(1))),
        }
    }

    /// The argon2id hash of `password`, with a fresh salt.
    pub async fn hash(&self, password: Zeroizing<String>) -> Result<String, HashError> {
        self.blocking(move || hash_password(&password))
            .await
            .unwrap_or_else(|e| Err(HashError(e)))
    }

    /// Whether `password` matches `hash`.
    pub async fn verify(&self, password: Zeroizing<String>, hash: String) -> bool {
        self.blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false)
    }

    /// Runs `work` on the blocking pool once a permit is free; an error when the work
    /// panicked or the semaphore was closed.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| format!("password hashing stopped: {e}"))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| format!("password hashing failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_made_off_the_async_threads_verify_only_their_password() {
        let hashing = PasswordHashing::new(1);
        let hash = hashing
            .hash(Zeroizing::new("correct horse".into()))
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(
            hashing
                .verify(Zeroizing::new("correct horse".into()), hash.clone())
                .await
        );
        assert!(
            !hashing
                .verify(Zeroizing::new("correct horse!".into()), hash)
                .await
        );
    }

    #[tokio::test]
    async fn hashes_beyond_the_permits_wait_their_turn_and_all_finish() {
        let hashing = PasswordHashing::new(2);
        let hashes = futures::future::join_all(
            (0..6).map(|i| hashing.hash(Zeroizing::new(format!("password number {i}")))),
        )
        .await;
        assert_eq!(hashes.iter().filter(|h| h.is_ok()).count(), 6);
        assert_eq!(
            hashing.permits.available_permits(),
            2,
            "every permit came back"
        );
    }
}
