//! The security audit log: who signed in or failed to, calls refused for the caller's role,
//! tokens, sessions and devices revoked, codes issued. Append-only (triggers on both backends).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::error::Result;
use crate::pagination::Page;
use crate::store::entities::audit_event;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    SignIn,
    SignInFailed,
    SetupCompleted,
    Enrolled,
    SignedOut,
    RefreshReused,
    PermissionDenied,
    TokenCreated,
    TokenRevoked,
    DeviceRevoked,
    CodeIssued,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SetupCompleted => "setup_completed",
            Self::Enrolled => "enrolled",
            Self::SignedOut => "signed_out",
            Self::RefreshReused => "refresh_reused",
            Self::PermissionDenied => "permission_denied",
            Self::TokenCreated => "token_created",
            Self::TokenRevoked => "token_revoked",
            Self::DeviceRevoked => "device_revoked",
            Self::CodeIssued => "code_issued",
        }
    }
}

/// One entry to record. Never a secret in any field.
#[derive(Debug)]
pub struct Entry<'a> {
    pub kind: Kind,
    pub user_id: Option<&'a str>,
    pub subject: &'a str,
    pub address: &'a str,
    pub detail: &'a str,
}

/// Appends `entry` at `at_us`.
pub async fn record(db: &impl ConnectionTrait, entry: Entry<'_>, at_us: i64) -> Result<()> {
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        at_us: Set(at_us),
        kind: Set(entry.kind.as_str().to_owned()),
        user_id: Set(entry.user_id.map(str::to_owned)),
        subject: Set(entry.subject.to_owned()),
        address: Set(entry.address.to_owned()),
        detail: Set(entry.detail.to_owned()),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// A page of the log, newest first, of one kind or all.
pub async fn list(db: &impl ConnectionTrait, kind: &str, page: &Page) -> Result<Vec<audit_event::Model>> {
    let mut query = audit_event::Entity::find().order_by_desc(audit_event::Column::Id).limit(page.fetch());
    if !kind.is_empty() {
        query = query.filter(audit_event::Column::Kind.eq(kind));
    }
    if let Some(after) = &page.after {
        query = query.filter(audit_event::Column::Id.lt(after.as_str()));
    }
    Ok(query.all(db).await?)
}
