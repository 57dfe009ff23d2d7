//! Rendering a signature is linear in its pen path: 100,000 points against a hand-sized
//! signature of 300 points in the same run (`cargo bench -p onsite-sdk --bench signature`).

use criterion::{Criterion, criterion_group, criterion_main};
use onsite_sdk::StrokePoint;
use onsite_sdk::signature::render_png;

/// A looping signature of `points` points, about 2 px apart, on a 600 x 240 canvas.
fn signature(points: u32) -> Vec<Vec<StrokePoint>> {
    let strokes = 20;
    (0..strokes)
        .map(|s| {
            (0..points / strokes)
                .map(|i| {
                    let t = i as f32 / 40.0;
                    StrokePoint {
                        x: 30.0 + 27.0 * s as f32 + 12.0 * t.cos(),
                        y: 120.0 + 80.0 * (t / 7.0).sin() + 12.0 * t.sin(),
                        t_ms: i,
                        pressure: 0.5,
                    }
                })
                .collect()
        })
        .collect()
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("signature");
    group.sample_size(20);
    for points in [300, 100_000] {
        let strokes = signature(points);
        group.bench_function(format!("render_{points}_points"), |b| {
            b.iter(|| render_png(&strokes, 600, 240).unwrap_or_else(|e| panic!("{e}")))
        });
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
