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
//! - OAuth client credentials ([`RequestToken`], [`RevokeToken`], [`TokenGrant`]).
//! - Every KYC operation as a request type linked to its response type: [`CreateSession`],
//!   [`UploadFile`], [`GetSession`], [`CancelSession`], [`GetReport`], [`SearchSessions`],
//!   [`CleanValidations`], plus [`RequestToken`] and [`RevokeToken`]; the walk over every page of
//!   a search ([`Pager`]), bounded whatever the server says.
//! - KYB, companies ([`kyb`]): [`CreateKybSession`] for a company and its partners,
//!   [`CreateAdditionalSession`] for an employee of a validated company, `company-document`
//!   uploads ([`UploadFile::kyb`]), and the KYB members of [`Report`], typed from Pomelo's
//!   documented examples.
//! - One generic request builder ([`build_request`]) and response parser ([`parse_response`]) with
//!   typed errors ([`Error`]).
//! - The whole lifecycle of a call ([`exchange`]): [`Call`] validates, holds the idempotency key
//!   ([`IdempotencyKey`]), obtains the token through the [`TokenSlot`] every call of a client
//!   shares (one fetch at a time, retried as the [`RetryPolicy`] says, refusals remembered), sends
//!   each attempt with its time budget, retries, replays once with a new token after a `401`, and
//!   stops at the deadline. An adapter's loop only sends, sleeps and waits as it says.
//! - Webhooks: signature verification, signing and typed events ([`webhook`]).
//! - Following sessions to their verdicts ([`track`]): the tracked record, the pure decision over
//!   each input (one verdict per session, conflicts kept, stale updates ignored), the poll
//!   schedule and its global budget, and crash-safe creates. `kyc-track` stores and runs them.
//!
//! # Out of scope
//!
//! - Sending requests, TLS, enforcing the time budget of an attempt, sleeping, locks and
//!   wake-ups: the adapters' job.
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
//!
//! # Bring your own HTTP stack
//!
//! A complete adapter (tokens, retries, the replay after a `401`, deadlines, streamed uploads)
//! over any function that sends an `http::Request<Vec<u8>>`: hyper directly, a WASM `fetch`, a
//! company's instrumented client. These are its 60 lines; `kyc-ureq` and `kyc-reqwest` are the
//! same loop with a lock around the [`TokenSlot`] so that threads and tasks share it. The
//! workspace's conformance suite runs this very code as a third adapter against the simulator.
//!
#![doc = "```"]
#![doc = include_str!("../doc/own_stack.rs")]
#![doc = r##"
// A fake Pomelo: a token, then a 503 before the session.
let mut seen = Vec::new();
let fake = |req: http::Request<Vec<u8>>| -> Result<http::Response<Vec<u8>>, std::io::Error> {
    seen.push(format!("{} {}", req.method(), req.uri().path()));
    let (status, body): (u16, &[u8]) = match (req.uri().path(), seen.len()) {
        ("/oauth/token", _) => (200, br#"{"access_token": "tok-1", "expires_in": 3600}"#),
        (_, 2) => (503, b""),
        _ => (200, br#"{"data": {"id": "iss-1", "status": "VALIDATED"}}"#),
    };
    Ok(http::Response::builder().status(status).body(body.to_vec()).unwrap())
};
let mut settings = Settings::new(
    kyc_core::Config::new(kyc_core::Environment::Sandbox)?,
    kyc_core::Credentials::new("client-id", "client-secret"),
);
settings.retry = kyc_core::RetryPolicy::default()
    .backoff(std::time::Duration::from_millis(1), std::time::Duration::from_millis(5));
let mut client = OwnStack::new(settings, fake);
let session = client.call(&kyc_core::GetSession::new("iss-1"), None)?;
assert_eq!(session.status, Some(kyc_core::SessionStatus::Validated));
assert!(client.token().is_ok()); // the cached token: no request
drop(client);
assert_eq!(seen, ["POST /oauth/token", "GET /identity/v1/sessions/iss-1",
                  "GET /identity/v1/sessions/iss-1"]);
# Ok::<(), Box<dyn std::error::Error>>(())
"##]
#![doc = "```"]

mod auth;
mod body;
mod config;
mod endpoint;
pub mod enums;
mod error;
pub mod exchange;
pub mod kyb;
mod model;
mod pager;
mod retry;
mod search;
mod secret;
mod session;
mod time;
pub mod track;
mod upload;
pub mod webhook;

pub use auth::{RequestToken, RevokeToken, TokenGrant, UNKNOWN_TOKEN_LIFETIME};
pub use body::{
    Body, FileContent, LengthCheck, MultipartBody, MultipartReader, OutgoingBody, RequestBody,
};
pub use config::{
    Config, ConfigBuilder, DEFAULT_MAX_PAGES, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_TOKEN_MARGIN,
    Environment, Paths,
};
pub use endpoint::{
    Endpoint, IDEMPOTENCY_HEADER, IdempotencyKey, build_request, encode_segment, parse_response,
    validate,
};
pub use enums::{
    Country, DocumentType, FlowType, IntegrationMethod, PartnerType, SessionStatus, StepStatus,
};
pub use error::{
    ApiError, ApiErrorBody, ApiErrorDetail, BODY_SNIPPET_LIMIT, BodySnippet, ConfigError,
    DecodeError, DecodeReason, Error, InvalidInput, PaginationError, request_id,
};
pub use exchange::{
    AttemptTimeout, Call, CallError, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OVERALL_TIMEOUT,
    DEFAULT_TOKEN_REFUSAL_MEMORY, Exchange, Fault, Next, Now, Outgoing, Purpose, Reply, Settings,
    SourceError, SourceErrorKind, Stage, TokenCall, TokenInfo, TokenSlot, TransportError,
    TransportErrorKind,
};
pub use kyb::{Address, Company, CreateAdditionalSession, CreateKybSession, Partner};
pub use model::{
    CleanResult, Extra, FileInfo, Number, Pagination, Report, Scalar, Session, SessionCreated,
    SessionId, SessionPage, Step, whole,
};
pub use pager::{Pager, PagerStep};
pub use retry::RetryPolicy;
pub use search::{Date, SearchSessions, Sort};
pub use secret::{AccessToken, ClientSecret, Credentials, Pii};
pub use session::{
    CancelSession, CleanValidations, CreateSession, GetReport, GetSession, PersonalData, TermsData,
};
pub use time::{CalendarDate, Timestamp, far_future, later};
pub use upload::{FileKind, UploadFile};

/// Re-exported so adapters and users build requests and responses with the same `http` version.
pub use http;
/// The date-time crate of [`Timestamp::instant`] and [`Date`], re-exported.
pub use jiff;
