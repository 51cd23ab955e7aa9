//! The command line: commands, options, environment variables and help texts (clap derive).
//!
//! Values that may be secrets (`--client-secret`, `--secret`) are plain strings here and are
//! checked after parsing, so that no clap error message can echo them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use kyc_core::Environment;

const ROOT_AFTER_HELP: &str = "\
Output: on success one JSON document on stdout (the API's `data`, unwrapped). On failure nothing
on stdout, and stderr's first line is `error[KIND]: MESSAGE`, KIND being one of api (MESSAGE
starts with the HTTP status code), transport, decode, invalid_input, auth, or a webhook rejection
reason.

Exit codes: 0 success; 1 API error or transport failure (after retries); 2 invalid usage or input
rejected before any request; 3 webhook rejected.

Examples:
  export POMELO_CLIENT_ID=... POMELO_CLIENT_SECRET=...
  kyc session search --status VALIDATED --created-from 2024-05-01 --all
  kyc --env production session get iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR
  kyc demo";

/// `kyc`: Pomelo Identity (KYC) from the command line.
#[derive(Debug, Parser)]
#[command(
    name = "kyc",
    version,
    about = "Pomelo Identity (KYC) from the command line: sessions, uploads, webhooks, simulator",
    long_about = "Pomelo Identity (KYC) from the command line.\n\n\
        Look at a session, upload a document, clear a test user, check why a webhook was \
        rejected, run the local simulator, or watch the whole flow, from a shell or a script. \
        Every global option can also come from the environment variable shown with it.",
    after_help = ROOT_AFTER_HELP,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where and as whom to call the API.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// Pomelo environment: production, sandbox or stage (blank means sandbox)
    #[arg(
        long = "env",
        env = "POMELO_ENV",
        value_name = "ENV",
        value_parser = parse_environment,
        default_value = "sandbox",
        global = true
    )]
    pub(crate) environment: Environment,
    /// API base URL, overriding the environment's (e.g. the simulator's http://127.0.0.1:PORT)
    #[arg(long, env = "POMELO_BASE_URL", value_name = "URL", global = true)]
    pub(crate) base_url: Option<String>,
    /// OAuth audience, overriding the environment's
    #[arg(long, env = "POMELO_AUDIENCE", value_name = "AUD", global = true)]
    pub(crate) audience: Option<String>,
    /// OAuth client id
    #[arg(long, env = "POMELO_CLIENT_ID", value_name = "ID", global = true)]
    pub(crate) client_id: Option<String>,
    /// OAuth client secret (prefer the environment variable or --client-secret-file: command
    /// lines are visible to others)
    #[arg(
        long,
        env = "POMELO_CLIENT_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        global = true
    )]
    pub(crate) client_secret: Option<String>,
    /// A file holding the OAuth client secret
    #[arg(
        long,
        value_name = "FILE",
        global = true,
        conflicts_with = "client_secret"
    )]
    pub(crate) client_secret_file: Option<PathBuf>,
    /// Get-session path template with {session_id}, where your account differs
    /// (/identity/v1/session/{session_id} on Pomelo's English pages)
    #[arg(
        long,
        env = "POMELO_GET_SESSION_PATH",
        value_name = "TEMPLATE",
        global = true
    )]
    pub(crate) get_session_path: Option<String>,
    /// Cancel-session path template with {session_id}
    #[arg(
        long,
        env = "POMELO_CANCEL_SESSION_PATH",
        value_name = "TEMPLATE",
        global = true
    )]
    pub(crate) cancel_session_path: Option<String>,
    /// Search-sessions path
    #[arg(
        long,
        env = "POMELO_SEARCH_SESSIONS_PATH",
        value_name = "PATH",
        global = true
    )]
    pub(crate) search_sessions_path: Option<String>,
    /// Clean-validations path
    #[arg(
        long,
        env = "POMELO_CLEAN_VALIDATIONS_PATH",
        value_name = "PATH",
        global = true
    )]
    pub(crate) clean_validations_path: Option<String>,
    /// Number of a search's first page: 0 or 1 (default 0)
    #[arg(long, env = "POMELO_FIRST_PAGE", value_name = "N", global = true)]
    pub(crate) first_page: Option<String>,
    /// Most pages one `session search --all` fetches (default 1000)
    #[arg(long, env = "POMELO_MAX_PAGES", value_name = "N", global = true)]
    pub(crate) max_pages: Option<String>,
    /// Time one command may take, token, retries and back-off included (default 180)
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout, global = true)]
    pub(crate) timeout: Option<Duration>,
}

/// `production`, `sandbox` or `stage` (any case; also `prod`, `staging`) as kyc-core reads them;
/// blank is the default, sandbox, as for `kyc_ureq::Client::from_env`.
fn parse_environment(text: &str) -> Result<Environment, String> {
    if text.trim().is_empty() {
        return Ok(Environment::Sandbox);
    }
    Environment::from_name(text).ok_or_else(|| "expected production, sandbox or stage".to_owned())
}

/// A number of seconds, fractions allowed, zero allowed.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds".to_owned())?;
    if seconds.is_nan() || seconds < 0.0 {
        return Err("expected a number of seconds, 0 or more".to_owned());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| "too many seconds".to_owned())
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds".to_owned())?;
    if seconds.is_nan() || seconds <= 0.0 {
        return Err("the timeout must be more than 0 seconds".to_owned());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| "the timeout is too large".to_owned())
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Get an access token: prints its type and expiry (the token itself only with --reveal)
    #[command(after_help = "\
Prints {\"token_type\": \"Bearer\", \"expires_at\": \"2024-05-13T19:47:13Z\"} (RFC 3339, UTC).
A failed token request is reported as error[auth] (error[transport] when no answer came).

Examples:
  kyc token
  kyc token --reveal | jq -r .access_token")]
    Token(TokenArgs),
    /// Revoke the access token at Pomelo: its next token request issues a new one
    #[command(after_help = "\
Prints {\"revoked\": true}. A refused request is error[api] with its status (error[transport]
when no answer came).

Example:
  kyc revoke")]
    Revoke,
    /// Create, read, cancel, report on and search validation sessions
    #[command(
        subcommand,
        after_help = "\
Examples:
  kyc session create --country ARG --user-id usr-2HPUYx0n9USSNwSkP5G0gY1I2TO
  kyc session get iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR
  kyc session search --status VALIDATED --all"
    )]
    Session(SessionCommand),
    /// Upload a document (JPEG, PNG or PDF) to a session's person or company, streamed from a file
    #[command(after_help = "\
Prints the uploaded file's description. The file is checked before anything is sent: empty,
too large, not JPEG/PNG/PDF, or (with --country) a document type that country does not accept
is error[invalid_input], exit 2. A progress bar is drawn on stderr when it is a terminal.

Example:
  kyc upload --session iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR --entity usr-2HPUYx0n9USSNwSkP5G0gY1I2TO \\
      --type identity-card-front --country ARG front.png")]
    Upload(UploadArgs),
    /// Delete a user's validations in a test environment (refused for production)
    #[command(after_help = "\
Prints {\"deleted_sessions\": N} when the server says how many. Refused with error[invalid_input],
exit 2, before any request when the environment or base URL is Pomelo's production.

Examples:
  kyc clean --user-id usr-2HPUYx0n9USSNwSkP5G0gY1I2TO
  kyc clean --document-number 30123456")]
    Clean(CleanArgs),
    /// Verify a received webhook, or sign one as Pomelo would
    #[command(
        subcommand,
        after_help = "\
Examples:
  kyc webhook verify --secret \"$API_KEY:$API_SECRET\" --header ... --body event.json
  kyc webhook sign --api-key \"$API_KEY\" --secret \"$API_SECRET\" --endpoint /webhooks/identity"
    )]
    Webhook(WebhookCommand),
    /// Run the local Pomelo Identity simulator until Ctrl-C or SIGTERM
    #[command(after_help = "\
On start, prints one JSON line on stdout with base_url, audience, client_id, client_secret (the
simulator's own test credentials, unless given), webhook_url and webhook_api_key (and
webhook_secret when it is the default, Pomelo's published example), openapi_url, console_url and admin_token,
then serves on 127.0.0.1 (or --bind) until stopped. The kyc-mock program takes the same options. Open console_url in a browser on this machine to watch sessions arrive,
decide their outcome, resend webhooks and queue faults; scripts in any language do the same over
/_admin/ with the header x-admin-token.

Example:
  kyc mock --port 8080 --webhook-url http://127.0.0.1:9000/hooks/identity --manual
  # elsewhere: kyc --base-url http://127.0.0.1:8080 --audience https://auth.pomelo.la \\
  #     --client-id kyc-mock-client --client-secret kyc-mock-secret session search")]
    Mock(MockArgs),
    /// Print the OpenAPI 3.1 description of Pomelo's Identity API as kyc-rs understands it
    #[command(after_help = "\
Prints docs/openapi.json, the document the simulator serves at /openapi.json: every path,
parameter and member of the API, each marked in x-kyc-basis as documented by Pomelo (with the
reference's section), inferred, or this project's choice (with the setting that changes it).
Generate a client from it, or check a server against it.

Example:
  kyc openapi > pomelo-identity.openapi.json")]
    Openapi,
    /// Run a complete KYC flow and then a KYB flow against an embedded simulator, step by step
    #[command(after_help = "\
Starts the simulator and a webhook receiver on 127.0.0.1, then gets a token, creates a session,
uploads three documents, verifies the signed \"validated\" webhook, and reads the session and its
report; then creates a KYB session for a company and its partner (Pomelo's documented example),
uploads the company's document and the partner's, verifies its webhook and reads its typed
report, printing one readable line per step. Needs no credentials and no network.

Example:
  kyc demo")]
    Demo,
    /// Find out, read-only, how your Pomelo account behaves, and print the settings that fit it
    #[command(after_help = "\
Runs a fixed list of read-only checks against the configured environment (at most 10 requests
before retries; nothing is created, uploaded, cancelled or cleaned) and prints
{\"checks\": [{\"name\", \"verdict\": \"ok|differs|unknown|failed\", \"setting\": \"POMELO_...=value\" or
null, \"detail\", \"sent\", \"received\"}]}; on a terminal, also a table on stderr. Exit 0 when no
check failed, 1 otherwise.

Examples:
  kyc doctor --session iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR
  kyc doctor --webhook-file delivery.http --secret-file secrets.txt --env-file pomelo.env
  set -a; . ./pomelo.env; set +a    # then every kyc command and from_env uses the settings")]
    Doctor(DoctorArgs),
    /// Follow sessions to their verdicts, once: receive webhooks, poll what goes quiet, hand
    /// each verdict over until acknowledged
    #[command(
        subcommand,
        after_help = "\
State lives in --db (POMELO_TRACK_DB; default sqlite:kyc-track.db in this folder): one SQLite
file, so `serve` and the other commands can run side by side. Every verdict has a stable key
(the session id): act on it once, then acknowledge it (`verdicts --ack`).

Examples:
  kyc track serve --listen 127.0.0.1:9000 --secret-file secrets.txt
  kyc track add iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR
  kyc track list
  kyc track show iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR
  kyc track verdicts --follow --ack | while read -r line; do ...; done"
    )]
    Track(TrackCommand),
    /// Print a shell completion script for kyc
    #[command(after_help = "\
Examples:
  kyc completions bash > ~/.local/share/bash-completion/completions/kyc
  kyc completions zsh > \"${fpath[1]}/_kyc\"
  kyc completions fish > ~/.config/fish/completions/kyc.fish")]
    Completions(CompletionsArgs),
}

/// `kyc completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell
    #[arg(value_name = "SHELL")]
    pub(crate) shell: clap_complete::Shell,
}

/// `kyc token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// Also print the access token itself (anyone holding it can call the API until it expires)
    #[arg(long)]
    pub(crate) reveal: bool,
}

/// `kyc session ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// Start a session: KYC for a person, KYB (--kyb) for a company, or an employee's (--company-id)
    #[command(after_help = "\
Prints {\"id\", \"created_at\", \"expiration_at\", \"url\", \"idempotency_key\"} (no url for KYB).
--personal-data reads a JSON object from a file, or from stdin with -: Pomelo publishes no KYC
schema; its KYB partner example has full_name, birthdate, nationality, fiscal_id, mother_name,
phone and address, and any other member is sent as is.

KYB (--kyb, flow kyb-cards unless --flow-type says otherwise): the company as a JSON object
(--company: id, is_mei, fiscal_id, annual_income, legal_nature...) and its partners as a JSON
array (--partners: id, partner_type, company_relationship, corporate_participation, fiscal_id,
full_name, birthdate, nationality, mother_name, phone, pep, salary, address...), or both with
terms_data in one --data object, as in Pomelo's documented example. An employee of a validated
company: --company-id with --user-id (flow kyb-cards-additional).

Examples:
  kyc session create --country ARG --user-id usr-2HPUYx0n9USSNwSkP5G0gY1I2TO
  echo '{\"full_name\": \"Ana Souza\"}' | kyc session create --country BRA --user-id usr-1 \\
      --personal-data - --terms-version v3 --terms-accepted-at 2024-05-13T19:47:13.340Z
  kyc session create --kyb --country BRA --company company.json --partners partners.json \\
      --terms-version 1 --terms-accepted-at 2022-05-13T19:47:13.340Z
  kyc session create --kyb --country BRA --data kyb.json
  kyc session create --country BRA --company-id cmp-1 --user-id usr-employee-1")]
    Create(CreateArgs),
    /// Read a session: status, steps and files
    #[command(after_help = "\
Example:
  kyc session get iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR | jq -r .status")]
    Get(SessionIdArg),
    /// Cancel a session that is not final yet
    #[command(after_help = "\
Prints the cancelled session (null if the server sends none back). A session already final is
error[api] 409.

Example:
  kyc session cancel iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR")]
    Cancel(SessionIdArg),
    /// Read a session's report (the data collected during the session)
    #[command(after_help = "\
A KYB report carries company_data, documentation_request, documentation_proof and partners, as
in Pomelo's documented example; an individual's report is printed as the server sent it.

Example:
  kyc session report iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR")]
    Report(SessionIdArg),
    /// Search sessions: one page, or every page with --all
    #[command(after_help = "\
Prints one page as {\"data\": [...], \"meta\": {\"pagination\": {...}}}, or with --all a JSON
array of every matching session (fetched page after page). Pages are numbered from 0.

Examples:
  kyc session search --status VALIDATED --status NOT_VALIDATED --created-from 2024-05-01
  kyc session search --user-id usr-1 --sort -created_at --page-size 50 --page 2
  kyc session search --filter country=ARG --all | jq length")]
    Search(SearchArgs),
}

/// A session id argument.
#[derive(Debug, Args)]
pub(crate) struct SessionIdArg {
    /// The session id (iss-...)
    #[arg(value_name = "ID")]
    pub(crate) id: String,
}

/// The integration methods the API knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MethodName {
    /// The integrator uploads the documents through the API
    #[value(name = "API")]
    Api,
    /// The person goes through Pomelo's web flow (the session's url)
    #[value(name = "WEB")]
    Web,
}

/// `kyc session create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The person's country, ISO 3166-1 alpha-3 (ARG, BRA, CHL, COL, MEX, PER, ...)
    #[arg(long, value_name = "C")]
    pub(crate) country: String,
    /// The Pomelo user id (usr-...): the person, or with --company-id the employee
    #[arg(long, value_name = "U", required_unless_present = "kyb")]
    pub(crate) user_id: Option<String>,
    /// The flow (default kyc-accounts; kyb-cards with --kyb; kyb-cards-additional with
    /// --company-id)
    #[arg(long, value_name = "FLOW")]
    pub(crate) flow_type: Option<String>,
    /// Validate a company and its partners (KYB) instead of a person
    #[arg(long, conflicts_with_all = ["user_id", "personal_data", "company_id"])]
    pub(crate) kyb: bool,
    /// KYB: the company, a JSON object, from FILE or from stdin with -
    #[arg(long, value_name = "FILE|-", requires = "kyb", requires = "partners")]
    pub(crate) company: Option<String>,
    /// KYB: the partners, a JSON array, from FILE or from stdin with -
    #[arg(long, value_name = "FILE|-", requires = "kyb", requires = "company")]
    pub(crate) partners: Option<String>,
    /// KYB: the whole data object ({"company", "partners", "terms_data"}), from FILE or stdin
    #[arg(long, value_name = "FILE|-", requires = "kyb", conflicts_with_all = ["company", "partners"])]
    pub(crate) data: Option<String>,
    /// An employee's session: the validated company (cmp-...) the --user-id works for
    #[arg(long, value_name = "CMP", requires = "user_id")]
    pub(crate) company_id: Option<String>,
    /// API (documents uploaded through the API) or WEB (Pomelo's web flow)
    #[arg(long, value_enum, ignore_case = true, default_value = "API")]
    pub(crate) integration_method: MethodName,
    /// A JSON object with the person's data, from FILE or from stdin with -
    #[arg(long, value_name = "FILE|-")]
    pub(crate) personal_data: Option<String>,
    /// Version of the terms and conditions the person accepted
    #[arg(
        long,
        value_name = "V",
        requires = "terms_accepted_at",
        conflicts_with = "company_id"
    )]
    pub(crate) terms_version: Option<String>,
    /// When they were accepted, RFC 3339 (e.g. 2024-05-13T19:47:13.340Z)
    #[arg(long, value_name = "RFC3339", requires = "terms_version")]
    pub(crate) terms_accepted_at: Option<String>,
    /// Idempotency key to send (1-255 visible ASCII characters) instead of a random one: store it
    /// first, and run the same command again under it after a failure. Printed either way
    /// (`idempotency_key` in the output, and in the error message)
    #[arg(long, value_name = "KEY")]
    pub(crate) idempotency_key: Option<String>,
}

/// `kyc session search`.
#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Keep sessions with this status (repeat for several: PENDING, IN_PROGRESS, PROCESSING,
    /// MANUAL_REVIEW, VALIDATED, NOT_VALIDATED, REJECTED, EXPIRED, CANCELLED)
    #[arg(long = "status", value_name = "S")]
    pub(crate) statuses: Vec<String>,
    /// Keep the sessions of one user
    #[arg(long, value_name = "U")]
    pub(crate) user_id: Option<String>,
    /// Keep sessions created on or after this day
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub(crate) created_from: Option<String>,
    /// Keep sessions created on or before this day
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub(crate) created_to: Option<String>,
    /// Any other filter, FIELD=VALUE (repeatable; e.g. country=ARG or flow_type=kyc-accounts)
    #[arg(long = "filter", value_name = "FIELD=VALUE")]
    pub(crate) filters: Vec<String>,
    /// Sort by FIELD, or by -FIELD descending (repeatable; the first sorts first)
    #[arg(long = "sort", value_name = "FIELD|-FIELD", allow_hyphen_values = true)]
    pub(crate) sorts: Vec<String>,
    /// Sessions per page
    #[arg(long, value_name = "N")]
    pub(crate) page_size: Option<u32>,
    /// Which page, from 0
    #[arg(long, value_name = "N", conflicts_with = "all")]
    pub(crate) page: Option<u32>,
    /// Fetch every page and print one JSON array of all the sessions
    #[arg(long)]
    pub(crate) all: bool,
}

/// `kyc upload`.
#[derive(Debug, Args)]
pub(crate) struct UploadArgs {
    /// The session id (iss-...)
    #[arg(long, value_name = "ID")]
    pub(crate) session: String,
    /// The entity the document belongs to: the user id (usr-...), or in a KYB session the
    /// company id (cmp-...) or a partner's user id
    #[arg(long, value_name = "ID")]
    pub(crate) entity: String,
    /// The session is KYB: company-document is accepted (with --country, checked against the
    /// KYB list)
    #[arg(long)]
    pub(crate) kyb: bool,
    /// The document type (selfie, identity-card-front, identity-card-back, passport,
    /// driver-license-front, driver-license-back, company-document, ...)
    #[arg(long = "type", value_name = "DOC_TYPE")]
    pub(crate) document_type: String,
    /// The session's country: the document type is checked against its list before sending
    #[arg(long, value_name = "C")]
    pub(crate) country: Option<String>,
    /// Idempotency key to send instead of a random one (see `session create --help`)
    #[arg(long, value_name = "KEY")]
    pub(crate) idempotency_key: Option<String>,
    /// Content type to send (type/subtype, e.g. image/heic) for a file that is not JPEG, PNG or
    /// PDF; by default it is detected from the file's first bytes
    #[arg(long, value_name = "TYPE")]
    pub(crate) content_type: Option<String>,
    /// The file to upload
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

/// `kyc clean`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("whose").required(true).args(["user_id", "document_number"])))]
pub(crate) struct CleanArgs {
    /// Delete the validations of this user
    #[arg(long, value_name = "ID")]
    pub(crate) user_id: Option<String>,
    /// Delete the validations made with this identity document number; - reads it from stdin
    /// (a number on the command line is visible to other users)
    #[arg(long, value_name = "N|-")]
    pub(crate) document_number: Option<String>,
    /// Run even though the base URL is not one of Pomelo's test hosts nor loopback (a proxy in
    /// front of the sandbox): if it leads to production, real validations are deleted
    #[arg(long)]
    pub(crate) danger_allow_test_operations_on_any_host: bool,
}

/// `kyc webhook ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum WebhookCommand {
    /// Check a received webhook's signature, freshness and endpoint, then read its body
    #[command(after_help = "\
Prints {\"type\": \"validation_session\" | \"required_file\" | \"other\", \"event\": <the body>}.
A rejected webhook exits 3 with error[KIND], KIND being missing_header, unknown_api_key,
unsupported_algorithm, malformed_signature, malformed_timestamp, stale, future,
endpoint_mismatch, signature_mismatch or invalid_json.

--secret is API_KEY:BASE64_SECRET, split at the last `:` (base64 never contains `:`, and keys
and secrets may end in `=`). Repeat it for several keys, or for old and new secrets of one key.
Without --body the body is empty.

Example:
  kyc webhook verify --secret \"$API_KEY:$API_SECRET\" --endpoint /webhooks/identity \\
      --header \"X-Api-Key: $API_KEY\" --header \"X-Signature: hmac-sha256 ...\" \\
      --header 'X-Timestamp: 1715629633' --header 'X-Endpoint: /webhooks/identity' \\
      --body event.json")]
    Verify(VerifyArgs),
    /// Sign a body as Pomelo does: prints the four webhook headers
    #[command(after_help = "\
Prints {\"X-Api-Key\": ..., \"X-Signature\": ..., \"X-Timestamp\": ..., \"X-Endpoint\": ...}.
Without --timestamp the current time is used; without --body the body is empty.

Example:
  kyc webhook sign --api-key \"$API_KEY\" --secret \"$API_SECRET\" \\
      --endpoint /webhooks/identity --body event.json")]
    Sign(SignArgs),
}

/// `kyc webhook verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) secrets: SecretArgs,
    /// A captured delivery: headers, a blank line, the raw body (instead of --header and --body)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["headers", "body"])]
    pub(crate) request: Option<PathBuf>,
    /// The path this receiver serves: X-Endpoint must equal it
    #[arg(long, value_name = "PATH")]
    pub(crate) endpoint: Option<String>,
    /// Freshness window either side of --now (default 300)
    #[arg(long, value_name = "SECONDS")]
    pub(crate) tolerance: Option<u64>,
    /// The time to judge freshness against, Unix seconds (default: now)
    #[arg(long, value_name = "UNIX")]
    pub(crate) now: Option<u64>,
    /// A received header, 'Name: value' (repeatable)
    #[arg(long = "header", value_name = "'Name: value'")]
    pub(crate) headers: Vec<String>,
    /// The raw body as received, from FILE or from stdin with -
    #[arg(long, value_name = "FILE|-")]
    pub(crate) body: Option<String>,
}

/// Where the webhook secrets come from: any mix of --secret values, a --secret-file and
/// POMELO_WEBHOOK_SECRETS (prefer the last two: command lines are visible to other users).
#[derive(Debug, Args)]
pub(crate) struct SecretArgs {
    /// An accepted key and its secret, API_KEY:BASE64_SECRET (repeatable)
    #[arg(long = "secret", value_name = "API_KEY:BASE64_SECRET")]
    pub(crate) secrets: Vec<String>,
    /// A file of API_KEY:BASE64_SECRET lines
    #[arg(long, value_name = "FILE")]
    pub(crate) secret_file: Option<PathBuf>,
    /// API_KEY:BASE64_SECRET entries separated by commas or newlines
    #[arg(
        long = "secrets-from-env",
        env = "POMELO_WEBHOOK_SECRETS",
        hide = true,
        hide_env_values = true
    )]
    pub(crate) from_env: Option<String>,
}

/// `kyc doctor`.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// A session of yours, to find which get-session path answers it
    #[arg(long, value_name = "ID")]
    pub(crate) session: Option<String>,
    /// A captured webhook delivery (headers, a blank line, the raw body), to find which digest
    /// encoding and endpoint form verify; needs the webhook secrets
    #[arg(long, value_name = "FILE")]
    pub(crate) webhook_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) secrets: SecretArgs,
    /// Write the settings that fit your account to FILE, as POMELO_*=value lines to source
    #[arg(long, value_name = "FILE")]
    pub(crate) env_file: Option<PathBuf>,
}

/// `kyc webhook sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The X-Api-Key to send
    #[arg(long, value_name = "K")]
    pub(crate) api_key: String,
    /// The signing secret, base64 as Pomelo issues it (prefer --secret-file: command lines are
    /// visible to other users)
    #[arg(long, value_name = "BASE64", required_unless_present = "secret_file")]
    pub(crate) secret: Option<String>,
    /// A file holding the signing secret
    #[arg(long, value_name = "FILE", conflicts_with = "secret")]
    pub(crate) secret_file: Option<PathBuf>,
    /// The path (with query, if any) the webhook is sent to
    #[arg(long, value_name = "PATH")]
    pub(crate) endpoint: String,
    /// The signing time, Unix seconds (default: now)
    #[arg(long, value_name = "UNIX")]
    pub(crate) timestamp: Option<u64>,
    /// The raw body, from FILE or from stdin with -
    #[arg(long, value_name = "FILE|-")]
    pub(crate) body: Option<String>,
}

/// `kyc track`.
#[derive(Debug, Subcommand)]
pub(crate) enum TrackCommand {
    /// Receive webhooks and poll sessions until stopped (Ctrl-C or SIGTERM)
    #[command(after_help = "\
Prints one JSON line on start (listen, webhook_path, db), then serves until stopped. A webhook
is answered 2xx only once its effect is committed (5xx when the database fails, so that Pomelo
sends it again); a redelivery, however re-spelled or re-signed, is recognised by its content.
Sessions not heard of for the quiet period are polled, within the poll budget.

Example:
  kyc track serve --listen 127.0.0.1:9000 --webhook-path /webhooks/identity \\
      --secret \"$API_KEY:$API_SECRET\" --quiet-period 600")]
    Serve(Box<TrackServeArgs>),
    /// Start following existing sessions (created elsewhere)
    #[command(after_help = "\
Prints {\"following\": [...]}. Each is polled after the quiet period unless a webhook comes.

Example:
  kyc track add iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fS")]
    Add(TrackAddArgs),
    /// List tracked sessions, newest first
    #[command(after_help = "\
Prints a JSON array: each session's id, subject, status, verdict, polls and next poll.

Example:
  kyc track list --limit 20")]
    List(TrackListArgs),
    /// Show one tracked session: its state, where each change came from, polls, conflicts
    #[command(after_help = "\
Prints the session's record as JSON; error[invalid_input] (exit 2) when it is not tracked.

Example:
  kyc track show iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR")]
    Show(TrackShowArgs),
    /// Print the verdicts waiting for the application, one JSON line each, with its key
    #[command(after_help = "\
Without --ack, prints the verdicts not acknowledged yet and changes nothing. With --ack, takes
each (no other consumer gets it meanwhile), prints it, flushes, then acknowledges it: a consumer
that dies before the line is read gets it again after the lease. --follow keeps waiting for new
ones until stopped.

Examples:
  kyc track verdicts
  kyc track verdicts --ack --follow")]
    Verdicts(TrackVerdictsArgs),
}

/// Where a tracker keeps its state, and the tracking rules (every one a guess where Pomelo
/// publishes nothing, so every one a setting).
#[derive(Debug, Args)]
pub(crate) struct TrackStoreArgs {
    /// The tracker's database: sqlite:PATH (default sqlite:kyc-track.db)
    #[arg(
        long,
        env = "POMELO_TRACK_DB",
        value_name = "URL",
        default_value = "sqlite:kyc-track.db"
    )]
    pub(crate) db: String,
}

/// The tracking rules.
#[derive(Debug, Args)]
pub(crate) struct TrackRuleArgs {
    /// Statuses that end a session, comma-separated (default
    /// VALIDATED,NOT_VALIDATED,REJECTED,EXPIRED,CANCELLED)
    #[arg(long, env = "POMELO_FINAL_STATUSES", value_name = "LIST")]
    pub(crate) final_statuses: Option<String>,
    /// Seconds a session may go unheard of before it is polled (default 600)
    #[arg(long, env = "POMELO_TRACK_QUIET_PERIOD", value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) quiet_period: Option<Duration>,
    /// Longest wait between two polls of one session, seconds (default 21600)
    #[arg(long, env = "POMELO_TRACK_MAX_BACKOFF", value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) max_backoff: Option<Duration>,
    /// Most polls of one session (default 40)
    #[arg(long, env = "POMELO_TRACK_MAX_POLLS", value_name = "N")]
    pub(crate) max_polls: Option<u32>,
    /// Seconds after which a session is no longer polled (default 604800)
    #[arg(long, env = "POMELO_TRACK_GIVE_UP_AFTER", value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) give_up_after: Option<Duration>,
    /// Seconds after a session's expiry before its last poll (default 300)
    #[arg(long, env = "POMELO_TRACK_EXPIRY_GRACE", value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) expiry_grace: Option<Duration>,
    /// Polls a minute for every session together (default 60)
    #[arg(long, env = "POMELO_TRACK_POLLS_PER_MINUTE", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) polls_per_minute: Option<u32>,
}

/// `kyc track serve`.
#[derive(Debug, Args)]
pub(crate) struct TrackServeArgs {
    #[command(flatten)]
    pub(crate) store: TrackStoreArgs,
    #[command(flatten)]
    pub(crate) rules: TrackRuleArgs,
    /// Where to receive webhooks (default 127.0.0.1:0: any free port, printed on start)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: std::net::SocketAddr,
    /// The path webhooks are posted to (and signed for: X-Endpoint must match)
    #[arg(long, value_name = "PATH", default_value = "/webhooks/identity")]
    pub(crate) webhook_path: String,
    #[command(flatten)]
    pub(crate) secrets: SecretArgs,
    /// Longest idle wait of the polling loop, seconds (default 5)
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "5")]
    pub(crate) idle: Duration,
    /// How long a claimed poll is held before another replica may take it, seconds: what a
    /// replica's death delays its claimed polls by (default 300)
    #[arg(
        long,
        env = "POMELO_TRACK_POLL_LEASE",
        value_name = "SECONDS",
        value_parser = parse_seconds,
        default_value = "300"
    )]
    pub(crate) poll_lease: Duration,
    /// How long a create is held by the replica sending or resuming it before another may
    /// resume it, seconds: longer than two calls with their retries (default 600)
    #[arg(
        long,
        env = "POMELO_TRACK_CREATE_LEASE",
        value_name = "SECONDS",
        value_parser = parse_seconds,
        default_value = "600"
    )]
    pub(crate) create_lease: Duration,
    /// This replica's name, sent in its requests' User-Agent (`kyc-track NAME`) and printed on
    /// start: tells replicas apart in Pomelo's and a proxy's logs
    #[arg(long, env = "POMELO_TRACK_REPLICA", value_name = "NAME")]
    pub(crate) replica: Option<String>,
}

/// `kyc track add`.
#[derive(Debug, Args)]
pub(crate) struct TrackAddArgs {
    #[command(flatten)]
    pub(crate) store: TrackStoreArgs,
    /// The sessions to follow
    #[arg(value_name = "ID", required = true)]
    pub(crate) ids: Vec<String>,
}

/// `kyc track list`.
#[derive(Debug, Args)]
pub(crate) struct TrackListArgs {
    #[command(flatten)]
    pub(crate) store: TrackStoreArgs,
    /// The most sessions to list
    #[arg(long, value_name = "N", default_value = "100")]
    pub(crate) limit: usize,
}

/// `kyc track show`.
#[derive(Debug, Args)]
pub(crate) struct TrackShowArgs {
    #[command(flatten)]
    pub(crate) store: TrackStoreArgs,
    /// The session
    #[arg(value_name = "ID")]
    pub(crate) id: String,
}

/// `kyc track verdicts`.
#[derive(Debug, Args)]
pub(crate) struct TrackVerdictsArgs {
    #[command(flatten)]
    pub(crate) store: TrackStoreArgs,
    /// Take each verdict and acknowledge it once printed
    #[arg(long)]
    pub(crate) ack: bool,
    /// Keep waiting for new verdicts until stopped
    #[arg(long)]
    pub(crate) follow: bool,
    /// The most verdicts to print (per round with --follow)
    #[arg(long, value_name = "N", default_value = "100")]
    pub(crate) limit: usize,
    /// How long a taken verdict is held before another consumer gets it, seconds (default 60)
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "60")]
    pub(crate) lease: Duration,
}

/// `kyc mock`: the simulator's options, defined once in kyc-mock (the `kyc-mock` program takes
/// the same).
#[derive(Debug, Args)]
pub(crate) struct MockArgs {
    #[command(flatten)]
    pub(crate) simulator: kyc_mock::SimulatorArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn environments_are_named_as_kyc_core_reads_them() {
        assert_eq!(parse_environment("Production"), Ok(Environment::Production));
        assert_eq!(parse_environment("staging"), Ok(Environment::Stage));
        assert_eq!(parse_environment(" "), Ok(Environment::Sandbox));
        assert!(parse_environment("moon").is_err());
    }

    #[test]
    fn timeouts_are_positive_seconds() {
        assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
        for bad in ["0", "-1", "abc", "NaN", "1e400"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
