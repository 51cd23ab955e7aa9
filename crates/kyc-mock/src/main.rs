//! `kyc-mock`: runs the Pomelo Identity simulator until Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run -p kyc-mock -- --port 8080 --webhook-url http://127.0.0.1:9000/hooks/identity
//! ```
//! Run with `--help` for every option (the same as `kyc mock`'s: [`kyc_mock::SimulatorArgs`]).

use std::process::ExitCode;

use clap::Parser;
use kyc_mock::{MockServer, SimulatorArgs, StopSignals};

/// kyc-mock: a local simulator of Pomelo's Identity (KYC) API
#[derive(Parser)]
#[command(name = "kyc-mock", version)]
struct Program {
    #[command(flatten)]
    simulator: SimulatorArgs,
}

fn main() -> ExitCode {
    // Usage errors exit 2, --help and --version 0.
    let program = Program::parse();
    let config = match program.simulator.config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kyc-mock: {e}");
            return ExitCode::from(2);
        }
    };
    let signals = match StopSignals::install() {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("kyc-mock: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match MockServer::start(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("kyc-mock: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("kyc-mock listening on {}", server.base_url());
    println!("base_url={}", server.base_url());
    println!("client_id={}", server.client_id());
    // A secret given to this program is never printed back; the defaults are test values.
    let shown = |secret: &str, default: &str| {
        if secret == default {
            secret.to_owned()
        } else {
            "(as given)".to_owned()
        }
    };
    println!(
        "client_secret={}",
        shown(server.client_secret(), kyc_mock::DEFAULT_CLIENT_SECRET)
    );
    println!("audience={}", server.audience());
    println!("webhook_url={}", server.webhook_url().unwrap_or("(none)"));
    if server.webhook_urls().len() > 1 {
        // Several receivers, taken in turn: URLs hold no spaces.
        println!("webhook_urls={}", server.webhook_urls().join(" "));
    }
    println!("webhook_api_key={}", server.webhook_api_key());
    println!(
        "webhook_secret={}",
        shown(server.webhook_secret(), kyc_mock::DEFAULT_WEBHOOK_SECRET)
    );
    // The chaos's decisions replay with --webhook-seed and this number.
    println!("webhook_seed={}", server.webhook_seed());
    println!("openapi_url={}", server.openapi_url());
    println!("console_url={}", server.console_url());
    println!("admin_token={}", server.admin_token());
    println!("Press Ctrl-C to stop.");
    let waited = signals.wait();
    server.shutdown();
    match waited {
        Ok(()) => {
            println!("kyc-mock stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kyc-mock: cannot wait for a stop signal: {e}");
            ExitCode::FAILURE
        }
    }
}
