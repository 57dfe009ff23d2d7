//! Project automation.
//!
//! - `cargo xtask setup`: installs what the tests need and a fresh machine lacks: PostgreSQL
//!   and JNA (Debian packages), a Python venv with grpcio for the cross-language client test,
//!   and kotlinc (npm) for the Kotlin bindings test, and the service report's CJK font and
//!   poppler (Debian `fonts-noto-cjk`, `poppler-utils`), and Chromium (Debian) with
//!   Playwright (pip) for the web console's browser test.
//! - `cargo xtask ci`: setup, then format check, clippy with warnings as errors, every test
//!   (SQLite and PostgreSQL), a Python client built only from the .proto files walking a
//!   ticket from intake to a written-off slip against a real server, the mobile bindings on
//!   the JVM (Kotlin) and in Python, the generated Swift API, and the web console: its
//!   committed build rebuilt and compared, and its test in Chromium.
//! - `cargo xtask console`: builds the web console (`console/`, a pinned npm toolchain) into
//!   `server/console/`, which the server embeds; `console-test` runs its browser test.
//! - `cargo xtask bench [ARGS]`: builds the load tool and the server in release and runs
//!   `onsite-bench` with ARGS (`--help` lists them; `--backend postgres` sets up PostgreSQL).
//! - `cargo xtask bindings [--release]`: Kotlin, Swift and Python bindings into
//!   `target/bindings`.
//! - `cargo xtask android` / `cargo xtask ios`: the Android library module (needs an NDK and
//!   cargo-ndk) and the iOS XCFramework with a Swift Package (needs macOS with Xcode).

mod console;
mod mobile;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

type Result<T = (), E = String> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "ci" => ci(),
        "setup" => setup(),
        "bench" => bench(),
        "python-client" => python_client(),
        "console" => console::build(),
        "console-check" => console::check(),
        "console-test" => console::test(),
        "bindings" => mobile::bindings(std::env::args().any(|a| a == "--release")).map(drop),
        "kotlin-test" => mobile::kotlin_test(),
        "python-bindings" => mobile::python_smoke(),
        "swift-check" => mobile::swift_check(),
        "android" => mobile::android(),
        "ios" => mobile::ios(),
        _ => Err(
            "usage: cargo xtask <ci|setup|bench|python-client|console|console-check|console-test|bindings|kotlin-test|\
             python-bindings|swift-check|android|ios>"
                .to_owned(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the load tool and the server it starts in release, and runs it with the arguments
/// after `bench`.
fn bench() -> Result {
    let args: Vec<String> = std::env::args().skip(2).collect();
    if args.iter().any(|a| a == "postgres" || a == "--backend=postgres") {
        setup()?;
    }
    step("build the load tool (release)");
    run(
        "cargo",
        &["build", "--release", "-p", "onsite-tests", "--bin", "onsite-bench", "--bin", "onsite-test-server"],
    )?;
    step("onsite-bench");
    let tool = root().join("target/release/onsite-bench");
    let status =
        Command::new(&tool).args(&args).current_dir(root()).status().map_err(|e| format!("{}: {e}", tool.display()))?;
    if status.success() { Ok(()) } else { Err(format!("onsite-bench failed: {status}")) }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

pub(crate) fn step(name: &str) {
    println!("\n==> {name}");
}

pub(crate) fn run(program: &str, args: &[&str]) -> Result {
    run_in(&root(), program, args)
}

/// Runs `program` in `dir`; a failure names the command.
pub(crate) fn run_in(dir: &Path, program: &str, args: &[&str]) -> Result {
    let status = Command::new(program).args(args).current_dir(dir).status().map_err(|e| format!("{program}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{program} {}` failed ({status})", args.join(" "))) }
}

fn ci() -> Result {
    let started = Instant::now();
    setup()?;
    step("format");
    run("cargo", &["fmt", "--all", "--check"])?;
    step("clippy");
    run("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    step("tests (SQLite and PostgreSQL)");
    let rust = cargo_test()?;
    step("a Python client from the .proto files");
    python_client()?;
    console::check()?;
    console::test()?;
    mobile::check_all()?;
    println!("\nci passed in {:.0?}", started.elapsed());
    println!(
        "tests: {rust} passed, 0 failed (Rust), plus the Python client walk, the web console in Chromium, \
         the Kotlin engineer day, the Python bindings smoke test and the Swift API check"
    );
    Ok(())
}

/// Runs every Rust test, echoing the output, and returns how many passed.
fn cargo_test() -> Result<u64> {
    let mut child = Command::new("cargo")
        .args(["test", "--workspace"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cargo test: {e}"))?;
    let stdout = child.stdout.take().ok_or("no cargo test output")?;
    let mut passed = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("cargo test output: {e}"))?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ok. ") {
            passed += rest.split(' ').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    let status = child.wait().map_err(|e| format!("cargo test: {e}"))?;
    if status.success() { Ok(passed) } else { Err(format!("cargo test failed ({status})")) }
}

fn setup() -> Result {
    step("setup");
    if !has_postgres() {
        println!("installing PostgreSQL from Debian");
        apt_install(&["postgresql"])?;
    }
    if !has_postgres() {
        return Err("PostgreSQL is still missing after installing it".into());
    }
    let venv = root().join(".tools/py");
    if !venv.join("bin/python").exists() || !python_has_grpc(&venv) {
        if Command::new("python3").args(["-m", "venv", "--help"]).output().is_ok_and(|o| !o.status.success()) {
            apt_install(&["python3-venv"])?;
        }
        run("python3", &["-m", "venv", &venv.to_string_lossy()])?;
        let pip = venv.join("bin/pip");
        run(&pip.to_string_lossy(), &["install", "--quiet", "grpcio", "grpcio-tools"])?;
    }
    // Service reports are set in Noto Sans CJK; their tests read the PDFs back with poppler.
    let report_tools = [
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "fonts-noto-cjk"),
        ("/usr/bin/pdftotext", "poppler-utils"),
    ];
    let missing: Vec<&str> =
        report_tools.iter().filter(|(path, _)| !Path::new(path).exists()).map(|(_, package)| *package).collect();
    if !missing.is_empty() {
        println!("installing {} from Debian", missing.join(" and "));
        apt_install(&missing)?;
    }
    console::browser_tools(&venv)?;
    mobile::kotlin_tools()?;
    println!("setup complete");
    Ok(())
}

fn has_postgres() -> bool {
    std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.filter_map(|d| d.ok()).any(|d| d.path().join("bin/initdb").exists()))
        .unwrap_or(false)
}

fn python_has_grpc(venv: &Path) -> bool {
    Command::new(venv.join("bin/python"))
        .args(["-c", "import grpc, grpc_tools"])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub(crate) fn apt_install(packages: &[&str]) -> Result {
    let sudo = !Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut update = vec!["apt-get", "update", "-qq"];
    let mut install = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    install.extend_from_slice(packages);
    if sudo {
        update.insert(0, "sudo");
        install.insert(0, "sudo");
    }
    run(update[0], &update[1..])?;
    run(install[0], &install[1..])
}

/// A fresh throwaway PKI in `target/tls` (see the `onsite-test-pki` binary), for the runs
/// that go over TLS as a deployment would.
pub(crate) fn test_pki() -> Result<PathBuf> {
    let dir = root().join("target/tls");
    run("cargo", &["run", "--quiet", "-p", "onsite-tests", "--bin", "onsite-test-pki", "--", &dir.to_string_lossy()])?;
    Ok(dir)
}

/// Starts a demo server over TLS and runs the Python walk against it.
fn python_client() -> Result {
    run("cargo", &["build", "--quiet", "-p", "onsite-server"])?;
    let pki = test_pki()?;
    let data = std::env::temp_dir().join(format!("onsite-pyclient-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("free port: {e}"))?;
    let addr = format!("127.0.0.1:{port}");
    let server = Command::new(root().join("target/debug/onsite-server"))
        .args(["--demo", "--listen", &addr, "--data-dir", &data.to_string_lossy()])
        .env("ONSITE_LOG", "warn")
        .env("ONSITE_TLS_CERT", pki.join("server.pem"))
        .env("ONSITE_TLS_KEY", pki.join("server.key"))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start server: {e}"))?;
    let mut server = Guard(server);
    let logins = read_logins(&mut server.0)?;
    let status = Command::new(root().join(".tools/py/bin/python"))
        .arg(root().join("tests/python/walk_lifecycle.py"))
        .env("ONSITE_ADDR", format!("localhost:{port}"))
        .env("ONSITE_TLS_CA", pki.join("ca.pem"))
        .env("ONSITE_MANAGER_TOKEN", &logins.manager)
        .env("ONSITE_ENGINEER_TOKEN", &logins.engineer)
        .env("ONSITE_ENGINEER_NUMBER", &logins.engineer_number)
        .status()
        .map_err(|e| format!("python: {e}"))?;
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
    if status.success() { Ok(()) } else { Err("the Python client failed".into()) }
}

struct Logins {
    manager: String,
    engineer: String,
    engineer_number: String,
}

/// Reads the demo logins the server prints before "Ready:".
fn read_logins(server: &mut Child) -> Result<Logins> {
    let stdout = server.stdout.take().ok_or("no server stdout")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut manager, mut engineer, mut number) = (None, None, None);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.map_err(|e| format!("server output: {e}"))?;
        if let Some(token) = line.trim().strip_prefix("dispatcher token: ") {
            manager = Some(token.to_owned());
        }
        if let Some(rest) = line.trim().strip_prefix("engineer No. ")
            && engineer.is_none()
        {
            number = rest.split_whitespace().next().map(str::to_owned);
            engineer = rest.rsplit("token: ").next().map(str::to_owned);
        }
        if line.starts_with("Ready:") || Instant::now() > deadline {
            break;
        }
    }
    // Keep draining the server's output so that it never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    match (manager, engineer, number) {
        (Some(manager), Some(engineer), Some(engineer_number)) => Ok(Logins { manager, engineer, engineer_number }),
        _ => Err("the demo server did not print its logins".into()),
    }
}

/// Stops the server when dropped, also on early returns.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}
