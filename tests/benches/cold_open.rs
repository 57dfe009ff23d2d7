//! Cold open of the engineer's app: `EngineerSession::open` on a phone store holding 500 slips
//! (with their tickets, customers and the parts catalog), then the day's list as the first
//! screen shows it. The baseline in the same run is the same on an empty store, signed in.
//! Run with `cargo bench -p onsite-tests --bench cold_open`.

use std::hint::black_box;
use std::time::Duration;

use chrono::Datelike;
use criterion::{Criterion, criterion_group, criterion_main};
use onsite_mobile::{EngineerSession, SessionConfig};
use onsite_tests::{Backend, Fixture};

const SLIPS: usize = 500;

/// The key of the encrypted stores.
const KEY: [u8; 32] = [9; 32];

fn config(dir: &std::path::Path, key: Option<&[u8]>) -> SessionConfig {
    SessionConfig {
        data_dir: dir.display().to_string(),
        device_label: "bench".into(),
        background_sync_seconds: None,
        sync_after_write: false,
        ca_certificate_pem: None,
        allow_plaintext: false,
        store_key: key.map(<[u8]>::to_vec),
    }
}

/// A phone store signed in as an engineer with `slips` slips pulled.
fn phone(
    rt: &tokio::runtime::Runtime,
    f: &Fixture,
    engineer: (&str, &str),
    slips: usize,
    key: Option<&[u8]>,
) -> tempfile::TempDir {
    rt.block_on(async {
        for _ in 0..slips {
            f.dispatched_slip(engineer.0).await;
        }
    });
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let session = EngineerSession::open(config(dir.path(), key)).unwrap_or_else(|e| panic!("{e}"));
    session.sign_in(format!("http://{}", f.server.addr), engineer.1.to_owned()).unwrap_or_else(|e| panic!("{e}"));
    assert!(session.slips().map(|s| s.len()).unwrap_or(0) >= slips, "the store holds the slips");
    dir
}

fn cold_open(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let f = rt.block_on(Fixture::new(Backend::Sqlite));
    let full = phone(&rt, &f, (&f.engineer_id, &f.engineer), SLIPS, None);
    // The same 500 slips, pulled again into an encrypted store.
    let sealed = phone(&rt, &f, (&f.engineer_id, &f.engineer), 0, Some(&KEY));
    let empty = phone(&rt, &f, (&f.other_engineer_id, &f.other_engineer), 0, None);
    let today = chrono::Utc::now().date_naive();
    let mut group = c.benchmark_group("cold_open");
    group.sample_size(30).measurement_time(Duration::from_secs(20));
    for (name, dir, key) in
        [("500_slips", &full, None), ("500_slips_encrypted", &sealed, Some(&KEY[..])), ("empty_store", &empty, None)]
    {
        group.bench_function(name, |b| {
            b.iter(|| {
                let session = EngineerSession::open(config(dir.path(), key)).unwrap_or_else(|e| panic!("{e}"));
                let list = session.slips_for_day(today.year(), today.month(), today.day()).unwrap_or_default();
                black_box(list.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, cold_open);
criterion_main!(benches);
