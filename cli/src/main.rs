//! `onsitectl`: the dispatcher's and administrator's console for an Onsite server.
//!
//! Reads the server address from `--server` / `ONSITE_SERVER` and the bearer token from
//! `--token` / `ONSITE_TOKEN`, and prints human-readable tables.

mod table;

use clap::{Parser, Subcommand};
use onsite_proto::v1 as pb;
use tonic::Request;
use tonic::transport::Channel;

use table::Table;

/// Console for the Onsite field-service server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Server address.
    #[arg(long, env = "ONSITE_SERVER", default_value = "http://127.0.0.1:50051", global = true)]
    server: String,
    /// Bearer token (printed by the server on first start or by --demo).
    #[arg(long, env = "ONSITE_TOKEN", default_value = "", hide_env_values = true, global = true)]
    token: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Who the token belongs to.
    Whoami,
    /// Lists tickets, newest first.
    Tickets {
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
    /// Shows one ticket (by id or TS number) with its history.
    Ticket { id: String },
    /// Lists slips, newest first.
    Slips {
        /// Only this engineer's slips.
        #[arg(long)]
        engineer: Option<String>,
    },
    /// Shows one slip with its audit history.
    Slip { id: String },
    /// Lists engineers.
    Engineers,
    /// Lists customers.
    Customers,
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

fn authed<T>(token: &str, message: T) -> Result<Request<T>> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

async fn run(cli: Cli) -> Result {
    let channel =
        Channel::from_shared(cli.server.clone())?.connect().await.map_err(|e| format!("{}: {e}", cli.server))?;
    let token = cli.token.as_str();
    match cli.command {
        Command::Whoami => {
            let mut admin = pb::admin_service_client::AdminServiceClient::new(channel);
            let me = admin.who_am_i(authed(token, pb::WhoAmIRequest {})?).await?.into_inner();
            println!("{} ({}), user {}", me.name, role(me.role), me.id);
        }
        Command::Tickets { status, severity, breached } => {
            let status = match status.as_deref() {
                None => 0,
                Some(s) => pb::TicketStatus::from_str_name(&format!("TICKET_STATUS_{}", s.to_uppercase()))
                    .ok_or_else(|| format!("unknown status {s:?}"))? as i32,
            };
            let mut tickets = pb::ticket_service_client::TicketServiceClient::new(channel);
            let request = pb::ListTicketsRequest {
                page_size: 200,
                status,
                severity: severity.unwrap_or(0),
                sla_breached: breached.then_some(true),
                ..Default::default()
            };
            let list = tickets.list_tickets(authed(token, request)?).await?.into_inner();
            let mut table = Table::new(["NUMBER", "SEV", "TIER", "STATUS", "SLA", "TITLE"]);
            for t in &list.tickets {
                let sla = t.sla.unwrap_or_default();
                let breach = if sla.response_breached || sla.resolution_breached { "BREACHED" } else { "ok" };
                table.row([
                    t.number.clone(),
                    t.severity.to_string(),
                    t.tier.to_string(),
                    short(
                        pb::TicketStatus::try_from(t.status).map(|s| s.as_str_name()).unwrap_or("?"),
                        "TICKET_STATUS_",
                    ),
                    breach.to_owned(),
                    t.title.clone(),
                ]);
            }
            table.print();
        }
        Command::Ticket { id } => {
            let mut tickets = pb::ticket_service_client::TicketServiceClient::new(channel);
            let t = tickets.get_ticket(authed(token, pb::GetTicketRequest { id: id.clone() })?).await?.into_inner();
            println!("{}  {}", t.number, t.title);
            println!(
                "severity {}  tier {}  customer {}  contact {}",
                t.severity, t.tier, t.customer_id, t.contact_name
            );
            println!("symptoms: {}\nimpact: {}", t.symptoms, t.impact_scope);
            let events = tickets.list_ticket_events(authed(token, pb::ListTicketEventsRequest { id })?).await?;
            let mut table = Table::new(["WHEN", "ACTION", "DETAIL"]);
            for e in events.into_inner().events {
                table.row([time(e.time.as_ref()), e.action, e.detail]);
            }
            table.print();
        }
        Command::Slips { engineer } => {
            let mut slips = pb::slip_service_client::SlipServiceClient::new(channel);
            let request = pb::ListSlipsRequest {
                page_size: 200,
                engineer_id: engineer.unwrap_or_default(),
                ..Default::default()
            };
            let list = slips.list_slips(authed(token, request)?).await?.into_inner();
            let mut table = Table::new(["SLIP", "TICKET", "VISIT", "STATE", "ENGINEER"]);
            for s in &list.slips {
                table.row([
                    s.id.clone(),
                    s.ticket_number.clone(),
                    s.visit_number.to_string(),
                    short(pb::SlipState::try_from(s.state).map(|s| s.as_str_name()).unwrap_or("?"), "SLIP_STATE_"),
                    s.engineer_id.clone(),
                ]);
            }
            table.print();
        }
        Command::Slip { id } => {
            let mut slips = pb::slip_service_client::SlipServiceClient::new(channel);
            let s = slips.get_slip(authed(token, pb::GetSlipRequest { id: id.clone() })?).await?.into_inner();
            let state = pb::SlipState::try_from(s.state).map(|s| s.as_str_name()).unwrap_or("?");
            println!(
                "slip {} (ticket {}, visit {}): {}",
                s.id,
                s.ticket_number,
                s.visit_number,
                short(state, "SLIP_STATE_")
            );
            let events = slips.list_slip_events(authed(token, pb::ListSlipEventsRequest { id })?).await?;
            let mut table = Table::new(["WHEN", "ACTION", "FROM", "TO", "BY", "DETAIL"]);
            for e in events.into_inner().events {
                let state =
                    |n: i32| short(pb::SlipState::try_from(n).map(|s| s.as_str_name()).unwrap_or(""), "SLIP_STATE_");
                table.row([
                    time(e.server_time.as_ref()),
                    e.action,
                    state(e.from_state),
                    state(e.to_state),
                    role(e.actor_role),
                    e.detail,
                ]);
            }
            table.print();
        }
        Command::Engineers => {
            let mut engineers = pb::engineer_service_client::EngineerServiceClient::new(channel);
            let list = engineers
                .list_engineers(authed(token, pb::ListEngineersRequest { page_size: 200, ..Default::default() })?)
                .await?
                .into_inner();
            let mut table = Table::new(["NO.", "NAME", "TIER", "SKILLS", "ID"]);
            for e in list.engineers {
                table.row([e.employee_number, e.name, e.tier.to_string(), e.skills.join(","), e.id]);
            }
            table.print();
        }
        Command::Customers => {
            let mut customers = pb::customer_service_client::CustomerServiceClient::new(channel);
            let list = customers
                .list_customers(authed(token, pb::ListCustomersRequest { page_size: 200, ..Default::default() })?)
                .await?
                .into_inner();
            let mut table = Table::new(["NAME", "PROJECT", "ID"]);
            for c in list.customers {
                table.row([c.name, c.project_name, c.id]);
            }
            table.print();
        }
    }
    Ok(())
}

fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_lowercase()
}

fn role(n: i32) -> String {
    short(pb::Role::try_from(n).map(|r| r.as_str_name()).unwrap_or("?"), "ROLE_")
}

fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
