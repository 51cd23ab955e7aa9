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
use crate::error::{ApiError, DecodeError, Error, InvalidInput};
use http::StatusCode;

/// Everything one call through an adapter (`kyc_ureq::Client`, `kyc_reqwest::Client`, or your
/// own loop over [`Call`](crate::Call)) can report. The adapters re-export it as `Error`.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallError {
    /// Refused before sending, answered with a non-2xx status, or a 2xx body that does not decode:
    /// the core's verdict, untouched.
    Core(Error),
    /// No usable response: connection, timeout, protocol or size-limit failure.
    Transport(Box<TransportError>),
    /// The access token could not be obtained, so the call was not sent. Every thread that waited
    /// for the same refresh gets the same shared cause.
    Token(Arc<CallError>),
    /// The local file or reader of an upload could not be read.
    Source(Box<SourceError>),
    /// The operating system's random source failed (idempotency keys need 128 random bits).
    Randomness,
    /// A creating call (create session, upload) failed with `error`; it was sent with this
    /// idempotency key (on every attempt), to reconcile or to create again under the same key.
    /// Every accessor below looks through it.
    Keyed {
        /// The key every attempt carried.
        idempotency_key: IdempotencyKey,
        /// What failed.
        error: Box<CallError>,
    },
}

impl CallError {
    /// The idempotency key the failed call was sent with (creating calls only).
    #[must_use]
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        match self {
            CallError::Keyed {
                idempotency_key, ..
            } => Some(idempotency_key),
            _ => None,
        }
    }

    /// The error itself, without the idempotency key of [`CallError::Keyed`].
    #[must_use]
    pub fn unkeyed(&self) -> &CallError {
        match self {
            CallError::Keyed { error, .. } => error.unkeyed(),
            other => other,
        }
    }

    /// The HTTP status of the response that caused this error, if a response did.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match self.unkeyed() {
            CallError::Core(e) => e.status(),
            CallError::Token(e) => e.status(),
            _ => None,
        }
    }

    /// The server's request id (`x-request-id`) of the response that caused this error, if any.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self.unkeyed() {
            CallError::Core(e) => e.request_id(),
            CallError::Token(e) => e.request_id(),
            _ => None,
        }
    }

    /// The API error, when the server answered with a non-2xx status.
    #[must_use]
    pub fn api_error(&self) -> Option<&ApiError> {
        match self.unkeyed() {
            CallError::Core(Error::Api(e)) => Some(e),
            CallError::Token(e) => e.api_error(),
            _ => None,
        }
    }

    /// The decode error, when a 2xx body could not be read.
    #[must_use]
    pub fn decode_error(&self) -> Option<&DecodeError> {
        match self.unkeyed() {
            CallError::Core(Error::Decode(e)) => Some(e),
            CallError::Token(e) => e.decode_error(),
            _ => None,
        }
    }

    /// The refused input, when the call was refused before sending.
    #[must_use]
    pub fn invalid_input(&self) -> Option<&InvalidInput> {
        match self.unkeyed() {
            CallError::Core(Error::InvalidInput(e)) => Some(e),
            CallError::Token(e) => e.invalid_input(),
            _ => None,
        }
    }

    /// The transport error, when no usable response arrived.
    #[must_use]
    pub fn transport_error(&self) -> Option<&TransportError> {
        match self.unkeyed() {
            CallError::Transport(e) => Some(e),
            CallError::Token(e) => e.transport_error(),
            _ => None,
        }
    }

    /// Whether a timeout (per attempt or overall) ended the call.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        self.transport_error()
            .is_some_and(|t| t.kind() == TransportErrorKind::Timeout)
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Core(e) => fmt::Display::fmt(e, f),
            CallError::Transport(e) => fmt::Display::fmt(e, f),
            CallError::Token(e) => write!(f, "could not obtain an access token: {e}"),
            CallError::Source(e) => fmt::Display::fmt(e, f),
            CallError::Randomness => f.write_str("the operating system's random source failed"),
            CallError::Keyed {
                idempotency_key,
                error,
            } => write!(f, "{error} (idempotency key {idempotency_key})"),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Core(e) => e.source(),
            CallError::Transport(e) => Some(&**e),
            CallError::Token(e) => Some(&**e),
            CallError::Source(e) => Some(&**e),
            CallError::Randomness => None,
            CallError::Keyed { error, .. } => Some(&**error),
        }
    }
}

impl From<Error> for CallError {
    fn from(e: Error) -> Self {
        CallError::Core(e)
    }
}

impl From<InvalidInput> for CallError {
    fn from(e: InvalidInput) -> Self {
        CallError::Core(e.into())
    }
}

impl From<TransportError> for CallError {
    fn from(e: TransportError) -> Self {
        CallError::Transport(Box::new(e))
    }
}

impl From<SourceError> for CallError {
    fn from(e: SourceError) -> Self {
        CallError::Source(Box::new(e))
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
/// what decides if a call without idempotency key may be retried.
pub struct TransportError {
    kind: TransportErrorKind,
    may_have_reached_server: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
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
        self.source = Some(source.into());
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
#[derive(Debug)]
pub struct SourceError {
    kind: SourceErrorKind,
    path: Option<PathBuf>,
    source: Option<std::io::Error>,
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
        Self { kind, path, source }
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
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
