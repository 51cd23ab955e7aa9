//! Why a webhook was refused.

use std::time::Duration;

/// Why a webhook was refused: exactly one variant per reason, in the order the checks run (see the
/// [module documentation](crate::webhook#check-order)).
///
/// Messages name the failing check and, where useful, a header name, a duration or a position in
/// the body. They never contain the secret, the MAC, any header value the sender controls, or any
/// part of the body, so they are safe to log. Do not send them back to the sender: answer every
/// refused webhook the same way (e.g. `401`), and log [`WebhookError::kind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent.
    #[error("webhook header {name} is missing")]
    MissingHeader {
        /// The header's name as Pomelo spells it, e.g. `X-Signature`.
        name: &'static str,
    },
    /// `X-Signature` does not start with the `hmac-sha256` algorithm token followed by a space.
    #[error("webhook X-Signature does not use the hmac-sha256 algorithm")]
    UnsupportedAlgorithm,
    /// The part of `X-Signature` after `hmac-sha256 ` is not standard padded base64 of a 32-byte
    /// MAC.
    #[error("webhook X-Signature is not base64 of a 32-byte HMAC-SHA256")]
    MalformedSignature,
    /// `X-Timestamp` is not a Unix time in seconds (ASCII digits only, at most `u64::MAX`).
    #[error("webhook X-Timestamp is not a Unix time in seconds")]
    MalformedTimestamp,
    /// `X-Timestamp` is older than the freshness window allows.
    #[error(
        "webhook X-Timestamp is {}s old, more than the {}s allowed",
        age.as_secs(),
        tolerance.as_secs()
    )]
    Stale {
        /// How long before `now` the webhook says it was signed.
        age: Duration,
        /// The freshness window in force.
        tolerance: Duration,
    },
    /// `X-Timestamp` is further in the future than the freshness window allows.
    #[error(
        "webhook X-Timestamp is {}s in the future, more than the {}s allowed",
        ahead.as_secs(),
        tolerance.as_secs()
    )]
    FromFuture {
        /// How long after `now` the webhook says it was signed.
        ahead: Duration,
        /// The freshness window in force.
        tolerance: Duration,
    },
    /// `X-Endpoint` differs from the path the receiver said it serves.
    #[error("webhook X-Endpoint does not match the endpoint this receiver serves")]
    EndpointMismatch,
    /// No secret is configured for the `X-Api-Key` sent.
    #[error("webhook X-Api-Key is not configured")]
    UnknownApiKey,
    /// No configured secret for the api key produces the MAC in `X-Signature`.
    #[error("webhook signature does not match")]
    SignatureMismatch,
    /// The signature is valid but the body is not JSON.
    #[error("webhook body is not valid JSON (line {line}, column {column})")]
    InvalidJson {
        /// 1-based line where parsing failed.
        line: usize,
        /// 1-based column where parsing failed (0 if the body ended before any character).
        column: usize,
    },
}

impl WebhookError {
    /// A stable, machine-readable name for the reason, e.g. for logs, metrics or a CLI:
    /// `missing_header`, `unknown_api_key`, `unsupported_algorithm`, `malformed_signature`,
    /// `malformed_timestamp`, `stale`, `future`, `endpoint_mismatch`, `signature_mismatch` or
    /// `invalid_json`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            WebhookError::MissingHeader { .. } => "missing_header",
            WebhookError::UnknownApiKey => "unknown_api_key",
            WebhookError::UnsupportedAlgorithm => "unsupported_algorithm",
            WebhookError::MalformedSignature => "malformed_signature",
            WebhookError::MalformedTimestamp => "malformed_timestamp",
            WebhookError::Stale { .. } => "stale",
            WebhookError::FromFuture { .. } => "future",
            WebhookError::EndpointMismatch => "endpoint_mismatch",
            WebhookError::SignatureMismatch => "signature_mismatch",
            WebhookError::InvalidJson { .. } => "invalid_json",
        }
    }

    /// Whether the request failed authentication (every reason except
    /// [`WebhookError::InvalidJson`], which is reported only after the signature has been
    /// verified).
    #[must_use]
    pub fn is_authentication_failure(&self) -> bool {
        !matches!(self, WebhookError::InvalidJson { .. })
    }
}

/// A header value given to [`SignedHeaders`](crate::webhook::SignedHeaders) cannot be sent in an
/// HTTP header (it contains a control character such as a newline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the value for webhook header {name} contains a character not allowed in HTTP headers")]
pub struct InvalidHeaderText {
    /// The header's name, e.g. `X-Endpoint`.
    pub name: &'static str,
}
