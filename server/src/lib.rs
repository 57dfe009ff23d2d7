//! The Onsite server: tickets, dispatch slips, customers and engineers over gRPC, stored with
//! sea-orm in SQLite (embedded default) or PostgreSQL.
//!
//! # Layout
//! - [`run`]: serves on an already-bound listener until a shutdown future resolves.
//! - [`app`]: configuration and the state shared by the services.
//! - [`api`]: the gRPC handlers, thin: authenticate, validate, call [`repo`], convert back.
//! - [`repo`]: what each request does to the database, in one transaction.
//! - [`store`]: connection, entities and migrations.
//! - [`auth`]: bearer tokens and roles; [`idempotency`]: AIP-155; [`pagination`]: AIP-158.
//! - [`dispatch`]: the engineer index (nearest suitable engineer) and the live board feed.
//! - [`sla_watch`]: escalates tickets whose SLA is breached.
//! - [`demo`]: the try-it data set.
//! - [`console`]: the dispatcher's web console, embedded and served on the gRPC port.
//! - [`error`]: the error type and its one mapping to gRPC status codes.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod console;
pub mod demo;
pub mod dispatch;
pub mod encoded;
pub mod error;
pub mod feed;
pub mod idempotency;
pub mod kept;
pub mod lifecycle;
pub mod metrics;
pub mod pagination;
pub mod repo;
pub mod report;
pub mod sla_watch;
pub mod slip_views;
pub mod statistics;
pub mod store;
pub mod sync;
pub mod throttle;
pub mod views;
pub mod visit;

use std::future::Future;
use std::sync::Arc;

use onsite_proto::v1 as pb;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tonic::codec::CompressionEncoding;
use tonic_health::ServingStatus;

pub use app::Config;
pub use error::{Error, Result};

/// What the server reports once migrations ran and it serves requests.
#[derive(Debug)]
pub struct Ready {
    /// The one-time code with which the administrator (`admin`) sets a password: on every start
    /// until they have (each start voids the code before).
    pub admin_setup_code: Option<String>,
    /// Logins of the demo data set, when it was seeded now.
    pub demo: Option<demo::DemoLogins>,
}

/// Serves on `listener` until `shutdown` resolves.
///
/// Health answers NOT_SERVING (and every other service UNAVAILABLE) until the database is
/// migrated; then `ready` receives the start-up report.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: Option<oneshot::Sender<Ready>>,
) -> Result<()> {
    let shared = app::Shared::default();
    let decode_limit = config.max_push_bytes.saturating_mul(2).max(4 * 1024 * 1024);
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::NotServing).await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(onsite_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1().map_err(|e| Error::Internal(format!("reflection: {e}")))?;
    // Older tools (grpcio's Python client among them) speak only v1alpha.
    let reflection_v1alpha = reflection().build_v1alpha().map_err(|e| Error::Internal(format!("reflection: {e}")))?;

    if let Some(addr) = config.metrics_listen {
        metrics::install(addr).map_err(Error::Internal)?;
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut server_stop = stop_rx.clone();
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &config.tls {
        let mut settings = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(&tls.certificate, &tls.key));
        if let Some(ca) = &tls.client_ca {
            settings = settings.client_ca_root(tonic::transport::Certificate::from_pem(ca));
        }
        builder = builder.tls_config(settings).map_err(|e| Error::Internal(format!("TLS: {e}")))?;
    }
    let page = console::PageSettings { time_zone: config.calendar.time_zone().name().to_owned() };
    let router = builder
        // Browsers speak HTTP/1.1 and gRPC-Web: the console is served and calls the API here.
        .accept_http1(true)
        .trace_fn(|req| tracing::info_span!("grpc", method = %req.uri().path()))
        .layer(console::ConsoleLayer::new(&page))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(tower::util::MapRequestLayer::new(audit::note_path))
        .layer(tower::util::option_layer(config.metrics_listen.map(|_| metrics::RpcTimer)))
        // Bounded work per connection and per call: a slow or hostile peer cannot pile up work.
        .max_concurrent_streams(Some(256))
        .timeout(std::time::Duration::from_secs(60))
        // A phone that vanished without closing its connection is noticed within about 30 s.
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(
            pb::admin_service_server::AdminServiceServer::new(api::admin::Admin { shared: shared.clone() })
                .accept_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            pb::auth_service_server::AuthServiceServer::new(api::auth::Auth { shared: shared.clone() })
                .accept_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            pb::ticket_service_server::TicketServiceServer::new(api::tickets::Tickets { shared: shared.clone() })
                .accept_compressed(CompressionEncoding::Gzip),
        )
        .add_service(api::slip_routes::SlipRoutes::new(api::slips::Slips { shared: shared.clone() }))
        .add_service(
            pb::customer_service_server::CustomerServiceServer::new(api::customers::Customers {
                shared: shared.clone(),
            })
            .accept_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            pb::engineer_service_server::EngineerServiceServer::new(api::engineers::Engineers {
                shared: shared.clone(),
            })
            .accept_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            pb::dispatch_service_server::DispatchServiceServer::new(api::dispatch::Dispatch {
                shared: shared.clone(),
                stop: stop_rx.clone(),
            })
            .accept_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            pb::sync_service_server::SyncServiceServer::new(api::sync::Sync { shared: shared.clone() })
                // Pushes, pulls and uploads are mostly text: compressed, they cost a slow
                // link a fraction of the time.
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip)
                // Larger pushes than the advertised limit still arrive and are refused with
                // BATCH_TOO_LARGE, so the device learns to split them.
                .max_decoding_message_size(decode_limit),
        )
        .add_service(
            pb::catalog_service_server::CatalogServiceServer::new(api::catalog::Catalog { shared: shared.clone() })
                .accept_compressed(CompressionEncoding::Gzip),
        )
        .add_service(pb::report_service_server::ReportServiceServer::new(api::reports::Reports {
            shared: shared.clone(),
        }))
        .add_service(pb::quote_service_server::QuoteServiceServer::new(api::quotes::Quotes { shared: shared.clone() }))
        .add_service(pb::follow_up_service_server::FollowUpServiceServer::new(api::follow_ups::FollowUps {
            shared: shared.clone(),
        }));
    // Without TCP_NODELAY an answer written in two segments waits for the client's delayed
    // ACK (40 ms on Linux): every call larger than a few hundred bytes would take that long.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let serving = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async move {
        let _ = server_stop.wait_for(|stop| *stop).await;
    }));

    let (app, report) = match start(config).await {
        Ok(started) => started,
        Err(e) => {
            serving.abort();
            return Err(e);
        }
    };
    shared.set(app.clone());
    health.set_service_status("", ServingStatus::Serving).await;
    tracing::info!("ready");
    if let Some(ready) = ready {
        let _ = ready.send(report);
    }
    tokio::spawn(sla_watch::watch(app.clone(), stop_rx.clone()));
    tokio::spawn(statistics::schedule::watch(app.clone(), stop_rx.clone()));
    tokio::spawn(app::follow_board(app, stop_rx));

    serving.await.map_err(|e| Error::Internal(format!("server task: {e}")))?.map_err(|e| Error::Internal(e.to_string()))
}

/// Connects, migrates, bootstraps the admin and seeds the demo data.
async fn start(config: Config) -> Result<(Arc<app::App>, Ready)> {
    let db = store::connect(&config.database_url).await?;
    let applied = store::migrations::migrate(&db).await?;
    tracing::info!(applied, "database migrated");
    let first_admin = auth::users::first_admin(&db).await?;
    let app = Arc::new(app::App::open(db, config).await?);
    let admin_setup_code = match first_admin {
        Some(admin) => {
            let cx = app.sign_in_context("server start");
            Some(auth::sign_in::issue_code(&cx, &admin, auth::codes::Purpose::Setup, None).await?.0)
        }
        None => None,
    };
    let demo = if app.config.demo { demo::seed(&app).await? } else { None };
    Ok((app, Ready { admin_setup_code, demo }))
}
