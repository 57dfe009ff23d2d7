//! The `onsite-server` binary as an operator runs it: prints where it listens, the web
//! console's URL and the first start's setup code, gets ready, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn starts_prints_its_address_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("onsite-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut server = Command::new(env!("CARGO_BIN_EXE_onsite-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env("ONSITE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stdout = server.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let first = lines.next().unwrap_or_default();
    assert!(first.starts_with("Onsite listening on 127.0.0.1:"), "{first}");
    // The first start prints the administrator's one-time setup code, in groups of four.
    let is_code = |word: &str| {
        let groups: Vec<&str> = word.split('-').collect();
        groups.len() == 4 && groups.iter().all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_alphanumeric()))
    };
    let mut saw_setup_code = false;
    let mut console = None;
    for line in lines.by_ref() {
        saw_setup_code |= is_code(line.trim());
        if let Some(rest) = line.strip_prefix("Console: ") {
            console = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.starts_with("Ready:") {
            break;
        }
    }
    assert!(saw_setup_code, "the first start prints the administrator's setup code");
    // The web console's address, on the port it listens on.
    let port = first.trim_start_matches("Onsite listening on 127.0.0.1:").split_whitespace().next().unwrap_or_default();
    assert_eq!(console, Some(format!("http://127.0.0.1:{port}/")), "the start prints the console's URL");
    assert!(dir.join("onsite.db").exists(), "the embedded database lives in the data dir");

    let killed = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    assert!(killed.is_ok_and(|s| s.success()));
    let rest: Vec<String> = lines.collect();
    let status = server.wait().unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(status.success(), "exit status {status}");
    assert_eq!(rest.last().map(String::as_str), Some("Onsite stopped"));
    let _ = std::fs::remove_dir_all(&dir);
}
