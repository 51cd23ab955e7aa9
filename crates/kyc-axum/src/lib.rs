//! Receive Pomelo's signed Identity webhooks in an [axum](https://docs.rs/axum) app.
//!
//! Put a [`WebhookReceiver`] in the router's state and take a [`VerifiedEvent`] in the handler:
//! the extractor collects the raw body (bounded), verifies the signature with kyc-core's
//! [`Verifier`], answers a redelivery `200` without calling the handler (a
//! [`ReplayGuard`] remembers what was accepted, for the verifier's freshness window), and hands
//! the handler the typed [`Event`]. A request that fails authentication is answered `401` with
//! the same body whatever the reason, so a prober learns nothing; the reason is available to
//! logs as [`Rejection::reason`].
//!
//! ```no_run
//! use axum::{Router, routing::post, http::StatusCode};
//! use kyc_axum::{VerifiedEvent, WebhookReceiver};
//! use kyc_core::webhook::{Event, Verifier, WebhookKeys, WebhookSecret};
//!
//! async fn identity(VerifiedEvent(event): VerifiedEvent) -> StatusCode {
//!     match event {
//!         Event::ValidationSession(s) => println!("{} is now {}", s.session_id, s.status),
//!         Event::RequiredFile(f) => println!("upload {:?}", f.required_documents),
//!         _ => {} // an event this version does not know: still authenticated, see .raw()
//!     }
//!     StatusCode::NO_CONTENT
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = WebhookSecret::from_base64("uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=")?;
//! let verifier = Verifier::new(WebhookKeys::new().with("my-api-key", secret))
//!     .expected_endpoint("/webhooks/identity");
//! let app = Router::new()
//!     .route("/webhooks/identity", post(identity))
//!     .with_state(WebhookReceiver::new(verifier));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! With a larger state, implement `FromRef<YourState> for WebhookReceiver` (or derive it with
//! axum's `FromRef`); the extractor finds the receiver there.
//!
//! # In front of the receiver: a timeout and a concurrency limit
//!
//! The extractor refuses a request that cannot be authentic from its headers alone (a missing or
//! malformed signature header, a timestamp outside the window, another endpoint, an unknown api
//! key: [`Verifier::check_headers`]) before it reads a byte of the body, and reads at most
//! [`WebhookReceiver::body_limit`] bytes of the others. What it cannot bound is time and number:
//! the api key travels in every delivery and is no secret, so a client that passes the header
//! checks can still send a body slowly, from many connections at once. Bound both in front of the
//! route, with tower-http's timeout (the whole request, handler included, answered `408`) and
//! tower's concurrency limit:
//!
//! ```toml
//! [dependencies]
//! tower = { version = "0.5", features = ["limit"] }
//! tower-http = { version = "0.6.7", features = ["timeout"] }
//! ```
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{Router, http::StatusCode, routing::post};
//! use kyc_axum::{VerifiedEvent, WebhookReceiver};
//! use tower::limit::GlobalConcurrencyLimitLayer;
//! use tower_http::timeout::TimeoutLayer;
//!
//! # async fn identity(VerifiedEvent(_event): VerifiedEvent) -> StatusCode { StatusCode::NO_CONTENT }
//! # fn app(receiver: WebhookReceiver) -> Router {
//! Router::new()
//!     .route("/webhooks/identity", post(identity))
//!     // Layers wrap what is above them: the limit admits 64 requests at a time (one count
//!     // for every route), each of which gets 10 s, from its first byte to its answer.
//!     .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(10)))
//!     .layer(GlobalConcurrencyLimitLayer::new(64))
//!     .with_state(receiver)
//! # }
//! ```
//!
//! Pomelo's notifications are a few hundred bytes and come from a handful of addresses (reference
//! §2): a body limit of a few KiB ([`WebhookReceiver::body_limit`]) and a firewall rule admitting
//! only those addresses bound the rest.

#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use axum::extract::{FromRef, FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use kyc_core::webhook::{Delivery, Event, ReplayGuard, Verifier, WebhookError};

pub use kyc_core;

/// Largest webhook body read by default: 1 MiB (Pomelo's notifications are a few hundred bytes).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Deliveries the default replay guard remembers within one freshness window.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// What the extractor needs: the verifier, the replay guard, the body limit and the clock. Cheap
/// to clone (one `Arc`); clones share the replay guard.
#[derive(Clone)]
pub struct WebhookReceiver {
    inner: Arc<Inner>,
}

struct Inner {
    verifier: Verifier,
    guard: Option<Mutex<ReplayGuard>>,
    body_limit: usize,
    clock: fn() -> SystemTime,
}

impl WebhookReceiver {
    /// A receiver verifying with `verifier`, remembering up to [`DEFAULT_REPLAY_CAPACITY`]
    /// accepted deliveries for the verifier's window, reading bodies up to
    /// [`DEFAULT_BODY_LIMIT`], with the system clock.
    #[must_use]
    pub fn new(verifier: Verifier) -> Self {
        let guard = ReplayGuard::for_verifier(&verifier, DEFAULT_REPLAY_CAPACITY);
        Self {
            inner: Arc::new(Inner {
                verifier,
                guard: Some(Mutex::new(guard)),
                body_limit: DEFAULT_BODY_LIMIT,
                clock: SystemTime::now,
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            verifier: shared.verifier.clone(),
            guard: shared
                .guard
                .as_ref()
                .map(|g| Mutex::new(g.lock().unwrap_or_else(PoisonError::into_inner).clone())),
            body_limit: shared.body_limit,
            clock: shared.clock,
        });
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Remembers at most `capacity` accepted deliveries within one window (see
    /// [`ReplayGuard::evicted_early`]); `0` turns the guard off, and every authenticated delivery
    /// reaches the handler.
    #[must_use]
    pub fn replay_capacity(self, capacity: usize) -> Self {
        self.with(|inner| {
            inner.guard = (capacity > 0)
                .then(|| Mutex::new(ReplayGuard::for_verifier(&inner.verifier, capacity)));
        })
    }

    /// Reads bodies up to `bytes`; a larger one is answered `413`.
    #[must_use]
    pub fn body_limit(self, bytes: usize) -> Self {
        self.with(|inner| inner.body_limit = bytes)
    }

    /// Reads the time from `clock` instead of the system clock (for tests).
    #[must_use]
    pub fn clock(self, clock: fn() -> SystemTime) -> Self {
        self.with(|inner| inner.clock = clock)
    }

    /// The verifier in use.
    #[must_use]
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// Verifies a delivery whose body was already collected: what the extractor does after
    /// reading the body, for use outside axum's extractors.
    ///
    /// # Errors
    ///
    /// [`Rejection::Unauthenticated`] when the signature, timestamp, api key or endpoint is
    /// wrong or missing; [`Rejection::InvalidJson`] for an authentic body that is not JSON;
    /// [`Rejection::Repeated`] for a delivery accepted before within the window.
    pub fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Event, Rejection> {
        let now = (self.inner.clock)();
        let event = self
            .inner
            .verifier
            .verify(headers, body, now)
            .map_err(|e| match e {
                WebhookError::InvalidJson { .. } => Rejection::InvalidJson,
                other => Rejection::Unauthenticated(other),
            })?;
        if let Some(guard) = &self.inner.guard {
            let mut guard = guard.lock().unwrap_or_else(PoisonError::into_inner);
            if guard.check(headers, &event, now) == Delivery::Repeated {
                return Err(Rejection::Repeated);
            }
        }
        Ok(event)
    }
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("replay_guard", &self.inner.guard.is_some())
            .field("body_limit", &self.inner.body_limit)
            .finish_non_exhaustive()
    }
}

/// A webhook delivery that passed verification and was not seen before: the extractor.
#[derive(Debug, Clone)]
pub struct VerifiedEvent(pub Event);

impl<S> FromRequest<S> for VerifiedEvent
where
    S: Send + Sync,
    WebhookReceiver: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let receiver = WebhookReceiver::from_ref(state);
        let limit = receiver.inner.body_limit;
        let (parts, body) = request.into_parts();
        // What needs only the headers comes first: a request that cannot be authentic is
        // refused before its body is read, so it holds no buffer.
        receiver
            .inner
            .verifier
            .check_headers(&parts.headers, (receiver.inner.clock)())
            .map_err(Rejection::Unauthenticated)?;
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(Rejection::BodyTooLarge);
        }
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
            if e.into_inner().is::<http_body_util::LengthLimitError>() {
                Rejection::BodyTooLarge
            } else {
                Rejection::BodyUnreadable
            }
        })?;
        receiver.verify(&parts.headers, &bytes).map(VerifiedEvent)
    }
}

/// Why a delivery did not reach the handler, and the answer it gets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Not authenticated (signature, timestamp, api key, endpoint): `401`, the same body for
    /// every reason.
    #[error("webhook not authenticated: {0}")]
    Unauthenticated(WebhookError),
    /// Authentic, but the body is not JSON: `400`.
    #[error("webhook body is not JSON")]
    InvalidJson,
    /// Authentic and accepted before within the freshness window (a redelivery or a replay):
    /// `200`, so that Pomelo stops redelivering, without calling the handler again.
    #[error("webhook delivery already received")]
    Repeated,
    /// The body is larger than the receiver's limit: `413`.
    #[error("webhook body too large")]
    BodyTooLarge,
    /// The body could not be read (the client went away mid-body): `400`.
    #[error("webhook body could not be read")]
    BodyUnreadable,
}

impl Rejection {
    /// A stable name for logs and metrics: the verifier's reason (`signature_mismatch`,
    /// `stale`, ...) for an unauthenticated delivery, else `invalid_json`, `repeated`,
    /// `body_too_large` or `body_unreadable`.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Unauthenticated(e) => e.kind(),
            Rejection::InvalidJson => "invalid_json",
            Rejection::Repeated => "repeated",
            Rejection::BodyTooLarge => "body_too_large",
            Rejection::BodyUnreadable => "body_unreadable",
        }
    }

    /// The HTTP status this rejection answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Rejection::InvalidJson | Rejection::BodyUnreadable => StatusCode::BAD_REQUEST,
            Rejection::Repeated => StatusCode::OK,
            Rejection::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body: &'static str = match self {
            Rejection::Unauthenticated(_) => r#"{"error":"unauthenticated"}"#,
            Rejection::InvalidJson => r#"{"error":"invalid_json"}"#,
            Rejection::Repeated => r#"{"status":"already_received"}"#,
            Rejection::BodyTooLarge => r#"{"error":"body_too_large"}"#,
            Rejection::BodyUnreadable => r#"{"error":"body_unreadable"}"#,
        };
        let mut response = (self.status(), body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}
