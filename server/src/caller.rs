//! Who is calling: the authenticated user, their role, and the phone their token is scoped to.

use onsite_core::id::{EngineerId, UserId};
use onsite_core::slip::{Actor, Role};

use crate::error::{Error, Result};

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: UserId,
    pub role: Role,
    pub engineer_id: Option<EngineerId>,
    /// The sign-in the token belongs to; `None` for a long-lived API token.
    pub session_id: Option<String>,
    /// The phone a device-scoped token was issued to.
    pub device: Option<DeviceScope>,
}

/// The phone a token was issued to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceScope {
    pub id: String,
    /// Why a manager revoked it, if they did.
    pub revoked: Option<String>,
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

    /// Requires an admin.
    pub fn require_admin(&self) -> Result<()> {
        if self.role == Role::Admin { Ok(()) } else { Err(Error::PermissionDenied("only an admin may do this")) }
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

    /// A device-scoped token acts for its own phone only; any other device id is one the
    /// caller has not registered.
    pub fn require_device(&self, device_id: &str) -> Result<()> {
        match &self.device {
            Some(scope) if scope.id != device_id => {
                Err(Error::precondition("DEVICE_NOT_REGISTERED", "this sign-in belongs to another phone"))
            }
            _ => Ok(()),
        }
    }
}
