//! Blocking client for [Pomelo](https://pomelo.la)'s Identity (KYC) API, over [ureq] 3.
//!
//! Every operation runs through one generic entry, [`Client::execute`] (uploads through
//! [`Client::upload`], which adds where the file comes from); tokens, retries, idempotency keys
//! and streamed uploads are handled. All protocol knowledge (paths, JSON, status rules, token expiry, retry
//! rules) lives in [`kyc_core`]: this crate converts the core's `http::Request` into a ureq call,
//! hands the whole response back to the core, and sleeps, waits and draws random numbers where the
//! core's decisions say so.
//!
//! # How a call runs
//!
//! Every operation is a kyc-core endpoint run through [`Client::execute`]; the named methods
//! (`create_session`, `get_session`, ...) are one-line shorthands for it. `execute` is a short
//! loop over [`kyc_core::Call`]: the driver says *send this request within this time*,
//! *wait until then* or *done*, and decides everything else — the token (one thread fetches for
//! all, through the shared [`kyc_core::TokenSlot`]; the others wait on a condition variable, each
//! until its own deadline), retries (jitter, `Retry-After`, never past the deadline), the one
//! replay with a new token after a `401`, and the idempotency key of a creating call (128 random
//! bits, the same on every attempt). This crate converts requests to ureq and back, sleeps, and
//! streams uploads.
//!
//! # Example
//!
//! With a closure as transport (no network), the whole path runs: token request, then the call
//! with its bearer token and idempotency key.
//!
//! ```
//! use kyc_core::{Config, Country, CreateSession, Credentials, Environment};
//! use kyc_ureq::{Client, SendBody, TransportError};
//!
//! let fake_pomelo = |req: http::Request<SendBody>| -> Result<http::Response<Vec<u8>>, TransportError> {
//!     let body: &[u8] = match req.uri().path() {
//!         "/oauth/token" => br#"{"access_token": "tok-1", "expires_in": 3600}"#,
//!         "/identity/v2/sessions" => {
//!             assert_eq!(req.headers()["authorization"], "Bearer tok-1");
//!             assert_eq!(req.headers()["x-idempotency-key"].len(), 32);
//!             br#"{"data": {"id": "iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR"}}"#
//!         }
//!         other => panic!("unexpected {other}"),
//!     };
//!     Ok(http::Response::builder().status(200).body(body.to_vec()).unwrap())
//! };
//!
//! let client = Client::builder(
//!     Config::new(Environment::Sandbox)?,
//!     Credentials::new("client-id", "client-secret"),
//! )
//! .transport(fake_pomelo)
//! .build();
//!
//! let created = client.create_session(&CreateSession::new("usr-1", Country::Arg))?;
//! assert_eq!(created.id.as_str(), "iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Against Pomelo (or the local simulator: `POMELO_BASE_URL=http://127.0.0.1:PORT`):
//!
//! ```no_run
//! use kyc_core::{Country, CreateSession, DocumentType};
//!
//! let client = kyc_ureq::Client::from_env()?; // POMELO_CLIENT_ID, POMELO_CLIENT_SECRET, POMELO_ENV
//! let session = client.create_session(&CreateSession::new("usr-1", Country::Arg))?;
//! client.upload_path(session.id.clone(), "usr-1", DocumentType::Selfie, "selfie.jpg")?;
//! let status = client.get_session(session.id)?.status;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Uploads
//!
//! [`Client::upload`] takes the upload (session, entity, document type, options) and a
//! [`Source`]: [`Source::path`] streams the file: it reads its first bytes to detect the format,
//! its length from the file system, and sends the multipart body with `Content-Length` (not
//! chunked) straight from the file; it opens the file once, and every retry reads that same open
//! file from its start. [`Source::reader`] streams any boxed reader, which can be read only once:
//! it is not retried once bytes were read from it. [`Source::bytes`] sends bytes held in memory.
//!
//! ```no_run
//! use kyc_core::{Country, DocumentType, UploadFile};
//! use kyc_ureq::Source;
//!
//! let client = kyc_ureq::Client::from_env()?;
//! let front = UploadFile::new("iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR", "usr-1", DocumentType::IdentityCardFront)
//!     .country(Country::Arg);
//! client.upload(&front, Source::path("front.png"))?;
//! let back = UploadFile::new("iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR", "usr-1", DocumentType::IdentityCardBack)
//!     .file_name("back.png");
//! client.upload(&back, Source::bytes(std::fs::read("back.png")?))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Timeouts and limits
//!
//! Per attempt [`DEFAULT_ATTEMPT_TIMEOUT`] (connection to last response byte, as a whole), per call
//! [`DEFAULT_OVERALL_TIMEOUT`], response bodies
//! up to [`DEFAULT_MAX_RESPONSE_BODY`] (a larger body is
//! [`TransportErrorKind::ResponseTooLarge`], never truncated). All configurable on
//! [`ClientBuilder`].
//!
//! # Features
//!
//! - `rustls` (default): HTTPS with rustls and the webpki roots. Without it only plain-http base
//!   URLs (loopback) or a custom [`Transport`] work.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod search;
mod transport;
mod upload;
mod ureq_transport;

pub use client::{Client, ClientBuilder};
/// The error type, the `POMELO_*` settings, the defaults and the re-exports both clients share
/// (one definition, in `kyc-adapter`): `Error` is kyc-core's `CallError`.
pub use kyc_adapter::exports::*;
pub use search::SearchAll;
pub use transport::{SendBody, Transport};
pub use upload::Source;
pub use ureq_transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_IDLE_CONNECTIONS, DEFAULT_MAX_RESPONSE_BODY, UreqTransport,
};

/// Re-exported for [`UreqTransport::from_agent`].
pub use ureq;

kyc_adapter::from_env!(Client, ClientBuilder);
