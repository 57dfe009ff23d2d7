//! One-time codes: the first-start administrator's setup code, a password reset, and a phone's
//! enrolment. Short enough to type, stored only as a hash, usable once and only until they
//! expire; issuing a new code for the same user and purpose voids the earlier ones.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::tokens::hash_token;
use crate::error::{Error, Result};
use crate::store::entities::one_time_code;

/// What a code is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Choose a password.
    Setup,
    /// Enrol a phone.
    Enrolment,
}

impl Purpose {
    /// The code in words, for the audit log.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Setup => "setup code",
            Self::Enrolment => "enrolment code",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Enrolment => "enrolment",
        }
    }
}

/// Crockford's base32: no I, L, O or U to misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 16 characters, 80 bits: unguessable within the sign-in throttle's few tries a minute.
const LENGTH: usize = 16;

/// A fresh code, shown in groups of four ("7Q4K-M2PX-9TRC-V8DW").
pub(crate) fn new_code() -> Result<String> {
    let mut bytes = [0u8; LENGTH];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    let chars: Vec<char> = bytes.iter().map(|b| char::from(ALPHABET[usize::from(b % 32)])).collect();
    Ok(chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join("-"))
}

/// The stored form: the hash of the code as typed, in any case, with or without dashes.
fn hash_code(code: &str) -> String {
    let normal: String = code.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_uppercase()).collect();
    hash_token(&normal)
}

/// Issues a code for `user_id`, valid `ttl_us` from `now_us`; returns it (shown once).
pub async fn issue(
    db: &impl ConnectionTrait,
    user_id: &str,
    purpose: Purpose,
    issued_by: Option<&str>,
    now_us: i64,
    ttl_us: i64,
) -> Result<(String, i64)> {
    void(db, user_id, purpose, now_us).await?;
    let code = new_code()?;
    let expires_at_us = now_us.saturating_add(ttl_us);
    one_time_code::Entity::insert(one_time_code::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        user_id: Set(user_id.to_owned()),
        purpose: Set(purpose.as_str().to_owned()),
        code_hash: Set(hash_code(&code)),
        issued_by: Set(issued_by.map(str::to_owned)),
        created_at_us: Set(now_us),
        expires_at_us: Set(expires_at_us),
        used_at_us: Set(None),
    })
    .exec(db)
    .await?;
    Ok((code, expires_at_us))
}

/// Uses `code` for `purpose`: the user it was issued to, or BAD_CREDENTIALS when it is
/// unknown, used, voided or expired. Atomic: of two concurrent uses, one wins.
pub async fn consume(db: &impl ConnectionTrait, code: &str, purpose: Purpose, now_us: i64) -> Result<String> {
    let hash = hash_code(code);
    let used = one_time_code::Entity::update_many()
        .set(one_time_code::ActiveModel { used_at_us: Set(Some(now_us)), ..Default::default() })
        .filter(one_time_code::Column::CodeHash.eq(hash.as_str()))
        .filter(one_time_code::Column::Purpose.eq(purpose.as_str()))
        .filter(one_time_code::Column::UsedAtUs.is_null())
        .filter(one_time_code::Column::ExpiresAtUs.gt(now_us))
        .exec(db)
        .await?;
    if used.rows_affected != 1 {
        return Err(Error::BadCredentials);
    }
    let row = one_time_code::Entity::find()
        .filter(one_time_code::Column::CodeHash.eq(hash))
        .one(db)
        .await?
        .ok_or(Error::BadCredentials)?;
    Ok(row.user_id)
}

/// Whether `user_id` holds an unused, unexpired code for `purpose`.
pub async fn pending(db: &impl ConnectionTrait, user_id: &str, purpose: Purpose, now_us: i64) -> Result<bool> {
    Ok(one_time_code::Entity::find()
        .filter(one_time_code::Column::UserId.eq(user_id))
        .filter(one_time_code::Column::Purpose.eq(purpose.as_str()))
        .filter(one_time_code::Column::UsedAtUs.is_null())
        .filter(one_time_code::Column::ExpiresAtUs.gt(now_us))
        .one(db)
        .await?
        .is_some())
}

/// Voids the unused codes of `user_id` for `purpose`.
async fn void(db: &impl ConnectionTrait, user_id: &str, purpose: Purpose, now_us: i64) -> Result<()> {
    one_time_code::Entity::update_many()
        .set(one_time_code::ActiveModel { used_at_us: Set(Some(now_us)), ..Default::default() })
        .filter(one_time_code::Column::UserId.eq(user_id))
        .filter(one_time_code::Column::Purpose.eq(purpose.as_str()))
        .filter(one_time_code::Column::UsedAtUs.is_null())
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typable_and_read_back_in_any_case() {
        let code = new_code().unwrap_or_default();
        assert_eq!(code.len(), LENGTH + 3, "{code}");
        assert!(code.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))), "{code}");
        assert_eq!(hash_code(&code), hash_code(&code.to_lowercase().replace('-', " ")));
        assert_ne!(new_code().unwrap_or_default(), code);
    }
}
