//! Users: who can sign in, with which role and login, and their passwords.

use onsite_core::FieldViolation;
use onsite_core::id::{EngineerId, UserId};
use onsite_core::slip::Role;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::caller::Caller;
use crate::error::{Error, Result};
use crate::store::entities::{password, user};
use crate::store::now_us;

/// The login of the administrator created on the first start.
pub const FIRST_ADMIN_LOGIN: &str = "admin";

/// A login as stored: trimmed and lower case, 3-64 characters of a-z, 0-9, `.`, `_`, `-`, `@`.
pub fn normal_login(login: &str, field: &str) -> std::result::Result<String, FieldViolation> {
    let login = login.trim().to_lowercase();
    let length = login.chars().count();
    if !(3..=64).contains(&length) {
        return Err(FieldViolation::new(field, "must have 3 to 64 characters"));
    }
    if !login.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@')) {
        return Err(FieldViolation::new(field, "may hold only a-z, 0-9, '.', '_', '-' and '@'"));
    }
    Ok(login)
}

/// The caller a user row stands for, on a long-lived token.
pub fn caller_of(user: &user::Model) -> Result<Caller> {
    let bad = |what: &str| Error::Internal(format!("user {} has a bad {what}", user.id));
    Ok(Caller {
        user_id: user.id.parse().map_err(|_| bad("id"))?,
        role: user.role.parse().map_err(|()| bad("role"))?,
        engineer_id: user.engineer_id.as_deref().map(str::parse).transpose().map_err(|_| bad("engineer id"))?,
        session_id: None,
        device: None,
    })
}

/// Creates a user row; a taken login is ALREADY_EXISTS.
pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    login: Option<String>,
    role: Role,
    engineer_id: Option<EngineerId>,
) -> Result<user::Model> {
    if let Some(login) = &login
        && by_login(db, login).await?.is_some()
    {
        return Err(Error::AlreadyExists { reason: "LOGIN_TAKEN", message: format!("the login {login} is taken") });
    }
    let model = user::Model {
        id: UserId::new().to_string(),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        engineer_id: engineer_id.map(|e| e.to_string()),
        created_at_us: now_us(),
        login,
    };
    user::Entity::insert(user::ActiveModel::from(model.clone())).exec(db).await?;
    Ok(model)
}

/// A user by id.
pub async fn load(db: &impl ConnectionTrait, id: &str) -> Result<user::Model> {
    user::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or_else(|| Error::not_found("user", id))
}

/// A user by their (normal) login.
pub async fn by_login(db: &impl ConnectionTrait, login: &str) -> Result<Option<user::Model>> {
    Ok(user::Entity::find().filter(user::Column::Login.eq(login)).one(db).await?)
}

/// The user who is engineer `engineer_id`.
pub async fn of_engineer(db: &impl ConnectionTrait, engineer_id: &str) -> Result<Option<user::Model>> {
    Ok(user::Entity::find().filter(user::Column::EngineerId.eq(engineer_id)).one(db).await?)
}

/// The user's password hash, if they have one.
pub async fn password_hash(db: &impl ConnectionTrait, user_id: &str) -> Result<Option<String>> {
    Ok(password::Entity::find_by_id(user_id.to_owned()).one(db).await?.map(|p| p.phc))
}

/// Sets the user's password hash.
pub async fn set_password_hash(db: &impl ConnectionTrait, user_id: &str, phc: String, now_us: i64) -> Result<()> {
    let row = password::ActiveModel { user_id: Set(user_id.to_owned()), phc: Set(phc), updated_at_us: Set(now_us) };
    password::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(password::Column::UserId)
                .update_columns([password::Column::Phc, password::Column::UpdatedAtUs])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// On the very first start creates the administrator (`admin`); returns its id while it still
/// has no password, so the start can hand out a setup code.
pub async fn first_admin(db: &impl ConnectionTrait) -> Result<Option<String>> {
    use sea_orm::PaginatorTrait;
    if user::Entity::find().count(db).await? == 0 {
        create(db, "Administrator", Some(FIRST_ADMIN_LOGIN.to_owned()), Role::Admin, None).await?;
    }
    let Some(admin) = by_login(db, FIRST_ADMIN_LOGIN).await? else { return Ok(None) };
    if admin.role != Role::Admin.as_str() || password_hash(db, &admin.id).await?.is_some() {
        return Ok(None);
    }
    Ok(Some(admin.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_compared_in_lower_case_and_refused_when_odd() {
        assert_eq!(normal_login("  Zhou.Wei@HQ ", "login").ok().as_deref(), Some("zhou.wei@hq"));
        assert!(normal_login("ab", "login").is_err());
        assert!(normal_login("zhou wei", "login").is_err());
        assert!(normal_login("周伟", "login").is_err());
        assert!(normal_login(&"a".repeat(65), "login").is_err());
    }
}
