//! Errors by fault: the caller's input ([`InvalidInput`]), the server's refusal ([`ApiError`]), or a
//! success response this library could not read ([`DecodeError`]). Transport failures belong to the
//! adapters. No message here contains a secret, a token or personal data: bodies are kept but only
//! shown on request, and their `Debug` prints their length.

use std::fmt;

use http::{HeaderMap, StatusCode};
use serde::Deserialize;

/// Everything `kyc-core` can report.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller asked for something the library refuses before sending anything.
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),
    /// The server answered with a non-2xx status.
    #[error(transparent)]
    Api(#[from] Box<ApiError>),
    /// The server answered 2xx but the body is not what the API promises.
    #[error(transparent)]
    Decode(#[from] Box<DecodeError>),
    /// A walk over a search's pages stopped before the server said it was over.
    #[error(transparent)]
    Pagination(#[from] PaginationError),
}

/// Why a walk over a search's pages ([`Pager`](crate::Pager)) stopped early. The sessions of the
/// pages fetched before were all yielded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PaginationError {
    /// A page held only sessions already yielded: the server seems to ignore `page[number]`, or
    /// to number its pages otherwise (see `POMELO_FIRST_PAGE`).
    #[error(
        "page {page} of the search held no session not seen on an earlier page: the server \
         seems to ignore page[number]; stopped"
    )]
    NoNewSessions {
        /// The page number requested.
        page: u32,
    },
    /// The walk reached the configured page cap ([`ConfigBuilder::max_pages`](crate::ConfigBuilder::max_pages)).
    #[error("stopped after {pages} pages, the configured cap; more may follow")]
    PageCap {
        /// How many pages were fetched.
        pages: u32,
    },
}

impl Error {
    /// The HTTP status of the response that caused this error, if a response did.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::InvalidInput(_) | Error::Pagination(_) => None,
            Error::Api(e) => Some(e.status),
            Error::Decode(e) => Some(e.status),
        }
    }

    /// The server's request id (`x-request-id`) of the response that caused this error, if any.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::InvalidInput(_) | Error::Pagination(_) => None,
            Error::Api(e) => e.request_id.as_deref(),
            Error::Decode(e) => e.request_id.as_deref(),
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(Box::new(e))
    }
}

/// Input the library refuses before building a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// An identifier placed in a path is empty, `.` or `..`.
    #[error("the {what} must not be empty, \".\" or \"..\"")]
    InvalidId {
        /// Which identifier.
        what: &'static str,
    },
    /// A path or query built from the request's parameters is not a valid request target.
    #[error("the request's path or query is not a valid request target")]
    InvalidRequestTarget,
    /// A required field is empty.
    #[error("the {what} must not be empty")]
    Empty {
        /// Which field.
        what: &'static str,
    },
    /// A text value cannot be sent in an HTTP header (control characters or non-visible bytes).
    #[error("the {what} cannot be sent as an HTTP header value")]
    InvalidHeaderValue {
        /// Which value.
        what: &'static str,
    },
    /// An authenticated call was built without an access token.
    #[error("this call needs an access token")]
    MissingAccessToken,
    /// A creating call was built without an idempotency key.
    #[error("this call creates something and needs an idempotency key")]
    MissingIdempotencyKey,
    /// An idempotency key is empty, longer than 255 bytes or not visible ASCII.
    #[error("an idempotency key must be 1 to 255 visible ASCII characters")]
    InvalidIdempotencyKey,
    /// The file to upload has no bytes.
    #[error("the file is empty")]
    EmptyFile,
    /// The file to upload is larger than the configured limit.
    #[error("the file has {size} bytes, over the limit of {limit} bytes")]
    FileTooLarge {
        /// The file's size in bytes.
        size: u64,
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The file is not a JPEG, PNG or PDF (judged by its leading bytes), and no content type was
    /// given for it.
    #[error(
        "the file is not a JPEG, PNG or PDF (judged by its leading bytes); give its content type \
         to send it anyway"
    )]
    UnsupportedFileType,
    /// A content type given for an upload is not `type/subtype`.
    #[error("the content type must be type/subtype, e.g. image/heic")]
    InvalidContentType,
    /// The document type is not accepted for the session's country.
    #[error("document type {document_type} is not accepted in {country}")]
    DocumentTypeNotAllowed {
        /// The document type asked for.
        document_type: String,
        /// The country whose list refuses it.
        country: String,
    },
    /// The flow type belongs to another kind of session (a KYC flow for a KYB create, say).
    #[error("flow type {flow_type} does not fit {operation}")]
    FlowMismatch {
        /// The flow type given.
        flow_type: String,
        /// Which operation refused it.
        operation: &'static str,
    },
    /// The same JSON member would be written twice (a member of `extra` that the model types).
    #[error("{what} repeats a member the model already sends")]
    DuplicateMember {
        /// Where.
        what: &'static str,
    },
    /// A search parameter is malformed (`what` says which).
    #[error("invalid search parameter: {what}")]
    InvalidSearch {
        /// Which parameter and why.
        what: &'static str,
    },
    /// The operation exists only in test environments, and the configuration does not target a
    /// known one (Pomelo's sandbox or stage host, or loopback) nor allows it elsewhere with
    /// `ConfigBuilder::danger_allow_test_operations_on_any_host`.
    #[error(
        "{operation} runs only against Pomelo's sandbox or stage hosts or loopback (this \
         configuration may target production)"
    )]
    RefusedInProduction {
        /// Which operation.
        operation: &'static str,
    },
    /// A request body could not be serialised (a custom field holds a value JSON cannot hold).
    #[error("the request body cannot be serialised as JSON")]
    Unserialisable,
    /// A call driver was polled again after it finished (an adapter's loop went on after
    /// [`Next::Done`](crate::Next::Done)).
    #[error("this call has already finished")]
    Finished,
}

/// A configuration the builder refuses ([`ConfigBuilder::build`](crate::ConfigBuilder::build)):
/// a fault of the settings, found once when the client is made, never by a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The base URL cannot be parsed or cannot serve as a base (`reason` says why).
    #[error("invalid base URL: {reason}")]
    InvalidBaseUrl {
        /// Why the URL was refused.
        reason: &'static str,
    },
    /// A plain `http://` base URL whose host is not loopback, without the `danger_` opt-in.
    #[error(
        "refusing plain http:// for a non-loopback host; use https:// or \
         ConfigBuilder::danger_allow_insecure_http"
    )]
    InsecureBaseUrl,
    /// A setting has a value it cannot take (`reason` says why).
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A configured path template is unusable (`reason` says why).
    #[error("invalid path template for {operation}: {reason}")]
    InvalidPathTemplate {
        /// Which operation's path.
        operation: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A setting that must not be empty is (the audience).
    #[error("the {what} must not be empty")]
    Empty {
        /// Which setting.
        what: &'static str,
    },
}

/// How many bytes of a response body an error keeps.
pub const BODY_SNIPPET_LIMIT: usize = 4096;

/// A response body kept by an error, truncated to [`BODY_SNIPPET_LIMIT`] bytes. Its `Debug` prints
/// only its length: error bodies may echo personal data.
#[derive(Clone, PartialEq, Eq)]
pub struct BodySnippet {
    bytes: Vec<u8>,
    total_len: usize,
}

impl BodySnippet {
    /// Keeps at most [`BODY_SNIPPET_LIMIT`] bytes of `body`.
    #[must_use]
    pub fn new(body: &[u8]) -> Self {
        let kept = body.get(..BODY_SNIPPET_LIMIT).unwrap_or(body);
        Self {
            bytes: kept.to_vec(),
            total_len: body.len(),
        }
    }

    /// The kept bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The kept bytes as text, with invalid UTF-8 replaced.
    #[must_use]
    pub fn to_text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Whether bytes were dropped.
    #[must_use]
    pub fn is_truncated(&self) -> bool {
        self.total_len > self.bytes.len()
    }

    /// Length of the body before truncation.
    #[must_use]
    pub fn total_len(&self) -> usize {
        self.total_len
    }
}

impl fmt::Debug for BodySnippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BodySnippet({} of {} bytes)",
            self.bytes.len(),
            self.total_len
        )
    }
}

/// The JSON error body Pomelo's APIs use (decision 8): `{"error": {"message", "details": [...]}}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ApiErrorBody {
    /// Human-readable message. May echo input, so it is not part of any `Display`.
    #[serde(default)]
    pub message: Option<String>,
    /// Machine-readable details (absent or `null`: none).
    #[serde(default, deserialize_with = "crate::model::list")]
    pub details: Vec<ApiErrorDetail>,
}

impl fmt::Debug for ApiErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiErrorBody")
            .field("codes", &self.codes().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ApiErrorBody {
    /// The `code` of every detail that has one.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.details.iter().filter_map(|d| d.code.as_deref())
    }
}

/// One entry of [`ApiErrorBody::details`].
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[non_exhaustive]
pub struct ApiErrorDetail {
    /// Machine-readable code.
    #[serde(default)]
    pub code: Option<String>,
    /// Explanation. May echo input.
    #[serde(default)]
    pub detail: Option<String>,
}

/// The server answered with a non-2xx status.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct ApiError {
    /// The status code.
    pub status: StatusCode,
    /// The `x-request-id` response header, for Pomelo's support.
    pub request_id: Option<String>,
    /// The error body, when it has Pomelo's JSON shape.
    pub body: Option<ApiErrorBody>,
    /// The raw body, truncated.
    pub raw_body: BodySnippet,
}

impl ApiError {
    /// Reads an error response. Never fails: an unparseable body is kept raw.
    #[must_use]
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: ApiErrorBody,
        }
        Self {
            status,
            request_id: request_id(headers),
            body: serde_json::from_slice::<Envelope>(body)
                .ok()
                .map(|e| e.error),
            raw_body: BodySnippet::new(body),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} from the API", self.status)?;
        if let Some(body) = &self.body {
            // Codes come from the server: control characters are escaped, so a code cannot
            // forge lines or terminal sequences wherever this message is printed.
            let codes: Vec<String> = body.codes().map(escape_controls).collect();
            if !codes.is_empty() {
                write!(f, " ({})", codes.join(", "))?;
            }
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {}]", escape_controls(id))?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A 2xx response whose body is not what the API promises.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct DecodeError {
    /// The status code.
    pub status: StatusCode,
    /// The `x-request-id` response header.
    pub request_id: Option<String>,
    /// Where in the JSON document decoding failed, e.g. `data.steps[0].status`; `.` for the root.
    pub path: String,
    /// What went wrong, without the offending value (values may be personal data).
    pub reason: DecodeReason,
    /// The raw body, truncated.
    pub raw_body: BodySnippet,
}

/// Why a body could not be decoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum DecodeReason {
    /// The body is not JSON (or is truncated JSON); line and column of the failure.
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The JSON ended early.
    Eof,
    /// The JSON is valid but a member is missing or has the wrong type.
    Data,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not decode the {} response at `{}`: ",
            self.status, self.path
        )?;
        match self.reason {
            DecodeReason::Syntax { line, column } => {
                write!(f, "not valid JSON (line {line}, column {column})")
            }
            DecodeReason::Eof => f.write_str("the JSON ends early"),
            DecodeReason::Data => f.write_str("a member is missing or has the wrong type"),
        }?;
        if let Some(id) = &self.request_id {
            write!(f, " [request id {}]", escape_controls(id))?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

/// `text` with its control characters escaped (`\n`, `\u{1b}`), every other character as is.
pub(crate) fn escape_controls(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// The server's request id of a response: `x-request-id` (or `request-id`, or
/// `x-amzn-requestid`) when it is text, at most 128 characters. Quote it to Pomelo's support.
#[must_use]
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-request-id", "request-id", "x-amzn-requestid"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect())
}
