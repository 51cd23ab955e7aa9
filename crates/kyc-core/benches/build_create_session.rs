//! Benchmark target 2 (issue #8): building a create-session request with personal data costs at
//! most 1.5× `serde_json::to_vec` of the same body.

// Benchmarks set up fixed, known-good inputs: a panic here is a broken benchmark, not a defect.
// `criterion_group!` generates an undocumented public function.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn build(c: &mut Criterion) {
    let inputs = common::create_inputs();
    let mut group = c.benchmark_group("t2_create_session_build");
    group.bench_function("kyc_core", |b| {
        b.iter(|| common::build_create(black_box(&inputs)));
    });
    group.bench_function("serde_json_to_vec", |b| {
        b.iter(|| serde_json::to_vec(black_box(&inputs.create)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, build);
criterion_main!(benches);
