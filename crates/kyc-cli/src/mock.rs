//! `kyc mock`: the simulator in the foreground until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};

use kyc_core::webhook::WebhookSecret;
use kyc_mock::{MockConfig, MockServer, StartError, StopSignals};
use serde::Serialize;

use crate::cli::MockArgs;
use crate::failure::Failure;

/// The line printed on start: where the simulator is and how to call it.
#[derive(Serialize)]
struct Started<'a> {
    base_url: &'a str,
    audience: &'a str,
    /// The simulator's own test credentials (`kyc-mock-client` / `kyc-mock-secret`): printing
    /// them is the point, they open nothing else.
    client_id: &'a str,
    client_secret: &'a str,
    webhook_url: Option<&'a str>,
    webhook_api_key: &'a str,
    /// Printed only when it is the default (Pomelo's published example pair); a secret given with
    /// `--secret` is never echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<&'a str>,
    /// The console, its token included (it answers only on loopback).
    console_url: String,
    /// The admin API's token (`x-admin-token`).
    admin_token: &'a str,
}

pub(crate) fn run(args: &MockArgs) -> Result<(), Failure> {
    let mut config =
        MockConfig::new().bind_addr(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), args.port));
    if let Some(url) = &args.webhook_url {
        config = config.webhook_url(url.as_str());
    }
    for alternative in &args.alternatives {
        config = config.alternative(*alternative);
    }
    if args.manual {
        config = config.default_outcome(kyc_mock::Outcome::Manual);
    }
    if let Some(rate) = args.fault_rate {
        config = config.random_faults(rate, kyc_mock::Fault::typical_mix());
    }
    let custom_secret =
        args.api_key.is_some() || args.secret.is_some() || args.secret_file.is_some();
    let secret = match (&args.secret, &args.secret_file) {
        (Some(secret), _) => Some(secret.clone()),
        (None, Some(path)) => Some(crate::webhook::read_secret_file("--secret-file", path)?),
        (None, None) => None,
    };
    if args.api_key.is_some() != secret.is_some() {
        return Err(Failure::invalid_input(
            "--api-key and --secret (or --secret-file) go together",
        ));
    }
    if let (Some(api_key), Some(secret)) = (&args.api_key, &secret) {
        // Checked here so that no message about it can quote it.
        WebhookSecret::from_base64(secret)
            .map_err(|e| Failure::invalid_input(format!("--secret: {e}")))?;
        config = config
            .webhook_api_key(api_key.as_str())
            .webhook_secret(secret.as_str());
    }
    // Installed before the start line is printed, so a signal sent as soon as it appears is
    // handled.
    let signals = StopSignals::install().map_err(|e| Failure::io("cannot handle signals", &e))?;
    let server = MockServer::start(config).map_err(|e| match e {
        StartError::InvalidConfig { .. } => Failure::invalid_input(e.to_string()),
        other => Failure::io(
            "cannot start the simulator",
            &std::io::Error::other(other.to_string()),
        ),
    })?;
    let started = Started {
        base_url: server.base_url(),
        audience: server.audience(),
        client_id: server.client_id(),
        client_secret: server.client_secret(),
        webhook_url: server.webhook_url(),
        webhook_api_key: server.webhook_api_key(),
        webhook_secret: (!custom_secret).then(|| server.webhook_secret()),
        console_url: server.console_url(),
        admin_token: server.admin_token(),
    };
    let line = serde_json::to_string(&started)
        .map_err(|e| Failure::io("cannot render the start line", &std::io::Error::other(e)))?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .map_err(|e| Failure::io("cannot write to stdout", &e))?;
    }
    eprintln!(
        "kyc mock: Pomelo Identity simulator on {}; console at {}; Ctrl-C to stop",
        server.base_url(),
        server.console_url()
    );
    let waited = signals.wait();
    server.shutdown();
    waited.map_err(|e| Failure::io("cannot wait for a stop signal", &e))?;
    eprintln!("kyc mock: stopped");
    Ok(())
}
