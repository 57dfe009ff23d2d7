//! Signing in and the security records: the first-start setup, password sign-in, a phone's
//! enrolment code, and the audit log. Passwords come from `ONSITE_PASSWORD` or the first line
//! of standard input, never from the command line, where other users of the machine see them.

use onsite_proto::v1 as pb;
use pb::admin_service_client::AdminServiceClient;
use pb::auth_service_client::AuthServiceClient;
use pb::engineer_service_client::EngineerServiceClient;

use crate::table::{Report, Table};
use crate::text::{role, time};
use crate::{Ctx, Result};

/// The password to use: `ONSITE_PASSWORD`, or a line read from standard input.
fn password() -> Result<String> {
    if let Ok(password) = std::env::var("ONSITE_PASSWORD") {
        return Ok(password);
    }
    eprintln!("Password (then Enter):");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Sets the password with a one-time setup code and signs in.
pub async fn setup(ctx: &Ctx, code: String) -> Result<Report> {
    let request = pb::CompleteSetupRequest { setup_code: code, new_password: password()? };
    let session = AuthServiceClient::new(ctx.channel.clone()).complete_setup(request).await?.into_inner();
    Ok(signed_in(&session))
}

/// Signs in with a login and password.
pub async fn sign_in(ctx: &Ctx, login: String) -> Result<Report> {
    let request = pb::SignInRequest { login, password: password()?, device_id: String::new() };
    let session = AuthServiceClient::new(ctx.channel.clone()).sign_in(request).await?.into_inner();
    Ok(signed_in(&session))
}

fn signed_in(session: &pb::Session) -> Report {
    let mut report = Report::default();
    if let Some(user) = &session.user {
        report.field("user", format!("{} ({})", user.name, role(user.role)));
    }
    report
        .field("token", &session.access_token)
        .field("expires", time(session.access_expire_time.as_ref()))
        .field("use", format!("export ONSITE_TOKEN={}", session.access_token));
    report
}

/// Issues a one-time enrolment code for an engineer's phone.
pub async fn enrolment_code(ctx: &Ctx, engineer_id: String) -> Result<Report> {
    let request = pb::IssueEnrolmentCodeRequest { engineer_id };
    let code =
        EngineerServiceClient::new(ctx.channel.clone()).issue_enrolment_code(ctx.req(request)?).await?.into_inner();
    let mut report = Report::default();
    report.field("enrolment code", &code.code).field("expires", time(code.expire_time.as_ref()));
    Ok(report)
}

/// The newest entries of the audit log.
pub async fn audit(ctx: &Ctx, kind: Option<String>, limit: i32) -> Result<Report> {
    let request =
        pb::ListAuditEventsRequest { page_size: limit, page_token: String::new(), kind: kind.unwrap_or_default() };
    let page = AdminServiceClient::new(ctx.channel.clone()).list_audit_events(ctx.req(request)?).await?.into_inner();
    let mut table = Table::new(["TIME", "KIND", "USER", "SUBJECT", "ADDRESS", "DETAIL"]);
    for e in &page.events {
        table.row([
            time(e.time.as_ref()),
            e.kind.clone(),
            e.user_id.clone(),
            e.subject.clone(),
            e.address.clone(),
            e.detail.clone(),
        ]);
    }
    let mut report = Report::default();
    report.table("audit", table);
    Ok(report)
}
