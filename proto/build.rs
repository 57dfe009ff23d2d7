//! Compiles the onsite.v1 contract with the pure-Rust `protox`, so no `protoc` is needed.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "onsite/v1/common.proto",
    "onsite/v1/tickets.proto",
    "onsite/v1/slips.proto",
    "onsite/v1/customers.proto",
    "onsite/v1/engineers.proto",
    "onsite/v1/dispatch.proto",
    "onsite/v1/sync.proto",
    "onsite/v1/reports.proto",
    "onsite/v1/admin.proto",
    "onsite/v1/auth.proto",
    "onsite/v1/catalog.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Server reflection serves this encoded descriptor set.
    std::fs::write(out.join("onsite_descriptor.bin"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure()
        // Services not implemented yet answer UNIMPLEMENTED instead of failing to compile.
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    Ok(())
}
