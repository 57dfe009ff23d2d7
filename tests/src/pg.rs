//! A real PostgreSQL cluster for the tests, started by the harness itself.
//!
//! One cluster per test process: `initdb` into a temp dir, `pg_ctl start` on a free loopback
//! port, one database per test. PostgreSQL refuses to run as root, so under root it runs as the
//! `postgres` user (`runuser`). A watchdog shell stops the cluster and removes its files as
//! soon as the test process is gone, however it ends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::ConnectionTrait;

/// A running cluster.
#[derive(Debug)]
pub struct PgCluster {
    port: u16,
    data: PathBuf,
    log: PathBuf,
    options: String,
}

static CLUSTER: OnceLock<Result<PgCluster, String>> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The cluster of this test process, started on first use.
pub fn cluster() -> Result<&'static PgCluster, String> {
    CLUSTER.get_or_init(PgCluster::start).as_ref().map_err(Clone::clone)
}

/// Where the PostgreSQL programs are: `ONSITE_PG_BIN`, else the newest under /usr/lib/postgresql.
pub fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("ONSITE_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("PostgreSQL is not installed (/usr/lib/postgresql: {e}); run `cargo xtask setup`"))?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin; run `cargo xtask setup`".to_owned())
}

impl PgCluster {
    fn start() -> Result<Self, String> {
        let bin = bin_dir()?;
        let as_root = is_root();
        let base = std::env::temp_dir().join(format!("onsite-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        if as_root {
            let status = Command::new("chown").arg("postgres:postgres").arg(&base).status();
            if !status.is_ok_and(|s| s.success()) {
                return Err("cannot hand the cluster directory to the postgres user".into());
            }
        }
        let data = base.join("data");
        run(
            as_root,
            &bin.join("initdb"),
            &["-D", path(&data)?, "-U", "onsite", "--auth=trust", "-E", "UTF8", "--no-sync"],
        )?;
        let port = free_port()?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            path(&base)?
        );
        let log = base.join("server.log");
        run(as_root, &bin.join("pg_ctl"), &["-D", path(&data)?, "-l", path(&log)?, "-o", &options, "-w", "start"])?;
        spawn_watchdog(as_root, &bin, &base, &data)?;
        Ok(Self { port, data, log, options })
    }

    /// Restarts the cluster, dropping every open connection (`pg_ctl restart -m fast`), and
    /// returns once it accepts connections again. Every test of this process shares the
    /// cluster: a suite that restarts it runs alone in its own test binary.
    pub fn restart(&self) -> Result<(), String> {
        let bin = bin_dir()?;
        let args =
            ["-D", path(&self.data)?, "-l", path(&self.log)?, "-o", &self.options, "-m", "fast", "-w", "restart"];
        run(is_root(), &bin.join("pg_ctl"), &args)
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://onsite@127.0.0.1:{}/{name}?sslmode=disable", self.port)
    }

    /// A fresh, empty database for one test.
    pub async fn create_database(&self) -> String {
        let name = format!("t{}_{}", std::process::id(), DATABASES.fetch_add(1, Ordering::Relaxed));
        let admin = onsite_server::store::connect(&self.url("postgres"))
            .await
            .unwrap_or_else(|e| panic!("connect to the test cluster: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("create database: {e}"));
        let _ = admin.close().await;
        self.url(&name)
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn path(p: &Path) -> Result<&str, String> {
    p.to_str().ok_or_else(|| format!("non-UTF-8 path {}", p.display()))
}

fn run(as_root: bool, program: &Path, args: &[&str]) -> Result<(), String> {
    let mut command = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let output = command.args(args).output().map_err(|e| format!("{}: {e}", program.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("free port: {e}"))?;
    socket.local_addr().map(|a| a.port()).map_err(|e| format!("free port: {e}"))
}

/// Stops the cluster and deletes its files once this process has exited.
fn spawn_watchdog(as_root: bool, bin: &Path, base: &Path, data: &Path) -> Result<(), String> {
    let runner = if as_root { "runuser -u postgres -- " } else { "" };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; \
         {runner}'{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{base}'",
        pid = std::process::id(),
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        base = base.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("watchdog: {e}"))
}
