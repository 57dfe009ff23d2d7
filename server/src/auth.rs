//! Caller identity: bearer tokens mapped to users with a role.
//!
//! Tokens are 32 random bytes, shown once and stored only as their SHA-256. A token has so
//! much entropy that a plain hash is enough; no password-hashing function is needed.

use onsite_core::id::{EngineerId, UserId};
use onsite_core::slip::{Actor, Role};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;

use crate::error::{Error, Result};
use crate::store::entities::{api_token, user};
use crate::store::now_us;

/// Prefix of every token, so a leaked one is easy to recognise.
const TOKEN_PREFIX: &str = "onst_";

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: UserId,
    pub role: Role,
    pub engineer_id: Option<EngineerId>,
}

impl Caller {
    /// The caller as the state machine sees them.
    pub fn actor(&self) -> Actor {
        Actor { role: self.role, engineer_id: self.engineer_id }
    }

    /// Requires a manager or admin.
    pub fn require_manager(&self) -> Result<()> {
        if matches!(self.role, Role::Manager | Role::Admin) {
            Ok(())
        } else {
            Err(Error::PermissionDenied("only a manager may do this"))
        }
    }

    /// The engineer a per-engineer read is about: managers name one; engineers get themselves
    /// (an empty id) and nobody else.
    pub fn engineer_scope(&self, requested: &str, field: &str) -> Result<String> {
        if self.actor().is_manager() {
            let id: EngineerId = onsite_proto::convert::id(requested, field)?;
            return Ok(id.to_string());
        }
        let own = self.engineer_id.ok_or(Error::PermissionDenied("this user has no engineer record"))?;
        if requested.is_empty() || requested == own.to_string() {
            Ok(own.to_string())
        } else {
            // Another engineer's records answer as no engineer's: whereabouts are personal.
            Err(Error::not_found("engineer", requested))
        }
    }

    /// Requires an admin.
    pub fn require_admin(&self) -> Result<()> {
        if self.role == Role::Admin { Ok(()) } else { Err(Error::PermissionDenied("only an admin may do this")) }
    }
}

/// Resolves the `authorization: Bearer <token>` header to a caller.
pub async fn authenticate(db: &impl ConnectionTrait, metadata: &MetadataMap) -> Result<Caller> {
    let header = metadata.get("authorization").and_then(|v| v.to_str().ok()).ok_or(Error::Unauthenticated)?;
    let token =
        header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).ok_or(Error::Unauthenticated)?.trim();
    // One query on every request: the user behind an unrevoked token with this hash.
    let token_of_user: sea_orm::RelationDef =
        user::Entity::belongs_to(api_token::Entity).from(user::Column::Id).to(api_token::Column::UserId).into();
    let user = user::Entity::find()
        .join(sea_orm::JoinType::InnerJoin, token_of_user)
        .filter(api_token::Column::TokenHash.eq(hash_token(token)))
        .filter(api_token::Column::RevokedAtUs.is_null())
        .one(db)
        .await?
        .ok_or(Error::Unauthenticated)?;
    caller_of(&user)
}

/// The caller a user row stands for.
pub fn caller_of(user: &user::Model) -> Result<Caller> {
    let bad = |what: &str| Error::Internal(format!("user {} has a bad {what}", user.id));
    Ok(Caller {
        user_id: user.id.parse().map_err(|_| bad("id"))?,
        role: user.role.parse().map_err(|()| bad("role"))?,
        engineer_id: user.engineer_id.as_deref().map(str::parse).transpose().map_err(|_| bad("engineer id"))?,
    })
}

/// A fresh random token.
pub fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues a token for `user_id`; returns its id and the token itself (shown once).
pub async fn issue_token(db: &impl ConnectionTrait, user_id: &str, label: &str) -> Result<(String, String)> {
    let token = new_token()?;
    let id = uuid::Uuid::now_v7().to_string();
    api_token::Entity::insert(api_token::ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_owned()),
        token_hash: Set(hash_token(&token)),
        label: Set(label.to_owned()),
        created_at_us: Set(now_us()),
        revoked_at_us: Set(None),
    })
    .exec(db)
    .await?;
    Ok((id, token))
}

/// Creates a user row.
pub async fn create_user(
    db: &impl ConnectionTrait,
    name: &str,
    role: Role,
    engineer_id: Option<EngineerId>,
) -> Result<user::Model> {
    let model = user::Model {
        id: UserId::new().to_string(),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        engineer_id: engineer_id.map(|e| e.to_string()),
        created_at_us: now_us(),
    };
    user::Entity::insert(user::ActiveModel::from(model.clone())).exec(db).await?;
    Ok(model)
}

/// On the very first start (no users at all) creates an administrator and returns its token.
pub async fn bootstrap_admin(db: &impl ConnectionTrait) -> Result<Option<String>> {
    use sea_orm::PaginatorTrait;
    if user::Entity::find().count(db).await? > 0 {
        return Ok(None);
    }
    let admin = create_user(db, "Administrator", Role::Admin, None).await?;
    let (_, token) = issue_token(db, &admin.id, "first-start bootstrap").await?;
    Ok(Some(token))
}

/// A user by id.
pub async fn load_user(db: &impl ConnectionTrait, id: &str) -> Result<user::Model> {
    user::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or_else(|| Error::not_found("user", id))
}

/// Revokes an active token; an unknown or already revoked one is not found.
pub async fn revoke_token(db: &impl ConnectionTrait, token_id: &str, now_us: i64) -> Result<()> {
    let result = api_token::Entity::update_many()
        .set(api_token::ActiveModel { revoked_at_us: Set(Some(now_us)), ..Default::default() })
        .filter(api_token::Column::Id.eq(token_id))
        .filter(api_token::Column::RevokedAtUs.is_null())
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(Error::not_found("active token", token_id));
    }
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
