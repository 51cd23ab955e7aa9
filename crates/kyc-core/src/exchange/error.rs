//! The errors of a whole call, by fault: what the core reports (invalid input, API refusal,
//! undecodable body), what the adapter's transport reports (no usable response, classified), and
//! what the local upload source reports. They live in the core because the core runs the call's
//! lifecycle (tokens, retries, deadlines) and decides on each of them; the transport's own error is
//! kept boxed, so no HTTP-client type appears here. No message contains a secret, a token or a
//! body.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::endpoint::IdempotencyKey;
use crate::error::{ApiError, DecodeError, Error, InvalidInput, PaginationError};
use http::StatusCode;

/// Everything one call through an adapter (`kyc_ureq::Client`, `kyc_reqwest::Client`, or your
/// own loop over [`Call`](crate::Call)) can report: its [`Fault`], the [`Stage`] it happened in,
/// and the idempotency key the call was sent with, as plain fields. One `match` on
/// `error.fault` sees every case, whatever the stage; the adapters re-export it as `Error`.
///
/// ```
/// use kyc_core::{CallError, Fault, Stage};
///
/// fn explain(error: &CallError) -> String {
///     let when = match error.stage {
///         Stage::Token => "getting a token",
///         _ => "the call",
///     };
///     let what = match &error.fault {
///         Fault::Api(api) if api.status == 404 => "no such session".to_owned(),
///         Fault::Api(api) => format!("refused with {}", api.status),
///         Fault::Transport(t) if !t.may_have_reached_server() => "nothing was sent".to_owned(),
///         other => other.to_string(),
///     };
///     match &error.idempotency_key {
///         Some(key) => format!("{when}: {what}; create again under key {key}"),
///         None => format!("{when}: {what}"),
///     }
/// }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CallError {
    /// What went wrong, by whose fault.
    pub fault: Fault,
    /// Whether it happened while obtaining the access token (so the call itself was not sent)
    /// or in the call's own request.
    pub stage: Stage,
    /// The idempotency key every attempt of a creating call (create session, upload) carried:
    /// reconcile with it, or create again under it. `None` for calls that create nothing.
    pub idempotency_key: Option<IdempotencyKey>,
}

/// What went wrong in a call, by whose fault.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Fault {
    /// Refused before sending: the endpoint's parameters, the credentials, or a misuse of the
    /// driver. Nothing was sent.
    InvalidInput(InvalidInput),
    /// The server answered with a non-2xx status.
    Api(Box<ApiError>),
    /// The server answered `2xx` with a body that is not what the API promises.
    Decode(Box<DecodeError>),
    /// No usable response: connection, timeout, protocol or size-limit failure.
    Transport(TransportError),
    /// The local file or reader of an upload could not be read.
    Source(SourceError),
    /// A walk over a search's pages stopped before the server said it was over.
    Pagination(PaginationError),
    /// The operating system's random source failed (idempotency keys need 128 random bits).
    Randomness,
}

/// Where in a call a failure happened.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Obtaining the access token: the call's own request was not sent. Every caller that waited
    /// for the same token request gets the same fault.
    Token,
    /// The call's own request (or before it, for refused input and randomness).
    Call,
}

impl CallError {
    /// `fault` in the call's own stage, without idempotency key.
    #[must_use]
    pub fn new(fault: impl Into<Fault>) -> Self {
        Self {
            fault: fault.into(),
            stage: Stage::Call,
            idempotency_key: None,
        }
    }

    /// The same error, as it happened while obtaining the token.
    #[must_use]
    pub fn in_token_stage(mut self) -> Self {
        self.stage = Stage::Token;
        self
    }

    /// The same error, for a call sent with `key`.
    #[must_use]
    pub fn with_idempotency_key(mut self, key: Option<IdempotencyKey>) -> Self {
        self.idempotency_key = key;
        self
    }

    /// The HTTP status of the response that caused this error, if a response did.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match &self.fault {
            Fault::Api(e) => Some(e.status),
            Fault::Decode(e) => Some(e.status),
            _ => None,
        }
    }

    /// The server's request id (`x-request-id`) of the response that caused this error, if any.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match &self.fault {
            Fault::Api(e) => e.request_id.as_deref(),
            Fault::Decode(e) => e.request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether a timeout (per attempt or overall) ended the call.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(&self.fault, Fault::Transport(t) if t.kind() == TransportErrorKind::Timeout)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::InvalidInput(e) => fmt::Display::fmt(e, f),
            Fault::Api(e) => fmt::Display::fmt(e, f),
            Fault::Decode(e) => fmt::Display::fmt(e, f),
            Fault::Transport(e) => fmt::Display::fmt(e, f),
            Fault::Source(e) => fmt::Display::fmt(e, f),
            Fault::Pagination(e) => fmt::Display::fmt(e, f),
            Fault::Randomness => f.write_str("the operating system's random source failed"),
        }
    }
}

impl std::error::Error for Fault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Fault::Transport(e) => e.source(),
            Fault::Source(e) => e.source(),
            _ => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.stage == Stage::Token {
            f.write_str("could not obtain an access token: ")?;
        }
        fmt::Display::fmt(&self.fault, f)?;
        if let Some(key) = &self.idempotency_key {
            write!(f, " (idempotency key {key})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.fault)
    }
}

impl From<Error> for Fault {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidInput(e) => Fault::InvalidInput(e),
            Error::Api(e) => Fault::Api(e),
            Error::Decode(e) => Fault::Decode(e),
            Error::Pagination(e) => Fault::Pagination(e),
        }
    }
}

impl From<InvalidInput> for Fault {
    fn from(e: InvalidInput) -> Self {
        Fault::InvalidInput(e)
    }
}

impl From<TransportError> for Fault {
    fn from(e: TransportError) -> Self {
        Fault::Transport(e)
    }
}

impl From<SourceError> for Fault {
    fn from(e: SourceError) -> Self {
        Fault::Source(e)
    }
}

impl From<PaginationError> for Fault {
    fn from(e: PaginationError) -> Self {
        Fault::Pagination(e)
    }
}

impl<T: Into<Fault>> From<T> for CallError {
    fn from(e: T) -> Self {
        CallError::new(e)
    }
}

/// What kind of transport failure happened.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The host could not be resolved or the connection (TCP or TLS) could not be set up.
    Connect,
    /// The attempt's timeout, or the call's overall deadline, passed.
    Timeout,
    /// The connection broke or the server broke HTTP/1.1 (closed early, truncated body, garbage).
    Connection,
    /// The response body is larger than the configured limit; it was not read further.
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The request could not be sent as built (an invalid URI or header for the HTTP stack).
    /// Never retried.
    InvalidRequest,
    /// Any other failure of the HTTP stack.
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportErrorKind::Connect => f.write_str("could not connect"),
            TransportErrorKind::Timeout => f.write_str("timed out"),
            TransportErrorKind::Connection => f.write_str("the connection failed"),
            TransportErrorKind::ResponseTooLarge { limit } => {
                write!(f, "the response body is over the limit of {limit} bytes")
            }
            TransportErrorKind::InvalidRequest => {
                f.write_str("the HTTP stack refused the request as built")
            }
            TransportErrorKind::Other => f.write_str("the HTTP stack failed"),
        }
    }
}

/// No usable response arrived. Says whether the request may have reached the server, which is
/// what decides if a call without idempotency key may be retried. Clones share the underlying
/// error (every caller that waited on one token request gets the same one).
#[derive(Clone)]
pub struct TransportError {
    kind: TransportErrorKind,
    may_have_reached_server: bool,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// A transport error of `kind`; `may_have_reached_server` is `false` only when no request byte
    /// was sent (DNS, connect, TLS handshake failures).
    #[must_use]
    pub fn new(kind: TransportErrorKind, may_have_reached_server: bool) -> Self {
        Self {
            kind,
            may_have_reached_server,
            source: None,
        }
    }

    /// Attaches the underlying error. Make sure its `Display` carries no secret.
    #[must_use]
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(Arc::from(source.into()));
        self
    }

    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether the request may have reached the server (so a non-idempotent call may have taken
    /// effect).
    #[must_use]
    pub fn may_have_reached_server(&self) -> bool {
        self.may_have_reached_server
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("kind", &self.kind)
            .field("may_have_reached_server", &self.may_have_reached_server)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transport error: {}", self.kind)?;
        if !self.may_have_reached_server {
            f.write_str(" (the request was not sent)")?;
        }
        Ok(())
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for TransportError {
    /// An I/O error from a custom transport: connect-phase kinds (refused, address unavailable)
    /// mean nothing was sent; timeouts are [`TransportErrorKind::Timeout`]; anything else may
    /// have reached the server.
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let (kind, reached) = match e.kind() {
            K::ConnectionRefused | K::AddrNotAvailable | K::AddrInUse => {
                (TransportErrorKind::Connect, false)
            }
            K::TimedOut | K::WouldBlock => (TransportErrorKind::Timeout, true),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                (TransportErrorKind::Connection, true)
            }
            _ => (TransportErrorKind::Other, true),
        };
        TransportError::new(kind, reached).with_source(e)
    }
}

/// Why the local source of an upload failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum SourceErrorKind {
    /// The file could not be opened or measured.
    Open,
    /// Reading the file or reader failed while the request was being sent.
    Read,
    /// The file or reader yielded more or fewer bytes than the length it was declared with (the
    /// file changed since it was measured).
    LengthChanged,
    /// The file was modified since it was measured (its modification time moved): its bytes
    /// may no longer be the ones the first attempt sent under the same idempotency key.
    Changed,
    /// The upload needs a stream but none was given (an `UploadFile::from_stream` passed to
    /// the client's `execute`; use its upload methods).
    Missing,
}

/// The local file or reader of an upload failed. The request was not completed and is not retried.
/// Clones share the underlying I/O error.
#[derive(Clone, Debug)]
pub struct SourceError {
    kind: SourceErrorKind,
    path: Option<PathBuf>,
    source: Option<Arc<std::io::Error>>,
}

impl SourceError {
    /// An upload-source failure of `kind`, for the file at `path` if there is one, caused by
    /// `source` if an I/O error did.
    #[must_use]
    pub fn new(
        kind: SourceErrorKind,
        path: Option<PathBuf>,
        source: Option<std::io::Error>,
    ) -> Self {
        Self {
            kind,
            path,
            source: source.map(Arc::new),
        }
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> SourceErrorKind {
        self.kind
    }

    /// The file's path, for uploads from a path.
    #[must_use]
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// The failure of a source read while its bytes were being sent: `InvalidData`, which the
    /// length checks of [`MultipartReader`](crate::MultipartReader) and [`LengthCheck`](crate::LengthCheck)
    /// report, is [`SourceErrorKind::LengthChanged`]; anything else is [`SourceErrorKind::Read`].
    #[must_use]
    pub fn while_sending(error: std::io::Error, path: Option<PathBuf>) -> Self {
        let kind = if error.kind() == std::io::ErrorKind::InvalidData {
            SourceErrorKind::LengthChanged
        } else {
            SourceErrorKind::Read
        };
        Self::new(kind, path, Some(error))
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            SourceErrorKind::Open => "cannot open the file to upload",
            SourceErrorKind::Read => "cannot read the file to upload",
            SourceErrorKind::LengthChanged => {
                "the file to upload changed length since it was measured"
            }
            SourceErrorKind::Changed => "the file to upload was modified since it was measured",
            SourceErrorKind::Missing => "this upload streams its content but no stream was given",
        };
        f.write_str(what)?;
        if let Some(path) = &self.path {
            write!(f, " ({})", path.display())?;
        }
        if let Some(e) = &self.source {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
