//! Running the server: health, reflection, SLA escalation, migrations, the audit log's
//! append-only guarantee, restarts. On SQLite and PostgreSQL.

use std::sync::Arc;

use chrono::{Duration, Utc};
use onsite_proto::v1 as pb;
use onsite_server::app::{App, Config};
use onsite_server::store;
use onsite_tests::{Backend, Fixture, TestServer, authed};
use sea_orm::{ConnectionTrait, Statement};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

onsite_tests::conformance!(
    health_and_reflection_answer,
    sla_breaches_escalate_once_and_tell_the_manager,
    migrations_are_recorded_and_rerun_safely,
    the_audit_log_is_append_only,
    a_caller_over_their_rate_is_told_when_to_retry,
);

/// The server's overall health status.
async fn health_status(channel: tonic::transport::Channel) -> i32 {
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    health
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .unwrap_or_else(|e| panic!("health: {e}"))
        .into_inner()
        .status
}

async fn health_and_reflection_answer(backend: Backend) {
    let server = TestServer::start(backend).await;
    assert_eq!(health_status(server.channel.clone()).await, ServingStatus::Serving as i32);

    // Both versions of the reflection protocol list the services: v1, and v1alpha for older tools.
    macro_rules! listed_services {
        ($version:ident) => {{
            use tonic_reflection::pb::$version::{
                ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
                server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
            };
            let mut reflection = ServerReflectionClient::new(server.channel.clone());
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut stream = reflection
                .server_reflection_info(tokio_stream::iter([request]))
                .await
                .unwrap_or_else(|e| panic!("reflection: {e}"))
                .into_inner();
            let response = stream.next().await.and_then(Result::ok).and_then(|r| r.message_response);
            let Some(MessageResponse::ListServicesResponse(list)) = response else {
                panic!("no service list: {response:?}")
            };
            list.service.into_iter().map(|s| s.name).collect::<Vec<String>>()
        }};
    }
    for names in [listed_services!(v1), listed_services!(v1alpha)] {
        for expected in
            ["onsite.v1.TicketService", "onsite.v1.AuthService", "onsite.v1.SyncService", "grpc.health.v1.Health"]
        {
            assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
        }
    }
}

async fn sla_breaches_escalate_once_and_tell_the_manager(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::Urgent).await;
    let db = store::connect(&f.server.database_url).await.unwrap_or_else(|e| panic!("{e}"));
    let app = App::open(db, Config::new(f.server.database_url.clone())).await.unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(onsite_server::sla_watch::sweep(&app, Utc::now()).await.unwrap_or_else(|e| panic!("{e}")), 0);
    // Ten days on, nobody answered and nobody solved it: both commitments are missed.
    let later = Utc::now() + Duration::days(10);
    assert_eq!(onsite_server::sla_watch::sweep(&app, later).await.unwrap_or_else(|e| panic!("{e}")), 2);
    assert_eq!(
        onsite_server::sla_watch::sweep(&app, later).await.unwrap_or_else(|e| panic!("{e}")),
        0,
        "escalates once"
    );

    let mut tickets = f.server.tickets();
    let after = tickets
        .get_ticket(authed(&f.manager, pb::GetTicketRequest { id: ticket.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(after.tier, pb::Tier::Expert as i32, "two breaches: tier 1 -> 2 -> 3");
    let history = tickets
        .list_ticket_events(authed(&f.manager, pb::ListTicketEventsRequest { id: ticket.id.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .events;
    let breaches: Vec<&pb::TicketEvent> = history.iter().filter(|e| e.action == "sla_breached").collect();
    assert_eq!(breaches.len(), 2);
    assert!(breaches[0].detail.starts_with("SLA_RESPONSE_BREACHED"), "{}", breaches[0].detail);
    assert_eq!((breaches[0].from_tier, breaches[0].to_tier), (pb::Tier::ServiceDesk as i32, pb::Tier::Field as i32));
    assert!(breaches[0].actor_user_id.is_empty(), "the server's SLA watch acted, not a user");
}

async fn migrations_are_recorded_and_rerun_safely(backend: Backend) {
    let server = TestServer::start(backend).await;
    let db = store::connect(&server.database_url).await.unwrap_or_else(|e| panic!("{e}"));
    let newest = store::migrations::MIGRATIONS.iter().map(|m| m.version).max().unwrap_or_default();
    assert_eq!(store::migrations::current_version(&db).await.unwrap_or_else(|e| panic!("{e}")), newest);
    assert_eq!(store::migrations::migrate(&db).await.unwrap_or_else(|e| panic!("{e}")), 0, "nothing left to apply");
    // Several replicas starting at once must not trip over each other.
    let (a, b) = tokio::join!(store::migrations::migrate(&db), store::migrations::migrate(&db));
    assert_eq!((a.ok(), b.ok()), (Some(0), Some(0)));
}

async fn the_audit_log_is_append_only(backend: Backend) {
    let f = Fixture::new(backend).await;
    let ticket = f.ticket(pb::Severity::General).await;
    f.slip(&ticket).await;
    let db = store::connect(&f.server.database_url).await.unwrap_or_else(|e| panic!("{e}"));
    let backend = db.get_database_backend();
    for sql in ["UPDATE slip_events SET detail = 'forged'", "DELETE FROM slip_events", "DELETE FROM ticket_events"] {
        let result = db.execute_raw(Statement::from_string(backend, sql)).await;
        assert!(result.is_err(), "{sql} must be refused on {backend:?}");
    }
    let count = db
        .query_one_raw(Statement::from_string(backend, "SELECT COUNT(*) AS n FROM slip_events"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .and_then(|row| row.try_get::<i64>("", "n").ok());
    assert_eq!(count, Some(1));
}

/// A restart on the same SQLite file keeps everything and does not bootstrap a second admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restart_keeps_the_data() {
    let f = Fixture::new(Backend::Sqlite).await;
    let ticket = f.ticket(pb::Severity::Important).await;
    let (url, manager, intake) = (f.server.database_url.clone(), f.manager.clone(), f.intake(pb::Severity::General));
    let dir = f.server.stop().await;
    let again = TestServer::start_with(Config::new(url), dir).await;
    assert!(again.admin_token.is_empty(), "the admin is bootstrapped only on the very first start");
    let found = again
        .tickets()
        .get_ticket(authed(&manager, pb::GetTicketRequest { id: ticket.number.clone() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert_eq!(found.id, ticket.id);
    let next = again
        .tickets()
        .create_ticket(authed(
            &manager,
            pb::CreateTicketRequest { request_id: onsite_tests::request_id(), ticket: Some(intake) },
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner();
    assert!(next.number.ends_with("-0002"), "serials continue after a restart: {}", next.number);
}

/// Urgent faults count round the clock by default, whatever the day and hour. A server told to
/// count them in working time gives new tickets working-time due times, and the tickets it
/// holds keep the due times they were given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_clocks_count_per_severity_and_tickets_keep_their_due_times() {
    use onsite_core::sla::SlaPolicy;
    use onsite_core::ticket::Severity;
    let f = Fixture::new(Backend::Sqlite).await;
    let time = |t: Option<&prost_types::Timestamp>| {
        onsite_proto::convert::datetime(t.unwrap_or_else(|| panic!("a time is missing")), "t")
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let due = |t: &pb::Ticket| {
        let sla = t.sla.as_ref().unwrap_or_else(|| panic!("no SLA"));
        (time(sla.respond_by.as_ref()), time(sla.resolve_by.as_ref()))
    };
    let first = f.ticket(pb::Severity::Urgent).await;
    let submitted = time(first.submitted_at.as_ref());
    assert_eq!(due(&first), (submitted + Duration::hours(2), submitted + Duration::hours(4)));

    // One working hour a day: two working hours never pass within two elapsed hours.
    let calendar = onsite_core::calendar::BusinessCalendar::new("UTC", "Mon-Sun 00:00-01:00", [])
        .unwrap_or_else(|e| panic!("{e}"));
    let (url, manager, intake) = (f.server.database_url.clone(), f.manager.clone(), f.intake(pb::Severity::Urgent));
    let dir = f.server.stop().await;
    let mut config = Config::new(url);
    config.calendar = calendar.clone();
    config.sla_policy = SlaPolicy::default().counting_round_the_clock(&[]);
    let again = TestServer::start_with(config, dir).await;
    let get = pb::GetTicketRequest { id: first.id.clone() };
    let kept = again.tickets().get_ticket(authed(&manager, get)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(due(&kept.into_inner()), due(&first), "a ticket keeps the due times it was given");
    let create = pb::CreateTicketRequest { request_id: onsite_tests::request_id(), ticket: Some(intake) };
    let next = again.tickets().create_ticket(authed(&manager, create)).await.unwrap_or_else(|e| panic!("{e}"));
    let next = next.into_inner();
    let submitted = time(next.submitted_at.as_ref());
    let (respond_by, _) = due(&next);
    assert!(respond_by - submitted > Duration::hours(2), "counted in working time: {respond_by}");
    let expected = SlaPolicy::default().counting_round_the_clock(&[]).due_times(&calendar, Severity::Urgent, submitted);
    assert_eq!(due(&next), (expected.respond_by, expected.resolve_by));
}

/// The demo seed builds a working system through the real operations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seed_gives_a_working_system() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut config = Config::new(store::sqlite_url(dir.path()));
    config.demo = true;
    let db = store::connect(&config.database_url).await.unwrap_or_else(|e| panic!("{e}"));
    store::migrations::migrate(&db).await.unwrap_or_else(|e| panic!("{e}"));
    let app = Arc::new(App::open(db, config.clone()).await.unwrap_or_else(|e| panic!("{e}")));
    let logins = onsite_server::demo::seed(&app).await.unwrap_or_else(|e| panic!("{e}"));
    let logins = logins.unwrap_or_else(|| panic!("seeded nothing into an empty database"));
    assert_eq!(logins.engineer_tokens.len(), 3);
    assert!(onsite_server::demo::seed(&app).await.unwrap_or_else(|e| panic!("{e}")).is_none(), "seeds once");
    drop(app);

    let server = TestServer::start_with(config, Some(dir)).await;
    let manager = &logins.manager_token;
    let tickets = server
        .tickets()
        .list_tickets(authed(manager, pb::ListTicketsRequest::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .tickets;
    assert!(tickets.len() >= 10);
    let severities: std::collections::HashSet<i32> = tickets.iter().map(|t| t.severity).collect();
    assert_eq!(severities.len(), 3);
    let slips = server
        .slips()
        .list_slips(authed(manager, pb::ListSlipsRequest { page_size: 100, ..Default::default() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .slips;
    let states: std::collections::HashSet<i32> = slips.iter().map(|s| s.state).collect();
    assert!(states.len() >= 9, "slips across states: {states:?}");
    let engineers = server
        .engineers()
        .list_engineers(authed(manager, pb::ListEngineersRequest { page_size: 100, ..Default::default() }))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .engineers;
    assert!(engineers.len() >= 20);
    let (_, _, engineer_token) = &logins.engineer_tokens[0];
    let own = server
        .slips()
        .list_slips(authed(engineer_token, pb::ListSlipsRequest::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .slips;
    assert!(!own.is_empty(), "the first demo engineer has work");

    // A completed out-of-warranty visit whose customer accepted a quote, and an unhappy
    // customer the desk has to call back.
    let billable: Vec<&pb::Slip> =
        slips.iter().filter(|s| s.warranty.as_ref().is_some_and(|w| w.cover() == pb::Cover::WarrantyEnded)).collect();
    let [billable] = billable.as_slice() else { panic!("one out-of-warranty visit: {billable:?}") };
    let billable = server.slips().get_slip(authed(manager, pb::GetSlipRequest { id: billable.id.clone() })).await;
    let billable = billable.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(billable.state(), pb::SlipState::Completed);
    assert!(billable.quotes.iter().any(|q| q.accepted) && billable.cost_lines.iter().all(|l| l.billable));
    assert_eq!(billable.cost_lines.len(), 2);
    let follow_ups = pb::follow_up_service_client::FollowUpServiceClient::new(server.channel.clone())
        .list_follow_ups(authed(manager, pb::ListFollowUpsRequest::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_inner()
        .follow_ups;
    assert!(follow_ups.iter().any(|f| f.reason.contains("dissatisfied") && !f.closed), "{follow_ups:?}");
}

/// Until the database is migrated, health says NOT_SERVING and the API says UNAVAILABLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_serving_until_the_database_is_ready() {
    // A "database" that accepts connections and never answers keeps the server starting up.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let silent_addr = silent.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let config = Config::new(format!("postgres://onsite@{silent_addr}/onsite?sslmode=disable"));
    let server = tokio::spawn(onsite_server::run(config, listener, std::future::pending(), None));

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(health_status(channel.clone()).await, ServingStatus::NotServing as i32);
    let mut tickets = pb::ticket_service_client::TicketServiceClient::new(channel);
    let early = tickets.list_tickets(authed("onst_any", pb::ListTicketsRequest::default())).await;
    let status = onsite_tests::expect::expect_code(early, Code::Unavailable);
    assert_eq!(onsite_tests::expect::reason(&status), "STARTING_UP");
    server.abort();
    hold.abort();
}

/// A user who sends more than their share is answered RESOURCE_EXHAUSTED with a RetryInfo
/// detail, before any work; other users are not held back, and after the wait it passes.
async fn a_caller_over_their_rate_is_told_when_to_retry(backend: Backend) {
    use tonic_types::StatusExt;
    // The burst covers the fixture's own set-up calls.
    let limit = onsite_server::throttle::RateLimit { per_second: 1, burst: 20 };
    let f = Fixture::with_config(backend, |c| c.rate_limit = Some(limit)).await;
    let who = |token: &str| {
        let mut admin = f.server.admin();
        let request = authed(token, pb::WhoAmIRequest {});
        async move { admin.who_am_i(request).await }
    };
    let mut refused = None;
    for _ in 0..40 {
        if let Err(status) = who(&f.manager).await {
            refused = Some(status);
            break;
        }
    }
    let status = refused.unwrap_or_else(|| panic!("forty calls at once passed a burst of 20"));
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(onsite_tests::expect::reason(&status), "RATE_LIMITED");
    let wait = status.get_details_retry_info().and_then(|r| r.retry_delay).unwrap_or_default();
    assert!(wait > std::time::Duration::ZERO && wait <= std::time::Duration::from_secs(1), "retry after {wait:?}");
    who(&f.engineer).await.unwrap_or_else(|e| panic!("another user is not held back: {e}"));
    tokio::time::sleep(wait).await;
    who(&f.manager).await.unwrap_or_else(|e| panic!("after the wait the call passes: {e}"));
}

/// With `--metrics-listen` the server exports Prometheus metrics: each call's time by method
/// and status code, the dispatch index, the database pool.
#[test]
fn the_server_exports_prometheus_metrics_when_asked() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let rt = rt.unwrap_or_else(|e| panic!("{e}"));
    let metrics = onsite_tests::free_loopback_addr().to_string();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = store::sqlite_url(dir.path());
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_onsite-test-server"));
    let server = rt.block_on(TestServer::spawn_with(exe, url, Some(dir), &[("ONSITE_METRICS_LISTEN", &metrics)]));
    rt.block_on(async {
        for _ in 0..3 {
            health_status(server.channel.clone()).await;
        }
        let refused = server.admin().who_am_i(pb::WhoAmIRequest {}).await;
        assert_eq!(refused.err().map(|s| s.code()), Some(tonic::Code::Unauthenticated));
    });
    let scraped = onsite_tests::http_get(metrics.parse().unwrap_or_else(|e| panic!("{e}")), "/metrics");
    let health = "onsite_rpc_duration_seconds_count{method=\"grpc.health.v1.Health/Check\",code=\"Ok\"} 3";
    assert!(scraped.contains(health), "{scraped}");
    let refused =
        "onsite_rpc_duration_seconds_count{method=\"onsite.v1.AdminService/WhoAmI\",code=\"Unauthenticated\"} 1";
    assert!(scraped.contains(refused), "{scraped}");
    let bucket = "onsite_rpc_duration_seconds_bucket{method=\"grpc.health.v1.Health/Check\",code=\"Ok\",le=\"0.0005\"}";
    assert!(scraped.contains(bucket), "{scraped}");
    assert!(scraped.contains("onsite_dispatch_index_engineers 0"), "{scraped}");
    // The admin setup done by the harness counted too.
    assert!(scraped.contains("method=\"onsite.v1.AuthService/CompleteSetup\",code=\"Ok\"} 1"), "{scraped}");
    drop(server);
}
