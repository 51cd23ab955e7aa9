//! Requests per second of `Client::get_session` against a minimal local HTTP server, side by side
//! with hand-written ureq code doing the same request (keep-alive in both).
//!
//! ```text
//! cargo run --release -p kyc-bench --bin get_session_rps [REQUESTS_PER_ROUND]
//! ```
//!
//! Both sides send `GET /identity/v1/sessions/iss-bench` with a bearer token to the same server
//! and decode the ~2 KB JSON answer (kyc-ureq into its typed `Session`, the hand-written side into
//! a `serde_json::Value`). Rounds alternate between the two sides so machine noise hits both
//! alike; the median round of each side is reported, then the ratio (target ≥ 0.9).

use std::time::Instant;

use kyc_ureq::Client;
use kyc_ureq::kyc_core::{Config, Credentials, Environment};

const ROUNDS: usize = 7;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let per_round: usize = kyc_bench::arg(1, 2_000)?;
    let body = kyc_bench::session_json();
    let body_len = body.len();
    let base_url = kyc_bench::spawn_server(move |_| (200, body.clone()))?;

    let config = Config::builder(Environment::Sandbox)
        .base_url(&base_url)
        .build()?;
    let client = Client::new(config, Credentials::new("bench-client", "bench-secret"));
    let token = client.token()?.access_token;

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{base_url}/identity/v1/sessions/iss-bench");
    let bearer = format!("Bearer {}", token.expose_secret());
    let by_hand = || -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let mut response = agent
            .get(&url)
            .header("authorization", &bearer)
            .header("accept", "application/json")
            .call()?;
        let bytes = response.body_mut().read_to_vec()?;
        Ok(serde_json::from_slice(&bytes)?)
    };

    // Warm-up: connections open, caches hot.
    for _ in 0..200 {
        client.get_session("iss-bench")?;
        by_hand()?;
    }

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..per_round {
            std::hint::black_box(client.get_session("iss-bench")?);
        }
        ours.push(per_round as f64 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        for _ in 0..per_round {
            std::hint::black_box(by_hand()?);
        }
        theirs.push(per_round as f64 / start.elapsed().as_secs_f64());
    }
    let (ours, theirs) = (kyc_bench::median(ours), kyc_bench::median(theirs));
    println!(
        "response body: {body_len} bytes; {ROUNDS} alternating rounds of {per_round} requests"
    );
    println!("kyc-ureq get_session:        {ours:>9.0} req/s (median round)");
    println!("hand-written ureq + Value:   {theirs:>9.0} req/s (median round)");
    println!("ratio: {:.3} (target >= 0.9)", ours / theirs);
    Ok(())
}
