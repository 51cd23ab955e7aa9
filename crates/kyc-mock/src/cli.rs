//! The simulator's command-line options, defined once for the `kyc-mock` program and for
//! `kyc mock` (which flattens them), with the one way from them to a [`MockConfig`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};

use crate::clock::millis;
use crate::{
    Alternative, Fault, MAX_WEBHOOK_DELAY, MAX_WEBHOOK_DUPLICATES, MockConfig, Outcome,
    WebhookChaos,
};

/// The simulator's options, a clap [`Args`] group: the `kyc-mock` program parses them, and a
/// program of your own can flatten them (`#[command(flatten)]`), as `kyc mock` does. Turn them
/// into a [`MockConfig`] with [`SimulatorArgs::config`].
///
/// ```
/// use clap::Parser;
///
/// #[derive(Parser)]
/// struct Program {
///     #[command(flatten)]
///     simulator: kyc_mock::SimulatorArgs,
/// }
///
/// let program = Program::parse_from(["program", "--port", "8080", "--outcome", "manual"]);
/// let config = program.simulator.config()?;
/// # let _ = config;
/// # Ok::<(), kyc_mock::SecretFileError>(())
/// ```
///
/// Defaults are [`MockConfig::new`]'s. Needs the `cli` feature (on by default).
#[derive(Clone, Args)]
#[non_exhaustive]
pub struct SimulatorArgs {
    /// Port to listen on (0: any free port)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port: u16,
    /// Address to listen on (another than loopback needs --allow-non-loopback)
    #[arg(long, value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Allow --bind and webhook URLs off loopback
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// The OAuth client the simulator accepts.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Accept only --audience, refusing the other Pomelo environments' audiences
    #[arg(long)]
    pub strict_audience: bool,
    /// Play a way a real Pomelo account may differ (repeatable): singular-get-path,
    /// hex-signatures, one-based-pages, ignores-page-number, stuck-current-page,
    /// ignores-idempotency-keys, fractional-sizes, more-formats
    #[arg(long = "alternative", value_name = "NAME", value_parser = parse_alternative)]
    pub alternatives: Vec<Alternative>,
    /// Access-token lifetime, in seconds
    #[arg(long, value_name = "SECS", default_value_t = defaults().token_lifetime.as_secs())]
    pub token_lifetime: u64,
    /// Session lifetime (created to expiring), in seconds
    #[arg(long, value_name = "SECS", default_value_t = defaults().session_lifetime.as_secs())]
    pub session_lifetime: u64,
    /// Time a session spends in PROCESSING before its outcome, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = millis(defaults().processing_delay))]
    pub processing_delay_ms: u64,
    /// Outcome of sessions whose user id has no marker: validated, not-validated:REASON, or
    /// manual (wait in PROCESSING for a decision in the console) [default: validated]
    #[arg(long, value_name = "OUTCOME", value_parser = parse_outcome, conflicts_with = "manual")]
    pub outcome: Option<Outcome>,
    /// Leave every session (without a marker in its user id) in PROCESSING until you decide it
    /// in the console or over /_admin/ (as --outcome manual)
    #[arg(long)]
    pub manual: bool,
    /// Largest accepted uploaded file, in bytes
    #[arg(long, value_name = "N", default_value_t = defaults().max_upload_bytes)]
    pub max_upload_bytes: usize,
    /// Most sessions kept at once
    #[arg(long, value_name = "N", default_value_t = defaults().max_sessions)]
    pub max_sessions: usize,
    /// Most connections served at once
    #[arg(long, value_name = "N", default_value_t = defaults().max_connections)]
    pub max_connections: usize,
    /// Answer this share of requests (0 to 1) with a random fault: 429 + Retry-After: 1, 503,
    /// dropped connection, lost response, truncated body (for load tests)
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub fault_rate: Option<f64>,
    /// Where session notifications are POSTed (http:// on loopback); repeat it for several
    /// receivers, which attempts take in turn (round-robin: a retry or a duplicate goes to the
    /// next one)
    #[arg(long = "webhook-url", value_name = "URL")]
    pub webhook_urls: Vec<String>,
    /// Where required-file notifications are POSTed [default: --webhook-url]
    #[arg(long, value_name = "URL")]
    pub required_file_webhook_url: Option<String>,
    /// Webhook X-Api-Key [default: Pomelo's published example]
    #[arg(long, value_name = "K")]
    pub api_key: Option<String>,
    /// Webhook signing secret, base64 [default: Pomelo's published example] (prefer
    /// --secret-file: command lines are visible to other users)
    #[arg(long, value_name = "BASE64", conflicts_with = "secret_file")]
    pub secret: Option<String>,
    /// A file holding the webhook signing secret
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Also send a session notification with status PROCESSING when a session's documents are
    /// in (the final one may then overtake it)
    #[arg(long)]
    pub notify_processing: bool,
    /// Seed of the webhook chaos's random choices, to replay a run [default: random, printed
    /// on start]
    #[arg(long, value_name = "N")]
    pub webhook_seed: Option<u64>,
    /// Share of webhook notifications (0 to 1) never delivered (listed as dropped)
    #[arg(long, value_name = "RATE", value_parser = parse_rate,
          default_value_t = WebhookChaos::new().drop_rate)]
    pub webhook_drop_rate: f64,
    /// Share of webhook notifications (0 to 1) delivered again later, as separate deliveries
    #[arg(long, value_name = "RATE", value_parser = parse_rate,
          default_value_t = WebhookChaos::new().duplicate_rate)]
    pub webhook_duplicate_rate: f64,
    /// Extra copies of a duplicated notification, from 1 to this many
    #[arg(long, value_name = "N", default_value_t = WebhookChaos::new().max_duplicates,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_WEBHOOK_DUPLICATES)))]
    pub webhook_max_duplicates: u32,
    /// Hold each webhook delivery a random time up to this, in milliseconds, so that later
    /// notifications can overtake earlier ones (at most 600000)
    #[arg(long, value_name = "MS", default_value_t = millis(WebhookChaos::new().max_delay),
          value_parser = clap::value_parser!(u64).range(0..=millis(MAX_WEBHOOK_DELAY)))]
    pub webhook_max_delay_ms: u64,
    /// Retries and duplicates keep the first attempt's X-Timestamp and X-Signature instead of
    /// being signed anew
    #[arg(long)]
    pub webhook_keep_signature: bool,
    /// Send webhook bodies without their event_id
    #[arg(long)]
    pub webhook_omit_event_id: bool,
    /// Most webhook notifications on their way at once (held, attempted, retrying); one more is
    /// dropped
    #[arg(long, value_name = "N", default_value_t = defaults().webhook_max_pending)]
    pub webhook_max_pending: usize,
}

/// The OAuth client the simulator accepts: `--client-id`, `--client-secret` (or
/// `--client-secret-file`) and `--audience`, each defaulting to [`MockConfig::new`]'s.
///
/// Only values given on the command line count. A program that flattens [`SimulatorArgs`] may
/// have global options of the same names that also read the environment (`kyc`'s
/// `--client-secret` reads `POMELO_CLIENT_SECRET`): clap hands their values to these options
/// too, and a real account's secret must not become the simulator's, which its start line prints.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ClientArgs {
    /// `--client-id`.
    pub client_id: Option<String>,
    /// `--client-secret`.
    pub client_secret: Option<String>,
    /// `--client-secret-file`.
    pub client_secret_file: Option<PathBuf>,
    /// `--audience`.
    pub audience: Option<String>,
}

const CLIENT_ID: &str = "client_id";
const CLIENT_SECRET: &str = "client_secret";
const CLIENT_SECRET_FILE: &str = "client_secret_file";
const AUDIENCE: &str = "audience";

impl Args for ClientArgs {
    fn augment_args(command: Command) -> Command {
        let text = |id: &'static str, long: &'static str, value_name: &'static str| {
            Arg::new(id)
                .long(long)
                .value_name(value_name)
                .value_parser(clap::value_parser!(String))
        };
        command
            .arg(text(CLIENT_ID, "client-id", "ID").help(format!(
                "OAuth client id the token endpoint accepts [default: {}]",
                crate::DEFAULT_CLIENT_ID
            )))
            .arg(
                text(CLIENT_SECRET, "client-secret", "SECRET")
                    .help(format!(
                        "OAuth client secret the token endpoint accepts [default: {}]",
                        crate::DEFAULT_CLIENT_SECRET
                    ))
                    .conflicts_with(CLIENT_SECRET_FILE),
            )
            .arg(
                Arg::new(CLIENT_SECRET_FILE)
                    .long("client-secret-file")
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("A file holding the OAuth client secret"),
            )
            .arg(text(AUDIENCE, "audience", "AUD").help(format!(
                "OAuth audience the token endpoint accepts; the other Pomelo environments' are \
                 accepted too unless --strict-audience [default: {}]",
                crate::DEFAULT_AUDIENCE
            )))
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for ClientArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = Self::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        fn given<T: Clone + Send + Sync + 'static>(
            matches: &ArgMatches,
            id: &str,
        ) -> Result<Option<T>, clap::Error> {
            if matches.value_source(id) != Some(ValueSource::CommandLine) {
                return Ok(None);
            }
            matches
                .try_get_one::<T>(id)
                .map(Option::<&T>::cloned)
                .map_err(|e| clap::Error::raw(ErrorKind::InvalidValue, format!("{id}: {e}\n")))
        }
        if let Some(id) = given(matches, CLIENT_ID)? {
            self.client_id = Some(id);
        }
        if let Some(secret) = given(matches, CLIENT_SECRET)? {
            self.client_secret = Some(secret);
        }
        if let Some(path) = given(matches, CLIENT_SECRET_FILE)? {
            self.client_secret_file = Some(path);
        }
        if let Some(audience) = given(matches, AUDIENCE)? {
            self.audience = Some(audience);
        }
        Ok(())
    }
}

/// A secret file named on the command line could not be read.
#[derive(Debug)]
pub struct SecretFileError {
    option: &'static str,
    path: PathBuf,
    source: std::io::Error,
}

impl SecretFileError {
    /// The option that named the file, e.g. `--secret-file`.
    pub fn option(&self) -> &'static str {
        self.option
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for SecretFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cannot read {}: {}",
            self.option,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for SecretFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The secret given as `value`, or read from `file` with its surrounding white space trimmed.
fn secret(
    value: Option<&String>,
    file: Option<&PathBuf>,
    option: &'static str,
) -> Result<Option<String>, SecretFileError> {
    match (value, file) {
        (Some(value), _) => Ok(Some(value.clone())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|text| Some(text.trim().to_owned()))
            .map_err(|source| SecretFileError {
                option,
                path: path.clone(),
                source,
            }),
        (None, None) => Ok(None),
    }
}

impl SimulatorArgs {
    /// The webhook signing secret given, by `--secret` or in `--secret-file`'s file (`None`: the
    /// default).
    ///
    /// # Errors
    ///
    /// The file of `--secret-file` cannot be read.
    pub fn webhook_secret(&self) -> Result<Option<String>, SecretFileError> {
        secret(
            self.secret.as_ref(),
            self.secret_file.as_ref(),
            "--secret-file",
        )
    }

    /// The webhook chaos the `--webhook-…` options describe.
    pub fn webhook_chaos(&self) -> WebhookChaos {
        WebhookChaos::new()
            .drop_rate(self.webhook_drop_rate)
            .duplicate_rate(self.webhook_duplicate_rate)
            .max_duplicates(self.webhook_max_duplicates)
            .max_delay(Duration::from_millis(self.webhook_max_delay_ms))
            .keep_first_signature(self.webhook_keep_signature)
            .omit_event_id(self.webhook_omit_event_id)
    }

    /// The outcome of sessions without a marker, when one is given (`--outcome`, `--manual`).
    pub fn outcome(&self) -> Option<Outcome> {
        if self.manual {
            Some(Outcome::Manual)
        } else {
            self.outcome.clone()
        }
    }

    /// The configuration these options describe, secrets read from their files.
    /// [`MockServer::start`](crate::MockServer::start) checks it.
    ///
    /// # Errors
    ///
    /// A file of `--secret-file` or `--client-secret-file` cannot be read.
    pub fn config(&self) -> Result<MockConfig, SecretFileError> {
        let mut config = MockConfig::new()
            .bind_addr(SocketAddr::new(self.bind, self.port))
            .danger_allow_non_loopback(self.allow_non_loopback)
            .strict_audience(self.strict_audience)
            .token_lifetime(Duration::from_secs(self.token_lifetime))
            .session_lifetime(Duration::from_secs(self.session_lifetime))
            .processing_delay(Duration::from_millis(self.processing_delay_ms))
            .max_upload_bytes(self.max_upload_bytes)
            .max_sessions(self.max_sessions)
            .max_connections(self.max_connections);
        for alternative in &self.alternatives {
            config = config.alternative(*alternative);
        }
        if let Some(outcome) = self.outcome() {
            config = config.default_outcome(outcome);
        }
        if let Some(rate) = self.fault_rate {
            config = config.random_faults(rate, Fault::typical_mix());
        }
        let client = &self.client;
        if let Some(id) = &client.client_id {
            config = config.client_id(id.as_str());
        }
        let client_secret = secret(
            client.client_secret.as_ref(),
            client.client_secret_file.as_ref(),
            "--client-secret-file",
        )?;
        if let Some(client_secret) = client_secret {
            config = config.client_secret(client_secret);
        }
        if let Some(audience) = &client.audience {
            config = config.audience(audience.as_str());
        }
        if !self.webhook_urls.is_empty() {
            config = config.webhook_urls(&self.webhook_urls);
        }
        if let Some(seed) = self.webhook_seed {
            config = config.webhook_seed(seed);
        }
        config = config
            .notify_processing(self.notify_processing)
            .webhook_max_pending(self.webhook_max_pending)
            .webhook_chaos(self.webhook_chaos());
        if let Some(url) = &self.required_file_webhook_url {
            config = config.required_file_webhook_url(url.as_str());
        }
        if let Some(key) = &self.api_key {
            config = config.webhook_api_key(key.as_str());
        }
        if let Some(secret) = self.webhook_secret()? {
            config = config.webhook_secret(secret);
        }
        Ok(config)
    }
}

// Hand-written so that secrets never reach a log.
impl fmt::Debug for SimulatorArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| "[redacted]");
        f.debug_struct("SimulatorArgs")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("allow_non_loopback", &self.allow_non_loopback)
            .field("client", &self.client)
            .field("strict_audience", &self.strict_audience)
            .field("alternatives", &self.alternatives)
            .field("token_lifetime", &self.token_lifetime)
            .field("session_lifetime", &self.session_lifetime)
            .field("processing_delay_ms", &self.processing_delay_ms)
            .field("outcome", &self.outcome)
            .field("manual", &self.manual)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("max_sessions", &self.max_sessions)
            .field("max_connections", &self.max_connections)
            .field("fault_rate", &self.fault_rate)
            .field("webhook_urls", &self.webhook_urls)
            .field("required_file_webhook_url", &self.required_file_webhook_url)
            .field("api_key", &self.api_key)
            .field("secret", &redacted(&self.secret))
            .field("secret_file", &self.secret_file)
            .field("notify_processing", &self.notify_processing)
            .field("webhook_seed", &self.webhook_seed)
            .field("webhook_drop_rate", &self.webhook_drop_rate)
            .field("webhook_duplicate_rate", &self.webhook_duplicate_rate)
            .field("webhook_max_duplicates", &self.webhook_max_duplicates)
            .field("webhook_max_delay_ms", &self.webhook_max_delay_ms)
            .field("webhook_keep_signature", &self.webhook_keep_signature)
            .field("webhook_omit_event_id", &self.webhook_omit_event_id)
            .field("webhook_max_pending", &self.webhook_max_pending)
            .finish()
    }
}

impl fmt::Debug for ClientArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientArgs")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("client_secret_file", &self.client_secret_file)
            .field("audience", &self.audience)
            .finish()
    }
}

/// The defaults the options show: [`MockConfig::new`]'s.
fn defaults() -> MockConfig {
    MockConfig::new()
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err("expected a number from 0 to 1".to_owned()),
    }
}

fn parse_alternative(text: &str) -> Result<Alternative, String> {
    Alternative::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Alternative::ALL.iter().map(|a| a.name()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

fn parse_outcome(text: &str) -> Result<Outcome, String> {
    match text.split_once(':') {
        None if text == "validated" => Ok(Outcome::Validated),
        None if text == "manual" => Ok(Outcome::Manual),
        Some(("not-validated", reason)) if !reason.is_empty() => Ok(Outcome::NotValidated {
            reason: reason.to_owned(),
        }),
        _ => Err("expected validated, not-validated:REASON or manual".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{ArgAction, CommandFactory as _, Parser};

    #[derive(Debug, Parser)]
    struct Program {
        #[command(flatten)]
        simulator: SimulatorArgs,
    }

    fn parse(args: &[&str]) -> Result<SimulatorArgs, clap::Error> {
        Program::try_parse_from(std::iter::once("kyc-mock").chain(args.iter().copied()))
            .map(|p| p.simulator)
    }

    #[test]
    fn the_definition_is_consistent() {
        Program::command().debug_assert();
    }

    #[test]
    fn options_become_the_configuration() {
        let args = parse(&[
            "--port",
            "8080",
            "--client-id",
            "id",
            "--client-secret",
            "s3cret",
            "--outcome",
            "not-validated:RISK",
            "--alternative",
            "hex-signatures",
            "--processing-delay-ms",
            "0",
        ])
        .unwrap();
        assert_eq!(
            args.outcome(),
            Some(Outcome::NotValidated {
                reason: "RISK".into()
            })
        );
        let config = args.config().unwrap();
        assert_eq!(config.bind_addr.port(), 8080);
        assert_eq!(config.client_id, "id");
        assert_eq!(config.client_secret, "s3cret");
        assert!(config.plays(Alternative::HexSignatures));
        assert_eq!(config.processing_delay, Duration::ZERO);
        assert!(!format!("{args:?}").contains("s3cret"));
        // The defaults are MockConfig's.
        let plain = parse(&[]).unwrap().config().unwrap();
        let defaults = MockConfig::new();
        assert_eq!(plain.token_lifetime, defaults.token_lifetime);
        assert_eq!(plain.processing_delay, defaults.processing_delay);
        assert_eq!(plain.max_upload_bytes, defaults.max_upload_bytes);
        assert_eq!(plain.bind_addr, defaults.bind_addr);
        assert_eq!(plain.client_secret, defaults.client_secret);
        assert_eq!(plain.default_outcome, Outcome::Validated);
        assert_eq!(
            parse(&["--manual"]).unwrap().outcome(),
            Some(Outcome::Manual)
        );
        assert_eq!(plain.webhook_urls, defaults.webhook_urls);
        assert_eq!(plain.webhook_chaos, defaults.webhook_chaos);
        assert_eq!(plain.webhook_seed, None);
        assert_eq!(plain.webhook_max_pending, defaults.webhook_max_pending);
        assert!(!plain.notify_processing);
        for bad in [
            &["--outcome", "maybe"][..],
            &["--webhook-drop-rate", "2"],
            &["--webhook-max-duplicates", "11"],
            &["--webhook-max-delay-ms", "600001"],
            &["--webhook-seed", "-1"],
            &["--fault-rate", "1.5"],
            &["--alternative", "moon"],
            &["--manual", "--outcome", "validated"],
            &["--secret", "a", "--secret-file", "f"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let missing = parse(&["--secret-file", "/nonexistent/kyc-mock-secret"])
            .unwrap()
            .config()
            .unwrap_err();
        assert_eq!(missing.option(), "--secret-file");
        assert!(
            missing
                .to_string()
                .starts_with("--secret-file: cannot read")
        );
    }

    #[test]
    fn webhook_options_become_the_configuration() {
        let config = parse(&[
            "--webhook-url",
            "http://127.0.0.1:1/a",
            "--webhook-url",
            "http://127.0.0.1:2/b",
            "--webhook-seed",
            "42",
            "--webhook-drop-rate",
            "0.25",
            "--webhook-duplicate-rate",
            "0.5",
            "--webhook-max-duplicates",
            "3",
            "--webhook-max-delay-ms",
            "250",
            "--webhook-keep-signature",
            "--webhook-omit-event-id",
            "--notify-processing",
            "--webhook-max-pending",
            "7",
        ])
        .unwrap()
        .config()
        .unwrap();
        assert_eq!(
            config.webhook_urls,
            ["http://127.0.0.1:1/a", "http://127.0.0.1:2/b"]
        );
        assert_eq!(config.webhook_seed, Some(42));
        assert_eq!(
            config.webhook_chaos,
            WebhookChaos::new()
                .drop_rate(0.25)
                .duplicate_rate(0.5)
                .max_duplicates(3)
                .max_delay(Duration::from_millis(250))
                .keep_first_signature(true)
                .omit_event_id(true)
        );
        assert!(config.notify_processing);
        assert_eq!(config.webhook_max_pending, 7);
    }

    /// A parent program whose global `--client-secret` has a value of its own (a default here,
    /// an environment variable in `kyc`): only a value on the command line reaches the simulator.
    #[test]
    fn a_parent_programs_credentials_count_only_from_the_command_line() {
        let command = Command::new("parent")
            .arg(
                Arg::new(CLIENT_SECRET)
                    .long("client-secret")
                    .global(true)
                    .action(ArgAction::Set)
                    .default_value("the parent's"),
            )
            .subcommand(SimulatorArgs::augment_args(Command::new("mock")));
        let client = |args: &[&str]| {
            let matches = command.clone().try_get_matches_from(args).unwrap();
            let (_, mock) = matches.subcommand().unwrap();
            SimulatorArgs::from_arg_matches(mock).unwrap().client
        };
        // clap does hand the parent's value to the simulator's option…
        let matches = command.clone().get_matches_from(["parent", "mock"]);
        let (_, mock) = matches.subcommand().unwrap();
        assert_eq!(
            mock.get_one::<String>(CLIENT_SECRET).map(String::as_str),
            Some("the parent's")
        );
        // …which does not take it.
        assert_eq!(client(&["parent", "mock"]).client_secret, None);
        assert_eq!(
            client(&["parent", "mock", "--client-secret", "given"]).client_secret,
            Some("given".into())
        );
        assert_eq!(
            client(&["parent", "--client-secret", "given", "mock"]).client_secret,
            Some("given".into())
        );
    }
}
