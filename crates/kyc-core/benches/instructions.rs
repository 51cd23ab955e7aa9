//! Runs one benchmarked operation a given number of times, for counting its instructions under
//! `valgrind --tool=callgrind` (`scripts/bench.sh` does this). Instruction counts do not depend on
//! the machine's load, so they cross-check the criterion time ratios on a busy machine.
//!
//! Usage: `instructions <operation> <iterations>`; the per-call count is the difference between
//! a run with N iterations and a run with 0, divided by N. `instructions list` names the
//! operations.

// Benchmarks set up fixed, known-good inputs: a panic here is a broken benchmark, not a defect.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;

use kyc_core::{GetSession, parse_response};

const OPERATIONS: &[&str] = &[
    "t1_get_session_parse/kyc_core",
    "t1_get_session_parse/serde_json_value",
    "t2_create_session_build/kyc_core",
    "t2_create_session_build/serde_json_to_vec",
    "t3_webhook_verify_64k/verify_signature",
    "t3_webhook_verify_64k/bare_hmac_sha256",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` runs every bench target with `--bench`: nothing to count then.
    if args.iter().any(|a| a == "--bench") || args.first().map(String::as_str) == Some("list") {
        if args.first().map(String::as_str) == Some("list") {
            println!("{}", OPERATIONS.join("\n"));
        }
        return;
    }
    let (Some(operation), Some(iterations)) = (args.first(), args.get(1)) else {
        eprintln!("usage: instructions <operation> <iterations> | instructions list");
        std::process::exit(2);
    };
    let n: u64 = iterations.parse().expect("a number of iterations");
    match operation.as_str() {
        "t1_get_session_parse/kyc_core" => {
            let response = common::get_session_response();
            for _ in 0..n {
                black_box(parse_response::<GetSession, _>(black_box(&response)).unwrap());
            }
        }
        "t1_get_session_parse/serde_json_value" => {
            let _ = common::get_session_response();
            for _ in 0..n {
                let body = black_box(common::GET_SESSION_BODY);
                black_box(serde_json::from_slice::<serde_json::Value>(body).unwrap());
            }
        }
        "t2_create_session_build/kyc_core" => {
            let inputs = common::create_inputs();
            for _ in 0..n {
                black_box(common::build_create(black_box(&inputs)));
            }
        }
        "t2_create_session_build/serde_json_to_vec" => {
            let inputs = common::create_inputs();
            for _ in 0..n {
                black_box(serde_json::to_vec(black_box(&inputs.create)).unwrap());
            }
        }
        "t3_webhook_verify_64k/verify_signature" => {
            let w = common::webhook();
            for _ in 0..n {
                w.verifier
                    .verify_signature(black_box(&w.headers), black_box(&w.body), w.now)
                    .unwrap();
            }
        }
        "t3_webhook_verify_64k/bare_hmac_sha256" => {
            let w = common::webhook();
            for _ in 0..n {
                black_box(w.bare_hmac(black_box(&w.body)));
            }
        }
        other => {
            eprintln!("unknown operation {other}; `instructions list` names them");
            std::process::exit(2);
        }
    }
}
