//! Sans-IO protocol core for [Pomelo](https://pomelo.la)'s Identity (KYC) API.
//!
//! `kyc-core` turns each API operation into an [`http::Request`] and each [`http::Response`] into
//! a typed result. It never opens a socket, reads a file or a clock, or draws a random number: an
//! adapter (`kyc-ureq`, `kyc-reqwest`, or your own) sends the requests, and the current time and
//! random values come in as arguments.
//!
//! # In scope
//!
//! - Configuration: environments, base URLs, OAuth audience, overridable paths ([`Config`]).
//! - OAuth client credentials and a token cache state machine ([`TokenCache`]).
//! - Every KYC operation as a request type linked to its response type: [`CreateSession`],
//!   [`UploadFile`], [`GetSession`], [`CancelSession`], [`GetReport`], [`SearchSessions`],
//!   [`CleanValidations`], plus [`RequestToken`] and [`RevokeToken`].
//! - One generic request builder ([`build_request`]) and response parser ([`parse_response`]) with
//!   typed errors ([`Error`]).
//! - The retry decision ([`RetryPolicy::decide`]), the call driver that every adapter's send loop
//!   follows ([`Call`]: retries, one token refresh and replay on a `401`, deadlines) and idempotency
//!   keys ([`IdempotencyKey`]).
//! - Webhooks: signature verification, signing and typed events ([`webhook`]).
//!
//! # Out of scope
//!
//! - Sending requests, TLS, timeouts, sleeping, threads: the adapters' job.
//! - Reading the clock or drawing randomness: callers pass `now` and random bytes.
//!
//! # Determinism
//!
//! The same inputs give the same request bytes and the same decisions, on every machine, every
//! time: every test in this crate is exact and replayable.
//!
//! # Example
//!
//! ```
//! use kyc_core::{
//!     build_request, parse_response, AccessToken, Config, Country, CreateSession, Environment,
//!     IdempotencyKey,
//! };
//!
//! let config = Config::new(Environment::Sandbox)?;
//! let token = AccessToken::new("eyJhbGciOi...");
//! let key = IdempotencyKey::from_random_bytes([7; 16]); // draw these bytes at random, once per call
//!
//! let create = CreateSession::new("usr-2HPUYx0n9USSNwSkP5G0gY1I2TO", Country::Arg);
//! let request = build_request(&config, &create, Some(&token), Some(&key))?;
//! assert_eq!(request.method(), "POST");
//! assert_eq!(request.uri(), "https://api-sandbox.pomelo.la/identity/v2/sessions");
//! assert_eq!(request.headers()["authorization"], "Bearer eyJhbGciOi...");
//! assert_eq!(request.headers()["x-idempotency-key"], key.as_str());
//! assert_eq!(request.headers()["content-type"], "application/json");
//! // `Debug` never prints the token (nor the body, which may hold personal data).
//! assert!(!format!("{request:?}").contains("eyJhbGciOi"));
//!
//! // ... an adapter sends it; this is what came back:
//! let response = http::Response::builder()
//!     .status(201)
//!     .body(br#"{"data": {"id": "iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR",
//!                "created_at": "2021-07-27T14:04:31-03:00",
//!                "expiration_at": "2021-07-28T14:04:31-03:00",
//!                "url": "https://identity.pomelo.com/session/iss-2lG0"}}"#.to_vec())?;
//! let session = parse_response::<CreateSession, _>(&response)?;
//! assert_eq!(session.id.as_str(), "iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod body;
mod call;
mod config;
mod endpoint;
pub mod enums;
mod error;
mod model;
mod retry;
mod search;
mod secret;
mod session;
mod upload;
pub mod webhook;

pub use auth::{
    RequestToken, RevokeToken, TokenCache, TokenDecision, TokenGrant, UNKNOWN_TOKEN_LIFETIME,
};
pub use body::{Body, FileContent, MultipartBody, MultipartReader, RequestBody};
pub use call::{AttemptFacts, AttemptOutcome, Call, Next, jitter_from_random};
pub use config::{
    Config, ConfigBuilder, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_TOKEN_MARGIN, Environment, Paths,
};
pub use endpoint::{
    Endpoint, IDEMPOTENCY_HEADER, IdempotencyKey, build_request, encode_segment, parse_response,
    validate,
};
pub use enums::{Country, DocumentType, FlowType, IntegrationMethod, SessionStatus, StepStatus};
pub use error::{
    ApiError, ApiErrorBody, ApiErrorDetail, BODY_SNIPPET_LIMIT, BodySnippet, DecodeError,
    DecodeReason, Error, InvalidInput,
};
pub use model::{
    CleanResult, Extra, FileInfo, Pagination, Report, Session, SessionCreated, SessionId,
    SessionPage, Step,
};
pub use retry::{
    Outcome, RetryDecision, RetryPolicy, is_idempotent, is_retryable_status, retry_after,
};
pub use search::{Date, SearchSessions, Sort};
pub use secret::{AccessToken, ClientSecret, Credentials, Pii};
pub use session::{
    CancelSession, CleanValidations, CreateSession, GetReport, GetSession, PersonalData, TermsData,
};
pub use upload::{FileKind, UploadFile};

/// Re-exported so adapters and users build requests and responses with the same `http` version.
pub use http;
