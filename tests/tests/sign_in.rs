//! Signing in over real gRPC, on both backends: the first-start setup code, passwords,
//! rotating refresh tokens with reuse detection, sign-out, throttling, expiry, a phone's
//! enrolment and its revocation, and the audit log of all of it. No secret is stored in clear.

use onsite_proto::signoff;
use onsite_proto::v1 as pb;
use onsite_tests::expect::{expect_code, reason, violated_fields};
use onsite_tests::{Backend, Fixture, TestServer, authed, password_user, request_id};
use tonic::Code;

onsite_tests::conformance!(
    the_first_start_setup_code_works_once_and_sets_a_password,
    a_password_signs_in_and_wrong_ones_learn_nothing,
    refresh_tokens_rotate_and_a_reused_one_ends_the_session,
    a_retried_refresh_whose_answer_was_lost_keeps_the_session,
    signing_out_ends_the_session,
    failed_sign_ins_are_throttled_per_login,
    an_expired_access_token_says_so,
    a_phone_enrols_with_a_one_time_code_and_a_revoked_one_only_hands_in,
    denied_calls_and_revocations_are_in_the_audit_log,
    a_revocation_reaches_the_other_replica_within_a_second,
);

const PASSWORD: &str = "correct horse battery staple";

async fn who_am_i(server: &TestServer, token: &str) -> Result<pb::User, tonic::Status> {
    server.admin().who_am_i(authed(token, pb::WhoAmIRequest {})).await.map(tonic::Response::into_inner)
}

async fn sign_in(server: &TestServer, login: &str, password: &str) -> Result<pb::Session, tonic::Status> {
    let request = pb::SignInRequest { login: login.into(), password: password.into(), device_id: String::new() };
    server.auth().sign_in(request).await.map(tonic::Response::into_inner)
}

async fn refresh(server: &TestServer, token: &str) -> Result<pb::Session, tonic::Status> {
    server.auth().refresh(pb::RefreshRequest { refresh_token: token.into() }).await.map(tonic::Response::into_inner)
}

async fn audit(server: &TestServer, kind: &str) -> Vec<pb::AuditEvent> {
    let request = pb::ListAuditEventsRequest { page_size: 500, kind: kind.into(), ..Default::default() };
    let page = server.admin().list_audit_events(authed(&server.admin_token, request)).await;
    page.unwrap_or_else(|e| panic!("audit log: {e}")).into_inner().events
}

/// A manager who signs in with `PASSWORD`.
async fn manager(server: &TestServer, login: &str) -> pb::User {
    password_user(server, &server.admin_token, login, PASSWORD, pb::Role::Manager, "").await
}

async fn the_first_start_setup_code_works_once_and_sets_a_password(backend: Backend) {
    // The harness used the first start's code to set the administrator's password.
    let server = TestServer::start(backend).await;
    let admin = sign_in(&server, "admin", onsite_tests::ADMIN_PASSWORD).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(admin.user.as_ref().map(|u| u.role), Some(pb::Role::Admin as i32));
    assert_eq!(who_am_i(&server, &admin.access_token).await.map(|u| u.login).ok().as_deref(), Some("admin"));
    let setups = audit(&server, "setup_completed").await;
    assert_eq!(setups.len(), 1, "{setups:?}");

    // A code is issued per user, works once, and needs a long enough password.
    let user = password_user(&server, &server.admin_token, "desk.2", PASSWORD, pb::Role::Manager, "").await;
    let issue = pb::IssueSetupCodeRequest { user_id: user.id.clone() };
    let code = server.admin().issue_setup_code(authed(&server.admin_token, issue)).await;
    let code = code.unwrap_or_else(|e| panic!("{e}")).into_inner().code;
    let short = pb::CompleteSetupRequest { setup_code: code.clone(), new_password: "short".into() };
    let status = expect_code(server.auth().complete_setup(short).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["new_password"]);
    // Typed in lower case and without dashes, the code still works.
    let typed = code.to_lowercase().replace('-', "");
    let reset = pb::CompleteSetupRequest { setup_code: typed, new_password: "a brand new passphrase".into() };
    server.auth().complete_setup(reset.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    let again = expect_code(server.auth().complete_setup(reset).await, Code::Unauthenticated);
    assert_eq!(reason(&again), "BAD_CREDENTIALS");
    // The new password replaced the old one.
    assert!(sign_in(&server, "desk.2", "a brand new passphrase").await.is_ok());
    assert_eq!(sign_in(&server, "desk.2", PASSWORD).await.err().map(|s| s.code()), Some(Code::Unauthenticated));
    server.stop().await;
}

async fn a_password_signs_in_and_wrong_ones_learn_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let user = manager(&server, "Zhou.Min").await;
    assert_eq!(user.login, "zhou.min", "logins are kept in lower case");
    let session = sign_in(&server, " ZHOU.MIN ", PASSWORD).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(who_am_i(&server, &session.access_token).await.map(|u| u.id).ok(), Some(user.id.clone()));
    assert!(session.refresh_token.starts_with("onsr_") && session.access_token.starts_with("onst_"));

    let wrong = expect_code(
        sign_in(&server, "zhou.min", "not the password").await.map(tonic::Response::new),
        Code::Unauthenticated,
    );
    let unknown =
        expect_code(sign_in(&server, "nobody", PASSWORD).await.map(tonic::Response::new), Code::Unauthenticated);
    assert_eq!((reason(&wrong), wrong.message()), (reason(&unknown), unknown.message()), "one answer for every cause");
    // Nothing to check is no attempt: refused, and not counted as a failed sign-in.
    let empty = sign_in(&server, "", "").await;
    assert_eq!(empty.err().map(|s| s.code()), Some(Code::Unauthenticated));

    // A login is one person's.
    let taken = pb::CreateUserRequest {
        request_id: request_id(),
        user: Some(pb::User {
            name: "Other".into(),
            login: "zhou.min".into(),
            role: pb::Role::Manager as i32,
            ..Default::default()
        }),
    };
    let status = expect_code(server.admin().create_user(authed(&server.admin_token, taken)).await, Code::AlreadyExists);
    assert_eq!(reason(&status), "LOGIN_TAKEN");
    let odd = pb::CreateUserRequest {
        request_id: request_id(),
        user: Some(pb::User {
            name: "Odd".into(),
            login: "a b".into(),
            role: pb::Role::Manager as i32,
            ..Default::default()
        }),
    };
    let status = expect_code(server.admin().create_user(authed(&server.admin_token, odd)).await, Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["user.login"]);

    let failed = audit(&server, "sign_in_failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed.iter().any(|e| e.user_id == user.id && e.subject == "zhou.min"));
    let signed_in = audit(&server, "sign_in").await;
    assert!(signed_in.iter().any(|e| e.user_id == user.id && e.address == "127.0.0.1"), "{signed_in:?}");
    assert_no_secret_stored(&server, &[PASSWORD, &session.access_token, &session.refresh_token]).await;
    server.stop().await;
}

async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    manager(&server, "desk").await;
    let first = sign_in(&server, "desk", PASSWORD).await.unwrap_or_else(|e| panic!("{e}"));
    let second = refresh(&server, &first.refresh_token).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.session_id, first.session_id, "the same session goes on");
    assert_ne!((&second.access_token, &second.refresh_token), (&first.access_token, &first.refresh_token));
    let third = refresh(&server, &second.refresh_token).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(who_am_i(&server, &third.access_token).await.is_ok());

    // The first refresh token again, after its successor was used: stolen. The session ends.
    let reused =
        expect_code(refresh(&server, &first.refresh_token).await.map(tonic::Response::new), Code::Unauthenticated);
    assert_eq!(reason(&reused), "REFRESH_TOKEN_REUSED");
    let ended = expect_code(
        server.admin().who_am_i(authed(&third.access_token, pb::WhoAmIRequest {})).await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&ended), "UNAUTHENTICATED");
    let late =
        expect_code(refresh(&server, &third.refresh_token).await.map(tonic::Response::new), Code::Unauthenticated);
    assert_eq!(reason(&late), "BAD_CREDENTIALS");
    let reuses = audit(&server, "refresh_reused").await;
    assert_eq!(reuses.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(), [first.session_id.as_str()]);
    // Another session of the same user goes on.
    assert!(sign_in(&server, "desk", PASSWORD).await.is_ok());
    server.stop().await;
}

async fn a_retried_refresh_whose_answer_was_lost_keeps_the_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    manager(&server, "desk").await;
    let first = sign_in(&server, "desk", PASSWORD).await.unwrap_or_else(|e| panic!("{e}"));
    // The answer to this swap is lost on the way to the phone.
    let lost = refresh(&server, &first.refresh_token).await.unwrap_or_else(|e| panic!("{e}"));
    let retried = refresh(&server, &first.refresh_token).await.unwrap_or_else(|e| panic!("retry: {e}"));
    assert!(who_am_i(&server, &retried.access_token).await.is_ok());
    assert!(who_am_i(&server, &lost.access_token).await.is_err(), "the lost pair is void");
    // The lost refresh token turning up later is a reuse.
    let reused =
        expect_code(refresh(&server, &lost.refresh_token).await.map(tonic::Response::new), Code::Unauthenticated);
    assert_eq!(reason(&reused), "REFRESH_TOKEN_REUSED");
    server.stop().await;
}

async fn signing_out_ends_the_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    manager(&server, "desk").await;
    let session = sign_in(&server, "desk", PASSWORD).await.unwrap_or_else(|e| panic!("{e}"));
    let other = sign_in(&server, "desk", PASSWORD).await.unwrap_or_else(|e| panic!("{e}"));
    server
        .auth()
        .sign_out(authed(&session.access_token, pb::SignOutRequest {}))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(who_am_i(&server, &session.access_token).await.err().map(|s| s.code()), Some(Code::Unauthenticated));
    let status =
        expect_code(refresh(&server, &session.refresh_token).await.map(tonic::Response::new), Code::Unauthenticated);
    assert_eq!(reason(&status), "BAD_CREDENTIALS");
    assert!(who_am_i(&server, &other.access_token).await.is_ok(), "the other sign-in goes on");
    // An API token is not a session: an admin revokes it.
    let status = expect_code(
        server.auth().sign_out(authed(&server.admin_token, pb::SignOutRequest {})).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "NOT_A_SESSION");
    assert_eq!(audit(&server, "signed_out").await.len(), 1);
    server.stop().await;
}

async fn failed_sign_ins_are_throttled_per_login(backend: Backend) {
    let limit = onsite_server::throttle::SignInLimit {
        login_burst: 3,
        login_period: std::time::Duration::from_secs(600),
        address_burst: 100,
        address_period: std::time::Duration::from_secs(1),
    };
    let server = TestServer::start_configured(backend, |c| c.sign_in_limit = Some(limit)).await;
    manager(&server, "desk").await;
    for _ in 0..3 {
        let wrong = sign_in(&server, "desk", "guess").await;
        assert_eq!(wrong.err().map(|s| s.code()), Some(Code::Unauthenticated));
    }
    // Throttled now, even with the right password: a guesser cannot tell.
    let status =
        expect_code(sign_in(&server, "DESK", PASSWORD).await.map(tonic::Response::new), Code::ResourceExhausted);
    assert_eq!(reason(&status), "SIGN_IN_THROTTLED");
    use tonic_types::StatusExt;
    let wait = status.get_details_retry_info().and_then(|r| r.retry_delay);
    assert!(wait.is_some_and(|w| w > std::time::Duration::from_secs(60)), "{wait:?}");
    assert!(sign_in(&server, "admin", onsite_tests::ADMIN_PASSWORD).await.is_ok(), "another login goes on");
    server.stop().await;
}

async fn an_expired_access_token_says_so(backend: Backend) {
    let server = TestServer::start_configured(backend, |c| c.token_lifetimes.access_us = 1_000_000).await;
    manager(&server, "desk").await;
    let session = sign_in(&server, "desk", PASSWORD).await.unwrap_or_else(|e| panic!("{e}"));
    onsite_tests::wait_past(session.access_expire_time.as_ref()).await;
    let status = expect_code(
        server.admin().who_am_i(authed(&session.access_token, pb::WhoAmIRequest {})).await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&status), "TOKEN_EXPIRED", "the client knows to refresh");
    // The refresh token still works.
    assert!(refresh(&server, &session.refresh_token).await.is_ok());
    server.stop().await;
}

async fn a_phone_enrols_with_a_one_time_code_and_a_revoked_one_only_hands_in(backend: Backend) {
    let f = Fixture::new(backend).await;
    let server = &f.server;
    let issue = pb::IssueEnrolmentCodeRequest { engineer_id: f.engineer_id.clone() };
    let denied = expect_code(
        server.engineers().issue_enrolment_code(authed(&f.engineer, issue.clone())).await,
        Code::PermissionDenied,
    );
    assert_eq!(reason(&denied), "ROLE_NOT_ALLOWED");
    let code = server.engineers().issue_enrolment_code(authed(&f.manager, issue)).await;
    let code = code.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert!(code.expire_time.is_some());
    let device_id = uuid::Uuid::now_v7().to_string();
    let enrol = pb::EnrolRequest {
        enrolment_code: code.code.clone(),
        device_id: device_id.clone(),
        public_key: signoff::public_key(&[9; 32]).to_vec(),
        label: "Pixel 8".into(),
    };
    let enrolled = server.auth().enrol(enrol.clone()).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let session = enrolled.session.unwrap_or_else(|| panic!("no session"));
    assert_eq!(session.user.as_ref().map(|u| u.engineer_id.as_str()), Some(f.engineer_id.as_str()));
    let used = expect_code(server.auth().enrol(enrol).await, Code::Unauthenticated);
    assert_eq!(reason(&used), "BAD_CREDENTIALS");
    // The phone is registered by the enrolment; its token acts for it alone.
    let slip = f.dispatched_slip(&f.engineer_id).await;
    let phone = &session.access_token;
    let push = |device: &str, seq: i64| pb::PushRequest {
        device_id: device.to_owned(),
        ops: vec![pb::Op {
            op_id: request_id(),
            device_id: device.to_owned(),
            device_seq: seq,
            slip_id: slip.id.clone(),
            payload: Some(pb::op::Payload::Confirm(pb::ConfirmSlipOp {})),
            ..Default::default()
        }],
        device_time: None,
    };
    let pushed = server.sync().push(authed(phone, push(&device_id, 1))).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pushed.into_inner().results.first().map(|r| r.outcome()), Some(pb::OpOutcome::Applied));
    let other_device = uuid::Uuid::now_v7().to_string();
    let status = expect_code(server.sync().push(authed(phone, push(&other_device, 1))).await, Code::FailedPrecondition);
    assert_eq!(reason(&status), "DEVICE_NOT_REGISTERED");

    let revoke = pb::RevokeDeviceRequest {
        request_id: request_id(),
        device_id: device_id.clone(),
        reason: "reported lost".into(),
    };
    server.engineers().revoke_device(authed(&f.manager, revoke)).await.unwrap_or_else(|e| panic!("{e}"));
    // Its tokens read nothing more, refreshed or not...
    let status = expect_code(
        server.slips().get_slip(authed(phone, pb::GetSlipRequest { id: slip.id.clone() })).await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&status), "DEVICE_REVOKED");
    let pull = pb::PullRequest { device_id: device_id.clone(), cursor: String::new(), limit: 10 };
    expect_code(server.sync().pull(authed(phone, pull)).await, Code::Unauthenticated);
    let fresh = refresh(server, &session.refresh_token).await.unwrap_or_else(|e| panic!("{e}"));
    let status = expect_code(
        server.admin().who_am_i(authed(&fresh.access_token, pb::WhoAmIRequest {})).await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&status), "DEVICE_REVOKED");
    // ...but what it carries is handed in, refused op by op, and kept for the manager.
    let mut backup = push(&device_id, 2);
    backup.ops[0].payload = Some(pb::op::Payload::LogBackup(pb::BackupRecord {
        id: uuid::Uuid::now_v7().to_string(),
        kind: pb::BackupKind::Backup as i32,
        location: "USB disk SN 4471".into(),
        ..onsite_tests::visit::wire_backup()
    }));
    let handed =
        server.sync().push(authed(&fresh.access_token, backup)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let result = handed.results.first().unwrap_or_else(|| panic!("no result"));
    let why = result.error.as_ref().map(|e| e.reason.as_str());
    assert_eq!((result.outcome(), why), (pb::OpOutcome::Rejected, Some("DEVICE_REVOKED")));
    let kept = server.slips().get_slip(authed(&f.manager, pb::GetSlipRequest { id: slip.id.clone() })).await;
    let kept = kept.unwrap_or_else(|e| panic!("{e}")).into_inner();
    assert_eq!(kept.flagged_records.len(), 1, "the backup is kept for the manager");
    let enrolled = audit(server, "enrolled").await;
    assert_eq!(enrolled.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(), [device_id.as_str()]);
    assert_no_secret_stored(server, &[&code.code.replace('-', ""), &session.refresh_token, phone]).await;
}

async fn denied_calls_and_revocations_are_in_the_audit_log(backend: Backend) {
    let f = Fixture::new(backend).await;
    let server = &f.server;
    let create = pb::CreateUserRequest {
        request_id: request_id(),
        user: Some(pb::User { name: "Sneaky".into(), role: pb::Role::Admin as i32, ..Default::default() }),
    };
    expect_code(server.admin().create_user(authed(&f.engineer, create)).await, Code::PermissionDenied);
    let denied = audit(server, "permission_denied").await;
    let [entry] = denied.as_slice() else { panic!("one denied call: {denied:?}") };
    assert_eq!(entry.subject, "onsite.v1.AdminService/CreateUser");
    let me = who_am_i(server, &f.engineer).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(entry.user_id, me.id);

    let create = pb::CreateTokenRequest { request_id: request_id(), user_id: me.id.clone(), label: "script".into() };
    let token = server.admin().create_token(authed(&server.admin_token, create)).await;
    let token = token.unwrap_or_else(|e| panic!("{e}")).into_inner();
    let revoke = pb::RevokeTokenRequest { request_id: request_id(), token_id: token.token_id.clone() };
    server.admin().revoke_token(authed(&server.admin_token, revoke)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(who_am_i(server, &token.token).await.err().map(|s| s.code()), Some(Code::Unauthenticated));
    let revoked = audit(server, "token_revoked").await;
    assert_eq!(revoked.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(), [token.token_id.as_str()]);
    assert_eq!(
        audit(server, "token_created").await.len(),
        5,
        "the harness's, the manager's, two engineers' and this one"
    );
    // Only an admin reads the log.
    let read = pb::ListAuditEventsRequest::default();
    expect_code(server.admin().list_audit_events(authed(&f.manager, read)).await, Code::PermissionDenied);
}

/// None of `secrets` is anywhere in the database (SQLite: the files; PostgreSQL: every text
/// column of the sign-in tables).
async fn assert_no_secret_stored(server: &TestServer, secrets: &[&str]) {
    if let Some(path) = server.database_url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        let mut bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        for secret in secrets {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret is stored in clear");
        }
        return;
    }
    use sea_orm::{ConnectionTrait, Statement};
    let db = onsite_server::store::connect(&server.database_url).await.unwrap_or_else(|e| panic!("{e}"));
    for table in ["api_tokens", "refresh_tokens", "one_time_codes", "passwords", "audit_events", "idempotency_keys"] {
        let sql = format!("SELECT t::text AS row FROM {table} t");
        let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await;
        for row in rows.unwrap_or_else(|e| panic!("{table}: {e}")) {
            let text: String = row.try_get("", "row").unwrap_or_default();
            for secret in secrets {
                assert!(!text.contains(secret), "a secret is stored in clear in {table}");
            }
        }
    }
}

/// Verified callers are cached for a second: a token revoked on one replica stops working on
/// another that has it cached, once the entry runs out, and at once on the replica that revoked.
async fn a_revocation_reaches_the_other_replica_within_a_second(backend: Backend) {
    let first = TestServer::start(backend).await;
    let url = first.database_url.clone();
    let second = TestServer::start_with(onsite_server::Config::new(url), None).await;
    manager(&first, "desk").await;
    let session = sign_in(&first, "desk", PASSWORD).await.unwrap_or_else(|e| panic!("{e}"));
    // Both replicas know the token now.
    assert!(who_am_i(&first, &session.access_token).await.is_ok());
    assert!(who_am_i(&second, &session.access_token).await.is_ok());

    first.auth().sign_out(authed(&session.access_token, pb::SignOutRequest {})).await.unwrap_or_else(|e| panic!("{e}"));
    let revoked_at = std::time::Instant::now();
    assert!(who_am_i(&first, &session.access_token).await.is_err(), "at once where it was revoked");
    // The other replica's entry runs out within its second (the bound is generous for a
    // loaded machine; what is checked is that it ends, not how fast).
    while who_am_i(&second, &session.access_token).await.is_ok() {
        assert!(revoked_at.elapsed() < std::time::Duration::from_secs(10), "the other replica still takes the token");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    second.stop().await;
    first.stop().await;
}
