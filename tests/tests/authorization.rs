//! The authorization matrix: every RPC of `onsite.v1`, listed from the service descriptors,
//! called by each kind of caller, with the code each one must get. A new RPC without a row
//! fails the test.
//!
//! Callers: no token, an unknown token, the admin, a manager, the engineer the slip is assigned
//! to, an unrelated engineer, a phone a manager revoked (device-scoped tokens), and an expired
//! access token. Without a valid token every RPC answers UNAUTHENTICATED; a revoked phone gets
//! only as far as handing in what it carries. An object the caller may not see answers
//! NOT_FOUND, as an object that does not exist, so nothing leaks its existence. An authorized
//! call on an object in the wrong state answers FAILED_PRECONDITION: the call got past
//! authorization.
//!
//! `AuthService` takes its credentials in the request (a password, a code, a refresh token):
//! there each caller sends their own, and the callers without any send none or bogus ones.
//!
//! Each cell gets a request built afresh, so no cell depends on what another changed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};

use onsite_proto::signoff;
use onsite_proto::v1 as pb;
use onsite_tests::{Backend, Fixture, authed, request_id, window};
use prost::Message;
use prost::bytes::{Buf, BufMut};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

onsite_tests::conformance!(every_rpc_answers_each_caller_as_the_matrix_says);

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    NoToken,
    UnknownToken,
    Admin,
    Manager,
    Assigned,
    Unrelated,
    RevokedDevice,
    ExpiredToken,
}

const CALLERS: [Who; 8] = [
    Who::NoToken,
    Who::UnknownToken,
    Who::Admin,
    Who::Manager,
    Who::Assigned,
    Who::Unrelated,
    Who::RevokedDevice,
    Who::ExpiredToken,
];

/// Every access token of the matrix's server lives this long: long enough for one cell, short
/// enough to wait out once for the expired caller.
const ACCESS_US: i64 = 5_000_000;
const PASSWORD: &str = "matrix password 1234";

/// A request body built for one cell.
type Body<'a> = Pin<Box<dyn Future<Output = Vec<u8>> + 'a>>;

/// One RPC: its codes for the admin, a manager, the assigned engineer, an unrelated one, a
/// revoked phone and an expired token.
struct Row {
    method: &'static str,
    expect: [Code; 6],
    body: for<'a> fn(&'a World, Who) -> Body<'a>,
}

use Code::{FailedPrecondition as Fp, NotFound, Ok as Yes, PermissionDenied as Pd, Unauthenticated as Unauth};

/// Passes request bodies through as bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Self::Encoder {
        Raw
    }

    fn decoder(&mut self) -> Self::Decoder {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// The fixture, and what the cells' requests refer to.
struct World {
    f: Fixture,
    admin: String,
    /// Hours ahead of the next booking, so bookings of one engineer never overlap.
    next_hours: AtomicI64,
    /// The revoked phone the current cell calls from (each cell gets a new one: a revoked
    /// phone may sign out, which ends its session).
    revoked_device: std::sync::Mutex<String>,
    /// An access token whose time is up.
    expired: String,
}

impl World {
    async fn new(f: Fixture) -> Self {
        let admin = f.server.admin_token.clone();
        for (login, role, engineer) in [
            ("matrix.manager", pb::Role::Manager, ""),
            ("matrix.assigned", pb::Role::Engineer, f.engineer_id.as_str()),
            ("matrix.unrelated", pb::Role::Engineer, f.other_engineer_id.as_str()),
        ] {
            onsite_tests::password_user(&f.server, &admin, login, PASSWORD, role, engineer).await;
        }
        let mut world = Self {
            f,
            admin,
            next_hours: AtomicI64::new(30),
            revoked_device: std::sync::Mutex::new(String::new()),
            expired: String::new(),
        };
        let expired = world.sign_in("matrix.assigned").await;
        onsite_tests::wait_past(expired.access_expire_time.as_ref()).await;
        world.expired = expired.access_token;
        world
    }

    /// The caller's bearer token for one cell; a revoked phone is a new one each time.
    async fn token(&self, who: Who) -> String {
        match who {
            Who::NoToken => String::new(),
            Who::UnknownToken => "0nsite-unknown-token".into(),
            Who::Admin => self.admin.clone(),
            Who::Manager => self.f.manager.clone(),
            Who::Assigned => self.f.engineer.clone(),
            Who::Unrelated => self.f.other_engineer.clone(),
            Who::ExpiredToken => self.expired.clone(),
            Who::RevokedDevice => {
                let (device, session) = self.revoked_phone().await;
                if let Ok(mut slot) = self.revoked_device.lock() {
                    *slot = device;
                }
                session.access_token
            }
        }
    }

    async fn sign_in(&self, login: &str) -> pb::Session {
        let request = pb::SignInRequest { login: login.into(), password: PASSWORD.into(), device_id: String::new() };
        self.f.server.auth().sign_in(request).await.unwrap_or_else(|e| panic!("sign in {login}: {e}")).into_inner()
    }

    fn revoked_device(&self) -> String {
        self.revoked_device.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// A one-time enrolment code of the assigned engineer.
    async fn enrolment_code(&self) -> String {
        let issue = pb::IssueEnrolmentCodeRequest { engineer_id: self.f.engineer_id.clone() };
        let code = self.f.server.engineers().issue_enrolment_code(authed(&self.f.manager, issue)).await;
        code.unwrap_or_else(|e| panic!("enrolment code: {e}")).into_inner().code
    }

    /// A phone of the assigned engineer, enrolled and then revoked: its id and session.
    async fn revoked_phone(&self) -> (String, pb::Session) {
        let device_id = uuid::Uuid::now_v7().to_string();
        let enrol = pb::EnrolRequest {
            enrolment_code: self.enrolment_code().await,
            device_id: device_id.clone(),
            public_key: signoff::public_key(&[3; 32]).to_vec(),
            label: "lost phone".into(),
        };
        let enrolled = self.f.server.auth().enrol(enrol).await.unwrap_or_else(|e| panic!("enrol: {e}")).into_inner();
        let revoke =
            pb::RevokeDeviceRequest { request_id: request_id(), device_id: device_id.clone(), reason: "lost".into() };
        self.f
            .server
            .engineers()
            .revoke_device(authed(&self.f.manager, revoke))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        (device_id, enrolled.session.unwrap_or_else(|| panic!("no session")))
    }

    /// The password login `who` signs in with; `None` for callers with no credentials.
    fn login(who: Who) -> Option<&'static str> {
        match who {
            Who::Admin => Some("admin"),
            Who::Manager => Some("matrix.manager"),
            Who::Assigned | Who::ExpiredToken | Who::RevokedDevice => Some("matrix.assigned"),
            Who::Unrelated => Some("matrix.unrelated"),
            Who::NoToken | Who::UnknownToken => None,
        }
    }

    /// A refresh token of `who`'s own session (bogus or none for callers without one).
    async fn refresh_token_of(&self, who: Who) -> String {
        match who {
            Who::NoToken => String::new(),
            Who::UnknownToken => "onsr_unknown".into(),
            Who::RevokedDevice => self.revoked_phone().await.1.refresh_token,
            _ => match Self::login(who) {
                Some("admin") => self.admin_session().await.refresh_token,
                Some(login) => self.sign_in(login).await.refresh_token,
                None => String::new(),
            },
        }
    }

    async fn admin_session(&self) -> pb::Session {
        let request = pb::SignInRequest {
            login: "admin".into(),
            password: onsite_tests::ADMIN_PASSWORD.into(),
            device_id: String::new(),
        };
        self.f.server.auth().sign_in(request).await.unwrap_or_else(|e| panic!("admin: {e}")).into_inner()
    }

    /// A one-time code of `purpose` for callers who hold one; bogus or none for the others.
    async fn code_for(&self, who: Who, setup: bool) -> String {
        match who {
            Who::NoToken => String::new(),
            Who::UnknownToken => "0000-0000-0000-0000".into(),
            _ if setup => {
                let n = self.next_hours.fetch_add(1, Ordering::SeqCst);
                let login = format!("matrix.setup.{n}");
                let create = pb::CreateUserRequest {
                    request_id: request_id(),
                    user: Some(pb::User {
                        name: login.clone(),
                        login,
                        role: pb::Role::Manager as i32,
                        ..Default::default()
                    }),
                };
                let user = self.f.server.admin().create_user(authed(&self.admin, create)).await;
                let user_id = user.unwrap_or_else(|e| panic!("{e}")).into_inner().id;
                let issue = pb::IssueSetupCodeRequest { user_id };
                let code = self.f.server.admin().issue_setup_code(authed(&self.admin, issue)).await;
                code.unwrap_or_else(|e| panic!("{e}")).into_inner().code
            }
            _ => self.enrolment_code().await,
        }
    }

    /// A fresh slip of the assigned engineer on site, the customer's data backed up and, when
    /// `diagnosed`, the fix recorded (a software defect in warranty: nothing is billable).
    async fn worked_slip(&self, diagnosed: bool) -> pb::Slip {
        let slip = self.slip(pb::SlipState::OnSite).await;
        let mut slips = self.f.server.slips();
        let token = &self.f.engineer;
        let backup = pb::BackupRecord {
            kind: pb::BackupKind::Backup as i32,
            location: "USB disk".into(),
            ..onsite_tests::visit::wire_backup()
        };
        let backup = pb::LogBackupRequest { request_id: request_id(), slip_id: slip.id.clone(), backup: Some(backup) };
        let mut slip = slips.log_backup(authed(token, backup)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
        if diagnosed {
            let fix = pb::RecordFixRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                fix: Some(onsite_tests::visit::wire_fix()),
            };
            slip = slips.record_fix(authed(token, fix)).await.unwrap_or_else(|e| panic!("{e}")).into_inner();
        }
        slip
    }

    /// A quote the desk drafted for a fresh slip of the assigned engineer, on site.
    async fn quote(&self) -> pb::Quote {
        let slip = self.slip(pb::SlipState::OnSite).await;
        let create = pb::CreateQuoteRequest { request_id: request_id(), slip_id: slip.id, lines: vec![taxi()] };
        let quote = self.f.server.quotes().create_quote(authed(&self.f.manager, create)).await;
        quote.unwrap_or_else(|e| panic!("preparing a quote: {e}")).into_inner()
    }

    /// A fresh slip of the assigned engineer, brought as far as `stage` by them.
    async fn slip(&self, stage: pb::SlipState) -> pb::Slip {
        use pb::SlipState as S;
        let mut slip = self.f.dispatched_slip(&self.f.engineer_id).await;
        let slips = || self.f.server.slips();
        let token = &self.f.engineer;
        let action = |slip: &pb::Slip| pb::SlipActionRequest {
            request_id: request_id(),
            slip_id: slip.id.clone(),
            etag: String::new(),
        };
        let done = |r: Result<tonic::Response<pb::Slip>, tonic::Status>| {
            r.unwrap_or_else(|e| panic!("preparing a slip: {e}")).into_inner()
        };
        if matches!(stage, S::Confirmed | S::Scheduled | S::EnRoute | S::OnSite) {
            slip = done(slips().confirm_slip(authed(token, action(&slip))).await);
        }
        if matches!(stage, S::Scheduled | S::EnRoute | S::OnSite) {
            slip = done(slips().book_appointment(authed(token, self.booking(&slip.id))).await);
        }
        if matches!(stage, S::EnRoute | S::OnSite) {
            slip = done(slips().start_travel(authed(token, action(&slip))).await);
        }
        if stage == S::OnSite {
            let check_in = pb::CheckInRequest {
                request_id: request_id(),
                slip_id: slip.id.clone(),
                etag: String::new(),
                position: Some(pb::GeoPoint { latitude: 31.2046, longitude: 121.5996 }),
            };
            slip = done(slips().check_in(authed(token, check_in)).await);
        }
        slip
    }

    fn booking(&self, slip_id: &str) -> pb::BookAppointmentRequest {
        pb::BookAppointmentRequest {
            request_id: request_id(),
            slip_id: slip_id.to_owned(),
            etag: String::new(),
            window: Some(window(self.next_hours.fetch_add(3, Ordering::SeqCst))),
            contact_name: "Ms. Zhou".into(),
        }
    }

    /// A verified slip, not dispatched.
    async fn verified_slip(&self) -> pb::Slip {
        self.f.verify(&self.draft_slip().await).await
    }

    /// A verified slip needing a skill no engineer has: nobody suits it, whatever the time.
    async fn unstaffable_slip(&self) -> pb::Slip {
        let ticket = self.f.ticket(pb::Severity::General).await;
        let create = pb::CreateSlipRequest {
            request_id: request_id(),
            ticket_id: ticket.id,
            site_id: self.f.site_id.clone(),
            instructions: "Migrate the mainframe batch jobs".into(),
            required_skills: vec!["mainframe".into()],
            ..Default::default()
        };
        let slip = self.f.server.slips().create_slip(authed(&self.f.manager, create)).await;
        self.f.verify(&slip.unwrap_or_else(|e| panic!("create slip: {e}")).into_inner()).await
    }

    async fn draft_slip(&self) -> pb::Slip {
        let ticket = self.f.ticket(pb::Severity::General).await;
        self.f.slip(&ticket).await
    }

    /// A registered device of the engineer.
    async fn device(&self, token: &str) -> String {
        let device_id = uuid::Uuid::now_v7().to_string();
        let request = pb::RegisterDeviceRequest {
            device_id: device_id.clone(),
            public_key: signoff::public_key(&[7; 32]).to_vec(),
            label: "matrix".into(),
        };
        self.f.server.sync().register_device(authed(token, request)).await.unwrap_or_else(|e| panic!("{e}"));
        device_id
    }

    /// Calls `method` as `who` with `body`; the code of the answer (the first message's, for a
    /// stream from the server).
    async fn call(&self, method: &str, streaming: (bool, bool), token: &str, body: Vec<u8>) -> Code {
        let mut grpc = tonic::client::Grpc::new(self.f.server.channel.clone());
        if let Err(e) = grpc.ready().await {
            panic!("channel: {e}");
        }
        let path: tonic::codegen::http::uri::PathAndQuery =
            format!("/onsite.v1.{method}").parse().unwrap_or_else(|e| panic!("{method}: {e}"));
        fn request<T>(token: &str, body: T) -> tonic::Request<T> {
            if token.is_empty() { tonic::Request::new(body) } else { authed(token, body) }
        }
        let result = match streaming {
            (false, false) => grpc.unary(request(token, body), path, Raw).await.map(drop),
            (true, false) => {
                grpc.client_streaming(request(token, tokio_stream::iter(vec![body])), path, Raw).await.map(drop)
            }
            (false, true) => match grpc.server_streaming(request(token, body), path, Raw).await {
                Err(status) => Err(status),
                // A stream that opened is authorized; its first message may wait for a change.
                Ok(mut stream) => {
                    let first = tokio::time::timeout(std::time::Duration::from_millis(300), stream.get_mut().message());
                    match first.await {
                        Ok(Err(status)) => Err(status),
                        _ => Ok(()),
                    }
                }
            },
            (true, true) => panic!("{method}: no bidirectional RPCs are expected"),
        };
        result.err().map_or(Code::Ok, |status| status.code())
    }
}

macro_rules! row {
    ($method:literal, [$admin:expr, $manager:expr, $assigned:expr, $unrelated:expr], |$w:ident, $who:ident| $body:expr) => {
        row!($method, [$admin, $manager, $assigned, $unrelated; Unauth, Unauth], |$w, $who| $body)
    };
    ($method:literal, [$admin:expr, $manager:expr, $assigned:expr, $unrelated:expr; $revoked:expr, $expired:expr], |$w:ident, $who:ident| $body:expr) => {
        Row {
            method: $method,
            expect: [$admin, $manager, $assigned, $unrelated, $revoked, $expired],
            body: |$w, $who| {
                let _ = ($w, $who);
                Box::pin(async move { $body })
            },
        }
    };
}

/// A taxi ride of 86.50 CNY.
fn taxi() -> pb::CostLine {
    pb::CostLine {
        id: uuid::Uuid::now_v7().to_string(),
        kind: pb::CostKind::Travel as i32,
        description: "Taxi".into(),
        quantity: 1,
        unit_price: Some(pb::Money { minor_units: 8_650, currency_code: "CNY".into() }),
        billable: true,
        ..Default::default()
    }
}

fn rows() -> Vec<Row> {
    use pb::SlipState as S;
    vec![
        row!("AdminService/WhoAmI", [Yes, Yes, Yes, Yes], |w, who| pb::WhoAmIRequest {}.encode_to_vec()),
        row!("AdminService/CreateUser", [Yes, Pd, Pd, Pd], |w, who| pb::CreateUserRequest {
            request_id: request_id(),
            user: Some(pb::User { name: "Desk 2".into(), role: pb::Role::Manager as i32, ..Default::default() }),
        }
        .encode_to_vec()),
        row!("AdminService/CreateToken", [Yes, Pd, Pd, Pd], |w, who| {
            let me = w.f.server.admin().who_am_i(authed(&w.f.manager, pb::WhoAmIRequest {})).await;
            let user_id = me.unwrap_or_else(|e| panic!("{e}")).into_inner().id;
            pb::CreateTokenRequest { request_id: request_id(), user_id, label: "matrix".into() }.encode_to_vec()
        }),
        row!("AdminService/RevokeToken", [Yes, Pd, Pd, Pd], |w, who| {
            let me = w.f.server.admin().who_am_i(authed(&w.f.manager, pb::WhoAmIRequest {})).await;
            let user_id = me.unwrap_or_else(|e| panic!("{e}")).into_inner().id;
            let create = pb::CreateTokenRequest { request_id: request_id(), user_id, label: "to revoke".into() };
            let token = w.f.server.admin().create_token(authed(&w.admin, create)).await;
            let token_id = token.unwrap_or_else(|e| panic!("{e}")).into_inner().token_id;
            pb::RevokeTokenRequest { request_id: request_id(), token_id }.encode_to_vec()
        }),
        // For a user with a login (the fixture's manager signs in with a token only).
        row!("AdminService/IssueSetupCode", [Yes, Pd, Pd, Pd], |w, who| pb::IssueSetupCodeRequest {
            user_id: w.sign_in("matrix.manager").await.user.unwrap_or_default().id
        }
        .encode_to_vec()),
        row!("AdminService/ListAuditEvents", [Yes, Pd, Pd, Pd], |w, who| pb::ListAuditEventsRequest::default()
            .encode_to_vec()),
        // Credentials in the request: each caller signs in with their own password; a revoked
        // phone cannot open a session for itself again, an expired token is no obstacle.
        row!("AuthService/SignIn", [Yes, Yes, Yes, Yes; Unauth, Yes], |w, who| pb::SignInRequest {
            login: World::login(who).unwrap_or_default().into(),
            password: match who {
                Who::Admin => onsite_tests::ADMIN_PASSWORD.into(),
                Who::UnknownToken => "not the password".into(),
                Who::NoToken => String::new(),
                _ => PASSWORD.into(),
            },
            device_id: if who == Who::RevokedDevice { w.revoked_device() } else { String::new() },
        }
        .encode_to_vec()),
        row!("AuthService/CompleteSetup", [Yes, Yes, Yes, Yes; Yes, Yes], |w, who| pb::CompleteSetupRequest {
            setup_code: w.code_for(who, true).await,
            new_password: "a brand new passphrase".into(),
        }
        .encode_to_vec()),
        row!("AuthService/Enrol", [Yes, Yes, Yes, Yes; Yes, Yes], |w, who| pb::EnrolRequest {
            enrolment_code: w.code_for(who, false).await,
            device_id: uuid::Uuid::now_v7().to_string(),
            public_key: signoff::public_key(&[4; 32]).to_vec(),
            label: "matrix".into(),
        }
        .encode_to_vec()),
        // A revoked phone's session still refreshes, so it can hand in what it carries.
        row!("AuthService/Refresh", [Yes, Yes, Yes, Yes; Yes, Yes], |w, who| pb::RefreshRequest {
            refresh_token: w.refresh_token_of(who).await
        }
        .encode_to_vec()),
        // API tokens are revoked by an admin, not signed out; a phone's session signs out.
        row!("AuthService/SignOut", [Fp, Fp, Fp, Fp; Yes, Unauth], |w, who| pb::SignOutRequest {}.encode_to_vec()),
        row!("CatalogService/UpsertPart", [Yes, Yes, Pd, Pd], |w, who| pb::UpsertPartRequest {
            request_id: request_id(),
            part: Some(pb::Part {
                part_number: "SSD-1T".into(),
                description: "SSD 1 TB".into(),
                unit_price: Some(pb::Money { minor_units: 89_900, currency_code: "CNY".into() }),
                active: true,
                ..Default::default()
            }),
        }
        .encode_to_vec()),
        row!("CatalogService/ListParts", [Yes, Yes, Yes, Yes], |w, who| pb::ListPartsRequest::default()
            .encode_to_vec()),
        row!("CustomerService/CreateCustomer", [Yes, Yes, Pd, Pd], |w, who| pb::CreateCustomerRequest {
            request_id: request_id(),
            customer: Some(pb::Customer {
                name: "Another customer".into(),
                project_name: "ERP".into(),
                ..Default::default()
            }),
        }
        .encode_to_vec()),
        row!("CustomerService/GetCustomer", [Yes, Yes, Yes, NotFound], |w, who| {
            w.slip(S::Dispatched).await;
            pb::GetCustomerRequest { id: w.f.customer_id.clone() }.encode_to_vec()
        }),
        row!("CustomerService/ListCustomers", [Yes, Yes, Pd, Pd], |w, who| pb::ListCustomersRequest::default()
            .encode_to_vec()),
        // No etag: each cell's change applies to the record as it is.
        row!("CustomerService/UpdateCustomer", [Yes, Yes, Pd, Pd], |w, who| pb::UpdateCustomerRequest {
            request_id: request_id(),
            customer: Some(pb::Customer {
                id: w.f.customer_id.clone(),
                notes: format!("changed by {who:?} {}", uuid::Uuid::now_v7()),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["notes".into()] }),
        }
        .encode_to_vec()),
        row!("CustomerService/ListCustomerEvents", [Yes, Yes, Pd, Pd], |w, who| pb::ListCustomerEventsRequest {
            id: w.f.customer_id.clone()
        }
        .encode_to_vec()),
        row!("DispatchService/SuggestEngineers", [Yes, Yes, Pd, Pd], |w, who| pb::SuggestEngineersRequest {
            slip_id: w.verified_slip().await.id,
            ..Default::default()
        }
        .encode_to_vec()),
        // Authorized, the call finds no engineer with the skill.
        row!("DispatchService/AutoAssign", [Fp, Fp, Pd, Pd], |w, who| pb::AutoAssignRequest {
            request_id: request_id(),
            slip_id: w.unstaffable_slip().await.id,
            etag: String::new(),
        }
        .encode_to_vec()),
        row!("DispatchService/ListAppointments", [Yes, Yes, Yes, NotFound], |w, who| {
            pb::ListAppointmentsRequest { engineer_id: w.f.engineer_id.clone(), range: Some(window(0)) }.encode_to_vec()
        }),
        row!("DispatchService/WatchBoard", [Yes, Yes, Pd, Pd], |w, who| pb::WatchBoardRequest::default()
            .encode_to_vec()),
        row!("EngineerService/CreateEngineer", [Yes, Yes, Pd, Pd], |w, who| pb::CreateEngineerRequest {
            request_id: request_id(),
            engineer: Some(pb::Engineer {
                employee_number: uuid::Uuid::now_v7().to_string(),
                name: "New hire".into(),
                tier: pb::Tier::Field as i32,
                home_base: Some(pb::GeoPoint { latitude: 31.23, longitude: 121.47 }),
                ..Default::default()
            }),
        }
        .encode_to_vec()),
        row!("EngineerService/GetEngineer", [Yes, Yes, Yes, NotFound], |w, who| pb::GetEngineerRequest {
            id: w.f.engineer_id.clone()
        }
        .encode_to_vec()),
        row!("EngineerService/ListEngineers", [Yes, Yes, Pd, Pd], |w, who| pb::ListEngineersRequest::default()
            .encode_to_vec()),
        row!("EngineerService/UpdateEngineer", [Yes, Yes, Pd, Pd], |w, who| pb::UpdateEngineerRequest {
            request_id: request_id(),
            engineer: Some(pb::Engineer {
                id: w.f.engineer_id.clone(),
                phone: "+86 21 5555 0199".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["phone".into()] }),
        }
        .encode_to_vec()),
        row!("EngineerService/ReportLocation", [Pd, Pd, Yes, Yes], |w, who| pb::ReportLocationRequest {
            request_id: request_id(),
            reports: vec![pb::LocationReport {
                position: Some(pb::GeoPoint { latitude: 31.2, longitude: 121.5 }),
                accuracy_m: 8.0,
                time: Some(onsite_proto::convert::timestamp(chrono::Utc::now())),
            }],
        }
        .encode_to_vec()),
        row!("EngineerService/ListPositions", [Yes, Yes, Yes, NotFound], |w, who| pb::ListPositionsRequest {
            engineer_id: w.f.engineer_id.clone(),
            ..Default::default()
        }
        .encode_to_vec()),
        row!("EngineerService/ListDevices", [Yes, Yes, Pd, Pd], |w, who| pb::ListDevicesRequest {
            engineer_id: w.f.engineer_id.clone()
        }
        .encode_to_vec()),
        row!("EngineerService/IssueEnrolmentCode", [Yes, Yes, Pd, Pd], |w, who| pb::IssueEnrolmentCodeRequest {
            engineer_id: w.f.engineer_id.clone()
        }
        .encode_to_vec()),
        row!("EngineerService/RevokeDevice", [Yes, Yes, Pd, Pd], |w, who| pb::RevokeDeviceRequest {
            request_id: request_id(),
            device_id: w.device(&w.f.engineer).await,
            reason: "reported lost".into(),
        }
        .encode_to_vec()),
        row!("ReportService/GetServiceReport", [Yes, Yes, Yes, NotFound], |w, who| pb::GetServiceReportRequest {
            slip_id: w.slip(S::Dispatched).await.id,
            language: String::new()
        }
        .encode_to_vec()),
        row!("ReportService/GetMonthlyStatistics", [Yes, Yes, Pd, Pd], |w, who| pb::GetMonthlyStatisticsRequest {
            year: 2026,
            month: 10,
            revision: 0
        }
        .encode_to_vec()),
        row!("FollowUpService/ListFollowUps", [Yes, Yes, Pd, Pd], |w, who| pb::ListFollowUpsRequest::default()
            .encode_to_vec()),
        // Authorized, the desk finds no such follow-up.
        row!("FollowUpService/CloseFollowUp", [NotFound, NotFound, Pd, Pd], |w, who| pb::CloseFollowUpRequest {
            request_id: request_id(),
            id: uuid::Uuid::now_v7().to_string(),
            etag: String::new(),
            outcome: "called the customer".into(),
        }
        .encode_to_vec()),
        row!("QuoteService/CreateQuote", [Yes, Yes, Yes, NotFound], |w, who| pb::CreateQuoteRequest {
            request_id: request_id(),
            slip_id: w.slip(S::OnSite).await.id,
            lines: vec![taxi()],
        }
        .encode_to_vec()),
        // The customer's decision reaches the desk by phone or e-mail; a phone sends its own.
        row!("QuoteService/DecideQuote", [Yes, Yes, Pd, Pd], |w, who| {
            let quote = w.quote().await;
            pb::DecideQuoteRequest {
                request_id: request_id(),
                quote_id: quote.id,
                etag: quote.etag,
                accepted: true,
                channel: pb::QuoteChannel::Phone as i32,
                decided_by_name: "Ms. Zhou".into(),
                confirmation: "called the desk".into(),
            }
            .encode_to_vec()
        }),
        row!("QuoteService/GetQuote", [Yes, Yes, Yes, NotFound], |w, who| pb::GetQuoteRequest {
            id: w.quote().await.id
        }
        .encode_to_vec()),
        row!("SlipService/CreateSlip", [Yes, Yes, Pd, Pd], |w, who| pb::CreateSlipRequest {
            request_id: request_id(),
            ticket_id: w.f.ticket(pb::Severity::General).await.id,
            site_id: w.f.site_id.clone(),
            instructions: "Look at it".into(),
            required_skills: vec![],
            ..Default::default()
        }
        .encode_to_vec()),
        row!("SlipService/VerifySlip", [Yes, Yes, NotFound, NotFound], |w, who| action(&w.draft_slip().await)),
        row!("SlipService/DispatchSlip", [Yes, Yes, NotFound, NotFound], |w, who| pb::DispatchSlipRequest {
            request_id: request_id(),
            slip_id: w.verified_slip().await.id,
            engineer_id: w.f.engineer_id.clone(),
            ..Default::default()
        }
        .encode_to_vec()),
        row!("SlipService/ConfirmSlip", [Pd, Pd, Yes, NotFound], |w, who| action(&w.slip(S::Dispatched).await)),
        row!("SlipService/DeclineSlip", [Pd, Pd, Yes, NotFound], |w, who| reason(&w.slip(S::Dispatched).await)),
        row!("SlipService/CancelSlip", [Yes, Yes, Pd, NotFound], |w, who| reason(&w.slip(S::Confirmed).await)),
        row!("SlipService/WriteOffSlip", [Fp, Fp, Pd, Pd], |w, who| pb::WriteOffSlipRequest {
            request_id: request_id(),
            slip_id: w.slip(S::OnSite).await.id,
            outcome: pb::WriteOffOutcome::Resolved as i32,
            note: "done".into(),
            ..Default::default()
        }
        .encode_to_vec()),
        row!("SlipService/GetSlip", [Yes, Yes, Yes, NotFound], |w, who| pb::GetSlipRequest {
            id: w.slip(S::Dispatched).await.id
        }
        .encode_to_vec()),
        row!("SlipService/ListSlips", [Yes, Yes, Yes, Pd], |w, who| pb::ListSlipsRequest {
            engineer_id: w.f.engineer_id.clone(),
            ..Default::default()
        }
        .encode_to_vec()),
        row!("SlipService/ListSlipEvents", [Yes, Yes, Yes, NotFound], |w, who| pb::ListSlipEventsRequest {
            id: w.slip(S::Dispatched).await.id
        }
        .encode_to_vec()),
        row!("SlipService/BookAppointment", [Yes, Yes, Yes, NotFound], |w, who| {
            w.booking(&w.slip(S::Confirmed).await.id).encode_to_vec()
        }),
        row!("SlipService/RescheduleAppointment", [Yes, Yes, Yes, NotFound], |w, who| {
            let booked = w.booking(&w.slip(S::Scheduled).await.id);
            pb::RescheduleAppointmentRequest {
                request_id: request_id(),
                slip_id: booked.slip_id,
                etag: String::new(),
                window: booked.window,
                reason: "the customer asked".into(),
                customer_informed: true,
            }
            .encode_to_vec()
        }),
        row!("SlipService/StartTravel", [Pd, Pd, Yes, NotFound], |w, who| action(&w.slip(S::Scheduled).await)),
        row!("SlipService/CheckIn", [Pd, Pd, Yes, NotFound], |w, who| pb::CheckInRequest {
            request_id: request_id(),
            slip_id: w.slip(S::EnRoute).await.id,
            etag: String::new(),
            position: Some(pb::GeoPoint { latitude: 31.2046, longitude: 121.5996 }),
        }
        .encode_to_vec()),
        row!("SlipService/LogBackup", [Pd, Pd, Yes, NotFound], |w, who| pb::LogBackupRequest {
            request_id: request_id(),
            slip_id: w.slip(S::OnSite).await.id,
            backup: Some(pb::BackupRecord {
                id: uuid::Uuid::now_v7().to_string(),
                kind: pb::BackupKind::Backup as i32,
                location: "USB disk SN 4471".into(),
                ..onsite_tests::visit::wire_backup()
            }),
        }
        .encode_to_vec()),
        row!("SlipService/RecordFix", [Pd, Pd, Yes, NotFound], |w, who| pb::RecordFixRequest {
            request_id: request_id(),
            slip_id: w.worked_slip(false).await.id,
            fix: Some(onsite_tests::visit::wire_fix()),
        }
        .encode_to_vec()),
        row!("SlipService/AddPartsCost", [Pd, Pd, Yes, NotFound], |w, who| pb::AddPartsCostRequest {
            request_id: request_id(),
            slip_id: w.worked_slip(true).await.id,
            lines: vec![taxi()],
        }
        .encode_to_vec()),
        // Billing corrections are the desk's.
        row!("SlipService/OverrideBillable", [Yes, Yes, Pd, Pd], |w, who| {
            let slip = w.worked_slip(true).await;
            let parts =
                pb::AddPartsCostRequest { request_id: request_id(), slip_id: slip.id.clone(), lines: vec![taxi()] };
            let costed = w.f.server.slips().add_parts_cost(authed(&w.f.engineer, parts)).await;
            let costed = costed.unwrap_or_else(|e| panic!("{e}")).into_inner();
            pb::OverrideBillableRequest {
                request_id: request_id(),
                slip_id: slip.id,
                etag: String::new(),
                line_id: costed.cost_lines[0].id.clone(),
                billable: true,
                reason: "the customer asked for the express taxi".into(),
            }
            .encode_to_vec()
        }),
        // Without a fix recorded, a sign-off is refused once the caller is authorized.
        row!("SlipService/CaptureSignOff", [Pd, Pd, Fp, NotFound], |w, who| {
            let slip = w.slip(S::OnSite).await;
            let sign_off = pb::SignOff {
                signer_name: "Ms. Zhou".into(),
                satisfaction: pb::Satisfaction::Satisfied as i32,
                ..Default::default()
            };
            let png = onsite_tests::signature_png(1);
            onsite_tests::signed_sign_off(&w.f.server, &w.f.engineer, &slip.id, sign_off, &png).await.encode_to_vec()
        }),
        row!("SlipService/CompleteSlip", [Pd, Pd, Fp, NotFound], |w, who| action(&w.slip(S::OnSite).await)),
        row!("SyncService/RegisterDevice", [Pd, Pd, Yes, Yes], |w, who| pb::RegisterDeviceRequest {
            device_id: uuid::Uuid::now_v7().to_string(),
            public_key: signoff::public_key(&[5; 32]).to_vec(),
            label: "matrix".into(),
        }
        .encode_to_vec()),
        // A device is its engineer's alone: anyone else's push is from an unregistered device.
        // A revoked phone hands in what it carries (each op refused DEVICE_REVOKED, kept).
        row!("SyncService/Push", [Fp, Fp, Yes, Fp; Yes, Unauth], |w, who| {
            let slip = w.slip(S::Dispatched).await;
            let device_id = if who == Who::RevokedDevice { w.revoked_device() } else { w.device(&w.f.engineer).await };
            let op = pb::Op {
                op_id: uuid::Uuid::now_v7().to_string(),
                device_id: device_id.clone(),
                device_seq: 1,
                slip_id: slip.id,
                payload: Some(pb::op::Payload::Confirm(pb::ConfirmSlipOp {})),
                ..Default::default()
            };
            pb::PushRequest { device_id, ops: vec![op], device_time: None }.encode_to_vec()
        }),
        row!("SyncService/Pull", [Pd, Pd, Yes, Fp], |w, who| pb::PullRequest {
            device_id: w.device(&w.f.engineer).await,
            cursor: String::new(),
            limit: 10,
        }
        .encode_to_vec()),
        row!("SyncService/UploadAttachment", [Yes, Yes, Yes, Yes; Yes, Unauth], |w, who| {
            let data = onsite_tests::signature_png(1 + (w.next_hours.fetch_add(1, Ordering::SeqCst) % 200) as u8);
            pb::AttachmentChunk {
                sha256: signoff::sha256_hex(&data),
                total_size: data.len() as i64,
                offset: 0,
                data,
                content_type: "image/png".into(),
            }
            .encode_to_vec()
        }),
        row!("SyncService/GetAttachmentStatus", [Yes, Yes, Yes, Yes; Yes, Unauth], |w, who| pb::GetAttachmentStatusRequest {
            sha256: "ab".repeat(32)
        }
        .encode_to_vec()),
        row!("TicketService/CreateTicket", [Yes, Yes, Pd, Pd], |w, who| pb::CreateTicketRequest {
            request_id: request_id(),
            ticket: Some(w.f.intake(pb::Severity::General)),
        }
        .encode_to_vec()),
        row!("TicketService/GetTicket", [Yes, Yes, Yes, NotFound], |w, who| pb::GetTicketRequest {
            id: w.slip(S::Dispatched).await.ticket_id
        }
        .encode_to_vec()),
        row!("TicketService/ListTickets", [Yes, Yes, Pd, Pd], |w, who| pb::ListTicketsRequest::default()
            .encode_to_vec()),
        row!("TicketService/UpdateTicket", [Yes, Yes, Pd, Pd], |w, who| {
            let ticket = w.f.ticket(pb::Severity::General).await;
            pb::UpdateTicketRequest {
                request_id: request_id(),
                ticket: Some(pb::Ticket { id: ticket.id, symptoms: "Worse now".into(), ..Default::default() }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["symptoms".into()] }),
            }
            .encode_to_vec()
        }),
        row!("TicketService/EscalateTicket", [Yes, Yes, Pd, Pd], |w, who| pb::EscalateTicketRequest {
            request_id: request_id(),
            id: w.f.ticket(pb::Severity::General).await.id,
            etag: String::new(),
            reason: "needs the database team".into(),
        }
        .encode_to_vec()),
        row!("TicketService/CloseTicket", [Yes, Yes, Pd, Pd], |w, who| pb::CloseTicketRequest {
            request_id: request_id(),
            id: w.f.ticket(pb::Severity::General).await.id,
            etag: String::new(),
            resolution_note: "solved by phone".into(),
        }
        .encode_to_vec()),
        row!("TicketService/ListTicketEvents", [Yes, Yes, Yes, NotFound], |w, who| pb::ListTicketEventsRequest {
            id: w.slip(S::Dispatched).await.ticket_id
        }
        .encode_to_vec()),
    ]
}

fn action(slip: &pb::Slip) -> Vec<u8> {
    pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: String::new() }.encode_to_vec()
}

fn reason(slip: &pb::Slip) -> Vec<u8> {
    pb::ReasonRequest {
        request_id: request_id(),
        slip_id: slip.id.clone(),
        etag: String::new(),
        reason: "the customer solved it".into(),
    }
    .encode_to_vec()
}

/// Every method of `onsite.v1` with whether it streams from the client and from the server.
fn methods() -> Vec<(String, (bool, bool))> {
    let set = prost_types::FileDescriptorSet::decode(onsite_proto::FILE_DESCRIPTOR_SET)
        .unwrap_or_else(|e| panic!("descriptors: {e}"));
    set.file
        .iter()
        .filter(|f| f.package() == "onsite.v1")
        .flat_map(|f| &f.service)
        .flat_map(|s| {
            s.method
                .iter()
                .map(move |m| (format!("{}/{}", s.name(), m.name()), (m.client_streaming(), m.server_streaming())))
        })
        .collect()
}

async fn every_rpc_answers_each_caller_as_the_matrix_says(backend: Backend) {
    // The matrix signs its callers in again and again; throttling has its own tests.
    let f = Fixture::with_config(backend, |c| {
        c.token_lifetimes.access_us = ACCESS_US;
        c.sign_in_limit = None;
    })
    .await;
    let world = World::new(f).await;
    let rows = rows();
    let methods = methods();
    let missing: Vec<&str> =
        methods.iter().map(|(m, _)| m.as_str()).filter(|m| !rows.iter().any(|r| r.method == *m)).collect();
    assert!(missing.is_empty(), "RPCs without a row in the matrix: {missing:?}");
    let unknown: Vec<&str> =
        rows.iter().map(|r| r.method).filter(|m| !methods.iter().any(|(known, _)| known == m)).collect();
    assert!(unknown.is_empty(), "rows for RPCs that do not exist: {unknown:?}");

    let mut wrong = Vec::new();
    let mut cells = 0;
    for row in &rows {
        let streaming = methods.iter().find(|(m, _)| m == row.method).map_or((false, false), |(_, s)| *s);
        for who in CALLERS {
            let expected = match who {
                Who::NoToken | Who::UnknownToken => Code::Unauthenticated,
                Who::Admin => row.expect[0],
                Who::Manager => row.expect[1],
                Who::Assigned => row.expect[2],
                Who::Unrelated => row.expect[3],
                Who::RevokedDevice => row.expect[4],
                Who::ExpiredToken => row.expect[5],
            };
            // The token first: a revoked phone's cell refers to that phone.
            let token = world.token(who).await;
            let body = (row.body)(&world, who).await;
            let got = world.call(row.method, streaming, &token, body).await;
            cells += 1;
            if got != expected {
                wrong.push(format!("{} as {who:?}: {got:?}, expected {expected:?}", row.method));
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {cells} cells differ:\n{}", wrong.len(), wrong.join("\n"));
    assert_eq!(cells, methods.len() * CALLERS.len());
}
