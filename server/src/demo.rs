//! The try-it data set: customers with sites and products around one city, two dozen engineers
//! with skills, and tickets and slips across severities and states, all created through the
//! same operations the API uses.

use chrono::{Duration, NaiveDate, Utc};
use onsite_core::geo::GeoPoint;
use onsite_core::id::CustomerId;
use onsite_core::op::{Code, CostLine, Price};
use onsite_core::slip::{
    BackupKind, CostKind, FixOutcome, Role, SlipAction, SlipState, VisitKind, Window, WriteOffOutcome,
};
use onsite_core::ticket::{Category, Channel, RootCause, Severity, TicketIntake, Tier};
use onsite_proto::v1 as pb;
use sea_orm::{EntityTrait, PaginatorTrait, Set};

use crate::app::App;
use crate::auth::{tokens, users};
use crate::caller::Caller;
use crate::error::Result;
use crate::lifecycle;
use crate::repo::follow_ups;
use crate::repo::records::{self, NewRecord};
use crate::repo::slips::{Act, NewSlip};
use crate::repo::{customers, engineers, parts, quotes, slips, tickets};
use crate::store::entities::{backup, customer, fix, sign_off};
use crate::store::{begin_write, now_us, to_us};

/// The demo dispatcher's login.
pub const DISPATCHER_LOGIN: &str = "dispatcher";

/// Logins to try the demo with.
#[derive(Debug)]
pub struct DemoLogins {
    /// The password of the dispatcher's login ([`DISPATCHER_LOGIN`]), for the web console.
    pub manager_password: String,
    /// The dispatcher's API token.
    pub manager_token: String,
    /// Field engineers: (employee number, name, token).
    pub engineer_tokens: Vec<(String, String, String)>,
}

/// A site: name, address, latitude, longitude.
type SiteSeed = (&'static str, &'static str, f64, f64);

const CUSTOMERS: &[(&str, &str, &[SiteSeed])] = &[
    (
        "Huadong Precision Machinery",
        "ERP rollout 2025",
        &[
            ("Pudong plant", "1288 Zhangjiang Rd, Pudong, Shanghai", 31.2046, 121.5996),
            ("Minhang warehouse", "88 Jianchuan Rd, Minhang, Shanghai", 31.0214, 121.4260),
        ],
    ),
    (
        "Riverside General Hospital",
        "HR & payroll suite",
        &[("Main campus", "160 Pujian Rd, Pudong, Shanghai", 31.2037, 121.5227)],
    ),
    (
        "Jinqiao Logistics",
        "Fleet management",
        &[
            ("Headquarters", "500 Jinqiao Rd, Pudong, Shanghai", 31.2588, 121.5891),
            ("Songjiang depot", "36 Xinzhuan Rd, Songjiang, Shanghai", 31.0595, 121.2235),
        ],
    ),
    (
        "Xuhui District Schools Board",
        "Campus network and records",
        &[("Board offices", "1500 Caoxi N Rd, Xuhui, Shanghai", 31.1857, 121.4375)],
    ),
];

const SKILLS: &[&str] = &["erp", "payroll", "network", "database", "printer", "server", "fleet", "mes"];
const NAMES: &[&str] = &[
    "Wang Lei",
    "Li Na",
    "Zhang Wei",
    "Liu Yang",
    "Chen Jing",
    "Yang Fan",
    "Zhao Min",
    "Huang Tao",
    "Zhou Hui",
    "Wu Qiang",
    "Xu Li",
    "Sun Hao",
    "Ma Lin",
    "Zhu Jun",
    "Hu Yan",
    "Guo Peng",
    "He Xin",
    "Lin Feng",
    "Luo Mei",
    "Gao Bo",
    "Liang Yu",
    "Song Jie",
    "Tang Rui",
    "Han Xue",
];

/// The spare parts of the demo catalog: number, description, price in fen, product lines.
const PARTS: &[(&str, &str, i64, &[&str])] = &[
    ("SSD-1T", "SSD 1 TB, enterprise", 89_900, &[]),
    ("PSU-750", "Power supply 750 W", 65_000, &["server"]),
    ("PH-3", "Print head PH-3", 12_900, &["printer"]),
    ("NIC-10G", "Network card 10 GbE", 120_000, &["network"]),
    ("FAN-S2", "Chassis fan for Server S2", 9_800, &["server"]),
];

/// Seeds the data set into an empty database; does nothing when customers exist already.
pub async fn seed(app: &App) -> Result<Option<DemoLogins>> {
    if customer::Entity::find().count(&app.db).await? > 0 {
        tracing::info!("demo data not seeded: the database has customers already");
        return Ok(None);
    }
    let txn = begin_write(&app.db).await?;
    let manager_user = users::create(&txn, "Dispatch desk", Some(DISPATCHER_LOGIN.into()), Role::Manager, None).await?;
    let manager = users::caller_of(&manager_user)?;
    let (_, manager_token) = tokens::issue_api_token(&txn, &manager_user.id, "demo").await?;
    // A password of its own per demo database: the server may listen beyond loopback.
    let manager_password = crate::auth::codes::new_code()?;
    let hash = app.hasher.hash(&manager_password).await?;
    users::set_password_hash(&txn, &manager_user.id, hash, now_us()).await?;

    for (number, description, price, lines) in PARTS {
        let part = pb::Part {
            part_number: (*number).into(),
            description: (*description).into(),
            unit_price: Some(pb::Money { minor_units: *price, currency_code: "CNY".into() }),
            product_lines: lines.iter().map(|l| (*l).to_owned()).collect(),
            active: true,
            update_time: None,
        };
        parts::upsert(&txn, parts::validate(&part, now_us())?).await?;
    }

    let mut sites = Vec::new();
    for (i, (name, project, site_list)) in CUSTOMERS.iter().enumerate() {
        let day = |m, d| NaiveDate::from_ymd_opt(2025, m, d);
        let archive = customers::Archive {
            name: (*name).into(),
            project_name: (*project).into(),
            project_manager: format!("{} (customer PM)", NAMES[NAMES.len() - 1 - i]),
            implementation_staff: "Onsite implementation team".into(),
            contract_signed_on: day(1, 15),
            implementation_started_on: day(2, 1),
            accepted_on: day(6, 30),
            service_started_on: day(9, 30),
            warranty_start: day(7, 1),
            warranty_end: NaiveDate::from_ymd_opt(2027, 6, 30),
            notes: String::new(),
        };
        let contacts = vec![customers::NewContact {
            name: format!("{} (IT)", NAMES[(i * 5 + 3) % NAMES.len()]),
            role: "IT lead".into(),
            phone: format!("+86 21 5555 01{i:02}"),
            email: format!("it@customer{i}.example"),
        }];
        let new_sites = site_list
            .iter()
            .map(|(name, address, lat, lon)| customers::NewSite {
                name: (*name).into(),
                address: (*address).into(),
                position: GeoPoint::new(*lat, *lon, "position"),
            })
            .collect();
        let products = vec![customers::NewProduct {
            site: Some("0".into()),
            model: "Onsite Server S2".into(),
            serial_number: format!("S2-{:05}", 1000 + i),
            installed_on: day(3, 1),
            warranty_end: NaiveDate::from_ymd_opt(2027, 3, 1),
        }];
        let new = customers::validate(archive, contacts, new_sites, products, now_us())?;
        customers::insert(&txn, &new).await?;
        for s in &new.sites {
            sites.push((new.customer.id.clone(), s.id.clone(), new.customer.name.clone(), new.products[0].id.clone()));
        }
    }

    let mut engineer_rows = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        // Spread home bases over the city on a deterministic pattern.
        let (lat, lon) = (31.05 + (i % 6) as f64 * 0.05, 121.25 + (i / 6) as f64 * 0.09 + (i % 3) as f64 * 0.02);
        let new = engineers::NewEngineer {
            employee_number: format!("{}", 17 + i),
            name: (*name).into(),
            phone: format!("+86 138 0000 {:04}", 17 + i),
            tier: Some(if i % 8 == 7 { Tier::Expert } else { Tier::Field }),
            skills: vec![SKILLS[i % SKILLS.len()].into(), SKILLS[(i * 3 + 1) % SKILLS.len()].into()],
            home_base: GeoPoint::new(lat, lon, "home_base"),
            status: if i % 11 == 10 { "off" } else { "available" },
            shift: "Mon-Fri 08:30-17:30".into(),
            days_off: vec![],
        };
        let row = engineers::validate(new, &app.config.calendar, now_us())?;
        engineers::insert(&txn, &row).await?;
        // Every engineer signs in as themselves; the first three get demo tokens.
        let user = users::create(&txn, name, None, Role::Engineer, row.id.parse().ok()).await?;
        engineer_rows.push((row, users::caller_of(&user)?));
    }

    let now = Utc::now();
    let scenarios: &[(Severity, Category, &str, &str, SlipState)] = &[
        (
            Severity::Urgent,
            Category::Bug,
            "Payroll run aborts with a database deadlock",
            "All 2,400 staff unpaid if not fixed today",
            SlipState::OnSite,
        ),
        (
            Severity::Urgent,
            Category::Other,
            "Plant MES server does not boot after power cut",
            "Production line 2 stopped",
            SlipState::EnRoute,
        ),
        (
            Severity::Important,
            Category::Bug,
            "Inventory report totals differ from stock count",
            "Month-end close delayed",
            SlipState::Scheduled,
        ),
        (
            Severity::Important,
            Category::Other,
            "Warehouse Wi-Fi drops every few minutes",
            "Scanners lose sessions",
            SlipState::Confirmed,
        ),
        (
            Severity::Important,
            Category::Bug,
            "Fleet GPS positions lag by 20 minutes",
            "Dispatchers cannot see trucks",
            SlipState::Dispatched,
        ),
        (
            Severity::General,
            Category::ChangeRequest,
            "New overtime report for night shifts",
            "HR department",
            SlipState::Verified,
        ),
        (
            Severity::General,
            Category::Other,
            "Label printer prints blank lines",
            "One packing station",
            SlipState::Draft,
        ),
        (Severity::General, Category::Bug, "Login page slow in the morning", "About 50 users", SlipState::Declined),
        (
            Severity::Important,
            Category::Bug,
            "Backup job fails on Sundays",
            "Weekly backups missing",
            SlipState::Completed,
        ),
        (
            Severity::Urgent,
            Category::Bug,
            "Records database corrupted after disk failure",
            "School admissions blocked",
            SlipState::WrittenOff,
        ),
        (
            Severity::General,
            Category::Other,
            "Projector in meeting room 3 not detected",
            "One room",
            SlipState::Cancelled,
        ),
    ];
    for (i, (severity, category, title, impact, target)) in scenarios.iter().enumerate() {
        let (customer_id, site_id, customer_name, product_id) = sites[i % sites.len()].clone();
        let intake = TicketIntake {
            channel: Channel::ALL[i % Channel::ALL.len()],
            category: *category,
            severity: *severity,
            customer_id: customer_id.parse::<CustomerId>().unwrap_or_default(),
            contact_name: format!("{} (IT)", NAMES[(i * 7) % NAMES.len()]),
            contact_phone: "+86 21 5555 0100".into(),
            organisation: customer_name,
            product_id: product_id.parse().ok(),
            product_model: "Onsite Server S2".into(),
            serial_number: String::new(),
            fault_occurred_at: Some(now - Duration::hours(3)),
            symptoms: format!("{title}. Reproducible; started this week."),
            error_message: if *category == Category::Bug {
                "ERR-5021: operation timed out".into()
            } else {
                String::new()
            },
            impact_scope: (*impact).into(),
            initial_urgency: "as soon as possible".into(),
            title: (*title).into(),
        };
        let ticket = tickets::create(&txn, app.config.service_levels(), &manager, intake, now, "").await?;
        let new = NewSlip {
            ticket_id: ticket.id.clone(),
            site_id,
            instructions: format!("Diagnose on site: {title}. Back up first."),
            required_skills: vec![SKILLS[i % SKILLS.len()].into()],
            follow_up_of: None,
            state: SlipState::Draft,
            kind: VisitKind::Repair,
        };
        let slip = lifecycle::create(&txn, &manager, new, now, "").await?;
        let (engineer, engineer_caller) = &engineer_rows[(i * 5) % engineer_rows.len()];
        drive(&txn, &manager, engineer_caller, engineer, &slip.id, *target, now).await?;
    }
    if let Some((engineer, engineer_caller)) = engineer_rows.last() {
        billable_visit(&txn, app, &manager, engineer_caller, engineer, now).await?;
    }
    last_month(&txn, app, &manager, &engineer_rows, &sites, now).await?;
    // Logins for the engineers with a slip to act on: a new one first, then visits under way.
    let mut engineer_tokens = Vec::new();
    for wanted in [SlipState::Dispatched, SlipState::Scheduled, SlipState::OnSite] {
        let Some(i) = scenarios.iter().position(|s| s.4 == wanted) else { continue };
        let (engineer, caller) = &engineer_rows[(i * 5) % engineer_rows.len()];
        let (_, token) = tokens::issue_api_token(&txn, &caller.user_id.to_string(), "demo").await?;
        engineer_tokens.push((engineer.employee_number.clone(), engineer.name.clone(), token));
    }
    txn.commit().await?;
    Ok(Some(DemoLogins { manager_password, manager_token, engineer_tokens }))
}

/// A customer whose warranty ended last year, and a completed visit to them: the parts were
/// billable, so the customer accepted a quote by phone before the work.
async fn billable_visit(
    txn: &sea_orm::DatabaseTransaction,
    app: &App,
    manager: &Caller,
    engineer_caller: &Caller,
    engineer: &crate::store::entities::engineer::Model,
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
    let archive = customers::Archive {
        name: "江南纺织有限公司 Jiangnan Textiles".into(),
        project_name: "Plant scheduling".into(),
        project_manager: "钱经理 Mr. Qian".into(),
        implementation_staff: "Onsite implementation team".into(),
        contract_signed_on: day(2022, 3, 1),
        implementation_started_on: day(2022, 4, 1),
        accepted_on: day(2022, 9, 30),
        service_started_on: day(2022, 10, 1),
        warranty_start: day(2022, 10, 1),
        warranty_end: day(2025, 9, 30),
        notes: "Out of warranty since October 2025: parts and travel are billable.".into(),
    };
    let contacts = vec![customers::NewContact {
        name: "钱经理 Mr. Qian".into(),
        role: "Plant manager".into(),
        phone: "+86 510 5555 0188".into(),
        email: "qian@jiangnan.example".into(),
    }];
    let sites = vec![customers::NewSite {
        name: "无锡工厂 Wuxi plant".into(),
        address: "无锡市新吴区长江路 88 号".into(),
        position: GeoPoint::new(31.4912, 120.3119, "position"),
    }];
    let products = vec![customers::NewProduct {
        site: Some("0".into()),
        model: "Onsite Server S2".into(),
        serial_number: "S2-00871".into(),
        installed_on: day(2022, 6, 1),
        warranty_end: day(2025, 9, 30),
    }];
    let new = customers::validate(archive, contacts, sites, products, now_us())?;
    customers::insert(txn, &new).await?;
    let intake = TicketIntake {
        channel: Channel::Hotline,
        category: Category::Bug,
        severity: Severity::Important,
        customer_id: new.customer.id.parse::<CustomerId>().unwrap_or_default(),
        contact_name: "钱经理 Mr. Qian".into(),
        contact_phone: "+86 510 5555 0188".into(),
        organisation: new.customer.name.clone(),
        product_id: new.products[0].id.parse().ok(),
        product_model: "Onsite Server S2".into(),
        serial_number: "S2-00871".into(),
        fault_occurred_at: Some(now - Duration::hours(30)),
        symptoms: "Scheduling server restarts under load; the power supply whines.".into(),
        error_message: "PSU FAULT 0x21".into(),
        impact_scope: "Night shift planning".into(),
        initial_urgency: "this week".into(),
        title: "Scheduling server restarts under load".into(),
    };
    let ticket = tickets::create(txn, app.config.service_levels(), manager, intake, now, "").await?;
    let slip = NewSlip {
        ticket_id: ticket.id.clone(),
        site_id: new.sites[0].id.clone(),
        instructions: "Replace the power supply; out of warranty, quote first. Back up first.".into(),
        required_skills: vec!["server".into()],
        follow_up_of: None,
        state: SlipState::Draft,
        kind: VisitKind::Repair,
    };
    let slip = lifecycle::create(txn, manager, slip, now, "").await?;
    drive(txn, manager, engineer_caller, engineer, &slip.id, SlipState::OnSite, now).await?;
    let fix = SlipAction::RecordFix { outcome: FixOutcome::Resolved, root_cause: Some(RootCause::MaterialDefect) };
    for action in [SlipAction::LogBackup { kind: BackupKind::Backup }, fix] {
        let record = demo_record(&action, now, false);
        step(txn, engineer_caller, &slip.id, action, record, now).await?;
    }
    let psu = CostLine {
        id: String::new(),
        kind: Code::Known(CostKind::Part),
        description: "Power supply 750 W".into(),
        part_number: "PSU-750".into(),
        quantity: 1,
        unit_price: Some(Price { minor_units: 65_000, currency_code: "CNY".into() }),
        billable: true,
    };
    let travel = CostLine {
        kind: Code::Known(CostKind::Travel),
        description: "Train Shanghai-Wuxi, return".into(),
        part_number: String::new(),
        unit_price: Some(Price { minor_units: 19_800, currency_code: "CNY".into() }),
        ..psu.clone()
    };
    let lines = [psu, travel];
    let quote = lifecycle::create_quote(txn, engineer_caller, &slip.id, &lines, now, "").await?;
    let decision = quotes::Decision {
        quote_id: &quote.id,
        etag: "",
        accepted: true,
        channel: quotes::Channel::Phone,
        decided_by_name: "钱经理 Mr. Qian",
        confirmation: "Called the desk and accepted 848.00 CNY",
    };
    lifecycle::decide_quote(txn, manager, decision, now, "").await?;
    let charges = lines.iter().filter_map(CostLine::charge).collect();
    let costs = lines.iter().map(|l| crate::visit::intents::cost_line_model(&l.stored(), to_us(now))).collect();
    let parts = SlipAction::AddPartsCost { charges };
    step(txn, engineer_caller, &slip.id, parts, NewRecord::Costs(costs), now).await?;
    for action in [SlipAction::CaptureSignOff, SlipAction::Complete] {
        let record = demo_record(&action, now, false);
        step(txn, engineer_caller, &slip.id, action, record, now).await?;
    }
    Ok(())
}

/// Last month's finished visits (day, kind, severity, what was wrong, the root cause), so the
/// monthly statistics have a closed month to show.
const LAST_MONTH: &[(u32, VisitKind, Severity, &str, RootCause)] = &[
    (3, VisitKind::Installation, Severity::General, "Commission the new Server S2", RootCause::AssemblyDefect),
    (6, VisitKind::Repair, Severity::Urgent, "Payroll export hangs", RootCause::SoftwareDefect),
    (9, VisitKind::Repair, Severity::Important, "Disk array reports a failed drive", RootCause::MaterialDefect),
    (14, VisitKind::Maintenance, Severity::General, "Quarterly check of the Server S2", RootCause::SoftwareDefect),
    (17, VisitKind::Repair, Severity::Urgent, "Payroll export hangs again", RootCause::SoftwareDefect),
    (23, VisitKind::Repair, Severity::Important, "Fan noise and overheating", RootCause::ManufacturingDefect),
];

async fn last_month(
    txn: &sea_orm::DatabaseTransaction,
    app: &App,
    manager: &Caller,
    engineers: &[(crate::store::entities::engineer::Model, Caller)],
    sites: &[(String, String, String, String)],
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    use chrono::TimeZone;
    let tz = app.config.calendar.time_zone();
    let month = crate::statistics::YearMonth::of(now.with_timezone(&tz).date_naive()).previous();
    for (i, (day, kind, severity, title, cause)) in LAST_MONTH.iter().enumerate() {
        let Some(at) = tz.with_ymd_and_hms(month.year, month.month, *day, 9, 0, 0).earliest() else { continue };
        let at = at.with_timezone(&Utc);
        // The same site for the two payroll visits: the second is a repeat repair.
        let (customer_id, site_id, customer_name, product_id) = sites[if i == 4 { 1 } else { i % sites.len() }].clone();
        let intake = TicketIntake {
            channel: Channel::Hotline,
            category: Category::Bug,
            severity: *severity,
            customer_id: customer_id.parse::<CustomerId>().unwrap_or_default(),
            contact_name: "IT lead".into(),
            contact_phone: "+86 21 5555 0100".into(),
            organisation: customer_name,
            product_id: product_id.parse().ok(),
            product_model: "Onsite Server S2".into(),
            serial_number: String::new(),
            fault_occurred_at: Some(at - Duration::hours(2)),
            symptoms: format!("{title}."),
            error_message: String::new(),
            impact_scope: "One department".into(),
            initial_urgency: "today".into(),
            title: (*title).into(),
        };
        let ticket = tickets::create(txn, app.config.service_levels(), manager, intake, at, "").await?;
        let new = NewSlip {
            ticket_id: ticket.id.clone(),
            site_id,
            instructions: format!("{title}. Back up first."),
            required_skills: Vec::new(),
            follow_up_of: None,
            state: SlipState::Draft,
            kind: *kind,
        };
        let slip = lifecycle::create(txn, manager, new, at, "").await?;
        let (engineer, engineer_caller) = &engineers[(i * 3) % engineers.len()];
        drive(txn, manager, engineer_caller, engineer, &slip.id, SlipState::OnSite, at).await?;
        let on_site = at + Duration::hours(2);
        let fix = SlipAction::RecordFix { outcome: FixOutcome::Resolved, root_cause: Some(*cause) };
        for action in [SlipAction::LogBackup { kind: BackupKind::Backup }, fix] {
            let record = demo_record(&action, on_site, false);
            step(txn, engineer_caller, &slip.id, action, record, on_site).await?;
        }
        let (number, description, price, _) = PARTS[i % PARTS.len()];
        let part = CostLine {
            id: String::new(),
            kind: Code::Known(CostKind::Part),
            description: description.into(),
            part_number: number.into(),
            quantity: 1,
            unit_price: Some(Price { minor_units: price, currency_code: "CNY".into() }),
            billable: false,
        };
        let travel = CostLine {
            kind: Code::Known(CostKind::Travel),
            description: "Taxi, return".into(),
            part_number: String::new(),
            unit_price: Some(Price { minor_units: 8_650, currency_code: "CNY".into() }),
            ..part.clone()
        };
        let lines = [part, travel];
        let charges = lines.iter().filter_map(CostLine::charge).collect();
        let costs = lines.iter().map(|l| crate::visit::intents::cost_line_model(&l.stored(), to_us(on_site))).collect();
        step(txn, engineer_caller, &slip.id, SlipAction::AddPartsCost { charges }, NewRecord::Costs(costs), on_site)
            .await?;
        let done = on_site + Duration::hours(1);
        for action in [SlipAction::CaptureSignOff, SlipAction::Complete] {
            let record = demo_record(&action, done, false);
            step(txn, engineer_caller, &slip.id, action, record, done).await?;
        }
        let write_off = SlipAction::WriteOff { outcome: WriteOffOutcome::Resolved };
        step(txn, manager, &slip.id, write_off, NewRecord::None, done).await?;
        tickets::resolve(txn, &ticket.id, manager, done, "").await?;
    }
    Ok(())
}

/// Walks a slip to `target` through the state machine, recording what each step needs.
async fn drive(
    txn: &sea_orm::DatabaseTransaction,
    manager: &Caller,
    engineer_caller: &Caller,
    engineer: &crate::store::entities::engineer::Model,
    slip_id: &str,
    target: SlipState,
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    let engineer_id = engineer.id.parse().ok();
    let start = now + Duration::hours(1);
    let window = Window { start, end: start + Duration::hours(2) };
    let mut plan: Vec<(SlipAction, bool)> = vec![(SlipAction::Verify, true)];
    if let Some(engineer) = engineer_id {
        plan.push((SlipAction::Dispatch { engineer, reason: String::new() }, true));
    }
    if target == SlipState::Declined {
        plan.push((SlipAction::Decline { reason: "on another urgent job".into() }, false));
    } else if target == SlipState::Cancelled {
        plan.push((SlipAction::Cancel { reason: "customer solved it by phone".into() }, true));
    } else {
        plan.extend([
            (SlipAction::Confirm, false),
            (SlipAction::BookAppointment { window }, false),
            (SlipAction::StartTravel, false),
            (SlipAction::CheckIn, false),
            (SlipAction::LogBackup { kind: BackupKind::Backup }, false),
            (
                SlipAction::RecordFix { outcome: FixOutcome::Resolved, root_cause: Some(RootCause::SoftwareDefect) },
                false,
            ),
            (SlipAction::CaptureSignOff, false),
            (SlipAction::Complete, false),
            (SlipAction::WriteOff { outcome: WriteOffOutcome::Resolved }, true),
        ]);
    }
    for (action, by_manager) in plan {
        let current = slips::load(txn, slip_id).await?;
        if current.state == target.as_str() {
            break;
        }
        let caller = if by_manager { manager } else { engineer_caller };
        // The customer of the visit left completed is unhappy: the desk has a follow-up to do.
        let record = demo_record(&action, now, target == SlipState::Completed);
        step(txn, caller, slip_id, action, record, now).await?;
    }
    Ok(())
}

/// One action on a demo slip with its record, decided by the state machine and stored as
/// decided; an unhappy sign-off opens its follow-up.
async fn step(
    txn: &sea_orm::DatabaseTransaction,
    caller: &Caller,
    slip_id: &str,
    action: SlipAction,
    record: NewRecord,
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    let checks_in = action == SlipAction::CheckIn;
    let act = Act { caller, action, etag: "", now, request_id: "", detail: "demo".into(), origin: None };
    let extra = |_: &_, c: &mut crate::store::entities::slip::ActiveModel| {
        c.appointment_contact = Set("IT lead".into());
        if checks_in {
            c.arrived_at_us = Set(Some(to_us(now)));
        }
    };
    let acted = lifecycle::act(txn, slip_id, act, extra).await?;
    if let NewRecord::SignOff(sign_off) = &record {
        follow_ups::open_if_unhappy(txn, &acted.saved, sign_off, now).await?;
    }
    records::insert_record(txn, &acted.saved, record.decided(&acted.transition), caller, now).await
}

fn demo_record(action: &SlipAction, now: chrono::DateTime<Utc>, unhappy: bool) -> NewRecord {
    let id = || uuid::Uuid::now_v7().to_string();
    match action {
        SlipAction::LogBackup { kind } => NewRecord::Backup(backup::Model {
            id: id(),
            slip_id: String::new(),
            kind: kind.as_str().into(),
            location: "external disk, handed to the customer's IT lead".into(),
            note: String::new(),
            attachments: String::new(),
            recorded_by: String::new(),
            recorded_at_us: to_us(now),
            contents: "payroll database and the job configuration".into(),
            size_bytes: 18_400_000_000,
            performed_by: "the engineer, with the customer's IT lead".into(),
            verified: true,
            waiver_signer: None,
            waiver_png_sha256: None,
            waiver_signed_at_us: None,
        }),
        SlipAction::RecordFix { outcome, root_cause } => NewRecord::Fix(fix::Model {
            id: id(),
            slip_id: String::new(),
            outcome: outcome.as_str().into(),
            root_cause: root_cause.map(|c| c.as_str().into()),
            cause: "Scheduled job overlapped with the nightly import".into(),
            solution: "Moved the job and added a lock".into(),
            prevention: "Job calendar reviewed with the customer".into(),
            time_spent_minutes: 95,
            data_taken_off_site: false,
            attachments: String::new(),
            recorded_by: String::new(),
            recorded_at_us: to_us(now),
            custody_scope: None,
            custody_signer: None,
            custody_png_sha256: None,
            custody_signed_at_us: None,
        }),
        SlipAction::CaptureSignOff => NewRecord::SignOff(sign_off::Model {
            slip_id: String::new(),
            signer_name: "Customer IT lead".into(),
            satisfaction: Some(if unhappy { "dissatisfied" } else { "very_satisfied" }.into()),
            service_quality_rating: if unhappy { 2 } else { 5 },
            product_rating: 4,
            support_rating: 5,
            customer_opinion: if unhappy {
                "Arrived late and had to call the office twice."
            } else {
                "Quick and tidy."
            }
            .into(),
            signature_png_sha256: onsite_proto::signoff::sha256_hex(&signature_png()),
            signature_png: signature_png(),
            report_content_sha256: String::new(),
            device_signature: Vec::new(),
            device_id: "demo".into(),
            signed_at_us: to_us(now),
            // Seeded history has no device behind it, so it stays unverified.
            verified: false,
            recorded_by: String::new(),
            report_content: None,
        }),
        _ => NewRecord::None,
    }
}

/// A drawn signature for seeded sign-offs, so a demo service report shows one: a 320 x 120
/// grayscale PNG with a looping stroke.
fn signature_png() -> Vec<u8> {
    const W: u32 = 320;
    const H: u32 = 120;
    let mut pixels = vec![255_u8; (W * H) as usize];
    for step in 0..2000_u32 {
        let t = step as f32 / 2000.0;
        let x = 20.0 + t * 280.0;
        let y = 60.0 + 30.0 * (t * 18.0).sin() * (1.0 - t);
        for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
            let (px, py) = (x as u32 + dx, y as u32 + dy);
            if px < W && py < H {
                pixels[(py * W + px) as usize] = 0;
            }
        }
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, W, H);
    encoder.set_color(png::ColorType::Grayscale);
    // Encoding a fixed, valid image into memory does not fail; an empty image shows no signature.
    let written = encoder.write_header().and_then(|mut writer| writer.write_image_data(&pixels));
    if written.is_err() {
        return Vec::new();
    }
    png
}
