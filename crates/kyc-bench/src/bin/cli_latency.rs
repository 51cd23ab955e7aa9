//! The CLI's latency (issue #13's target 4): `kyc session get ID` in a fresh process (a token
//! request and a get) against kyc-mock, side by side with `curl` doing the same two requests in
//! one shell command, plus the size of the `kyc` binary.
//!
//! ```text
//! cargo build --release -p kyc-cli
//! cargo run --release -p kyc-bench --bin cli_latency -- target/release/kyc [ROUNDS]
//! ```
//!
//! Rounds alternate between the two commands (default 41 of each); reported: the median wall
//! time of each (spawn to exit, output read), the ratio (goal ≤ 2), and the binary's size as
//! built and stripped (`strip` on a copy, when installed).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kyc_ureq::kyc_core::{Config, Country, CreateSession, Credentials, Environment};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn timed(command: &mut Command) -> Result<Duration, Error> {
    let start = Instant::now();
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    // Both answer with the session: a command that printed something else measured nothing.
    if !String::from_utf8_lossy(&output.stdout).contains("iss-") {
        return Err(format!("{command:?} printed no session").into());
    }
    Ok(elapsed)
}

fn size_mib(path: &Path) -> Result<f64, Error> {
    Ok(std::fs::metadata(path)?.len() as f64 / (1024.0 * 1024.0))
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let kyc = args
        .next()
        .ok_or("usage: cli_latency PATH_TO_KYC [ROUNDS]")?;
    let rounds: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(41);

    let server = kyc_mock::MockServer::start(kyc_mock::MockConfig::new())?;
    let base = server.base_url().to_owned();
    let config = Config::builder(Environment::Sandbox)
        .base_url(&base)
        .build()?;
    let client = kyc_ureq::Client::new(
        config,
        Credentials::new(server.client_id(), server.client_secret()),
    );
    let id = client
        .create_session(&CreateSession::new("usr-latency", Country::Arg))?
        .id;

    let mut kyc_command = Command::new(&kyc);
    kyc_command
        .args(["session", "get", id.as_str()])
        .env("POMELO_ENV", "sandbox")
        .env("POMELO_BASE_URL", &base)
        .env("POMELO_CLIENT_ID", server.client_id())
        .env("POMELO_CLIENT_SECRET", server.client_secret())
        .env("POMELO_AUDIENCE", server.audience());
    let token_body = format!(
        r#"{{"client_id":"{}","client_secret":"{}","audience":"{}","grant_type":"client_credentials"}}"#,
        server.client_id(),
        server.client_secret(),
        server.audience()
    );
    let script = format!(
        "t=$(curl -sf -X POST -H 'content-type: application/json' -d '{token_body}' {base}/oauth/token \
         | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/') && \
         curl -sf -H \"authorization: Bearer $t\" -H 'accept: application/json' {base}/identity/v1/sessions/{id}",
        id = id.as_str()
    );
    let mut curl_command = Command::new("sh");
    curl_command.args(["-c", &script]);

    // Warm-up: page cache, the simulator's first connections.
    for _ in 0..3 {
        timed(&mut kyc_command)?;
        timed(&mut curl_command)?;
    }
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(timed(&mut kyc_command)?.as_secs_f64() * 1000.0);
        theirs.push(timed(&mut curl_command)?.as_secs_f64() * 1000.0);
    }
    let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
    let (kyc_ms, curl_ms) = (
        kyc_bench::median(ours.clone()),
        kyc_bench::median(theirs.clone()),
    );
    println!("{rounds} alternating rounds, wall time from spawn to exit");
    println!("kyc session get:   {} ms", kyc_bench::spread(&ours, 2));
    println!("sh + curl + curl:  {} ms", kyc_bench::spread(&theirs, 2));
    println!(
        "ratio of medians: {:.2} (goal <= 2); per round pair: {}",
        kyc_ms / curl_ms,
        kyc_bench::spread(&ratios, 2)
    );
    let built = Path::new(&kyc);
    let size = size_mib(built)?;
    println!("kyc binary: {size:.2} MiB as built");
    let stripped = std::env::temp_dir().join(format!("kyc-stripped-{}", std::process::id()));
    std::fs::copy(built, &stripped)?;
    let stripped_size = match Command::new("strip").arg(&stripped).status() {
        Ok(status) if status.success() => {
            let size = size_mib(&stripped)?;
            println!("kyc binary: {size:.2} MiB stripped");
            format!("{size:.2}")
        }
        _ => {
            println!("kyc binary: `strip` not available");
            "—".to_owned()
        }
    };
    let _ = std::fs::remove_file(&stripped);
    println!(
        "RESULT kyc_ms={kyc_ms:.2} curl_ms={curl_ms:.2} ratio={:.2} size_mib={size:.2} stripped_mib={stripped_size}",
        kyc_ms / curl_ms
    );
    Ok(())
}
