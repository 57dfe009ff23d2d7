//! The same seeded random sequence of operations, run against a server on SQLite and one on
//! PostgreSQL, gives the same outcome at every step: same success or status code and reason,
//! same slip and ticket states.

use onsite_proto::v1 as pb;
use onsite_tests::{Backend, Fixture, Rng, authed, request_id, signed_sign_off, window};
use tonic::Status;

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
/// What a step did, with ids replaced by positions so traces compare across servers.
fn outcome<T>(result: Result<T, Status>, project: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(value) => format!("ok {}", project(value)),
        Err(status) => {
            let details = tonic_types::StatusExt::get_error_details(&status);
            let reason = details.error_info().map(|i| i.reason.clone()).unwrap_or_default();
            format!("{:?} {reason}", status.code())
        }
    }
}

fn slip_state(s: &pb::Slip) -> String {
    format!("{:?} visit {}", pb::SlipState::try_from(s.state).unwrap_or_default(), s.visit_number)
}

/// Remembers what a response says about a slip.
fn remember(known: &mut std::collections::HashMap<String, (i32, String)>, s: &pb::Slip) {
    known.insert(s.id.clone(), (s.state, s.engineer_id.clone()));
}

async fn trace(backend: Backend, seed: u64, steps: usize) -> Vec<String> {
    let f = Fixture::new(backend).await;
    let mut rng = Rng(seed);
    let mut tickets: Vec<pb::Ticket> = Vec::new();
    let mut slips: Vec<String> = Vec::new();
    let mut out = Vec::new();
    // Last known state and engineer per slip, to steer most steps towards progress.
    let mut known: std::collections::HashMap<String, (i32, String)> = std::collections::HashMap::new();
    let png = onsite_tests::signature_png(0);
    // The waivers' signature, uploaded as the phone would.
    f.server.upload_png(&f.engineer, &onsite_tests::signature_png(7)).await;
    for step in 0..steps {
        let (mut t, mut s) = (f.server.tickets(), f.server.slips());
        let slip = match slips.len() {
            0 => None,
            n if rng.below(10) < 6 => Some(slips[n - 1].clone()),
            n => Some(slips[rng.below(n)].clone()),
        };
        let (state, assigned) = slip.as_ref().and_then(|id| known.get(id).cloned()).unwrap_or_default();
        let engineer = match (rng.below(10), assigned.as_str()) {
            (0..=7, id) if id == f.other_engineer_id => (&f.other_engineer_id, &f.other_engineer),
            (0..=7, id) if id == f.engineer_id => (&f.engineer_id, &f.engineer),
            (n, _) if n % 2 == 0 => (&f.engineer_id, &f.engineer),
            _ => (&f.other_engineer_id, &f.other_engineer),
        };
        let plain =
            |id: &str| pb::SlipActionRequest { request_id: request_id(), slip_id: id.into(), etag: String::new() };
        let advance = match pb::SlipState::try_from(state).unwrap_or_default() {
            _ if slip.is_none() => 1,
            pb::SlipState::Draft => 2,
            pb::SlipState::Verified | pb::SlipState::Declined => 3,
            pb::SlipState::Dispatched => 4,
            pb::SlipState::Confirmed => 6,
            pb::SlipState::Scheduled => 7,
            pb::SlipState::EnRoute => 8,
            pb::SlipState::OnSite => 9 + rng.below(4),
            pb::SlipState::Completed => 14,
            _ => 1,
        };
        let op = match (tickets.is_empty(), rng.below(10)) {
            (true, _) => 0,
            (false, 0..=7) => advance,
            // Anything at all, so refusals are compared too; cancelling is rarer, as in life.
            (false, _) => match rng.below(17) {
                13 if rng.below(3) > 0 => advance,
                other => other,
            },
        };
        let pick_slip = |_: &mut Rng| slip.clone();
        let line = match (op, pick_slip(&mut rng)) {
            (0, _) => {
                let severity = [pb::Severity::Urgent, pb::Severity::Important, pb::Severity::General][rng.below(3)];
                let r = t
                    .create_ticket(authed(
                        &f.manager,
                        pb::CreateTicketRequest { request_id: request_id(), ticket: Some(f.intake(severity)) },
                    ))
                    .await;
                outcome(r, |x| {
                    let x = x.into_inner();
                    tickets.push(x.clone());
                    format!("ticket {}", x.number.rsplit('-').next().unwrap_or_default())
                })
            }
            (1, _) => {
                let ticket = &tickets[rng.below(tickets.len())];
                let r = s
                    .create_slip(authed(
                        &f.manager,
                        pb::CreateSlipRequest {
                            request_id: request_id(),
                            ticket_id: ticket.id.clone(),
                            site_id: f.site_id.clone(),
                            instructions: "visit".into(),
                            required_skills: vec![],
                            ..Default::default()
                        },
                    ))
                    .await;
                outcome(r, |x| {
                    let x = x.into_inner();
                    slips.push(x.id.clone());
                    slip_state(&x)
                })
            }
            (2, Some(id)) => {
                outcome(s.verify_slip(authed(&f.manager, plain(&id))).await, |x| slip_state(&x.into_inner()))
            }
            (3, Some(id)) => {
                let r = s
                    .dispatch_slip(authed(
                        &f.manager,
                        pb::DispatchSlipRequest {
                            request_id: request_id(),
                            slip_id: id,
                            etag: String::new(),
                            engineer_id: engineer.0.clone(),
                            reason: String::new(),
                        },
                    ))
                    .await;
                outcome(r, |x| slip_state(&x.into_inner()))
            }
            (4, Some(id)) => {
                outcome(s.confirm_slip(authed(engineer.1, plain(&id))).await, |x| slip_state(&x.into_inner()))
            }
            (5, Some(id)) => {
                let r = s
                    .decline_slip(authed(
                        engineer.1,
                        pb::ReasonRequest {
                            request_id: request_id(),
                            slip_id: id,
                            etag: String::new(),
                            reason: "busy".into(),
                        },
                    ))
                    .await;
                outcome(r, |x| slip_state(&x.into_inner()))
            }
            (6, Some(id)) => {
                let r = s
                    .book_appointment(authed(
                        engineer.1,
                        pb::BookAppointmentRequest {
                            request_id: request_id(),
                            slip_id: id,
                            etag: String::new(),
                            window: Some(window(1)),
                            contact_name: "Ms. Zhou".into(),
                        },
                    ))
                    .await;
                outcome(r, |x| slip_state(&x.into_inner()))
            }
            (7, Some(id)) => {
                outcome(s.start_travel(authed(engineer.1, plain(&id))).await, |x| slip_state(&x.into_inner()))
            }
            (8, Some(id)) => {
                let r = s
                    .check_in(authed(
                        engineer.1,
                        pb::CheckInRequest {
                            request_id: request_id(),
                            slip_id: id,
                            etag: String::new(),
                            position: Some(pb::GeoPoint { latitude: 31.2, longitude: 121.6 }),
                        },
                    ))
                    .await;
                outcome(r, |x| slip_state(&x.into_inner()))
            }
            (9, Some(id)) => {
                let r = s
                    .log_backup(authed(
                        engineer.1,
                        pb::LogBackupRequest {
                            request_id: request_id(),
                            slip_id: id,
                            backup: Some(onsite_tests::visit::wire_waiver(&onsite_tests::signature_png(7))),
                        },
                    ))
                    .await;
                outcome(r, |x| format!("{} backups {}", slip_state(&x.get_ref().clone()), x.get_ref().backups.len()))
            }
            (10, Some(id)) => {
                let outcome_kind = [pb::FixOutcome::Resolved, pb::FixOutcome::Unresolved][rng.below(2)];
                let r = s
                    .record_fix(authed(
                        engineer.1,
                        pb::RecordFixRequest {
                            request_id: request_id(),
                            slip_id: id,
                            fix: Some(pb::FixRecord {
                                outcome: outcome_kind as i32,
                                solution: "done".into(),
                                ..Default::default()
                            }),
                        },
                    ))
                    .await;
                outcome(r, |x| slip_state(&x.into_inner()))
            }
            (11, Some(id)) => {
                let sign_off = pb::SignOff {
                    signer_name: "Ms. Zhou".into(),
                    satisfaction: pb::Satisfaction::Satisfied as i32,
                    ..Default::default()
                };
                let request = signed_sign_off(&f.server, engineer.1, &id, sign_off, &png).await;
                let r = s.capture_sign_off(authed(engineer.1, request)).await;
                outcome(r, |x| slip_state(&x.into_inner()))
            }
            (12, Some(id)) => {
                outcome(s.complete_slip(authed(engineer.1, plain(&id))).await, |x| slip_state(&x.into_inner()))
            }
            (13, Some(id)) => {
                let r = s
                    .cancel_slip(authed(
                        &f.manager,
                        pb::ReasonRequest {
                            request_id: request_id(),
                            slip_id: id,
                            etag: String::new(),
                            reason: "dup".into(),
                        },
                    ))
                    .await;
                outcome(r, |x| slip_state(&x.into_inner()))
            }
            (14, Some(id)) => {
                let kind =
                    [pb::WriteOffOutcome::Resolved, pb::WriteOffOutcome::FollowUp, pb::WriteOffOutcome::Escalate]
                        [rng.below(3)];
                let r = s
                    .write_off_slip(authed(
                        &f.manager,
                        pb::WriteOffSlipRequest {
                            request_id: request_id(),
                            slip_id: id,
                            etag: String::new(),
                            outcome: kind as i32,
                            note: String::new(),
                        },
                    ))
                    .await;
                outcome(r, |x| {
                    let x = x.into_inner();
                    if let Some(follow_up) = &x.follow_up {
                        slips.push(follow_up.id.clone());
                    }
                    let ticket = x.ticket.unwrap_or_default();
                    format!(
                        "{} follow-up {} ticket tier {} status {}",
                        x.slip.map(|s| slip_state(&s)).unwrap_or_default(),
                        x.follow_up.is_some(),
                        ticket.tier,
                        ticket.status
                    )
                })
            }
            (15, _) => {
                let ticket = &tickets[rng.below(tickets.len())];
                let r = t
                    .escalate_ticket(authed(
                        &f.manager,
                        pb::EscalateTicketRequest {
                            request_id: request_id(),
                            id: ticket.id.clone(),
                            etag: String::new(),
                            reason: "stuck".into(),
                        },
                    ))
                    .await;
                outcome(r, |x| format!("tier {}", x.into_inner().tier))
            }
            (_, _) => {
                let ticket = &tickets[rng.below(tickets.len())];
                let r = t
                    .close_ticket(authed(
                        &f.manager,
                        pb::CloseTicketRequest {
                            request_id: request_id(),
                            id: ticket.id.clone(),
                            etag: String::new(),
                            resolution_note: "done".into(),
                        },
                    ))
                    .await;
                outcome(r, |x| format!("status {}", x.into_inner().status))
            }
        };
        if let Some(id) = &slip {
            // Refresh what we know from the server, the same way on both backends.
            if let Ok(current) =
                f.server.slips().get_slip(authed(&f.manager, pb::GetSlipRequest { id: id.clone() })).await
            {
                remember(&mut known, &current.into_inner());
            }
        }
        if let Some(last) = slips.last()
            && !known.contains_key(last)
            && let Ok(current) =
                f.server.slips().get_slip(authed(&f.manager, pb::GetSlipRequest { id: last.clone() })).await
        {
            remember(&mut known, &current.into_inner());
        }
        out.push(format!("{step:03} op {op:02}: {line}"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_give_the_same_results() {
    for seed in [0x5eed_0001_u64, 0x00c0_ffee, 0x0bad_cafe] {
        let (sqlite, postgres) = tokio::join!(trace(Backend::Sqlite, seed, 120), trace(Backend::Postgres, seed, 120));
        for (a, b) in sqlite.iter().zip(&postgres) {
            assert_eq!(a, b, "seed {seed:#x}: the backends diverge");
        }
        let succeeded = sqlite.iter().filter(|l| l.contains(": ok ")).count();
        let refused = sqlite.len() - succeeded;
        assert!(
            succeeded > 30 && refused > 5,
            "seed {seed:#x} exercises too little: {succeeded} ok, {refused} refused"
        );
        assert!(
            sqlite.iter().any(|l| l.contains("Completed")),
            "seed {seed:#x} never completes a slip:\n{}",
            sqlite.join("\n")
        );
    }
}
