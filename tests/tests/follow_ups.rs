//! Follow-ups on unhappy customers over real gRPC, on SQLite and on PostgreSQL: a sign-off
//! rated "dissatisfied", or any 1-5 score below 4, opens a task for the manager with a due
//! date; closing it records what was done, once.

use onsite_proto::v1 as pb;
use onsite_tests::expect::{expect_code, reason, violated_fields};
use onsite_tests::{Backend, Fixture, authed, request_id};
use tonic::Code;

onsite_tests::conformance!(unhappy_customers_get_a_follow_up_the_manager_closes);

fn list(include_closed: bool, page_size: i32, page_token: String) -> pb::ListFollowUpsRequest {
    pb::ListFollowUpsRequest { page_size, page_token, include_closed }
}

async fn unhappy_customers_get_a_follow_up_the_manager_closes(backend: Backend) {
    let f = Fixture::new(backend).await;
    let m = &f.manager;
    let mut follow_ups = pb::follow_up_service_client::FollowUpServiceClient::new(f.server.channel.clone());
    let before = chrono::Utc::now();
    let unhappy = f.signed_off_slip(pb::Satisfaction::Dissatisfied, [2, 4, 0]).await;
    f.signed_off_slip(pb::Satisfaction::VerySatisfied, [5, 4, 5]).await;
    let lukewarm = f.signed_off_slip(pb::Satisfaction::Satisfied, [4, 3, 0]).await;

    let open = follow_ups.list_follow_ups(authed(m, list(false, 0, String::new()))).await;
    let open = open.unwrap_or_else(|e| panic!("{e}")).into_inner().follow_ups;
    let found: Vec<(&str, &str)> = open.iter().map(|x| (x.slip_id.as_str(), x.reason.as_str())).collect();
    assert_eq!(
        found,
        [
            (unhappy.id.as_str(), "dissatisfied, service quality rated 2"),
            (lukewarm.id.as_str(), "product performance rated 3")
        ],
        "the satisfied customer needs none; open ones come by due time"
    );
    let first = &open[0];
    assert_eq!(
        (first.ticket_number.as_str(), first.signer_name.as_str()),
        (unhappy.ticket_number.as_str(), "Ms. Zhou")
    );
    assert_eq!(first.customer_name, "Huadong Precision Machinery");
    assert_eq!(first.customer_opinion, "The engineer came late");
    let due = first.due_time.as_ref().map_or(0, |t| t.seconds);
    let two_days = before.timestamp() + 2 * 86_400;
    assert!((two_days..two_days + 600).contains(&due), "due within two days of the sign-off");

    // Pages of one.
    let page = follow_ups.list_follow_ups(authed(m, list(false, 1, String::new()))).await;
    let page = page.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(page.follow_ups.len(), 1);
    let next = follow_ups.list_follow_ups(authed(m, list(false, 1, page.next_page_token.clone()))).await;
    let next = next.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(next.follow_ups.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(), [open[1].id.as_str()]);
    let mixed = follow_ups.list_follow_ups(authed(m, list(true, 1, page.next_page_token))).await;
    assert_eq!(violated_fields(&expect_code(mixed, Code::InvalidArgument)), ["page_token"]);

    // Only the desk sees and closes them, with what was done, once.
    expect_code(
        follow_ups.list_follow_ups(authed(&f.engineer, list(false, 0, String::new()))).await,
        Code::PermissionDenied,
    );
    let close = |outcome: &str, etag: &str| pb::CloseFollowUpRequest {
        request_id: request_id(),
        id: first.id.clone(),
        etag: etag.into(),
        outcome: outcome.into(),
    };
    let unsaid = follow_ups.close_follow_up(authed(m, close(" ", ""))).await;
    assert_eq!(violated_fields(&expect_code(unsaid, Code::InvalidArgument)), ["outcome"]);
    expect_code(follow_ups.close_follow_up(authed(&f.engineer, close("called", ""))).await, Code::PermissionDenied);
    expect_code(follow_ups.close_follow_up(authed(m, close("called", "\"9\""))).await, Code::Aborted);
    let what = "Called Ms. Zhou; apologised, the next visit comes with a senior engineer";
    let closed = follow_ups.close_follow_up(authed(m, close(what, &first.etag))).await;
    let closed = closed.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert!(closed.closed && closed.close_time.is_some() && closed.outcome == what && !closed.closed_by.is_empty());
    let again = follow_ups.close_follow_up(authed(m, close("again", ""))).await;
    assert_eq!(reason(&expect_code(again, Code::FailedPrecondition)), "FOLLOW_UP_CLOSED");
    let unknown = pb::CloseFollowUpRequest { id: uuid::Uuid::now_v7().to_string(), ..close("x", "") };
    expect_code(follow_ups.close_follow_up(authed(m, unknown)).await, Code::NotFound);

    let open = follow_ups.list_follow_ups(authed(m, list(false, 0, String::new()))).await;
    assert_eq!(open.unwrap_or_else(|e| panic!("{e}")).into_inner().follow_ups.len(), 1, "the closed one left the list");
    let all = follow_ups.list_follow_ups(authed(m, list(true, 0, String::new()))).await;
    let all = all.unwrap_or_else(|e| panic!("{e}")).into_inner().follow_ups;
    assert_eq!(all.iter().map(|x| x.closed).collect::<Vec<_>>(), [false, true], "open ones first, then the closed");
}
