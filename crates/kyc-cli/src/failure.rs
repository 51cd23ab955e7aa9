//! Failures: a KIND, an exit code and a message, written as `error[KIND]: MESSAGE` on stderr.
//!
//! | KIND | exit | from |
//! |---|---|---|
//! | `invalid_input` | 2 | a usage error, kyc-core's `InvalidInput`, an unreadable local file |
//! | `api` | 1 | a non-2xx answer (MESSAGE starts with the status code) |
//! | `decode` | 1 | a 2xx answer whose body is not what the API promises |
//! | `transport` | 1 | no usable answer (after retries), or a local I/O failure |
//! | `auth` | 1 | the token request was answered with an error or an unreadable body |
//! | webhook reasons | 3 | `WebhookError::kind()` |
//! | `source` | 1 | the file being uploaded failed or changed while its bytes were sent |
//! | `checks_failed` | 1 | `kyc doctor`: a check failed (its report is on stdout) |
//!
//! Messages come from the libraries' `Display`, which never shows a secret, a token or a body.
//! Server-controlled text in them (error codes, details, decode paths) may hold anything: every
//! line is written with its control characters escaped ([`printable`]), so a server cannot forge
//! lines or terminal escape sequences on a terminal or in a CI log.

use std::io::Write as _;
use std::process::ExitCode;

use kyc_core::InvalidInput;
use kyc_core::webhook::WebhookError;

/// Why a command failed.
#[derive(Debug)]
pub(crate) struct Failure {
    kind: &'static str,
    exit: u8,
    message: String,
    /// Further lines after the first, e.g. the API's own error message.
    details: Vec<String>,
}

/// Exit code of an API error or a transport failure.
const EXIT_FAILED: u8 = 1;
/// Exit code of invalid usage or input rejected before any request.
const EXIT_INVALID: u8 = 2;
/// Exit code of a rejected webhook.
const EXIT_WEBHOOK: u8 = 3;

impl Failure {
    fn new(kind: &'static str, exit: u8, message: impl Into<String>) -> Self {
        Self {
            kind,
            exit,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Invalid usage or input, refused before any request (exit 2).
    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::new("invalid_input", EXIT_INVALID, message)
    }

    /// `kyc doctor` found a failed check (exit 1); the report was printed.
    pub(crate) fn checks_failed() -> Self {
        Self::new(
            "checks_failed",
            EXIT_FAILED,
            "a check failed: see the report on stdout",
        )
    }

    /// A local I/O failure once the command was under way (exit 1).
    pub(crate) fn io(what: &str, error: &std::io::Error) -> Self {
        Self::new("transport", EXIT_FAILED, format!("{what}: {error}"))
    }

    /// A rejected webhook (exit 3), KIND being the rejection reason.
    pub(crate) fn webhook(error: &WebhookError) -> Self {
        Self::new(error.kind(), EXIT_WEBHOOK, error.to_string())
    }

    /// An error of a kyc-ureq call: one `match` on its fault, whatever the stage.
    pub(crate) fn client(error: &kyc_ureq::Error) -> Self {
        use kyc_ureq::{Fault, Stage};
        let mut failure = match (&error.fault, error.stage) {
            // Refused before sending: the caller's input (exit 2), whatever the stage.
            (Fault::InvalidInput(e), _) => Self::from(e),
            // A token request answered with an error or an unreadable body: the credentials or
            // the account (no answer at all is `transport`, below).
            (Fault::Api(api), Stage::Token) => {
                let mut failure = Self::new("auth", EXIT_FAILED, error.to_string());
                failure.details = api_details(api);
                return failure;
            }
            (Fault::Decode(_), Stage::Token) => {
                return Self::new("auth", EXIT_FAILED, error.to_string());
            }
            (Fault::Api(api), _) => {
                // `ApiError`'s Display starts with the status: "404 Not Found from the API ...".
                let mut failure = Self::new("api", EXIT_FAILED, api.to_string());
                failure.details = api_details(api);
                failure
            }
            (Fault::Decode(_) | Fault::Pagination(_), _) => {
                Self::new("decode", EXIT_FAILED, error.fault.to_string())
            }
            // A file that cannot be opened is refused before any request (exit 2); one that fails
            // or changes while its bytes are sent fails a request under way (exit 1).
            (Fault::Source(source), _) if source.kind() == kyc_core::SourceErrorKind::Open => {
                Self::invalid_input(error.fault.to_string())
            }
            (Fault::Source(_), _) => Self::new("source", EXIT_FAILED, error.fault.to_string()),
            // `Transport`, `Randomness` (no idempotency key could be drawn, so nothing was sent)
            // and any later fault: the request could not be carried out.
            _ => Self::new("transport", EXIT_FAILED, error.fault.to_string()),
        };
        if let Some(key) = &error.idempotency_key {
            // The key goes into the message: a script retries under it, or reconciles.
            failure.message = format!("{} (idempotency key {key})", failure.message);
        }
        failure
    }

    /// An error of the token request itself (`kyc token`): answered errors are `auth`, as for a
    /// token obtained on a call's behalf.
    pub(crate) fn token(error: &kyc_ureq::Error) -> Self {
        let mut error = error.clone();
        error.stage = kyc_ureq::Stage::Token;
        Self::client(&error)
    }

    /// The exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        self.exit
    }

    /// Writes `error[KIND]: MESSAGE` (and any detail lines) on stderr; returns the exit code.
    pub(crate) fn report(&self) -> ExitCode {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "error[{}]: {}", self.kind, printable(&self.message));
        for line in &self.details {
            let _ = writeln!(stderr, "  {}", printable(line));
        }
        ExitCode::from(self.exit_code())
    }
}

impl From<&InvalidInput> for Failure {
    fn from(e: &InvalidInput) -> Self {
        Self::invalid_input(e.to_string())
    }
}

impl From<InvalidInput> for Failure {
    fn from(e: InvalidInput) -> Self {
        Self::from(&e)
    }
}

impl From<&kyc_core::ConfigError> for Failure {
    fn from(e: &kyc_core::ConfigError) -> Self {
        Self::invalid_input(e.to_string())
    }
}

/// The API's own explanation, when its error body has Pomelo's shape: the message and each
/// detail. They describe the request the user made; they carry no credential.
fn api_details(api: &kyc_core::ApiError) -> Vec<String> {
    let Some(body) = &api.body else {
        return Vec::new();
    };
    let mut lines: Vec<String> = body
        .message
        .iter()
        .map(|m| format!("message: {}", one_line(m)))
        .collect();
    for detail in &body.details {
        let text = match (&detail.code, &detail.detail) {
            (Some(code), Some(text)) => format!("{code}: {}", one_line(text)),
            (Some(code), None) => code.clone(),
            (None, Some(text)) => one_line(text),
            (None, None) => continue,
        };
        lines.push(format!("detail: {text}"));
    }
    lines
}

/// Control characters (a newline in a server message) would forge further lines.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A clap error: help and version go to stdout with exit 0; every other error is a usage error,
/// `error[invalid_input]: ...` on stderr with exit 2.
pub(crate) fn usage(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error[invalid_input]: a command is required\n");
            let _ = write!(stderr, "{}", error.render());
            ExitCode::from(EXIT_INVALID)
        }
        _ => {
            let rendered = error.render().to_string();
            let text = rendered.strip_prefix("error: ").unwrap_or(&rendered);
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "error[invalid_input]: {text}");
            if !text.ends_with('\n') {
                let _ = writeln!(stderr);
            }
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// `text` safe to write on a terminal: control characters (C0 including CR and LF, DEL, C1 such
/// as ESC-equivalents) and bidirectional overrides written as escapes (`\u{1b}`, `\n`), every
/// other character as is.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
