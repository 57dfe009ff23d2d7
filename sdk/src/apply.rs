//! Optimistic application of an op to the local view of a slip, through the same
//! `onsite-core` state machine the server runs. The server's answer replaces the result when
//! it arrives; until then the engineer sees what they did.

use onsite_core::op::{CostLine, DeviceAction, VisitOp};
use onsite_core::quote::QuoteFacts;
use onsite_core::slip::{Actor, Role, Slip};
use onsite_proto::convert::{self, WireEnum};
use onsite_proto::v1 as pb;

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
        warranty_end: convert::date(slip.warranty.as_ref().and_then(|w| w.last_day.as_ref()), "warranty.last_day")?,
        arrived_at: slip
            .appointment
            .as_ref()
            .and_then(|a| a.arrived_at.as_ref())
            .map(|t| convert::datetime(t, "appointment.arrived_at"))
            .transpose()?,
        root_cause: slip.fix.as_ref().and_then(|f| WireEnum::from_wire(f.root_cause)),
        quotes: slip
            .quotes
            .iter()
            .map(|q| QuoteFacts {
                id: q.id.clone(),
                charges: q.lines.iter().filter_map(|l| CostLine::from(l).charge()).collect(),
                decision: (q.accepted || q.rejected).then_some(q.accepted),
            })
            .collect(),
    })
}

/// `slip` after `op` by `engineer`, or why the core rules refuse it: the op's payload is
/// validated and its transition decided exactly as on the server, and its records are kept in
/// the form the server stores them.
pub fn apply(slip: &pb::Slip, op: &pb::Op, engineer: onsite_core::id::EngineerId) -> Result<pb::Slip> {
    let payload = op.payload.as_ref().ok_or_else(|| SdkError::invalid("payload", "is required"))?;
    let DeviceAction::Visit(visit) = DeviceAction::try_from(payload)? else {
        return Err(SdkError::invalid("payload", "a position report is not a slip action"));
    };
    let action = visit.validate()?;
    let mut state = domain(slip)?;
    let transition = state.apply(&Actor { role: Role::Engineer, engineer_id: Some(engineer) }, &action)?;
    let mut next = slip.clone();
    next.state = state.state.to_wire();

    // Who pays is decided by the rules, as the server decides it, never by what was typed.
    let billable =
        |line: &CostLine| CostLine { billable: transition.billable.unwrap_or(line.billable), ..line.stored() };
    match &visit {
        VisitOp::Decline(d) => next.decline_reason = d.reason.trim().to_owned(),
        VisitOp::Book(b) => {
            let a = next.appointment.get_or_insert_with(Default::default);
            a.window = Some(convert::wire_window(b.window));
            a.contact_name = b.contact_name.trim().to_owned();
        }
        VisitOp::Reschedule(r) => {
            let a = next.appointment.get_or_insert_with(Default::default);
            a.window = Some(convert::wire_window(r.window));
            a.reschedule_count = a.reschedule_count.saturating_add(1);
            a.last_reschedule_reason = r.reason.trim().to_owned();
            a.customer_informed = r.customer_informed;
        }
        VisitOp::CheckIn(c) => {
            let a = next.appointment.get_or_insert_with(Default::default);
            a.arrived_at = op.device_time;
            a.check_in_position = Some(convert::wire_point(c.position));
        }
        VisitOp::LogBackup(b) => next.backups.push((&b.stored()).into()),
        VisitOp::RecordFix(f) => next.fix = Some(f.into()),
        VisitOp::AddPartsCost(p) => next.cost_lines.extend(p.lines.iter().map(|l| (&billable(l)).into())),
        VisitOp::DraftQuote(q) => {
            let total = onsite_core::op::quote_total(&q.lines)?;
            next.quotes.push(pb::Quote {
                id: q.id.clone(),
                slip_id: slip.id.clone(),
                // Everything quoted is billable, as the server shows it.
                lines: q.lines.iter().map(|l| (&CostLine { billable: true, ..l.stored() }).into()).collect(),
                total: Some(pb::Money { minor_units: total.minor_units, currency_code: total.currency.to_string() }),
                create_time: op.device_time,
                ..Default::default()
            });
        }
        VisitOp::DecideQuote(d) => {
            if let Some(quote) = next.quotes.iter_mut().find(|q| q.id == d.quote_id) {
                quote.accepted = d.accepted;
                quote.rejected = !d.accepted;
                quote.decided_at = op.device_time;
                quote.decided_by_name = d.signer_name.trim().to_owned();
                quote.channel = pb::QuoteChannel::OnDevice as i32;
                quote.signature_png_sha256 = d.signature_png_sha256.clone();
            }
        }
        VisitOp::CaptureSignOff(s) => next.sign_off = Some(s.into()),
        VisitOp::Confirm | VisitOp::StartTravel | VisitOp::Complete => {}
    }
    // Who pays, as the slip now stands (a check-in dates the visit, a fix names the cause).
    let at = op.device_time.as_ref().and_then(|t| convert::datetime(t, "device_time").ok());
    let expected = next.appointment.as_ref().and_then(|a| a.window.as_ref()).and_then(|w| w.start.as_ref());
    let expected = expected.and_then(|t| convert::datetime(t, "window.start").ok()).or(at);
    let cover = domain(&next)?.cover_expected(expected.unwrap_or_else(chrono::Utc::now)).to_wire();
    if let Some(warranty) = next.warranty.as_mut() {
        warranty.cover = cover;
    }
    Ok(next)
}

/// The server's view with the still-unsynced ops replayed on top. An op the server's newer
/// state refuses is left out of the view; the server will refuse it too and say why.
pub fn rebase(server: &pb::Slip, pending: &[pb::Op], engineer: onsite_core::id::EngineerId) -> pb::Slip {
    pending.iter().fold(server.clone(), |slip, op| apply(&slip, op, engineer).unwrap_or(slip))
}
