//! The mobile SDK's tasks: generating the bindings, testing them on the JVM and in Python,
//! checking the Swift API, and packaging for Android and iOS.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, apt_install, root, run, step};

const KOTLIN_VERSION: &str = "2.4.20";
const JNA: &str = "/usr/share/java/jna.jar";

/// The host library built in `profile` (`debug` or `release`).
fn library(profile: &str) -> PathBuf {
    root().join("target").join(profile).join("libonsite_mobile.so")
}

fn bindings_dir() -> PathBuf {
    root().join("target/bindings")
}

/// Builds the host library and generates Kotlin, Swift and Python bindings from it into
/// `target/bindings/<language>`. Library mode reads `mobile-bindings/uniffi.toml` itself.
pub fn bindings(release: bool) -> Result<PathBuf> {
    step("mobile bindings");
    let mut build = vec!["build", "-p", "onsite-mobile", "--lib"];
    if release {
        build.push("--release");
    }
    run("cargo", &build)?;
    run("cargo", &["build", "-p", "onsite-mobile", "--features", "bindgen", "--bin", "uniffi-bindgen"])?;
    let bindgen = root().join("target/debug/uniffi-bindgen");
    let lib = library(if release { "release" } else { "debug" });
    for language in ["kotlin", "swift", "python"] {
        let out = bindings_dir().join(language);
        let _ = std::fs::remove_dir_all(&out);
        run(
            &bindgen.to_string_lossy(),
            &[
                "generate",
                "--library",
                &lib.to_string_lossy(),
                "--language",
                language,
                "--no-format",
                "--out-dir",
                &out.to_string_lossy(),
            ],
        )?;
    }
    println!("bindings in {}", bindings_dir().display());
    Ok(lib)
}

/// Installs kotlinc (npm package `kotlin-compiler`) under `.tools/kotlin` and JNA (Debian).
pub fn kotlin_tools() -> Result<PathBuf> {
    let home = root().join(".tools/kotlin");
    let kotlinc = home.join("node_modules/kotlin-compiler/bin/kotlinc");
    if !kotlinc.exists() {
        println!("installing kotlinc {KOTLIN_VERSION} from npm");
        std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        let status = Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&home)
            .arg(format!("kotlin-compiler@{KOTLIN_VERSION}"))
            .status()
            .map_err(|e| format!("npm: {e}"))?;
        if !status.success() {
            return Err("npm install kotlin-compiler failed".into());
        }
        for tool in ["kotlinc", "kotlin", "kotlinc-jvm"] {
            let path = home.join("node_modules/kotlin-compiler/bin").join(tool);
            if path.exists() {
                run("chmod", &["+x", &path.to_string_lossy()])?;
            }
        }
    }
    if !Path::new(JNA).exists() {
        println!("installing JNA from Debian");
        apt_install(&["libjna-java"])?;
    }
    Ok(home.join("node_modules/kotlin-compiler"))
}

/// Every check of the bindings, on one generation: Kotlin, Python and Swift.
pub fn check_all() -> Result {
    let lib = bindings(false)?;
    run_kotlin(&lib)?;
    run_python(&lib)?;
    check_swift()
}

/// Compiles the generated Kotlin with the JVM test and runs a whole engineer day against a
/// real server.
pub fn kotlin_test() -> Result {
    run_kotlin(&bindings(false)?)
}

/// The Python bindings: imports them next to the library and runs the smoke test.
pub fn python_smoke() -> Result {
    run_python(&bindings(false)?)
}

/// Checks the generated Swift for the API the iOS app uses (no Swift compiler here).
pub fn swift_check() -> Result {
    bindings(false)?;
    check_swift()
}

fn run_kotlin(lib: &Path) -> Result {
    let kotlin = kotlin_tools()?;
    run("cargo", &["build", "-p", "onsite-server", "-p", "onsite-cli"])?;
    step("Kotlin bindings on the JVM");
    let jar = root().join("target/kotlin/engineer-day.jar");
    let generated = bindings_dir().join("kotlin/dev/onsite/sdk/onsite_mobile.kt");
    let test = root().join("mobile-bindings/tests/kotlin/EngineerDay.kt");
    run(
        &kotlin.join("bin/kotlinc").to_string_lossy(),
        &[&generated.to_string_lossy(), &test.to_string_lossy(), "-cp", JNA, "-nowarn", "-d", &jar.to_string_lossy()],
    )?;
    let classpath = format!("{}:{JNA}:{}", jar.display(), kotlin.join("lib/kotlin-stdlib.jar").display());
    // The day runs over TLS, as a deployment would: the server, the phone and the console
    // all take the test PKI's files.
    let pki = crate::test_pki()?;
    let lib_dir = lib.parent().map(Path::to_path_buf).unwrap_or_default();
    let status = Command::new("java")
        .arg(format!("-Djna.library.path={}", lib_dir.display()))
        .args(["-cp", &classpath, "EngineerDayKt"])
        .env("ONSITE_SERVER_BIN", root().join("target/debug/onsite-server"))
        .env("ONSITE_CTL_BIN", root().join("target/debug/onsitectl"))
        .env("ONSITE_TLS_CERT", pki.join("server.pem"))
        .env("ONSITE_TLS_KEY", pki.join("server.key"))
        .env("ONSITE_CA_CERT", pki.join("ca.pem"))
        .status()
        .map_err(|e| format!("java: {e}"))?;
    if status.success() { Ok(()) } else { Err("the Kotlin engineer day failed".into()) }
}

fn run_python(lib: &Path) -> Result {
    step("Python bindings");
    let dir = bindings_dir().join("python");
    std::fs::copy(lib, dir.join("libonsite_mobile.so")).map_err(|e| format!("copy library: {e}"))?;
    let status = Command::new("python3")
        .arg(root().join("mobile-bindings/tests/python/smoke.py"))
        .env("PYTHONPATH", &dir)
        .status()
        .map_err(|e| format!("python3: {e}"))?;
    if status.success() { Ok(()) } else { Err("the Python bindings smoke test failed".into()) }
}

/// What the generated Swift must offer the app.
const SWIFT_API: &[&str] = &[
    "open class EngineerSession",
    "public static func open(config: SessionConfig) throws -> EngineerSession",
    "open func signIn(serverUrl: String, token: String) throws -> SyncSummary",
    "open func signInWithPassword(serverUrl: String, login: String, password: String) throws -> SyncSummary",
    "open func enrol(serverUrl: String, enrolmentCode: String) throws -> SyncSummary",
    "case SessionEnded(reason: String)",
    "open func signOut(force: Bool) throws",
    "open func sync() throws -> SyncSummary",
    "open func slipsForDay(year: Int32, month: UInt32, day: UInt32) throws -> [SlipSummary]",
    "open func confirm(slipId: String) throws -> SlipDetail",
    "open func checkIn(slipId: String, latitude: Double, longitude: Double) throws -> SlipDetail",
    "open func logBackup(slipId: String, backup: BackupInput, photos: [Data]) throws -> SlipDetail",
    "open func logWaiver(slipId: String, signerName: String, reason: String, signature: SignatureDrawing) throws -> SlipDetail",
    "open func recordFixTakingData(slipId: String, fix: FixInput, photos: [Data], custody: CustodyInput, signature: SignatureDrawing) throws -> SlipDetail",
    "open func captureSignOff(slipId: String, signer: SignerInput, strokes: [Stroke], canvasWidth: UInt32, canvasHeight: UInt32) throws -> SlipDetail",
    "open func complete(slipId: String) throws -> SlipDetail",
    "open func needsAttention() throws -> [AttentionItem]",
    "public var slipSnapshot: SlipDetail?",
    "public var caCertificatePem: String?",
    "public var allowPlaintext: Bool",
    "public var storeKey: Data?",
    "case WrongStoreKey",
    "open func setObserver(observer: SyncObserver)",
    "public protocol SyncObserver",
    "func onSyncState(state: SyncState)",
    "public enum OnsiteError",
    "case Refused(reason: String, detail: String)",
    "case UnsyncedChanges(ops: UInt64, attachments: UInt64)",
    "public struct SlipDetail",
    "public enum SlipState",
    "public struct CostLine",
    "case unknown",
];

fn check_swift() -> Result {
    step("Swift API");
    let path = bindings_dir().join("swift/OnsiteSDK.swift");
    let swift = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Compared without whitespace and keyword escapes (`open`), which the generator varies.
    let squash = |text: &str| text.chars().filter(|c| !c.is_whitespace() && *c != '`').collect::<String>();
    let generated = squash(&swift);
    let missing: Vec<&str> = SWIFT_API.iter().copied().filter(|item| !generated.contains(&squash(item))).collect();
    for item in SWIFT_API {
        println!("{} {item}", if missing.contains(item) { "MISSING" } else { "ok     " });
    }
    if missing.is_empty() { Ok(()) } else { Err(format!("{} Swift API item(s) missing", missing.len())) }
}

/// Android library module: `.so` for three ABIs with cargo-ndk, Gradle files and the Kotlin
/// sources, in `target/android/onsite-sdk`.
pub fn android() -> Result {
    let ndk = std::env::var("ANDROID_NDK_HOME").map_err(|_| "set ANDROID_NDK_HOME to an Android NDK".to_owned())?;
    if !Command::new("cargo").args(["ndk", "--version"]).output().is_ok_and(|o| o.status.success()) {
        return Err("cargo-ndk is missing: cargo install cargo-ndk".into());
    }
    bindings(true)?;
    step(&format!("Android library (NDK {ndk})"));
    let module = root().join("target/android/onsite-sdk");
    let jni = module.join("src/main/jniLibs");
    for target in ["aarch64-linux-android", "armv7-linux-androideabi", "x86_64-linux-android"] {
        run("rustup", &["target", "add", target])?;
    }
    run(
        "cargo",
        &[
            "ndk",
            "-t",
            "arm64-v8a",
            "-t",
            "armeabi-v7a",
            "-t",
            "x86_64",
            "-o",
            &jni.to_string_lossy(),
            "build",
            "--release",
            "-p",
            "onsite-mobile",
            "--lib",
        ],
    )?;
    let kotlin = module.join("src/main/kotlin");
    copy_tree(&bindings_dir().join("kotlin"), &kotlin)?;
    write(&module.join("build.gradle.kts"), ANDROID_GRADLE)?;
    write(&module.join("src/main/AndroidManifest.xml"), "<manifest />\n")?;
    write(
        &module.join("consumer-rules.pro"),
        "-keep class dev.onsite.sdk.** { *; }\n-keep class com.sun.jna.** { *; }\n",
    )?;
    println!("Android library module in {}", module.display());
    Ok(())
}

const ANDROID_GRADLE: &str = r#"plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "dev.onsite.sdk"
    compileSdk = 35
    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }
}

dependencies {
    implementation("net.java.dev.jna:jna:5.13.0@aar")
}
"#;

/// iOS: static libraries for devices and simulators, an XCFramework and a Swift Package, in
/// `target/ios`. Needs macOS with Xcode.
pub fn ios() -> Result {
    if !cfg!(target_os = "macos") {
        return Err("building the XCFramework needs macOS with Xcode".into());
    }
    bindings(true)?;
    step("iOS XCFramework");
    let targets = ["aarch64-apple-ios", "aarch64-apple-ios-sim", "x86_64-apple-ios"];
    for target in targets {
        run("rustup", &["target", "add", target])?;
        run("cargo", &["build", "--release", "-p", "onsite-mobile", "--lib", "--target", target])?;
    }
    let out = root().join("target/ios");
    let swift = bindings_dir().join("swift");
    let headers = out.join("headers");
    std::fs::create_dir_all(&headers).map_err(|e| format!("{e}"))?;
    std::fs::copy(swift.join("OnsiteSDKFFI.h"), headers.join("OnsiteSDKFFI.h")).map_err(|e| format!("{e}"))?;
    std::fs::copy(swift.join("OnsiteSDKFFI.modulemap"), headers.join("module.modulemap"))
        .map_err(|e| format!("{e}"))?;
    let lib = |t: &str| root().join("target").join(t).join("release/libonsite_mobile.a");
    let sim = out.join("libonsite_mobile_sim.a");
    run(
        "lipo",
        &[
            "-create",
            &lib(targets[1]).to_string_lossy(),
            &lib(targets[2]).to_string_lossy(),
            "-output",
            &sim.to_string_lossy(),
        ],
    )?;
    let framework = out.join("OnsiteSDKFFI.xcframework");
    let _ = std::fs::remove_dir_all(&framework);
    run(
        "xcodebuild",
        &[
            "-create-xcframework",
            "-library",
            &lib(targets[0]).to_string_lossy(),
            "-headers",
            &headers.to_string_lossy(),
            "-library",
            &sim.to_string_lossy(),
            "-headers",
            &headers.to_string_lossy(),
            "-output",
            &framework.to_string_lossy(),
        ],
    )?;
    let package = out.join("OnsiteSDK");
    copy_tree(&swift, &package.join("Sources/OnsiteSDK"))?;
    write(&package.join("Package.swift"), SWIFT_PACKAGE)?;
    println!("Swift package in {} (binary target ../OnsiteSDKFFI.xcframework)", package.display());
    Ok(())
}

const SWIFT_PACKAGE: &str = r#"// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "OnsiteSDK",
    platforms: [.iOS(.v15)],
    products: [.library(name: "OnsiteSDK", targets: ["OnsiteSDK"])],
    targets: [
        .binaryTarget(name: "OnsiteSDKFFI", path: "../OnsiteSDKFFI.xcframework"),
        .target(name: "OnsiteSDK", dependencies: ["OnsiteSDKFFI"], exclude: ["OnsiteSDKFFI.h", "OnsiteSDKFFI.modulemap"]),
    ]
)
"#;

fn write(path: &Path, text: &str) -> Result {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn copy_tree(from: &Path, to: &Path) -> Result {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| format!("{e}"))?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|e| format!("{}: {e}", target.display()))?;
        }
    }
    Ok(())
}
