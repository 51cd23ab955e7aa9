#![doc = include_str!("../README.md")]
//!
//! In short: put a [`WebhookReceiver`] in the router's state, add a [`ReceiptLayer`] to the
//! router, and take a [`VerifiedEvent`] in the handler. A request that fails authentication is
//! answered `401` with the same body whatever the reason, so a prober learns nothing; the reason
//! is available to logs as [`Rejection::reason`]. Without `FromRef` (or axum's `macros`
//! feature), implement `FromRef<AppState> for WebhookReceiver` by hand; with nothing else in the
//! state, `.with_state(WebhookReceiver::new(verifier))` is enough. Outside axum's extractors,
//! [`WebhookReceiver::verify`] does the same and hands back the [`Receipt`] to commit.
//!
//! # A delivery counts as received once the handler succeeded
//!
//! Pomelo sends a notification until it gets a `2xx`. So the receiver records a delivery only
//! when its handler answered `2xx` ([`ReceiptLayer`]):
//!
//! | What happened | What the sender gets | The next copy of this delivery |
//! |---|---|---|
//! | the handler answered `2xx` | that answer | `200` `{"status":"already_received"}`, the handler not called |
//! | the handler answered anything else | that answer | reaches the handler |
//! | the handler panicked, or the request was cancelled (a timeout layer, the client gone) | no answer, or the timeout's | reaches the handler |
//! | a copy arrives while the first is being handled | `409` `{"status":"in_progress"}`, `Retry-After: 5` | finds the first's outcome |
//!
//! A copy that arrives while the first is being handled is answered `409` at once rather than
//! made to wait for the first's outcome: waiting would hold a connection and a task for as long
//! as the first handler runs, to tell the sender what a `409` tells it too (try again later); and
//! never `2xx`, because the first handler may still fail, and a `2xx` would lose the delivery for
//! good. `409` (the request conflicts with one in progress) rather than `503`: the receiver is
//! healthy, and a `503` would count against it in monitoring.
//!
//! A delivery is known by its `event_id`, or without one by a digest of its api key, endpoint and
//! body (kyc-core's [`DeliveryKey`]), never by the text of its signature, which the verifier
//! accepts in base64 and in hex of either case, and which changes if Pomelo signs a redelivery
//! again. Handled deliveries are remembered for 24 h after their signing
//! ([`WebhookReceiver::replay_memory`]: Pomelo publishes neither how long it retries nor whether a
//! retry is signed again, and one signed again passes the freshness check however late), 100,000
//! at most ([`WebhookReceiver::replay_capacity`]; a delivery in flight is never forgotten to make
//! room).
//!
//! What the in-process guard cannot do: it lives in one process's memory. Behind a load balancer
//! with several processes, a copy reaching another process is handled again; after a restart,
//! every delivery is new. For those, keep the deliveries in a database every process shares:
//! [`WebhookReceiver::replay_store`] with kyc-track's `PgStore` (or `SqliteStore`), whose calls the
//! extractor and [`ReceiptLayer`] make on tokio's blocking pool.
//!
//! # In front of the receiver: a timeout and a concurrency limit
//!
//! The extractor refuses a request that cannot be authentic from its headers alone (a missing or
//! malformed signature header, a timestamp outside the window, another endpoint, an unknown api
//! key: [`Verifier::check_headers`]) before it reads a byte of the body, and reads at most
//! [`WebhookReceiver::body_limit`] bytes of the others. What it cannot bound is time and number:
//! the api key travels in every delivery and is no secret, so a client that passes the header
//! checks can still send a body slowly, from many connections at once. Bound both in front of the
//! route, with tower-http's timeout (the whole request, handler included, answered `408`; the
//! delivery is then not received) and tower's concurrency limit:
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
//! use kyc_axum::{ReceiptLayer, VerifiedEvent, WebhookReceiver};
//! use tower::limit::GlobalConcurrencyLimitLayer;
//! use tower_http::timeout::TimeoutLayer;
//!
//! # async fn identity(VerifiedEvent(_event): VerifiedEvent) -> StatusCode { StatusCode::NO_CONTENT }
//! # fn app(receiver: WebhookReceiver) -> Router {
//! Router::new()
//!     .route("/webhooks/identity", post(identity))
//!     // Layers wrap what is above them: the limit admits 64 requests at a time (one count
//!     // for every route), each of which gets 10 s, from its first byte to its answer.
//!     .layer(ReceiptLayer::new())
//!     .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(10)))
//!     .layer(GlobalConcurrencyLimitLayer::new(64))
//!     .with_state(receiver)
//! # }
//! ```
//!
//! Pomelo's notifications are a few hundred bytes and come from a handful of addresses (reference
//! §2): a body limit of a few KiB ([`WebhookReceiver::body_limit`]) and a firewall rule admitting
//! only those addresses bound the rest.
//!
//! [`ReplayGuard`]: kyc_core::webhook::ReplayGuard
//! [`DeliveryKey`]: kyc_core::webhook::DeliveryKey
//! [`Verifier`]: kyc_core::webhook::Verifier
//! [`Verifier::check_headers`]: kyc_core::webhook::Verifier::check_headers
//! [`Event`]: kyc_core::webhook::Event

#![forbid(unsafe_code)]

mod extract;
mod layer;
mod receiver;
mod rejection;
mod store;

pub use extract::VerifiedEvent;
pub use layer::{ReceiptFuture, ReceiptLayer, ReceiptService};
pub use receiver::{
    DEFAULT_BODY_LIMIT, DEFAULT_REPLAY_CAPACITY, DEFAULT_REPLAY_LEASE, DEFAULT_REPLAY_MEMORY,
    Delivery, Receipt, WebhookReceiver,
};
pub use rejection::{IN_FLIGHT_RETRY_AFTER_SECS, Rejection};
pub use store::{MemoryReplayStore, ReplayStore, ReplayStoreError, Started};

pub use kyc_core;
