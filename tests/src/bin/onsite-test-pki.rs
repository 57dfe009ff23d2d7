//! Writes a throwaway PKI for the cross-language TLS runs (`cargo xtask ci`): `ca.pem`,
//! `server.pem` and `server.key` (for `localhost` and `127.0.0.1`), `client.pem` and
//! `client.key`, into the directory given as the argument.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: onsite-test-pki DIR")?);
    std::fs::create_dir_all(&dir)?;
    let pki = onsite_tests::pki::Pki::new();
    for (name, pem) in [
        ("ca.pem", &pki.ca),
        ("server.pem", &pki.server_certificate),
        ("server.key", &pki.server_key),
        ("client.pem", &pki.client_certificate),
        ("client.key", &pki.client_key),
    ] {
        std::fs::write(dir.join(name), pem)?;
    }
    Ok(())
}
