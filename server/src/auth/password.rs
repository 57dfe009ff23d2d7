//! Passwords: Argon2id in PHC form (the `argon2` crate's defaults, OWASP's minimum), hashed off
//! the async threads and a few at a time, so sign-ins cannot starve other calls of CPU or
//! memory (each hash takes 19 MiB).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// Shortest password taken, in characters.
pub const MIN_LENGTH: usize = 12;
/// Longest password taken, in characters: hashing cost must not grow with the request.
pub const MAX_LENGTH: usize = 256;

/// INVALID_ARGUMENT naming `field` unless `password` is long enough and not too long.
pub fn check_new(password: &str, field: &str) -> Result<()> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(Error::invalid(field, format!("must have at least {MIN_LENGTH} characters")));
    }
    if length > MAX_LENGTH {
        return Err(Error::invalid(field, format!("must have at most {MAX_LENGTH} characters")));
    }
    Ok(())
}

/// Hashes and verifies passwords, a bounded number at once.
#[derive(Debug)]
pub struct Hasher {
    permits: Semaphore,
    /// Verified against when the login is unknown, so an unknown login takes as long as a
    /// wrong password.
    decoy: OnceLock<String>,
}

impl Hasher {
    /// At most `concurrent` hashes at a time.
    pub fn new(concurrent: usize) -> Self {
        Self { permits: Semaphore::new(concurrent.max(1)), decoy: OnceLock::new() }
    }

    /// The PHC string of `password` with a fresh salt.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = password.to_owned();
        self.run(move || {
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
            let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("salt: {e}")))?;
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
        })
        .await
    }

    /// Whether `password` matches `phc`; with no hash (an unknown login or a user without a
    /// password) it spends the same time and says no.
    pub async fn verify(&self, password: &str, phc: Option<String>) -> Result<bool> {
        let known = phc.is_some();
        let phc = match phc {
            Some(phc) => phc,
            None => self.decoy().await?,
        };
        let password = password.to_owned();
        let matches = self
            .run(move || {
                let parsed =
                    PasswordHash::new(&phc).map_err(|e| Error::Internal(format!("a stored hash is malformed: {e}")))?;
                Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await?;
        Ok(known && matches)
    }

    async fn decoy(&self) -> Result<String> {
        if let Some(decoy) = self.decoy.get() {
            return Ok(decoy.clone());
        }
        let decoy = self.hash("not anybody's password").await?;
        Ok(self.decoy.get_or_init(|| decoy).clone())
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(|_| Error::Unavailable)?;
        tokio::task::spawn_blocking(work).await.map_err(|e| Error::Internal(format!("hashing task: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_only_against_its_own_hash() -> Result<()> {
        let hasher = Hasher::new(2);
        let phc = hasher.hash("correct horse battery").await?;
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(hasher.verify("correct horse battery", Some(phc.clone())).await?);
        assert!(!hasher.verify("correct horse batterY", Some(phc)).await?);
        assert!(!hasher.verify("not anybody's password", None).await?, "no hash never matches");
        Ok(())
    }

    #[test]
    fn new_passwords_have_a_length_between_the_bounds() {
        assert!(check_new("short", "new_password").is_err());
        assert!(check_new(&"x".repeat(MAX_LENGTH + 1), "new_password").is_err());
        assert!(check_new("twelve chars", "new_password").is_ok());
    }
}
