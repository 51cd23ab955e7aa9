//! Benchmark target 3 (issue #8): verifying a webhook with a 64 KB body runs at ≥ 0.9× the
//! throughput of a bare HMAC-SHA256 over the same bytes (same `hmac` and `sha2` crates), and at
//! ≥ 1 GB/s.
//!
//! `verify_signature` is the part the target is about. `verify` also parses the body into an
//! event, so it is compared with the bare HMAC followed by `serde_json::from_slice::<Value>`.

// Benchmarks set up fixed, known-good inputs: a panic here is a broken benchmark, not a defect.
// `criterion_group!` generates an undocumented public function.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn verify(c: &mut Criterion) {
    let w = common::webhook();
    let mut group = c.benchmark_group("t3_webhook_verify_64k");
    group.throughput(Throughput::Bytes(common::WEBHOOK_BODY_LEN as u64));
    group.bench_function("verify_signature", |b| {
        b.iter(|| {
            w.verifier
                .verify_signature(black_box(&w.headers), black_box(&w.body), w.now)
                .unwrap();
        });
    });
    group.bench_function("bare_hmac_sha256", |b| {
        b.iter(|| w.bare_hmac(black_box(&w.body)));
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            w.verifier
                .verify(black_box(&w.headers), black_box(&w.body), w.now)
                .unwrap()
        });
    });
    group.bench_function("bare_hmac_then_json_value", |b| {
        b.iter(|| {
            let mac = w.bare_hmac(black_box(&w.body));
            let value: serde_json::Value = serde_json::from_slice(black_box(&w.body)).unwrap();
            (mac, value)
        });
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
