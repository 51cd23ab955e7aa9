//! `kyc-mock`: runs the Pomelo Identity simulator until Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run -p kyc-mock -- --port 8080 --webhook-url http://127.0.0.1:9000/hooks/identity
//! ```
//! Run with `--help` for every option.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use kyc_mock::{MockConfig, MockServer, Outcome, StopSignals};

const USAGE: &str = "\
kyc-mock: a local simulator of Pomelo's Identity (KYC) API

USAGE: kyc-mock [OPTIONS]

  --port N                        port to listen on (default 0: any free port)
  --bind IP                       address to listen on (default 127.0.0.1)
  --allow-non-loopback            allow --bind and webhook URLs off loopback
  --client-id ID                  OAuth client id (default kyc-mock-client)
  --client-secret SECRET          OAuth client secret (default kyc-mock-secret)
  --audience AUD                  OAuth audience (default https://auth.pomelo.la; the other
                                  environments' audiences are accepted too)
  --strict-audience               accept only --audience
  --alternative NAME              play a way a real account may differ (repeatable):
                                  singular-get-path, hex-signatures, one-based-pages,
                                  ignores-page-number, stuck-current-page,
                                  ignores-idempotency-keys, fractional-sizes, more-formats
  --token-lifetime SECS           access-token lifetime (default 86400)
  --session-lifetime SECS         session lifetime (default 86400)
  --processing-delay-ms MS        time in PROCESSING before the outcome (default 50)
  --outcome validated | not-validated:REASON | manual
                                  outcome for user ids without a marker (default validated;
                                  manual: wait in PROCESSING for a decision in the console)
  --max-upload-bytes N            largest accepted file (default 67108864)
  --max-sessions N                most sessions kept (default 10000)
  --max-connections N             most connections served at once (default 256)
  --fault-rate RATE               answer this share of requests (0 to 1) with a random fault:
                                  429 + Retry-After: 1, 503, dropped connection, lost
                                  response, truncated body (for load tests)
  --webhook-url URL               where session notifications go (http:// on loopback)
  --required-file-webhook-url URL where required-file notifications go (default: --webhook-url)
  --api-key KEY                   webhook X-Api-Key (default: Pomelo's published example)
  --secret BASE64                 webhook signing secret (default: Pomelo's published example)
  --secret-file FILE              the webhook signing secret, from FILE (off the command line)
  --client-secret-file FILE       the OAuth client secret, from FILE
  -h, --help                      print this help
";

/// A secret from a file, its surrounding white space trimmed. The message names the file only.
fn read_secret(flag: &str, path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| format!("{flag}: cannot read {path}: {}", e.kind()))
}

fn parse_args(args: &[String]) -> Result<Option<MockConfig>, String> {
    let mut config = MockConfig::new();
    let mut ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut port: u16 = 0;
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let flag = flag.as_str();
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        if flag == "--allow-non-loopback" {
            config = config.danger_allow_non_loopback(true);
            continue;
        }
        if flag == "--strict-audience" {
            config = config.strict_audience(true);
            continue;
        }
        let value = iter
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .as_str();
        let number = |what: &str| -> Result<u64, String> {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: `{value}` is not a {what}"))
        };
        config = match flag {
            "--port" => {
                port = value
                    .parse()
                    .map_err(|_| format!("--port: `{value}` is not a port number"))?;
                config
            }
            "--bind" => {
                ip = value
                    .parse()
                    .map_err(|_| format!("--bind: `{value}` is not an IP address"))?;
                config
            }
            "--client-id" => config.client_id(value),
            "--client-secret" => config.client_secret(value),
            "--audience" => config.audience(value),
            "--alternative" => config.alternative(
                kyc_mock::Alternative::parse(value)
                    .ok_or_else(|| format!("--alternative: `{value}` is not one (see --help)"))?,
            ),
            "--token-lifetime" => {
                config.token_lifetime(Duration::from_secs(number("number of seconds")?))
            }
            "--session-lifetime" => {
                config.session_lifetime(Duration::from_secs(number("number of seconds")?))
            }
            "--processing-delay-ms" => {
                config.processing_delay(Duration::from_millis(number("number of milliseconds")?))
            }
            "--max-upload-bytes" => config.max_upload_bytes(
                usize::try_from(number("number of bytes")?)
                    .map_err(|_| "--max-upload-bytes is too large".to_owned())?,
            ),
            "--max-sessions" => config.max_sessions(
                usize::try_from(number("number")?)
                    .map_err(|_| "--max-sessions is too large".to_owned())?,
            ),
            "--max-connections" => config.max_connections(
                usize::try_from(number("number")?)
                    .map_err(|_| "--max-connections is too large".to_owned())?,
            ),
            "--fault-rate" => match value.parse::<f64>() {
                Ok(rate) if (0.0..=1.0).contains(&rate) => {
                    config.random_faults(rate, kyc_mock::Fault::typical_mix())
                }
                _ => {
                    return Err(format!(
                        "--fault-rate: `{value}` is not a number from 0 to 1"
                    ));
                }
            },
            "--outcome" => config.default_outcome(match value.split_once(':') {
                None if value == "validated" => Outcome::Validated,
                None if value == "manual" => Outcome::Manual,
                Some(("not-validated", reason)) if !reason.is_empty() => Outcome::NotValidated {
                    reason: reason.to_owned(),
                },
                _ => {
                    return Err(format!(
                        "--outcome: expected `validated`, `not-validated:REASON` or `manual`, got `{value}`"
                    ));
                }
            }),
            "--webhook-url" => config.webhook_url(value),
            "--required-file-webhook-url" => config.required_file_webhook_url(value),
            "--api-key" => config.webhook_api_key(value),
            "--secret" => config.webhook_secret(value),
            "--secret-file" => config.webhook_secret(read_secret(flag, value)?),
            "--client-secret-file" => config.client_secret(read_secret(flag, value)?),
            other => return Err(format!("unknown option `{other}`")),
        };
    }
    Ok(Some(config.bind_addr(SocketAddr::new(ip, port))))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse_args(&args) {
        Ok(Some(config)) => config,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kyc-mock: {e}\n\n{USAGE}");
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
    println!("webhook_api_key={}", server.webhook_api_key());
    println!(
        "webhook_secret={}",
        shown(server.webhook_secret(), kyc_mock::DEFAULT_WEBHOOK_SECRET)
    );
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
