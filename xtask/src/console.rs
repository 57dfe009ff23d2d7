//! The dispatcher's web console: building it from `console/` into `server/console/` (which
//! the server embeds), checking that the committed build is what the sources give, and its
//! tests in a real browser.

use std::path::Path;
use std::process::Command;

use crate::{Result, apt_install, root, run, run_in, step};

/// Installs the pinned npm toolchain, generates the API clients from the .proto files,
/// type-checks and bundles.
pub(crate) fn build() -> Result {
    let dir = root().join("console");
    let npm = |args: &[&str]| run_in(&dir, "npm", args);
    npm(&["ci", "--no-audit", "--no-fund", "--loglevel=error"])?;
    npm(&["run", "--silent", "generate"])?;
    npm(&["run", "--silent", "check"])?;
    npm(&["run", "--silent", "build"])
}

/// Rebuilds the console and fails when the result differs from the committed build.
pub(crate) fn check() -> Result {
    step("the console's committed build matches its sources");
    build()?;
    let changed = Command::new("git")
        .args(["status", "--porcelain", "--", "server/console"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("git: {e}"))?;
    let changed = String::from_utf8_lossy(&changed.stdout);
    if changed.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "server/console differs from a fresh build of console/ (run `cargo xtask console` and commit):\n{changed}"
        ))
    }
}

/// Chromium from Debian and Playwright for Python in the project's venv.
pub(crate) fn browser_tools(venv: &Path) -> Result {
    if !Path::new("/usr/bin/chromium").exists() {
        println!("installing Chromium from Debian");
        apt_install(&["chromium"])?;
    }
    let has_playwright = Command::new(venv.join("bin/python"))
        .args(["-c", "import playwright.sync_api"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_playwright {
        run(&venv.join("bin/pip").to_string_lossy(), &["install", "--quiet", "playwright==1.65.2"])?;
    }
    Ok(())
}

/// Runs the console's browser test against a demo server; screenshots go to `target/console`.
pub(crate) fn test() -> Result {
    step("the web console in Chromium");
    run("cargo", &["build", "--quiet", "-p", "onsite-server"])?;
    let python = root().join(".tools/py/bin/python");
    run(
        &python.to_string_lossy(),
        &[
            &root().join("tests/browser/console_test.py").to_string_lossy(),
            &root().join("target/debug/onsite-server").to_string_lossy(),
            &root().join("target/console").to_string_lossy(),
        ],
    )
}
