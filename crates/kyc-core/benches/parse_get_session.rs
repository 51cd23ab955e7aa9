//! Benchmark target 1 (issue #8): reading a ~2 KB get-session response through kyc-core costs no
//! more than `serde_json::from_slice::<serde_json::Value>` on the same bytes (ratio ≤ 1.0).

// Benchmarks set up fixed, known-good inputs: a panic here is a broken benchmark, not a defect.
// `criterion_group!` generates an undocumented public function.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kyc_core::{GetSession, parse_response};

fn get_session(c: &mut Criterion) {
    let response = common::get_session_response();
    let body = common::GET_SESSION_BODY;
    let mut group = c.benchmark_group("t1_get_session_parse");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("kyc_core", |b| {
        b.iter(|| parse_response::<GetSession, _>(black_box(&response)).unwrap());
    });
    group.bench_function("serde_json_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(body)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, get_session);
criterion_main!(benches);
