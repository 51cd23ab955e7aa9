//! Async client for [Pomelo](https://pomelo.la)'s Identity (KYC) API, over [reqwest].
//!
//! The async twin of `kyc-ureq`: the same operations under the same names, the same errors, the
//! same rules. All protocol knowledge (paths, JSON, status rules, token expiry, retry and replay
//! rules) lives in [`kyc_core`]: this crate converts the core's `http::Request` into a reqwest
//! call, hands the whole response back to the core, and sleeps (without blocking), waits and draws
//! random numbers where the core's decisions say so. A conformance suite in the workspace runs the
//! same scenarios against both clients and the `kyc-mock` simulator and asserts identical results
//! and identical wire requests.
//!
//! # How a call runs
//!
//! Every operation is a kyc-core endpoint run through one generic entry, [`Client::execute`]
//! (uploads through [`Client::upload`], which adds where the file comes from); the named methods
//! (`create_session`, `get_session`, ...) are one-line shorthands for it. `execute` is a short
//! loop over [`kyc_core::Call`], the same driver kyc-ureq runs: it says *send this request
//! within this time*, *wait until then* or *done*, and decides everything else — the token (one
//! task fetches for all, through the shared [`kyc_core::TokenSlot`]; the others wait on a
//! `tokio::sync::Notify`, each until its own deadline; a task dropped mid-fetch hands the fetch to
//! the next at once), retries (jitter, `Retry-After`, never past the deadline), the one replay
//! with a new token after a `401`, and the idempotency key of a creating call. This crate converts
//! requests to reqwest and back, sleeps without blocking, and streams uploads.
//!
//! The client needs a tokio runtime with the time driver (reqwest needs tokio anyway).
//!
//! # Example
//!
//! With a closure as transport (no network), the whole path runs: token request, then the call
//! with its bearer token and idempotency key. No `#[tokio::main]` needed: build a runtime.
//!
//! ```
//! use kyc_core::{Config, Country, CreateSession, Credentials, Environment};
//! use kyc_reqwest::{Client, SendBody, TransportError};
//!
//! let fake_pomelo = |req: http::Request<SendBody>| async move {
//!     let body: &[u8] = match req.uri().path() {
//!         "/oauth/token" => br#"{"access_token": "tok-1", "expires_in": 3600}"#,
//!         "/identity/v2/sessions" => {
//!             assert_eq!(req.headers()["authorization"], "Bearer tok-1");
//!             assert_eq!(req.headers()["x-idempotency-key"].len(), 32);
//!             br#"{"data": {"id": "iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR"}}"#
//!         }
//!         other => panic!("unexpected {other}"),
//!     };
//!     Ok::<_, TransportError>(http::Response::builder().status(200).body(body.to_vec()).unwrap())
//! };
//!
//! let client = Client::builder(
//!     Config::new(Environment::Sandbox)?,
//!     Credentials::new("client-id", "client-secret"),
//! )
//! .transport(fake_pomelo)
//! .build();
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
//! let created = runtime.block_on(client.create_session(&CreateSession::new("usr-1", Country::Arg)))?;
//! assert_eq!(created.id.as_str(), "iss-2lG0Yvy1fqyFX1ghT6kiAhrc2fR");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Against Pomelo (or the local simulator: `POMELO_BASE_URL=http://127.0.0.1:PORT`), inside your
//! tokio service:
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use kyc_core::{Country, CreateSession, DocumentType, SearchSessions, SessionStatus};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = kyc_reqwest::Client::from_env()?; // POMELO_CLIENT_ID, POMELO_CLIENT_SECRET, POMELO_ENV
//! let session = client.create_session(&CreateSession::new("usr-1", Country::Arg)).await?;
//! client.upload_path(session.id.clone(), "usr-1", DocumentType::Selfie, "selfie.jpg").await?;
//! let status = client.get_session(session.id).await?.status;
//!
//! let mut validated = client.search_all(SearchSessions::new().status(SessionStatus::Validated));
//! while let Some(session) = validated.next().await {
//!     println!("{}", session?.id);
//! }
//! # Ok(()) }
//! ```
//!
//! # Uploads
//!
//! [`Client::upload`] takes the upload (session, entity, document type, options) and a
//! [`Source`]: [`Source::path`] streams the file with `tokio::fs`: it reads its first bytes to
//! detect the format, its length from the file system, and sends the multipart body with
//! `Content-Length` (not chunked) straight from the file; it opens the file once, and every retry
//! reads that same open file from its start. [`Source::reader`] streams any boxed
//! `tokio::io::AsyncRead`, which can be read only once: it is not retried once bytes were read
//! from it. [`Source::bytes`] sends bytes held in memory.
//!
//! # Timeouts and limits
//!
//! Per attempt [`DEFAULT_ATTEMPT_TIMEOUT`], per call [`DEFAULT_OVERALL_TIMEOUT`], response bodies
//! up to [`DEFAULT_MAX_RESPONSE_BODY`] (a larger body is
//! [`TransportErrorKind::ResponseTooLarge`], never truncated). All configurable on
//! [`ClientBuilder`]; bring your own `reqwest::Client` with [`ClientBuilder::reqwest_client`].
//!
//! # Features
//!
//! - `rustls` (default): HTTPS with rustls (ring) and the webpki roots. Without it only plain-http
//!   base URLs (loopback) or a custom [`Transport`] work.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod reqwest_transport;
mod search;
mod transport;
mod upload;

pub use client::{Client, ClientBuilder};
/// The error type, the `POMELO_*` settings, the defaults and the re-exports both clients share
/// (one definition, in `kyc-adapter`): `Error` is kyc-core's `CallError`.
pub use kyc_adapter::exports::*;
pub use reqwest_transport::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BODY, ReqwestTransport};
pub use search::SearchAll;
pub use transport::{BodyStream, BoxFuture, SendBody, Transport};
pub use upload::Source;

/// Re-exported for [`ClientBuilder::reqwest_client`] and [`ReqwestTransport::from_client`].
pub use reqwest;

kyc_adapter::from_env!(Client, ClientBuilder);
