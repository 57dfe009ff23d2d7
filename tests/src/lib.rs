//! Test harness: real Onsite servers on loopback ports, over real SQLite files or a real
//! PostgreSQL cluster that the harness starts itself.
//!
//! - [`TestServer`] runs `onsite_server::run` on `127.0.0.1:0` and stops it on drop.
//! - [`pg`] starts one PostgreSQL cluster per test process and gives each test its own database.
//! - [`expect`] asserts on gRPC errors: code, ErrorInfo reason, BadRequest fields.
//! - [`conformance!`] turns one list of scenario functions into a test per backend.

pub mod expect;
pub mod pg;
pub mod pki;
pub mod proxy;
pub mod visit;

use std::time::Duration;

use onsite_proto::v1 as pb;
use onsite_server::Config;
use tokio::sync::oneshot;
use tonic::Request;
use tonic::transport::Channel;

/// A storage backend to run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server and the admin token it bootstrapped.
#[derive(Debug)]
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub admin_token: String,
    pub database_url: String,
    pub channel: Channel,
    /// Whether it serves over TLS.
    pub tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<onsite_server::Result<()>>>,
    /// The server's own process, when it runs as one (see [`TestServer::spawn`]).
    process: Option<std::process::Child>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server on a fresh database of `backend`.
    pub async fn start(backend: Backend) -> Self {
        Self::start_configured(backend, |_| {}).await
    }

    /// A server on a fresh database of `backend`, with `configure` applied to its config.
    pub async fn start_configured(backend: Backend, configure: impl FnOnce(&mut Config)) -> Self {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
                (onsite_server::store::sqlite_url(dir.path()), Some(dir))
            }
            Backend::Postgres => {
                let cluster = pg::cluster().unwrap_or_else(|e| panic!("PostgreSQL cluster: {e}"));
                (cluster.create_database().await, None)
            }
        };
        let mut config = Config::new(url);
        configure(&mut config);
        Self::start_with(config, dir).await
    }

    /// A server with `config`; `dir` is kept alive as long as the server.
    pub async fn start_with(config: Config, dir: Option<tempfile::TempDir>) -> Self {
        Self::start_reached(config, dir, None).await
    }

    /// A server over TLS with `pki`'s server certificate (and client CA when `mutual`), on a
    /// fresh SQLite database; its channel trusts the CA and presents the client certificate.
    pub async fn start_tls(pki: &pki::Pki, mutual: bool) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let mut config = Config::new(onsite_server::store::sqlite_url(dir.path()));
        config.tls = Some(pki.server_tls(mutual));
        Self::start_reached(config, Some(dir), Some(pki.client_tls(mutual))).await
    }

    /// The server's URL as clients write it.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://localhost:{}", self.addr.port())
    }

    async fn start_reached(
        config: Config,
        dir: Option<tempfile::TempDir>,
        client_tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> Self {
        let tls = client_tls.is_some();
        let database_url = config.database_url.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(onsite_server::run(
            config,
            listener,
            async move {
                let _ = stopped.await;
            },
            Some(ready_tx),
        ));
        let ready = tokio::time::timeout(Duration::from_secs(60), ready_rx)
            .await
            .unwrap_or_else(|_| panic!("server not ready within 60 s"))
            .unwrap_or_else(|_| panic!("server failed to start"));
        let endpoint = match client_tls {
            None => Channel::from_shared(format!("http://{addr}")).unwrap_or_else(|e| panic!("uri: {e}")),
            Some(settings) => Channel::from_shared(format!("https://localhost:{}", addr.port()))
                .unwrap_or_else(|e| panic!("uri: {e}"))
                .tls_config(settings)
                .unwrap_or_else(|e| panic!("tls: {e}")),
        };
        let channel = endpoint.connect().await.unwrap_or_else(|e| panic!("connect: {e}"));
        let admin_token = match ready.admin_setup_code {
            Some(code) => admin_api_token(&channel, &code).await,
            None => String::new(),
        };
        Self {
            addr,
            admin_token,
            database_url,
            channel,
            tls,
            stop: Some(stop),
            task: Some(task),
            process: None,
            _dir: dir,
        }
    }

    /// A server in its own process (`exe`, the `onsite-test-server` binary) on `database_url`,
    /// so a test can kill it with SIGKILL; `dir` is kept alive as long as the server.
    pub async fn spawn(exe: &std::path::Path, database_url: String, dir: Option<tempfile::TempDir>) -> Self {
        Self::spawn_with(exe, database_url, dir, &[]).await
    }

    /// Like [`TestServer::spawn`] with `env` set for the server's process.
    pub async fn spawn_with(
        exe: &std::path::Path,
        database_url: String,
        dir: Option<tempfile::TempDir>,
        env: &[(&str, &str)],
    ) -> Self {
        use std::io::BufRead;
        let mut process = std::process::Command::new(exe)
            .arg(&database_url)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", exe.display()));
        let stdout = process.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let line = tokio::time::timeout(Duration::from_secs(60), line)
            .await
            .unwrap_or_else(|_| panic!("server process not ready within 60 s"))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("server output: {e}"));
        let mut words = line.split_whitespace().skip_while(|w| *w != "ready").skip(1);
        let addr: std::net::SocketAddr =
            words.next().and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("server process said {line:?}"));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap_or_else(|e| panic!("uri: {e}"))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let admin_token = match words.next() {
            Some(code) => admin_api_token(&channel, code).await,
            None => String::new(),
        };
        Self {
            addr,
            admin_token,
            database_url,
            channel,
            tls: false,
            stop: None,
            task: None,
            process: Some(process),
            _dir: dir,
        }
    }

    /// The id of the server's own process, when it runs as one.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(std::process::Child::id)
    }

    /// Kills the server's process with SIGKILL, mid-whatever it was doing, and hands back its
    /// database directory for the next start.
    pub fn kill(mut self) -> Option<tempfile::TempDir> {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
        self._dir.take()
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let result = task.await.unwrap_or_else(|e| panic!("server task: {e}"));
            result.unwrap_or_else(|e| panic!("server failed: {e}"));
        }
        self._dir.take()
    }

    /// The live board as `token` watches it, from `cursor` (empty: from now on).
    pub async fn board(&self, token: &str, cursor: &str) -> tonic::Streaming<pb::BoardEvent> {
        let request = authed(token, pb::WatchBoardRequest { cursor: cursor.to_owned() });
        self.dispatch().watch_board(request).await.unwrap_or_else(|e| panic!("watch the board: {e}")).into_inner()
    }

    pub fn tickets(&self) -> pb::ticket_service_client::TicketServiceClient<Channel> {
        pb::ticket_service_client::TicketServiceClient::new(self.channel.clone())
    }

    pub fn slips(&self) -> pb::slip_service_client::SlipServiceClient<Channel> {
        pb::slip_service_client::SlipServiceClient::new(self.channel.clone())
    }

    pub fn quotes(&self) -> pb::quote_service_client::QuoteServiceClient<Channel> {
        pb::quote_service_client::QuoteServiceClient::new(self.channel.clone())
    }

    pub fn reports(&self) -> pb::report_service_client::ReportServiceClient<Channel> {
        pb::report_service_client::ReportServiceClient::new(self.channel.clone())
    }

    pub fn customers(&self) -> pb::customer_service_client::CustomerServiceClient<Channel> {
        pb::customer_service_client::CustomerServiceClient::new(self.channel.clone())
    }

    pub fn engineers(&self) -> pb::engineer_service_client::EngineerServiceClient<Channel> {
        pb::engineer_service_client::EngineerServiceClient::new(self.channel.clone())
    }

    pub fn auth(&self) -> pb::auth_service_client::AuthServiceClient<Channel> {
        pb::auth_service_client::AuthServiceClient::new(self.channel.clone())
    }

    pub fn admin(&self) -> pb::admin_service_client::AdminServiceClient<Channel> {
        pb::admin_service_client::AdminServiceClient::new(self.channel.clone())
    }

    pub fn sync(&self) -> pb::sync_service_client::SyncServiceClient<Channel> {
        pb::sync_service_client::SyncServiceClient::new(self.channel.clone())
    }

    /// Uploads a PNG as `token`'s attachment in one chunk, as a phone does with a signature.
    pub async fn upload_png(&self, token: &str, png: &[u8]) {
        let chunk = pb::AttachmentChunk {
            sha256: onsite_proto::signoff::sha256_hex(png),
            total_size: png.len() as i64,
            offset: 0,
            data: png.to_vec(),
            content_type: "image/png".into(),
        };
        self.sync()
            .upload_attachment(authed(token, tokio_stream::iter(vec![chunk])))
            .await
            .unwrap_or_else(|e| panic!("upload: {e}"));
    }

    pub fn dispatch(&self) -> pb::dispatch_service_client::DispatchServiceClient<Channel> {
        pb::dispatch_service_client::DispatchServiceClient::new(self.channel.clone())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// A request carrying `token` as its bearer token.
pub fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let value = format!("Bearer {token}").parse().unwrap_or_else(|e| panic!("token header: {e}"));
    request.metadata_mut().insert("authorization", value);
    request
}

/// A two-hour appointment window starting `hours_from_now` (negative: already started).
pub fn window(hours_from_now: i64) -> pb::TimeWindow {
    let start = chrono::Utc::now() + chrono::Duration::hours(hours_from_now);
    pb::TimeWindow {
        start: Some(onsite_proto::convert::timestamp(start)),
        end: Some(onsite_proto::convert::timestamp(start + chrono::Duration::hours(2))),
    }
}

/// A window of `hours` starting at `hour` UTC on a Monday at least two days ahead: inside the
/// fixture engineers' shift (Mon-Fri 08:30-17:30 UTC) whatever day the tests run.
pub fn monday_window(hour: u32, hours: i64) -> pb::TimeWindow {
    use chrono::{Datelike, TimeZone};
    let mut day = chrono::Utc::now().date_naive() + chrono::Duration::days(2);
    while day.weekday() != chrono::Weekday::Mon {
        day += chrono::Duration::days(1);
    }
    let start =
        chrono::Utc.from_utc_datetime(&day.and_hms_opt(hour, 0, 0).unwrap_or_else(|| panic!("bad hour {hour}")));
    pb::TimeWindow {
        start: Some(onsite_proto::convert::timestamp(start)),
        end: Some(onsite_proto::convert::timestamp(start + chrono::Duration::hours(hours))),
    }
}

/// A fresh request id.
pub fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Generates one `#[tokio::test]` per scenario and backend.
///
/// Each scenario is `async fn(Backend)`; the SQLite tests run on temp files, the PostgreSQL
/// tests on databases of the harness's own cluster.
#[macro_export]
macro_rules! conformance {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::Postgres).await;
                }
            )+
        }
    };
}

/// A server with a manager, two engineers with their own tokens, and a customer with a site.
#[derive(Debug)]
pub struct Fixture {
    pub server: TestServer,
    pub manager: String,
    pub engineer_id: String,
    pub engineer: String,
    pub other_engineer_id: String,
    pub other_engineer: String,
    pub customer_id: String,
    pub site_id: String,
    pub product_id: String,
    /// Visits walked by [`Fixture::signed_off_slip`], to book each at its own time.
    visits: std::sync::atomic::AtomicU32,
}

impl Fixture {
    /// Builds the fixture through the public API only.
    pub async fn new(backend: Backend) -> Self {
        Self::with_config(backend, |_| {}).await
    }

    /// Like [`Fixture::new`] on a server with `configure` applied to its config.
    pub async fn with_config(backend: Backend, configure: impl FnOnce(&mut Config)) -> Self {
        Self::on(TestServer::start_configured(backend, configure).await).await
    }

    /// The fixture's people and customer on `server`.
    pub async fn on(server: TestServer) -> Self {
        let admin = server.admin_token.clone();
        let manager = new_login(&server, &admin, "Dispatch desk", pb::Role::Manager, "").await;
        let customer = server
            .customers()
            .create_customer(authed(
                &manager,
                pb::CreateCustomerRequest {
                    request_id: request_id(),
                    customer: Some(pb::Customer {
                        name: "Huadong Precision Machinery".into(),
                        project_name: "ERP rollout".into(),
                        warranty_start: Some(pb::Date { year: 2025, month: 7, day: 1 }),
                        warranty_end: Some(pb::Date { year: 2027, month: 6, day: 30 }),
                        contacts: vec![pb::Contact {
                            name: "Ms. Zhou".into(),
                            role: "IT lead".into(),
                            ..Default::default()
                        }],
                        sites: vec![pb::Site {
                            name: "Pudong plant".into(),
                            address: "1288 Zhangjiang Rd".into(),
                            position: Some(pb::GeoPoint { latitude: 31.2046, longitude: 121.5996 }),
                            ..Default::default()
                        }],
                        products: vec![pb::InstalledProduct {
                            site_id: "0".into(),
                            model: "S2".into(),
                            serial_number: "S2-01000".into(),
                            warranty_end: Some(pb::Date { year: 2027, month: 3, day: 1 }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                },
            ))
            .await
            .unwrap_or_else(|e| panic!("create customer: {e}"))
            .into_inner();
        let (engineer_id, engineer) = new_engineer(&server, &admin, &manager, "17", "Wang Lei").await;
        let (other_engineer_id, other_engineer) = new_engineer(&server, &admin, &manager, "18", "Li Na").await;
        Self {
            manager,
            engineer_id,
            engineer,
            other_engineer_id,
            other_engineer,
            customer_id: customer.id.clone(),
            site_id: customer.sites[0].id.clone(),
            product_id: customer.products[0].id.clone(),
            visits: Default::default(),
            server,
        }
    }

    /// A complete, valid intake for `severity`.
    pub fn intake(&self, severity: pb::Severity) -> pb::Ticket {
        pb::Ticket {
            title: "Payroll run aborts".into(),
            channel: pb::Channel::Hotline as i32,
            category: pb::Category::Bug as i32,
            severity: severity as i32,
            customer_id: self.customer_id.clone(),
            contact_name: "Ms. Zhou".into(),
            contact_phone: "+86 21 5555 0100".into(),
            product_id: self.product_id.clone(),
            symptoms: "Run stops at 40% with a deadlock".into(),
            error_message: "ERR-5021".into(),
            impact_scope: "2,400 employees unpaid".into(),
            ..Default::default()
        }
    }

    /// Takes in a ticket.
    pub async fn ticket(&self, severity: pb::Severity) -> pb::Ticket {
        self.server
            .tickets()
            .create_ticket(authed(
                &self.manager,
                pb::CreateTicketRequest { request_id: request_id(), ticket: Some(self.intake(severity)) },
            ))
            .await
            .unwrap_or_else(|e| panic!("create ticket: {e}"))
            .into_inner()
    }

    /// Adds or replaces a part of the catalog.
    pub async fn part(&self, number: &str, lines: &[&str]) -> pb::Part {
        let part = pb::Part {
            part_number: number.into(),
            description: format!("part {number}"),
            unit_price: Some(pb::Money { minor_units: 12_900, currency_code: "CNY".into() }),
            product_lines: lines.iter().map(|l| (*l).to_owned()).collect(),
            active: true,
            update_time: None,
        };
        pb::catalog_service_client::CatalogServiceClient::new(self.server.channel.clone())
            .upsert_part(authed(&self.manager, pb::UpsertPartRequest { request_id: request_id(), part: Some(part) }))
            .await
            .unwrap_or_else(|e| panic!("upsert part: {e}"))
            .into_inner()
    }

    /// A slip of a new ticket, verified and dispatched to `engineer_id`.
    pub async fn dispatched_slip(&self, engineer_id: &str) -> pb::Slip {
        let ticket = self.ticket(pb::Severity::General).await;
        let slip = self.slip(&ticket).await;
        self.verify_and_dispatch(&slip, engineer_id).await
    }

    /// A new slip of `ticket`, verified: ready to dispatch.
    pub async fn verified_slip(&self, ticket: &pb::Ticket) -> pb::Slip {
        let slip = self.slip(ticket).await;
        self.verify(&slip).await
    }

    /// Verifies a new slip.
    pub async fn verify(&self, slip: &pb::Slip) -> pb::Slip {
        let action = pb::SlipActionRequest { request_id: request_id(), slip_id: slip.id.clone(), etag: String::new() };
        let verified = self.server.slips().verify_slip(authed(&self.manager, action)).await;
        verified.unwrap_or_else(|e| panic!("verify: {e}")).into_inner()
    }

    /// A new slip verified and dispatched to `engineer_id`.
    pub async fn verify_and_dispatch(&self, slip: &pb::Slip, engineer_id: &str) -> pb::Slip {
        self.verify(slip).await;
        let dispatch = pb::DispatchSlipRequest {
            request_id: request_id(),
            slip_id: slip.id.clone(),
            engineer_id: engineer_id.into(),
            ..Default::default()
        };
        self.server
            .slips()
            .dispatch_slip(authed(&self.manager, dispatch))
            .await
            .unwrap_or_else(|e| panic!("dispatch: {e}"))
            .into_inner()
    }

    /// A ticket of a second customer, whose free service ended in 2025, for no product on
    /// record: its visits are billable. Returns the ticket and the customer's site.
    pub async fn lapsed_ticket(&self) -> (pb::Ticket, String) {
        let customer = pb::Customer {
            name: "江南纺织有限公司".into(),
            warranty_start: Some(pb::Date { year: 2023, month: 1, day: 1 }),
            warranty_end: Some(pb::Date { year: 2025, month: 12, day: 31 }),
            sites: vec![pb::Site {
                name: "无锡工厂".into(),
                address: "无锡市新吴区长江路 88 号".into(),
                position: Some(pb::GeoPoint { latitude: 31.49, longitude: 120.31 }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let request = pb::CreateCustomerRequest { request_id: request_id(), customer: Some(customer) };
        let customer = self
            .server
            .customers()
            .create_customer(authed(&self.manager, request))
            .await
            .unwrap_or_else(|e| panic!("create customer: {e}"))
            .into_inner();
        let intake = pb::Ticket {
            customer_id: customer.id.clone(),
            product_id: String::new(),
            ..self.intake(pb::Severity::General)
        };
        let request = pb::CreateTicketRequest { request_id: request_id(), ticket: Some(intake) };
        let ticket = self
            .server
            .tickets()
            .create_ticket(authed(&self.manager, request))
            .await
            .unwrap_or_else(|e| panic!("create ticket: {e}"))
            .into_inner();
        (ticket, customer.sites[0].id.clone())
    }

    /// A slip of `ticket` at `site_id`, verified and dispatched to `engineer_id`.
    pub async fn dispatched_slip_at(&self, ticket: &pb::Ticket, site_id: &str, engineer_id: &str) -> pb::Slip {
        let create = pb::CreateSlipRequest {
            request_id: request_id(),
            ticket_id: ticket.id.clone(),
            site_id: site_id.into(),
            instructions: "Replace the fuser; back up first".into(),
            required_skills: Vec::new(),
            ..Default::default()
        };
        let slip = self.server.slips().create_slip(authed(&self.manager, create)).await;
        let slip = slip.unwrap_or_else(|e| panic!("create slip: {e}")).into_inner();
        self.verify_and_dispatch(&slip, engineer_id).await
    }

    /// A visit of the fixture's engineer walked to the customer's sign-off with `satisfaction`
    /// and `ratings` (service quality, product, support): on site, backed up, fixed (a software
    /// defect in warranty), signed.
    pub async fn signed_off_slip(&self, satisfaction: pb::Satisfaction, ratings: [i32; 3]) -> pb::Slip {
        let slip = self.dispatched_slip(&self.engineer_id).await;
        let (e, id) = (&self.engineer, slip.id.clone());
        let mut slips = self.server.slips();
        let ok = |r: Result<tonic::Response<pb::Slip>, tonic::Status>| r.unwrap_or_else(|e| panic!("the visit: {e}"));
        // Three hours apart for each new visit, so the engineer is never double-booked.
        let hours = 2 + 3 * i64::from(self.visits.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        let site = pb::GeoPoint { latitude: 31.2046, longitude: 121.5996 };
        self.arrive(e, &id, hours, "Ms. Zhou", site).await;
        let backup = pb::BackupRecord {
            kind: pb::BackupKind::Backup as i32,
            location: "USB disk".into(),
            ..visit::wire_backup()
        };
        let backup = pb::LogBackupRequest { request_id: request_id(), slip_id: id.clone(), backup: Some(backup) };
        ok(slips.log_backup(authed(e, backup)).await);
        let fix = pb::RecordFixRequest { request_id: request_id(), slip_id: id.clone(), fix: Some(visit::wire_fix()) };
        ok(slips.record_fix(authed(e, fix)).await);
        let sign_off = pb::SignOff {
            signer_name: "Ms. Zhou".into(),
            satisfaction: satisfaction as i32,
            service_quality_rating: ratings[0],
            product_rating: ratings[1],
            support_rating: ratings[2],
            customer_opinion: "The engineer came late".into(),
            ..Default::default()
        };
        let request = signed_sign_off(&self.server, e, &id, sign_off, &signature_png(3)).await;
        ok(slips.capture_sign_off(authed(e, request)).await).into_inner()
    }

    /// The assigned engineer (`token`) confirms the dispatched slip, books a window `hours` from
    /// now agreed with `contact`, travels and checks in at `site`.
    pub async fn arrive(&self, token: &str, slip_id: &str, hours: i64, contact: &str, site: pb::GeoPoint) {
        let mut slips = self.server.slips();
        let ok = |r: Result<tonic::Response<pb::Slip>, tonic::Status>| r.unwrap_or_else(|e| panic!("the visit: {e}"));
        let action =
            || pb::SlipActionRequest { request_id: request_id(), slip_id: slip_id.into(), etag: String::new() };
        ok(slips.confirm_slip(authed(token, action())).await);
        let book = pb::BookAppointmentRequest {
            request_id: request_id(),
            slip_id: slip_id.into(),
            window: Some(window(hours)),
            contact_name: contact.into(),
            ..Default::default()
        };
        ok(slips.book_appointment(authed(token, book)).await);
        ok(slips.start_travel(authed(token, action())).await);
        let check_in = pb::CheckInRequest {
            request_id: request_id(),
            slip_id: slip_id.into(),
            etag: String::new(),
            position: Some(site),
        };
        ok(slips.check_in(authed(token, check_in)).await);
    }

    /// Opens a slip for `ticket` at the fixture's site.
    pub async fn slip(&self, ticket: &pb::Ticket) -> pb::Slip {
        self.server
            .slips()
            .create_slip(authed(
                &self.manager,
                pb::CreateSlipRequest {
                    request_id: request_id(),
                    ticket_id: ticket.id.clone(),
                    site_id: self.site_id.clone(),
                    instructions: "Diagnose the payroll deadlock; back up first".into(),
                    required_skills: vec!["payroll".into()],
                    ..Default::default()
                },
            ))
            .await
            .unwrap_or_else(|e| panic!("create slip: {e}"))
            .into_inner()
    }
}

/// The password the harness gives the first-start administrator.
pub const ADMIN_PASSWORD: &str = "first start, then changed";

/// Sets the first-start administrator's password with the setup code the server printed, and
/// gives the tests a long-lived API token of the administrator.
async fn admin_api_token(channel: &Channel, setup_code: &str) -> String {
    let setup = pb::CompleteSetupRequest { setup_code: setup_code.into(), new_password: ADMIN_PASSWORD.into() };
    let session = pb::auth_service_client::AuthServiceClient::new(channel.clone())
        .complete_setup(setup)
        .await
        .unwrap_or_else(|e| panic!("completing the administrator's setup: {e}"))
        .into_inner();
    let user_id = session.user.map(|u| u.id).unwrap_or_default();
    let create = pb::CreateTokenRequest { request_id: request_id(), user_id, label: "tests".into() };
    pb::admin_service_client::AdminServiceClient::new(channel.clone())
        .create_token(authed(&session.access_token, create))
        .await
        .unwrap_or_else(|e| panic!("creating the administrator's API token: {e}"))
        .into_inner()
        .token
}

/// Creates a user with `role` and returns a token for it.
pub async fn new_login(server: &TestServer, admin: &str, name: &str, role: pb::Role, engineer_id: &str) -> String {
    let user = server
        .admin()
        .create_user(authed(
            admin,
            pb::CreateUserRequest {
                request_id: request_id(),
                user: Some(pb::User {
                    name: name.into(),
                    role: role as i32,
                    engineer_id: engineer_id.into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("create user: {e}"))
        .into_inner();
    server
        .admin()
        .create_token(authed(
            admin,
            pb::CreateTokenRequest { request_id: request_id(), user_id: user.id, label: "tests".into() },
        ))
        .await
        .unwrap_or_else(|e| panic!("create token: {e}"))
        .into_inner()
        .token
}

/// Creates a user with `login` who signs in with `password` (set through a one-time setup
/// code, as a person would); returns the user.
pub async fn password_user(
    server: &TestServer,
    admin: &str,
    login: &str,
    password: &str,
    role: pb::Role,
    engineer_id: &str,
) -> pb::User {
    let create = pb::CreateUserRequest {
        request_id: request_id(),
        user: Some(pb::User {
            name: login.into(),
            login: login.into(),
            role: role as i32,
            engineer_id: engineer_id.into(),
            ..Default::default()
        }),
    };
    let user = server.admin().create_user(authed(admin, create)).await;
    let user = user.unwrap_or_else(|e| panic!("create user: {e}")).into_inner();
    let issue = pb::IssueSetupCodeRequest { user_id: user.id.clone() };
    let code = server.admin().issue_setup_code(authed(admin, issue)).await;
    let code = code.unwrap_or_else(|e| panic!("setup code: {e}")).into_inner().code;
    let setup = pb::CompleteSetupRequest { setup_code: code, new_password: password.into() };
    server.auth().complete_setup(setup).await.unwrap_or_else(|e| panic!("complete setup: {e}"));
    user
}

/// Creates a field engineer (tier 2, payroll and database, Shanghai) and a login for them.
pub async fn new_engineer(
    server: &TestServer,
    admin: &str,
    manager: &str,
    number: &str,
    name: &str,
) -> (String, String) {
    let engineer = server
        .engineers()
        .create_engineer(authed(
            manager,
            pb::CreateEngineerRequest {
                request_id: request_id(),
                engineer: Some(pb::Engineer {
                    employee_number: number.into(),
                    name: name.into(),
                    tier: pb::Tier::Field as i32,
                    skills: vec!["payroll".into(), "database".into()],
                    home_base: Some(pb::GeoPoint { latitude: 31.23, longitude: 121.47 }),
                    shift: "Mon-Fri 08:30-17:30".into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("create engineer: {e}"))
        .into_inner();
    let token = new_login(server, admin, name, pb::Role::Engineer, &engineer.id).await;
    (engineer.id, token)
}

/// A sign-off request for the slip as the engineer (`token`) sees it now, signed by a device
/// registered for them on the spot, with `png` as the signature image.
pub async fn signed_sign_off(
    server: &TestServer,
    token: &str,
    slip_id: &str,
    sign_off: pb::SignOff,
    png: &[u8],
) -> pb::CaptureSignOffRequest {
    use onsite_proto::signoff;
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::now_v7().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::now_v7().as_bytes());
    let device_id = uuid::Uuid::now_v7().to_string();
    let register = pb::RegisterDeviceRequest {
        device_id: device_id.clone(),
        public_key: signoff::public_key(&key).to_vec(),
        label: "test device".into(),
    };
    server.sync().register_device(authed(token, register)).await.unwrap_or_else(|e| panic!("register device: {e}"));
    let slip = server
        .slips()
        .get_slip(authed(token, pb::GetSlipRequest { id: slip_id.to_owned() }))
        .await
        .map(tonic::Response::into_inner)
        .unwrap_or_default();
    let sign_off = pb::SignOff {
        signature_png_sha256: signoff::sha256_hex(png),
        device_id,
        signed_at: Some(prost_types::Timestamp { seconds: chrono::Utc::now().timestamp(), nanos: 0 }),
        ..sign_off
    };
    let sign_off = signoff::seal(&key, &slip, sign_off);
    pb::CaptureSignOffRequest {
        request_id: request_id(),
        slip_id: slip_id.to_owned(),
        sign_off: Some(sign_off),
        signature_png: png.to_vec(),
    }
}

/// A small seeded generator (xorshift), so randomized tests replay from their seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The header of a 16 x 16 JPEG (start of image, then a start-of-frame marker that names the
/// size), enough for the phone to take bytes after it as a photo.
pub const JPEG_HEADER: [u8; 15] =
    [0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00];

/// A real signature image, drawn from a few strokes; `variant` moves the pen, so different
/// variants give different images.
pub fn signature_png(variant: u8) -> Vec<u8> {
    use onsite_sdk::StrokePoint;
    let dy = f32::from(variant % 50);
    let strokes = vec![vec![
        StrokePoint { x: 20.0, y: 20.0 + dy, t_ms: 0, pressure: 0.5 },
        StrokePoint { x: 150.0, y: 60.0, t_ms: 200, pressure: 0.8 },
        StrokePoint { x: 280.0, y: 30.0 + dy, t_ms: 400, pressure: 0.6 },
    ]];
    onsite_sdk::signature::render_png(&strokes, 320, 120).unwrap_or_else(|e| panic!("signature: {e}"))
}

/// The answer to a plain HTTP/1.1 GET of `path` (a metrics scrape), read up to its
/// Content-Length: the exporter keeps the connection open.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap_or_else(|e| panic!("{e}"));
    let mut received = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| body.len() >= n) {
                return text;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return text,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A free port on the loopback interface, for a listener a process opens itself.
pub fn free_loopback_addr() -> std::net::SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    probe.local_addr().unwrap_or_else(|e| panic!("{e}"))
}

/// Waits until `time` (an access token's expiry) has passed. A black-box client gets an
/// expired token only by waiting it out: the condition waited on is the clock itself.
pub async fn wait_past(time: Option<&prost_types::Timestamp>) {
    let at = time.map_or(0, |t| t.seconds.saturating_mul(1000) + i64::from(t.nanos / 1_000_000));
    let left = at.saturating_sub(chrono::Utc::now().timestamp_millis()).max(0) + 50;
    tokio::time::sleep(Duration::from_millis(u64::try_from(left).unwrap_or(0))).await;
}
