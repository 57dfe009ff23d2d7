//! Optimistic application of an op to the local view of a slip, through the same
//! `onsite-core` state machine the server runs. The server's answer replaces the result when
//! it arrives; until then the engineer sees what they did.

use onsite_core::slip::{Actor, Role, Slip, SlipAction};
use onsite_proto::convert::{self, WireEnum};
use onsite_proto::v1::{self as pb, op::Payload};

use crate::error::{Result, SdkError};

/// The state-machine view of a wire slip.
fn domain(slip: &pb::Slip) -> Result<Slip> {
    let appointment = slip
        .appointment
        .as_ref()
        .and_then(|a| a.window.as_ref())
        .map(|w| convert::window(Some(w), "appointment.window"))
        .transpose()?;
    let state = WireEnum::from_wire(slip.state).ok_or_else(|| SdkError::Storage("slip without a state".into()))?;
    Ok(Slip {
        state,
        engineer: convert::opt_id(&slip.engineer_id, "engineer_id")?,
        appointment,
        backup: if slip.backups.is_empty() {
            None
        } else {
            convert::optional(slip.backups[slip.backups.len() - 1].kind, "backup.kind")?
        },
        fix: slip.fix.as_ref().map(|f| convert::required(f.outcome, "fix.outcome")).transpose()?,
        signed_off: slip.sign_off.is_some(),
    })
}

/// The state-machine action of an op, validated as the server validates it.
fn action(payload: &Payload) -> Result<SlipAction> {
    Ok(match payload {
        Payload::Confirm(_) => SlipAction::Confirm,
        Payload::Decline(d) => SlipAction::Decline { reason: d.reason.trim().to_owned() },
        Payload::BookAppointment(b) => {
            SlipAction::BookAppointment { window: convert::window(b.window.as_ref(), "window")? }
        }
        Payload::Reschedule(r) => SlipAction::Reschedule {
            window: convert::window(r.window.as_ref(), "window")?,
            reason: r.reason.trim().to_owned(),
            customer_informed: r.customer_informed,
        },
        Payload::StartTravel(_) => SlipAction::StartTravel,
        Payload::CheckIn(c) => {
            convert::geo_point(c.position.as_ref(), "position")?;
            SlipAction::CheckIn
        }
        Payload::LogBackup(b) => SlipAction::LogBackup { kind: convert::required(b.kind, "backup.kind")? },
        Payload::RecordFix(f) => SlipAction::RecordFix { outcome: convert::required(f.outcome, "fix.outcome")? },
        Payload::AddPartsCost(_) => SlipAction::AddPartsCost,
        Payload::CaptureSignOff(_) => SlipAction::CaptureSignOff,
        Payload::Complete(_) => SlipAction::Complete,
        Payload::ReportLocation(_) => {
            return Err(SdkError::invalid("payload", "a position report is not a slip action"));
        }
    })
}

/// `slip` after `op` by `engineer`, or why the state machine refuses it.
pub fn apply(slip: &pb::Slip, op: &pb::Op, engineer: onsite_core::id::EngineerId) -> Result<pb::Slip> {
    let payload = op.payload.as_ref().ok_or_else(|| SdkError::invalid("payload", "is required"))?;
    let action = action(payload)?;
    let mut state = domain(slip)?;
    state.apply(&Actor { role: Role::Engineer, engineer_id: Some(engineer) }, &action)?;
    let mut next = slip.clone();
    next.state = state.state.to_wire();
    match payload {
        Payload::Decline(d) => next.decline_reason = d.reason.trim().to_owned(),
        Payload::BookAppointment(b) => {
            let a = next.appointment.get_or_insert_with(Default::default);
            a.window = b.window;
            a.contact_name = b.contact_name.trim().to_owned();
        }
        Payload::Reschedule(r) => {
            let a = next.appointment.get_or_insert_with(Default::default);
            a.window = r.window;
            a.reschedule_count += 1;
            a.last_reschedule_reason = r.reason.trim().to_owned();
            a.customer_informed = r.customer_informed;
        }
        Payload::CheckIn(c) => {
            let a = next.appointment.get_or_insert_with(Default::default);
            a.arrived_at = op.device_time;
            a.check_in_position = c.position;
        }
        Payload::LogBackup(b) => next.backups.push(b.clone()),
        Payload::RecordFix(f) => next.fix = Some(f.clone()),
        Payload::AddPartsCost(p) => next.cost_lines.extend(p.lines.iter().cloned()),
        Payload::CaptureSignOff(s) => next.sign_off = Some(s.clone()),
        _ => {}
    }
    Ok(next)
}

/// The server's view with the still-unsynced ops replayed on top. An op the server's newer
/// state refuses is left out of the view; the server will refuse it too and say why.
pub fn rebase(server: &pb::Slip, pending: &[pb::Op], engineer: onsite_core::id::EngineerId) -> pb::Slip {
    pending.iter().fold(server.clone(), |slip, op| apply(&slip, op, engineer).unwrap_or(slip))
}
