//! Bearer tokens and one-time secrets: random, shown once, stored only as their SHA-256.
//!
//! A token has 256 bits of entropy, so a plain hash is enough; passwords, which people choose,
//! are hashed with Argon2id instead (`password.rs`).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::entities::api_token;

/// Prefix of every API and access token, so a leaked one is easy to recognise.
const TOKEN_PREFIX: &str = "onst_";
/// Prefix of every refresh token.
pub const REFRESH_PREFIX: &str = "onsr_";

/// A fresh random secret: `prefix` and 64 hex digits.
pub fn new_secret(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// A fresh random bearer token.
pub fn new_token() -> Result<String> {
    new_secret(TOKEN_PREFIX)
}

/// The stored form of a token, refresh token or one-time code.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a new bearer token is.
#[derive(Debug, Default)]
pub struct NewToken<'a> {
    pub user_id: &'a str,
    pub label: &'a str,
    /// The session of an access token; `None` for a long-lived API token.
    pub session_id: Option<&'a str>,
    pub device_id: Option<&'a str>,
    pub expires_at_us: Option<i64>,
}

/// Issues a bearer token; returns its id and the token itself (shown once).
pub async fn issue(db: &impl ConnectionTrait, new: NewToken<'_>, now_us: i64) -> Result<(String, String)> {
    let token = new_token()?;
    let id = uuid::Uuid::now_v7().to_string();
    api_token::Entity::insert(api_token::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(new.user_id.to_owned()),
        token_hash: Set(hash_token(&token)),
        label: Set(new.label.to_owned()),
        created_at_us: Set(now_us),
        revoked_at_us: Set(None),
        session_id: Set(new.session_id.map(str::to_owned)),
        device_id: Set(new.device_id.map(str::to_owned)),
        expires_at_us: Set(new.expires_at_us),
    })
    .exec(db)
    .await?;
    Ok((id, token))
}

/// Issues a long-lived API token for `user_id` (integrations, the demo's logins).
pub async fn issue_api_token(db: &impl ConnectionTrait, user_id: &str, label: &str) -> Result<(String, String)> {
    issue(db, NewToken { user_id, label, ..NewToken::default() }, crate::store::now_us()).await
}

/// Revokes an active API token; an unknown or already revoked one is not found. Returns whose
/// token it was.
pub async fn revoke(db: &impl ConnectionTrait, token_id: &str, now_us: i64) -> Result<String> {
    let token = api_token::Entity::find_by_id(token_id.to_owned())
        .filter(api_token::Column::RevokedAtUs.is_null())
        .filter(api_token::Column::SessionId.is_null())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("active token", token_id))?;
    api_token::Entity::update_many()
        .set(api_token::ActiveModel { revoked_at_us: Set(Some(now_us)), ..Default::default() })
        .filter(api_token::Column::Id.eq(token_id))
        .exec(db)
        .await?;
    Ok(token.user_id)
}

/// Ends every access token of a session.
pub async fn revoke_session_tokens(db: &impl ConnectionTrait, session_id: &str, now_us: i64) -> Result<()> {
    api_token::Entity::update_many()
        .set(api_token::ActiveModel { revoked_at_us: Set(Some(now_us)), ..Default::default() })
        .filter(api_token::Column::SessionId.eq(session_id))
        .filter(api_token::Column::RevokedAtUs.is_null())
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token().unwrap_or_default(), new_token().unwrap_or_default());
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
    }
}
