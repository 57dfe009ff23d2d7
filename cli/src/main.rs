//! `onsitectl`: the dispatcher's and administrator's console for an Onsite server.
//!
//! Reads the server address from `--server` / `ONSITE_SERVER` and the bearer token from
//! `--token` / `ONSITE_TOKEN`. Prints aligned tables, or JSON with `--json`.
//!
//! - [`account`]: setup, sign-in, enrolment codes, the audit log.
//! - [`desk`]: tickets, slips, engineers, customers.
//! - [`dispatch`]: suggestions, assigning, appointments.
//! - [`board`]: the live board; [`map`]: the board drawn as SVG.
//! - [`table`]: tables and reports; [`text`]: how values are shown.

mod account;
mod board;
mod desk;
mod dispatch;
mod follow_ups;
mod map;
mod quotes;
mod reports;
mod slips;
mod table;
mod text;
mod tickets;

use clap::{Parser, Subcommand};
use tonic::Request;
use tonic::transport::Channel;

/// Console for the Onsite field-service server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Server address.
    #[arg(long, env = "ONSITE_SERVER", default_value = "http://127.0.0.1:50051", global = true)]
    server: String,
    /// CA certificate (PEM file) of a server with a self-issued certificate, for https.
    #[arg(long, env = "ONSITE_CA_CERT", global = true)]
    ca_cert: Option<std::path::PathBuf>,
    /// Bearer token (from `setup` or `sign-in`, or printed by --demo).
    #[arg(long, env = "ONSITE_TOKEN", default_value = "", hide_env_values = true, global = true)]
    token: String,
    /// Print JSON instead of tables (one object; one per line for `board --watch`).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sets a password with a one-time setup code (the first start prints one) and signs in.
    Setup {
        #[arg(long)]
        code: String,
    },
    /// Signs in with a login and password (from ONSITE_PASSWORD or standard input).
    SignIn {
        #[arg(long)]
        login: String,
    },
    /// Issues a one-time code an engineer enrols a phone with.
    EnrolmentCode {
        /// The engineer's id.
        #[arg(long)]
        engineer: String,
    },
    /// The security audit log, newest first.
    Audit {
        /// Only this kind, e.g. sign_in_failed.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
    /// Who the token belongs to.
    Whoami,
    /// Lists tickets, newest first, or with --queue in the desk's order.
    Tickets {
        /// The desk's queue: bugs first, then by severity, then the oldest first.
        #[arg(long)]
        queue: bool,
        /// Only this status: open, in_progress, resolved, closed.
        #[arg(long)]
        status: Option<String>,
        /// Only this severity: 1 urgent, 2 important, 3 general.
        #[arg(long)]
        severity: Option<i32>,
        /// Only tickets whose SLA is breached.
        #[arg(long)]
        breached: bool,
    },
    /// Takes a fault report in as a ticket.
    Intake {
        /// The customer's id.
        #[arg(long)]
        customer: String,
        #[arg(long)]
        title: String,
        /// 1 urgent, 2 important, 3 general.
        #[arg(long)]
        severity: i32,
        /// bug, change or other.
        #[arg(long, default_value = "bug")]
        category: String,
        /// hotline, email, web, chat, remote or onsite.
        #[arg(long, default_value = "hotline")]
        channel: String,
        /// Who reported it.
        #[arg(long)]
        contact: String,
        #[arg(long, default_value = "")]
        phone: String,
        /// The installed product's id, when it is on record.
        #[arg(long, default_value = "")]
        product: String,
        /// What the customer sees.
        #[arg(long)]
        symptoms: String,
        /// Who and what is affected.
        #[arg(long)]
        impact: String,
    },
    /// Escalates a ticket (id or TS number) one tier up.
    Escalate {
        ticket: String,
        #[arg(long)]
        reason: String,
    },
    /// Closes a ticket (id or TS number) with how it ended.
    Close {
        ticket: String,
        #[arg(long)]
        note: String,
    },
    /// Opens a slip (a visit) for a ticket (id or TS number) at one of its customer's sites.
    OpenSlip {
        ticket: String,
        /// The site's id.
        #[arg(long)]
        site: String,
        /// The agreed solution plan.
        #[arg(long)]
        instructions: String,
        /// installation, repair or maintenance.
        #[arg(long, default_value = "repair")]
        kind: String,
    },
    /// Verifies a draft slip's on-site request.
    Verify { slip: String },
    /// Writes a completed or cancelled slip off: resolved, follow-up or escalate.
    WriteOff {
        slip: String,
        #[arg(long)]
        outcome: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Shows one ticket (by id or TS number) with its history.
    Ticket { id: String },
    /// Lists slips, newest first.
    Slips {
        /// Only this engineer's slips (id or employee number).
        #[arg(long)]
        engineer: Option<String>,
    },
    /// Shows one slip with its audit history.
    Slip { id: String },
    /// Lists engineers with status and last known position.
    Engineers,
    /// Lists customers.
    Customers,
    /// Ranks engineers for a slip, or for a position with --at.
    Suggest {
        /// The slip (its site, skills, tier and urgency are used).
        slip: Option<String>,
        /// A bare position instead of a slip: LAT,LON.
        #[arg(long, conflicts_with = "slip")]
        at: Option<String>,
        /// Required skill (repeatable).
        #[arg(long = "skill")]
        skills: Vec<String>,
        /// The window, START/END in RFC 3339 (default: the slip's appointment or the next 2 h).
        #[arg(long)]
        window: Option<String>,
        /// At most this many suggestions.
        #[arg(long, default_value_t = 5)]
        limit: i32,
        /// Search radius in km (default 100; urgent slips widen it).
        #[arg(long)]
        radius: Option<f64>,
    },
    /// Dispatches a slip to an engineer (id or employee number). Replacing an engineer who is
    /// on the way or on site needs --reason.
    Assign {
        slip: String,
        engineer: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Dispatches a slip to the best suggestion.
    AutoAssign { slip: String },
    /// Books (or, with --reason, reschedules) a slip's appointment window.
    Book {
        slip: String,
        /// START/END in RFC 3339.
        #[arg(long)]
        window: String,
        /// The customer's contact who agreed the window.
        #[arg(long, default_value = "")]
        contact: String,
        /// Reschedule: why the window moves.
        #[arg(long)]
        reason: Option<String>,
        /// Reschedule: the customer was told.
        #[arg(long)]
        informed: bool,
    },
    /// An engineer's appointments (id or employee number): today, or from --from for --days.
    Appointments {
        engineer: String,
        /// First day, YYYY-MM-DD (UTC); default today.
        #[arg(long)]
        from: Option<String>,
        /// How many days (1-31).
        #[arg(long, default_value_t = 1)]
        days: i64,
    },
    /// The board: open slips and engineers; with --watch, streams changes as they happen.
    Board {
        /// Keep streaming events.
        #[arg(long)]
        watch: bool,
        /// Resume after this cursor (with --watch).
        #[arg(long, default_value = "")]
        cursor: String,
    },
    /// Follow-ups on unhappy customers, open ones first by due time.
    FollowUps {
        /// Also the closed ones.
        #[arg(long)]
        all: bool,
    },
    /// Closes a follow-up with what was done.
    CloseFollowUp {
        id: String,
        /// What was done: called the customer, sent an engineer back...
        #[arg(long)]
        outcome: String,
    },
    /// Drafts a quote for a slip's billable work.
    Quote {
        slip: String,
        /// KIND:PART:DESCRIPTION:QTY:PRICE:CURRENCY, e.g. part:PSU-750:Power supply:1:650.00:CNY
        /// (repeatable; the price in major units).
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
    },
    /// Sets a cost line billable (or free, with --free) against the rule, with a reason.
    OverrideBillable {
        slip: String,
        line: String,
        /// Free instead of billable.
        #[arg(long)]
        free: bool,
        #[arg(long)]
        reason: String,
    },
    /// Records the customer's decision on a quote, confirmed to the desk by phone or e-mail.
    DecideQuote {
        quote: String,
        /// The customer accepted (without it: declined).
        #[arg(long)]
        accept: bool,
        /// phone or email.
        #[arg(long, default_value = "phone")]
        channel: String,
        /// Who decided at the customer.
        #[arg(long)]
        by: String,
        /// The desk's record: when they called, the e-mail's subject.
        #[arg(long)]
        note: String,
    },
    /// Writes a slip's service report (PDF): the visit, costs, data custody and signature.
    Report {
        slip: String,
        /// Where to write the PDF.
        #[arg(long, default_value = "report.pdf")]
        out: std::path::PathBuf,
        /// The labels' language: zh-CN or en (default: the server's).
        #[arg(long = "report-lang", default_value = "")]
        lang: String,
    },
    /// A month's statistics: visits, person-days, costs and KPIs, for the team and per
    /// engineer, product line and customer.
    Stats {
        /// The month, YYYY-MM.
        #[arg(long)]
        month: String,
        /// An archived revision (default: the latest, or live figures before archiving).
        #[arg(long, default_value_t = 0)]
        revision: i32,
        /// Print the figures as CSV.
        #[arg(long)]
        csv: bool,
    },
    /// Draws engineers, open slips and assignment lines as an SVG picture.
    Map {
        /// Where to write the SVG.
        #[arg(long, default_value = "board.svg")]
        out: std::path::PathBuf,
        /// Picture width in pixels.
        #[arg(long, default_value_t = 1000)]
        width: u32,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("onsitectl: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The connection and credentials every command uses.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub channel: Channel,
    token: String,
}

impl Ctx {
    /// A request carrying the bearer token.
    pub fn req<T>(&self, message: T) -> Result<Request<T>> {
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", format!("Bearer {}", self.token).parse()?);
        Ok(request)
    }
}

async fn run(cli: Cli) -> Result {
    let mut endpoint = Channel::from_shared(cli.server.clone())?;
    if cli.server.starts_with("https:") {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_webpki_roots();
        if let Some(path) = &cli.ca_cert {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        endpoint = endpoint.tls_config(tls)?;
    }
    let channel = endpoint.connect().await.map_err(|e| format!("{}: {e}", cli.server))?;
    let ctx = Ctx { channel, token: cli.token.clone() };
    let report = match cli.command {
        Command::Setup { code } => account::setup(&ctx, code).await?,
        Command::SignIn { login } => account::sign_in(&ctx, login).await?,
        Command::EnrolmentCode { engineer } => account::enrolment_code(&ctx, engineer).await?,
        Command::Audit { kind, limit } => account::audit(&ctx, kind, limit).await?,
        Command::Whoami => desk::whoami(&ctx).await?,
        Command::Tickets { queue, status, severity, breached } => {
            desk::tickets(&ctx, desk::TicketQuery { status, severity, breached, queue }).await?
        }
        Command::Ticket { id } => desk::ticket(&ctx, id).await?,
        Command::Intake { customer, title, severity, category, channel, contact, phone, product, symptoms, impact } => {
            let intake = tickets::Intake {
                customer,
                title,
                severity,
                category,
                channel,
                contact,
                phone,
                product,
                symptoms,
                impact,
            };
            tickets::intake(&ctx, intake).await?
        }
        Command::Escalate { ticket, reason } => tickets::escalate(&ctx, &ticket, reason).await?,
        Command::Close { ticket, note } => tickets::close(&ctx, &ticket, note).await?,
        Command::OpenSlip { ticket, site, instructions, kind } => {
            slips::open(&ctx, &ticket, site, instructions, &kind).await?
        }
        Command::Verify { slip } => slips::verify(&ctx, slip).await?,
        Command::WriteOff { slip, outcome, note } => slips::write_off(&ctx, slip, &outcome, note).await?,
        Command::Slips { engineer } => desk::slips(&ctx, engineer).await?,
        Command::Slip { id } => desk::slip(&ctx, id).await?,
        Command::Engineers => desk::engineers(&ctx).await?,
        Command::Customers => desk::customers(&ctx).await?,
        Command::Suggest { slip, at, skills, window, limit, radius } => {
            let ask = dispatch::Ask { slip, at, skills, window, limit, radius };
            dispatch::suggest(&ctx, ask).await?
        }
        Command::Assign { slip, engineer, reason } => dispatch::assign(&ctx, &slip, &engineer, &reason).await?,
        Command::AutoAssign { slip } => dispatch::auto_assign(&ctx, &slip).await?,
        Command::Book { slip, window, contact, reason, informed } => {
            dispatch::book(&ctx, &slip, &window, contact, reason, informed).await?
        }
        Command::Appointments { engineer, from, days } => {
            dispatch::appointments(&ctx, &engineer, from.as_deref(), days).await?
        }
        Command::Board { watch: true, cursor } => return board::watch(&ctx, cursor, cli.json).await,
        Command::Board { watch: false, .. } => board::snapshot(&ctx).await?,
        Command::Map { out, width } => map::draw(&ctx, &out, width).await?,
        Command::FollowUps { all } => follow_ups::list(&ctx, all).await?,
        Command::Quote { slip, lines } => quotes::create(&ctx, slip, &lines).await?,
        Command::OverrideBillable { slip, line, free, reason } => {
            slips::override_billable(&ctx, slip, line, !free, reason).await?
        }
        Command::DecideQuote { quote, accept, channel, by, note } => {
            quotes::decide(&ctx, quotes::Decision { quote, accepted: accept, channel, by, note }).await?
        }
        Command::CloseFollowUp { id, outcome } => follow_ups::close(&ctx, id, outcome).await?,
        Command::Report { slip, out, lang } => reports::service_report(&ctx, slip, &out, lang).await?,
        Command::Stats { month, revision, csv } => match reports::statistics(&ctx, &month, revision, csv).await? {
            Some(report) => report,
            // CSV went to standard output already.
            None => return Ok(()),
        },
    };
    report.print(cli.json);
    Ok(())
}
