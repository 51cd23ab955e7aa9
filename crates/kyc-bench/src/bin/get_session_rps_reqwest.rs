//! Requests per second of kyc-reqwest's `Client::get_session` against a minimal local HTTP server,
//! side by side with hand-written reqwest code doing the same request (keep-alive in both, one
//! tokio current-thread runtime, one request at a time): issue #13's target 1, the async twin of
//! `get_session_rps`.
//!
//! ```text
//! cargo run --release -p kyc-bench --bin get_session_rps_reqwest [REQUESTS_PER_ROUND]
//! ```
//!
//! Both sides send `GET /identity/v1/sessions/iss-bench` with a bearer token and decode the ~2 KB
//! answer (kyc-reqwest into its typed `Session`, the hand-written side into a
//! `serde_json::Value`). Rounds alternate so machine noise hits both alike; the median round of
//! each side is reported, then the ratio (target ≥ 0.9).

use std::time::Instant;

use kyc_reqwest::Client;
use kyc_reqwest::kyc_core::{Config, Credentials, Environment};

const ROUNDS: usize = 7;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let per_round: usize = kyc_bench::arg(1, 2_000)?;
    let body = kyc_bench::session_json();
    let body_len = body.len();
    let base_url = kyc_bench::spawn_server(move |_| (200, body.clone()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config = Config::builder(Environment::Sandbox)
            .base_url(&base_url)
            .build()?;
        let client = Client::new(config, Credentials::new("bench-client", "bench-secret"));
        let token = client.token().await?.access_token;

        let bare = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let url = format!("{base_url}/identity/v1/sessions/iss-bench");
        let bearer = format!("Bearer {}", token.expose_secret());
        let by_hand = || async {
            let response = bare
                .get(&url)
                .header("authorization", &bearer)
                .header("accept", "application/json")
                .send()
                .await?;
            let bytes = response.bytes().await?;
            Ok::<_, Box<dyn std::error::Error>>(serde_json::from_slice::<serde_json::Value>(
                &bytes,
            )?)
        };

        for _ in 0..200 {
            client.get_session("iss-bench").await?;
            by_hand().await?;
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let start = Instant::now();
            for _ in 0..per_round {
                std::hint::black_box(client.get_session("iss-bench").await?);
            }
            ours.push(per_round as f64 / start.elapsed().as_secs_f64());
            let start = Instant::now();
            for _ in 0..per_round {
                std::hint::black_box(by_hand().await?);
            }
            theirs.push(per_round as f64 / start.elapsed().as_secs_f64());
        }
        let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
        let (ours, theirs) = (kyc_bench::median(ours), kyc_bench::median(theirs));
        println!(
            "response body: {body_len} bytes; {ROUNDS} alternating rounds of {per_round} requests"
        );
        println!("kyc-reqwest get_session:     {ours:>9.0} req/s (median round)");
        println!("hand-written reqwest + Value:{theirs:>9.0} req/s (median round)");
        println!(
            "ratio: {:.3} (target >= 0.9); per round pair: {}",
            ours / theirs,
            kyc_bench::spread(&ratios, 3)
        );
        println!(
            "RESULT ours={ours:.0} theirs={theirs:.0} ratio={:.3}",
            ours / theirs
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
